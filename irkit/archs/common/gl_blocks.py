"""The Global&Local completion network (GLCIC) and its blocks, shared with DeepFill.

Iizuka, Simo-Serra, Ishikawa, "Globally and Locally Consistent Image Completion",
SIGGRAPH 2017. Layout, argument names and state-dict keys of MMagic's port
(``mmagic/models/editors/global_local``, open-mmlab/mmagic v1.2.0), whose released GL
checkpoints load unchanged (official format ``mmagic``). DeepFill v1/v2 reuse
:class:`GLEncoderDecoder` (as their first stage) and :class:`GLDilationNeck`.

Layers are mmcv ``ConvModule`` s (keys ``<name>.conv.weight``, ``<name>.bn.*`` with a
``norm_cfg`` of type ``BN``/``SyncBN``); sub-networks given as config dicts are built
through irkit's ``ARCHS`` registry.

* :class:`GLEncoder`: 6 convs (64 5x5, 128 3x3 s2, 128, 256 3x3 s2, 256, 256) on the
  4-channel input (masked image, mask);
* :class:`GLDilationNeck`: 4 3x3 convs with dilation = padding = 2, 4, 8, 16 (plain or
  gated convs);
* :class:`GLDecoder`: 256, 256, deconv 128 (4x4 s2), 128, deconv 64, 32, 3 (no norm or
  activation), then ``clip`` (clamp to [-1, 1]) or ``sigmoid``.
"""
from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from irkit.archs.common.gated_conv import SimpleGatedConvModule
from irkit.registry import ARCHS

__all__ = ['GLEncoder', 'GLDecoder', 'GLDilationNeck', 'GLEncoderDecoder', 'CONV_TYPES',
           'build_arch']

#: ``conv_type`` -> module, as MMagic's ``_conv_type`` tables
CONV_TYPES = dict(conv=ConvModule, gated_conv=SimpleGatedConvModule)


def conv_module(conv_type: str, where: str):
    """The conv class for ``conv_type`` ('conv' or 'gated_conv') or a readable error."""
    if conv_type not in CONV_TYPES:
        raise ValueError(f"{where}: conv_type must be one of {sorted(CONV_TYPES)}, got {conv_type!r}")
    return CONV_TYPES[conv_type]


def build_arch(cfg: Union[dict, nn.Module]) -> nn.Module:
    """Build a sub-network from a config dict with a ``type`` key (or pass a module through)."""
    return cfg if isinstance(cfg, nn.Module) else ARCHS.build(cfg)


@ARCHS.register_module()
class GLEncoder(nn.Module):
    """GLCIC encoder: 6 ``ConvModule`` s (``enc1`` ... ``enc6``), input masked image + mask."""

    def __init__(self, norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = dict(type='ReLU')) -> None:
        super().__init__()
        channels = (64, 128, 128, 256, 256, 256)
        kernels = (5, 3, 3, 3, 3, 3)
        strides = (1, 2, 1, 2, 1, 1)
        cin = 4
        for i, (cout, k, s) in enumerate(zip(channels, kernels, strides)):
            self.add_module(f'enc{i + 1}', ConvModule(cin, cout, kernel_size=k, stride=s,
                                                      padding=(k - 1) // 2, norm_cfg=norm_cfg,
                                                      act_cfg=act_cfg))
            cin = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(6):
            x = getattr(self, f'enc{i + 1}')(x)
        return x


