"""MMagic's stacked-conv discriminator (GLCIC, DeepFill v1, DeepFill v2's SN-PatchGAN).

Layout, argument names and state-dict keys of ``mmagic/models/archs/multi_layer_disc.py`` and
``linear_module.py`` (open-mmlab/mmagic v1.2.0): ``conv1`` ... ``conv<num_convs>`` are mmcv
``ConvModule`` s (``k x k``, stride 2, padding ``k // 2``, widths ``min(64 * 2**i, max_channels)``),
optionally followed by a fully connected :class:`LinearModule` ``fc`` on the flattened map. With
``with_spectral_norm`` every layer is wrapped by ``torch.nn.utils.spectral_norm`` (keys
``weight_orig``, ``weight_u``, ``weight_v``; one power iteration per training forward).

* GLCIC (Iizuka et al. 2017): global D 6 convs on 256x256, local D 5 convs on the 128x128 patch,
  each ``fc`` to 1024 (see :class:`~irkit.archs.glcic.GLDiscs`);
* DeepFill v1 (Yu et al. 2018): WGAN critics with ELU convs and a 1-unit ``fc`` followed by LeakyReLU(0.2);
* DeepFill v2 (Yu et al. 2019): SN-PatchGAN, 6 spectral-normalised convs on ``cat(image, mask)``,
  no ``fc`` (every output element is a patch logit).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model.weight_init import kaiming_init, normal_init

from irkit.registry import ARCHS

__all__ = ['LinearModule', 'MultiLayerDiscriminator']


class LinearModule(nn.Module):
    """``nn.Linear`` (key ``linear``) + optional activation, MMagic's ``LinearModule``.

    Args:
        in_features, out_features, bias: as ``nn.Linear``.
        act_cfg: mmcv activation config (None = linear output).
        inplace: in-place activation (default True).
        with_spectral_norm: wrap ``linear`` in spectral normalisation.
        order: ``('linear', 'act')`` or ``('act', 'linear')``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 act_cfg: Optional[dict] = dict(type='ReLU'), inplace: bool = True,
                 with_spectral_norm: bool = False, order: Tuple[str, str] = ('linear', 'act')) -> None:
        super().__init__()
        if tuple(order) not in (('linear', 'act'), ('act', 'linear')):
            raise ValueError(f"LinearModule: order must be ('linear', 'act') or ('act', 'linear'), got {order!r}")
        self.act_cfg = act_cfg
        self.order = tuple(order)
        self.with_activation = act_cfg is not None
        self.with_spectral_norm = with_spectral_norm
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.in_features, self.out_features = in_features, out_features
        if with_spectral_norm:
            self.linear = nn.utils.spectral_norm(self.linear)
        if self.with_activation:
            cfg = dict(act_cfg)
            cfg.setdefault('inplace', inplace)
            self.activate = build_activation_layer(cfg)
        self.init_weights()

    def init_weights(self) -> None:
        """MSRA (Kaiming normal, fan-out) init as mmcv's ``ConvModule``."""
        if self.with_activation and self.act_cfg['type'] == 'LeakyReLU':
            kaiming_init(self.linear, a=self.act_cfg.get('negative_slope', 0.01),
                         nonlinearity='leaky_relu')
        else:
            kaiming_init(self.linear, a=0, nonlinearity='relu')

    def forward(self, x: torch.Tensor, activate: bool = True) -> torch.Tensor:
        for layer in self.order:
            if layer == 'linear':
                x = self.linear(x)
            elif activate and self.with_activation:
                x = self.activate(x)
        return x


