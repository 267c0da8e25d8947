"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric", CVPR 2018), version 0.1, with AlexNet, VGG16 or SqueezeNet 1.1 features: the
``lpips`` package's ``LPIPS(net=..., version='0.1')`` in eval mode.

Weights are read from local files: the backbone from torchvision's ImageNet file
(``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth`` / ``squeezenet1_1-b8a52dc0.pth``)
and the learned linear heads from the released ``lpips/weights/v0.1/{alex,vgg,squeeze}.pth``
(keys ``lin{i}.model.1.weight``, shape 1xCx1x1; shipped in the ``lpips`` pip package and in
the PerceptualSimilarity repository), looked up as ``$IRKIT_WEIGHTS/lpips/v0.1/<net>.pth``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric

from irkit.metrics.image_metrics import quantize_uint8
from irkit.registry import METRICS
from irkit.fileio.weights import find_weights

LPIPS_URL = 'https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/master/lpips/weights/v0.1'
CHANNELS = {'alex': (64, 192, 384, 256, 256), 'vgg': (64, 128, 256, 512, 512),
            'squeeze': (64, 128, 256, 384, 384, 512, 512)}
VGG16_SLICE_ENDS = ('relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3')


class NetLinLayer(nn.Module):
    """A 1x1 conv without bias after dropout, named as LPIPS's ``lin{i}.model.1``."""

    def __init__(self, chn_in: int, use_dropout: bool = True) -> None:
        super().__init__()
        layers: List[nn.Module] = [nn.Dropout()] if use_dropout else []
        layers.append(nn.Conv2d(chn_in, 1, 1, stride=1, padding=0, bias=False))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class LPIPSNet(nn.Module):
    """LPIPS v0.1 distance between NCHW RGB images in [-1, 1]; returns (N,).

    Args:
        net: ``'alex'`` (default, the paper's recommended metric), ``'vgg'`` or ``'squeeze'``.
        model_path: the linear heads (``alex.pth``/``vgg.pth``/``squeeze.pth``), ``None`` to
            look up ``lpips/v0.1/<net>.pth``; ``False`` for random heads.
        backbone_path: torchvision's backbone file, ``None`` to look it up; ``False``
            for random weights.
    """

    def __init__(self, net: str = 'alex', model_path: Union[str, Path, None, bool] = None,
                 backbone_path: Union[str, Path, None, bool] = None) -> None:
        super().__init__()
        if net not in CHANNELS:
            raise ValueError(f"LPIPS net must be one of {sorted(CHANNELS)}, got '{net}'")
        self.net_type = net
        if net == 'alex':
            from irkit.archs.common.alexnet import AlexNetFeatures
            self.net = AlexNetFeatures(pretrained=backbone_path, config_key='backbone_path')
        elif net == 'squeeze':
            from irkit.archs.common.squeezenet import SqueezeNetFeatures
            self.net = SqueezeNetFeatures(pretrained=backbone_path, config_key='backbone_path')
        else:
            from irkit.archs.common.vgg import VGGFeatureExtractor
            self.net = VGGFeatureExtractor(VGG16_SLICE_ENDS, vgg_type='vgg16', use_input_norm=False,
                                           pretrained=backbone_path, config_key='backbone_path')
        # ScalingLayer of LPIPS: inputs in [-1, 1] -> ImageNet-normalised
        self.register_buffer('shift', torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('scale', torch.tensor([.458, .448, .450]).view(1, 3, 1, 1), persistent=False)
        for i, c in enumerate(CHANNELS[net]):
            self.add_module(f'lin{i}', NetLinLayer(c))
        if model_path is not False:
            path = find_weights(f'lpips/v0.1/{net}.pth', model_path, config_key='model_path',
                                source=f"{LPIPS_URL}/{net}.pth (also in the 'lpips' pip package)")
            from irkit.archs.common.vgg import load_state_dict_file
            state = load_state_dict_file(path)
            heads = {k: v for k, v in state.items() if k.startswith('lin')}
            own = {k for k in self.state_dict() if k.startswith('lin')}
            if set(heads) != own:
                raise KeyError(f'{path}: expected LPIPS v0.1 heads {sorted(own)}, found {sorted(heads)}')
            self.load_state_dict(heads, strict=False)
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def _features(self, x):
        out = self.net(x)
        return list(out.values()) if isinstance(out, dict) else out

    @staticmethod
    def _normalize(f, eps=1e-10):
        return f / (torch.sqrt((f ** 2).sum(dim=1, keepdim=True)) + eps)

    def forward(self, img: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
        f1 = self._features((img - self.shift) / self.scale)
        f2 = self._features((img2 - self.shift) / self.scale)
        total = 0
        for i, (a, b) in enumerate(zip(f1, f2)):
            d = (self._normalize(a) - self._normalize(b)) ** 2
            total = total + getattr(self, f'lin{i}')(d).mean(dim=(2, 3), keepdim=True)
        return total.view(-1)


@METRICS.register_module()
class LPIPS(BaseMetric):
    """Mean LPIPS v0.1 over the dataset (lower is better), on the full images.

    Args:
        net: ``'alex'`` (DA-CLIP, MAT), ``'vgg'`` or ``'squeeze'``.
        model_path / backbone_path: local weight files (see :class:`LPIPSNet`).
        quantize: round ``pred``/``gt`` to uint8 levels first (images saved as PNG).
        device: where the network runs.
    """
    default_prefix: Optional[str] = ''

    def __init__(self, net: str = 'alex', model_path: Optional[str] = None,
                 backbone_path: Optional[str] = None, quantize: bool = True,
                 pred_key: str = 'pred', gt_key: str = 'gt', device: str = 'cpu',
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 network: Optional[nn.Module] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.net, self.model_path, self.backbone_path = net, model_path, backbone_path
        self.quantize, self.pred_key, self.gt_key, self.device = quantize, pred_key, gt_key, device
        self._network = network  # built lazily: constructing the metric loads nothing

    @property
    def network(self) -> nn.Module:
        if self._network is None:
            self._network = LPIPSNet(self.net, self.model_path, self.backbone_path)
        return self._network.to(self.device)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().float().cpu()
        x = quantize_uint8(x) / 255.0 if self.quantize else x
        return (x * 2 - 1)[None].to(self.device)

    @torch.no_grad()
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        net = self.network
        for s in data_samples:
            self.results.append(float(net(self._prep(s[self.pred_key]), self._prep(s[self.gt_key]))[0]))

    def compute_metrics(self, results: List[float]) -> dict:
        return {'LPIPS': float(np.mean(results))}
