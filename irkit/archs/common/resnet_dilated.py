"""The dilated ResNet encoder of CSAILVision's ADE20k scene-parsing models.

Zhou et al., "Scene Parsing through ADE20K Dataset", CVPR 2017 / "Semantic
Understanding of Scenes through the ADE20K Dataset", IJCV 2019; code
CSAILVision/semantic-segmentation-pytorch (``models/resnet.py``, ``ResnetDilated``),
vendored by LaMa as ``models/ade20k``. LaMa's high-receptive-field perceptual loss
(:class:`irkit.losses.ResNetPL`) uses the ResNet-50 trunk of the released
``ade20k-resnet50dilated-ppm_deepsup`` model.

The trunk is a ResNet with a deep stem (three 3x3 convs: 3->64 stride 2, 64->64,
64->128, each + BN + ReLU) and a 3x3/2 max-pool, then Bottleneck stages of 64, 128,
256 and 512 planes (expansion 4). With ``dilate_scale=8`` the strides of ``layer3``
and ``layer4`` are removed and their 3x3 convs dilated (layer3: the first block's
3x3 conv dilation 1, the others 2; layer4: 2, then 4), so the output stride is 8.
``forward`` returns the outputs of the four stages.

``state_dict`` keys are those of the released ``encoder_epoch_20.pth``
(``conv1.weight``, ``bn1.*``, ..., ``layer4.2.bn3.*``; no ``fc``), so the file loads
strictly with :func:`load_ade20k_encoder`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn

from irkit.fileio.weights import find_weights

__all__ = ['Bottleneck', 'ResnetDilated', 'load_ade20k_encoder', 'ADE20K_ENCODER_FILE', 'ADE20K_ENCODER_URL']

#: where LaMa expects the encoder (``$TORCH_HOME/ade20k/<this>``) and irkit looks for it (``$IRKIT_WEIGHTS/<this>``)
ADE20K_ENCODER_FILE = 'ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth'
ADE20K_ENCODER_URL = ('http://sceneparsing.csail.mit.edu/model/pytorch/'
                      'ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth')
# buffers of CSAILVision's SynchronizedBatchNorm2d that a plain BatchNorm2d does not have
_SYNC_BN_EXTRA = ('_tmp_running_mean', '_tmp_running_var', '_running_iter')


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3 with the stride, 1x1 x4) with an optional projection."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=dilation,
                               dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResnetDilated(nn.Module):
    """CSAILVision's dilated ResNet encoder (see the module docstring).

    Args:
        layers: bottleneck blocks per stage ((3, 4, 6, 3) = ResNet-50).
        dilate_scale: output stride, 8 (LaMa / ``resnet50dilated``), 16 or 32 (no dilation).
    """

    def __init__(self, layers: Sequence[int] = (3, 4, 6, 3), dilate_scale: int = 8) -> None:
        super().__init__()
        if dilate_scale not in (8, 16, 32):
            raise ValueError(f'ResnetDilated: dilate_scale must be 8, 16 or 32, got {dilate_scale}')
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.relu3 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # (stride, dilation of the first block's 3x3 conv, dilation of the other blocks)
        plan = {8: [(1, 1, 1), (2, 1, 1), (1, 1, 2), (1, 2, 4)],
                16: [(1, 1, 1), (2, 1, 1), (2, 1, 1), (1, 1, 2)],
                32: [(1, 1, 1), (2, 1, 1), (2, 1, 1), (2, 1, 1)]}[dilate_scale]
        self.inplanes = 128
        for i, (planes, n, (stride, first_dil, dil)) in enumerate(zip((64, 128, 256, 512), layers, plan)):
            setattr(self, f'layer{i + 1}', self._make_layer(planes, n, stride, first_dil, dil))
        for m in self.modules():  # CSAILVision's initialisation (replaced by the released weights)
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int, first_dilation: int,
                    dilation: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, first_dilation, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes, 1, dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The outputs of ``layer1`` .. ``layer4`` (256, 512, 1024, 2048 channels)."""
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        x = self.maxpool(x)
        feats = []
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
            feats.append(x)
        return feats


def load_ade20k_encoder(module: ResnetDilated, path: Union[str, Path, None] = None,
                        config_key: str = 'weights_path') -> Path:
    """Load CSAILVision's ``encoder_epoch_20.pth`` into ``module`` strictly; returns the file used.

    ``path``: the file, a folder holding ``ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth``,
    or None to look in ``$IRKIT_WEIGHTS`` / ``~/.cache/irkit/weights`` (also under ``ade20k/``,
    LaMa's ``$TORCH_HOME`` layout). Buffers of
    CSAILVision's synchronised BatchNorm (``_tmp_running_mean``, ``_tmp_running_var``,
    ``_running_iter``) are dropped and a missing ``num_batches_tracked`` is filled with 0;
    any other difference is an error naming the keys.
    """
    from irkit.fileio.weights import read_state_dict
    if path is not None and Path(path).expanduser().is_dir() and \
            (Path(path).expanduser() / 'ade20k' / ADE20K_ENCODER_FILE).is_file():
        path = Path(path).expanduser() / 'ade20k'   # LaMa's $TORCH_HOME
    file = find_weights(ADE20K_ENCODER_FILE, path, config_key=config_key, source=ADE20K_ENCODER_URL,
                        subdirs=('ade20k',))
    state: Dict[str, torch.Tensor] = dict(read_state_dict(file))
    state = {k: v for k, v in state.items() if not k.endswith(_SYNC_BN_EXTRA)}
    own = module.state_dict()
    for k, v in own.items():
        if k.endswith('num_batches_tracked') and k not in state:
            state[k] = torch.zeros_like(v)
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f'{k} {tuple(state[k].shape)} != {tuple(v.shape)}' for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise KeyError(f'{file}: not the ADE20k resnet50dilated encoder: missing {missing[:5]}, '
                       f'unexpected {unexpected[:5]}, shape mismatches {wrong[:5]}')
    module.load_state_dict(state, strict=True)
    return file
