"""AlexNet convolutional trunk with torchvision's ``state_dict`` layout (LPIPS backbone).

Krizhevsky et al., "ImageNet Classification with Deep Convolutional Neural Networks",
NeurIPS 2012, in torchvision's single-tower variant (64-192-384-256-256 channels).
Parameter names are ``features.{0,3,6,8,10}.weight/bias`` as in
``torchvision.models.alexnet``; torchvision's ``alexnet-owt-7be5be79.pth`` loads
unchanged (its ``classifier.*`` entries are skipped).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Union

import torch
import torch.nn as nn

from irkit.archs.common.vgg import load_torchvision_features
from irkit.fileio.weights import find_weights

WEIGHT_FILE = 'alexnet-owt-7be5be79.pth'
WEIGHT_URL = f'https://download.pytorch.org/models/{WEIGHT_FILE}'


class AlexNetFeatures(nn.Module):
    """AlexNet ``features`` returning the five ReLU outputs (relu1 .. relu5), as LPIPS uses.

    Args:
        pretrained: path of torchvision's weights, ``None`` to look up
            ``alexnet-owt-7be5be79.pth`` with :func:`find_weights`, ``False`` for random init.
        config_key: the config key named when the file is missing.
    """

    # the ReLU after which each of LPIPS's five slices ends (indices into features)
    SLICE_ENDS = (1, 4, 7, 9, 11)
    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self, pretrained: Union[str, Path, None, bool] = None,
                 config_key: str = 'pretrained') -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=False),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=False),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=False),
        )
        if pretrained is not False:
            path = find_weights(WEIGHT_FILE, pretrained, config_key=config_key, source=WEIGHT_URL)
            load_torchvision_features(self, path)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.SLICE_ENDS:
                outs.append(x)
        return outs
