"""Safe checkpoint reading and atomic writing.

Every checkpoint irkit reads goes through :func:`safe_load`: ``torch.load`` with
``weights_only=True`` and an explicit allow-list of the few non-tensor types
that checkpoints written by irkit, mmengine, BasicSR-style and Lightning-style
trainers hold (numpy scalars/arrays/dtypes). A pickle that asks for anything else
(e.g. ``os.system``) is refused before any of it runs. ``.safetensors`` files are
read with :mod:`safetensors`. A file that is neither is reported as not a
checkpoint; a truncated one as damaged.

Checkpoints irkit writes carry a CRC-32 of every tensor (``tensor_checksums``,
:func:`add_checksums`); :func:`safe_load` verifies them, so a tensor whose bytes
changed on disk is an error naming it instead of silently different weights.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

PathLike = Union[str, os.PathLike]


class UnsafeCheckpointError(RuntimeError):
    """The file needs code or objects outside irkit's allow-list to be unpickled."""


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's keys or shapes do not fit the model."""


class CorruptCheckpointError(RuntimeError):
    """Not a checkpoint, truncated, or a tensor differs from the checksum written with it."""


class NonFiniteCheckpointError(ValueError):
    """A checkpoint's floating-point tensors hold NaN or Inf."""


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
        CorruptCheckpointError: the file is empty, truncated, not a checkpoint at all,
            or a tensor differs from the checksum irkit wrote with it (naming the file,
            and the tensor).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    size = path.stat().st_size
    if size == 0:
        raise CorruptCheckpointError(f'checkpoint {path} is empty (0 bytes): an interrupted download or save?')
    with open(path, 'rb') as f:
        head = f.read(8)
    if path.suffix == '.safetensors':
        return _load_safetensors(path, head, size, map_location)
    if not head.startswith(b'PK\x03\x04') and head[:1] != b'\x80':
        raise CorruptCheckpointError(
            f'{path} is not a checkpoint: it is neither a torch.save file (a zip archive or a '
            f'protocol-2+ stream) nor safetensors (it starts with {head!r})')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            obj = torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        msg = str(e)
        found = re.findall(r'GLOBAL ([\w.]+)', msg)
        if found or 'Unsupported global' in msg:  # the pickle asks for a class or function
            what = f' ({found[0]})' if found else ''
            raise UnsafeCheckpointError(
                f'refusing to load {path}: it contains objects outside irkit\'s safe allow-list'
                f'{what}, and loading them could run code from the file. If the file comes from a '
                'source you trust and holds an official release (e.g. a MAT .pkl or a Lightning '
                '.ckpt), convert it with tools/convert_checkpoint.py, which reads tensors only.'
            ) from None
        lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
        if 'WeightsUnpickler error:' in msg:  # torch's advice to drop weights_only is no help here
            lines = [ln for ln in lines[next(i for i, ln in enumerate(lines) if 'WeightsUnpickler' in ln) + 1:]
                     if not ln.startswith('Check the documentation')] or lines
        first = lines[0] if lines else repr(e)
        raise CorruptCheckpointError(f'cannot read checkpoint {path}: it is truncated or damaged '
                                     f'({type(e).__name__}: {first})') from None
    verify_checksums(obj, path)
    return obj


def _load_safetensors(path: Path, head: bytes, size: int, map_location: Any) -> Dict[str, torch.Tensor]:
    """safetensors' ``load_file`` after checking the header length fits in the file."""
    from safetensors.torch import load_file
    n = int.from_bytes(head, 'little') if len(head) == 8 else -1
    if not 0 < n <= size - 8:
        raise CorruptCheckpointError(
            f'{path} is not a readable safetensors file: its header claims {n} bytes, the file has '
            f'{size} (truncated or not safetensors)')
    device = map_location if isinstance(map_location, str) else 'cpu'
    try:
        return load_file(str(path), device=device)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise CorruptCheckpointError(f'cannot read safetensors file {path}: {type(e).__name__}: '
                                     f'{str(e).splitlines()[0] if str(e) else e!r}') from None


# --------------------------------------------------------------------------- integrity
CHECKSUM_KEY = 'tensor_checksums'


def _tensor_items(obj: Any, prefix: str = ''):
    """``(path, tensor)`` for every tensor in nested dicts/lists/tuples, in a fixed order."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _tensor_items(v, f'{prefix}/{k}' if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensor_items(v, f'{prefix}/{i}' if prefix else str(i))


def tensor_crc32(t: torch.Tensor) -> str:
    """CRC-32 (zlib) of a tensor's bytes as 8 hex digits."""
    import zlib
    if t.layout != torch.strided:
        t = t.to_dense()
    flat = t.detach().cpu().contiguous().reshape(-1)
    return f'{zlib.crc32(flat.view(torch.uint8).numpy()) if flat.numel() else 0:08x}'


def add_checksums(checkpoint: dict) -> dict:
    """Store a CRC-32 of every tensor of ``checkpoint`` under ``tensor_checksums`` (in place)."""
    body = {k: v for k, v in checkpoint.items() if k != CHECKSUM_KEY}
    checkpoint[CHECKSUM_KEY] = {'algorithm': 'crc32',
                                'tensors': {p: tensor_crc32(t) for p, t in _tensor_items(body)}}
    return checkpoint


