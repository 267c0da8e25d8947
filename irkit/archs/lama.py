"""LaMa: Resolution-robust Large Mask Inpainting with Fourier Convolutions.

Suvorov, Logacheva, Mashikhin, Remizova, Ashukha, Silvestrov, Kong, Goka, Park,
Lempitsky, WACV 2022 (https://arxiv.org/abs/2109.07161). Reference implementation:
advimman/lama@786f5936 (``saicinpainting/training/modules/ffc.py`` and
``pix2pixhd.py``); the Fast Fourier Convolution is Chi, Jiang, Mu, NeurIPS 2020.

* :class:`FFCResNetGenerator`: ReflectionPad(3) + 7x7 FFC, three stride-2 FFCs (the
  last one splits the features into a local part and a global part of ratio 0.75),
  ``n_blocks`` FFC residual blocks (9 for lama-fourier, 18 for big-lama), local and
  global parts concatenated, three ConvTranspose2d + BN + ReLU, ReflectionPad(3) +
  7x7 conv, sigmoid. The global part goes through :class:`SpectralTransform`, whose
  :class:`FourierUnit` convolves the real FFT of the features (``norm='ortho'``, real
  and imaginary parts interleaved per channel) with a 1x1 conv.
* :class:`NLayerDiscriminator`: pix2pixHD's PatchGAN; ``forward`` returns
  ``(logits, [features])`` for LaMa's feature-matching loss.

Class names, constructor arguments and ``state_dict`` keys are the official ones
(``model.<index>.*`` for the generator, ``model0 ... model<n_layers+1>`` for the
discriminator), so LaMa's Lightning ``best.ckpt`` loads strictly through the
``'lama'`` official format registered below. :data:`LAMA_CONFIGS` holds the
released generator settings.

Conventions (:attr:`FFCResNetGenerator.inpaint_io`): the generator takes
``cat(image * (1 - mask), mask)`` with the image RGB in [0, 1] and ``mask`` 1 = hole,
and returns the predicted image in [0, 1] (sigmoid); LaMa composites
``mask * pred + (1 - mask) * image`` outside the network. The sides must be
multiples of 8 (three stride-2 layers); LaMa's ``predict.py`` pads the bottom and
right with numpy's ``'symmetric'`` mode and crops the result back.

``norm_layer``, ``activation_layer``, ``up_norm_layer`` and ``up_activation`` are
classes (``up_activation`` a module instance) as in the official code; a config may
give them as strings instead: norms ``'bn'`` / ``'in'`` / ``'identity'``, activations
``'relu'`` / ``'leaky_relu'`` (slope 0.2) / ``'identity'``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.fileio.weights import ConversionError, official_format, strip_prefix, tensor_dict
from irkit.registry import ARCHS

__all__ = ['FFCResNetGenerator', 'NLayerDiscriminator', 'FFC', 'FFC_BN_ACT', 'FFCResnetBlock',
           'SpectralTransform', 'FourierUnit', 'ConcatTupleLayer', 'FFCSE_block', 'SELayer',
           'LAMA_CONFIGS', 'LAMA_DISCRIMINATOR', 'lama_parts']

# A branch that has no channels is carried as the int 0 (as in the reference), so that
# "tensor + 0" and "module(0)" behave exactly like the official code.
Branch = Union[torch.Tensor, int]

_NORMS: Dict[str, Callable[..., nn.Module]] = {
    'bn': nn.BatchNorm2d, 'in': nn.InstanceNorm2d, 'identity': nn.Identity}
_ACTS: Dict[str, Callable[..., nn.Module]] = {
    'relu': nn.ReLU, 'leaky_relu': functools.partial(nn.LeakyReLU, 0.2), 'identity': nn.Identity}


def _norm_ctor(norm: Union[str, Callable[..., nn.Module]], what: str) -> Callable[..., nn.Module]:
    if isinstance(norm, str):
        if norm not in _NORMS:
            raise ValueError(f"{what}: unknown norm '{norm}'; use one of {sorted(_NORMS)} or a class")
        return _NORMS[norm]
    return norm


def _act_ctor(act: Union[str, Callable[..., nn.Module]], what: str) -> Callable[..., nn.Module]:
    if isinstance(act, str):
        if act not in _ACTS:
            raise ValueError(f"{what}: unknown activation '{act}'; use one of {sorted(_ACTS)} or a class")
        return _ACTS[act]
    return act


def _out_activation(kind: Union[bool, str]) -> Optional[nn.Module]:
    """``add_out_act``: True / 'tanh' -> Tanh, 'sigmoid' -> Sigmoid, False -> none."""
    if kind is False or kind is None:
        return None
    if kind is True or kind == 'tanh':
        return nn.Tanh()
    if kind == 'sigmoid':
        return nn.Sigmoid()
    raise ValueError(f"FFCResNetGenerator: add_out_act must be True, False, 'tanh' or 'sigmoid', got {kind!r}")


class SELayer(nn.Module):
    """Squeeze-and-excitation on the spectral channels (``FourierUnit(use_se=True)``)."""

    def __init__(self, channel: int, reduction: int = 16) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        hidden = channel // reduction
        self.fc = nn.Sequential(nn.Linear(channel, hidden, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channel, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        scale = self.fc(self.avg_pool(x).reshape(n, c)).reshape(n, c, 1, 1)
        return x * scale


class FFCSE_block(nn.Module):  # noqa: N801 (official name)
    """Squeeze-and-excitation over the concatenated local/global parts of an FFC tuple."""

    def __init__(self, channels: int, ratio_g: float) -> None:
        super().__init__()
        in_cg = int(channels * ratio_g)
        in_cl = channels - in_cg
        r = 16
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.conv1 = nn.Conv2d(channels, channels // r, kernel_size=1, bias=True)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv_a2l = None if in_cl == 0 else nn.Conv2d(channels // r, in_cl, kernel_size=1, bias=True)
        self.conv_a2g = None if in_cg == 0 else nn.Conv2d(channels // r, in_cg, kernel_size=1, bias=True)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Union[torch.Tensor, Tuple[Branch, Branch]]) -> Tuple[Branch, Branch]:
        id_l, id_g = x if isinstance(x, tuple) else (x, 0)
        z = id_l if isinstance(id_g, int) else torch.cat([id_l, id_g], dim=1)
        z = self.relu1(self.conv1(self.avgpool(z)))
        x_l = 0 if self.conv_a2l is None else id_l * self.sigmoid(self.conv_a2l(z))
        x_g = 0 if self.conv_a2g is None else id_g * self.sigmoid(self.conv_a2g(z))
        return x_l, x_g


class FourierUnit(nn.Module):
    """1x1 conv + BN + ReLU in the Fourier domain.

    ``rfftn`` over (H, W) (``ffc3d``: over (C, H, W)) with ``fft_norm``; the complex
    ``(N, C, H, W//2+1)`` spectrum becomes ``2C`` real channels ordered
    ``c0.re, c0.im, c1.re, c1.im, ...``; after the conv the channels are read back in
    the same order and ``irfftn(..., s=input size)`` returns to the image domain
    (the explicit size keeps odd widths).
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 1,
                 spatial_scale_factor: Optional[float] = None, spatial_scale_mode: str = 'bilinear',
                 spectral_pos_encoding: bool = False, use_se: bool = False,
                 se_kwargs: Optional[Dict[str, Any]] = None, ffc3d: bool = False,
                 fft_norm: str = 'ortho') -> None:
        super().__init__()
        self.groups = groups
        extra = 2 if spectral_pos_encoding else 0
        self.conv_layer = nn.Conv2d(in_channels * 2 + extra, out_channels * 2, kernel_size=1, stride=1,
                                    padding=0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels * 2)
        self.relu = nn.ReLU(inplace=True)
        self.use_se = use_se
        if use_se:
            self.se = SELayer(self.conv_layer.in_channels, **(se_kwargs or {}))
        self.spatial_scale_factor = spatial_scale_factor
        self.spatial_scale_mode = spatial_scale_mode
        self.spectral_pos_encoding = spectral_pos_encoding
        self.ffc3d = ffc3d
        self.fft_norm = fft_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if self.spatial_scale_factor is not None:
            orig_size = x.shape[-2:]
            x = F.interpolate(x, scale_factor=self.spatial_scale_factor, mode=self.spatial_scale_mode,
                              align_corners=False)
        dims = (-3, -2, -1) if self.ffc3d else (-2, -1)
        spec = torch.fft.rfftn(x, dim=dims, norm=self.fft_norm)                 # N, C, H, Wf
        h, wf = spec.shape[-2:]
        z = torch.stack((spec.real, spec.imag), dim=2).reshape(n, -1, h, wf)    # N, 2C (re/im interleaved)
        if self.spectral_pos_encoding:
            vert = torch.linspace(0, 1, h)[None, None, :, None].expand(n, 1, h, wf).to(z)
            hor = torch.linspace(0, 1, wf)[None, None, None, :].expand(n, 1, h, wf).to(z)
            z = torch.cat((vert, hor, z), dim=1)
        if self.use_se:
            z = self.se(z)
        z = self.relu(self.bn(self.conv_layer(z)))
        z = z.reshape(n, -1, 2, h, wf)
        spec = torch.complex(z[:, :, 0], z[:, :, 1])
        out = torch.fft.irfftn(spec, s=x.shape[-3:] if self.ffc3d else x.shape[-2:], dim=dims,
                               norm=self.fft_norm)
        if self.spatial_scale_factor is not None:
            out = F.interpolate(out, size=orig_size, mode=self.spatial_scale_mode, align_corners=False)
        return out


