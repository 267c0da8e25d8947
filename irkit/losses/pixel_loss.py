"""Pixel losses: L1, MSE, Charbonnier (MPRNet form), MPRNet's edge loss and the masked TV loss.

All take ``loss(pred, target, weight=None)`` and return ``loss_weight`` times the reduced
value. With an element-wise ``weight`` (broadcastable to the loss), ``reduction='mean'``
divides by the total weight (counted over channels when ``weight`` has one channel), as
BasicSR's ``weighted_loss`` does.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.registry import LOSSES

REDUCTIONS = ('none', 'mean', 'sum')


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got '{reduction}'")


def weight_reduce(loss: torch.Tensor, weight: Optional[torch.Tensor], reduction: str) -> torch.Tensor:
    """Apply an optional element-wise weight, then reduce."""
    if weight is None:
        if reduction == 'mean':
            return loss.mean()
        return loss.sum() if reduction == 'sum' else loss
    if weight.dim() == loss.dim() and weight.size(1) not in (1, loss.size(1)):
        raise ValueError(f'weight has {weight.size(1)} channels, loss has {loss.size(1)}')
    loss = loss * weight
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'none':
        return loss
    denom = weight.expand_as(loss).sum() if weight.dim() == loss.dim() else weight.sum()
    return loss.sum() / denom.clamp_min(1e-12)


class _PixelLoss(nn.Module):
    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        _check_reduction(type(self).__name__, reduction)
        self.loss_weight, self.reduction = loss_weight, reduction

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs()

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        return self.loss_weight * weight_reduce(self.elementwise(pred, target), weight, self.reduction)


@LOSSES.register_module()
class L1Loss(_PixelLoss):
    """Mean absolute error."""


@LOSSES.register_module()
class MSELoss(_PixelLoss):
    """Mean squared error."""

    def elementwise(self, pred, target):
        return (pred - target) ** 2


@LOSSES.register_module()
class CharbonnierLoss(_PixelLoss):
    """``sqrt((pred - target)^2 + eps^2)`` with eps = 1e-3 (MPRNet; BasicSR's form adds eps,
    not eps^2, with eps = 1e-12)."""

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean', eps: float = 1e-3) -> None:
        super().__init__(loss_weight, reduction)
        self.eps = eps

    def elementwise(self, pred, target):
        return torch.sqrt((pred - target) ** 2 + self.eps * self.eps)


@LOSSES.register_module()
class EdgeLoss(nn.Module):
    """MPRNet's edge loss: Charbonnier (eps 1e-3) between one-level Laplacians.

    Laplacian(x) = x - G(up(down(G(x)))), where G is the depthwise 5x5 filter
    ``outer(k, k)``, k = [.05, .25, .4, .25, .05], with replicate padding 2; ``down`` keeps
    every second pixel and ``up`` zero-inserts back with the values x4.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean', eps: float = 1e-3) -> None:
        super().__init__()
        _check_reduction('EdgeLoss', reduction)
        self.loss_weight, self.reduction, self.eps = loss_weight, reduction, eps
        k = torch.tensor([.05, .25, .4, .25, .05], dtype=torch.float64)  # cast to the input's dtype
        self.register_buffer('kernel', torch.outer(k, k)[None, None], persistent=False)

    def conv_gauss(self, img: torch.Tensor) -> torch.Tensor:
        c = img.shape[1]
        img = F.pad(img, (2, 2, 2, 2), mode='replicate')
        return F.conv2d(img, self.kernel.to(img).expand(c, 1, 5, 5), groups=c)

    def laplacian_kernel(self, current: torch.Tensor) -> torch.Tensor:
        filtered = self.conv_gauss(current)
        new_filter = torch.zeros_like(filtered)
        new_filter[:, :, ::2, ::2] = filtered[:, :, ::2, ::2] * 4
        return current - self.conv_gauss(new_filter)

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        d = self.laplacian_kernel(pred) - self.laplacian_kernel(target)
        loss = torch.sqrt(d * d + self.eps * self.eps)
        return self.loss_weight * weight_reduce(loss, weight, self.reduction)


@LOSSES.register_module()
class MaskedTVLoss(L1Loss):
    """Masked total variation (Partial Convolutions' ``L_tv``, MMagic's ``MaskedTVLoss``).

    ``loss_weight * (L1(x[:, :, :-1], x[:, :, 1:]; w[:, :, :-1]) + L1(x[..., :-1], x[..., 1:]; w[..., :-1]))``:
    absolute differences of vertically and horizontally adjacent pixels, each weighted by
    the weight (mask) at the first pixel of the pair and normalised by its own weight sum
    (counted over channels), then summed. The PConv recipe applies it to the composite
    with the hole mask as the weight (``region='hole'`` in an inpainting loss entry), weight 0.1.

    ``forward(pred, weight=None)``: ``weight`` (N, 1 or C, H, W); ``None`` = every pixel.
    """
    inpaint_inputs = ('comp',)  # one input: the composite

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight=loss_weight, reduction='mean')

    def forward(self, pred: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pred.dim() != 4:
            raise ValueError(f'MaskedTVLoss expects (N, C, H, W), got shape {tuple(pred.shape)}')
        if weight is not None and (weight.dim() != 4 or weight.shape[2:] != pred.shape[2:]):
            raise ValueError(f'MaskedTVLoss: weight shape {tuple(weight.shape)} does not match pred '
                             f'{tuple(pred.shape)}')
        wy = weight[:, :, :-1, :] if weight is not None else None
        wx = weight[:, :, :, :-1] if weight is not None else None
        y_diff = super().forward(pred[:, :, :-1, :], pred[:, :, 1:, :], weight=wy)
        x_diff = super().forward(pred[:, :, :, :-1], pred[:, :, :, 1:], weight=wx)
        return x_diff + y_diff
