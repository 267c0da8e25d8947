"""StyleGAN2 building blocks in plain PyTorch.

The layers follow the conventions of StyleGAN2 / StyleGAN2-ADA (Karras et al.,
"Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020; "Training
Generative Adversarial Networks with Limited Data", NeurIPS 2020) as used by MAT
and Co-Mod-GAN:

* equalised learning rate: weights are stored ~N(0, 1) (divided by the lr
  multiplier) and scaled by ``lr_multiplier / sqrt(fan_in)`` at run time;
* fused bias + activation (``lrelu`` has slope 0.2 and output gain sqrt(2));
* FIR resampling with the normalised ``[1, 3, 3, 1]`` outer-product filter
  (blur then strided conv to go down, transposed conv then blur to go up);
* modulated / demodulated convolution, noise injection, minibatch standard
  deviation and the mapping network with ``w_avg`` tracking and truncation.

Attribute names (``weight``, ``bias``, ``resample_filter``, ``affine``,
``noise_const``, ``noise_strength``, ``fc{i}``, ``w_avg``) are those of the
official code so that released checkpoints load by name.  No custom CUDA ops
are needed: everything is written with standard PyTorch operators and runs on
CPU and GPU alike.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'ACTIVATIONS', 'setup_filter', 'upfirdn2d', 'upsample2d', 'downsample2d', 'bias_act',
    'conv2d_resample', 'normalize_2nd_moment', 'FullyConnectedLayer', 'Conv2dLayer',
    'ModulatedConv2d', 'StyleConv', 'ToRGB', 'MappingNet', 'MinibatchStdLayer', 'DisFromRGB',
    'DisBlock', 'dis_trunk', 'resolution_log2'
]

# name -> (function, default alpha, default gain)
ACTIVATIONS = {
    'linear': (lambda x, alpha: x, 0.0, 1.0),
    'relu': (lambda x, alpha: F.relu(x), 0.0, math.sqrt(2)),
    'lrelu': (lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2)),
    'tanh': (lambda x, alpha: torch.tanh(x), 0.0, 1.0),
    'sigmoid': (lambda x, alpha: torch.sigmoid(x), 0.0, 1.0),
}


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}'; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def resolution_log2(resolution: int, minimum: int, what: str) -> int:
    """``log2(resolution)``; ``ValueError`` unless it is a power of two >= ``minimum``
    (``what`` names the network and argument in the message)."""
    log2 = int(np.log2(resolution)) if resolution > 0 else 0
    if resolution != 2 ** log2 or resolution < minimum:
        raise ValueError(f'{what} must be a power of two >= {minimum}, got {resolution}')
    return log2


def default_gain(activation: str) -> float:
    """The output gain StyleGAN2 applies after ``activation`` (sqrt(2) for (l)relu)."""
    return _activation(activation)[2]


# ---------------------------------------------------------------------------
# functional ops
# ---------------------------------------------------------------------------
def setup_filter(f: Union[Sequence[float], torch.Tensor, None] = (1, 3, 3, 1),
                 normalize: bool = True) -> torch.Tensor:
    """2-D FIR filter from 1-D taps (outer product), normalised to unit DC gain."""
    if f is None:
        f = [1]
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim == 1:
        f = torch.outer(f, f)
    if f.ndim != 2:
        raise ValueError(f'FIR filter must be 1-D taps or a 2-D kernel, got shape {tuple(f.shape)}')
    if normalize:
        f = f / f.sum()
    return f


def _pair(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def _padding4(padding: Union[int, Sequence[int]]) -> Tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, ``[x, y]`` or ``[x0, x1, y0, y1]``."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    if len(padding) != 4:
        raise ValueError(f'padding must have 1, 2 or 4 entries, got {padding}')
    return tuple(padding)  # type: ignore[return-value]


def upfirdn2d(x: torch.Tensor, f: Optional[torch.Tensor], up: int = 1, down: int = 1,
              padding: Union[int, Sequence[int]] = 0, flip_filter: bool = False,
              gain: float = 1.0) -> torch.Tensor:
    """Upsample (zero insertion), pad (negative = crop), FIR filter, downsample.

    Same semantics as ``scipy.signal.upfirdn`` applied per channel over H and W.
    """
    if x.ndim != 4:
        raise ValueError(f'upfirdn2d expects NCHW input, got shape {tuple(x.shape)}')
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32, device=x.device)
    n, c, h, w = x.shape
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    if upx > 1 or upy > 1:  # insert zeros after every sample
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:  # true convolution: F.conv2d correlates, so flip the kernel
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    else:  # separable taps
        k = f[None, None].repeat(c, 1, 1)
        x = F.conv2d(x, k.unsqueeze(2), groups=c)
        x = F.conv2d(x, k.unsqueeze(3), groups=c)
    return x[:, :, ::downy, ::downx]


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2, gain: float = 1.0) -> torch.Tensor:
    """FIR upsampling by ``up`` (output size = input size x up)."""
    fh, fw = f.shape[0], f.shape[-1]
    p = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=p, gain=gain * up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """FIR downsampling by ``down`` (output size = input size / down)."""
    fh, fw = f.shape[0], f.shape[-1]
    p = [(fw - down + 1) // 2, (fw - down) // 2, (fh - down + 1) // 2, (fh - down) // 2]
    return upfirdn2d(x, f, down=down, padding=p)


def bias_act(x: torch.Tensor, b: Optional[torch.Tensor] = None, dim: int = 1,
             act: str = 'linear', alpha: Optional[float] = None, gain: Optional[float] = None,
             clamp: Optional[float] = None) -> torch.Tensor:
    """``clamp(act(x + b) * gain)`` with StyleGAN2's default alpha/gain per activation."""
    func, def_alpha, def_gain = _activation(act)
    alpha = float(def_alpha if alpha is None else alpha)
    gain = float(def_gain if gain is None else gain)
    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: Union[int, Sequence[int]] = 0,
          groups: int = 1, transpose: bool = False, flip_weight: bool = True) -> torch.Tensor:
    if not flip_weight:
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: Optional[torch.Tensor] = None,
                    up: int = 1, down: int = 1, padding: int = 0, groups: int = 1,
                    flip_weight: bool = True) -> torch.Tensor:
    """2-D convolution with optional FIR up/down-sampling (padding applied once).

    * ``down > 1``: blur (with the padding of the conv folded in) then strided conv;
    * ``up > 1``: transposed strided conv then blur (gain ``up**2``);
    * 1x1 kernels resample before (down) or after (up) the conv.
    """
    out_ch, in_per_group, kh, kw = w.shape
    fh, fw = (1, 1) if f is None else (f.shape[0], f.shape[-1])
    px0, px1, py0, py1 = _padding4(padding)
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1])
        return _conv(x, w, groups=groups, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up ** 2)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1])
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        # transposed conv: swap in/out channels of every group
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv(x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True,
                  flip_weight=not flip_weight)
        x = upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up ** 2)
        if down > 1:
            x = upfirdn2d(x, f, down=down)
        return x
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)
    x = upfirdn2d(x, None, padding=[px0, px1, py0, py1])
    x = _conv(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1:
        x = upfirdn2d(x, f, down=down)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x**2) + eps)`` along ``dim``."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


