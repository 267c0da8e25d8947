"""PromptIR (Potlapalli et al., "PromptIR: Prompting for All-in-One Blind Image
Restoration", NeurIPS 2023, arXiv:2306.13090).

A faithful re-implementation of the official ``PromptIR`` (va1shn9v/PromptIR,
``net/model.py``): a Restormer backbone whose decoder gets learnable prompt blocks
at three levels.  Same constructor arguments and defaults, same state_dict keys
and shapes, same outputs for the same weights.  The released Lightning
checkpoint stores the weights under ``state_dict`` with a ``net.`` prefix
(irkit's ``load_checkpoint`` strips it).

Facts a user must know:

* The published model is ``PromptIR(decoder=True)`` (35,592,263 parameters).  The
  official default ``decoder=False`` cannot run (its ``up4_3`` expects 4*dim
  channels but receives the 8*dim latent); irkit keeps the default for parity of
  the constructor and state_dict but raises a clear error in ``forward``.
* The prompt and fusion widths (64/128/320 prompt channels, the +64/+224/+512
  fusion blocks) are literal numbers in the official code, so only ``dim=48``
  works; other widths are rejected at construction.
* ``chnl_reduce{1,2,3}`` and ``reduce_noise_channel_{1,2,3}`` are defined but never
  used (215,296 parameters); they exist so that the released checkpoint loads
  strictly.
* Every fusion ``noise_level`` block uses ``heads[2]`` heads.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irkit.archs.common.transformer_blocks import (Downsample, OverlapPatchEmbed,
                                                   TransformerBlock, Upsample, transformer_stage)
from irkit.archs.restormer import check_input_size, check_levels
from irkit.fileio.weights import official_format, pick_state, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['PromptGenBlock', 'PromptIR']

# Hard-coded widths of the official implementation (valid for dim = 48 only).
PROMPT_DIMS = (64, 128, 320)  # prompt channels at decoder levels 1, 2, 3
PROMPT_SIZES = (64, 32, 16)  # spatial size of the learnt prompt components
PROMPT_LEN = 5  # prompt components per block
SUPPORTED_DIM = 48


class PromptGenBlock(nn.Module):
    """Prompt generation: input-conditioned mix of ``prompt_len`` learnt components.

    ``weights = softmax(Linear(spatial mean of x))``; the weighted sum of the
    components is resized to x's size (bilinear, ``align_corners=False``, no
    antialiasing) and passed through a bias-free 3x3 conv.
    """

    def __init__(self, prompt_dim: int = 128, prompt_len: int = 5, prompt_size: int = 96,
                 lin_dim: int = 192) -> None:
        super().__init__()
        self.prompt_param = nn.Parameter(
            torch.rand(1, prompt_len, prompt_dim, prompt_size, prompt_size))
        self.linear_layer = nn.Linear(lin_dim, prompt_len)
        self.conv3x3 = nn.Conv2d(prompt_dim, prompt_dim, kernel_size=3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        weights = F.softmax(self.linear_layer(x.mean(dim=(-2, -1))), dim=1)  # B x len
        prompt = (weights[:, :, None, None, None] * self.prompt_param).sum(dim=1)  # B x C x S x S
        prompt = F.interpolate(prompt, size=(h, w), mode='bilinear', align_corners=False)
        return self.conv3x3(prompt)


@ARCHS.register_module()
class PromptIR(nn.Module):
    """PromptIR: Restormer encoder + prompt-fused decoder.

    Args:
        inp_channels: input channels.
        out_channels: output channels.
        dim: level-1 width; must be 48 (the official prompt widths are hard-coded).
        num_blocks: transformer blocks per encoder level and latent (decoder
            levels 3/2/1 reuse ``num_blocks[2]``, ``[1]``, ``[0]``).
        num_refinement_blocks: refinement blocks at 2*dim.
        heads: attention heads per level (the prompt fusion blocks use ``heads[2]``).
        ffn_expansion_factor: GDFN hidden width factor.
        bias: biases in attention/FFN/1x1 convs (the prompt Linear always has one).
        LayerNorm_type: ``'WithBias'`` or ``'BiasFree'``.
        decoder: build the prompt blocks; the released model uses ``True``.
    """

    def __init__(self,
                 inp_channels: int = 3,
                 out_channels: int = 3,
                 dim: int = 48,
                 num_blocks: Sequence[int] = (4, 6, 6, 8),
                 num_refinement_blocks: int = 4,
                 heads: Sequence[int] = (1, 2, 4, 8),
                 ffn_expansion_factor: float = 2.66,
                 bias: bool = False,
                 LayerNorm_type: str = 'WithBias',  # noqa: N803 (official name)
                 decoder: bool = False) -> None:
        super().__init__()
        check_levels('PromptIR', num_blocks, heads)
        if dim != SUPPORTED_DIM:
            raise ValueError(
                f'PromptIR only works with dim={SUPPORTED_DIM}: the official prompt/fusion widths '
                f'(prompt channels {PROMPT_DIMS}) are hard-coded for it; got dim={dim}. Shrink '
                'num_blocks / num_refinement_blocks / ffn_expansion_factor instead.')
        stage = dict(ffn_expansion_factor=ffn_expansion_factor, bias=bias,
                     LayerNorm_type=LayerNorm_type)
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8
        p1, p2, p3 = PROMPT_DIMS

        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.decoder = decoder
        if decoder:
            self.prompt1 = PromptGenBlock(p1, PROMPT_LEN, PROMPT_SIZES[0], lin_dim=d2)
            self.prompt2 = PromptGenBlock(p2, PROMPT_LEN, PROMPT_SIZES[1], lin_dim=d3)
            self.prompt3 = PromptGenBlock(p3, PROMPT_LEN, PROMPT_SIZES[2], lin_dim=d4)

        # Defined by the official model but unused in forward; kept for strict loading.
        self.chnl_reduce1 = nn.Conv2d(64, 64, kernel_size=1, bias=bias)
        self.chnl_reduce2 = nn.Conv2d(128, 128, kernel_size=1, bias=bias)
        self.chnl_reduce3 = nn.Conv2d(320, 256, kernel_size=1, bias=bias)
        self.reduce_noise_channel_1 = nn.Conv2d(d1 + 64, d1, kernel_size=1, bias=bias)
        self.encoder_level1 = transformer_stage(num_blocks[0], d1, heads[0], **stage)
        self.down1_2 = Downsample(d1)
        self.reduce_noise_channel_2 = nn.Conv2d(d2 + 128, d2, kernel_size=1, bias=bias)
        self.encoder_level2 = transformer_stage(num_blocks[1], d2, heads[1], **stage)
        self.down2_3 = Downsample(d2)
        self.reduce_noise_channel_3 = nn.Conv2d(d3 + 256, d3, kernel_size=1, bias=bias)
        self.encoder_level3 = transformer_stage(num_blocks[2], d3, heads[2], **stage)
        self.down3_4 = Downsample(d3)
        self.latent = transformer_stage(num_blocks[3], d4, heads[3], **stage)

        # Level 3: latent (+ prompt3, 320) -> fusion block (704) -> 192 -> up -> 96 (+ enc3).
        self.up4_3 = Upsample(d3)
        self.reduce_chan_level3 = nn.Conv2d(d2 + 192, d3, kernel_size=1, bias=bias)
        self.noise_level3 = TransformerBlock(d3 + 512, heads[2], **stage)
        self.reduce_noise_level3 = nn.Conv2d(d3 + 512, d3, kernel_size=1, bias=bias)
        self.decoder_level3 = transformer_stage(num_blocks[2], d3, heads[2], **stage)

        # Level 2: dec3 (+ prompt2, 128) -> fusion block (320) -> 192 -> up -> 96 (+ enc2).
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, kernel_size=1, bias=bias)
        self.noise_level2 = TransformerBlock(d2 + 224, heads[2], **stage)
        self.reduce_noise_level2 = nn.Conv2d(d2 + 224, d3, kernel_size=1, bias=bias)
        self.decoder_level2 = transformer_stage(num_blocks[1], d2, heads[1], **stage)

        # Level 1: dec2 (+ prompt1, 64) -> fusion block (160) -> 96 -> up -> 48 (+ enc1).
        self.up2_1 = Upsample(d2)
        self.noise_level1 = TransformerBlock(d2 + 64, heads[2], **stage)
        self.reduce_noise_level1 = nn.Conv2d(d2 + 64, d2, kernel_size=1, bias=bias)
        self.decoder_level1 = transformer_stage(num_blocks[0], d2, heads[0], **stage)
        self.refinement = transformer_stage(num_refinement_blocks, d2, heads[0], **stage)
        self.output = nn.Conv2d(d2, out_channels, kernel_size=3, padding=1, bias=bias)

    def forward(self, inp_img: Tensor, noise_emb: Optional[Tensor] = None) -> Tensor:
        """Restore ``inp_img`` (H, W multiples of 8). ``noise_emb`` is ignored, as officially."""
        if not self.decoder:
            raise RuntimeError(
                'PromptIR(decoder=False) cannot run: in the official architecture up4_3 expects '
                f'{4 * SUPPORTED_DIM} channels but receives the {8 * SUPPORTED_DIM}-channel latent. '
                'The released model is PromptIR(decoder=True).')
        check_input_size('PromptIR', inp_img)
        enc1 = self.encoder_level1(self.patch_embed(inp_img))
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.latent(self.down3_4(enc3))

        latent = torch.cat([latent, self.prompt3(latent)], dim=1)
        latent = self.reduce_noise_level3(self.noise_level3(latent))
        x = self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], dim=1))
        x = self.decoder_level3(x)

        x = torch.cat([x, self.prompt2(x)], dim=1)
        x = self.reduce_noise_level2(self.noise_level2(x))
        x = self.reduce_chan_level2(torch.cat([self.up3_2(x), enc2], dim=1))
        x = self.decoder_level2(x)

        x = torch.cat([x, self.prompt1(x)], dim=1)
        x = self.reduce_noise_level1(self.noise_level1(x))
        x = self.decoder_level1(torch.cat([self.up2_1(x), enc1], dim=1))
        x = self.refinement(x)
        return self.output(x) + inp_img


@official_format('promptir', description="PromptIR Lightning model.ckpt: ['state_dict'] keys 'net.*' "
                 "(hyper-parameters and callback states ignored)")
def promptir_parts(ckpt, path: str) -> dict:
    from irkit.fileio.weights import ConversionError, strip_prefix
    raw = pick_state(ckpt, ('state_dict',), path, 'promptir')
    net = strip_prefix(raw, 'net.')
    if not net:
        raise ConversionError(f"{path}: no 'net.*' weights in ['state_dict'] (keys start with: "
                              f"{', '.join(sorted({k.split('.')[0] for k in raw})[:5])})")
    return {'generator': tensor_dict(net, path, "['state_dict'] net.*")}
