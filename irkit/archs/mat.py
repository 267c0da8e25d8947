"""MAT: Mask-Aware Transformer for Large Hole Image Inpainting.

Li, Lin, Zhou, Qi, Wang, Jia, "MAT: Mask-Aware Transformer for Large Hole Image
Inpainting", CVPR 2022 (https://arxiv.org/abs/2203.15270).

A two-stage generator on a StyleGAN2 code base:

* stage 1: partial-conv head down to 64x64 tokens, a mask-aware transformer
  U-Net (64 -> 32 -> 16 -> 32 -> 64 tokens; window attention whose keys in
  holes get -100, no LayerNorm, fusion by concatenation, masks propagated only
  before the bottleneck), the style-manipulation module at 16x16 and a
  style-modulated conv decoder;
* stage 2: a Co-Mod-GAN style conv U-Net refiner with noise injection;

and a two-headed discriminator (final output and stage-1 output, the latter at
half width).

State-dict keys and shapes are those of the official implementation so the
released ``G_ema`` / ``D`` weights load with ``strict=True`` (see
``tools/convert_mat.py``).  The official channel table is the default of
``channel_table``; ``channel_table`` and ``stage1_dim`` shrink the model for
tests and small experiments.

Masks are ``N x 1 x H x W`` with 1 = known pixel, 0 = hole; images in [-1, 1].
Both "style manipulation" dropouts are drawn on every forward, in eval mode too
(as in the official code): seed torch's RNG for reproducible outputs.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.archs.common.stylegan2 import (Conv2dLayer, FullyConnectedLayer, MappingNet, StyleConv, ToRGB,
                                          dis_trunk, resolution_log2)
from irkit.fileio.weights import official_format
from irkit.registry import ARCHS

__all__ = ['MATGenerator', 'MATDiscriminator', 'MAT_CHANNEL_TABLE']

#: resolution -> channels, shared by generator stage 2 and the discriminator (official values)
MAT_CHANNEL_TABLE: Dict[int, int] = {512: 64, 256: 128, 128: 256, 64: 512, 32: 512, 16: 512, 8: 512, 4: 512}


def _channel_fn(channel_table: Optional[Mapping], img_resolution: int):
    """``nf(stage)`` -> width for resolution ``2**stage`` from a resolution->width table."""
    if channel_table is None:
        channel_table = MAT_CHANNEL_TABLE
    try:
        if isinstance(channel_table, Mapping):
            table = {int(k): int(v) for k, v in channel_table.items()}
        else:  # widths from img_resolution down to 4 (handy on the command line)
            widths = [int(v) for v in channel_table]
            table = {img_resolution >> i: w for i, w in enumerate(widths)}
    except (TypeError, ValueError) as e:
        raise ValueError('channel_table must map resolutions to widths (or list the widths from '
                         f'img_resolution down to 4), got {channel_table!r}') from e
    needed = [2 ** s for s in range(2, int(np.log2(img_resolution)) + 1)]
    missing = [r for r in needed if r not in table]
    if missing:
        raise ValueError(f'channel_table has no width for resolution(s) {missing} '
                         f'(needed for img_resolution={img_resolution}: {needed})')

    def nf(stage: int) -> int:
        return table[2 ** stage]

    return nf


def _check_resolution(img_resolution: int) -> int:
    return resolution_log2(img_resolution, 128, "MAT's img_resolution")


def token2feature(x: torch.Tensor, x_size) -> torch.Tensor:
    b, n, c = x.shape
    h, w = x_size
    return x.permute(0, 2, 1).reshape(b, c, h, w)


def feature2token(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.reshape(b, c, h * w).transpose(1, 2)


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, ws, ws, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, c)


def window_reverse(windows: torch.Tensor, window_size: int, h: int, w: int) -> torch.Tensor:
    """(B * nW, ws, ws, C) -> (B, H, W, C)."""
    b = int(windows.shape[0] / (h * w / window_size / window_size))
    x = windows.view(b, h // window_size, w // window_size, window_size, window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


# ---------------------------------------------------------------------------
# stage 1
# ---------------------------------------------------------------------------
class Conv2dLayerPartial(nn.Module):
    """Partial conv: the conv output (after bias and activation) is rescaled by
    ``k*k / (#valid in window)``; the new mask marks windows with any valid pixel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = 'linear', up: int = 1, down: int = 1,
                 resample_filter=(1, 3, 3, 1), conv_clamp: Optional[float] = None,
                 trainable: bool = True) -> None:
        super().__init__()
        self.conv = Conv2dLayer(in_channels, out_channels, kernel_size, bias, activation, up, down,
                                resample_filter, conv_clamp, trainable)
        self.kernel_size = kernel_size
        self.slide_winsize = kernel_size ** 2
        self.stride = down
        self.padding = kernel_size // 2 if kernel_size % 2 == 1 else 0

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None):
        if mask is None:
            return self.conv(x), None
        with torch.no_grad():
            ones = torch.ones(1, 1, self.kernel_size, self.kernel_size, dtype=x.dtype, device=x.device)
            update = F.conv2d(mask.to(x.dtype), ones, stride=self.stride, padding=self.padding)
            ratio = self.slide_winsize / (update + 1e-8)
            update = torch.clamp(update, 0, 1)
            ratio = ratio * update
        return self.conv(x) * ratio, update


