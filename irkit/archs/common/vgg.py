"""VGG16 / VGG19 feature extractors with torchvision's ``state_dict`` layout.

Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015. Written without torchvision; parameter names are
``features.<index>.weight/bias`` exactly as in ``torchvision.models.vgg16/vgg19``, so
torchvision's ImageNet files (``vgg16-397923af.pth``, ``vgg19-dcbb9e9d.pth``) load
unchanged (their ``classifier.*`` entries are not used and are skipped).

Layer names follow BasicSR: ``conv1_1, relu1_1, ..., pool5``; asking for a ``conv``
name returns the pre-activation feature, a ``relu`` name the post-activation one.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

import torch
import torch.nn as nn

from irkit.fileio.weights import find_weights

# channels per block; 'M' = max-pool
CFGS = {
    'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
    'vgg19': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M',
              512, 512, 512, 512, 'M'],
}
WEIGHT_FILES = {'vgg16': 'vgg16-397923af.pth', 'vgg19': 'vgg19-dcbb9e9d.pth'}
WEIGHT_URLS = {k: f'https://download.pytorch.org/models/{v}' for k, v in WEIGHT_FILES.items()}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(vgg_type: str) -> List[str]:
    """Names of the entries of ``features`` in order (conv1_1, relu1_1, ..., pool5)."""
    names, block, idx = [], 1, 1
    for v in CFGS[vgg_type]:
        if v == 'M':
            names.append(f'pool{block}')
            block, idx = block + 1, 1
        else:
            names += [f'conv{block}_{idx}', f'relu{block}_{idx}']
            idx += 1
    return names


def load_state_dict_file(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """Tensors of a ``torch.save``/``.safetensors`` weight file, read without running code."""
    from irkit.fileio.checkpoint import extract_state_dict, safe_load
    return dict(extract_state_dict(safe_load(path)))


def load_torchvision_features(module: nn.Module, path: Union[str, Path], prefix: str = 'features.'):
    """Load the ``features.*`` tensors of a torchvision VGG/AlexNet file into ``module.features``."""
    state = load_state_dict_file(path)
    feats = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not feats:
        raise KeyError(f"{path}: no '{prefix}*' tensors; expected a torchvision state_dict "
                       f'(found keys like {list(state)[:3]})')
    missing, unexpected = module.features.load_state_dict(feats, strict=False)
    if missing or unexpected:
        raise KeyError(f'{path}: does not match {type(module).__name__}: missing {missing}, '
                       f'unexpected {unexpected}')


class VGGFeatureExtractor(nn.Module):
    """VGG16/19 convolutional trunk returning the named intermediate features.

    Args:
        layer_name_list: layers to return, e.g. ``['conv4_4', 'conv5_4']`` (pre-ReLU)
            or ``['relu5_4']``; the network is truncated after the deepest one.
        vgg_type: ``'vgg16'`` or ``'vgg19'``.
        use_input_norm: normalise inputs with ImageNet mean/std (inputs in [0, 1]).
        range_norm: map inputs from [-1, 1] to [0, 1] first.
        requires_grad: train the VGG weights (default frozen).
        pretrained: path of torchvision's weights file, ``None`` to look it up with
            :func:`irkit.fileio.weights.find_weights`, or ``False`` for random init.
        config_key: the config key named when the file is missing.
    """

    def __init__(self, layer_name_list: Iterable[str], vgg_type: str = 'vgg19',
                 use_input_norm: bool = True, range_norm: bool = False,
                 requires_grad: bool = False,
                 pretrained: Union[str, Path, None, bool] = None,
                 config_key: str = 'pretrained') -> None:
        super().__init__()
        if vgg_type not in CFGS:
            raise ValueError(f"vgg_type must be one of {sorted(CFGS)}, got '{vgg_type}'")
        self.layer_name_list = list(layer_name_list)
        names = layer_names(vgg_type)
        for n in self.layer_name_list:
            if n not in names:
                raise ValueError(f"unknown {vgg_type} layer '{n}'; valid: {', '.join(names)}")
        last = max(names.index(n) for n in self.layer_name_list)
        self.names = names[:last + 1]
        layers: List[nn.Module] = []
        in_ch = 3
        for v in CFGS[vgg_type]:
            if v == 'M':
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_ch = v
        self.features = nn.Sequential(*layers)
        self.vgg_type = vgg_type
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if pretrained is not False:
            path = find_weights(WEIGHT_FILES[vgg_type], pretrained, config_key=config_key,
                                source=WEIGHT_URLS[vgg_type])
            load_torchvision_features(self, path)
        # keep torchvision's indices (and state_dict keys) but drop unused deeper layers
        for i in range(last + 1, len(self.features)):
            self.features[i] = nn.Identity()
        if not requires_grad:
            self.eval()
            for p in self.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out: Dict[str, torch.Tensor] = OrderedDict()
        wanted = set(self.layer_name_list)
        for name, layer in zip(self.names, self.features):
            x = layer(x)
            if name in wanted:
                out[name] = x
        return out


def vgg_features(vgg_type: str = 'vgg19', pretrained: Union[str, Path, None, bool] = None,
                 layers: Optional[Iterable[str]] = None) -> VGGFeatureExtractor:
    """A frozen VGG trunk returning ``layers`` (default: every ReLU output)."""
    names = layer_names(vgg_type)
    layers = list(layers) if layers is not None else [n for n in names if n.startswith('relu')]
    return VGGFeatureExtractor(layers, vgg_type=vgg_type, use_input_norm=False, pretrained=pretrained)
