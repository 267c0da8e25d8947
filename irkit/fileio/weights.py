"""Weights: where they are found, how official files are read and converted, how they load.

This is irkit's one weights module. Everything that puts tensors from a file into a
network goes through it:

* **locate** — :func:`find_weights` looks a file up at an explicit path, in
  ``$IRKIT_WEIGHTS`` and in ``~/.cache/irkit/weights`` (nothing is ever downloaded);
  :func:`resolve_checkpoint` also accepts a bare file name or a model-zoo name
  (``configs/metafiles``). A missing file raises :class:`MissingWeightsError` naming the
  file, every place looked at and where to download it.
* **verify** — :func:`verify_sha256` against the SHA-256 a metafile records.
* **read** — :func:`read_checkpoint`: ``torch.load(weights_only=True)`` with a small
  allow-list, falling back to irkit's restricted unpickler for Lightning ``.ckpt`` and
  similar files; no file can run code.
* **convert** — every arch module declares the official layouts of its released files
  next to its code with :func:`official_format` (as timm's ``checkpoint_filter_fn``)::

      @official_format('lama', description='LaMa Lightning best.ckpt')
      def lama_parts(ckpt, path):
          sd = ckpt['state_dict']
          return {'generator': strip_prefix(sd, 'generator.'),
                  'discriminator': strip_prefix(sd, 'discriminator.')}

  A reader returns ``{part: state_dict}``, ``part`` naming the submodule of an irkit
  model the tensors belong to (``generator``, ``discriminator``, ``generator_ema``,
  ``daclip``, ...). :func:`convert_checkpoint` (``tools/convert_checkpoint.py``) writes
  an irkit ``.pth`` + ``.safetensors`` and checks both load strictly.
* **load** — :func:`load_weights` puts a file (irkit, mmengine, BasicSR-style, a bare
  state dict, ``.safetensors``, or an official file with ``fmt=``) into a model by one
  rule, see its docstring.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union  # noqa: F401

import torch
import torch.nn as nn

PathLike = Union[str, os.PathLike]
Parts = Dict[str, 'OrderedDict[str, torch.Tensor]']

ENV_VAR = 'IRKIT_WEIGHTS'
CACHE_DIR = '~/.cache/irkit/weights'
# whole-model prefixes, in the order they are tried when splitting a checkpoint
MODEL_PARTS = ('generator', 'generator_ema', 'discriminator')


class MissingWeightsError(FileNotFoundError):
    """A weight file is not where irkit looks for it (the message says where it looked)."""


class ConversionError(RuntimeError):
    """The official file does not hold what its format promises (the message says what)."""


class WeightsIntegrityError(ValueError):
    """A file's SHA-256 differs from the one recorded for the release."""


# ----------------------------------------------------------------------- locate
def weights_dirs() -> List[Path]:
    """The folders searched for weight files: ``$IRKIT_WEIGHTS`` (if set), then the cache."""
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser())
    dirs.append(Path(CACHE_DIR).expanduser())
    return dirs


def find_weights(filename: str, path: Optional[PathLike] = None, *, config_key: str = 'pretrained',
                 source: str = '', subdirs: Sequence[str] = ()) -> Path:
    """Return the local path of a weight file.

    Looks at ``path`` when given (a file, or a folder holding ``filename``), else at
    ``<dir>/<subdir>/filename`` and ``<dir>/filename`` for each of :func:`weights_dirs`.

    Raises:
        MissingWeightsError: naming the file, every place looked at, the config key and
            environment variable that point elsewhere, and ``source`` (where to get it).
    """
    if path is not None:
        p = Path(path).expanduser()
        candidates = [p / filename] if p.is_dir() else [p]
    else:
        candidates = [d / s / filename for d in weights_dirs() for s in subdirs]
        candidates += [d / filename for d in weights_dirs()]
    for c in candidates:
        if c.is_file():
            return c
    where = f' Download it from {source} and' if source else ' Place it'
    raise MissingWeightsError(
        f"weights '{filename}' not found (looked at: {', '.join(map(str, candidates))}).{where} "
        f"put it in ${ENV_VAR}/ (or {CACHE_DIR}/), or point the config key '{config_key}' at the file.")


