"""Loading and checking configs: misspelt or unknown keys, values of the wrong type and bad
values stop the run with one line naming the file (and line), the key and what was expected."""
from __future__ import annotations

import ast
import os
import re
import typing
from typing import Any, Iterable, Optional

from mmengine.config import Config
from mmengine.config import DictAction as _MMDictAction

from irkit.registry import ConfigKeyError, all_keys, check_arguments, closest


class ConfigError(ValueError):
    """A config file or a ``--cfg-options`` value is malformed or has a wrong value."""


class DictAction(_MMDictAction):
    """mmengine's ``--cfg-options KEY=VALUE`` action, plus Python literals with braces:
    ``val_evaluator=[{'type':'PSNR'},{'type':'SSIM'}]`` gives a list of dicts (read with
    :func:`ast.literal_eval`, so nothing is executed). A malformed item is a
    :class:`ConfigError` naming it (not an unpacking or assertion error)."""

    def __call__(self, parser, namespace, values, option_string=None):
        opt = option_string or '--cfg-options'
        options = dict(getattr(namespace, self.dest, None) or {})
        for kv in values or []:
            key, eq, val = kv.partition('=')
            if not eq or not key:
                raise ConfigError(f"{opt} {kv}: expected KEY=VALUE, e.g. train_cfg.max_iters=1000")
            if '{' in val:  # mmengine's parser has no dicts
                try:
                    options[key] = ast.literal_eval(val)
                except (ValueError, SyntaxError):
                    raise ConfigError(f"{opt} {kv}: cannot read the value of '{key}' as a Python literal "
                                      "(dicts are written {'type':'PSNR'}, strings quoted)") from None
                continue
            try:
                options[key] = self._parse_iterable(val)
            except Exception:  # noqa: BLE001 - mmengine asserts on unbalanced brackets
                raise ConfigError(f"{opt} {kv}: cannot parse the value {val!r} of '{key}' (unbalanced "
                                  "brackets or quotes? lists are written [1,2] or (1,2), no spaces)") from None
        setattr(namespace, self.dest, options)


RUNNER_KEYS = {
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from', 'resume',
    'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope', 'randomness',
    'experiment_name', 'compile', 'model_wrapper_cfg', 'custom_imports', 'runner_type', 'cfg',
    'strategy', 'filename',
}
IRKIT_KEYS = {'dataset_type', 'data_root', 'scale', 'vis_backends', 'num_gpus', 'batch_size_per_gpu',
              'total_batch_size', 'work_dirs', 'metafile', 'test_sets'}
HELPER_SUFFIXES = ('_pipeline', '_root', '_dataset', '_datasets', '_dataloader', '_evaluator', '_cfg',
                   '_size', '_iters', '_interval', '_hooks', '_transforms')

# arguments the runner passes itself, so a config must not (and need not) give them
INJECTED = {
    'loop': {'runner', 'dataloader', 'evaluator'},
    'param scheduler': {'optimizer'},
    'optimizer': {'params'},
    'optim_wrapper': {'optimizer'},
    'dataloader': set(),
}
DATALOADER_KEYS = {'dataset', 'batch_size', 'shuffle', 'sampler', 'batch_sampler', 'num_workers',
                   'collate_fn', 'pin_memory', 'drop_last', 'timeout', 'worker_init_fn',
                   'multiprocessing_context', 'generator', 'prefetch_factor', 'persistent_workers',
                   'pin_memory_device', 'in_order'}


def is_known_top_level(key: str) -> bool:
    """A runner/irkit key, or a helper variable that is not a near-miss of one."""
    import difflib
    if key in RUNNER_KEYS or key in IRKIT_KEYS or key.startswith('_'):
        return True
    if key.endswith(HELPER_SUFFIXES):
        # 'trian_cfg' ends like a helper but is a typo of 'train_cfg': still an error
        return not difflib.get_close_matches(key, RUNNER_KEYS | IRKIT_KEYS, n=1, cutoff=0.85)
    return False


