"""Inception-v3 for FID / P-IDS / U-IDS, as in StyleGAN2-ADA's TorchScript ``inception-2015-12-05.pt``.

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016,
in the 2015-12-05 TensorFlow graph that FID was defined with (Heusel et al., 2017).
MAT (and StyleGAN2-ADA's metrics) use NVIDIA's TorchScript export of that graph; this
module reproduces it without TorchScript or torchvision, with the same parameter names
(``layers.conv.weight``, ``layers.conv.beta``, ``layers.conv.mean``,
``layers.conv.var``, ..., ``layers.mixed_10.*``, ``output.weight/bias``), so its
tensors map one to one.

Forward (as the export): uint8-range NCHW RGB input of any size, resized to 299x299 with
TF's legacy bilinear sampling (``grid_sample`` with a half-pixel correction, border
padding), scaled by ``(x - 128) / 128``, returning the 2048-d pool features.

:func:`load_torchscript_tensors` (from :mod:`irkit.fileio.safe_unpickle`, re-exported
here) reads the tensors of a TorchScript archive *without* ``torch.jit.load``: it
unpickles ``data.pkl`` with irkit's restricted unpickler, which rebuilds only tensors and
containers and turns every global (the ``__torch__.*`` module classes, or anything
foreign such as ``os.system``) into an inert record; no code from the file is imported
or run.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.fileio.safe_unpickle import load_torchscript_tensors
from irkit.fileio.weights import find_weights

TORCHSCRIPT_FILE = 'inception-2015-12-05.pt'
TORCHSCRIPT_URL = ('https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/'
                   'files/metrics/inception-2015-12-05.pkl (StyleGAN2-ADA: '
                   'https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/'
                   'inception-2015-12-05.pt)')


class Conv2dLayer(nn.Module):
    """Conv (no bias) + batch norm without scale (TF ``scale=False``, eps 1e-3) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        k = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, *k))
        self.beta = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer('mean', torch.zeros(out_channels))
        self.register_buffer('var', torch.ones(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight, stride=self.stride, padding=self.padding)
        x = F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, 1e-3)
        return F.relu(x)


