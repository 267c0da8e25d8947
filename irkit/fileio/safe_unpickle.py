"""Read pickles that ``weights_only`` refuses, without running code from them.

Some official releases are pickles that hold more than tensors: PyTorch Lightning
``.ckpt`` files keep ``hyper_parameters`` and callback states (arbitrary objects),
MAT's ``.pkl`` files (``Places_512.pkl``, ``CelebA-HQ_512.pkl``, ...) are
StyleGAN2-ADA training snapshots, ``pickle.dump`` of ``{'G', 'D', 'G_ema',
'augment_pipe', 'training_set_kwargs'}`` whose networks are ``torch_utils.persistence``
objects: each is rebuilt by ``_reconstruct_persistent_obj(meta)``, where ``meta``
carries the *source code* of the defining module (executed by the normal unpickler!)
and the module's ``__dict__`` as ``meta['state']``.

This module is irkit's single restricted unpickler. :class:`RestrictedUnpickler`

* rebuilds tensors, parameters, storages, dtypes and plain containers
  (``dict``/``OrderedDict``/``list``/``tuple``/``set``), and
* replaces every other global (classes, functions such as ``os.system`` or
  ``exec``, StyleGAN2's ``_reconstruct_persistent_obj``, numpy scalars,
  ``dnnlib.EasyDict``) with an inert :class:`Opaque` stand-in that only *records*
  its constructor arguments and state.

Nothing named in the file is imported or called, so a crafted file cannot execute
code. The networks inside the stand-ins are recovered with :func:`module_state`,
which walks the recorded ``torch.nn.Module`` attribute dicts (``_parameters``,
``_buffers``, ``_modules``) and returns a flat ``state_dict`` keyed exactly like the
original network's ``state_dict()``.

:func:`restricted_load` handles the three container formats of ``torch.save``/``pickle``:
the zip format (torch >= 1.6), the legacy sequential format (torch < 1.6) and plain
pickles (``pickle.dump``, as StyleGAN2 snapshots; their storages are nested legacy
``torch.save`` blobs, read with ``weights_only=True``). :func:`load_stylegan_pickle`
and :func:`extract_state_dicts` are the thin StyleGAN2/MAT layer on top: plain
pickles only, one state_dict per network (``G``, ``D``, ``G_ema``).
:func:`load_torchscript_tensors` reads the named tensors of a TorchScript archive
(``torch.jit.save``, e.g. StyleGAN2-ADA's FID ``inception-2015-12-05.pt``) from its
``data.pkl`` with the same unpickler, without ``torch.jit.load``.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple, Union

import torch

PathLike = Union[str, os.PathLike]

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class UnsupportedPickleError(ValueError):
    """The file does not hold what the caller expects (a training pickle of networks)."""


class Opaque:
    """Inert stand-in for an object whose class was not rebuilt.

    ``cls_name`` is the dotted name of the original global; ``args`` the
    arguments it would have been called with; ``state`` what ``__setstate__``
    would have received; ``items``/``list_items`` what a dict/list subclass
    would have held. Nothing is executed.
    """

    cls_name = 'object'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None
        self.items: Dict[Any, Any] = {}
        self.list_items: list = []

    def __new__(cls, *args: Any, **kwargs: Any):  # NEWOBJ calls cls.__new__(cls, *args)
        obj = super().__new__(cls)
        obj.args, obj.kwargs, obj.state, obj.items, obj.list_items = args, kwargs, None, {}, []
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items[key] = value

    def append(self, value: Any) -> None:
        self.list_items.append(value)

    def extend(self, values: Any) -> None:
        self.list_items.extend(values)

    def __repr__(self) -> str:
        return f'<Opaque {self.cls_name}>'


_PLACEHOLDERS: Dict[str, type] = {}


def _placeholder(module: str, name: str) -> type:
    full = f'{module}.{name}'
    if full not in _PLACEHOLDERS:
        _PLACEHOLDERS[full] = type(f'Opaque[{full}]', (Opaque,), {'cls_name': full})
    return _PLACEHOLDERS[full]


class _StorageType:
    """What ``torch.FloatStorage`` etc. stand for in a pickle: a dtype."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _storage_types() -> Dict[str, torch.dtype]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _fill_storage_types(out)
    out['UntypedStorage'] = torch.uint8
    out['ByteStorage'] = torch.uint8
    return out


