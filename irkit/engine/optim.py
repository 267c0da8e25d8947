"""Optimizer wrappers: bf16 autocast on CPU (mmengine's AmpOptimWrapper is CUDA-only)."""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Optional

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, OptimWrapperDict

from irkit.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Mixed precision on CPU: the forward runs under ``torch.autocast('cpu', bfloat16)``.

    bf16 has fp32's exponent range, so no loss scaling is needed.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None, dtype: str = 'bfloat16') -> None:
        super().__init__(optimizer, accumulative_counts=accumulative_counts, clip_grad=clip_grad)
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast(device_type='cpu', dtype=self.cast_dtype):
            yield


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PerModuleOptimWrapperConstructor:
    """One optimizer wrapper per named submodule (GAN training), returned as an ``OptimWrapperDict``.

    ``optim_wrapper = dict(constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=...), discriminator=dict(...))``;
    each key must name a submodule of the model (e.g. ``generator``, ``discriminator``).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError('PerModuleOptimWrapperConstructor: give paramwise_cfg inside each submodule entry')
        if not isinstance(optim_wrapper_cfg, dict) or not optim_wrapper_cfg:
            raise ValueError('PerModuleOptimWrapperConstructor needs one optim wrapper config per submodule')
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        from mmengine.optim import DefaultOptimWrapperConstructor
        model = getattr(model, 'module', model)
        wrappers = {}
        for name, cfg in self.optim_wrapper_cfg.items():
            sub = getattr(model, name, None)
            if not isinstance(sub, nn.Module):
                children = ', '.join(n for n, _ in model.named_children())
                raise KeyError(f"optim_wrapper.{name}: the model has no submodule '{name}' (it has: {children})")
            cfg = dict(cfg)
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(cfg, paramwise)(sub)
        return OptimWrapperDict(**wrappers)


__all__ = ['CPUAmpOptimWrapper', 'PerModuleOptimWrapperConstructor']