class SpectralTransform(nn.Module):
    """The global-to-global path of an FFC: 1x1 conv to ``out/2``, ``x + FU(x) [+ LFU(x)]``,
    1x1 conv to ``out``; ``stride=2`` average-pools first.

    The local Fourier unit (``enable_lfu``) splits the first quarter of the channels
    into 2x2 spatial quadrants stacked on channels; it needs square feature maps with
    even sides.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1,
                 enable_lfu: bool = True, **fu_kwargs: Any) -> None:
        super().__init__()
        self.enable_lfu = enable_lfu
        self.downsample = nn.AvgPool2d(kernel_size=(2, 2), stride=2) if stride == 2 else nn.Identity()
        self.stride = stride
        half = out_channels // 2
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, half, kernel_size=1, groups=groups, bias=False),
                                   nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        self.fu = FourierUnit(half, half, groups, **fu_kwargs)
        if enable_lfu:
            self.lfu = FourierUnit(half, half, groups)
        self.conv2 = nn.Conv2d(half, out_channels, kernel_size=1, groups=groups, bias=False)

    def _local_fourier(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = x.shape[1:]
        if h != w or h % 2:
            raise ValueError(f'SpectralTransform(enable_lfu=True) needs square feature maps with even sides, '
                             f'got {h}x{w}')
        half = h // 2
        q = x[:, :c // 4]
        q = torch.cat(torch.split(q, half, dim=-2), dim=1)   # top half, bottom half
        q = torch.cat(torch.split(q, half, dim=-1), dim=1)   # ... each split left/right
        return self.lfu(q).repeat(1, 1, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.downsample(x))
        out = self.fu(x)
        local = self._local_fourier(x) if self.enable_lfu else 0
        return self.conv2(x + out + local)


class FFC(nn.Module):
    """Fast Fourier Convolution on a (local, global) pair of feature maps.

    ``ratio_gin`` / ``ratio_gout``: fraction of input / output channels in the global
    part. Local outputs: ``convl2l(x_l) + convg2l(x_g)``; global outputs:
    ``convl2g(x_l) + convg2g(x_g)`` with ``convg2g`` a :class:`SpectralTransform`.
    Convs use ``padding_mode=padding_type`` (reflect). A path with no channels on
    one side is an ``nn.Identity`` (no weights), as in the reference.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, ratio_gin: float,
                 ratio_gout: float, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = False, enable_lfu: bool = True, padding_type: str = 'reflect',
                 gated: bool = False, **spectral_kwargs: Any) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'FFC: stride must be 1 or 2, got {stride}')
        self.stride = stride
        in_cg = int(in_channels * ratio_gin)
        in_cl = in_channels - in_cg
        out_cg = int(out_channels * ratio_gout)
        out_cl = out_channels - out_cg
        self.ratio_gin = ratio_gin
        self.ratio_gout = ratio_gout
        self.global_in_num = in_cg

        def conv(cin: int, cout: int) -> nn.Module:
            if cin == 0 or cout == 0:
                return nn.Identity()
            return nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation, groups, bias,
                             padding_mode=padding_type)

        self.convl2l = conv(in_cl, out_cl)
        self.convl2g = conv(in_cl, out_cg)
        self.convg2l = conv(in_cg, out_cl)
        self.convg2g = (nn.Identity() if in_cg == 0 or out_cg == 0 else
                        SpectralTransform(in_cg, out_cg, stride, 1 if groups == 1 else groups // 2,
                                          enable_lfu, **spectral_kwargs))
        self.gated = gated
        self.gate = (nn.Conv2d(in_channels, 2, 1) if gated and in_cg and out_cl else nn.Identity())

    def forward(self, x: Union[torch.Tensor, Tuple[Branch, Branch]]) -> Tuple[Branch, Branch]:
        x_l, x_g = x if isinstance(x, tuple) else (x, 0)
        out_l: Branch = 0
        out_g: Branch = 0
        if self.gated:
            parts = [x_l] + ([x_g] if torch.is_tensor(x_g) else [])
            g2l_gate, l2g_gate = torch.sigmoid(self.gate(torch.cat(parts, dim=1))).chunk(2, dim=1)
        else:
            g2l_gate, l2g_gate = 1, 1
        if self.ratio_gout != 1:
            out_l = self.convl2l(x_l) + self.convg2l(x_g) * g2l_gate
        if self.ratio_gout != 0:
            out_g = self.convl2g(x_l) * l2g_gate + self.convg2g(x_g)
        return out_l, out_g