@ARCHS.register_module()
class GLDecoder(nn.Module):
    """GLCIC decoder: ``dec1`` ... ``dec7`` (two 4x4 stride-2 deconvs), output ``clip`` or ``sigmoid``."""

    def __init__(self, in_channels: int = 256, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'), out_act: str = 'clip') -> None:
        super().__init__()
        if out_act not in ('clip', 'sigmoid'):
            raise ValueError(f"GLDecoder: out_act must be 'clip' or 'sigmoid', got {out_act!r}")
        # (out channels, kernel, stride, transposed)
        layers = ((256, 3, 1, False), (256, 3, 1, False), (128, 4, 2, True), (128, 3, 1, False),
                  (64, 4, 2, True), (32, 3, 1, False))
        cin = in_channels
        for i, (cout, k, s, deconv) in enumerate(layers):
            self.add_module(f'dec{i + 1}', ConvModule(
                cin, cout, kernel_size=k, stride=s, padding=1,
                conv_cfg=dict(type='deconv') if deconv else None, norm_cfg=norm_cfg, act_cfg=act_cfg))
            cin = cout
        self.dec7 = ConvModule(32, 3, kernel_size=3, stride=1, padding=1, norm_cfg=None, act_cfg=None)
        self.out_act = out_act
        if out_act == 'sigmoid':
            self.output_act = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(7):
            x = getattr(self, f'dec{i + 1}')(x)
        return self.output_act(x) if self.out_act == 'sigmoid' else x.clamp(-1.0, 1.0)


@ARCHS.register_module()
class GLDilationNeck(nn.Module):
    """Four 3x3 convs with dilation 2, 4, 8, 16 (``dilation_convs.0`` ... ``.3``).

    Args:
        in_channels: channels in and out.
        conv_type: ``'conv'`` (``ConvModule``; GLCIC, DeepFill v1) or ``'gated_conv'``
            (:class:`SimpleGatedConvModule`; DeepFill v2, whose feature activation is its
            ``feat_act_cfg``, ELU, not ``act_cfg``).
        norm_cfg, act_cfg: mmcv configs.
        **kwargs: passed to every conv module (e.g. ``padding_mode='reflect'``).
    """

    def __init__(self, in_channels: int = 256, conv_type: str = 'conv', norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'), **kwargs) -> None:
        super().__init__()
        conv = conv_module(conv_type, 'GLDilationNeck')
        self.dilation_convs = nn.Sequential(*[
            conv(in_channels, in_channels, kernel_size=3, padding=2 ** (i + 1), dilation=2 ** (i + 1),
                 stride=1, norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs) for i in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.dilation_convs:
            inner = conv.conv if isinstance(conv, SimpleGatedConvModule) else conv
            pad = inner.padding if isinstance(inner.padding, int) else max(inner.padding)
            if inner.with_explicit_padding and min(x.shape[-2:]) <= pad:
                raise ValueError(
                    f'GLDilationNeck: the {tuple(x.shape[-2:])} feature map is too small for the '
                    f'{inner.padding_layer.__class__.__name__} of {pad} px of a dilation-{pad} conv (needs '
                    f'more than {pad} px per side; DeepFill networks need inputs of at least {4 * (pad + 1)} '
                    'px per side)')
        return self.dilation_convs(x)


@ARCHS.register_module()
class GLEncoderDecoder(nn.Module):
    """GLCIC's completion network: encoder -> dilation neck -> decoder.

    Input ``cat([masked_img, mask], 1)`` in [-1, 1] with holes filled with 0 (MMagic's
    127.5 grey) and mask 1 = hole; output the full image (not composited). As DeepFill's
    first stage the encoder is a :class:`~irkit.archs.deepfill.DeepFillEncoder`, which
    returns ``{'out': features}``.
    """

    #: MMagic's GL configs (irkit configs set channel_order='bgr': MMagic trained on BGR)
    inpaint_io = dict(value_range=(-1.0, 1.0), mask='hole', hole_fill=0.0, inputs='concat',
                      mask_channels=1, outputs=('pred',), pad_multiple=4, pad_mode='symmetric',
                      channel_order='rgb')

    def __init__(self, encoder: dict = dict(type='GLEncoder'), decoder: dict = dict(type='GLDecoder'),
                 dilation_neck: dict = dict(type='GLDilationNeck')) -> None:
        super().__init__()
        self.encoder = build_arch(encoder)
        self.decoder = build_arch(decoder)
        self.dilation_neck = build_arch(dilation_neck)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)
        if isinstance(x, dict):
            x = x['out']
        return self.decoder(self.dilation_neck(x))
