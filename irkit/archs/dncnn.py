"""DnCNN: "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image Denoising" (Zhang et al., TIP 2017)."""
from __future__ import annotations

import torch
import torch.nn as nn

from irkit.registry import ARCHS


@ARCHS.register_module()
class DnCNN(nn.Module):
    """Conv+ReLU, (Conv+BN+ReLU) × (depth−2), Conv; predicts the noise (residual learning).

    Args:
        in_nc, out_nc: image channels.
        nc: feature channels (64 in the paper).
        nb: total number of conv layers (17 in the paper).
        use_bn: batch normalisation in the middle layers (paper: True).
        residual: return ``x − net(x)`` (paper) instead of ``net(x)``.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nc: int = 64, nb: int = 17,
                 use_bn: bool = True, residual: bool = True) -> None:
        super().__init__()
        if nb < 2:
            raise ValueError(f'DnCNN needs nb >= 2 layers, got {nb}')
        if residual and in_nc != out_nc:
            raise ValueError('DnCNN residual=True needs in_nc == out_nc')
        layers = [nn.Conv2d(in_nc, nc, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers.append(nn.Conv2d(nc, nc, 3, padding=1, bias=not use_bn))
            if use_bn:
                layers.append(nn.BatchNorm2d(nc, momentum=0.1, eps=1e-4))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(nc, out_nc, 3, padding=1))
        self.model = nn.Sequential(*layers)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.model(x)
        return x - n if self.residual else n