class FFC_BN_ACT(nn.Module):  # noqa: N801 (official name)
    """:class:`FFC` followed by a norm and an activation on each part (Identity for an empty part)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, ratio_gin: float,
                 ratio_gout: float, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = False, norm_layer: Union[str, Callable[..., nn.Module]] = nn.BatchNorm2d,
                 activation_layer: Union[str, Callable[..., nn.Module]] = nn.Identity,
                 padding_type: str = 'reflect', enable_lfu: bool = True, **kwargs: Any) -> None:
        super().__init__()
        norm_layer = _norm_ctor(norm_layer, 'FFC_BN_ACT.norm_layer')
        activation_layer = _act_ctor(activation_layer, 'FFC_BN_ACT.activation_layer')
        self.ffc = FFC(in_channels, out_channels, kernel_size, ratio_gin, ratio_gout, stride, padding,
                       dilation, groups, bias, enable_lfu, padding_type=padding_type, **kwargs)
        global_channels = int(out_channels * ratio_gout)
        self.bn_l = (nn.Identity if ratio_gout == 1 else norm_layer)(out_channels - global_channels)
        self.bn_g = (nn.Identity if ratio_gout == 0 else norm_layer)(global_channels)
        self.act_l = (nn.Identity if ratio_gout == 1 else activation_layer)(inplace=True)
        self.act_g = (nn.Identity if ratio_gout == 0 else activation_layer)(inplace=True)

    def forward(self, x: Union[torch.Tensor, Tuple[Branch, Branch]]) -> Tuple[Branch, Branch]:
        x_l, x_g = self.ffc(x)
        return self.act_l(self.bn_l(x_l)), self.act_g(self.bn_g(x_g))


def _rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (N, C, H, W) by ``angle`` degrees about its centre ((W - 1) / 2, (H - 1) / 2),
    bilinear, zeros outside, corner-aligned sampling: kornia 0.5's ``rotate`` as LaMa calls it.
    The pixel-space rotation matrix is taken to normalised coordinates and inverted as kornia does
    (and, as in kornia, with pi and the normalisation matrix in float32, also for float64 input)."""
    n, _, h, w = x.shape
    rad = angle * torch.tensor(math.pi, dtype=torch.float32).to(x) / 180.0
    cos, sin = torch.cos(rad), torch.sin(rad)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    # pixel -> pixel: [[a, b, (1 - a) cx - b cy], [-b, a, b cx + (1 - a) cy], [0, 0, 1]]
    m = torch.stack([torch.stack([cos, sin, (one - cos) * cx - sin * cy]),
                     torch.stack([-sin, cos, sin * cx + (one - cos) * cy]),
                     torch.stack([zero, zero, one])]).reshape(1, 3, 3)
    # kornia builds this pixel -> [-1, 1] matrix in float32 and casts it
    norm = torch.tensor([[2.0 / (w - 1) if w > 1 else 2e14, 0.0, -1.0],
                         [0.0, 2.0 / (h - 1) if h > 1 else 2e14, -1.0],
                         [0.0, 0.0, 1.0]], dtype=torch.float32).to(x).unsqueeze(0)
    src_from_dst = torch.inverse(norm @ (m @ torch.inverse(norm)))
    grid = F.affine_grid(src_from_dst[:, :2, :].expand(n, 2, 3), [n, x.shape[1], h, w], align_corners=True)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=True)


