"""CLIP-style symmetric contrastive (InfoNCE) loss with a learnable logit scale.

Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision", ICML 2021; used twice by DA-CLIP (content and degradation pairs).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.losses.pixel_loss import _check_reduction
from irkit.registry import LOSSES


@LOSSES.register_module()
class ContrastiveLoss(nn.Module):
    """``(CE(s A B^T, arange) + CE(s B A^T, arange)) / 2`` for paired rows of A and B.

    Args:
        loss_weight: multiplier of the loss.
        reduction: ``'mean'`` (CLIP) or ``'sum'`` over samples of each direction.
        init_logit_scale: initial value of the learnable ``logit_scale`` (log of the
            temperature's inverse; CLIP: ``log(1 / 0.07)``); ``s = exp(logit_scale)``.
        learnable: make ``logit_scale`` an ``nn.Parameter`` (otherwise a buffer).
        max_scale: ``s`` is clamped to at most this (CLIP clamps at 100).
        normalize: L2-normalise the features first (CLIP's models return normalised ones).
    Labels are ``arange(N)`` (DA-CLIP keeps them even when captions repeat).
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean',
                 init_logit_scale: float = math.log(1 / 0.07), learnable: bool = True,
                 max_scale: float = 100.0, normalize: bool = True) -> None:
        super().__init__()
        _check_reduction('ContrastiveLoss', reduction)
        if reduction == 'none':
            raise ValueError("ContrastiveLoss: reduction must be 'mean' or 'sum'")
        self.loss_weight, self.reduction = loss_weight, reduction
        self.max_scale, self.normalize = max_scale, normalize
        t = torch.tensor(float(init_logit_scale))
        if learnable:
            self.logit_scale = nn.Parameter(t)
        else:
            self.register_buffer('logit_scale', t)

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor,
                logit_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``logit_scale`` (already exponentiated, as CLIP models return it) overrides the
        module's own."""
        if image_features.shape != text_features.shape:
            raise ValueError(f'ContrastiveLoss: feature shapes differ {tuple(image_features.shape)} '
                             f'vs {tuple(text_features.shape)}')
        a, b = image_features, text_features
        if self.normalize:
            a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        scale = logit_scale if logit_scale is not None else self.logit_scale.exp()
        scale = scale.clamp(max=self.max_scale)
        logits = scale * a @ b.t()
        labels = torch.arange(a.shape[0], device=a.device)
        loss = (F.cross_entropy(logits, labels, reduction=self.reduction)
                + F.cross_entropy(logits.t(), labels, reduction=self.reduction)) / 2
        return self.loss_weight * loss
