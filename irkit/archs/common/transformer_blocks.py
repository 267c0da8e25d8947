"""Restormer-style transformer blocks, shared by :mod:`irkit.archs.restormer` and
:mod:`irkit.archs.promptir`.

The blocks follow Restormer (Zamir et al., "Restormer: Efficient Transformer for
High-Resolution Image Restoration", CVPR 2022): multi-Dconv-head transposed
attention (MDTA), the gated-Dconv feed-forward network (GDFN), a per-pixel
LayerNorm over channels, overlapping patch embedding and pixel-(un)shuffle
resampling.  Attribute names match the official implementation so that the
released checkpoints load by name; the numerics match it too:

* LayerNorm eps 1e-5 inside the square root, population variance; the
  ``BiasFree`` variant divides the *uncentred* input by the standard deviation.
* Attention heads are the outer factor of the channel dimension; q and k are
  L2-normalised over space (eps 1e-12) and scaled by a learnable per-head
  temperature before the softmax over the channel-by-channel matrix.
* GDFN hidden width ``int(dim * ffn_expansion_factor)``; exact (erf) GELU.
* Patch embedding and the resampling convolutions never have a bias.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    'BiasFree_LayerNorm', 'WithBias_LayerNorm', 'LayerNorm', 'FeedForward', 'Attention',
    'TransformerBlock', 'OverlapPatchEmbed', 'Downsample', 'Upsample'
]

LAYERNORM_TYPES = ('WithBias', 'BiasFree')
_LN_EPS = 1e-5


class BiasFree_LayerNorm(nn.Module):
    """``x / sqrt(var(x) + 1e-5) * weight`` over the channel dim of NCHW input.

    The variance is taken around the mean (population variance) but ``x`` is
    not centred: this is neither a bias-free standard LayerNorm nor RMSNorm.
    """

    def __init__(self, normalized_shape: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(int(normalized_shape)))

    def forward(self, x: Tensor) -> Tensor:
        var = x.var(dim=1, keepdim=True, unbiased=False)
        return x / torch.sqrt(var + _LN_EPS) * self.weight.view(1, -1, 1, 1)


class WithBias_LayerNorm(nn.Module):
    """Standard LayerNorm over the channel dim of NCHW input (eps 1e-5)."""

    def __init__(self, normalized_shape: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(int(normalized_shape)))
        self.bias = nn.Parameter(torch.zeros(int(normalized_shape)))

    def forward(self, x: Tensor) -> Tensor:
        mu = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, unbiased=False)
        return ((x - mu) / torch.sqrt(var + _LN_EPS) * self.weight.view(1, -1, 1, 1)
                + self.bias.view(1, -1, 1, 1))


class LayerNorm(nn.Module):
    """Per-pixel channel LayerNorm; ``LayerNorm_type`` is ``'WithBias'`` or ``'BiasFree'``.

    The official code maps every value other than ``'BiasFree'`` to
    ``WithBias``; irkit rejects unknown spellings instead of silently doing so.
    """

    def __init__(self, dim: int, LayerNorm_type: str) -> None:  # noqa: N803 (official name)
        super().__init__()
        if LayerNorm_type not in LAYERNORM_TYPES:
            raise ValueError(f"LayerNorm_type must be one of {LAYERNORM_TYPES}, "
                             f'got {LayerNorm_type!r}')
        self.body = BiasFree_LayerNorm(dim) if LayerNorm_type == 'BiasFree' else WithBias_LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class FeedForward(nn.Module):
    """Gated-Dconv feed-forward network (GDFN)."""

    def __init__(self, dim: int, ffn_expansion_factor: float, bias: bool) -> None:
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, kernel_size=3, padding=1,
                                groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


class Attention(nn.Module):
    """Multi-Dconv-head transposed attention (MDTA): attention across channels."""

    def __init__(self, dim: int, num_heads: int, bias: bool) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'Attention: dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, padding=1, groups=dim * 3,
                                    bias=bias)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        # channel index = head * (c // heads) + c_in_head: head is the outer factor
        shape = (b, self.num_heads, c // self.num_heads, h * w)
        q = F.normalize(q.reshape(shape), dim=-1)
        k = F.normalize(k.reshape(shape), dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.temperature
        out = attn.softmax(dim=-1) @ v.reshape(shape)
        return self.project_out(out.reshape(b, c, h, w))


class TransformerBlock(nn.Module):
    """``x + MDTA(LN(x))`` followed by ``x + GDFN(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, ffn_expansion_factor: float, bias: bool,
                 LayerNorm_type: str) -> None:  # noqa: N803 (official name)
        super().__init__()
        self.norm1 = LayerNorm(dim, LayerNorm_type)
        self.attn = Attention(dim, num_heads, bias)
        self.norm2 = LayerNorm(dim, LayerNorm_type)
        self.ffn = FeedForward(dim, ffn_expansion_factor, bias)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def transformer_stage(num: int, dim: int, num_heads: int, ffn_expansion_factor: float,
                      bias: bool, LayerNorm_type: str) -> nn.Sequential:  # noqa: N803
    """``num`` TransformerBlocks in an ``nn.Sequential`` (keys ``<i>.norm1...``)."""
    return nn.Sequential(*[
        TransformerBlock(dim, num_heads, ffn_expansion_factor, bias, LayerNorm_type)
        for _ in range(num)
    ])


class OverlapPatchEmbed(nn.Module):
    """3x3 convolution ``in_c -> embed_dim``.

    ``bias`` defaults to False and Restormer/PromptIR never pass it, so the
    released models have a bias-free embedding whatever their ``bias`` flag.
    """

    def __init__(self, in_c: int = 3, embed_dim: int = 48, bias: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_c, embed_dim, kernel_size=3, padding=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """Bias-free 3x3 conv ``C -> C/2`` then PixelUnshuffle(2): ``C x H x W -> 2C x H/2 x W/2``."""

    def __init__(self, n_feat: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feat, n_feat // 2, kernel_size=3, padding=1, bias=False),
            nn.PixelUnshuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Bias-free 3x3 conv ``C -> 2C`` then PixelShuffle(2): ``C x H x W -> C/2 x 2H x 2W``."""

    def __init__(self, n_feat: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feat, n_feat * 2, kernel_size=3, padding=1, bias=False),
            nn.PixelShuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