class LearnableSpatialTransformWrapper(nn.Module):
    """LaMa's learnable rotation around a module: reflect-pad by ``pad_coef`` of each side, rotate by
    ``angle`` degrees, run ``impl``, rotate back, crop. ``angle`` starts uniform in
    [0, ``angle_init_range``) and is a parameter when ``train_angle`` (else a plain attribute, not
    in the state dict, as in the reference). Tuples (the FFC local/global parts) are transformed
    element by element. Used by no released LaMa model."""

    def __init__(self, impl: nn.Module, pad_coef: float = 0.5, angle_init_range: float = 80,
                 train_angle: bool = True) -> None:
        super().__init__()
        self.impl = impl
        angle = torch.rand(1) * angle_init_range
        self.angle = nn.Parameter(angle) if train_angle else angle
        self.pad_coef = pad_coef

    def _pads(self, x: torch.Tensor) -> Tuple[int, int]:
        return int(x.shape[2] * self.pad_coef), int(x.shape[3] * self.pad_coef)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self._pads(x)
        return _rotate(F.pad(x, [pw, pw, ph, ph], mode='reflect'), self.angle.to(x))

    def inverse_transform(self, y: torch.Tensor, orig_x: torch.Tensor) -> torch.Tensor:
        ph, pw = self._pads(orig_x)
        y = _rotate(y, -self.angle.to(y))
        return y[:, :, ph:y.shape[2] - ph, pw:y.shape[3] - pw]

    def forward(self, x: Union[torch.Tensor, Tuple[torch.Tensor, ...]]):
        if torch.is_tensor(x):
            return self.inverse_transform(self.impl(self.transform(x)), x)
        if isinstance(x, tuple):
            y = self.impl(tuple(self.transform(e) for e in x))
            return tuple(self.inverse_transform(e, o) for e, o in zip(y, x))
        raise TypeError(f'LearnableSpatialTransformWrapper expects a tensor or a tuple, got {type(x).__name__}')


