"""SqueezeNet 1.1 convolutional trunk with torchvision's ``state_dict`` layout (LPIPS backbone).

Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB
model size", 2016; version 1.1 as in ``torchvision.models.squeezenet1_1``: a 3x3/2 conv
(64), then Fire modules (squeeze 1x1 -> expand 1x1 and 3x3, concatenated) with 3x3/2
max pools (``ceil_mode=True``) after the first conv, the second and the fourth Fire.
Parameter names are ``features.<i>.{squeeze,expand1x1,expand3x3}.weight/bias`` (and
``features.0.*``), so torchvision's ``squeezenet1_1-b8a52dc0.pth`` loads unchanged (its
``classifier.*`` entries are skipped).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Union

import torch
import torch.nn as nn

from irkit.archs.common.vgg import load_torchvision_features
from irkit.fileio.weights import find_weights

WEIGHT_FILE = 'squeezenet1_1-b8a52dc0.pth'
WEIGHT_URL = f'https://download.pytorch.org/models/{WEIGHT_FILE}'


class Fire(nn.Module):
    """Squeeze (1x1 conv + ReLU) then expand (1x1 and 3x3 convs + ReLU, concatenated)."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.squeeze(x))
        return torch.cat([self.relu(self.expand1x1(x)), self.relu(self.expand3x3(x))], 1)


class SqueezeNetFeatures(nn.Module):
    """SqueezeNet 1.1 ``features`` returning the seven outputs LPIPS uses (after relu1 and
    after Fire modules 4, 7, 9, 10, 11 and 12 of ``features``).

    Args:
        pretrained: path of torchvision's weights, ``None`` to look up
            ``squeezenet1_1-b8a52dc0.pth`` with :func:`find_weights`, ``False`` for random init.
        config_key: the config key named when the file is missing.
    """

    # the layer of ``features`` after which each of LPIPS's seven slices ends
    SLICE_ENDS = (1, 4, 7, 9, 10, 11, 12)
    CHANNELS = (64, 128, 256, 384, 384, 512, 512)

    def __init__(self, pretrained: Union[str, Path, None, bool] = None,
                 config_key: str = 'pretrained') -> None:
        super().__init__()
        def pool():
            return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(),
            pool(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
            pool(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
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