def verify_checksums(checkpoint: Any, source: PathLike = 'checkpoint') -> None:
    """Compare the tensors with the ``tensor_checksums`` written with them (if any).

    Raises:
        CorruptCheckpointError: naming the tensors whose bytes differ, or that are
            missing or new.
    """
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get(CHECKSUM_KEY), Mapping):
        return
    want = dict(checkpoint[CHECKSUM_KEY].get('tensors', {}))
    body = {k: v for k, v in checkpoint.items() if k != CHECKSUM_KEY}
    got = {p: tensor_crc32(t) for p, t in _tensor_items(body)}
    bad = [p for p in got if p in want and got[p] != want[p]]
    missing, extra = [p for p in want if p not in got], [p for p in got if p not in want]
    if bad or missing or extra:
        parts = [f'{title}: {", ".join(items[:5])}' + (f' and {len(items) - 5} more' if len(items) > 5 else '')
                 for title, items in (('tensors whose bytes changed', bad), ('tensors missing', missing),
                                      ('tensors not written with it', extra)) if items]
        raise CorruptCheckpointError(f'checkpoint {source} is corrupted: {"; ".join(parts)} (the CRC-32 '
                                     'written with the checkpoint does not match)')


def check_finite(state_dict: Mapping[str, Any], source: str = 'checkpoint', allow: bool = False) -> List[str]:
    """Names of the floating-point tensors holding NaN/Inf; raises unless ``allow``.

    Raises:
        NonFiniteCheckpointError: naming the file, the tensors and the way to load it anyway.
    """
    bad = [k for k, v in state_dict.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad and not allow:
        more = f' and {len(bad) - 5} more' if len(bad) > 5 else ''
        raise NonFiniteCheckpointError(
            f'{source}: {len(bad)} weight tensor(s) hold non-finite values (NaN/Inf): '
            f'{", ".join(bad[:5])}{more}; the model would output NaN. Load it anyway with '
            '--allow-nonfinite (allow_nonfinite=True).')
    return bad


@contextlib.contextmanager
def _atomic_file(path: PathLike):
    """Open a temporary file beside ``path``; on success fsync and rename it to ``path``.

    A crash during the write leaves the previous file (if any) untouched and no
    partial file under the final name; the temporary's name says which process
    wrote it (:mod:`irkit.fileio.tempfiles`), so a later run removes it. The file
    gets the permissions of the user's umask, as ``open`` would give it.
    """
    from irkit.fileio.tempfiles import file_mode, temp_name
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / temp_name(path.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, file_mode())
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


def _iter_checkpoints(work_dir: PathLike, pattern: str) -> List[Path]:
    """``iter_N.pth`` files of ``work_dir``, newest (largest N) first."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in work_dir.iterdir()
             for m in [re.fullmatch(pattern, p.name)] if m and p.is_file()]
    return [p for _, p in sorted(found, key=lambda t: -t[0])]


def latest_checkpoint(work_dir: PathLike, pattern: str = r'iter_(\d+)\.pth$') -> Optional[Path]:
    """Newest non-empty checkpoint in ``work_dir`` (by iteration number).

    Checkpoints are written atomically, so any file matching ``iter_N.pth`` was
    complete when written; temporary files (``.iter_N.pth.irkit-tmp...``) never match.
    :func:`resumable_checkpoint` also checks that it loads.
    """
    return next((p for p in _iter_checkpoints(work_dir, pattern) if p.stat().st_size > 0), None)


def resumable_checkpoint(work_dir: PathLike, pattern: str = r'iter_(\d+)\.pth$'
                         ) -> Tuple[Optional[Path], List[Tuple[Path, str]]]:
    """The newest checkpoint of ``work_dir`` that loads, and the newer ones skipped with why.

    A checkpoint loads when :func:`safe_load` reads it (not truncated, no unsafe
    objects, tensors equal to their checksums) and its weights are finite.
    """
    skipped: List[Tuple[Path, str]] = []
    for p in _iter_checkpoints(work_dir, pattern):
        try:
            ckpt = safe_load(p)
            if not isinstance(ckpt, Mapping):
                raise CorruptCheckpointError(f'{p} holds a {type(ckpt).__name__}, not a checkpoint dict')
            check_finite(extract_state_dict(ckpt), str(p))
            return p, skipped
        except (CorruptCheckpointError, UnsafeCheckpointError, NonFiniteCheckpointError, KeyError,
                OSError) as e:
            skipped.append((p, str(e)))
    return None, skipped


__all__ = ['safe_load', 'atomic_save', 'atomic_write_bytes', 'load_state_dict',
           'extract_state_dict', 'latest_checkpoint', 'resumable_checkpoint', 'add_checksums',
           'verify_checksums', 'check_finite', 'tensor_crc32', 'UnsafeCheckpointError',
           'CheckpointMismatchError', 'CorruptCheckpointError', 'NonFiniteCheckpointError']
