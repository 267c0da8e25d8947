"""Gated convolution (Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019).

:class:`SimpleGatedConvModule` has MMagic's layout (``mmagic/models/archs/gated_conv_module.py``,
open-mmlab/mmagic v1.2.0): one mmcv ``ConvModule`` producing ``2 * out_channels`` maps
(state-dict keys ``conv.conv.weight`` / ``conv.conv.bias``), split into a feature half and a
gate half, ``y = feat_act(features) * gate_act(gate)``.

Compared with the TensorFlow original (``gen_conv`` of JiahuiYu/generative_inpainting v2):
``out_channels`` here is TF's ``cnum / 2`` (the channels after gating), and MMagic keeps the
sigmoid gate on the last decoder conv, which TF leaves ungated.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer

__all__ = ['SimpleGatedConvModule']


class SimpleGatedConvModule(nn.Module):
    """``y = feat_act(conv_f(x)) * gate_act(conv_g(x))`` with both convs in one ``ConvModule``.

    Args:
        in_channels: input channels.
        out_channels: channels of the output (the conv itself has twice as many).
        kernel_size: conv kernel size.
        feat_act_cfg: activation of the feature half (mmcv config; None = identity).
        gate_act_cfg: activation of the gate half (mmcv config; None = identity).
        **kwargs: passed to ``mmcv.cnn.ConvModule`` (stride, padding, dilation, norm_cfg,
            padding_mode, ...); its ``act_cfg`` is ignored (the activations above apply
            after the split).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, Tuple[int, int]],
                 feat_act_cfg: Optional[dict] = dict(type='ELU'),
                 gate_act_cfg: Optional[dict] = dict(type='Sigmoid'), **kwargs) -> None:
        super().__init__()
        conv_kwargs = dict(kwargs)
        conv_kwargs['act_cfg'] = None
        self.with_feat_act = feat_act_cfg is not None
        self.with_gate_act = gate_act_cfg is not None
        self.conv = ConvModule(in_channels, out_channels * 2, kernel_size, **conv_kwargs)
        if self.with_feat_act:
            self.feat_act = build_activation_layer(dict(feat_act_cfg))
        if self.with_gate_act:
            self.gate_act = build_activation_layer(dict(gate_act_cfg))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat, gate = self.conv(x).chunk(2, dim=1)
        if self.with_feat_act:
            feat = self.feat_act(feat)
        if self.with_gate_act:
            gate = self.gate_act(gate)
        return feat * gate