def _fill_storage_types(out: Dict[str, torch.dtype]) -> None:
    for name in dir(torch):
        if name.endswith('Storage') and name not in ('UntypedStorage', 'TypedStorage'):
            cls = getattr(torch, name)
            try:
                out[name] = cls.dtype if isinstance(getattr(cls, 'dtype', None), torch.dtype) else cls().dtype
            except Exception:  # noqa: BLE001 - storage classes that cannot be instantiated
                continue


_STORAGE_DTYPES = _storage_types()


def _flat(storage: Any) -> torch.Tensor:
    """A 1-D tensor viewing a storage (our flat tensors, or torch storages)."""
    if isinstance(storage, torch.Tensor):
        return storage
    if isinstance(storage, torch.TypedStorage):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return torch.empty(0, dtype=storage.dtype).set_(storage.untyped())
    if isinstance(storage, torch.UntypedStorage):
        return torch.empty(0, dtype=torch.uint8).set_(storage)
    raise pickle.UnpicklingError(f'expected a tensor storage, got {type(storage).__name__}')


class _LegacyRef:
    """A storage of the legacy format: its bytes follow the pickle in the file."""

    def __init__(self, key: str, dtype: torch.dtype, view: Any) -> None:
        self.key, self.dtype, self.view = key, dtype, view


class _PendingTensor:
    """A legacy-format tensor, rebuilt once its storage has been read."""

    def __init__(self, storage: Any, args: tuple) -> None:
        self.storage, self.args = storage, args


def _rebuild_tensor(storage: Any, offset: int, size: Tuple[int, ...], stride: Tuple[int, ...],
                    *_: Any) -> Any:
    if isinstance(storage, _LegacyRef):  # storages come after the pickle in the legacy format
        return _PendingTensor(storage, (offset, size, stride))
    flat = _flat(storage)
    if not size:
        return flat[offset].clone() if flat.numel() else torch.empty((), dtype=flat.dtype)
    return flat.as_strided(tuple(size), tuple(stride), offset)


def _rebuild_tensor_v3(storage: Any, offset: int, size, stride, requires_grad, hooks,
                       dtype: torch.dtype, *_: Any) -> Any:
    if isinstance(storage, _LegacyRef):
        storage.dtype = dtype
        return _PendingTensor(storage, (offset, size, stride))
    flat = _flat(storage)
    if flat.dtype != dtype:
        flat = flat.view(torch.uint8).view(dtype)
    return _rebuild_tensor(flat, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: bool = True, *_: Any) -> Any:
    return data  # parameters become plain tensors


def _load_from_bytes(data: bytes) -> Any:
    """Nested ``torch.save`` blob (how ``pickle.dumps`` stores a tensor's storage)."""
    with torch.serialization.safe_globals([]):
        return torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: tuple, state: Any) -> Any:
    # tensor subclasses: rebuild the plain tensor, drop the subclass and its state
    return func(*args) if callable(func) and not isinstance(func, Opaque) else Opaque(func, new_type, args, state)


