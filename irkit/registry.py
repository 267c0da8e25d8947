"""irkit's registries: scoped children of mmengine's root registries.

Every registry here has the scope ``irkit`` (``ARCHS`` and ``LOSSES`` hang under
mmengine's ``MODELS`` next to irkit's ``MODELS`` and therefore carry their own
scopes, ``irkit.archs`` and ``irkit.losses``).  Each lists the package that fills
it in ``locations=``; mmengine imports that package the first time the registry is
queried, so ``import irkit`` stays light.

Building through an irkit registry is *strict*: an argument the class does not
accept stops with a message that names it and the closest valid argument.

Public contract::

    from irkit.registry import ARCHS, LOSSES, MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS
"""
from __future__ import annotations

import difflib
import inspect
from contextlib import contextmanager
from typing import Any, Generator, Optional

from mmengine.config import ConfigDict
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import DefaultScope, Registry, build_from_cfg

SCOPE = 'irkit'


class ConfigKeyError(KeyError, TypeError):
    """A config names a key or argument that does not exist.

    Subclasses both ``KeyError`` and ``TypeError`` so callers catching either of
    the exceptions Python would raise for the same mistake still catch it.
    """

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ''


def closest(name: str, candidates) -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate, or ``''``."""
    match = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ''


def accepted_arguments(obj: Any) -> Optional[set]:
    """Keyword arguments ``obj`` accepts, or ``None`` if it takes ``**kwargs``."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(p.name)
    return names


def check_arguments(obj: Any, keys, where: str = '') -> None:
    """Raise :class:`ConfigKeyError` for keys ``obj``'s constructor does not take."""
    accepted = accepted_arguments(obj)
    if accepted is None:
        return
    for key in keys:
        if key not in accepted:
            name = getattr(obj, '__name__', repr(obj))
            loc = f' in {where}' if where else ''
            raise ConfigKeyError(
                f"{name} got an unexpected argument '{key}'{loc}{closest(key, accepted)}; "
                f'valid arguments: {", ".join(sorted(accepted))}')


def strict_build_from_cfg(cfg, registry: Registry, default_args=None) -> Any:
    """mmengine's ``build_from_cfg`` with a readable check of the arguments."""
    if isinstance(cfg, (dict, ConfigDict)) and 'type' in cfg:
        obj_type = cfg['type']
        if isinstance(obj_type, str):
            obj_cls = registry.get(obj_type)
            if obj_cls is None:
                raise ConfigKeyError(
                    f"'{obj_type}' is not registered in irkit's {registry.name} registry"
                    f'{closest(obj_type, all_keys(registry))}. If it lives in your own package, '
                    "add custom_imports = dict(imports=['your_package']) to the config.")
        else:
            obj_cls = obj_type
        if inspect.isclass(obj_cls) or inspect.isfunction(obj_cls):
            keys = [k for k in cfg if k != 'type']
            check_arguments(obj_cls, keys, where=f'the {registry.name} config')
    return build_from_cfg(cfg, registry, default_args)


def all_keys(registry: Registry) -> list:
    """Names registered in ``registry`` and its parents."""
    keys, reg = [], registry
    while reg is not None:
        keys += list(reg.module_dict)
        reg = reg.parent
    return keys


class IrkitRegistry(Registry):
    """A registry that builds from itself while the default scope is irkit's.

    mmengine switches to the registry of the default scope before a lookup; for
    ``ARCHS``/``LOSSES`` (which hang beside irkit's ``MODELS``) that would search
    the wrong registry, so irkit's registries stay where they are unless another
    project's scope is active.
    """

    @contextmanager
    def switch_scope_and_registry(self, scope: Optional[str]) -> Generator:
        with DefaultScope.overwrite_default_scope(scope):
            current = DefaultScope.get_current_instance()
            if current is None or current.scope_name.split('.')[0] == SCOPE:
                yield self
                return
        with super().switch_scope_and_registry(scope) as registry:
            yield registry


def _registry(name: str, parent: Registry, locations: list, scope: str = SCOPE) -> IrkitRegistry:
    return IrkitRegistry(name, parent=parent, scope=scope, locations=locations,
                         build_func=strict_build_from_cfg)


# --- what irkit's papers are made of ---------------------------------------
MODELS = _registry('model', MMENGINE_MODELS, ['irkit.models'])
ARCHS = _registry('arch', MMENGINE_MODELS, ['irkit.archs'], scope='irkit.archs')
LOSSES = _registry('loss', MMENGINE_MODELS, ['irkit.losses'], scope='irkit.losses')
DATASETS = _registry('dataset', MMENGINE_DATASETS, ['irkit.datasets'])
TRANSFORMS = _registry('transform', MMENGINE_TRANSFORMS, ['irkit.datasets.transforms'])
METRICS = _registry('metric', MMENGINE_METRICS, ['irkit.metrics'])
HOOKS = _registry('hook', MMENGINE_HOOKS, ['irkit.hooks'])

# --- what mmengine's runner builds (children so the irkit scope resolves) --
RUNNERS = _registry('runner', MMENGINE_RUNNERS, ['irkit.engine'])
RUNNER_CONSTRUCTORS = _registry('runner constructor', MMENGINE_RUNNER_CONSTRUCTORS, ['irkit.engine'])
LOOPS = _registry('loop', MMENGINE_LOOPS, ['irkit.engine'])
LOG_PROCESSORS = _registry('log_processor', MMENGINE_LOG_PROCESSORS, ['irkit.engine'])
OPTIMIZERS = _registry('optimizer', MMENGINE_OPTIMIZERS, ['irkit.engine'])
OPTIM_WRAPPERS = _registry('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, ['irkit.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _registry('optimizer wrapper constructor',
                                       MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, ['irkit.engine'])
PARAM_SCHEDULERS = _registry('parameter scheduler', MMENGINE_PARAM_SCHEDULERS, ['irkit.engine'])
DATA_SAMPLERS = _registry('data sampler', MMENGINE_DATA_SAMPLERS, ['irkit.datasets'])
MODEL_WRAPPERS = _registry('model_wrapper', MMENGINE_MODEL_WRAPPERS, ['irkit.engine'])
WEIGHT_INITIALIZERS = _registry('weight initializer', MMENGINE_WEIGHT_INITIALIZERS, ['irkit.engine'])
EVALUATOR = _registry('evaluator', MMENGINE_EVALUATOR, ['irkit.metrics'])
VISUALIZERS = _registry('visualizer', MMENGINE_VISUALIZERS, ['irkit.engine'])
VISBACKENDS = _registry('vis_backend', MMENGINE_VISBACKENDS, ['irkit.engine'])
FUNCTIONS = _registry('function', MMENGINE_FUNCTIONS, ['irkit.engine'])

__all__ = [
    'ARCHS', 'LOSSES', 'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'RUNNERS',
    'RUNNER_CONSTRUCTORS', 'LOOPS', 'LOG_PROCESSORS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'DATA_SAMPLERS', 'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS', 'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS',
    'ConfigKeyError', 'check_arguments', 'closest', 'all_keys', 'SCOPE'
]
