"""StyleGAN2 layers with the parameter layout of rosinality/stylegan2-pytorch.

Same operations as :mod:`irkit.archs.common.stylegan2` (equalised learning rate, lrelu
with gain sqrt(2), FIR ``[1, 3, 3, 1]`` resampling, (de)modulated convolution, noise
injection; Karras et al., "Analyzing and Improving the Image Quality of StyleGAN",
CVPR 2020), but stored the way rosinality's PyTorch re-implementation stores them, so
that checkpoints of ports built on it (e.g. zengxianyu/co-mod-gan-pytorch, the converted
Co-Mod-GAN weights) load by name:

* ``EqualConv2d`` keeps no bias when followed by an activation: the bias lives in the
  ``FusedLeakyReLU`` that follows (``ConvLayer`` is an ``nn.Sequential`` ``[Blur,]
  EqualConv2d[, FusedLeakyReLU]``, keys ``0.weight`` / ``1.bias`` ...);
* the style affine of a modulated conv is ``modulation``; the FIR filters are ``kernel``
  buffers of ``Blur`` / ``Upsample`` modules (absent when not resampling);
* noise injection has one ``weight`` per layer and draws fresh noise unless an explicit
  ``noise`` tensor is given;
* transposed convolutions use the kernel as stored (no spatial flip).

Everything is plain PyTorch (``upfirdn2d`` of the StyleGAN2 module): no compiled op.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.archs.common.stylegan2 import (FullyConnectedLayer, bias_act, normalize_2nd_moment,
                                          setup_filter, upfirdn2d)

__all__ = ['PixelNorm', 'EqualLinear', 'EqualConv2d', 'FusedLeakyReLU', 'Blur', 'Upsample', 'ConvLayer',
           'ModulatedConv2d', 'NoiseInjection', 'StyledConv', 'ToRGB']


class PixelNorm(nn.Module):
    """``x / sqrt(mean(x**2, dim=1) + 1e-8)`` (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return normalize_2nd_moment(x)


class EqualLinear(FullyConnectedLayer):
    """Equalised-lr linear layer (rosinality ``EqualLinear``): keys ``weight``, ``bias``.

    ``activation`` is ``None`` (linear) or ``'fused_lrelu'`` (bias, lrelu 0.2, gain sqrt(2));
    the weight and bias are scaled by ``lr_mul`` at run time.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: Optional[str] = None) -> None:
        if activation not in (None, 'fused_lrelu'):
            raise ValueError(f"EqualLinear activation must be None or 'fused_lrelu', got {activation!r}")
        super().__init__(in_dim, out_dim, bias=bias, activation='lrelu' if activation else 'linear',
                         lr_multiplier=lr_mul, bias_init=bias_init)


class EqualConv2d(nn.Module):
    """Equalised-lr conv: ``conv2d(x, weight / sqrt(fan_in), bias)``."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride,
                        padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f'{i}, {o}, {k}, stride={self.stride}, padding={self.padding}'


class FusedLeakyReLU(nn.Module):
    """Per-channel bias, leaky ReLU (slope 0.2) and gain sqrt(2)."""

    def __init__(self, channel: int, bias: bool = True, negative_slope: float = 0.2,
                 scale: float = 2 ** 0.5) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_act(x, self.bias, act='lrelu', alpha=self.negative_slope, gain=self.scale)


class Blur(nn.Module):
    """FIR filter (normalised outer product of ``kernel``, times ``upsample_factor**2``)
    with padding ``pad = (before, after)`` on both axes."""

    def __init__(self, kernel: Sequence[float], pad: Tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        self.register_buffer('kernel', setup_filter(kernel) * (upsample_factor ** 2))
        self.pad = (int(pad[0]), int(pad[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p0, p1 = self.pad
        return upfirdn2d(x, self.kernel, padding=(p0, p1, p0, p1))


class Upsample(nn.Module):
    """FIR upsampling by ``factor`` (zero insertion then the ``kernel`` filter x factor**2)."""

    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer('kernel', setup_filter(kernel) * (factor ** 2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p0, p1 = self.pad
        return upfirdn2d(x, self.kernel, up=self.factor, padding=(p0, p1, p0, p1))


class ConvLayer(nn.Sequential):
    """``[Blur,] EqualConv2d[, FusedLeakyReLU]``; ``downsample`` blurs then convolves with stride 2."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, downsample: bool = False,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1), bias: bool = True,
                 activate: bool = True) -> None:
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=padding, stride=stride,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel, bias=bias))
        super().__init__(*layers)


class ModulatedConv2d(nn.Module):
    """Per-sample modulated (and optionally demodulated) conv, grouped over the batch.

    ``upsample``: transposed stride-2 conv then ``Blur``. Keys: ``weight``
    ``[1, out, in, k, k]``, ``modulation.*`` and, when upsampling, ``blur.kernel``.
    (rosinality's ``downsample`` option is not needed by the ports irkit loads.)
    """

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.kernel_size = kernel_size
        self.upsample = upsample
        if upsample:
            p = (len(blur_kernel) - 2) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch, in_channel, height, width = x.shape
        k, out = self.kernel_size, self.out_channel
        style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, out, 1, 1, 1)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_channel, out, k, k)
            y = F.conv_transpose2d(x.reshape(1, batch * in_channel, height, width), weight,
                                   padding=0, stride=2, groups=batch)
            return self.blur(y.view(batch, out, *y.shape[2:]))
        y = F.conv2d(x.reshape(1, batch * in_channel, height, width),
                     weight.view(batch * out, in_channel, k, k), padding=self.padding, groups=batch)
        return y.view(batch, out, height, width)

    def extra_repr(self) -> str:
        return f'{self.in_channel}, {self.out_channel}, {self.kernel_size}, upsample={self.upsample}'



class NoiseInjection(nn.Module):
    """``x + weight * noise``; ``noise`` defaults to fresh N(0, 1) of shape ``[N, 1, H, W]``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        if noise is None:
            batch, _, height, width = x.shape
            noise = x.new_empty(batch, 1, height, width).normal_()
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated conv, noise injection, then ``FusedLeakyReLU`` (keys ``conv``, ``noise``, ``activate``)."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int,
                 upsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 demodulate: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel, demodulate=demodulate)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x: torch.Tensor, style: torch.Tensor,
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation + ``bias`` ``[1, C, 1, 1]``, plus the
    FIR-upsampled ``skip`` image (``upsample=False`` for the first, 4x4 layer)."""

    def __init__(self, in_channel: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1), out_channel: int = 3) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, out_channel, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_channel, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor,
                skip: Optional[torch.Tensor] = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out
