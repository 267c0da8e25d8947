"""GLCIC: Globally and Locally Consistent Image Completion.

Iizuka, Simo-Serra, Ishikawa, SIGGRAPH 2017
(http://iizuka.cs.tsukuba.ac.jp/projects/completion/). The official release is Torch7/Lua
inference only; irkit follows MMagic's PyTorch port (open-mmlab/mmagic v1.2.0,
``mmagic/models/editors/global_local``) so that MMagic's released GL checkpoints load through the
official format ``mmagic`` (``generator.*`` -> :class:`~irkit.archs.common.gl_blocks.GLEncoderDecoder`,
``disc.*`` -> :class:`GLDiscs`).

The completion network (:class:`GLEncoderDecoder`, :class:`GLEncoder`, :class:`GLDilationNeck`,
:class:`GLDecoder`) lives in :mod:`irkit.archs.common.gl_blocks` because DeepFill reuses it;
this module adds the context discriminators.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from mmengine.model.weight_init import normal_init

from irkit.archs.common.gl_blocks import GLDecoder, GLDilationNeck, GLEncoder, GLEncoderDecoder
from irkit.archs.common.multi_layer_disc import MultiLayerDiscriminator
from irkit.registry import ARCHS

__all__ = ['GLDiscs', 'GLEncoderDecoder', 'GLEncoder', 'GLDecoder', 'GLDilationNeck']


@ARCHS.register_module()
class GLDiscs(nn.Module):
    """Global + local context discriminators joined by one linear layer (GLCIC).

    Args:
        global_disc_cfg: :class:`MultiLayerDiscriminator` arguments (no ``type`` key) for the
            whole image (MMagic: 6 convs, ``fc`` 512*4*4 -> 1024 on 256x256).
        local_disc_cfg: the same for the local patch around the hole (MMagic: 5 convs on
            128x128, ``fc`` 512*4*4 -> 1024).

    ``forward((global_img, local_patch))`` returns one logit per sample, ``(n, 1)``, from
    ``fc(cat([global_feat, local_feat], 1))`` (``fc``: 2048 -> 1).
    """

    disc_io = dict(inputs='global_local', local_size=128, returns='logits')

    def __init__(self, global_disc_cfg: dict, local_disc_cfg: dict) -> None:
        super().__init__()
        self.global_disc = MultiLayerDiscriminator(**global_disc_cfg)
        self.local_disc = MultiLayerDiscriminator(**local_disc_cfg)
        self.fc = nn.Linear(2048, 1, bias=True)

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        global_img, local_img = x
        return self.fc(torch.cat([self.global_disc(global_img), self.local_disc(local_img)], dim=1))

    def init_weights(self) -> None:
        """MMagic's init: every linear layer N(0, 0.02), bias 0; convs keep their Kaiming init."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                normal_init(m, 0.0, 0.02)