_SAFE_FUNCS = {
    ('collections', 'OrderedDict'): OrderedDict,
    ('builtins', 'set'): set, ('builtins', 'frozenset'): frozenset, ('builtins', 'slice'): slice,
    ('builtins', 'complex'): complex, ('builtins', 'bytearray'): bytearray,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v3'): _rebuild_tensor_v3,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('torch.storage', '_load_from_bytes'): _load_from_bytes,
    ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type_v2,
    ('torch', 'Size'): torch.Size,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds tensors and containers; everything else becomes an :class:`Opaque`."""

    def __init__(self, file, zip_file: Optional[zipfile.ZipFile] = None, zip_prefix: str = '',
                 legacy_storages: Optional[dict] = None, source: str = '<bytes>') -> None:
        super().__init__(file)
        self.zip_file = zip_file
        self.zip_prefix = zip_prefix
        self.legacy_storages = legacy_storages
        self.source = source
        self.storages: Dict[str, torch.Tensor] = {}
        self.replaced: Dict[str, int] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_FUNCS:
            return _SAFE_FUNCS[(module, name)]
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == 'torch' and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        full = f'{module}.{name}'
        self.replaced[full] = self.replaced.get(full, 0) + 1
        return _placeholder(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or pid[0] != 'storage':
            raise pickle.UnpicklingError(f'{self.source}: unexpected persistent id {pid!r}')
        stype, key = pid[1], str(pid[2])
        dtype = stype.dtype if isinstance(stype, _StorageType) else torch.uint8
        if self.zip_file is not None:
            if key not in self.storages:
                raw = self.zip_file.read(f'{self.zip_prefix}data/{key}')
                self.storages[key] = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else \
                    torch.empty(0, dtype=torch.uint8)
            data = self.storages[key]
            return data.view(dtype) if data.numel() else torch.empty(0, dtype=dtype)
        if self.legacy_storages is not None:  # legacy format: (..., root_key, location, numel, view_meta)
            self.legacy_storages.setdefault(key, dtype)
            return _LegacyRef(key, dtype, pid[5] if len(pid) > 5 else None)
        raise pickle.UnpicklingError(f'{self.source}: storage reference {pid!r} outside a torch archive')


def _data_pkl_name(zf: zipfile.ZipFile) -> Optional[str]:
    """``data.pkl`` or ``<archive>/data.pkl`` of a ``torch.save`` / TorchScript zip (None if absent)."""
    names = [n for n in zf.namelist() if n.endswith('data.pkl') and n.count('/') <= 1]
    return names[0] if names else None


def _load_zip(zf: zipfile.ZipFile, source: str, name: Optional[str] = None) -> Any:
    """Unpickle the zip's ``data.pkl`` (``name``) with its ``data/<key>`` storages."""
    name = name or _data_pkl_name(zf)
    if name is None:
        raise pickle.UnpicklingError(f'{source}: zip file without data.pkl (not a torch.save archive)')
    prefix = name[:-len('data.pkl')]
    up = RestrictedUnpickler(io.BytesIO(zf.read(name)), zip_file=zf, zip_prefix=prefix, source=source)
    return up.load()


def _load_legacy(f: io.BufferedIOBase, source: str) -> Any:
    """torch < 1.6 format: magic, protocol, sys_info, object pickle, keys, raw storages."""
    def plain(fh):
        return RestrictedUnpickler(fh, source=source).load()
    magic = plain(f)
    if magic != LEGACY_MAGIC:
        raise pickle.UnpicklingError(f'{source}: not a torch checkpoint (bad magic number)')
    plain(f)  # protocol version
    sys_info = plain(f)
    little = not isinstance(sys_info, dict) or sys_info.get('little_endian', True)
    storages: Dict[str, torch.dtype] = {}
    up = RestrictedUnpickler(f, legacy_storages=storages, source=source)
    obj = up.load()
    keys = plain(f)
    data: Dict[str, torch.Tensor] = {}
    for key in keys:
        dtype = storages.get(str(key), torch.uint8)
        (numel,) = struct.unpack('<q' if little else '>q', f.read(8))
        itemsize = torch.empty(0, dtype=dtype).element_size()
        raw = f.read(numel * itemsize)
        if len(raw) != numel * itemsize:
            raise pickle.UnpicklingError(f'{source}: truncated storage {key}')
        data[str(key)] = torch.frombuffer(bytearray(raw), dtype=dtype) if numel else torch.empty(0, dtype=dtype)
    return _resolve_legacy(obj, data)


def _resolve_legacy(obj: Any, data: Dict[str, torch.Tensor]) -> Any:
    """Replace the legacy storage references by the storages read after the pickle."""
    if isinstance(obj, _LegacyRef):
        flat = data[obj.key]
        if obj.view is not None:  # (view_key, offset, view_size)
            _, off, n = obj.view
            flat = flat[off:off + n]
        return flat
    if isinstance(obj, _PendingTensor):
        return _rebuild_tensor(_resolve_legacy(obj.storage, data), *obj.args)
    if isinstance(obj, dict):
        for k in list(obj):
            obj[k] = _resolve_legacy(obj[k], data)
        return obj
    if isinstance(obj, list):
        obj[:] = [_resolve_legacy(v, data) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_resolve_legacy(v, data) for v in obj)
    if isinstance(obj, Opaque):
        obj.args = tuple(_resolve_legacy(v, data) for v in obj.args)
        obj.state = _resolve_legacy(obj.state, data)
        obj.items = _resolve_legacy(obj.items, data)
        obj.list_items = _resolve_legacy(obj.list_items, data)
    return obj


def restricted_load(path: PathLike) -> Any:
    """Load a ``torch.save``/``pickle`` file, rebuilding only tensors and containers.

    Every other object becomes an :class:`Opaque` record; nothing from the file is
    imported or executed.

    Raises:
        FileNotFoundError: naming the file.
        pickle.UnpicklingError: the file is not a pickle/torch archive (naming it).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    source = str(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return _load_zip(zf, source)
        with open(path, 'rb') as f:
            head = f.read(64)
            f.seek(0)
            if _is_legacy(head):
                return _load_legacy(f, source)
            return RestrictedUnpickler(f, source=source).load()
    except (pickle.UnpicklingError, EOFError, ValueError, struct.error, KeyError, RuntimeError) as e:
        raise pickle.UnpicklingError(f'cannot read {source} as a checkpoint: {e}') from e


def _is_legacy(head: bytes) -> bool:
    """Whether ``head`` starts with the legacy format's magic-number pickle. Read with the
    restricted unpickler too: the first bytes of a crafted file can be a complete pickle
    (e.g. ``os.system`` + REDUCE in 30 bytes)."""
    if b'.' not in head:
        return False
    try:
        magic = RestrictedUnpickler(io.BytesIO(head[:head.index(b'.') + 1])).load()
    except Exception:  # noqa: BLE001 - any other pickle start
        return False
    return isinstance(magic, int) and magic == LEGACY_MAGIC


def opaque_state(obj: Any) -> Optional[dict]:
    """The attribute dict an :class:`Opaque` records for an ``nn.Module``-like object.

    Handles ``__setstate__`` states (plain pickling), ``copyreg`` reconstructors
    and StyleGAN2 ``persistence`` records (``_reconstruct_persistent_obj(meta)``
    with ``meta['state']``, also when ``meta``/``meta.state`` are recorded
    ``dnnlib.EasyDict`` s).
    """
    if not isinstance(obj, Opaque):
        return None
    for cand in (obj.state, obj.items, *(a for a in obj.args if isinstance(a, dict))):
        if isinstance(cand, tuple) and cand and isinstance(cand[0], dict):
            cand = cand[0]  # (dict, slotstate)
        if isinstance(cand, dict) and cand:
            if '_parameters' in cand or '_modules' in cand or '_buffers' in cand:
                return cand
            inner = cand.get('state')
            if isinstance(inner, dict) and ('_parameters' in inner or '_modules' in inner):
                return inner
            if isinstance(inner, Opaque):
                return opaque_state(inner)
    if obj.args and isinstance(obj.args[-1], Opaque):
        return opaque_state(obj.args[-1])
    return None


def module_state(obj: Any, prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
    """Flatten a recorded ``nn.Module`` (an :class:`Opaque`) into a state_dict.

    Parameters and persistent buffers are listed in module order, as
    ``nn.Module.state_dict`` would; ``None`` entries are skipped.

    Raises:
        UnsupportedPickleError (a ValueError): ``obj`` holds no module state, or a
        parameter/buffer is not a tensor (naming its key).
    """
    state = opaque_state(obj)
    if state is None:
        raise UnsupportedPickleError(f'{prefix.rstrip(".") or "object"} ({obj!r}) does not record an '
                                     'nn.Module (no _parameters/_modules state)')
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    skip = state.get('_non_persistent_buffers_set') or set()
    for kind in ('_parameters', '_buffers'):
        for name, t in _items(state.get(kind)):
            if t is None or (kind == '_buffers' and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise UnsupportedPickleError(f'{prefix}{name}: expected a tensor, found {type(t).__name__}')
            out[prefix + name] = t
    for name, sub in _items(state.get('_modules')):
        if sub is not None:
            out.update(module_state(sub, f'{prefix}{name}.'))
    return out


def _items(d: Any) -> Iterator[Tuple[str, Any]]:
    if isinstance(d, dict):
        return iter(list(d.items()))
    if isinstance(d, Opaque):
        return iter(list(d.items.items()))
    return iter(())


def tensors_only(obj: Any) -> Any:
    """Copy of a loaded checkpoint keeping only tensors, numbers, strings and containers
    of them (``Opaque`` records dropped)."""
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    if isinstance(obj, dict):
        return type(obj)((k, tensors_only(v)) for k, v in obj.items() if not isinstance(v, Opaque))
    if isinstance(obj, (list, tuple)):
        return type(obj)(tensors_only(v) for v in obj if not isinstance(v, Opaque))
    return None


# --- TorchScript archives ------------------------------------------------------------------


def load_torchscript_tensors(path: PathLike) -> 'OrderedDict[str, torch.Tensor]':
    """The named tensors (parameters and buffers) of a TorchScript ``.pt`` archive,
    read without ``torch.jit.load``: no TorchScript or Python code from the file runs.

    A ``torch.jit.save`` zip holds ``<archive>/code/`` (TorchScript source, never read
    here), ``<archive>/data.pkl`` (the module tree) and ``<archive>/data/<key>`` (the
    storages). ``data.pkl`` is read with :class:`RestrictedUnpickler`, so the policy is
    the one of :func:`restricted_load`: tensors, storages, dtypes and plain containers are
    rebuilt, every other global -- the ``__torch__.*`` module classes as well as anything
    foreign such as ``os.system`` or ``torch.jit._pickle.*`` helpers -- becomes an inert
    :class:`Opaque` record; nothing is imported or called. The records of ``__torch__.*``
    classes are then walked (:func:`torchscript_tensors`) into ``a.b.c`` names as
    ``state_dict()`` would give; tensors held by any other record are not returned.

    Raises:
        FileNotFoundError: naming the file.
        UnsupportedPickleError (a ValueError): naming the file, when it is not a zip,
            has no ``data.pkl``, its ``data.pkl`` cannot be read, or it does not hold a
            TorchScript module (``__torch__.*`` object) at the top.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'TorchScript archive not found: {path}')
    if not zipfile.is_zipfile(path):
        raise UnsupportedPickleError(f'{path} is not a TorchScript archive (not a zip file)')
    with zipfile.ZipFile(path) as zf:
        name = _data_pkl_name(zf)
        if name is None:
            raise UnsupportedPickleError(f'{path}: no data.pkl inside; not a TorchScript archive')
        try:
            root = _load_zip(zf, str(path), name)
        except (pickle.UnpicklingError, EOFError, ValueError, struct.error, KeyError, RuntimeError,
                IndexError, TypeError, AttributeError) as e:
            raise UnsupportedPickleError(f'{path}: cannot read {name} of the TorchScript archive '
                                         f'({type(e).__name__}: {e})') from e
    if not _is_torchscript_record(root):
        raise UnsupportedPickleError(f'{path}: {name} holds {root!r}, not a TorchScript module '
                                     '(a torch.save archive? load it with irkit.fileio.checkpoint.safe_load)')
    return torchscript_tensors(root)


