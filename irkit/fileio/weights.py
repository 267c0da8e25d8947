"""Official checkpoint formats: each arch declares how its released files map to irkit's layout.

An arch module registers a reader for every official file layout it can load, next to
its code (the way timm's ``checkpoint_filter_fn`` sits beside each model)::

    from irkit.fileio.weights import official_format

    @official_format('lama', description='LaMa Lightning best.ckpt (generator.model.*, discriminator.*)')
    def lama_parts(ckpt, path):
        sd = ckpt['state_dict']
        return {'generator': strip_prefix(sd, 'generator.'),
                'discriminator': strip_prefix(sd, 'discriminator.')}

The function receives the object read from the file (by :func:`read_official`, which
never runs code from the file) and its path, and returns ``{part: state_dict}`` where
``part`` names the submodule of an irkit model the tensors belong to (``generator``,
``discriminator``, ``generator_ema``, ...). Parts a model does not have are ignored when
loading a single network.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Union

import torch

PathLike = Union[str, os.PathLike]
Parts = Dict[str, 'OrderedDict[str, torch.Tensor]']


class ConversionError(RuntimeError):
    """The official file does not hold what its format promises (the message says what)."""


@dataclass(frozen=True)
class OfficialFormat:
    """One official file layout: ``reader(obj, path) -> {part: state_dict}``."""
    name: str
    reader: Callable[[Any, str], Parts]
    description: str = ''
    # 'torch': torch.load(weights_only) with the restricted unpickler as fallback;
    # 'stylegan_pickle': a StyleGAN2-ADA snapshot pickle (read by irkit.fileio.safe_unpickle)
    container: str = 'torch'


FORMATS: Dict[str, OfficialFormat] = {}


def official_format(name: str, description: str = '', container: str = 'torch'):
    """Decorator registering ``fn(obj, path) -> {part: state_dict}`` as format ``name``."""
    if container not in ('torch', 'stylegan_pickle'):
        raise ValueError(f"container must be 'torch' or 'stylegan_pickle', got {container!r}")

    def deco(fn: Callable[[Any, str], Parts]) -> Callable[[Any, str], Parts]:
        old = FORMATS.get(name)
        if old is not None and old.reader.__qualname__ != fn.__qualname__:
            raise KeyError(f"official format '{name}' is registered twice "
                           f'({old.reader.__module__}.{old.reader.__qualname__} and '
                           f'{fn.__module__}.{fn.__qualname__})')
        FORMATS[name] = OfficialFormat(name, fn, description, container)
        return fn

    return deco


def strip_prefix(sd: Mapping[str, Any], prefix: str, only: bool = True) -> 'OrderedDict[str, Any]':
    """Entries of ``sd`` whose key starts with ``prefix``, with the prefix removed.

    ``only=False`` keeps the other entries unchanged instead of dropping them.
    """
    out = OrderedDict()
    for k, v in sd.items():
        if k.startswith(prefix):
            out[k[len(prefix):]] = v
        elif not only:
            out[k] = v
    return out


def tensor_dict(obj: Any, path: str, what: str) -> 'OrderedDict[str, torch.Tensor]':
    """``obj`` as a non-empty dict of tensors, else a :class:`ConversionError` naming ``what``."""
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f'{path}: {what} is not a non-empty dict of tensors '
                              f'(got {type(obj).__name__})')
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConversionError(f'{path}: {what} holds non-tensor entries: {", ".join(map(str, bad[:5]))}')
    return OrderedDict(obj)


def load_format_registry() -> Dict[str, OfficialFormat]:
    """Import every arch module (each registers its formats) and return the registry."""
    import irkit.archs  # noqa: F401  (the arch modules register their formats on import)
    return FORMATS


def get_format(name: str) -> OfficialFormat:
    formats = load_format_registry()
    if name not in formats:
        from irkit.registry import closest
        raise KeyError(f"unknown official format '{name}'{closest(name, formats)}; "
                       f"known: {', '.join(sorted(formats))}")
    return formats[name]


def read_official(path: PathLike, fmt: str) -> Parts:
    """Read an official file of format ``fmt`` without running code from it: ``{part: state_dict}``."""
    from irkit.leaderboard.convert import read_checkpoint
    spec = get_format(fmt)
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if spec.container == 'stylegan_pickle':
        from irkit.fileio.safe_unpickle import is_torch_archive, load_stylegan_pickle
        obj = read_checkpoint(path)[0] if is_torch_archive(path) else load_stylegan_pickle(path)
    else:
        obj = read_checkpoint(path)[0]
    parts = spec.reader(obj, path)
    if not isinstance(parts, dict) or not parts:
        raise ConversionError(f'{path}: the {fmt} reader found no weights')
    return {k: tensor_dict(v, path, f"the '{k}' weights") for k, v in parts.items()}


__all__ = ['official_format', 'read_official', 'get_format', 'load_format_registry', 'strip_prefix',
           'tensor_dict', 'FORMATS', 'OfficialFormat', 'ConversionError']


@official_format('mmagic', description="MMagic/MMEditing checkpoint ({'meta', 'state_dict'}; "
                 "state_dict keys 'generator.*', 'disc.*', optionally 'generator_ema.*')")
def mmagic_parts(ckpt: Any, path: str) -> Parts:
    """MMagic's released inpainting/restoration checkpoints: mmengine dicts whose
    ``state_dict`` prefixes the networks with ``generator.``, ``disc.`` (and ``generator_ema.``)."""
    sd = ckpt.get('state_dict', ckpt) if isinstance(ckpt, Mapping) else None
    sd = tensor_dict(sd, path, "['state_dict']")
    parts = {}
    for prefix, part in (('generator.', 'generator'), ('disc.', 'discriminator'),
                         ('generator_ema.', 'generator_ema')):
        sub = strip_prefix(sd, prefix)
        if sub:
            parts[part] = sub
    if 'generator' not in parts:
        tops = sorted({k.split('.', 1)[0] for k in sd})
        raise ConversionError(f"{path}: not an MMagic checkpoint: no 'generator.*' weights in "
                              f"['state_dict'] (top-level names: {', '.join(tops[:8])})")
    return parts
