"""Read parameters from StyleGAN2-ADA style training pickles without running their code.

MAT's released ``.pkl`` files (``Places_512.pkl``, ``CelebA-HQ_512.pkl``, ...) are
``pickle.dump`` of a dict ``{'G': ..., 'D': ..., 'G_ema': ..., 'augment_pipe': ...,
'training_set_kwargs': ...}`` whose networks are ``torch_utils.persistence``
objects: each is rebuilt by ``_reconstruct_persistent_obj(meta)``, where ``meta``
carries the *source code* of the defining module (executed by the normal
unpickler!) and the module's ``__dict__`` as ``meta['state']``.

:func:`load_stylegan_pickle` uses a restricted :class:`pickle.Unpickler`:

* tensors are rebuilt from their storages (``torch.storage._load_from_bytes`` is
  replaced by ``torch.load(..., weights_only=True)``) and parameters become plain
  tensors;
* ``collections.OrderedDict`` and Python containers are rebuilt as usual;
* *every other* global (persistence hooks, module classes, numpy scalars,
  ``dnnlib.EasyDict``, ...) is replaced by an inert :class:`PickledObject` that only
  records the call arguments and state; no code from the file is imported or run.

:func:`extract_state_dicts` then walks the recorded module trees
(``_parameters``, ``_buffers``, ``_modules``) and returns ordinary state_dicts
keyed exactly like the original networks' ``state_dict()``.
"""
from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import torch

__all__ = ['PickledObject', 'RestrictedUnpickler', 'load_stylegan_pickle', 'module_state_dict',
           'extract_state_dicts', 'UnsupportedPickleError']


class UnsupportedPickleError(ValueError):
    """The pickle does not hold what a StyleGAN2-style training snapshot holds."""


class PickledObject:
    """An inert stand-in for an object the pickle would have built with foreign code.

    ``name`` is ``'module.qualname'`` of the callable/class named in the pickle,
    ``args`` the arguments it would have been called with and ``state`` what
    would have been passed to ``__setstate__``.  Nothing else happens.
    """

    def __init__(self, name: str, args: tuple = ()) -> None:
        self.name = name
        self.args = args
        self.state: Any = None
        self.items: list = []
        self.dict_items: dict = {}

    def __setstate__(self, state: Any) -> None:  # BUILD opcode
        self.state = state

    # list/dict subclasses (e.g. dnnlib.EasyDict) get APPENDS/SETITEMS
    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Iterable) -> None:
        self.items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.dict_items[key] = value

    def __repr__(self) -> str:
        return f'PickledObject({self.name})'


def _opaque_class(name: str):
    """A class standing in for a foreign global: calling it or NEWOBJ records arguments."""

    class Opaque(PickledObject):
        def __new__(cls, *args, **kwargs):  # REDUCE (call) and NEWOBJ (cls.__new__) both land here
            obj = object.__new__(cls)
            PickledObject.__init__(obj, name, args)
            return obj

        def __init__(self, *args, **kwargs) -> None:
            pass

    Opaque.__name__ = Opaque.__qualname__ = 'Opaque_' + name.replace('.', '_')
    Opaque.pickled_name = name
    return Opaque


def _load_storage_bytes(b: bytes):
    return torch.load(io.BytesIO(b), weights_only=True, map_location='cpu')


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if isinstance(storage, torch.storage.TypedStorage):
        dtype, untyped = storage.dtype, storage.untyped()
    else:
        raise UnsupportedPickleError(f'tensor storage of unexpected type {type(storage).__name__}')
    t = torch.empty((0,), dtype=dtype)
    t.set_(untyped, storage_offset, size, stride)
    return t


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise UnsupportedPickleError('parameter without tensor data')
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    t = func(*args)
    if not isinstance(t, torch.Tensor):
        raise UnsupportedPickleError('tensor subclass rebuilt to a non-tensor')
    return t


_SAFE_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type_v2,
    ('torch.storage', '_load_from_bytes'): _load_storage_bytes,
    ('builtins', 'set'): set,
    ('builtins', 'frozenset'): frozenset,
    ('builtins', 'slice'): slice,
    ('builtins', 'complex'): complex,
}
_TENSOR_TYPES = {('torch', 'Tensor'), ('torch.nn.parameter', 'Parameter')}


class RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds tensors and plain containers; every other global becomes a :class:`PickledObject`."""

    def __init__(self, file, **kwargs) -> None:
        super().__init__(file, **kwargs)
        self._opaque: Dict[str, type] = {}

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[key]
        if key in _TENSOR_TYPES:
            return torch.Tensor
        full = f'{module}.{name}'
        if full not in self._opaque:
            self._opaque[full] = _opaque_class(full)
        return self._opaque[full]

    def persistent_load(self, pid):
        raise UnsupportedPickleError(
            f'persistent id {pid!r}: this is a torch.save() file, not a training pickle; '
            'load it with irkit.fileio.checkpoint.safe_load')


def load_stylegan_pickle(path: Union[str, Path]) -> Any:
    """Unpickle a StyleGAN2-ADA / MAT training snapshot without executing its code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'pickle not found: {path}')
    with open(path, 'rb') as f:
        head = f.read(4)
        f.seek(0)
        if head[:2] == b'PK':
            raise UnsupportedPickleError(f'{path} is a zip (torch.save) checkpoint, not a training pickle; '
                                         'load it with irkit.fileio.checkpoint.safe_load')
        try:
            return RestrictedUnpickler(f).load()
        except UnsupportedPickleError:
            raise
        except Exception as e:  # truncated / not a pickle
            raise UnsupportedPickleError(f'{path}: not a readable training pickle ({type(e).__name__}: {e})') from e


def _module_dict(obj: Any) -> Optional[dict]:
    """The ``__dict__`` of an ``nn.Module`` recorded in the pickle, or None."""
    if isinstance(obj, PickledObject):
        state = obj.state
        if state is None and obj.args and isinstance(obj.args[0], dict) and 'state' in obj.args[0]:
            state = obj.args[0]['state']  # persistence: _reconstruct_persistent_obj(meta)
        if isinstance(state, PickledObject):  # e.g. meta.state wrapped in an EasyDict
            state = state.dict_items or state.state
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
            state = state[0]  # (dict, slotstate)
        if isinstance(state, dict) and '_modules' in state:
            return state
    return None


def _persistent_meta(obj: Any) -> Optional[dict]:
    if isinstance(obj, PickledObject) and obj.args and isinstance(obj.args[0], dict):
        return obj.args[0]
    return None


def module_state_dict(obj: Any, prefix: str = '') -> 'collections.OrderedDict[str, torch.Tensor]':
    """``state_dict()`` of a pickled ``nn.Module`` tree (parameters, then persistent buffers)."""
    d = _module_dict(obj)
    if d is None:
        raise UnsupportedPickleError(f'{prefix or "object"} ({obj!r}) is not a pickled torch module')
    out: 'collections.OrderedDict[str, torch.Tensor]' = collections.OrderedDict()
    non_persistent = set(d.get('_non_persistent_buffers_set') or ())
    for name, p in (d.get('_parameters') or {}).items():
        if p is not None:
            out[prefix + name] = p.detach().clone() if isinstance(p, torch.Tensor) else p
    for name, b in (d.get('_buffers') or {}).items():
        if b is not None and name not in non_persistent:
            out[prefix + name] = b.detach().clone()
    for name, child in (d.get('_modules') or {}).items():
        if child is not None:
            out.update(module_state_dict(child, prefix + name + '.'))
    for k, v in out.items():
        if not isinstance(v, torch.Tensor):
            raise UnsupportedPickleError(f'{k}: expected a tensor, found {type(v).__name__}')
    return out


def extract_state_dicts(data: Any, names: Iterable[str] = ('G', 'D', 'G_ema')) -> Dict[str, 'collections.OrderedDict']:
    """State dicts of the networks ``names`` in an unpickled snapshot dict (missing ones skipped)."""
    if not isinstance(data, dict):
        raise UnsupportedPickleError(f'expected a dict of networks at the top level, found {type(data).__name__}')
    out = {}
    for name in names:
        if data.get(name) is not None:
            out[name] = module_state_dict(data[name])
    if not out:
        raise UnsupportedPickleError(f'none of {list(names)} in the pickle (it has: {sorted(map(str, data))})')
    return out


def class_name(obj: Any) -> Optional[str]:
    """The class name a persistent object was saved with (``meta['class_name']``), if any."""
    meta = _persistent_meta(obj)
    if meta is not None and 'class_name' in meta:
        return str(meta['class_name'])
    if isinstance(obj, PickledObject):
        return obj.name
    return None
