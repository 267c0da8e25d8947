"""Optimizer wrappers: bf16 autocast on CPU (mmengine's AmpOptimWrapper is CUDA-only)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

import torch
from mmengine.optim import OptimWrapper

from irkit.registry import OPTIM_WRAPPERS


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


__all__ = ['CPUAmpOptimWrapper']