def locate_weights(path: PathLike, config_key: str, source: str = '') -> Path:
    """An existing file as is; a bare file name (or a missing path) is also looked up with
    :func:`find_weights`. Raises :class:`MissingWeightsError` naming the file."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    try:
        return find_weights(path.name, None, config_key=config_key, source=source)
    except MissingWeightsError as e:
        raise MissingWeightsError(f"'{path}' does not exist; {e}") from None


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: PathLike, expected: Optional[str], url: str = '') -> Optional[str]:
    """Check ``path`` against ``expected`` (skipped when ``None``); returns the digest."""
    if not expected:
        return None
    got = sha256_file(path)
    if got.lower() != expected.lower():
        again = f'; download it again from {url}' if url else ''
        raise WeightsIntegrityError(f'{path}: SHA-256 {got} differs from the release ({expected}){again}')
    return got


def zoo_entry(name: str, metafile_dir: Optional[str] = None):
    """The model-zoo entry (``configs/metafiles``) called ``name``, or ``None``."""
    from irkit.leaderboard.metafile import load_metafiles
    root = Path(__file__).resolve().parents[2]
    for mf in load_metafiles(metafile_dir or str(root / 'configs' / 'metafiles')):
        for m in mf.models:
            if m.name == name:
                return mf, m
    return None


def resolve_checkpoint(checkpoint: PathLike, zoo_name: Optional[str] = None) -> Path:
    """An existing path as is; otherwise a bare file name looked up with :func:`find_weights`.

    ``zoo_name`` (a metafile model name) adds the release's download URL to the error and
    the method's sub-folder to the search.
    """
    p = Path(checkpoint).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        raise MissingWeightsError(f'{p} is a folder, not a checkpoint file')
    source, subdirs = '', ()
    if zoo_name:
        hit = zoo_entry(zoo_name)
        if hit is not None:
            mf, m = hit
            source, subdirs = m.weights.url, (mf.method.lower(),)
    if p.parent != Path('.') and not zoo_name:
        raise MissingWeightsError(
            f'checkpoint not found: {p}. Released weights are listed in docs/model_zoo.md; official '
            'files convert with tools/convert_checkpoint.py (or load directly, see docs/weights.md).')
    return find_weights(p.name, None, config_key='checkpoint', source=source or 'the model zoo (docs/model_zoo.md)',
                        subdirs=subdirs)


# ------------------------------------------------------------------------- read
def read_checkpoint(path: PathLike) -> Tuple[Any, str]:
    """Read a checkpoint without running code: ``weights_only`` first, then the restricted
    unpickler. Returns ``(object, how)`` with ``how`` in ``{'weights_only', 'restricted'}``."""
    from irkit.fileio.checkpoint import UnsafeCheckpointError, safe_load
    from irkit.fileio.safe_unpickle import restricted_load
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


def read_state_dict(path: PathLike, param_key: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """The tensors of a weight file (safe read; release layouts unwrapped; ``module.`` stripped)."""
    from irkit.fileio.checkpoint import extract_state_dict, safe_load
    return unwrap(extract_state_dict(safe_load(path), param_key))


# ------------------------------------------------------------- official formats
@dataclass(frozen=True)
class OfficialFormat:
    """One official file layout: ``reader(obj, path) -> {part: state_dict}``."""
    name: str
    reader: Callable[[Any, str], Parts]
    description: str = ''
    # 'torch': torch.load(weights_only) with the restricted unpickler as fallback;
    # 'stylegan_pickle': a StyleGAN2-ADA snapshot pickle (read by irkit.fileio.safe_unpickle)
    container: str = 'torch'
    # tools/test.py reads such a file directly (no conversion needed)
    direct: bool = False


FORMATS: Dict[str, OfficialFormat] = {}


def official_format(name: str, description: str = '', container: str = 'torch', direct: bool = False):
    """Decorator registering ``fn(obj, path) -> {part: state_dict}`` as format ``name``."""
    if container not in ('torch', 'stylegan_pickle'):
        raise ValueError(f"container must be 'torch' or 'stylegan_pickle', got {container!r}")

    def deco(fn: Callable[[Any, str], Parts]) -> Callable[[Any, str], Parts]:
        old = FORMATS.get(name)
        if old is not None and (old.reader.__module__, old.reader.__qualname__) != (fn.__module__, fn.__qualname__):
            raise KeyError(f"official format '{name}' is registered twice "
                           f'({old.reader.__module__}.{old.reader.__qualname__} and '
                           f'{fn.__module__}.{fn.__qualname__})')
        FORMATS[name] = OfficialFormat(name, fn, description, container, direct)
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


def unwrap(sd: Mapping[str, Any], prefix: str = 'module.') -> 'OrderedDict[str, Any]':
    """``sd`` with ``prefix`` removed when *every* key has it (DataParallel/Lightning wrappers)."""
    if sd and all(k.startswith(prefix) for k in sd):
        return strip_prefix(sd, prefix)
    return OrderedDict(sd)


def tensor_dict(obj: Any, path: str, what: str) -> 'OrderedDict[str, torch.Tensor]':
    """``obj`` as a non-empty dict of tensors, else a :class:`ConversionError` naming ``what``."""
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f'{path}: {what} is not a non-empty dict of tensors '
                              f'(got {type(obj).__name__})')
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConversionError(f'{path}: {what} holds non-tensor entries: {", ".join(map(str, bad[:5]))}')
    return OrderedDict(obj)


def pick_state(ckpt: Any, keys: Sequence[str], path: str, fmt: str) -> Mapping:
    """The first of ``ckpt[keys]`` that is a dict, or ``ckpt`` itself when it is a bare
    state dict; else a :class:`ConversionError` naming what was expected and found."""
    if isinstance(ckpt, Mapping):
        for k in keys:
            if k in ckpt and isinstance(ckpt[k], Mapping):
                return ckpt[k]
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return ckpt
        top = ', '.join(map(str, list(ckpt)[:10]))
    else:
        top = type(ckpt).__name__
    raise ConversionError(f'{path}: not a {fmt} checkpoint: expected one of {list(keys)} or a bare '
                          f'state dict, found {top}')


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


def read_official(path: PathLike, fmt: str, info: Optional[dict] = None) -> Parts:
    """Read an official file of format ``fmt`` without running code from it: ``{part: state_dict}``.

    ``info`` (a dict) receives ``read_with`` (``'weights_only'`` or ``'restricted'``) and
    ``ignored_entries`` (top-level entries of the file that hold no weights).
    """
    from irkit.fileio.checkpoint import STATE_DICT_KEYS
    spec = get_format(fmt)
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if spec.container == 'stylegan_pickle':
        from irkit.fileio.safe_unpickle import is_torch_archive, load_stylegan_pickle
        obj, how = read_checkpoint(path) if is_torch_archive(path) else (load_stylegan_pickle(path), 'restricted')
    else:
        obj, how = read_checkpoint(path)
    if info is not None:
        info['read_with'] = how
        if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
            info['ignored_entries'] = [str(k) for k, v in obj.items()
                                       if k not in STATE_DICT_KEYS and not isinstance(v, torch.Tensor)]
    parts = spec.reader(obj, path)
    if not isinstance(parts, dict) or not parts:
        raise ConversionError(f'{path}: the {fmt} reader found no weights')
    return {k: tensor_dict(v, path, f"the '{k}' weights") for k, v in parts.items()}


def split_parts(sd: Mapping[str, torch.Tensor], names: Iterable[str] = MODEL_PARTS) -> Parts:
    """``{'generator.x': ...}`` -> ``{'generator': {'x': ...}}`` when every key starts with one of
    ``names``; otherwise ``{'': sd}``."""
    names = list(names)
    heads = {k.split('.', 1)[0] for k in sd}
    if sd and heads <= set(names) and all('.' in k for k in sd):
        return {h: strip_prefix(sd, h + '.') for h in names if h in heads}
    return {'': OrderedDict(sd)}


@official_format('irkit', description='an irkit/mmengine checkpoint (re-exported, e.g. to .safetensors)',
                 direct=True)
def irkit_parts(ckpt: Any, path: str) -> Parts:
    from irkit.fileio.checkpoint import extract_state_dict
    parts = split_parts(tensor_dict(extract_state_dict(ckpt), path, 'the state dict'))
    return {'generator': parts['']} if '' in parts else parts


@official_format('mmagic', description="MMagic/MMEditing checkpoint ({'meta', 'state_dict'}; "
                 "state_dict keys 'generator.*', 'disc.*', optionally 'generator_ema.*')")
def mmagic_parts(ckpt: Any, path: str) -> Parts:
    """MMagic's released checkpoints: mmengine dicts whose ``state_dict`` prefixes the
    networks with ``generator.``, ``disc.`` (and ``generator_ema.``)."""
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


# ------------------------------------------------------------------------- load
def _children(model: nn.Module) -> Dict[str, nn.Module]:
    return {n: m for n, m in model.named_children() if m is not None}


def _parts_of(checkpoint: Any, source: str, fmt: Optional[str], param_key: Optional[str]) -> Parts:
    if fmt is not None:
        spec = get_format(fmt)
        return {k: tensor_dict(v, source, f"the '{k}' weights") for k, v in spec.reader(checkpoint, source).items()}
    from irkit.fileio.checkpoint import extract_state_dict
    return {'': unwrap(extract_state_dict(checkpoint, param_key))}


def load_parts(model: nn.Module, parts: Parts, strict: bool = True, source: str = 'checkpoint',
               allow_nonfinite: bool = False) -> List[str]:
    """Load ``{part: state_dict}`` into ``model`` by irkit's one rule (see :func:`load_weights`).

    Returns the names of the submodules loaded (``''`` for the model itself).
    """
    from irkit.fileio.checkpoint import CheckpointMismatchError, adapt_keys, check_finite, load_state_dict
    children = _children(model)
    parts = dict(parts)
    for name, sd in parts.items():
        check_finite(sd, f"{source} ['{name}']" if name else source, allow=allow_nonfinite)
    whole_file = False
    if '' in parts:  # a plain file: a whole model (prefixed by its children) or one network
        if len(parts) > 1:
            raise ConversionError(f'{source}: mixes named parts and unnamed tensors')
        split = split_parts(parts[''], children)
        if '' not in split:
            parts, whole_file = split, True
    if '' in parts:  # one network: the model itself if its keys fit, else the model's generator
        sd = parts['']
        own = model.state_dict().keys()
        fits_self = set(adapt_keys(sd, own)) <= set(own)
        parts = {'' if fits_self or 'generator' not in children else 'generator': sd}
    elif not any(p in children for p in parts):  # loading into a bare network
        own = 'generator' if 'generator' in parts else (next(iter(parts)) if len(parts) == 1 else None)
        if own is None:
            raise ConversionError(f'{source} holds {", ".join(sorted(parts))} but {type(model).__name__} has '
                                  'none of these submodules')
        parts = {'': parts[own]}
    if whole_file and strict:
        missing = [n for n, m in children.items() if n not in parts and m.state_dict()]
        if missing:
            raise CheckpointMismatchError(
                f'{source} does not fit {type(model).__name__}: it has no weights for {", ".join(missing)} '
                f'(it holds {", ".join(sorted(parts))})')
    loaded: List[str] = []
    for name, sd in parts.items():
        target = model if name == '' else children.get(name)
        if target is None:
            continue  # e.g. a discriminator in the file, none in an inference-only model
        load_state_dict(target, sd, strict=strict, source=f"{source} ['{name}']" if name else source)
        loaded.append(name)
    # an official generator also initialises the EMA copy when the file has none
    if not whole_file and 'generator' in loaded and 'generator_ema' in children and 'generator_ema' not in parts:
        load_state_dict(children['generator_ema'], parts['generator'], strict=strict, source=source)
        loaded.append('generator_ema')
    if not loaded:
        raise ConversionError(f'{source}: none of its parts ({", ".join(sorted(parts)) or "none"}) belongs to '
                              f'{type(model).__name__} (submodules: {", ".join(children)})')
    return loaded


def load_weights(model: nn.Module, checkpoint: Union[PathLike, Mapping], strict: bool = True,
                 fmt: Optional[str] = None, map_location: Any = 'cpu',
                 param_key: Optional[str] = None, source: Optional[str] = None,
                 allow_nonfinite: bool = False) -> Any:
    """Load weights into ``model``; returns what was read from the file.

    ``checkpoint`` is a path (any file :func:`read_checkpoint` reads, or an official file
    with ``fmt=``) or an already loaded dict. The rule:

    1. The file is split into parts: an official reader names them; a plain file whose
       keys all start with submodule names of ``model`` (``generator.``,
       ``discriminator.``, ...: irkit/mmengine checkpoints) is split by them; anything
       else (a bare or wrapped state dict: ``state_dict``/``params``/``params_ema``/...,
       ``module.`` stripped) is one unnamed network.
    2. Each named part goes into the submodule of that name (parts the model does not
       have, e.g. a discriminator at inference, are skipped). An unnamed network goes
       into ``model`` when its keys fit, else into ``model.generator`` (an official
       release loaded into an irkit model). Loading into a bare network takes its
       ``generator`` part.
    3. A generator loaded without an EMA part also initialises ``model.generator_ema``.

    Every load is strict (``strict=True``) with a report of missing/unexpected keys and
    shape mismatches; nothing from the file can run code. Weights holding NaN/Inf are
    refused (naming the file and the tensors) unless ``allow_nonfinite``. ``source`` names
    the file in messages when ``checkpoint`` is an already loaded dict.
    """
    if isinstance(checkpoint, Mapping):
        obj, source = checkpoint, source or 'the given state_dict'
    else:
        source = str(checkpoint)
        if fmt is not None:
            load_parts(model, read_official(checkpoint, fmt), strict=strict, source=f'{source} ({fmt})',
                       allow_nonfinite=allow_nonfinite)
            return None
        from irkit.fileio.checkpoint import safe_load
        obj = safe_load(checkpoint, map_location)
    load_parts(model, _parts_of(obj, source, fmt, param_key), strict=strict, source=source,
               allow_nonfinite=allow_nonfinite)
    return obj


# ---------------------------------------------------------------------- convert
def _part_config_key(part: str) -> str:
    return 'generator' if part in ('', 'generator_ema') else part


def _build_target(config: str, parts: Parts, cfg_options: Optional[dict]):
    from mmengine.registry import DefaultScope

    import irkit.engine.runner  # noqa: F401  (registers mmengine's samplers/loops for validation)
    from irkit.registry import ARCHS, MODELS
    from irkit.utils.config import load_config
    cfg = load_config(config, cfg_options)
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance(f'irkit_convert_{os.getpid()}', scope_name='irkit')
    if len(parts) > 1:
        return MODELS.build(cfg.model), 'model'
    key = _part_config_key(next(iter(parts)))
    sub = cfg.model.get(key) if isinstance(cfg.model, dict) else None
    if not isinstance(sub, dict):
        raise ConversionError(f'{config}: model has no {key!r} entry to load the weights into')
    sub = dict(sub)
    for k in ('pretrained', 'clip_pretrained'):  # the converted file replaces these
        if k in sub:
            sub[k] = None
    return ARCHS.build(sub), key


def convert_checkpoint(src: PathLike, out: PathLike, fmt: str, config: Optional[str],
                       cfg_options: Optional[dict] = None, verify: bool = True,
                       safetensors: bool = True) -> dict:
    """Convert ``src`` (official ``fmt`` file) to ``out`` (``.pth``) and ``out``'s
    ``.safetensors`` sibling, then verify both load strictly into the network ``config`` builds.

    One part (e.g. a generator) is written as the network's bare state dict; several parts
    as a whole model (``generator.*``, ``discriminator.*``, ...). Returns a summary dict
    (paths, tensor count, parameters, source SHA-256, target).

    Raises:
        FileNotFoundError, ConversionError, irkit.fileio.checkpoint.CheckpointMismatchError
        (missing/unexpected keys or shapes, with the list).
    """
    from irkit.fileio.checkpoint import adapt_keys, atomic_save, load_state_dict, safe_load
    src, out = Path(src), Path(out)
    if out.suffix != '.pth':
        out = out.with_suffix(out.suffix + '.pth') if out.suffix not in ('', '.safetensors') else \
            out.with_suffix('.pth')
    info: dict = {}
    parts = read_official(src, fmt, info)
    whole = len(parts) > 1
    sd = OrderedDict((f'{p}.{k}', v) for p, psd in parts.items() for k, v in psd.items()) if whole \
        else next(iter(parts.values()))
    target, target_key = None, 'model' if whole else _part_config_key(next(iter(parts)))
    if verify:
        if config is None:
            raise ValueError('convert_checkpoint: verify=True needs the config the weights belong to')
        target, target_key = _build_target(config, parts, cfg_options)
        load_state_dict(target, sd, strict=True, source=f'{src} ({fmt})')
        sd = adapt_keys(sd, target.state_dict().keys())  # stored under the network's own key names
    src_sha = sha256_file(src)
    meta = {'converted_from': src.name, 'source_sha256': src_sha, 'format': fmt, 'config': str(config),
            'target': target_key}
    atomic_save({'state_dict': sd, 'meta': meta}, out)
    written = [str(out)]
    if safetensors:
        from safetensors.torch import save_file
        st_path = out.with_suffix('.safetensors')
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
    return {'outputs': written, 'tensors': len(sd), 'numel': sum(v.numel() for v in sd.values()),
            'source_sha256': src_sha, 'format': fmt, 'target': target_key, 'verified': verify,
            'networks': sorted(parts), **info}


__all__ = ['find_weights', 'locate_weights', 'weights_dirs', 'resolve_checkpoint', 'zoo_entry', 'sha256_file', 'verify_sha256',
           'read_checkpoint', 'read_state_dict', 'official_format', 'read_official', 'get_format',
           'load_format_registry', 'strip_prefix', 'unwrap', 'tensor_dict', 'pick_state', 'split_parts', 'load_parts',
           'load_weights', 'convert_checkpoint', 'FORMATS', 'OfficialFormat', 'ConversionError',
           'MissingWeightsError', 'WeightsIntegrityError', 'ENV_VAR']