class FFCResnetBlock(nn.Module):
    """Two 3x3 :class:`FFC_BN_ACT` with a residual connection on each part.

    ``inline=True`` takes and returns one tensor whose last ``global_in_num``
    channels are the global part (the generator's optional ``out_ffc`` block).
    """

    def __init__(self, dim: int, padding_type: str, norm_layer: Union[str, Callable[..., nn.Module]],
                 activation_layer: Union[str, Callable[..., nn.Module]] = nn.ReLU, dilation: int = 1,
                 spatial_transform_kwargs: Optional[Dict[str, Any]] = None, inline: bool = False,
                 **conv_kwargs: Any) -> None:
        super().__init__()
        self.conv1 = FFC_BN_ACT(dim, dim, kernel_size=3, padding=dilation, dilation=dilation,
                                norm_layer=norm_layer, activation_layer=activation_layer,
                                padding_type=padding_type, **conv_kwargs)
        self.conv2 = FFC_BN_ACT(dim, dim, kernel_size=3, padding=dilation, dilation=dilation,
                                norm_layer=norm_layer, activation_layer=activation_layer,
                                padding_type=padding_type, **conv_kwargs)
        if spatial_transform_kwargs is not None:
            self.conv1 = LearnableSpatialTransformWrapper(self.conv1, **spatial_transform_kwargs)
            self.conv2 = LearnableSpatialTransformWrapper(self.conv2, **spatial_transform_kwargs)
        self.inline = inline

    def forward(self, x: Union[torch.Tensor, Tuple[Branch, Branch]]):
        if self.inline:
            conv1 = self.conv1.impl if isinstance(self.conv1, LearnableSpatialTransformWrapper) else self.conv1
            g = conv1.ffc.global_in_num
            x_l, x_g = x[:, :-g], x[:, -g:]
        else:
            x_l, x_g = x if isinstance(x, tuple) else (x, 0)
        id_l, id_g = x_l, x_g
        x_l, x_g = self.conv2(self.conv1((x_l, x_g)))
        out = (id_l + x_l, id_g + x_g)
        return torch.cat(out, dim=1) if self.inline else out


