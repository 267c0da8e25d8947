"""Conditional noise-prediction U-Net of Universal-IR (DA-CLIP + IR-SDE).

Luo et al., "Controlling Vision-Language Models for Multi-Task Image Restoration"
(ICLR 2024); the U-Net follows IR-SDE (Luo et al., "Image Restoration with
Mean-Reverting Stochastic Differential Equations", ICML 2023).
Official code: github.com/Algolzw/daclip-uir,
``universal-image-restoration/config/daclip-sde/models/modules/DenoisingUNet_arch.py``.

Conditioning:

* the DA-CLIP *degradation* embedding becomes a learned prompt
  ``prompt_mlp(softmax(text_mlp(e), dim=1) * prompt)`` added to the time embedding;
* the DA-CLIP *content* embedding is one cross-attention token of the LDM-style
  :class:`SpatialTransformer` used at level index 3 (down and up) and in the middle
  block; the other levels use channel-wise :class:`LinearAttention`.

Module and parameter names follow the official code, so ``universal-ir.pth`` loads
strictly (released setting ``nf=64, ch_mult=[1, 2, 4, 8], context_dim=512``,
``use_image_context=True``: 48,975,747 parameters).
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from irkit.fileio.weights import official_format, pick_state, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['ConditionalUNet', 'SpatialTransformer', 'LinearAttention', 'ResBlock']


# --------------------------------------------------------------------------- helpers
class Residual(nn.Module):

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.fn(x, *args, **kwargs) + x


class SinusoidalPosEmb(nn.Module):

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half_dim = self.dim // 2
        emb = math.log(10000) / (half_dim - 1)
        emb = torch.exp(torch.arange(half_dim, device=x.device) * -emb)
        emb = x[:, None] * emb[None, :]
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class LayerNorm(nn.Module):
    """Channel LayerNorm over dim 1 with a gain only (``g``), eps 1e-5 (fp32)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps = 1e-5 if x.dtype == torch.float32 else 1e-3
        var = torch.var(x, dim=1, unbiased=False, keepdim=True)
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) * (var + eps).rsqrt() * self.g


class PreNorm(nn.Module):

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.norm = LayerNorm(dim)

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.fn(self.norm(x), *args, **kwargs)


def default_conv(dim_in: int, dim_out: int, kernel_size: int = 3, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(dim_in, dim_out, kernel_size, padding=kernel_size // 2, bias=bias)


def Upsample(dim: int, dim_out: int) -> nn.Sequential:  # noqa: N802 (official name)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'),
                         nn.Conv2d(dim, dim_out, 3, 1, 1))


def Downsample(dim: int, dim_out: int) -> nn.Conv2d:  # noqa: N802
    return nn.Conv2d(dim, dim_out, 4, 2, 1)


class Block(nn.Module):

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = default_conv(dim_in, dim_out)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, scale_shift=None) -> torch.Tensor:
        x = self.proj(x)
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)


class ResBlock(nn.Module):
    """Two 3x3 conv blocks (no bias) with a time-embedding scale/shift on the first."""

    def __init__(self, dim_in: int, dim_out: int, time_emb_dim: Optional[int] = None) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2)) \
            if time_emb_dim else None
        self.block1 = Block(dim_in, dim_out)
        self.block2 = Block(dim_out, dim_out)
        self.res_conv = default_conv(dim_in, dim_out, 1) if dim_in != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, time_emb: Optional[torch.Tensor] = None) -> torch.Tensor:
        scale_shift = None
        if self.mlp is not None and time_emb is not None:
            time_emb = self.mlp(time_emb)[:, :, None, None]
            scale_shift = time_emb.chunk(2, dim=1)
        h = self.block2(self.block1(x, scale_shift=scale_shift))
        return h + self.res_conv(x)