# ---------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------
class FullyConnectedLayer(nn.Module):
    """Equalised-lr linear layer with fused bias + activation."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation: str = 'linear', lr_multiplier: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        _activation(activation)
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias
        if b is not None and self.bias_gain != 1:
            b = b * self.bias_gain
        x = x.matmul(w.t())
        if self.activation == 'linear' and b is not None:
            return x + b.reshape([-1 if i == x.ndim - 1 else 1 for i in range(x.ndim)])
        return bias_act(x, b, act=self.activation, dim=x.ndim - 1)

    def extra_repr(self) -> str:
        return f'in={self.in_features}, out={self.out_features}, act={self.activation}'


class Conv2dLayer(nn.Module):
    """Equalised-lr conv with FIR up/down-sampling and fused bias + activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = 'linear', up: int = 1, down: int = 1,
                 resample_filter: Sequence[float] = (1, 3, 3, 1), conv_clamp: Optional[float] = None,
                 trainable: bool = True) -> None:
        super().__init__()
        self.activation = activation
        self.up = up
        self.down = down
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = default_gain(activation)
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        bias_t = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(bias_t) if bias_t is not None else None
        else:
            self.register_buffer('weight', weight)
            if bias_t is not None:
                self.register_buffer('bias', bias_t)
            else:
                self.bias = None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down,
                            padding=self.padding)
        act_gain = self.act_gain * gain
        act_clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=act_gain, clamp=act_clamp)