class ConcatTupleLayer(nn.Module):
    """(local, global) -> one tensor (the local part alone when there is no global part)."""

    def forward(self, x: Tuple[Branch, Branch]) -> torch.Tensor:
        if not isinstance(x, tuple):
            raise TypeError(f'ConcatTupleLayer expects a (local, global) tuple, got {type(x).__name__}')
        x_l, x_g = x
        if not torch.is_tensor(x_g):
            return x_l
        return torch.cat(x, dim=1)


@ARCHS.register_module()
class FFCResNetGenerator(nn.Module):
    """LaMa's generator (Suvorov et al., WACV 2022); see the module docstring.

    Args (official names and defaults; the released settings are in
    :data:`LAMA_CONFIGS`):
        input_nc: input channels (4: masked RGB + mask).
        output_nc: output channels (3).
        ngf: width of the first conv; doubles per downsampling up to ``max_features``.
        n_downsampling: stride-2 layers (3).
        n_blocks: FFC residual blocks (9 lama-fourier, 18 big-lama).
        norm_layer, activation_layer: norm and activation of the FFC layers.
        padding_type: padding mode of the FFC convs (``'reflect'``).
        up_norm_layer, up_activation: norm class and activation module of the
            upsampling path.
        init_conv_kwargs, downsample_conv_kwargs, resnet_conv_kwargs: FFC arguments
            (``ratio_gin``, ``ratio_gout``, ``enable_lfu``, ...) of the first conv, the
            downsampling convs and the residual blocks. The last downsampling conv's
            ``ratio_gout`` is set to ``resnet_conv_kwargs['ratio_gin']``.
        spatial_transform_layers, spatial_transform_kwargs: indices of the residual blocks
            wrapped in :class:`LearnableSpatialTransformWrapper` and its arguments (no released
            model uses it).
        add_out_act: True or ``'tanh'``, ``'sigmoid'`` (released models), False.
        max_features: channel cap.
        out_ffc, out_ffc_kwargs: an extra inline FFC residual block at full resolution.
    """

    inpaint_io = dict(value_range=(0.0, 1.0), mask='hole', hole_fill=0.0, inputs='concat', mask_channels=1,
                      outputs=('pred',), pad_multiple=8, pad_mode='symmetric', channel_order='rgb')

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_downsampling: int = 3, n_blocks: int = 9,
                 norm_layer: Union[str, Callable[..., nn.Module]] = nn.BatchNorm2d,
                 padding_type: str = 'reflect',
                 activation_layer: Union[str, Callable[..., nn.Module]] = nn.ReLU,
                 up_norm_layer: Union[str, Callable[..., nn.Module]] = nn.BatchNorm2d,
                 up_activation: Union[str, nn.Module] = nn.ReLU(True),
                 init_conv_kwargs: Optional[Mapping[str, Any]] = None,
                 downsample_conv_kwargs: Optional[Mapping[str, Any]] = None,
                 resnet_conv_kwargs: Optional[Mapping[str, Any]] = None,
                 spatial_transform_layers: Optional[Sequence[int]] = None,
                 spatial_transform_kwargs: Optional[Mapping[str, Any]] = None,
                 add_out_act: Union[bool, str] = True, max_features: int = 1024, out_ffc: bool = False,
                 out_ffc_kwargs: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f'FFCResNetGenerator: n_blocks must be >= 0, got {n_blocks}')
        init_conv_kwargs = dict(init_conv_kwargs or {})
        downsample_conv_kwargs = dict(downsample_conv_kwargs or {})
        resnet_conv_kwargs = dict(resnet_conv_kwargs or {})
        needed = [('init_conv_kwargs', init_conv_kwargs, ('ratio_gin', 'ratio_gout'))]
        if n_downsampling > 1:  # the last downsampling conv takes its ratio_gout from resnet_conv_kwargs
            needed.append(('downsample_conv_kwargs', downsample_conv_kwargs, ('ratio_gin', 'ratio_gout')))
        elif n_downsampling == 1:
            needed.append(('downsample_conv_kwargs', downsample_conv_kwargs, ('ratio_gin',)))
        if n_blocks > 0:
            needed.append(('resnet_conv_kwargs', resnet_conv_kwargs, ('ratio_gin', 'ratio_gout')))
        for name, kw, keys in needed:
            missing = [k for k in keys if k not in kw]
            if missing:
                raise ValueError(f'FFCResNetGenerator: {name} needs {" and ".join(missing)} '
                                 "(the released settings are irkit.archs.lama.LAMA_CONFIGS)")
        norm_layer = _norm_ctor(norm_layer, 'FFCResNetGenerator.norm_layer')
        activation_layer = _act_ctor(activation_layer, 'FFCResNetGenerator.activation_layer')
        up_norm_layer = _norm_ctor(up_norm_layer, 'FFCResNetGenerator.up_norm_layer')
        if isinstance(up_activation, str):
            up_act_ctor = _act_ctor(up_activation, 'FFCResNetGenerator.up_activation')
            up_activation = up_act_ctor(inplace=True)

        def width(mult: float) -> int:
            return min(max_features, int(ngf * mult))

        layers: List[nn.Module] = [
            nn.ReflectionPad2d(3),
            FFC_BN_ACT(input_nc, ngf, kernel_size=7, padding=0, norm_layer=norm_layer,
                       activation_layer=activation_layer, **init_conv_kwargs)]
        for i in range(n_downsampling):
            kw = dict(downsample_conv_kwargs)
            if i == n_downsampling - 1:
                kw['ratio_gout'] = resnet_conv_kwargs.get('ratio_gin', 0)
            layers.append(FFC_BN_ACT(width(2 ** i), width(2 ** (i + 1)), kernel_size=3, stride=2, padding=1,
                                     norm_layer=norm_layer, activation_layer=activation_layer, **kw))
        bottleneck = width(2 ** n_downsampling)
        for i in range(n_blocks):
            block: nn.Module = FFCResnetBlock(bottleneck, padding_type=padding_type,
                                              activation_layer=activation_layer, norm_layer=norm_layer,
                                              **resnet_conv_kwargs)
            if spatial_transform_layers is not None and i in spatial_transform_layers:
                block = LearnableSpatialTransformWrapper(block, **dict(spatial_transform_kwargs or {}))
            layers.append(block)
        layers.append(ConcatTupleLayer())
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            layers += [nn.ConvTranspose2d(width(mult), width(mult / 2), kernel_size=3, stride=2, padding=1,
                                          output_padding=1),
                       up_norm_layer(width(mult / 2)),
                       up_activation]
        if out_ffc:
            layers.append(FFCResnetBlock(ngf, padding_type=padding_type, activation_layer=activation_layer,
                                         norm_layer=norm_layer, inline=True, **dict(out_ffc_kwargs or {})))
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        out_act = _out_activation(add_out_act)
        if out_act is not None:
            layers.append(out_act)
        self.model = nn.Sequential(*layers)
        self.n_downsampling = n_downsampling

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (official name)
        """``input``: ``cat(image * (1 - mask), mask)``, sides multiples of ``2 ** n_downsampling``."""
        m = 2 ** self.n_downsampling
        h, w = input.shape[-2:]
        if h % m or w % m:
            raise ValueError(f'FFCResNetGenerator: height and width must be multiples of {m}, got {h}x{w}; '
                             "pad the input (LaMa pads bottom/right with numpy's 'symmetric' mode) and crop "
                             'the output')
        return self.model(input)