class LinearAttention(nn.Module):
    """Channel ("linear") attention: q softmax over channels, k over positions."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32) -> None:
        super().__init__()
        self.scale = dim_head ** -0.5
        self.heads = heads
        hidden_dim = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden_dim, dim, 1), LayerNorm(dim))

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w) for t in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        v = v / (h * w)
        ctx = torch.einsum('bhdn,bhen->bhde', k, v)
        out = torch.einsum('bhde,bhdn->bhen', ctx, q)
        return self.to_out(out.reshape(b, -1, h, w))


class GEGLU(nn.Module):

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.) -> None:
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(GEGLU(dim, inner), nn.Dropout(dropout), nn.Linear(inner, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrossAttention(nn.Module):
    """Multi-head (cross-)attention; self-attention when ``context`` is None."""

    def __init__(self, query_dim: int, context_dim: Optional[int] = None, heads: int = 8,
                 dim_head: int = 64, dropout: float = 0.) -> None:
        super().__init__()
        inner_dim = dim_head * heads
        context_dim = query_dim if context_dim is None else context_dim
        self.scale = dim_head ** -0.5
        self.heads = heads
        self.context_dim = context_dim
        self.to_q = nn.Linear(query_dim, inner_dim, bias=False)
        self.to_k = nn.Linear(context_dim, inner_dim, bias=False)
        self.to_v = nn.Linear(context_dim, inner_dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner_dim, query_dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        context = x if context is None else context
        if context.shape[-1] != self.context_dim:
            raise ValueError(
                f'cross-attention expects a context of width {self.context_dim}, got '
                f'{context.shape[-1]} (ConditionalUNet with use_image_context=True needs '
                'image_context)')
        h = self.heads
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)

        def split(t):  # b n (h d) -> (b h) n d
            b, n, _ = t.shape
            return t.reshape(b, n, h, -1).permute(0, 2, 1, 3).reshape(b * h, n, -1)

        q, k, v = split(q), split(k), split(v)
        attn = (torch.einsum('bid,bjd->bij', q, k) * self.scale).softmax(dim=-1)
        out = torch.einsum('bij,bjd->bid', attn, v)
        bh, n, d = out.shape
        out = out.reshape(bh // h, h, n, d).permute(0, 2, 1, 3).reshape(bh // h, n, h * d)
        return self.to_out(out)


class BasicTransformerBlock(nn.Module):

    def __init__(self, dim: int, n_heads: int, d_head: int, dropout: float = 0.,
                 context_dim: Optional[int] = None, checkpoint: bool = True) -> None:
        super().__init__()
        self.attn1 = CrossAttention(dim, heads=n_heads, dim_head=d_head, dropout=dropout)
        self.ff = FeedForward(dim, dropout=dropout)
        self.attn2 = CrossAttention(dim, context_dim=context_dim, heads=n_heads, dim_head=d_head,
                                    dropout=dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.checkpoint = checkpoint

    def _forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context=context) + x
        return self.ff(self.norm3(x)) + x

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.checkpoint and self.training and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(self._forward, x, context, use_reentrant=False)
        return self._forward(x, context)


class SpatialTransformer(nn.Module):
    """LDM spatial transformer: GroupNorm(32), 1x1 ``proj_in``, transformer blocks,
    zero-initialised 1x1 ``proj_out``, residual."""

    def __init__(self, in_channels: int, n_heads: int, d_head: int, depth: int = 1,
                 dropout: float = 0., context_dim: Optional[int] = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        inner_dim = n_heads * d_head
        self.norm = nn.GroupNorm(32, in_channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(in_channels, inner_dim, 1)
        self.transformer_blocks = nn.ModuleList([
            BasicTransformerBlock(inner_dim, n_heads, d_head, dropout=dropout,
                                  context_dim=context_dim) for _ in range(depth)
        ])
        self.proj_out = nn.Conv2d(inner_dim, in_channels, 1)
        for p in self.proj_out.parameters():
            nn.init.zeros_(p)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        b, c, h, w = x.shape
        x_in = x
        x = self.proj_in(self.norm(x))
        x = x.flatten(2).transpose(1, 2)
        for block in self.transformer_blocks:
            x = block(x, context=context)
        x = x.transpose(1, 2).reshape(b, -1, h, w)
        return self.proj_out(x) + x_in


# --------------------------------------------------------------------------- U-Net
@ARCHS.register_module()
class ConditionalUNet(nn.Module):
    """Universal-IR noise-prediction U-Net.

    Args:
        in_nc, out_nc: image channels (the input is ``concat(xt - cond, cond)``).
        nf: base width; every ``nf * ch_mult[i]`` must be a multiple of 32.
        ch_mult: width multipliers per level.
        context_dim: DA-CLIP embedding size (512 for ViT-B-32); ``None`` or <= 0
            disables both conditionings.
        use_degra_context: the degradation embedding as a prompt on the time embedding.
        use_image_context: the content embedding as cross-attention context at level
            index 3 and the middle block (then ``image_context`` must be given).
        upscale: kept for the official signature (unused by the official code).
    """

    def __init__(self, in_nc: int, out_nc: int, nf: int, ch_mult: Sequence[int] = (1, 2, 4, 4),
                 context_dim: Optional[int] = 512, use_degra_context: bool = True,
                 use_image_context: bool = False, upscale: int = 1) -> None:
        super().__init__()
        ch_mult = list(ch_mult)
        self.depth = len(ch_mult)
        self.upscale = upscale
        self.context_dim = -1 if context_dim is None else context_dim
        self.use_image_context = use_image_context
        self.use_degra_context = use_degra_context
        for m in [1] + ch_mult:
            if (nf * m) % 32:
                raise ValueError(f'ConditionalUNet: nf * ch_mult must be multiples of 32 '
                                 f'(GroupNorm / 32-channel heads), got nf={nf}, ch_mult={ch_mult}')
        dim_head = 32
        cross = use_image_context and self.context_dim > 0

        self.init_conv = default_conv(in_nc * 2, nf, 7)
        time_dim = nf * 4
        self.random_or_learned_sinusoidal_cond = False
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(nf), nn.Linear(nf, time_dim), nn.GELU(),
                                      nn.Linear(time_dim, time_dim))
        if self.context_dim > 0 and use_degra_context:
            self.prompt = nn.Parameter(torch.rand(1, time_dim))
            self.text_mlp = nn.Sequential(nn.Linear(context_dim, time_dim), nn.SiLU(),
                                          nn.Linear(time_dim, time_dim))
            self.prompt_mlp = nn.Linear(time_dim, time_dim)

        self.downs = nn.ModuleList([])
        self.ups = nn.ModuleList([])
        mults = [1] + ch_mult
        for i in range(self.depth):
            dim_in, dim_out = nf * mults[i], nf * mults[i + 1]
            if cross and i >= 3:
                att_down = SpatialTransformer(dim_in, dim_in // dim_head, dim_head, depth=1,
                                              context_dim=context_dim)
                att_up = SpatialTransformer(dim_out, dim_out // dim_head, dim_head, depth=1,
                                            context_dim=context_dim)
            else:
                att_down, att_up = LinearAttention(dim_in), LinearAttention(dim_out)
            self.downs.append(nn.ModuleList([
                ResBlock(dim_in, dim_in, time_dim),
                ResBlock(dim_in, dim_in, time_dim),
                Residual(PreNorm(dim_in, att_down)),
                Downsample(dim_in, dim_out) if i != self.depth - 1 else default_conv(dim_in, dim_out),
            ]))
            self.ups.insert(0, nn.ModuleList([
                ResBlock(dim_out + dim_in, dim_out, time_dim),
                ResBlock(dim_out + dim_in, dim_out, time_dim),
                Residual(PreNorm(dim_out, att_up)),
                Upsample(dim_out, dim_in) if i != 0 else default_conv(dim_out, dim_in),
            ]))

        mid_dim = nf * mults[-1]
        self.mid_block1 = ResBlock(mid_dim, mid_dim, time_dim)
        mid_att = (SpatialTransformer(mid_dim, mid_dim // dim_head, dim_head, depth=1,
                                      context_dim=context_dim) if cross else LinearAttention(mid_dim))
        self.mid_attn = Residual(PreNorm(mid_dim, mid_att))
        self.mid_block2 = ResBlock(mid_dim, mid_dim, time_dim)
        self.final_res_block = ResBlock(nf * 2, nf, time_dim)
        self.final_conv = nn.Conv2d(nf, out_nc, 3, 1, 1)

    def check_image_size(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        s = 2 ** self.depth
        return F.pad(x, (0, (s - w % s) % s, 0, (s - h % s) % s), 'reflect')

    def forward(self, xt: torch.Tensor, cond: torch.Tensor,
                time: Union[torch.Tensor, int, float], text_context: Optional[torch.Tensor] = None,
                image_context: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Predicted noise for state ``xt`` given the LQ image ``cond`` at step ``time``
        (a scalar, or one value per sample); ``text_context``: degradation embedding
        ``(B, context_dim)``; ``image_context``: content embedding ``(B, context_dim)``."""
        if isinstance(time, (int, float)):
            time = torch.tensor([time], device=xt.device)
        time = time.reshape(-1).to(xt.device)
        x = torch.cat([xt - cond, cond], dim=1)
        H, W = x.shape[2:]
        x = self.check_image_size(x, H, W)
        x = self.init_conv(x)
        x_ = x.clone()

        t = self.time_mlp(time)
        if self.context_dim > 0:
            if self.use_degra_context and text_context is not None:
                prompt = torch.softmax(self.text_mlp(text_context), dim=1) * self.prompt
                t = t + self.prompt_mlp(prompt)
            if self.use_image_context and image_context is not None:
                image_context = image_context.unsqueeze(1)

        h: List[torch.Tensor] = []
        for b1, b2, attn, downsample in self.downs:
            x = b1(x, t)
            h.append(x)
            x = b2(x, t)
            x = attn(x, context=image_context)
            h.append(x)
            x = downsample(x)

        x = self.mid_block1(x, t)
        x = self.mid_attn(x, context=image_context)
        x = self.mid_block2(x, t)

        for b1, b2, attn, upsample in self.ups:
            x = b1(torch.cat([x, h.pop()], dim=1), t)
            x = b2(torch.cat([x, h.pop()], dim=1), t)
            x = attn(x, context=image_context)
            x = upsample(x)

        x = self.final_res_block(torch.cat([x, x_], dim=1), t)
        x = self.final_conv(x)
        return x[..., :H, :W].contiguous()


@official_format('irsde', description='Universal-IR release universal-ir.pth: the ConditionalUNet state dict',
                 direct=True)
def irsde_parts(ckpt, path: str) -> dict:
    sd = pick_state(ckpt, ('state_dict', 'params', 'model'), path, 'irsde')
    return {'generator': unwrap(tensor_dict(sd, path, 'the state dict'))}
