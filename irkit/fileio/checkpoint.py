"""Safe checkpoint reading and atomic writing.

Every checkpoint irkit reads goes through :func:`safe_load`: ``torch.load`` with
``weights_only=True`` and an explicit allow-list of the few non-tensor types
that checkpoints written by irkit, mmengine, BasicSR-style and Lightning-style
trainers hold (numpy scalars/arrays/dtypes). A pickle that asks for anything else
(e.g. ``os.system``) is refused before any of it runs. ``.safetensors`` files are
read with :mod:`safetensors`.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

import numpy as np
import torch
import torch.nn as nn

PathLike = Union[str, os.PathLike]


class UnsafeCheckpointError(RuntimeError):
    """The file needs code or objects outside irkit's allow-list to be unpickled."""


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's keys or shapes do not fit the model."""


def _numpy_safe_globals() -> list:
    """numpy types that checkpoints legitimately hold (scalars, arrays, dtypes)."""
    out = [np.dtype, np.ndarray]
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    out += [_reconstruct, scalar]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return out


SAFE_GLOBALS = _numpy_safe_globals()


def safe_load(path: PathLike, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint without executing code from it.

    Args:
        path: a ``.pth``/``.pt``/``.ckpt`` file written by ``torch.save`` or a
            ``.safetensors`` file.
        map_location: as in ``torch.load``.

    Raises:
        FileNotFoundError: naming the file.
        UnsafeCheckpointError: the file asks for a type outside the allow-list
            (the message names it and what to do).
        RuntimeError: the file is truncated or not a checkpoint (naming the file).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if path.stat().st_size == 0:
        raise RuntimeError(f'checkpoint {path} is empty (0 bytes): an interrupted download or save?')
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        return load_file(str(path), device=device)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        msg = str(e)
        if 'Unsupported global' in msg or 'Unsupported operand' in msg or 'weights_only' in msg:
            found = re.findall(r'GLOBAL ([\w.]+)', msg)
            what = f' ({found[0]})' if found else ''
            raise UnsafeCheckpointError(
                f'refusing to load {path}: it contains objects outside irkit\'s safe allow-list'
                f'{what}, and loading them could run code from the file. If the file comes from a '
                'source you trust and holds an official release (e.g. a MAT .pkl or a Lightning '
                '.ckpt), convert it with tools/convert_checkpoint.py, which reads tensors only.'
            ) from None
        raise RuntimeError(f'cannot read checkpoint {path}: {msg.splitlines()[0] if msg else e!r}') from e


@contextlib.contextmanager
def _atomic_file(path: PathLike):
    """Open a temporary file beside ``path``; on success fsync and rename it to ``path``.

    A crash during the write leaves the previous file (if any) untouched and no
    partial file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=str(path.parent))
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_save(obj: Any, path: PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (temporary file + fsync + rename)."""
    with _atomic_file(path) as f:
        torch.save(obj, f)
    return Path(path)


def atomic_write_bytes(data: bytes, path: PathLike) -> Path:
    """Write bytes to ``path`` atomically (temporary file + fsync + rename)."""
    with _atomic_file(path) as f:
        f.write(data)
    return Path(path)


STATE_DICT_KEYS = ('state_dict', 'params', 'params_ema', 'model', 'net', 'state_dict_ema')
STRIP_PREFIXES = ('module.', 'net.', 'model.', 'generator.')


def extract_state_dict(checkpoint: Mapping, param_key: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """The tensor dict inside the common release layouts.

    Handles ``{'state_dict': ...}`` (MPRNet, mmengine, Lightning), ``{'params':
    ...}`` / ``{'params_ema': ...}`` (BasicSR, Restormer) and a bare state_dict.
    """
    if param_key is not None:
        if param_key not in checkpoint:
            raise KeyError(f"checkpoint has no '{param_key}' entry (it has: {', '.join(map(str, checkpoint))})")
        return checkpoint[param_key]
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    for k in STATE_DICT_KEYS:
        if k in checkpoint and isinstance(checkpoint[k], Mapping):
            return checkpoint[k]
    raise KeyError('no state_dict found in the checkpoint; top-level keys: '
                   + ', '.join(map(str, checkpoint)))


def adapt_keys(state_dict: Mapping[str, Any], model_keys: Iterable[str]) -> 'OrderedDict[str, Any]':
    """Strip wrapper prefixes (``module.``, ``net.``, ``generator.``) the model does not use."""
    model_keys = set(model_keys)
    sd = OrderedDict(state_dict)
    changed = True
    while changed and sd:
        changed = False
        if set(sd) <= model_keys:
            break
        for prefix in STRIP_PREFIXES:
            if all(k.startswith(prefix) for k in sd) and not any(k.startswith(prefix) for k in model_keys):
                sd = OrderedDict((k[len(prefix):], v) for k, v in sd.items())
                changed = True
                break
    return sd


def describe_mismatch(model_sd: Mapping[str, torch.Tensor], sd: Mapping[str, torch.Tensor],
                      limit: int = 10) -> str:
    missing = [k for k in model_sd if k not in sd]
    unexpected = [k for k in sd if k not in model_sd]
    shapes = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(model_sd[k].shape)}'
              for k in model_sd if k in sd and hasattr(sd[k], 'shape') and sd[k].shape != model_sd[k].shape]
    parts = []
    for title, items in (('missing from the checkpoint', missing),
                         ('unexpected in the checkpoint', unexpected), ('shape mismatch', shapes)):
        if items:
            more = f' ... and {len(items) - limit} more' if len(items) > limit else ''
            parts.append(f'{len(items)} {title}: ' + ', '.join(items[:limit]) + more)
    return '; '.join(parts)


def load_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True,
                    source: str = 'checkpoint') -> None:
    """Load with a readable report of missing/unexpected keys and shape mismatches."""
    model_sd = model.state_dict()
    sd = adapt_keys(state_dict, model_sd.keys())
    report = describe_mismatch(model_sd, sd)
    shape_bad = [k for k in model_sd if k in sd and hasattr(sd[k], 'shape') and sd[k].shape != model_sd[k].shape]
    if shape_bad or (strict and report):
        raise CheckpointMismatchError(
            f'{source} does not fit {type(model).__name__}: {report}. Is it the checkpoint of another '
            'architecture or of another variant (check the constructor arguments)?')
    model.load_state_dict(sd, strict=False)


def latest_checkpoint(work_dir: PathLike, pattern: str = r'iter_(\d+)\.pth$') -> Optional[Path]:
    """Newest complete checkpoint in ``work_dir`` (by iteration number).

    Checkpoints are written atomically, so any file matching ``iter_N.pth`` is
    complete; temporary files (``.iter_N.pth.XXXX.tmp``) never match.
    """
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    best, best_n = None, -1
    for p in work_dir.iterdir():
        m = re.fullmatch(pattern, p.name)
        if m and p.is_file() and p.stat().st_size > 0 and int(m.group(1)) > best_n:
            best, best_n = p, int(m.group(1))
    return best


__all__ = ['safe_load', 'atomic_save', 'atomic_write_bytes', 'load_state_dict',
           'extract_state_dict', 'latest_checkpoint', 'UnsafeCheckpointError', 'CheckpointMismatchError']