@ARCHS.register_module()
class NLayerDiscriminator(nn.Module):
    """pix2pixHD's PatchGAN as used by LaMa (``n_layers=4`` in the released configs).

    4x4 convs with padding 2: ``model0`` conv s2 + LeakyReLU(0.2); ``model1 ..
    model<n-1>`` conv s2 + norm + LeakyReLU (channels doubling up to 512); ``model<n>``
    conv s1 + norm + LeakyReLU; ``model<n+1>`` conv s1 to one channel.
    ``forward(x)`` returns ``(logits, [output of model0 .. model<n>])``.
    """

    disc_io = dict(inputs='image', local_size=None, returns='logits_features')

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3,
                 norm_layer: Union[str, Callable[..., nn.Module]] = nn.BatchNorm2d) -> None:
        super().__init__()
        norm_layer = _norm_ctor(norm_layer, 'NLayerDiscriminator.norm_layer')
        self.n_layers = n_layers
        kw, padw = 4, 2

        def lrelu() -> nn.Module:
            return nn.LeakyReLU(0.2, True)

        stages: List[List[nn.Module]] = [[nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), lrelu()]]
        nf = ndf
        for _ in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stages.append([nn.Conv2d(nf_prev, nf, kw, stride=2, padding=padw), norm_layer(nf), lrelu()])
        nf_prev, nf = nf, min(nf * 2, 512)
        stages.append([nn.Conv2d(nf_prev, nf, kw, stride=1, padding=padw), norm_layer(nf), lrelu()])
        stages.append([nn.Conv2d(nf, 1, kw, stride=1, padding=padw)])
        for i, stage in enumerate(stages):
            setattr(self, f'model{i}', nn.Sequential(*stage))

    def get_all_activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        acts = []
        for i in range(self.n_layers + 2):
            x = getattr(self, f'model{i}')(x)
            acts.append(x)
        return acts

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        acts = self.get_all_activations(x)
        return acts[-1], acts[:-1]