@ARCHS.register_module()
class MultiLayerDiscriminator(nn.Module):
    """Stacked stride-2 convs with an optional fully connected head (MMagic's names and defaults).

    Args:
        in_channels: input channels (3 for an image, 4 for ``cat(image, mask)``).
        max_channels: cap on the conv widths ``64 * 2**i``.
        num_convs: stride-2 convs.
        fc_in_channels: input size of the ``fc`` head (flattened last map); None = no head.
        fc_out_channels: output size of the head.
        kernel_size: conv kernel size (padding ``kernel_size // 2``).
        conv_cfg, norm_cfg, act_cfg: mmcv configs of the convs.
        out_act_cfg: activation of the output (the ``fc`` head, or the last conv when there is
            no head and no ``with_out_convs``; that last conv has no norm).
        with_input_norm: normalise after the first conv too.
        with_out_convs: add a stride-1 conv and a 1-channel conv (no activation) at the end.
        with_spectral_norm: spectral normalisation on every conv and the head.
        **kwargs: passed to every ``ConvModule`` (e.g. ``padding_mode``).

    Forward returns the output map ``(n, c, h', w')`` or, with a head, ``(n, fc_out_channels)``.
    ``conv_cfg`` reaches the convs (MMagic v1.2.0 accepts it but never passes it on; every
    released config leaves it None, so the networks are the same).
    """

    #: 'image' D(img); the 4-channel DeepFill v2 discriminator takes cat(img, mask) (set in __init__)
    disc_io = dict(inputs='image', local_size=None, returns='logits')

    def __init__(self, in_channels: int, max_channels: int, num_convs: int = 5,
                 fc_in_channels: Optional[int] = None, fc_out_channels: int = 1024,
                 kernel_size: int = 5, conv_cfg: Optional[dict] = None, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'), out_act_cfg: Optional[dict] = dict(type='ReLU'),
                 with_input_norm: bool = True, with_out_convs: bool = False,
                 with_spectral_norm: bool = False, **kwargs) -> None:
        super().__init__()
        if fc_in_channels is not None and fc_in_channels <= 0:
            raise ValueError(f'MultiLayerDiscriminator: fc_in_channels must be positive, got {fc_in_channels}')
        self.max_channels = max_channels
        self.num_convs = num_convs
        self.with_fc = fc_in_channels is not None
        self.with_out_convs = with_out_convs
        if in_channels == 4:  # MMagic's only 4-channel use: DeepFill v2, image + mask
            self.disc_io = dict(inputs='image_mask', local_size=None, returns='logits')

        def width(i: int) -> int:
            return min(64 * 2 ** i, max_channels)

        cin = in_channels
        for i in range(num_convs):
            norm, act = norm_cfg, act_cfg
            if i == 0 and not with_input_norm:
                norm = None
            elif i == num_convs - 1 and not self.with_fc and not with_out_convs:
                norm, act = None, out_act_cfg
            self.add_module(f'conv{i + 1}', ConvModule(
                cin, width(i), kernel_size=kernel_size, stride=2, padding=kernel_size // 2,
                conv_cfg=conv_cfg, norm_cfg=norm, act_cfg=act, with_spectral_norm=with_spectral_norm,
                **kwargs))
            cin = width(i)
        if with_out_convs:
            self.add_module(f'conv{num_convs + 1}', ConvModule(
                width(num_convs - 1), width(num_convs), kernel_size, stride=1, padding=kernel_size // 2,
                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                with_spectral_norm=with_spectral_norm, **kwargs))
            self.add_module(f'conv{num_convs + 2}', ConvModule(
                width(num_convs), 1, kernel_size, stride=1, padding=kernel_size // 2, conv_cfg=conv_cfg,
                act_cfg=None, with_spectral_norm=with_spectral_norm, **kwargs))
        if self.with_fc:
            self.fc = LinearModule(fc_in_channels, fc_out_channels, bias=True, act_cfg=out_act_cfg,
                                   with_spectral_norm=with_spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, input_hw = x.shape[0], x.shape[-2:]
        for i in range(self.num_convs + 2 * self.with_out_convs):
            x = getattr(self, f'conv{i + 1}')(x)
        if self.with_fc:
            x = x.reshape(n, -1)
            if x.shape[1] != self.fc.in_features:
                raise ValueError(
                    f'MultiLayerDiscriminator: the last conv gives {x.shape[1]} features per sample but '
                    f'fc_in_channels is {self.fc.in_features}; the input size does not match the head '
                    f'(input {tuple(input_hw)}, {self.num_convs} stride-2 convs)')
            x = self.fc(x)
        return x

    def init_weights(self) -> None:
        """MMagic's init: ``fc`` layers N(0, 0.02), bias 0 (convs keep ``ConvModule``'s Kaiming init)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                normal_init(m, 0.0, 0.02)
