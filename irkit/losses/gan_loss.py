"""Adversarial losses and the R1 gradient penalty.

``GANLoss(gan_type)`` is called as ``loss(pred, target_is_real, is_disc=False)`` on the
discriminator's logits. Types:

* ``'logistic'`` (alias ``'nonsaturating'``): StyleGAN2/MAT's non-saturating logistic
  loss, ``softplus(-D(x))`` for real targets and ``softplus(D(x))`` for fake ones (the
  generator uses ``target_is_real=True``);
* ``'vanilla'``: binary cross-entropy on logits with ``real_label_val`` /
  ``fake_label_val`` (equal to ``'logistic'`` for labels 1/0);
* ``'lsgan'``: MSE to the labels; ``'wgan'``: ``-mean(D)`` for real, ``mean(D)`` for fake;
  ``'wgan_softplus'``: softplus form of WGAN;
* ``'hinge'``: discriminator ``relu(1 - D)`` (real) / ``relu(1 + D)`` (fake); generator
  ``-mean(D)``.

``loss_weight`` scales the generator loss only (``is_disc=False``), as in BasicSR.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.losses.pixel_loss import _check_reduction
from irkit.registry import LOSSES

GAN_TYPES = ('vanilla', 'logistic', 'nonsaturating', 'lsgan', 'wgan', 'wgan_softplus', 'hinge')


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    return x.mean() if reduction == 'mean' else x.sum() if reduction == 'sum' else x


@LOSSES.register_module()
class GANLoss(nn.Module):
    """Adversarial loss on discriminator logits; see the module docstring for the types."""

    def __init__(self, gan_type: str = 'logistic', real_label_val: float = 1.0,
                 fake_label_val: float = 0.0, loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"GANLoss: gan_type must be one of {GAN_TYPES}, got '{gan_type}'")
        _check_reduction('GANLoss', reduction)
        self.gan_type, self.loss_weight, self.reduction = gan_type, loss_weight, reduction
        self.real_label_val, self.fake_label_val = real_label_val, fake_label_val

    def forward(self, pred: torch.Tensor, target_is_real: bool, is_disc: bool = False) -> torch.Tensor:
        t, r = self.gan_type, self.reduction
        if t in ('logistic', 'nonsaturating'):
            loss = F.softplus(-pred) if target_is_real else F.softplus(pred)
        elif t == 'vanilla':
            label = self.real_label_val if target_is_real else self.fake_label_val
            loss = F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, label), reduction='none')
        elif t == 'lsgan':
            label = self.real_label_val if target_is_real else self.fake_label_val
            loss = (pred - label) ** 2
        elif t == 'wgan':
            loss = -pred if target_is_real else pred
        elif t == 'wgan_softplus':
            loss = F.softplus(-pred) if target_is_real else F.softplus(pred)
        else:  # hinge
            if is_disc:
                loss = F.relu(1 - pred) if target_is_real else F.relu(1 + pred)
            else:
                loss = -pred
        loss = _reduce(loss, r)
        return loss if is_disc else loss * self.loss_weight


def r1_penalty(real_pred: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
    """Per-sample squared gradient norm ``|grad_x D(x)|^2`` on real images, shape (N,).

    ``real_img`` must require grad and ``real_pred`` must be computed from it.
    """
    if not real_img.requires_grad:
        raise ValueError('r1_penalty: real_img must have requires_grad=True before D is applied')
    (grad,) = torch.autograd.grad(real_pred.sum(), real_img, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1)


@LOSSES.register_module()
class R1Penalty(nn.Module):
    """R1 regulariser (Mescheder et al., 2018): ``gamma / 2 * |grad_x D(x)|^2`` on real data.

    MAT/StyleGAN2: gamma = 10, applied lazily every 16 discriminator steps with
    ``loss_weight = 16``. Called as ``loss(real_pred, real_img)``.
    """

    def __init__(self, gamma: float = 10.0, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        _check_reduction('R1Penalty', reduction)
        self.gamma, self.loss_weight, self.reduction = gamma, loss_weight, reduction

    def forward(self, real_pred: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
        pen = r1_penalty(real_pred, real_img) * (self.gamma / 2)
        return self.loss_weight * _reduce(pen, self.reduction)
