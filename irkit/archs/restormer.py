"""Restormer (Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image
Restoration", CVPR 2022, arXiv:2111.09881).

A faithful re-implementation of the official ``Restormer`` (swz30/Restormer,
``basicsr/models/archs/restormer_arch.py``): same constructor arguments and defaults,
same state_dict keys and shapes, same outputs for the same weights.  The released
BasicSR checkpoints (``{'params': ...}``) load with ``strict=True``.

Released settings (all ``dim=48, num_blocks=[4,6,6,8], num_refinement_blocks=4,
heads=[1,2,4,8], ffn_expansion_factor=2.66, bias=False``):

===========================================  =====  ==============  ===============  ===========
model                                        in/out LayerNorm_type  dual_pixel_task  parameters
===========================================  =====  ==============  ===============  ===========
deraining, motion/single-image defocus        3/3   WithBias        False            26,126,644
dual-pixel defocus deblurring                 6/3   WithBias        True             26,132,548
real (SIDD) and Gaussian colour denoising     3/3   BiasFree        False            26,111,668
Gaussian grey denoising                       1/1   BiasFree        False            26,109,076
===========================================  =====  ==============  ===============  ===========

Inputs must have H and W divisible by 8 (three pixel-unshuffle steps); the
``Restorer`` model reflect-pads to that multiple at test time.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from irkit.archs.common.transformer_blocks import (Downsample, OverlapPatchEmbed, Upsample,
                                                   transformer_stage)
from irkit.fileio.weights import official_format, pick_state, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['Restormer']


def check_levels(name: str, num_blocks: Sequence[int], heads: Sequence[int]) -> None:
    """Both lists must have one entry per level (4)."""
    if len(num_blocks) != 4 or len(heads) != 4:
        raise ValueError(f'{name}: num_blocks and heads need 4 entries (one per level), '
                         f'got num_blocks={list(num_blocks)}, heads={list(heads)}')


def check_input_size(name: str, x: Tensor, multiple: int = 8) -> None:
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(
            f'{name} needs H and W divisible by {multiple}, got {h}x{w}; pad the input '
            f"(reflect, right/bottom) and crop the output, e.g. with Restorer(pad_multiple={multiple})")


@ARCHS.register_module()
class Restormer(nn.Module):
    """Restormer: a 4-level U-shaped transformer of MDTA/GDFN blocks.

    Args:
        inp_channels: input channels (6 for the dual-pixel task: the two views).
        out_channels: output channels.
        dim: width of level 1 (levels 2-4 use 2x, 4x, 8x).
        num_blocks: transformer blocks per encoder level and latent; decoder levels
            3/2/1 reuse ``num_blocks[2]``, ``[1]``, ``[0]``.
        num_refinement_blocks: blocks of the refinement stage (at 2*dim).
        heads: attention heads per level.
        ffn_expansion_factor: GDFN hidden width factor (hidden = int(C * factor)).
        bias: biases in the attention/FFN/1x1 reduce/output convs (the patch
            embedding and resampling convs never have one).
        LayerNorm_type: ``'WithBias'`` or ``'BiasFree'`` (the denoising models).
        dual_pixel_task: dual-pixel defocus deblurring: no global input residual,
            a 1x1 ``skip_conv`` of the patch-embedded input is added before the
            output conv instead.
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
                 dual_pixel_task: bool = False) -> None:
        super().__init__()
        check_levels('Restormer', num_blocks, heads)
        stage = dict(ffn_expansion_factor=ffn_expansion_factor, bias=bias,
                     LayerNorm_type=LayerNorm_type)
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8

        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.encoder_level1 = transformer_stage(num_blocks[0], d1, heads[0], **stage)
        self.down1_2 = Downsample(d1)
        self.encoder_level2 = transformer_stage(num_blocks[1], d2, heads[1], **stage)
        self.down2_3 = Downsample(d2)
        self.encoder_level3 = transformer_stage(num_blocks[2], d3, heads[2], **stage)
        self.down3_4 = Downsample(d3)
        self.latent = transformer_stage(num_blocks[3], d4, heads[3], **stage)

        self.up4_3 = Upsample(d4)
        self.reduce_chan_level3 = nn.Conv2d(d4, d3, kernel_size=1, bias=bias)
        self.decoder_level3 = transformer_stage(num_blocks[2], d3, heads[2], **stage)
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, kernel_size=1, bias=bias)
        self.decoder_level2 = transformer_stage(num_blocks[1], d2, heads[1], **stage)
        self.up2_1 = Upsample(d2)  # level 1 keeps the concatenated 2*dim channels
        self.decoder_level1 = transformer_stage(num_blocks[0], d2, heads[0], **stage)
        self.refinement = transformer_stage(num_refinement_blocks, d2, heads[0], **stage)

        self.dual_pixel_task = dual_pixel_task
        if dual_pixel_task:
            self.skip_conv = nn.Conv2d(d1, d2, kernel_size=1, bias=bias)
        self.output = nn.Conv2d(d2, out_channels, kernel_size=3, padding=1, bias=bias)

    def forward(self, inp_img: Tensor) -> Tensor:
        """Restore ``inp_img`` (B x inp_channels x H x W, H and W multiples of 8)."""
        check_input_size('Restormer', inp_img)
        emb = self.patch_embed(inp_img)
        enc1 = self.encoder_level1(emb)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.latent(self.down3_4(enc3))

        # decoder features first, encoder skip second
        x = self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], dim=1))
        x = self.decoder_level3(x)
        x = self.reduce_chan_level2(torch.cat([self.up3_2(x), enc2], dim=1))
        x = self.decoder_level2(x)
        x = self.decoder_level1(torch.cat([self.up2_1(x), enc1], dim=1))
        x = self.refinement(x)

        if self.dual_pixel_task:
            return self.output(x + self.skip_conv(emb))
        return self.output(x) + inp_img


@official_format('restormer', description="Restormer release (BasicSR): ['params'] (or ['params_ema'])",
                 direct=True)
def restormer_parts(ckpt, path: str) -> dict:
    sd = tensor_dict(pick_state(ckpt, ('params', 'params_ema'), path, 'restormer'), path, "['params']")
    return {'generator': unwrap(sd)}
