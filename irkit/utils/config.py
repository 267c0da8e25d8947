"""Loading and checking configs: misspelt or unknown keys stop the run."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported)

from irkit.registry import ConfigKeyError, all_keys, check_arguments, closest

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


def _check_typed(cfg: Any, registry, where: str, extra_ok: Iterable[str] = ()) -> None:
    if not isinstance(cfg, dict) or 'type' not in cfg:
        return
    t = cfg['type']
    cls = registry.get(t) if isinstance(t, str) else t
    if cls is None:
        raise ConfigKeyError(f"{where}: type '{t}' is not registered in the {registry.name} registry"
                             f'{closest(t, all_keys(registry))}')
    keys = [k for k in cfg if k != 'type' and k not in set(extra_ok)]
    check_arguments(cls, keys, where=where)


def _check_dataset(ds: Any, where: str) -> None:
    from irkit.registry import DATASETS, TRANSFORMS
    if not isinstance(ds, dict):
        return
    _check_typed(ds, DATASETS, where)
    for i, t in enumerate(ds.get('pipeline') or []):
        _check_typed(t, TRANSFORMS, f'{where}.pipeline[{i}]')
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
    for split in ('train', 'val', 'test'):
        dl = cfg.get(f'{split}_dataloader')
        if isinstance(dl, dict):
            for k in dl:
                if k not in DATALOADER_KEYS:
                    raise ConfigKeyError(f"{split}_dataloader: unknown key '{k}'{closest(k, DATALOADER_KEYS)}")
            _check_dataset(dl.get('dataset'), f'{split}_dataloader.dataset')
            _check_typed(dl.get('sampler'), R.DATA_SAMPLERS, f'{split}_dataloader.sampler', {'dataset'})
        loop = cfg.get(f'{split}_cfg')
        _check_typed(loop, R.LOOPS, f'{split}_cfg', INJECTED['loop'])
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


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` + ``--cfg-options`` merge + :func:`validate_config`."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg['custom_imports'])
    cfg.setdefault('default_scope', 'irkit')
    validate_config(cfg)
    return cfg


__all__ = ['load_config', 'validate_config', 'is_known_top_level', 'DictAction']