class ModulatedConv2d(nn.Module):
    """Style-modulated conv (weights scaled per sample by ``affine(style)``), grouped by sample."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, up: int = 1, down: int = 1,
                 resample_filter: Sequence[float] = (1, 3, 3, 1),
                 conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.demodulate = demodulate
        self.weight = nn.Parameter(torch.randn([1, out_channels, in_channels, kernel_size, kernel_size]))
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.up = up
        self.down = down
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(style_dim, in_channels, bias_init=1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch, in_channels, height, width = x.shape
        style = self.affine(style).view(batch, 1, in_channels, 1, 1)
        weight = self.weight * self.weight_gain * style
        if self.demodulate:
            dcoefs = (weight.pow(2).sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
            weight = weight * dcoefs.view(batch, self.out_channels, 1, 1, 1)
        weight = weight.view(batch * self.out_channels, in_channels, self.kernel_size, self.kernel_size)
        x = x.reshape(1, batch * in_channels, height, width)
        x = conv2d_resample(x, weight, f=self.resample_filter, up=self.up, down=self.down,
                            padding=self.padding, groups=batch)
        return x.view(batch, self.out_channels, *x.shape[2:])


class StyleConv(nn.Module):
    """Modulated conv + optional noise injection + bias + activation.

    ``noise_mode``: ``'random'`` (fresh N(0,1) per sample), ``'const'`` (the
    ``noise_const`` buffer) or ``'none'`` (no noise).
    """

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, resolution: int,
                 kernel_size: int = 3, up: int = 1, use_noise: bool = True,
                 activation: str = 'lrelu', resample_filter: Sequence[float] = (1, 3, 3, 1),
                 conv_clamp: Optional[float] = None, demodulate: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim,
                                    demodulate=demodulate, up=up, resample_filter=resample_filter,
                                    conv_clamp=conv_clamp)
        self.use_noise = use_noise
        self.resolution = resolution
        if use_noise:
            self.register_buffer('noise_const', torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.activation = activation
        self.act_gain = default_gain(activation)
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise_mode: str = 'random',
                gain: float = 1.0) -> torch.Tensor:
        if noise_mode not in ('random', 'const', 'none'):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got '{noise_mode}'")
        x = self.conv(x, style)
        if self.use_noise and noise_mode != 'none':
            if noise_mode == 'random':
                noise = torch.randn([x.shape[0], 1, x.shape[-2], x.shape[-1]], device=x.device) \
                    * self.noise_strength
            else:
                if tuple(self.noise_const.shape) != tuple(x.shape[-2:]):
                    raise ValueError(
                        f"noise_mode='const' needs a {self.resolution}x{self.resolution} feature map "
                        f"(the model's training resolution); got {tuple(x.shape[-2:])}. "
                        "Use noise_mode='random' for other input sizes.")
                noise = self.noise_const * self.noise_strength
            x = x + noise
        act_gain = self.act_gain * gain
        act_clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=act_gain, clamp=act_clamp)


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) + bias, plus the FIR-upsampled skip image."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, kernel_size: int = 1,
                 resample_filter: Sequence[float] = (1, 3, 3, 1), conv_clamp: Optional[float] = None,
                 demodulate: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim,
                                    demodulate=demodulate, resample_filter=resample_filter,
                                    conv_clamp=conv_clamp)
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, style: torch.Tensor,
                skip: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.conv(x, style)
        out = bias_act(x, self.bias, clamp=self.conv_clamp)
        if skip is not None:
            if skip.shape != out.shape:
                skip = upsample2d(skip, self.resample_filter)
            out = out + skip
        return out


class MappingNet(nn.Module):
    """z (and optional label c) -> w, broadcast to ``num_ws`` copies, with truncation.

    ``w_avg`` is an EMA (``w_avg_beta``) of the batch mean of w, updated in train
    mode unless ``skip_w_avg_update``; truncation lerps from ``w_avg`` towards w.
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: Optional[int],
                 num_layers: int = 8, embed_features: Optional[int] = None,
                 layer_features: Optional[int] = None, activation: str = 'lrelu',
                 lr_multiplier: float = 0.01, w_avg_beta: Optional[float] = 0.995) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f'fc{idx}', FullyConnectedLayer(features[idx], features[idx + 1],
                                                          activation=activation,
                                                          lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer('w_avg', torch.zeros([w_dim]))

    def forward(self, z: Optional[torch.Tensor], c: Optional[torch.Tensor],
                truncation_psi: float = 1, truncation_cutoff: Optional[int] = None,
                skip_w_avg_update: bool = False) -> torch.Tensor:
        x = None
        if self.z_dim > 0:
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f'fc{idx}')(x)
        if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ValueError('truncation needs w_avg tracking (w_avg_beta is None)')
            if self.num_ws is None or truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x = x.clone()
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class MinibatchStdLayer(nn.Module):
    """Appends the mean (over channels and pixels) of the per-group feature std."""

    def __init__(self, group_size: Optional[int], num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(self.group_size, n)
        if n % g != 0:
            raise ValueError(f'MinibatchStdLayer: batch size {n} is not a multiple of the group size {g}')
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DisFromRGB(nn.Module):
    """1x1 conv from image (+mask) channels to features."""

    def __init__(self, in_channels: int, out_channels: int, activation: str) -> None:
        super().__init__()
        self.conv = Conv2dLayer(in_channels, out_channels, kernel_size=1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DisBlock(nn.Module):
    """Residual discriminator block: 3x3 conv, 3x3 stride-2 conv and a 1x1 stride-2 skip (gain sqrt(0.5))."""

    def __init__(self, in_channels: int, out_channels: int, activation: str) -> None:
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels, kernel_size=3, activation=activation)
        self.conv1 = Conv2dLayer(in_channels, out_channels, kernel_size=3, down=2, activation=activation)
        self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, down=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(x, gain=np.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=np.sqrt(0.5))
        return skip + x


def dis_trunk(img_channels: int, resolution_log2: int, nf: Callable[[int], int], activation: str,
              mbstd_group_size: Optional[int], mbstd_num_channels: int, div: int = 1) -> nn.Sequential:
    """ResNet discriminator trunk on ``img_channels + 1`` input channels (image and mask).

    ``DisFromRGB`` to ``nf(resolution_log2)``, one ``DisBlock`` per resolution down to 8
    (``nf(res) -> nf(res - 1)``), the minibatch-std layer (when ``mbstd_num_channels > 0``)
    and a 3x3 conv to ``nf(2)`` at 4x4; every width divided by ``div``.
    """
    layers: List[nn.Module] = [DisFromRGB(img_channels + 1, nf(resolution_log2) // div, activation)]
    for res in range(resolution_log2, 2, -1):
        layers.append(DisBlock(nf(res) // div, nf(res - 1) // div, activation))
    if mbstd_num_channels > 0:
        layers.append(MinibatchStdLayer(group_size=mbstd_group_size, num_channels=mbstd_num_channels))
    layers.append(Conv2dLayer(nf(2) // div + mbstd_num_channels, nf(2) // div, kernel_size=3,
                              activation=activation))
    return nn.Sequential(*layers)