def _check_typed(cfg: Any, registry, where: str, extra_ok: Iterable[str] = (), default_type=None) -> None:
    if not isinstance(cfg, dict) or ('type' not in cfg and default_type is None):
        return
    t = cfg.get('type', default_type)
    cls = registry.get(t) if isinstance(t, str) else t
    if cls is None:
        raise ConfigKeyError(f"{where}: type '{t}' is not registered in the {registry.name} registry"
                             f'{closest(t, all_keys(registry))}')
    keys = [k for k in cfg if k != 'type' and k not in set(extra_ok)]
    check_arguments(cls, keys, where=where)
    check_argument_types(cls, {k: cfg[k] for k in keys}, where)


# --------------------------------------------------------------------------- value types
_SIMPLE = {int: 'int', float: 'float', bool: 'bool', str: 'str', type(None): 'None'}


def _kinds(annotation) -> Optional[tuple]:
    """The simple types an annotation allows (int/float/bool/str/None, with a tensor
    counting as a number), or ``None`` when it allows anything else (then not checked)."""
    import torch
    if annotation in _SIMPLE:
        return (annotation,)
    if annotation is torch.Tensor:
        return (torch.Tensor,)
    if typing.get_origin(annotation) is typing.Union or type(annotation).__name__ == 'UnionType':
        out = ()
        for a in typing.get_args(annotation):
            k = _kinds(a)
            if k is None:
                return None
            out += k
        return out
    return None


def _type_hints(cls) -> dict:
    init = cls.__init__ if isinstance(cls, type) else cls
    try:
        return typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - unresolvable annotations are simply not checked
        return {}


def _fits(value: Any, kinds: tuple) -> bool:
    import torch
    if isinstance(value, bool):
        return bool in kinds or int in kinds or float in kinds
    if isinstance(value, int):
        return int in kinds or float in kinds or torch.Tensor in kinds
    if isinstance(value, float):
        return float in kinds or torch.Tensor in kinds or (int in kinds and value.is_integer())
    if isinstance(value, str):
        return str in kinds
    if value is None:
        return type(None) in kinds
    if isinstance(value, torch.Tensor):
        return torch.Tensor in kinds
    return True  # containers, objects: not judged here


def check_argument_types(cls, args: dict, where: str) -> None:
    """Raise :class:`ConfigError` for an argument whose annotation allows only numbers,
    booleans, strings or None and whose value is none of those (``nc='32'``,
    ``lr='fast'``, ``max_iters='abc'``)."""
    import torch
    hints = _type_hints(cls)
    for key, value in args.items():
        kinds = _kinds(hints[key]) if key in hints else None
        if kinds is None or _fits(value, kinds):
            continue
        names = [_SIMPLE.get(k, 'tensor') for k in kinds if k is not torch.Tensor or float not in kinds]
        want = ' or '.join(dict.fromkeys(names))
        name = getattr(cls, '__name__', repr(cls))
        raise ConfigError(f"{where}.{key}: {name} expects {want}, got {type(value).__name__} {value!r}")


def _check_nested(cfg: Any, where: str) -> None:
    """Value types of the typed dicts inside a model config (``generator=``, ``losses=[...]``)
    found in irkit's model registries. Argument names are left to the builders: a model may
    read extra keys of an entry itself (e.g. ``GANInpaintor``'s ``pred=``/``region=``)."""
    import irkit.registry as R
    items = cfg.items() if isinstance(cfg, dict) else enumerate(cfg) if isinstance(cfg, (list, tuple)) else ()
    for k, v in items:
        here = f'{where}.{k}' if isinstance(k, str) else f'{where}[{k}]'
        if isinstance(v, dict) and isinstance(v.get('type'), str):
            for reg in (R.MODELS, R.ARCHS, R.LOSSES):
                cls = reg.get(v['type'])
                if cls is not None:
                    check_argument_types(cls, {a: b for a, b in v.items() if a != 'type'}, here)
                    break
        if isinstance(v, (dict, list, tuple)):
            _check_nested(v, here)


