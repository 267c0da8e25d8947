"""DINOv2 vision transformer (register-free), the frozen reference-crop matcher of TDR.

Paper: Oquab et al., "DINOv2: Learning Robust Visual Features without Supervision",
TMLR 2024 (arXiv 2304.07193); official code facebookresearch/dinov2 (Apache-2.0).
TDR (Lin et al., CVPR 2024, mrluin/TextualDegRemoval) builds a ViT-B/14 with
``img_size=518, patch_size=14, init_values=1.0`` (LayerScale), loads
``dinov2_vitb14_pretrain.pth`` strictly and, during stage-3 training, picks the
guidance crop whose (final-LayerNorm) patch tokens best match those of the LQ patch
(:func:`irkit.models.tdr.select_ref_crops`).

This is a small re-implementation for inference with the official state_dict
layout (``cls_token``, ``pos_embed``, ``mask_token``, ``patch_embed.proj``,
``blocks.{i}.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,mlp.fc1,mlp.fc2,ls2.gamma}``,
``norm``), so the released file loads with ``strict=True``. Not implemented (not
used by TDR): register tokens, masking, stochastic depth, SwiGLU FFN, chunked
blocks. ``forward`` returns the normalised patch tokens (B, N, D), as TDR's copy does.

Position embeddings for other input sizes are interpolated as in the DINOv2
version TDR ships: bicubic resize of the 37x37 grid by ``scale_factor = (grid + 0.1)
/ 37`` per axis (the 0.1 offset avoids floating-point rounding of the output size),
no antialiasing.
"""
from __future__ import annotations

import math
import os
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irkit.registry import ARCHS

__all__ = ['DinoVisionTransformer', 'DINOV2_VITB14_FILE', 'DINOV2_VITB14_URL']

DINOV2_VITB14_FILE = 'dinov2_vitb14_pretrain.pth'
DINOV2_VITB14_URL = 'https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth'


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` conv, flattened to tokens (B, H*W/p^2, D)."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f'DINOv2: input {h}x{w} is not a multiple of the patch size {p}')
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (softmax(q k^T / sqrt(d)) v)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, proj_bias: bool) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'DINOv2: embed_dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class LayerScale(nn.Module):
    """Per-channel learnt scale ``gamma``."""

    def __init__(self, dim: int, init_values: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """Linear -> GELU (erf) -> Linear."""

    def __init__(self, dim: int, hidden: int, bias: bool) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block with LayerScale (LayerNorm eps 1e-6)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, proj_bias: bool,
                 ffn_bias: bool, init_values: Optional[float]) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, proj_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), ffn_bias)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


def _resolve_weights(pretrained: str):
    from irkit.fileio.weights import find_weights
    config_key = 'model.ref_matcher.pretrained'
    if os.sep not in pretrained and not os.path.exists(pretrained):
        # a bare file name: look for it in $IRKIT_WEIGHTS / ~/.cache/irkit/weights
        return find_weights(pretrained, config_key=config_key, source=DINOV2_VITB14_URL)
    return find_weights(DINOV2_VITB14_FILE, path=pretrained, config_key=config_key,
                        source=DINOV2_VITB14_URL)


@ARCHS.register_module()
class DinoVisionTransformer(nn.Module):
    """DINOv2 ViT; the defaults are TDR's ViT-B/14 (``vit_base(img_size=518,
    patch_size=14, init_values=1.0)``).

    Args (official names): ``img_size`` (training size, sets the position-embedding
    grid: 518 / 14 = 37), ``patch_size``, ``in_chans``, ``embed_dim``, ``depth``,
    ``num_heads``, ``mlp_ratio``, ``qkv_bias``, ``ffn_bias``, ``proj_bias``,
    ``init_values`` (LayerScale init; ``None``/0 = no LayerScale), ``interpolate_offset``.
        pretrained: optional weights, loaded strictly: a file, a folder holding
            ``dinov2_vitb14_pretrain.pth``, or a bare file name looked up in
            ``$IRKIT_WEIGHTS`` (:func:`irkit.fileio.weights.find_weights`; a
            ``MissingWeightsError`` names the file, the places looked at and the URL).
    """

    def __init__(self, img_size: int = 518, patch_size: int = 14, in_chans: int = 3,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, ffn_bias: bool = True, proj_bias: bool = True,
                 init_values: Optional[float] = 1.0, interpolate_offset: float = 0.1,
                 pretrained: Optional[str] = None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.interpolate_offset = interpolate_offset
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, embed_dim))
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, proj_bias, ffn_bias, init_values)
            for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))  # unused; in the official file
        self._init_weights()
        if pretrained:
            from irkit.fileio.weights import load_weights
            load_weights(self, str(_resolve_weights(pretrained)), strict=True)

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def interpolate_pos_encoding(self, num_tokens: int, h: int, w: int) -> Tensor:
        """Position embeddings for an ``h`` x ``w`` input (cls first)."""
        n = self.pos_embed.shape[1] - 1
        if num_tokens - 1 == n and h == w:
            return self.pos_embed
        dtype = self.pos_embed.dtype
        pos = self.pos_embed.float()
        side = math.sqrt(n)
        gh = h // self.patch_size + self.interpolate_offset
        gw = w // self.patch_size + self.interpolate_offset
        grid = pos[:, 1:].reshape(1, int(side), int(side), -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=(gh / side, gw / side), mode='bicubic')
        if grid.shape[-2:] != (int(gh), int(gw)):
            raise RuntimeError(f'DINOv2: position-embedding grid {tuple(grid.shape[-2:])} does not '
                               f'match the token grid {(int(gh), int(gw))}')
        grid = grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])
        return torch.cat([pos[:, :1], grid], dim=1).to(dtype)

    def forward_features(self, x: Tensor) -> Dict[str, Tensor]:
        h, w = x.shape[-2:]
        t = self.patch_embed(x)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1)
        t = t + self.interpolate_pos_encoding(t.shape[1], h, w)
        for blk in self.blocks:
            t = blk(t)
        t_norm = self.norm(t)
        return {'x_norm_clstoken': t_norm[:, 0], 'x_norm_patchtokens': t_norm[:, 1:], 'x_prenorm': t}

    def forward(self, x: Tensor) -> Tensor:
        """Normalised patch tokens (B, H*W/p^2, embed_dim) of ``x`` (H, W multiples of p)."""
        return self.forward_features(x)['x_norm_patchtokens']