def _is_torchscript_record(obj: Any) -> bool:
    return isinstance(obj, Opaque) and obj.cls_name.startswith('__torch__')


def torchscript_tensors(root: Any) -> 'OrderedDict[str, torch.Tensor]':
    """Flatten an unpickled TorchScript module tree (records of ``__torch__.*`` classes,
    whose ``__setstate__`` state is the attribute dict) into ``a.b.c`` -> tensor, in
    attribute order. A non-dict state is listed under the attribute name ``__state__``."""
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()

    def walk(obj: Any, name: str) -> None:
        if isinstance(obj, torch.Tensor):
            out[name] = obj
        elif _is_torchscript_record(obj):
            attrs = obj.state if isinstance(obj.state, dict) else {'__state__': obj.state}
            for k, v in attrs.items():
                walk(v, f'{name}.{k}' if name else str(k))
    walk(root, '')
    return out


# --- StyleGAN2-ADA / MAT training snapshots ------------------------------------------------


def is_torch_archive(path: PathLike) -> bool:
    """Whether ``path`` is a ``torch.save`` file (zip or legacy format) rather than a plain pickle."""
    with open(path, 'rb') as f:
        head = f.read(64)
    return head[:2] == b'PK' or _is_legacy(head)


def load_stylegan_pickle(path: PathLike) -> Any:
    """Unpickle a StyleGAN2-ADA / MAT training snapshot (a plain ``pickle.dump``)
    with :class:`RestrictedUnpickler`; nothing from the file is imported or run.

    Raises:
        FileNotFoundError: naming the file.
        UnsupportedPickleError: a ``torch.save`` archive (zip or legacy; read those
            with ``irkit.fileio.checkpoint.safe_load``) or not a readable pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'pickle not found: {path}')
    if is_torch_archive(path):
        raise UnsupportedPickleError(f'{path} is a torch.save checkpoint, not a training pickle; '
                                     'load it with irkit.fileio.checkpoint.safe_load')
    with open(path, 'rb') as f:
        try:
            return RestrictedUnpickler(f, source=str(path)).load()
        except Exception as e:  # noqa: BLE001 - truncated / not a pickle / storage references
            raise UnsupportedPickleError(
                f'{path}: not a readable training pickle ({type(e).__name__}: {e})') from e


def extract_state_dicts(data: Any, names: Iterable[str] = ('G', 'D', 'G_ema')
                        ) -> Dict[str, 'OrderedDict[str, torch.Tensor]']:
    """State dicts (own copies of the tensors) of the networks ``names`` in an unpickled
    snapshot dict, keyed like their ``state_dict()``; missing networks are skipped.

    Raises:
        UnsupportedPickleError: ``data`` is not a dict, holds none of ``names``, or one
        of them is not a recorded module.
    """
    names = list(names)
    if not isinstance(data, dict):
        raise UnsupportedPickleError(f'expected a dict of networks at the top level, found {type(data).__name__}')
    out = {}
    for name in names:
        if data.get(name) is not None:
            out[name] = OrderedDict((k, v.detach().clone()) for k, v in module_state(data[name]).items())
    if not out:
        raise UnsupportedPickleError(f'none of {names} in the pickle (it has: {sorted(map(str, data))})')
    return out


def class_name(obj: Any) -> Optional[str]:
    """The class a recorded object was saved as: ``meta['class_name']`` of a StyleGAN2
    persistent object, else the dotted name of its global; None for other objects."""
    if not isinstance(obj, Opaque):
        return None
    if obj.args and isinstance(obj.args[0], dict) and 'class_name' in obj.args[0]:
        return str(obj.args[0]['class_name'])
    return obj.cls_name


__all__ = ['restricted_load', 'RestrictedUnpickler', 'Opaque', 'module_state', 'opaque_state',
           'tensors_only', 'UnsupportedPickleError', 'load_stylegan_pickle', 'extract_state_dicts',
           'class_name', 'is_torch_archive', 'load_torchscript_tensors', 'torchscript_tensors']
