"""The one exponential moving average of a network's weights used by irkit's models.

``p_ema <- lerp(p, p_ema, beta)`` (= ``beta * p_ema + (1 - beta) * p``) for every
parameter; buffers (BatchNorm statistics, StyleGAN's ``w_avg``, noise constants) are
copied. What differs between methods is only how ``beta`` is chosen each step:

* ``half_life_kimg`` (StyleGAN2/MAT/Co-ModGAN): ``beta = 0.5 ** (batch / (kimg * 1000))``
  with ``batch`` the total number of images of the step, optionally ramped up
  (``ema_nimg = min(ema_nimg, seen_images * rampup)``);
* ``decay`` (a constant ``beta``, e.g. 0.999);
* ``ema_pytorch`` (the ``ema-pytorch`` package's schedule used by DA-CLIP/IR-SDE: a step
  counter, copies until ``update_after_step``, ``1 - (1 + t / inv_gamma) ** -power``
  clamped to ``[min_value, beta]``, updates every ``update_every`` steps).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn


@torch.no_grad()
def ema_update_(ema: nn.Module, model: nn.Module, beta: float, copy_buffers: bool = True) -> None:
    """``p_ema = lerp(p, p_ema, beta)`` for all parameters; buffers copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    if copy_buffers:
        for b_ema, b in zip(ema.buffers(), model.buffers()):
            b_ema.copy_(b)


@torch.no_grad()
def ema_copy_(ema: nn.Module, model: nn.Module) -> None:
    """Copy every parameter and buffer of ``model`` into ``ema``."""
    for e, m in zip(ema.parameters(), model.parameters()):
        e.copy_(m)
    for e, m in zip(ema.buffers(), model.buffers()):
        e.copy_(m)


class HalfLifeEMA:
    """StyleGAN2's EMA: half-life of ``half_life_kimg`` thousand images, optional ramp-up."""

    def __init__(self, half_life_kimg: float = 10.0, rampup: Optional[float] = None) -> None:
        if half_life_kimg <= 0:
            raise ValueError(f'ema half_life_kimg must be > 0, got {half_life_kimg}')
        self.half_life_kimg, self.rampup = float(half_life_kimg), rampup
        self.seen = 0

    def beta(self, batch: int) -> float:
        ema_nimg = self.half_life_kimg * 1000
        self.seen += batch
        if self.rampup is not None:
            ema_nimg = min(ema_nimg, self.seen * self.rampup)
        return 0.5 ** (batch / max(ema_nimg, 1e-8))

    def update(self, ema: nn.Module, model: nn.Module, batch: int) -> float:
        b = self.beta(batch)
        ema_update_(ema, model, b)
        return b


class ConstantEMA:
    """A fixed ``beta`` (``decay``) every step."""

    def __init__(self, decay: float = 0.999) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f'ema decay must be in [0, 1), got {decay}')
        self.decay = float(decay)

    def update(self, ema: nn.Module, model: nn.Module, batch: int = 1) -> float:
        ema_update_(ema, model, self.decay)
        return self.decay


class EMAPytorchSchedule:
    """The ``ema-pytorch`` package's update rule (step counter, warm-up copy, decay schedule)."""

    def __init__(self, beta: float, update_every: int, update_after_step: int,
                 inv_gamma: float = 1.0, power: float = 2 / 3, min_value: float = 0.0) -> None:
        self.beta, self.update_every, self.update_after_step = beta, update_every, update_after_step
        self.inv_gamma, self.power, self.min_value = inv_gamma, power, min_value

    def decay(self, step: int) -> float:
        epoch = max(step - self.update_after_step - 1, 0.)
        if epoch <= 0:
            return 0.
        value = 1 - (1 + epoch / self.inv_gamma) ** -self.power
        return min(max(value, self.min_value), self.beta)

    @torch.no_grad()
    def update(self, ema: nn.Module, model: nn.Module, step_buf: torch.Tensor,
               initted: torch.Tensor) -> None:
        """One step; ``step_buf``/``initted`` are the model's persistent counter buffers."""
        step = int(step_buf.item())
        step_buf += 1
        if step % self.update_every:
            return
        if step <= self.update_after_step or not bool(initted.item()):
            ema_copy_(ema, model)
            if step > self.update_after_step:
                initted.fill_(True)
            else:
                return
        # lerp_(p, 1 - d) == lerp(p, p_ema, d) up to rounding; kept as the package computes it
        d = self.decay(int(step_buf.item()))
        for e, m in zip(ema.parameters(), model.parameters()):
            e.lerp_(m, 1. - d)
        for e, m in zip(ema.buffers(), model.buffers()):
            e.copy_(m)


def build_ema(cfg: Optional[dict]):
    """``None``, ``dict(half_life_kimg=10, rampup=None)`` or ``dict(decay=0.999)``."""
    if cfg is None:
        return None
    cfg = dict(cfg)
    if 'half_life_kimg' in cfg:
        return HalfLifeEMA(**cfg)
    if 'decay' in cfg:
        return ConstantEMA(**cfg)
    raise ValueError(f"ema must be dict(half_life_kimg=..., rampup=None) or dict(decay=...), got {cfg}")


__all__ = ['ema_update_', 'ema_copy_', 'HalfLifeEMA', 'ConstantEMA', 'EMAPytorchSchedule', 'build_ema']
