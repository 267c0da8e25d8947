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
  ``-mean(D)``;
* ``'smgan'``: AOT-GAN's soft-mask-guided PatchGAN (least squares). The D map is
  resized (bilinear, ``align_corners=True``) to the mask's size when they differ; the
  discriminator's target is 0 for real images and the hole mask blurred by a 71 x 71
  Gaussian (sigma 10, zero padding) for fakes; the generator's target is 1.

Inpainting variants take the hole mask (``N x 1 x H x W``, 1 = hole) as ``mask=``.
``mask_as_fake_target=True`` (LaMa's ``NonSaturatingWithR1``, logistic types only): in
the discriminator's fake loss only the hole pixels count as fake, known pixels of the
fake image as real: ``m * softplus(D) + (1 - m) * softplus(-D)`` with the mask resized
(nearest) to the D map.

``loss_weight`` scales the generator loss only (``is_disc=False``), as in BasicSR and
MMagic.

Also here: :class:`R1Penalty`, :class:`GradientPenaltyLoss` (WGAN-GP, optionally
mask-weighted as MMagic's DeepFill v1 uses it), :class:`DiscShiftLoss` and
:class:`FeatureMatchingLoss` (pix2pixHD/LaMa).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.losses.pixel_loss import _check_reduction
from irkit.registry import LOSSES

GAN_TYPES = ('vanilla', 'logistic', 'nonsaturating', 'lsgan', 'wgan', 'wgan_softplus', 'hinge', 'smgan')


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    return x.mean() if reduction == 'mean' else x.sum() if reduction == 'sum' else x


@LOSSES.register_module()
class GANLoss(nn.Module):
    """Adversarial loss on discriminator logits; see the module docstring for the types."""

    def __init__(self, gan_type: str = 'logistic', real_label_val: float = 1.0,
                 fake_label_val: float = 0.0, loss_weight: float = 1.0,
                 reduction: str = 'mean', mask_as_fake_target: bool = False,
                 smgan_kernel_size: int = 71, smgan_sigma: float = 10.0) -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"GANLoss: gan_type must be one of {GAN_TYPES}, got '{gan_type}'")
        _check_reduction('GANLoss', reduction)
        if mask_as_fake_target and gan_type not in ('logistic', 'nonsaturating', 'vanilla'):
            raise ValueError(f"GANLoss: mask_as_fake_target needs a logistic gan_type, got '{gan_type}'")
        self.gan_type, self.loss_weight, self.reduction = gan_type, loss_weight, reduction
        self.real_label_val, self.fake_label_val = real_label_val, fake_label_val
        self.mask_as_fake_target = mask_as_fake_target
        self.smgan_kernel_size, self.smgan_sigma = int(smgan_kernel_size), float(smgan_sigma)

    def forward(self, pred: torch.Tensor, target_is_real: bool, is_disc: bool = False,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        t, r = self.gan_type, self.reduction
        if t == 'smgan':
            loss = self._smgan(pred, target_is_real, is_disc, mask)
        elif t in ('logistic', 'nonsaturating'):
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
        if self.mask_as_fake_target and is_disc and not target_is_real:
            if mask is None:
                raise ValueError('GANLoss(mask_as_fake_target=True) needs the hole mask (mask=)')
            m = F.interpolate(mask.to(pred.dtype), size=pred.shape[-2:], mode='nearest')
            as_real = (F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, self.real_label_val),
                                                          reduction='none')
                       if t == 'vanilla' else F.softplus(-pred))
            loss = loss * m + (1 - m) * as_real
        loss = _reduce(loss, r)
        return loss if is_disc else loss * self.loss_weight

    def _smgan(self, pred, target_is_real, is_disc, mask):
        if mask is None:
            raise ValueError("GANLoss(gan_type='smgan') needs the hole mask (mask=)")
        if pred.shape[-2:] != mask.shape[-2:]:
            pred = F.interpolate(pred, size=mask.shape[-2:], mode='bilinear', align_corners=True)
        if is_disc and not target_is_real:
            target = gaussian_blur(mask.to(pred.dtype), self.smgan_kernel_size, self.smgan_sigma).detach()
        else:
            target = torch.full_like(pred, 1.0 if target_is_real and not is_disc else 0.0)
        return (pred - target) ** 2