def _ffc_kwargs(ratio: float) -> Dict[str, Any]:
    return dict(ratio_gin=ratio, ratio_gout=ratio, enable_lfu=False)


#: generator settings of the released models (configs/training/{big-lama,lama-fourier}.yaml)
LAMA_CONFIGS: Dict[str, Dict[str, Any]] = {
    name: dict(input_nc=4, output_nc=3, ngf=64, n_downsampling=3, n_blocks=n_blocks, add_out_act='sigmoid',
               init_conv_kwargs=_ffc_kwargs(0), downsample_conv_kwargs=_ffc_kwargs(0),
               resnet_conv_kwargs=_ffc_kwargs(0.75))
    for name, n_blocks in (('big-lama', 18), ('lama-fourier', 9))}
#: discriminator of the released models (configs/training/discriminator/pix2pixhd_nlayer.yaml)
LAMA_DISCRIMINATOR: Dict[str, Any] = dict(input_nc=3, ndf=64, n_layers=4)


@official_format('lama', description="LaMa Lightning checkpoint (best.ckpt): ['state_dict'] with "
                 "'generator.model.*', 'discriminator.*' (with-discriminator release), "
                 "'generator_average.*' (when trained with averaging); loss_resnet_pl.*, "
                 'evaluators, optimizer states and hyper-parameters ignored')
def lama_parts(ckpt: Any, path: str) -> Dict[str, 'Dict[str, torch.Tensor]']:
    """Split a LaMa Lightning checkpoint into generator / discriminator / generator_ema weights."""
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get('state_dict'), Mapping):
        got = sorted(map(str, ckpt)) if isinstance(ckpt, Mapping) else type(ckpt).__name__
        raise ConversionError(f"{path}: not a LaMa Lightning checkpoint: no ['state_dict'] dict (found {got})")
    sd = ckpt['state_dict']
    parts = {}
    for prefix, part in (('generator.', 'generator'), ('discriminator.', 'discriminator'),
                         ('generator_average.', 'generator_ema')):
        sub = strip_prefix(sd, prefix)
        if sub:
            parts[part] = tensor_dict(sub, path, f"['state_dict'] '{prefix}*'")
    if 'generator' not in parts:
        tops = sorted({str(k).split('.', 1)[0] for k in sd})
        raise ConversionError(f"{path}: no 'generator.*' weights in ['state_dict'] "
                              f"(top-level names: {', '.join(tops[:8])})")
    return parts