def _avg3(x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.conv = Conv2dLayer(in_channels, 64, 1)
        self.tower = nn.Sequential()
        self.tower.add_module('conv', Conv2dLayer(in_channels, 48, 1))
        self.tower.add_module('conv_1', Conv2dLayer(48, 64, 5, padding=2))
        self.tower_1 = nn.Sequential()
        self.tower_1.add_module('conv', Conv2dLayer(in_channels, 64, 1))
        self.tower_1.add_module('conv_1', Conv2dLayer(64, 96, 3, padding=1))
        self.tower_1.add_module('conv_2', Conv2dLayer(96, 96, 3, padding=1))
        self.tower_2 = nn.Sequential()
        self.tower_2.add_module('conv', Conv2dLayer(in_channels, pool_features, 1))

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(_avg3(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = Conv2dLayer(in_channels, 384, 3, stride=2)
        self.tower = nn.Sequential()
        self.tower.add_module('conv', Conv2dLayer(in_channels, 64, 1))
        self.tower.add_module('conv_1', Conv2dLayer(64, 96, 3, padding=1))
        self.tower.add_module('conv_2', Conv2dLayer(96, 96, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, c7: int):
        super().__init__()
        self.conv = Conv2dLayer(in_channels, 192, 1)
        self.tower = nn.Sequential()
        self.tower.add_module('conv', Conv2dLayer(in_channels, c7, 1))
        self.tower.add_module('conv_1', Conv2dLayer(c7, c7, (1, 7), padding=(0, 3)))
        self.tower.add_module('conv_2', Conv2dLayer(c7, 192, (7, 1), padding=(3, 0)))
        self.tower_1 = nn.Sequential()
        self.tower_1.add_module('conv', Conv2dLayer(in_channels, c7, 1))
        self.tower_1.add_module('conv_1', Conv2dLayer(c7, c7, (7, 1), padding=(3, 0)))
        self.tower_1.add_module('conv_2', Conv2dLayer(c7, c7, (1, 7), padding=(0, 3)))
        self.tower_1.add_module('conv_3', Conv2dLayer(c7, c7, (7, 1), padding=(3, 0)))
        self.tower_1.add_module('conv_4', Conv2dLayer(c7, 192, (1, 7), padding=(0, 3)))
        self.tower_2 = nn.Sequential()
        self.tower_2.add_module('conv', Conv2dLayer(in_channels, 192, 1))

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.tower = nn.Sequential()
        self.tower.add_module('conv', Conv2dLayer(in_channels, 192, 1))
        self.tower.add_module('conv_1', Conv2dLayer(192, 320, 3, stride=2))
        self.tower_1 = nn.Sequential()
        self.tower_1.add_module('conv', Conv2dLayer(in_channels, 192, 1))
        self.tower_1.add_module('conv_1', Conv2dLayer(192, 192, (1, 7), padding=(0, 3)))
        self.tower_1.add_module('conv_2', Conv2dLayer(192, 192, (7, 1), padding=(3, 0)))
        self.tower_1.add_module('conv_3', Conv2dLayer(192, 192, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.tower(x), self.tower_1(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    def __init__(self, in_channels: int, pool: str):
        super().__init__()
        self.pool = pool
        self.conv = Conv2dLayer(in_channels, 320, 1)
        self.tower_conv = Conv2dLayer(in_channels, 384, 1)
        self.tower_mixed_conv = Conv2dLayer(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = Conv2dLayer(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = Conv2dLayer(in_channels, 448, 1)
        self.tower_1_conv_1 = Conv2dLayer(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = Conv2dLayer(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = Conv2dLayer(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_conv = Conv2dLayer(in_channels, 192, 1)

    def forward(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        p = _avg3(x) if self.pool == 'avg' else F.max_pool2d(x, 3, 1, 1)
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(p)], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 (TF 2015-12-05 graph) with StyleGAN2-ADA's parameter names.

    Args:
        pretrained: path of ``inception-2015-12-05.pt`` (TorchScript, StyleGAN2-ADA /
            MAT) or of a ``.pth``/``.safetensors`` state_dict with the same keys;
            ``None`` looks the TorchScript file up with :func:`find_weights`; ``False``
            leaves random weights.
    """

    def __init__(self, pretrained: Union[str, Path, None, bool] = None) -> None:
        super().__init__()
        L = nn.Sequential()
        L.add_module('conv', Conv2dLayer(3, 32, 3, stride=2))
        L.add_module('conv_1', Conv2dLayer(32, 32, 3))
        L.add_module('conv_2', Conv2dLayer(32, 64, 3, padding=1))
        L.add_module('pool0', nn.MaxPool2d(3, 2))
        L.add_module('conv_3', Conv2dLayer(64, 80, 1))
        L.add_module('conv_4', Conv2dLayer(80, 192, 3))
        L.add_module('pool1', nn.MaxPool2d(3, 2))
        L.add_module('mixed', InceptionA(192, 32))
        L.add_module('mixed_1', InceptionA(256, 64))
        L.add_module('mixed_2', InceptionA(288, 64))
        L.add_module('mixed_3', InceptionB(288))
        L.add_module('mixed_4', InceptionC(768, 128))
        L.add_module('mixed_5', InceptionC(768, 160))
        L.add_module('mixed_6', InceptionC(768, 160))
        L.add_module('mixed_7', InceptionC(768, 192))
        L.add_module('mixed_8', InceptionD(768))
        L.add_module('mixed_9', InceptionE(1280, 'avg'))
        L.add_module('mixed_10', InceptionE(2048, 'max'))
        L.add_module('pool2', nn.AdaptiveAvgPool2d(1))
        self.layers = L
        self.output = nn.Linear(2048, 1008)
        if pretrained is not False:
            path = find_weights(TORCHSCRIPT_FILE, pretrained, config_key='inception_path',
                                source=TORCHSCRIPT_URL)
            load_fid_inception(self, path)
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    @staticmethod
    def resize(x: torch.Tensor, size: int = 299) -> torch.Tensor:
        """TF-legacy bilinear resize (``align_corners=False`` without half-pixel centres)."""
        n, c, h, w = x.shape
        theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
        theta[:, 0, 0] = 1
        theta[:, 1, 1] = 1
        theta[:, 0, 2] = 1.0 / w - 1.0 / size
        theta[:, 1, 2] = 1.0 / h - 1.0 / size
        grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
        return F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)

    def forward(self, img: torch.Tensor, return_features: bool = True) -> torch.Tensor:
        """``img``: NCHW RGB on the 0..255 scale (uint8 or float). Returns (N, 2048)
        pool features, or (N, 1008) class probabilities with ``return_features=False``."""
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError('FIDInceptionV3 expects NCHW RGB images (N x 3 x H x W)')
        x = self.resize(img.to(torch.float32))
        x = (x - 128.0) / 128.0
        feats = self.layers(x).reshape(-1, 2048)
        if return_features:
            return feats
        return F.softmax(self.output(feats), dim=1)


# ------------------------------------------------------------------ loading
# load_torchscript_tensors (imported above) lives in irkit.fileio.safe_unpickle, irkit's one
# restricted unpickler; it is re-exported here for the FID / P-IDS code and its tests.


# pytorch-fid's pt_inception-2015-12-05-6726825d.pth (torchvision names) -> these names
def _pytorch_fid_names() -> Dict[str, str]:
    m = {'Conv2d_1a_3x3': 'layers.conv', 'Conv2d_2a_3x3': 'layers.conv_1',
         'Conv2d_2b_3x3': 'layers.conv_2', 'Conv2d_3b_1x1': 'layers.conv_3',
         'Conv2d_4a_3x3': 'layers.conv_4'}
    a = {'branch1x1': 'conv', 'branch5x5_1': 'tower.conv', 'branch5x5_2': 'tower.conv_1',
         'branch3x3dbl_1': 'tower_1.conv', 'branch3x3dbl_2': 'tower_1.conv_1',
         'branch3x3dbl_3': 'tower_1.conv_2', 'branch_pool': 'tower_2.conv'}
    b = {'branch3x3': 'conv', 'branch3x3dbl_1': 'tower.conv', 'branch3x3dbl_2': 'tower.conv_1',
         'branch3x3dbl_3': 'tower.conv_2'}
    c = {'branch1x1': 'conv', 'branch7x7_1': 'tower.conv', 'branch7x7_2': 'tower.conv_1',
         'branch7x7_3': 'tower.conv_2', 'branch_pool': 'tower_2.conv'}
    c.update({f'branch7x7dbl_{i + 1}': f'tower_1.conv{"_" + str(i) if i else ""}' for i in range(5)})
    d = {'branch3x3_1': 'tower.conv', 'branch3x3_2': 'tower.conv_1'}
    d.update({f'branch7x7x3_{i + 1}': f'tower_1.conv{"_" + str(i) if i else ""}' for i in range(4)})
    e = {'branch1x1': 'conv', 'branch3x3_1': 'tower_conv', 'branch3x3_2a': 'tower_mixed_conv',
         'branch3x3_2b': 'tower_mixed_conv_1', 'branch3x3dbl_1': 'tower_1_conv',
         'branch3x3dbl_2': 'tower_1_conv_1', 'branch3x3dbl_3a': 'tower_1_mixed_conv',
         'branch3x3dbl_3b': 'tower_1_mixed_conv_1', 'branch_pool': 'tower_2_conv'}
    blocks = [('Mixed_5b', 'mixed', a), ('Mixed_5c', 'mixed_1', a), ('Mixed_5d', 'mixed_2', a),
              ('Mixed_6a', 'mixed_3', b), ('Mixed_6b', 'mixed_4', c), ('Mixed_6c', 'mixed_5', c),
              ('Mixed_6d', 'mixed_6', c), ('Mixed_6e', 'mixed_7', c), ('Mixed_7a', 'mixed_8', d),
              ('Mixed_7b', 'mixed_9', e), ('Mixed_7c', 'mixed_10', e)]
    for src, dst, table in blocks:
        for k, v in table.items():
            m[f'{src}.{k}'] = f'layers.{dst}.{v}'
    return m


def convert_pytorch_fid(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map pytorch-fid's FID weights (torchvision names, BN with gamma) to these names.

    The BN scale gamma is folded into the conv weight and running mean (exact:
    gamma (conv(x) - mean) = conv_{gamma w}(x) - gamma mean).
    """
    out = {}
    for src, dst in _pytorch_fid_names().items():
        gamma = state.get(f'{src}.bn.weight')
        w = state[f'{src}.conv.weight']
        mean = state[f'{src}.bn.running_mean']
        if gamma is not None:
            w = w * gamma.view(-1, 1, 1, 1)
            mean = mean * gamma
        out[f'{dst}.weight'] = w
        out[f'{dst}.beta'] = state[f'{src}.bn.bias']
        out[f'{dst}.mean'] = mean
        out[f'{dst}.var'] = state[f'{src}.bn.running_var']
    out['output.weight'] = state['fc.weight']
    out['output.bias'] = state['fc.bias']
    return out


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold ``code/``; ``torch.save`` zips do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any('/code/' in n or n.startswith('code/') for n in zf.namelist())


def load_fid_inception(model: FIDInceptionV3, path: Union[str, Path]) -> None:
    """Load StyleGAN2-ADA's TorchScript file, or a state_dict (irkit or pytorch-fid names)."""
    path = Path(path)
    if _is_torchscript(path):
        state = load_torchscript_tensors(path)
    else:
        from irkit.archs.common.vgg import load_state_dict_file
        state = load_state_dict_file(path)
        if 'Conv2d_1a_3x3.conv.weight' in state:
            state = convert_pytorch_fid(state)
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(state))
    if missing:
        raise KeyError(f'{path}: not an FID Inception-v3 file; missing {len(missing)} tensors, '
                       f'e.g. {missing[:3]}')
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(f'{path}: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}')
    model.load_state_dict(state, strict=True)