def _check_transform_values(t: Any, registry, where: str) -> None:
    """Run a transform's own side-effect-free argument checks (``check_args``) now, with the
    config location in the message (``crop_size=0`` instead of a failure in a convolution)."""
    cls = registry.get(t['type']) if isinstance(t, dict) and isinstance(t.get('type'), str) else None
    check = getattr(cls, 'check_args', None)
    if check is None:
        return
    try:
        check(**{k: v for k, v in t.items() if k != 'type'})
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where} ({t['type']}): {e}") from None


def _check_dataset(ds: Any, where: str) -> None:
    from irkit.registry import DATASETS, TRANSFORMS
    if not isinstance(ds, dict):
        return
    _check_typed(ds, DATASETS, where)
    for i, t in enumerate(ds.get('pipeline') or []):
        _check_typed(t, TRANSFORMS, f'{where}.pipeline[{i}]')
        _check_transform_values(t, TRANSFORMS, f'{where}.pipeline[{i}]')
    if isinstance(ds.get('dataset'), dict):
        _check_dataset(ds['dataset'], f'{where}.dataset')
    for i, sub in enumerate(ds.get('datasets') or []):
        _check_dataset(sub, f'{where}.datasets[{i}]')


def _register_mmengine_modules() -> None:
    """mmengine registers its samplers, hooks, loops, optimizers... when their packages are imported."""
    import mmengine.dataset  # noqa: F401
    import mmengine.evaluator  # noqa: F401
    import mmengine.hooks  # noqa: F401
    import mmengine.optim  # noqa: F401
    import mmengine.runner  # noqa: F401
    import mmengine.visualization  # noqa: F401


def validate_config(cfg: Config) -> None:
    """Reject unknown top-level keys and unknown arguments of registered types.

    Raises:
        ConfigKeyError: naming the key, where it is, and the closest valid name.
    """
    import irkit.registry as R
    _register_mmengine_modules()
    for key in cfg.keys():
        if not is_known_top_level(key):
            raise ConfigKeyError(
                f"unknown top-level config key '{key}'{closest(key, RUNNER_KEYS | IRKIT_KEYS)}. "
                f"Helper variables must start with '_' or end with one of {', '.join(HELPER_SUFFIXES)}.")
    if isinstance(cfg.get('model'), dict):
        _check_typed(cfg.model, R.MODELS, 'model')
        _check_nested(cfg.model, 'model')
    for split in ('train', 'val', 'test'):
        dl = cfg.get(f'{split}_dataloader')
        if isinstance(dl, dict):
            for k in dl:
                if k not in DATALOADER_KEYS:
                    raise ConfigKeyError(f"{split}_dataloader: unknown key '{k}'{closest(k, DATALOADER_KEYS)}")
            _check_dataset(dl.get('dataset'), f'{split}_dataloader.dataset')
            _check_typed(dl.get('sampler'), R.DATA_SAMPLERS, f'{split}_dataloader.sampler', {'dataset'})
        loop = cfg.get(f'{split}_cfg')
        default_loop = None
        if split == 'train' and isinstance(loop, dict) and 'type' not in loop:  # mmengine's choice
            default_loop = 'IterBasedTrainLoop' if 'max_iters' in loop else 'EpochBasedTrainLoop'
        _check_typed(loop, R.LOOPS, f'{split}_cfg', INJECTED['loop'] | {'by_epoch'}, default_loop)
        ev = cfg.get(f'{split}_evaluator')
        for i, m in enumerate(ev if isinstance(ev, (list, tuple)) else [ev]):
            _check_typed(m, R.METRICS, f'{split}_evaluator[{i}]' if isinstance(ev, (list, tuple))
                         else f'{split}_evaluator')
    test_sets = cfg.get('test_sets')
    if test_sets is not None:
        if not isinstance(test_sets, dict) or not test_sets:
            raise ConfigKeyError("test_sets must be a dict {name: dataset config}, e.g. "
                                 "test_sets = dict(Rain100H=rain100h_dataset)")
        for name, ds in test_sets.items():
            _check_dataset(ds, f'test_sets.{name}')
    for name, hook in (cfg.get('default_hooks') or {}).items():
        _check_typed(hook, R.HOOKS, f'default_hooks.{name}')
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        _check_typed(hook, R.HOOKS, f'custom_hooks[{i}]')
    sched = cfg.get('param_scheduler')
    for i, s in enumerate(sched if isinstance(sched, (list, tuple)) else [sched]):
        _check_typed(s, R.PARAM_SCHEDULERS, f'param_scheduler[{i}]', INJECTED['param scheduler'])
    ow = cfg.get('optim_wrapper')
    if isinstance(ow, dict):
        wrappers = {'optim_wrapper': ow} if 'constructor' not in ow else {
            f'optim_wrapper.{k}': v for k, v in ow.items() if isinstance(v, dict)}
        for where, w in wrappers.items():
            extra = {'paramwise_cfg', 'constructor'}
            _check_typed(w, R.OPTIM_WRAPPERS, where, INJECTED['optim_wrapper'] | extra)
            _check_typed(w.get('optimizer'), R.OPTIMIZERS, f'{where}.optimizer', INJECTED['optimizer'])


