"""Partial Convolutions: the layer and MMagic's PConv U-Net.

Liu, Reda, Shih, Wang, Tao, Catanzaro, "Image Inpainting for Irregular Holes Using
Partial Convolutions", ECCV 2018 (https://arxiv.org/abs/1804.07723).

* :class:`PartialConv2d` follows NVIDIA's layer (NVIDIA/partialconv@610d373,
  ``models/partialconv2d.py``): the convolution sees ``x * M`` and is re-weighted by
  ``sum(1) / sum(M)`` over each window (``slide_winsize / (conv(M, 1) + eps)``), the
  bias is kept out of the re-weighting, and the updated mask is ``clamp(conv(M, 1), 0, 1)``.
  Its constructor and ``weight_mask_updater`` buffer are those of MMagic's port
  (open-mmlab/mmagic@0a560bb, ``mmagic/models/editors/pconv``), so MMagic's state
  dicts load unchanged.
* :class:`MaskConvModule` is mmcv's ``ConvModule`` (conv / norm / act, keys ``conv.*``,
  ``bn.*``) whose convolution takes and returns the mask.
* :class:`PConvEncoder`, :class:`PConvDecoder` and :class:`PConvEncoderDecoder` are
  MMagic's 7-level U-Net (``enc1`` .. ``enc7``, ``dec7`` .. ``dec1``) with MMagic's
  constructor arguments; ``PConvEncoderDecoder(x, mask_in)`` returns
  ``(result, updated mask)``.

Masks are 1 = valid (known) pixel, 0 = hole; with ``multi_channel=True`` (MMagic's
configs) the mask has as many channels as the input.  MMagic's released weights take
images in [-1, 1], **BGR**, with the 1-channel hole mask inverted and repeated to 3
channels.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from irkit.registry import ARCHS

__all__ = ['PartialConv2d', 'MaskConvModule', 'PConvEncoder', 'PConvDecoder', 'PConvEncoderDecoder']

Tensor = torch.Tensor


@ARCHS.register_module()
class PartialConv2d(nn.Conv2d):
    """2-D partial convolution (Liu et al., ECCV 2018), NVIDIA's formula.

    ``PartialConv2d(*nn.Conv2d args, multi_channel=False, eps=1e-8, return_mask=True,
    partial_padding=False, **nn.Conv2d kwargs)``.

    For a mask ``M`` (1 = valid) the output is::

        update = conv(M, ones)                      # valid inputs per window
        ratio  = slide_winsize / (update + eps) * clamp(update, 0, 1)
        out    = (conv(x * M) - b) * ratio + b, then * clamp(update, 0, 1)   (with bias)
        out    = conv(x * M) * ratio                                           (without bias)

    where ``slide_winsize`` = kh*kw (single-channel mask, ``(N, 1, H, W)``) or
    in_channels*kh*kw (``multi_channel=True``, mask shaped like the input). The mask
    statistics carry no gradient. naoto0804's popular re-implementation divides by
    ``update`` alone (no ``slide_winsize`` factor), so its weights are not interchangeable.

    Args:
        multi_channel: the mask has one channel per input channel (MMagic's configs).
        eps: added to the window count (NVIDIA: 1e-6 for mixed precision).
        return_mask: return ``(out, updated_mask)`` whenever a mask is used (MMagic's
            forward default); NVIDIA's layer defaults to ``False``.
        partial_padding: without a mask, treat the whole input as valid so that the
            zero padding at the borders is re-weighted (NVIDIA's behaviour for
            ``mask_in=None``; the all-ones statistics are cached per input shape).
            ``False`` (MMagic) runs a plain convolution when no mask is given.

    The ``weight_mask_updater`` buffer (ones, ``(out, in, kh, kw)`` or ``(1, 1, kh, kw)``)
    is persistent, as in MMagic's checkpoints.
    """

    def __init__(self, *args: Any, multi_channel: bool = False, eps: float = 1e-8,
                 return_mask: bool = True, partial_padding: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError(f'PartialConv2d supports groups=1 only, got groups={self.groups}')
        self.multi_channel = multi_channel
        self.eps = eps
        self.return_mask = return_mask
        self.partial_padding = partial_padding
        shape = (self.out_channels, self.in_channels) if multi_channel else (1, 1)
        self.register_buffer('weight_mask_updater', torch.ones(*shape, *self.kernel_size))
        self.slide_winsize = int(self.weight_mask_updater[0].numel())
        self._ones_cache: Optional[Tuple[tuple, Tensor, Tensor]] = None
        self._updater_is_ones = True
        self.register_load_state_dict_post_hook(self._check_updater)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', multi_channel={self.multi_channel}, eps={self.eps}'

    def _check_updater(self, *args: Any) -> None:
        self._updater_is_ones = bool((self.weight_mask_updater == 1).all())

    def mask_statistics(self, mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``(ratio, updated_mask)`` for a mask; no gradient flows through either.

        With a multi-channel mask and the all-ones updater (always, unless edited), the
        window counts are the same for every output channel: they are computed once from
        the channel sum with a (1, 1, kh, kw) kernel (the same integers, a fraction of
        the cost) and expanded to ``out_channels`` without a copy.
        """
        with torch.no_grad():
            if self.multi_channel and self._updater_is_ones:
                kernel = mask.new_ones(1, 1, *self.kernel_size)
                update = F.conv2d(mask.sum(1, keepdim=True), kernel, None, self.stride, self.padding,
                                  self.dilation)
            else:
                update = F.conv2d(mask, self.weight_mask_updater.to(mask), None, self.stride,
                                  self.padding, self.dilation)
            ratio = self.slide_winsize / (update + self.eps)
            update = update.clamp(0, 1)
            ratio = ratio * update
            if update.shape[1] != self.weight_mask_updater.shape[0]:
                update = update.expand(-1, self.out_channels, -1, -1)
            return ratio, update

    def _ones_statistics(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        key = (tuple(x.shape), x.dtype, x.device)
        if self._ones_cache is None or self._ones_cache[0] != key:
            c = x.shape[1] if self.multi_channel else 1
            ones = torch.ones(1, c, *x.shape[2:], dtype=x.dtype, device=x.device)
            ratio, update = self.mask_statistics(ones)
            self._ones_cache = (key, ratio, update)
        return self._ones_cache[1], self._ones_cache[2]

    def forward(self, input: Tensor, mask: Optional[Tensor] = None,
                return_mask: Optional[bool] = None) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """``input`` (N, C, H, W); ``mask`` (N, C, H, W) or (N, 1, H, W), 1 = valid.

        Returns the output, or ``(output, updated_mask)`` when a mask is used and
        ``return_mask`` (the argument, else the constructor's) is true.
        """
        if input.dim() != 4:
            raise ValueError(f'PartialConv2d expects an (N, C, H, W) input, got shape {tuple(input.shape)}')
        if return_mask is None:
            return_mask = self.return_mask
        if mask is None:
            if not self.partial_padding:
                return super().forward(input)
            ratio, update = self._ones_statistics(input)
            raw = super().forward(input)
        else:
            want = input.shape[1] if self.multi_channel else 1
            if mask.dim() != 4 or mask.shape[1] != want or mask.shape[2:] != input.shape[2:]:
                raise ValueError(
                    f'PartialConv2d(multi_channel={self.multi_channel}) expects a mask of shape '
                    f'(N, {want}, {input.shape[2]}, {input.shape[3]}), got {tuple(mask.shape)}')
            ratio, update = self.mask_statistics(mask)
            raw = super().forward(input * mask)
        if self.bias is None:
            out = raw * ratio
        else:
            b = self.bias.view(1, -1, 1, 1)
            out = ((raw - b) * ratio + b) * update
        return (out, update) if return_mask else out


# mmcv's ``build_conv_layer`` looks conv types up in mmengine's root MODELS registry
# (where mmcv registers 'Conv2d'); MMagic's configs name this layer ``type='PConv'``.
_registered = MMENGINE_MODELS.module_dict.get('PConv')
if _registered is not None and _registered.__module__ != __name__:
    raise KeyError(f"mmengine's MODELS registry already maps 'PConv' to {_registered.__module__}."
                   f'{_registered.__qualname__}; irkit registers its PartialConv2d under that name')
MMENGINE_MODELS.register_module('PConv', module=PartialConv2d, force=True)


class MaskConvModule(ConvModule):
    """mmcv ``ConvModule`` around a mask convolution (``conv_cfg=dict(type='PConv', ...)``).

    Same constructor as ``mmcv.cnn.ConvModule``; ``forward(x, mask, activate=True,
    norm=True, return_mask=True)`` returns ``(x, updated_mask)`` (or ``x`` with
    ``return_mask=False``). Explicit padding modes pad the mask like the features.
    """
    supported_conv_list = ('PConv',)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.conv_cfg is None or self.conv_cfg.get('type') not in self.supported_conv_list:
            raise ValueError(f'MaskConvModule needs conv_cfg type in {self.supported_conv_list}, '
                             f'got conv_cfg={self.conv_cfg}')
        self.init_weights()  # MMagic re-initialises once more after ConvModule's init

    def forward(self, x: Tensor, mask: Optional[Tensor] = None, activate: bool = True,
                norm: bool = True, return_mask: bool = True) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        updated_mask = None
        for layer in self.order:
            if layer == 'conv':
                if self.with_explicit_padding:
                    x = self.padding_layer(x)
                    mask = self.padding_layer(mask) if mask is not None else None
                if return_mask:
                    x, updated_mask = self.conv(x, mask, return_mask=True)
                else:
                    x = self.conv(x, mask, return_mask=False)
            elif layer == 'norm' and norm and self.with_norm:
                x = self.norm(x)
            elif layer == 'act' and activate and self.with_activation:
                x = self.activate(x)
        return (x, updated_mask) if return_mask else x


_PCONV = dict(type='PConv', multi_channel=True)
_LRELU = dict(type='LeakyReLU', negative_slope=0.2)


@ARCHS.register_module()
class PConvEncoder(nn.Module):
    """PConv U-Net encoder: ``enc1`` (64, k7, no norm), ``enc2`` (128, k5), ``enc3`` (256, k5),
    ``enc4`` .. ``enc{num_layers}`` (512, k3); all stride 2, ReLU.

    Args:
        in_channels: image channels (3).
        num_layers: number of stride-2 layers (7 for 256x256; the paper used 8 at 512).
        conv_cfg: mask convolution config (``dict(type='PConv', multi_channel=True)``).
        norm_cfg: mmcv norm config of ``enc2`` ..; ``requires_grad=False`` freezes the
            affine parameters (MMagic's stage 2).
        norm_eval: keep the BatchNorm layers in eval mode while training (running
            statistics frozen), as the paper's fine-tuning stage.
    """

    def __init__(self, in_channels: int = 3, num_layers: int = 7, conv_cfg: Optional[Dict] = _PCONV,
                 norm_cfg: Optional[Dict] = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False) -> None:
        super().__init__()
        if num_layers < 4:
            raise ValueError(f'PConvEncoder needs num_layers >= 4, got {num_layers}')
        self.num_layers = num_layers
        self.norm_eval = norm_eval
        relu = dict(type='ReLU')
        self.enc1 = MaskConvModule(in_channels, 64, 7, stride=2, padding=3, conv_cfg=conv_cfg,
                                   norm_cfg=None, act_cfg=relu)
        self.enc2 = MaskConvModule(64, 128, 5, stride=2, padding=2, conv_cfg=conv_cfg,
                                   norm_cfg=norm_cfg, act_cfg=relu)
        self.enc3 = MaskConvModule(128, 256, 5, stride=2, padding=2, conv_cfg=conv_cfg,
                                   norm_cfg=norm_cfg, act_cfg=relu)
        self.enc4 = MaskConvModule(256, 512, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                                   norm_cfg=norm_cfg, act_cfg=relu)
        for i in range(5, num_layers + 1):
            self.add_module(f'enc{i}', MaskConvModule(512, 512, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                                                      norm_cfg=norm_cfg, act_cfg=relu))

    def train(self, mode: bool = True) -> 'PConvEncoder':
        """With ``norm_eval``, BatchNorm layers stay in eval mode in training."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: Tensor, mask: Tensor) -> Dict[str, Any]:
        """Returns ``dict(out, hidden_feats, hidden_masks)``; the hidden dicts hold
        ``h0`` (the input) .. ``h{num_layers}``."""
        feats, masks = {'h0': x}, {'h0': mask}
        for i in range(1, self.num_layers + 1):
            feats[f'h{i}'], masks[f'h{i}'] = getattr(self, f'enc{i}')(feats[f'h{i - 1}'], masks[f'h{i - 1}'])
        return dict(out=feats[f'h{self.num_layers}'], hidden_feats=feats, hidden_masks=masks)


@ARCHS.register_module()
class PConvDecoder(nn.Module):
    """PConv U-Net decoder: ×2 upsampling of features and mask, skip concatenation,
    3x3 partial conv + norm + LeakyReLU(0.2); ``dec1`` maps to 3 channels (bias, no norm,
    no activation).

    Args:
        num_layers: as the encoder's (7).
        interpolation: ``F.interpolate`` mode of the ×2 upsampling (``'nearest'``).
        conv_cfg: mask convolution config.
        norm_cfg: mmcv norm config of ``dec2`` ...
    """

    def __init__(self, num_layers: int = 7, interpolation: str = 'nearest',
                 conv_cfg: Optional[Dict] = _PCONV, norm_cfg: Optional[Dict] = dict(type='BN')) -> None:
        super().__init__()
        if num_layers < 4:
            raise ValueError(f'PConvDecoder needs num_layers >= 4, got {num_layers}')
        self.num_layers = num_layers
        self.interpolation = interpolation
        common = dict(kernel_size=3, stride=1, padding=1, conv_cfg=conv_cfg)
        for i in range(5, num_layers + 1):
            self.add_module(f'dec{i}', MaskConvModule(512 + 512, 512, norm_cfg=norm_cfg, act_cfg=_LRELU, **common))
        self.dec4 = MaskConvModule(512 + 256, 256, norm_cfg=norm_cfg, act_cfg=_LRELU, **common)
        self.dec3 = MaskConvModule(256 + 128, 128, norm_cfg=norm_cfg, act_cfg=_LRELU, **common)
        self.dec2 = MaskConvModule(128 + 64, 64, norm_cfg=norm_cfg, act_cfg=_LRELU, **common)
        self.dec1 = MaskConvModule(64 + 3, 3, norm_cfg=None, act_cfg=None, **common)

    def forward(self, input_dict: Dict[str, Any]) -> Tuple[Tensor, Tensor]:
        """``input_dict`` is :class:`PConvEncoder`'s output; returns ``(image, mask)``."""
        feats, masks = input_dict['hidden_feats'], input_dict['hidden_masks']
        h, h_mask = feats[f'h{self.num_layers}'], masks[f'h{self.num_layers}']
        for i in range(self.num_layers, 0, -1):
            h = F.interpolate(h, scale_factor=2, mode=self.interpolation)
            h_mask = F.interpolate(h_mask, scale_factor=2, mode=self.interpolation)
            h = torch.cat([h, feats[f'h{i - 1}']], dim=1)
            h_mask = torch.cat([h_mask, masks[f'h{i - 1}']], dim=1)
            h, h_mask = getattr(self, f'dec{i}')(h, h_mask)
        return h, h_mask


@ARCHS.register_module()
class PConvEncoderDecoder(nn.Module):
    """The PConv inpainting U-Net (MMagic's ``PConvEncoderDecoder``).

    ``forward(x, mask_in)``: ``x`` the masked image (N, 3, H, W) in [-1, 1], ``mask_in``
    (N, 3, H, W) with 1 = known; returns ``(result, updated mask)``. H and W must be
    multiples of ``2 ** num_layers`` (128 for the released 7-layer net).

    Args:
        encoder: :class:`PConvEncoder` config (built through irkit's ARCHS).
        decoder: :class:`PConvDecoder` config.
    """
    inpaint_io = dict(value_range=(-1.0, 1.0), mask='known', hole_fill=0.0, inputs='image_mask',
                      mask_channels=3, outputs=('pred', 'mask_out'), pad_multiple=128,
                      pad_mode='symmetric', channel_order='rgb')

    def __init__(self, encoder: Dict = dict(type='PConvEncoder'),
                 decoder: Dict = dict(type='PConvDecoder')) -> None:
        super().__init__()
        self.encoder = ARCHS.build(encoder)
        self.decoder = ARCHS.build(decoder)
        n_enc, n_dec = self.encoder.num_layers, self.decoder.num_layers
        if n_enc != n_dec:
            raise ValueError(f'PConvEncoderDecoder: encoder.num_layers={n_enc} and '
                             f'decoder.num_layers={n_dec} must be equal')
        self.size_multiple = 2 ** n_enc
        if self.size_multiple != type(self).inpaint_io['pad_multiple']:
            self.inpaint_io = dict(type(self).inpaint_io, pad_multiple=self.size_multiple)

    def forward(self, x: Tensor, mask_in: Tensor) -> Tuple[Tensor, Tensor]:
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f'PConvEncoderDecoder: input size {h}x{w} is not a multiple of '
                             f'{self.size_multiple} (2 ** num_layers); pad the image and mask first')
        return self.decoder(self.encoder(x, mask_in))
