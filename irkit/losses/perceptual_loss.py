"""VGG perceptual, style (Gram), MAT's perceptual and LaMa's ResNet perceptual losses.

Features come from :class:`irkit.archs.common.vgg.VGGFeatureExtractor` (torchvision
VGG weights from a local file). Layer names such as ``conv5_4`` select the
pre-activation output and ``relu5_4`` the post-activation one. The target's features
are computed without gradient (detached).
"""
from __future__ import annotations

from typing import Dict, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.losses.pixel_loss import _check_reduction
from irkit.registry import LOSSES

CRITERIA = ('l1', 'l2', 'fro')


def gram_matrix(x: torch.Tensor) -> torch.Tensor:
    """``F F^T / (C H W)`` for features ``F`` of shape (N, C, H*W)."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


class _VGGLoss(nn.Module):
    def __init__(self, layer_weights: Dict[str, float], vgg_type: str, use_input_norm: bool,
                 range_norm: bool, criterion: str, loss_weight: float, reduction: str,
                 pretrained: Union[str, None, bool]) -> None:
        super().__init__()
        if criterion not in CRITERIA:
            raise ValueError(f"{type(self).__name__}: criterion must be one of {CRITERIA}, got '{criterion}'")
        _check_reduction(type(self).__name__, reduction)
        if reduction == 'none':
            raise ValueError(f"{type(self).__name__}: reduction='none' is not defined for feature losses")
        from irkit.archs.common.vgg import VGGFeatureExtractor
        self.layer_weights = dict(layer_weights)
        self.criterion_type, self.loss_weight, self.reduction = criterion, loss_weight, reduction
        self.vgg = VGGFeatureExtractor(list(self.layer_weights), vgg_type=vgg_type,
                                       use_input_norm=use_input_norm, range_norm=range_norm,
                                       pretrained=pretrained)

    def _dist(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.criterion_type == 'fro':
            return torch.norm(a - b, p='fro')
        d = (a - b).abs() if self.criterion_type == 'l1' else (a - b) ** 2
        return d.mean() if self.reduction == 'mean' else d.sum()

    def _features(self, pred, target):
        fp = self.vgg(pred)
        with torch.no_grad():
            ft = self.vgg(target.detach())
        return fp, ft


@LOSSES.register_module()
class PerceptualLoss(_VGGLoss):
    """``sum_l w_l * crit(phi_l(pred), phi_l(target))`` on VGG features.

    Args:
        layer_weights: e.g. ``{'conv5_4': 1.0}`` (BasicSR's default, pre-ReLU).
        vgg_type: ``'vgg19'`` or ``'vgg16'``.
        use_input_norm: ImageNet mean/std normalisation of [0, 1] inputs.
        range_norm: inputs are in [-1, 1] (mapped to [0, 1] first).
        criterion: ``'l1'``, ``'l2'`` or ``'fro'`` (Frobenius norm).
        pretrained: torchvision VGG weights file (``None``: look it up).
    """

    def __init__(self, layer_weights: Optional[Dict[str, float]] = None, vgg_type: str = 'vgg19',
                 use_input_norm: bool = True, range_norm: bool = False, criterion: str = 'l1',
                 loss_weight: float = 1.0, reduction: str = 'mean',
                 pretrained: Union[str, None, bool] = None) -> None:
        super().__init__(layer_weights or {'conv5_4': 1.0}, vgg_type, use_input_norm, range_norm,
                         criterion, loss_weight, reduction, pretrained)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight=None) -> torch.Tensor:
        if weight is not None:
            raise ValueError('PerceptualLoss does not take a per-pixel weight')
        fp, ft = self._features(pred, target)
        loss = sum(self.layer_weights[k] * self._dist(fp[k], ft[k]) for k in fp)
        return self.loss_weight * loss


@LOSSES.register_module()
class StyleLoss(_VGGLoss):
    """``sum_l w_l * crit(Gram(phi_l(pred)), Gram(phi_l(target)))`` (Gatys et al.), Gram
    matrices normalised by C*H*W; same arguments as :class:`PerceptualLoss`."""

    def __init__(self, layer_weights: Optional[Dict[str, float]] = None, vgg_type: str = 'vgg19',
                 use_input_norm: bool = True, range_norm: bool = False, criterion: str = 'l1',
                 loss_weight: float = 1.0, reduction: str = 'mean',
                 pretrained: Union[str, None, bool] = None) -> None:
        super().__init__(layer_weights or {'relu1_1': 1.0, 'relu2_1': 1.0, 'relu3_1': 1.0,
                                           'relu4_1': 1.0, 'relu5_1': 1.0},
                         vgg_type, use_input_norm, range_norm, criterion, loss_weight, reduction,
                         pretrained)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight=None) -> torch.Tensor:
        if weight is not None:
            raise ValueError('StyleLoss does not take a per-pixel weight')
        fp, ft = self._features(pred, target)
        loss = sum(self.layer_weights[k] * self._dist(gram_matrix(fp[k]), gram_matrix(ft[k])) for k in fp)
        return self.loss_weight * loss


@LOSSES.register_module()
class MATPerceptualLoss(PerceptualLoss):
    """MAT's perceptual loss: VGG19 ``conv4_4`` (1/4) + ``conv5_4`` (1/2), pre-ReLU, L1 mean.

    Inputs are in [-1, 1] (MAT's generator range; ``range_norm=True``) and are mapped to
    [0, 1] and ImageNet-normalised. MAT weights the loss by ``pcp_ratio`` = 0.1: set
    ``loss_weight=0.1``.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean', range_norm: bool = True,
                 pretrained: Union[str, None, bool] = None) -> None:
        super().__init__(layer_weights={'conv4_4': 0.25, 'conv5_4': 0.5}, vgg_type='vgg19',
                         use_input_norm=True, range_norm=range_norm, criterion='l1',
                         loss_weight=loss_weight, reduction=reduction, pretrained=pretrained)


@LOSSES.register_module()
class ResNetPL(nn.Module):
    """LaMa's high-receptive-field perceptual loss (Suvorov et al., WACV 2022).

    ``loss_weight * sum_s MSE(phi_s(norm(pred)), phi_s(norm(target)))`` over the four
    stage outputs ``phi_s`` of the ADE20k ResNet-50-dilated segmentation encoder
    (:class:`irkit.archs.common.resnet_dilated.ResnetDilated`, frozen), with ``norm``
    the ImageNet mean/std normalisation of images in [0, 1]; each MSE is the mean over
    all elements. LaMa (``saicinpainting/training/losses/perceptual.py``) uses
    ``loss_weight=30`` on the raw prediction and the whole image.

    Args:
        loss_weight: the official ``weight``.
        pretrained: CSAILVision's ``encoder_epoch_20.pth``: the file, a folder holding
            ``ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth`` (directly or under
            ``ade20k/``, LaMa's ``$TORCH_HOME`` layout), ``None`` to look it up in
            ``$IRKIT_WEIGHTS`` / ``~/.cache/irkit/weights``, or ``False`` for random weights
            (tests).
        batch_stats: how the encoder's BatchNorm layers normalise. ``None``: they follow
            this module's ``train()`` / ``eval()``, starting in eval mode as LaMa builds the
            loss (``impl.eval()``). ``True``: always with the statistics of the batch (and
            updating their running statistics), which is what LaMa's training runs do: PyTorch
            Lightning's ``model.train()`` at the start of training switches the encoder back
            to training mode, so prediction and target are each normalised with their own
            batch statistics. ``False``: always with the running statistics. An inpainting
            model that keeps its loss networks in eval mode (``GANInpaintor``) needs ``True``
            to train as LaMa did.
    """

    def __init__(self, loss_weight: float = 1.0, pretrained: Union[str, None, bool] = None,
                 batch_stats: Optional[bool] = None) -> None:
        super().__init__()
        from irkit.archs.common.resnet_dilated import ResnetDilated, load_ade20k_encoder
        from irkit.archs.common.vgg import IMAGENET_MEAN, IMAGENET_STD
        self.loss_weight = loss_weight
        self.batch_stats = batch_stats
        self.impl = ResnetDilated(layers=(3, 4, 6, 3), dilate_scale=8)
        if pretrained is not False:
            load_ade20k_encoder(self.impl, pretrained, config_key='pretrained')
        for p in self.impl.parameters():
            p.requires_grad_(False)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.impl.train(bool(batch_stats))

    def train(self, mode: bool = True) -> 'ResNetPL':
        super().train(mode)
        self.impl.train(mode if self.batch_stats is None else self.batch_stats)
        return self

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight=None) -> torch.Tensor:
        if weight is not None:
            raise ValueError('ResNetPL does not take a per-pixel weight')
        feats_pred = self.impl((pred - self.mean.to(pred)) / self.std.to(pred))
        with torch.no_grad():
            feats_target = self.impl((target - self.mean.to(target)) / self.std.to(target))
        loss = torch.stack([F.mse_loss(p, t) for p, t in zip(feats_pred, feats_target)]).sum()
        return self.loss_weight * loss