def _syntax_error(path: str, seen=None) -> Optional[SyntaxError]:
    """The first syntax error in ``path`` or the ``_base_`` files it names, with its file."""
    seen = set() if seen is None else seen
    path = os.path.abspath(path)
    if path in seen or not os.path.isfile(path):
        return None
    seen.add(path)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as e:
        return e
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == '_base_' for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return None
            for b in [bases] if isinstance(bases, str) else list(bases):
                found = _syntax_error(os.path.join(os.path.dirname(path), b), seen)
                if found is not None:
                    return found
    return None


def read_config_file(path: str) -> Config:
    """``Config.fromfile`` with its errors as one :class:`ConfigError` naming the file (and
    line): syntax errors (also in a ``_base_`` file), names the file uses but does not
    define, a missing base."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    try:
        return Config.fromfile(path)
    except SyntaxError:
        e = _syntax_error(path)
        if e is None:
            raise
        where = f'{e.filename}:{e.lineno}' + (f':{e.offset}' if e.offset else '')
        text = f': {e.text.strip()!r}' if e.text and e.text.strip() else ''
        raise ConfigError(f'{where}: invalid config syntax: {e.msg}{text}') from None
    except (FileNotFoundError, ConfigError):
        raise
    except Exception as e:  # noqa: BLE001 - executing a config can raise anything
        msg = str(e).splitlines()[0] if str(e) else ''
        raise ConfigError(f'{path}: cannot load the config: {type(e).__name__}: {msg}') from None


def _with_origin(e: Exception, path: str, cfg_options: Optional[dict]) -> Exception:
    """Prefix a validation error with the config file; when the value it is about was given
    with ``--cfg-options``, say so (the file does not hold it)."""
    msg = str(e)
    head = re.split(r'[: ]', msg, maxsplit=1)[0]
    at = re.sub(r'\[(\d+)\]', r'.\1', head)
    given = [k for k in (cfg_options or {}) if at and (k == at or k.startswith(at + '.'))]
    note = ' (from --cfg-options ' + ', '.join(f'{k}={cfg_options[k]!r}' for k in given) + ')' if given else ''
    return type(e)(f'{path}: {msg}{note}')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read ``path``, merge ``--cfg-options``, import ``custom_imports``, and
    :func:`validate_config`; every error names the config file."""
    cfg = read_config_file(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg['custom_imports'])
    cfg.setdefault('default_scope', 'irkit')
    try:
        validate_config(cfg)
    except (ConfigKeyError, ConfigError) as e:
        raise _with_origin(e, path, cfg_options) from None
    return cfg


__all__ = ['load_config', 'read_config_file', 'validate_config', 'check_argument_types',
           'is_known_top_level', 'DictAction', 'ConfigError']