def gaussian_kernel1d(size: int, sigma: float, dtype=torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps centred at ``(size - 1) / 2``."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def gaussian_blur(x: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Gaussian blur of NCHW ``x`` with zero padding (output the size of ``x``).

    The kernel is built as AOT-GAN's ``gaussian_blur`` builds it: a float32 1-D Gaussian,
    its float32 outer product, then cast to ``x``'s dtype (a float64 kernel differs by up to
    6e-8), applied as one 2-D convolution.
    """
    k = gaussian_kernel1d(size, sigma, torch.float32)
    k2 = (k[:, None] @ k[None, :]).to(x)
    c = x.shape[1]
    pad = (size - 1) // 2
    x = F.pad(x, (pad, size - 1 - pad, pad, size - 1 - pad))
    return F.conv2d(x, k2.view(1, 1, size, size).expand(c, 1, size, size), groups=c)


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


@LOSSES.register_module()
class GradientPenaltyLoss(nn.Module):
    """WGAN-GP (Gulrajani et al., 2017) on random interpolates of real and fake images.

    ``loss(disc, real, fake, mask=None)``: ``x = a * real + (1 - a) * fake`` with
    ``a ~ U(0, 1)`` per sample, ``g = grad_x sum(disc(x))``; with a ``mask`` the gradient
    is multiplied by it and the penalty divided by ``mean(mask)`` (MMagic's DeepFill v1,
    following the official masked GP). ``norm_mode='pixel'`` takes the L2 norm over
    channels per pixel, ``'HWC'`` over the whole sample; penalty ``mean((|g| - 1)^2)``.
    """

    def __init__(self, loss_weight: float = 10.0, norm_mode: str = 'pixel') -> None:
        super().__init__()
        if norm_mode not in ('pixel', 'HWC'):
            raise ValueError(f"GradientPenaltyLoss: norm_mode must be 'pixel' or 'HWC', got '{norm_mode}'")
        self.loss_weight, self.norm_mode = loss_weight, norm_mode

    def forward(self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                fake: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        n = real.shape[0]
        alpha = torch.rand(n, 1, 1, 1, device=real.device, dtype=real.dtype)
        x = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
        d = discriminator(x)
        (grad,) = torch.autograd.grad(d, x, grad_outputs=torch.ones_like(d), create_graph=True)
        if mask is not None:
            grad = grad * mask
        if self.norm_mode == 'pixel':
            pen = ((grad.norm(2, dim=1) - 1) ** 2).mean()
        else:
            pen = ((grad.reshape(n, -1).norm(2, dim=1) - 1) ** 2).mean()
        if mask is not None:
            pen = pen / mask.mean()
        return self.loss_weight * pen


@LOSSES.register_module()
class DiscShiftLoss(nn.Module):
    """``loss_weight * mean(x ** 2)``, MMagic's ``DiscShiftLoss`` (after Karras et al. 2018's
    epsilon-drift). MMagic's inpaintors apply it to the discriminator's real and fake *loss
    values* and halve it (``GANInpaintor`` does the same); on WGAN logits ``x`` it is the drift term."""

    def __init__(self, loss_weight: float = 0.1) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * (x ** 2).mean()


@LOSSES.register_module()
class FeatureMatchingLoss(nn.Module):
    """Discriminator feature matching (pix2pixHD; LaMa's ``feature_matching_loss``).

    ``loss(fake_features, real_features)``: mean over layers of ``MSE(fake_l, real_l)``
    (real features detached), times ``loss_weight``. ``criterion='l1'`` uses L1 instead.
    In an inpainting model's ``losses`` it reads the discriminator's features of the fake
    and the real image by default (``inpaint_inputs``).
    """
    inpaint_inputs = ('fake_features', 'real_features')

    def __init__(self, loss_weight: float = 1.0, criterion: str = 'mse') -> None:
        super().__init__()
        if criterion not in ('mse', 'l1'):
            raise ValueError(f"FeatureMatchingLoss: criterion must be 'mse' or 'l1', got '{criterion}'")
        self.loss_weight, self.criterion = loss_weight, criterion

    def forward(self, fake_features: Sequence[torch.Tensor], real_features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(fake_features) != len(real_features) or not fake_features:
            raise ValueError(f'FeatureMatchingLoss: got {len(fake_features)} fake and {len(real_features)} '
                             'real feature maps (need the same non-zero number; does the discriminator '
                             "return features? disc_io returns='logits_features')")
        fn = F.mse_loss if self.criterion == 'mse' else F.l1_loss
        vals = [fn(f, r.detach()) for f, r in zip(fake_features, real_features)]
        return self.loss_weight * torch.stack(vals).mean()