class Mlp(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, out_features: Optional[int] = None) -> None:
        super().__init__()
        out_features = out_features or in_features
        self.fc1 = FullyConnectedLayer(in_features, hidden_features, activation='lrelu')
        self.fc2 = FullyConnectedLayer(hidden_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x))


class WindowAttention(nn.Module):
    """Multi-head contextual attention inside windows.

    q and k come from the L2-normalised tokens (over all channels); logits of keys
    that are holes get -100; after attention every token of a window with at
    least one valid token becomes valid.
    """

    def __init__(self, dim: int, window_size: int, num_heads: int) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = FullyConnectedLayer(dim, dim)
        self.k = FullyConnectedLayer(dim, dim)
        self.v = FullyConnectedLayer(dim, dim)
        self.proj = FullyConnectedLayer(dim, dim)

    def forward(self, x: torch.Tensor, mask_windows: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None):
        b_, n, c = x.shape
        h = self.num_heads
        norm_x = F.normalize(x, p=2.0, dim=-1)
        q = self.q(norm_x).reshape(b_, n, h, c // h).permute(0, 2, 1, 3)
        k = self.k(norm_x).reshape(b_, n, h, c // h).permute(0, 2, 3, 1)
        v = self.v(x).reshape(b_, n, h, c // h).permute(0, 2, 1, 3)
        attn = (q @ k) * self.scale
        if mask is not None:  # shifted-window regions
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, h, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, h, n, n)
        if mask_windows is not None:  # invalid keys
            valid = mask_windows.squeeze(-1).unsqueeze(1).unsqueeze(1)
            attn = attn + valid.masked_fill(valid == 0, -100.0).masked_fill(valid == 1, 0.0)
            with torch.no_grad():
                mask_windows = torch.clamp(mask_windows.sum(dim=1, keepdim=True), 0, 1).repeat(1, n, 1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj(x), mask_windows


class SwinTransformerBlock(nn.Module):
    """MAT's adjusted transformer block: no LayerNorm, ``fuse(cat(x, attn(x)))``, MLP without residual."""

    def __init__(self, dim: int, input_resolution: Tuple[int, int], num_heads: int,
                 window_size: int = 7, shift_size: int = 0, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.dim = dim
        self.input_resolution = tuple(input_resolution)
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        if min(self.input_resolution) <= self.window_size:
            self.shift_size = 0
            self.window_size = min(self.input_resolution)
        if not 0 <= self.shift_size < self.window_size:
            raise ValueError('shift_size must lie in [0, window_size)')
        self.attn = WindowAttention(dim, self.window_size, num_heads)
        self.fuse = FullyConnectedLayer(dim * 2, dim, activation='lrelu')
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        attn_mask = self.calculate_mask(self.input_resolution) if self.shift_size > 0 else None
        self.register_buffer('attn_mask', attn_mask)

    def calculate_mask(self, x_size) -> torch.Tensor:
        """-100 between tokens of different regions of the cyclically shifted map, else 0."""
        h, w = int(x_size[0]), int(x_size[1])
        ws, s = self.window_size, self.shift_size
        img_mask = torch.zeros((1, h, w, 1))
        cnt = 0
        for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                img_mask[:, hs, wsl, :] = cnt
                cnt += 1
        mw = window_partition(img_mask, ws).view(-1, ws * ws)
        attn_mask = mw.unsqueeze(1) - mw.unsqueeze(2)
        return attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)

    def forward(self, x: torch.Tensor, x_size, mask: Optional[torch.Tensor] = None):
        h, w = int(x_size[0]), int(x_size[1])
        b, length, c = x.shape
        if length != h * w:
            raise ValueError(f'token count {length} does not match the feature size {h}x{w}')
        ws, s = self.window_size, self.shift_size
        shortcut = x
        x = x.view(b, h, w, c)
        if mask is not None:
            mask = mask.view(b, h, w, 1)
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
            if mask is not None:
                mask = torch.roll(mask, shifts=(-s, -s), dims=(1, 2))
        x_windows = window_partition(x, ws).view(-1, ws * ws, c)
        mask_windows = window_partition(mask, ws).view(-1, ws * ws, 1) if mask is not None else None
        if s > 0:
            if (h, w) == self.input_resolution:
                region_mask = self.attn_mask
            else:
                region_mask = self.calculate_mask((h, w)).to(x.device)
        else:
            region_mask = None  # one region: the official all-zero mask adds nothing
        attn_windows, mask_windows = self.attn(x_windows, mask_windows, mask=region_mask)
        x = window_reverse(attn_windows.view(-1, ws, ws, c), ws, h, w)
        if mask is not None:
            mask = window_reverse(mask_windows.view(-1, ws, ws, 1), ws, h, w)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
            if mask is not None:
                mask = torch.roll(mask, shifts=(s, s), dims=(1, 2))
        x = x.reshape(b, h * w, c)
        if mask is not None:
            mask = mask.reshape(b, h * w, 1)
        x = self.fuse(torch.cat([shortcut, x], dim=-1))
        x = self.mlp(x)
        return x, mask


class PatchMerging(nn.Module):
    """Partial 3x3 stride-2 conv between token maps."""

    def __init__(self, in_channels: int, out_channels: int, down: int = 2) -> None:
        super().__init__()
        self.conv = Conv2dLayerPartial(in_channels, out_channels, kernel_size=3, activation='lrelu', down=down)
        self.down = down

    def forward(self, x: torch.Tensor, x_size, mask: Optional[torch.Tensor] = None):
        x = token2feature(x, x_size)
        if mask is not None:
            mask = token2feature(mask, x_size)
        x, mask = self.conv(x, mask)
        if self.down != 1:
            x_size = (int(x_size[0] / self.down), int(x_size[1] / self.down))
        x = feature2token(x)
        if mask is not None:
            mask = feature2token(mask)
        return x, x_size, mask


class PatchUpsampling(nn.Module):
    """3x3 conv with x2 FIR upsampling between token maps (used after the bottleneck, mask-free)."""

    def __init__(self, in_channels: int, out_channels: int, up: int = 2) -> None:
        super().__init__()
        self.conv = Conv2dLayerPartial(in_channels, out_channels, kernel_size=3, activation='lrelu', up=up)
        self.up = up

    def forward(self, x: torch.Tensor, x_size, mask: Optional[torch.Tensor] = None):
        if mask is not None:
            raise ValueError('PatchUpsampling runs after the bottleneck, where MAT propagates no mask')
        x, _ = self.conv(token2feature(x, x_size), None)
        x_size = (int(x_size[0] * self.up), int(x_size[1] * self.up))
        return feature2token(x), x_size, None


class BasicLayer(nn.Module):
    """Optional resampling, ``depth`` transformer blocks (odd ones shifted), a partial 3x3
    conv, and a residual around blocks + conv."""

    def __init__(self, dim: int, input_resolution, depth: int, num_heads: int, window_size: int,
                 mlp_ratio: float = 2.0, downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.dim = dim
        self.input_resolution = input_resolution
        self.depth = depth
        self.downsample = downsample
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, input_resolution, num_heads, window_size=window_size,
                                 shift_size=0 if i % 2 == 0 else window_size // 2, mlp_ratio=mlp_ratio)
            for i in range(depth)])
        self.conv = Conv2dLayerPartial(dim, dim, kernel_size=3, activation='lrelu')

    def forward(self, x: torch.Tensor, x_size, mask: Optional[torch.Tensor] = None):
        if self.downsample is not None:
            x, x_size, mask = self.downsample(x, x_size, mask)
        identity = x
        for blk in self.blocks:
            x, mask = blk(x, x_size, mask)
        if mask is not None:
            mask = token2feature(mask, x_size)
        x, mask = self.conv(token2feature(x, x_size), mask)
        x = feature2token(x) + identity
        if mask is not None:
            mask = feature2token(mask)
        return x, x_size, mask


class DecStyleBlock(nn.Module):
    """Stage-1 decoder block: StyleConv up x2, + encoder skip, StyleConv, ToRGB (+ upsampled image)."""

    def __init__(self, res: int, in_channels: int, out_channels: int, activation: str, style_dim: int,
                 use_noise: bool, demodulate: bool, img_channels: int) -> None:
        super().__init__()
        self.res = res
        self.conv0 = StyleConv(in_channels, out_channels, style_dim, resolution=2 ** res, kernel_size=3,
                               up=2, use_noise=use_noise, activation=activation, demodulate=demodulate)
        self.conv1 = StyleConv(out_channels, out_channels, style_dim, resolution=2 ** res, kernel_size=3,
                               use_noise=use_noise, activation=activation, demodulate=demodulate)
        self.toRGB = ToRGB(out_channels, img_channels, style_dim, kernel_size=1, demodulate=False)

    def forward(self, x, img, style, skip, noise_mode: str = 'random'):
        x = self.conv0(x, style, noise_mode=noise_mode)
        x = x + skip
        x = self.conv1(x, style, noise_mode=noise_mode)
        img = self.toRGB(x, style, skip=img)
        return x, img


class FirstStage(nn.Module):
    """Stage 1: partial-conv head, mask-aware transformer U-Net, style manipulation, conv decoder."""

    depths = (2, 3, 4, 3, 2)
    ratios = (1, 0.5, 0.5, 2, 2)
    window_sizes = (8, 16, 16, 16, 8)
    num_heads = 6

    def __init__(self, img_channels: int, img_resolution: int = 256, dim: int = 180, w_dim: int = 512,
                 use_noise: bool = False, demodulate: bool = True, activation: str = 'lrelu') -> None:
        super().__init__()
        if dim % self.num_heads:
            raise ValueError(f'stage1_dim must be divisible by {self.num_heads} heads, got {dim}')
        res = 64
        self.conv_first = Conv2dLayerPartial(img_channels + 1, dim, kernel_size=3, activation=activation)
        self.enc_conv = nn.ModuleList()
        down_time = int(np.log2(img_resolution // res))
        for _ in range(down_time):
            self.enc_conv.append(Conv2dLayerPartial(dim, dim, kernel_size=3, down=2, activation=activation))
        self.tran = nn.ModuleList()
        for i, depth in enumerate(self.depths):
            ratio = self.ratios[i]
            res = int(res * ratio)
            if ratio < 1:
                merge = PatchMerging(dim, dim, down=int(1 / ratio))
            elif ratio > 1:
                merge = PatchUpsampling(dim, dim, up=int(ratio))
            else:
                merge = None
            self.tran.append(BasicLayer(dim, [res, res], depth, self.num_heads, self.window_sizes[i],
                                        downsample=merge))
        down_conv: List[nn.Module] = [Conv2dLayer(dim, dim, kernel_size=3, down=2, activation=activation)
                                      for _ in range(int(np.log2(16)))]
        down_conv.append(nn.AdaptiveAvgPool2d((1, 1)))
        self.down_conv = nn.Sequential(*down_conv)
        self.to_style = FullyConnectedLayer(dim, dim * 2, activation=activation)
        self.ws_style = FullyConnectedLayer(w_dim, dim, activation=activation)
        self.to_square = FullyConnectedLayer(dim, 16 * 16, activation=activation)
        style_dim = dim * 3
        self.dec_conv = nn.ModuleList()
        for _ in range(down_time):
            res = res * 2
            self.dec_conv.append(DecStyleBlock(res, dim, dim, activation, style_dim, use_noise, demodulate,
                                               img_channels))

    def forward(self, images_in: torch.Tensor, masks_in: torch.Tensor, ws: torch.Tensor,
                noise_mode: str = 'random') -> torch.Tensor:
        x = torch.cat([masks_in - 0.5, images_in * masks_in], dim=1)
        skips = []
        x, mask = self.conv_first(x, masks_in)
        skips.append(x)
        for i, block in enumerate(self.enc_conv):
            x, mask = block(x, mask)
            if i != len(self.enc_conv) - 1:
                skips.append(x)
        x_size = tuple(x.shape[-2:])
        x = feature2token(x)
        mask = feature2token(mask)
        mid = len(self.tran) // 2
        style = None
        for i, block in enumerate(self.tran):
            if i < mid:  # masks are propagated only before the bottleneck
                x, x_size, mask = block(x, x_size, mask)
                skips.append(x)
            elif i > mid:
                x, x_size, _ = block(x, x_size, None)
                x = x + skips[mid - i]
            else:
                x, x_size, _ = block(x, x_size, None)
                # style manipulation: Bernoulli(0.5) keep map, drawn in eval mode too
                mul_map = F.dropout(torch.ones_like(x) * 0.5, training=True)
                s = self.ws_style(ws[:, -1])
                add_n = self.to_square(s).unsqueeze(1)
                add_n = F.interpolate(add_n, size=x.size(1), mode='linear', align_corners=False)
                add_n = add_n.squeeze(1).unsqueeze(-1)
                x = x * mul_map + add_n * (1 - mul_map)
                gs = self.to_style(self.down_conv(token2feature(x, x_size)).flatten(start_dim=1))
                style = torch.cat([gs, s], dim=1)
        x = token2feature(x, x_size).contiguous()
        img = None
        n_dec = len(self.dec_conv)
        for i, block in enumerate(self.dec_conv):
            x, img = block(x, img, style, skips[n_dec - i - 1], noise_mode=noise_mode)
        return img * (1 - masks_in) + images_in * masks_in


# ---------------------------------------------------------------------------
# stage 2
# ---------------------------------------------------------------------------
class EncFromRGB(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, activation: str) -> None:
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, out_channels, kernel_size=1, activation=activation)
        self.conv1 = Conv2dLayer(out_channels, out_channels, kernel_size=3, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.conv0(x))


class ConvBlockDown(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, activation: str) -> None:
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, out_channels, kernel_size=3, activation=activation, down=2)
        self.conv1 = Conv2dLayer(out_channels, out_channels, kernel_size=3, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.conv0(x))


class Encoder(nn.Module):
    """Conv encoder from full resolution down to 16x16; returns {log2(res): feature}."""

    def __init__(self, res_log2: int, img_channels: int, activation: str, nf) -> None:
        super().__init__()
        self.resolution = []
        for i in range(res_log2, 3, -1):
            res = 2 ** i
            self.resolution.append(res)
            if i == res_log2:
                block = EncFromRGB(img_channels * 2 + 1, nf(i), activation)
            else:
                block = ConvBlockDown(nf(i + 1), nf(i), activation)
            setattr(self, 'EncConv_Block_%dx%d' % (res, res), block)

    def forward(self, x: torch.Tensor) -> Dict[int, torch.Tensor]:
        out = {}
        for res in self.resolution:
            x = getattr(self, 'EncConv_Block_%dx%d' % (res, res))(x)
            out[int(np.log2(res))] = x
        return out


class ToStyle(nn.Module):
    """Three stride-2 3x3 convs, global average pool, FC: the global style code."""

    def __init__(self, in_channels: int, out_channels: int, activation: str) -> None:
        super().__init__()
        self.conv = nn.Sequential(*[Conv2dLayer(in_channels, in_channels, kernel_size=3, activation=activation,
                                                down=2) for _ in range(3)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = FullyConnectedLayer(in_channels, out_channels, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)).flatten(start_dim=1))


class DecBlockFirstV2(nn.Module):
    def __init__(self, res: int, in_channels: int, out_channels: int, activation: str, style_dim: int,
                 use_noise: bool, demodulate: bool, img_channels: int) -> None:
        super().__init__()
        self.res = res
        self.conv0 = Conv2dLayer(in_channels, in_channels, kernel_size=3, activation=activation)
        self.conv1 = StyleConv(in_channels, out_channels, style_dim, resolution=2 ** res, kernel_size=3,
                               use_noise=use_noise, activation=activation, demodulate=demodulate)
        self.toRGB = ToRGB(out_channels, img_channels, style_dim, kernel_size=1, demodulate=False)

    def forward(self, x, ws, gs, E_features, noise_mode: str = 'random'):
        x = self.conv0(x)
        x = x + E_features[self.res]
        x = self.conv1(x, torch.cat([ws[:, 0], gs], dim=1), noise_mode=noise_mode)
        img = self.toRGB(x, torch.cat([ws[:, 1], gs], dim=1), skip=None)
        return x, img


class DecBlock(nn.Module):
    def __init__(self, res: int, in_channels: int, out_channels: int, activation: str, style_dim: int,
                 use_noise: bool, demodulate: bool, img_channels: int) -> None:
        super().__init__()
        self.res = res
        self.conv0 = StyleConv(in_channels, out_channels, style_dim, resolution=2 ** res, kernel_size=3, up=2,
                               use_noise=use_noise, activation=activation, demodulate=demodulate)
        self.conv1 = StyleConv(out_channels, out_channels, style_dim, resolution=2 ** res, kernel_size=3,
                               use_noise=use_noise, activation=activation, demodulate=demodulate)
        self.toRGB = ToRGB(out_channels, img_channels, style_dim, kernel_size=1, demodulate=False)

    def forward(self, x, img, ws, gs, E_features, noise_mode: str = 'random'):
        x = self.conv0(x, torch.cat([ws[:, self.res * 2 - 9], gs], dim=1), noise_mode=noise_mode)
        x = x + E_features[self.res]
        x = self.conv1(x, torch.cat([ws[:, self.res * 2 - 8], gs], dim=1), noise_mode=noise_mode)
        img = self.toRGB(x, torch.cat([ws[:, self.res * 2 - 7], gs], dim=1), skip=img)
        return x, img


class Decoder(nn.Module):
    def __init__(self, res_log2: int, activation: str, style_dim: int, use_noise: bool, demodulate: bool,
                 img_channels: int, nf) -> None:
        super().__init__()
        self.Dec_16x16 = DecBlockFirstV2(4, nf(4), nf(4), activation, style_dim, use_noise, demodulate,
                                         img_channels)
        for res in range(5, res_log2 + 1):
            setattr(self, 'Dec_%dx%d' % (2 ** res, 2 ** res),
                    DecBlock(res, nf(res - 1), nf(res), activation, style_dim, use_noise, demodulate,
                             img_channels))
        self.res_log2 = res_log2

    def forward(self, x, ws, gs, E_features, noise_mode: str = 'random') -> torch.Tensor:
        x, img = self.Dec_16x16(x, ws, gs, E_features, noise_mode=noise_mode)
        for res in range(5, self.res_log2 + 1):
            x, img = getattr(self, 'Dec_%dx%d' % (2 ** res, 2 ** res))(x, img, ws, gs, E_features,
                                                                      noise_mode=noise_mode)
        return img


class SynthesisNet(nn.Module):
    """Stage 1 + stage 2 (conv U-Net refiner); composites the known pixels after each stage."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int = 3,
                 channel_base: int = 32768, channel_decay: float = 1.0, channel_max: int = 512,
                 activation: str = 'lrelu', drop_rate: float = 0.5, use_noise: bool = True,
                 demodulate: bool = True, channel_table: Optional[Mapping] = None,
                 stage1_dim: int = 180) -> None:
        super().__init__()
        # channel_base / channel_decay / channel_max / drop_rate are accepted for compatibility with
        # the official constructor and, as there, have no effect (widths come from channel_table).
        resolution_log2 = _check_resolution(img_resolution)
        nf = _channel_fn(channel_table, img_resolution)
        self.num_layers = resolution_log2 * 2 - 3 * 2
        self.img_resolution = img_resolution
        self.resolution_log2 = resolution_log2
        self.first_stage = FirstStage(img_channels, img_resolution=img_resolution, dim=stage1_dim,
                                      w_dim=w_dim, use_noise=False, demodulate=demodulate)
        self.enc = Encoder(resolution_log2, img_channels, activation, nf)
        self.to_square = FullyConnectedLayer(w_dim, 16 * 16, activation=activation)
        self.to_style = ToStyle(nf(4), nf(2) * 2, activation)
        style_dim = w_dim + nf(2) * 2
        self.dec = Decoder(resolution_log2, activation, style_dim, use_noise, demodulate, img_channels, nf)

    def forward(self, images_in: torch.Tensor, masks_in: torch.Tensor, ws: torch.Tensor,
                noise_mode: str = 'random', return_stg1: bool = False):
        out_stg1 = self.first_stage(images_in, masks_in, ws, noise_mode=noise_mode)
        x = images_in * masks_in + out_stg1 * (1 - masks_in)
        x = torch.cat([masks_in - 0.5, x, images_in * masks_in], dim=1)
        E_features = self.enc(x)
        fea_16 = E_features[4]
        mul_map = F.dropout(torch.ones_like(fea_16) * 0.5, training=True)  # always on, as in the paper
        add_n = self.to_square(ws[:, 0]).view(-1, 16, 16).unsqueeze(1)
        add_n = F.interpolate(add_n, size=fea_16.size()[-2:], mode='bilinear', align_corners=False)
        fea_16 = fea_16 * mul_map + add_n * (1 - mul_map)
        E_features[4] = fea_16
        gs = self.to_style(fea_16)
        img = self.dec(fea_16, ws, gs, E_features, noise_mode=noise_mode)
        img = img * (1 - masks_in) + images_in * masks_in
        if return_stg1:
            return img, out_stg1
        return img


@ARCHS.register_module()
class MATGenerator(nn.Module):
    """MAT generator (official ``networks.mat.Generator``).

    Args:
        z_dim, c_dim, w_dim, img_resolution, img_channels: as in the official code
            (released models: 512, 0, 512, 512, 3).
        synthesis_kwargs: extra ``SynthesisNet`` arguments (``activation``,
            ``use_noise``, ``demodulate``, and the no-op ``channel_base`` ...).
        mapping_kwargs: extra ``MappingNet`` arguments (``num_layers``,
            ``lr_multiplier``, ``w_avg_beta`` ...).
        channel_table: resolution -> width for stage 2 (default: the official
            table ``{512: 64, 256: 128, 128: 256, 64..4: 512}``), or a list of the
            widths from ``img_resolution`` down to 4.
        stage1_dim: transformer width of stage 1 (default 180, 6 heads).

    ``forward(images_in, masks_in, z, c, truncation_psi=1, truncation_cutoff=None,
    skip_w_avg_update=False, noise_mode='random', return_stg1=False)`` returns the
    inpainted image in [-1, 1] (and the stage-1 output with ``return_stg1``).
    """

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 512,
                 img_channels: int = 3, synthesis_kwargs: Optional[dict] = None,
                 mapping_kwargs: Optional[dict] = None, channel_table: Optional[Mapping] = None,
                 stage1_dim: int = 180) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNet(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                      channel_table=channel_table, stage1_dim=stage1_dim,
                                      **dict(synthesis_kwargs or {}))
        self.mapping = MappingNet(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.synthesis.num_layers,
                                  **dict(mapping_kwargs or {}))

    @property
    def num_ws(self) -> int:
        return self.synthesis.num_layers

    @property
    def inpaint_io(self) -> dict:
        """irkit's adapter: [-1, 1] images, mask 1 = known, the net masks and composites
        itself; fixed resolution (``MATInpaintor`` calls the mapping and synthesis itself)."""
        return dict(value_range=(-1.0, 1.0), mask='known', hole_fill=None, outputs=('pred', 'stage1'),
                    resize_to=self.img_resolution)

    def forward(self, images_in: torch.Tensor, masks_in: torch.Tensor, z: torch.Tensor,
                c: Optional[torch.Tensor] = None, truncation_psi: float = 1,
                truncation_cutoff: Optional[int] = None, skip_w_avg_update: bool = False,
                noise_mode: str = 'random', return_stg1: bool = False):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          skip_w_avg_update=skip_w_avg_update)
        return self.synthesis(images_in, masks_in, ws, noise_mode=noise_mode, return_stg1=return_stg1)


@ARCHS.register_module()
class MATDiscriminator(nn.Module):
    """MAT's two-headed discriminator (official ``networks.mat.Discriminator``).

    ``forward(images_in, masks_in, images_stg1, c)`` returns ``(logits, logits_stg1)``:
    a ResNet StyleGAN2 discriminator on ``cat(mask - 0.5, image)`` and a half-width
    one on ``cat(mask - 0.5, stage-1 image)``.  ``channel_base``, ``channel_max``
    and ``channel_decay`` are accepted and ignored, as in the official code.
    """

    def __init__(self, c_dim: int = 0, img_resolution: int = 512, img_channels: int = 3,
                 channel_base: int = 32768, channel_max: int = 512, channel_decay: float = 1,
                 cmap_dim: Optional[int] = None, activation: str = 'lrelu', mbstd_group_size: Optional[int] = 4,
                 mbstd_num_channels: int = 1, channel_table: Optional[Mapping] = None) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.resolution_log2 = log2 = resolution_log2(img_resolution, 4, 'img_resolution')
        nf = _channel_fn(channel_table, img_resolution)
        if cmap_dim is None:
            cmap_dim = nf(2)
        if c_dim == 0:
            cmap_dim = 0
        self.cmap_dim = cmap_dim
        if c_dim > 0:
            self.mapping = MappingNet(z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None)
        self.Dis = dis_trunk(img_channels, log2, nf, activation, mbstd_group_size, mbstd_num_channels)
        self.fc0 = FullyConnectedLayer(nf(2) * 4 ** 2, nf(2), activation=activation)
        self.fc1 = FullyConnectedLayer(nf(2), 1 if cmap_dim == 0 else cmap_dim)
        self.Dis_stg1 = dis_trunk(img_channels, log2, nf, activation, mbstd_group_size,
                                  mbstd_num_channels, div=2)
        self.fc0_stg1 = FullyConnectedLayer(nf(2) // 2 * 4 ** 2, nf(2) // 2, activation=activation)
        self.fc1_stg1 = FullyConnectedLayer(nf(2) // 2, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, images_in: torch.Tensor, masks_in: torch.Tensor, images_stg1: torch.Tensor,
                c: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.Dis(torch.cat([masks_in - 0.5, images_in], dim=1))
        x = self.fc1(self.fc0(x.flatten(start_dim=1)))
        x_stg1 = self.Dis_stg1(torch.cat([masks_in - 0.5, images_stg1], dim=1))
        x_stg1 = self.fc1_stg1(self.fc0_stg1(x_stg1.flatten(start_dim=1)))
        if self.c_dim > 0:
            cmap = self.mapping(None, c)
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
            x_stg1 = (x_stg1 * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x, x_stg1


_MAT_PARTS = (('G_ema', 'generator_ema'), ('G', 'generator'), ('D', 'discriminator'))


@official_format('mat', container='stylegan_pickle',
                 description="MAT release Places_512.pkl / CelebA-HQ_512.pkl (StyleGAN2-ADA snapshot): "
                 "'G_ema' (+ 'G', 'D' when present: a whole MATInpaintor)")
def mat_parts(data, path: str) -> dict:
    """A StyleGAN2 snapshot ``{'G', 'D', 'G_ema', ...}`` read by the restricted unpickler (a plain
    pickle, or a ``torch.save`` archive of the same dict): one state dict per network."""
    from collections import OrderedDict

    from irkit.fileio.safe_unpickle import Opaque, module_state
    from irkit.fileio.weights import ConversionError, tensor_dict
    if not isinstance(data, dict) or data.get('G_ema') is None:
        top = ', '.join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ConversionError(f"{path}: not a MAT snapshot: no 'G_ema' entry (found {top})")
    parts = {}
    for src, dst in _MAT_PARTS:
        obj = data.get(src)
        if obj is None:
            continue
        if isinstance(obj, Opaque):
            parts[dst] = OrderedDict((k, v.detach().clone()) for k, v in module_state(obj).items())
        elif isinstance(obj, dict):
            parts[dst] = tensor_dict(obj, path, f"['{src}']")
        else:
            raise ConversionError(f"{path}: ['{src}'] is neither a network nor a state dict")
    return parts
