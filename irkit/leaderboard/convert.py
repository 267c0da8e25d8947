"""Official checkpoint -> irkit checkpoint (``.pth`` + ``.safetensors``), verified strictly.

Formats (``--format`` of ``tools/convert_checkpoint.py``, ``Converter`` in metafiles):

=========  ==========================================  ==================================
format     official file                               what is read
=========  ==========================================  ==================================
mprnet     ``model_{deblurring,denoising,deraining}``  ``['state_dict']``, ``module.``
           ``.pth``                                    stripped (shared-PReLU duplicates
                                                       kept)
restormer  ``deraining.pth`` ... (BasicSR)             ``['params']`` (or ``params_ema``)
promptir   ``model.ckpt`` (PyTorch Lightning)          ``['state_dict']`` keys ``net.*``;
                                                       hyper-parameters/callbacks ignored
mat        ``Places_512.pkl`` ... (StyleGAN2 snapshot) ``G_ema`` (+ ``G``, ``D`` when
                                                       present: a whole MATInpaintor)
daclip     ``daclip_ViT-B-32.pt``                      whole DaCLIP state dict
irsde      ``universal-ir.pth``                        ConditionalUNet state dict
irkit      an irkit checkpoint                         re-exported (e.g. to safetensors)
=========  ==========================================  ==================================

Files are read with ``weights_only=True`` when possible and otherwise with the
restricted unpickler of :mod:`irkit.fileio.safe_unpickle` (tensors and
containers only; no code from the file runs). The result is verified by loading it
with ``strict=True`` into the network built from the config.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import torch

from irkit.fileio.safe_unpickle import (Opaque, extract_state_dicts, is_torch_archive, load_stylegan_pickle,
                                        module_state, restricted_load)

PathLike = Union[str, os.PathLike]
FORMATS = ('mprnet', 'restormer', 'promptir', 'mat', 'daclip', 'irsde', 'irkit')
# the config entry (under ``model``) that the converted weights belong to
TARGET_KEY = {'daclip': 'daclip'}
# formats whose official file tools/test.py can read directly (no conversion needed)
DIRECT_LOADABLE = ('mprnet', 'restormer', 'irsde', 'irkit')


class ConversionError(RuntimeError):
    """The official file does not hold what its format promises (the message says what)."""


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def read_checkpoint(path: PathLike) -> Tuple[Any, str]:
    """``safe_load`` (weights_only) first; the restricted unpickler when that refuses.

    Returns ``(object, how)`` with ``how`` in ``{'weights_only', 'restricted'}``.
    """
    from irkit.fileio.checkpoint import UnsafeCheckpointError, safe_load
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if path.suffix == '.safetensors':
        return safe_load(path), 'weights_only'
    try:
        return safe_load(path), 'weights_only'
    except UnsafeCheckpointError:
        return restricted_load(path), 'restricted'
    except RuntimeError as e:
        if path.suffix == '.pkl' or 'pickle' in str(e).lower() or 'magic' in str(e).lower():
            return restricted_load(path), 'restricted'
        raise


def _strip(sd: Dict[str, Any], prefix: str) -> 'OrderedDict[str, torch.Tensor]':
    if sd and all(k.startswith(prefix) for k in sd):
        return OrderedDict((k[len(prefix):], v) for k, v in sd.items())
    return OrderedDict(sd)


def _tensor_dict(obj: Any, path: str, what: str) -> 'OrderedDict[str, torch.Tensor]':
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{path}: {what} is not a non-empty dict of tensors '
                              f'(got {type(obj).__name__})')
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConversionError(f'{path}: {what} holds non-tensor entries: {", ".join(map(str, bad[:5]))}')
    return OrderedDict(obj)


def _pick(ckpt: Any, keys, path: str, fmt: str) -> Any:
    if isinstance(ckpt, dict):
        for k in keys:
            if k in ckpt and isinstance(ckpt[k], dict):
                return ckpt[k]
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return ckpt
        top = ', '.join(map(str, list(ckpt)[:10]))
    else:
        top = type(ckpt).__name__
    raise ConversionError(f'{path}: not a {fmt} checkpoint: expected one of {list(keys)} or a bare '
                          f'state dict, found {top}')


def official_state(path: PathLike, fmt: str) -> Tuple[Dict[str, 'OrderedDict[str, torch.Tensor]'], dict]:
    """Read an official file. Returns ``({part: state_dict}, info)``; ``part`` is ``''``
    for a single network, or ``generator``/``generator_ema``/``discriminator`` for MAT."""
    if fmt not in FORMATS:
        raise ValueError(f'unknown format {fmt!r}; choose one of {", ".join(FORMATS)}')
    path = str(path)
    if fmt == 'mat':
        return _mat_state(path)
    ckpt, how = read_checkpoint(path)
    info = {'read_with': how}
    if fmt == 'mprnet':
        sd = _strip(_tensor_dict(_pick(ckpt, ('state_dict',), path, fmt), path, "['state_dict']"), 'module.')
        return {'': sd}, info
    if fmt == 'restormer':
        sd = _tensor_dict(_pick(ckpt, ('params', 'params_ema'), path, fmt), path, "['params']")
        return {'': _strip(sd, 'module.')}, info
    if fmt == 'promptir':
        raw = _pick(ckpt, ('state_dict',), path, fmt)
        net = OrderedDict((k[len('net.'):], v) for k, v in raw.items() if k.startswith('net.'))
        if not net:
            raise ConversionError(f"{path}: no 'net.*' weights in ['state_dict'] (keys start with: "
                                  f"{', '.join(sorted({k.split('.')[0] for k in raw})[:5])})")
        info['dropped_keys'] = [k for k in raw if not k.startswith('net.')]
        if isinstance(ckpt, dict):
            info['ignored_entries'] = [k for k in ckpt if k != 'state_dict']
        return {'': _tensor_dict(net, path, "['state_dict'] net.*")}, info
    if fmt in ('daclip', 'irsde'):
        sd = _pick(ckpt, ('state_dict', 'params', 'model'), path, fmt)
        return {'': _strip(_tensor_dict(sd, path, 'the state dict'), 'module.')}, info
    if fmt == 'irkit':
        from irkit.fileio.checkpoint import extract_state_dict
        return {'': _tensor_dict(extract_state_dict(ckpt), path, 'the state dict')}, info
    raise AssertionError(fmt)  # pragma: no cover - every format is handled above


_MAT_PARTS = (('G_ema', 'generator_ema'), ('G', 'generator'), ('D', 'discriminator'))


def _mat_state(path: str) -> Tuple[Dict[str, 'OrderedDict[str, torch.Tensor]'], dict]:
    """A StyleGAN2 snapshot ``{'G', 'D', 'G_ema', ...}``: a plain pickle is read with
    :func:`load_stylegan_pickle`, a ``torch.save`` archive with :func:`restricted_load`
    (the same restricted unpickler; neither runs code from the file)."""
    if not is_torch_archive(path):
        data = load_stylegan_pickle(path)
        if not isinstance(data, dict) or data.get('G_ema') is None:
            top = ', '.join(map(str, data)) if isinstance(data, dict) else type(data).__name__
            raise ConversionError(f"{path}: not a MAT snapshot: no 'G_ema' entry (found {top})")
        nets = extract_state_dicts(data, [src for src, _ in _MAT_PARTS])
        parts = {dst: OrderedDict(nets[src]) for src, dst in _MAT_PARTS if src in nets}
        return parts, {'read_with': 'restricted', 'networks': sorted(parts)}
    ckpt, how = read_checkpoint(path)
    if not isinstance(ckpt, dict) or 'G_ema' not in ckpt:
        top = ', '.join(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConversionError(f"{path}: not a MAT snapshot: no 'G_ema' entry (found {top})")
    parts = {}
    for src, dst in _MAT_PARTS:
        obj = ckpt.get(src)
        if obj is None:
            continue
        if isinstance(obj, Opaque):
            parts[dst] = module_state(obj)
        elif isinstance(obj, dict):
            parts[dst] = _tensor_dict(obj, path, f"['{src}']")
        else:
            raise ConversionError(f"{path}: ['{src}'] is neither a network nor a state dict")
    return parts, {'read_with': how, 'networks': sorted(parts)}


def _build_target(config: str, fmt: str, cfg_options: Optional[dict], whole_model: bool):
    from mmengine.registry import DefaultScope

    import irkit.engine.runner  # noqa: F401  (registers mmengine's samplers/loops for validation)
    from irkit.registry import ARCHS, MODELS
    from irkit.utils.config import load_config
    cfg = load_config(config, cfg_options)
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance(f'irkit_convert_{os.getpid()}', scope_name='irkit')
    if whole_model:
        return MODELS.build(cfg.model), 'model'
    key = TARGET_KEY.get(fmt, 'generator')
    sub = cfg.model.get(key) if isinstance(cfg.model, dict) else None
    if not isinstance(sub, dict):
        raise ConversionError(f'{config}: model has no {key!r} entry to load {fmt} weights into')
    sub = dict(sub)
    for k in ('pretrained', 'clip_pretrained'):  # the converted file replaces these
        if k in sub:
            sub[k] = None
    return ARCHS.build(sub), key


def convert_checkpoint(src: PathLike, out: PathLike, fmt: str, config: str,
                       cfg_options: Optional[dict] = None, verify: bool = True,
                       safetensors: bool = True) -> dict:
    """Convert ``src`` (official ``fmt`` file) to ``out`` (``.pth``) and ``out``'s
    ``.safetensors`` sibling, then verify both load strictly into the network that
    ``config`` builds.

    Returns a summary dict (paths, tensor count, parameters, source SHA-256, target).

    Raises:
        FileNotFoundError, ConversionError, irkit.fileio.checkpoint.CheckpointMismatchError
        (missing/unexpected keys or shapes, with the list).
    """
    from irkit.fileio.checkpoint import atomic_save, load_state_dict, safe_load
    src, out = Path(src), Path(out)
    if out.suffix != '.pth':
        out = out.with_suffix(out.suffix + '.pth') if out.suffix not in ('', '.safetensors') else \
            out.with_suffix('.pth')
    parts, info = official_state(src, fmt)
    whole = fmt == 'mat' and {'generator', 'generator_ema', 'discriminator'} <= set(parts)
    if whole:
        sd = OrderedDict((f'{p}.{k}', v) for p in ('generator', 'generator_ema', 'discriminator')
                         for k, v in parts[p].items())
    else:
        sd = parts['generator_ema'] if fmt == 'mat' else parts['']
    target, target_key = (None, 'model' if whole else TARGET_KEY.get(fmt, 'generator'))
    if verify:
        target, target_key = _build_target(config, fmt, cfg_options, whole)
        load_state_dict(target, sd, strict=True, source=f'{src} ({fmt})')
        sd = _align(target, sd)  # stored under the network's own key names
    src_sha = sha256_file(src)
    meta = {'converted_from': src.name, 'source_sha256': src_sha, 'format': fmt, 'config': str(config),
            'target': target_key}
    atomic_save({'state_dict': sd, 'meta': meta}, out)
    written = [str(out)]
    st_path = out.with_suffix('.safetensors')
    if safetensors:
        from safetensors.torch import save_file
        tmp = st_path.with_name(f'.{st_path.name}.tmp{os.getpid()}')
        save_file({k: v.detach().contiguous().clone() for k, v in sd.items()}, str(tmp),
                  metadata={k: str(v) for k, v in meta.items()})
        os.replace(tmp, st_path)
        written.append(str(st_path))
    if verify:
        for p in written:
            back = safe_load(p)
            back_sd = back['state_dict'] if 'state_dict' in back else back
            load_state_dict(target, back_sd, strict=True, source=p)
            for k, v in sd.items():
                if not torch.equal(back_sd[k], v):
                    raise ConversionError(f'{p}: tensor {k} differs from the source after the round trip')
    n_params = sum(v.numel() for k, v in sd.items()) if sd else 0
    return {'outputs': written, 'tensors': len(sd), 'numel': n_params, 'source_sha256': src_sha,
            'format': fmt, 'target': target_key, 'verified': verify, **info}


def _align(target: torch.nn.Module, sd: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a state dict to the target's keys (prefix stripping as in the loader)."""
    from irkit.fileio.checkpoint import adapt_keys
    return adapt_keys(sd, target.state_dict().keys())


__all__ = ['convert_checkpoint', 'official_state', 'read_checkpoint', 'sha256_file', 'FORMATS',
           'DIRECT_LOADABLE', 'ConversionError']
