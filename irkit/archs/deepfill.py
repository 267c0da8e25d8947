"""DeepFill v1 (contextual attention) and DeepFill v2 (gated convolution) generators and critics.

* Yu, Lin, Yang, Shen, Lu, Huang, "Generative Image Inpainting with Contextual Attention",
  CVPR 2018 (DeepFill v1);
* Yu, Lin, Yang, Shen, Lu, Huang, "Free-Form Image Inpainting with Gated Convolution",
  ICCV 2019 (DeepFill v2).

The official code is TensorFlow 1 (JiahuiYu/generative_inpainting). irkit follows MMagic's
PyTorch port (open-mmlab/mmagic v1.2.0, ``mmagic/models/editors/deepfillv1`` and
``deepfillv2``): same class names, constructor arguments (sub-networks as config dicts with
``type`` keys, built through irkit's ``ARCHS``), forward signatures and state-dict keys, so
MMagic's released DeepFill checkpoints load through the official format ``mmagic``; outputs
equal MMagic's for the same weights (docs/methods/deepfillv1.md, deepfillv2.md).

Structure: :class:`DeepFillEncoderDecoder` = stage 1
(:class:`~irkit.archs.common.gl_blocks.GLEncoderDecoder` of :class:`DeepFillEncoder`,
:class:`~irkit.archs.common.gl_blocks.GLDilationNeck`, :class:`DeepFillDecoder`) + stage 2
(:class:`DeepFillRefiner`: a dilated conv branch and a :class:`ContextualAttentionNeck` branch,
fused by a :class:`DeepFillDecoder`). v1 uses plain convs, v2 ``conv_type='gated_conv'`` with
``channel_factor=0.75``. Critics: :class:`DeepFillv1Discriminators` (global + local WGAN critics)
and, for v2, :class:`~irkit.archs.common.multi_layer_disc.MultiLayerDiscriminator` with spectral
norm.

Input convention (MMagic's, kept inside): ``cat([masked_img, ones, mask], 1)`` (5 channels),
image in [-1, 1] with holes set to 0 (grey), mask 1 = hole; MMagic trained on BGR images.
"""
from __future__ import annotations

import copy
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmengine.model.weight_init import constant_init, normal_init

from irkit.archs.common.gl_blocks import GLDilationNeck, GLEncoderDecoder, build_arch, conv_module
from irkit.archs.common.multi_layer_disc import MultiLayerDiscriminator
from irkit.registry import ARCHS

__all__ = ['DeepFillEncoder', 'DeepFillDecoder', 'ContextualAttentionModule', 'ContextualAttentionNeck',
           'DeepFillRefiner', 'DeepFillEncoderDecoder', 'DeepFillv1Discriminators',
           'GLEncoderDecoder', 'GLDilationNeck', 'MultiLayerDiscriminator']

_ENCODER_CHANNELS = dict(stage1=(32, 64, 64, 128, 128, 128), stage2_conv=(32, 32, 64, 64, 128, 128),
                         stage2_attention=(32, 32, 64, 128, 128, 128))


@ARCHS.register_module()
class DeepFillEncoder(nn.Module):
    """Six convs ``enc1`` ... ``enc6`` (5x5, then 3x3; strides 1, 2, 1, 2, 1, 1).

    Args:
        in_channels: input channels (5: masked image, ones, mask).
        conv_type: ``'conv'`` (v1) or ``'gated_conv'`` (v2).
        norm_cfg, act_cfg: mmcv configs (ignored ``act_cfg`` for gated convs, which use their
            ``feat_act_cfg``, ELU).
        encoder_type: channel table: ``'stage1'`` (32, 64, 64, 128, 128, 128),
            ``'stage2_conv'`` (32, 32, 64, 64, 128, 128) or ``'stage2_attention'``
            (32, 32, 64, 128, 128, 128).
        channel_factor: widths are ``int(c * channel_factor)`` (v2: 0.75).
        **kwargs: passed to every conv module (e.g. ``padding_mode='reflect'``).

    Returns ``{'out': features}`` at 1/4 resolution.
    """

    def __init__(self, in_channels: int = 5, conv_type: str = 'conv', norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ELU'), encoder_type: str = 'stage1',
                 channel_factor: float = 1., **kwargs) -> None:
        super().__init__()
        conv = conv_module(conv_type, 'DeepFillEncoder')
        if encoder_type not in _ENCODER_CHANNELS:
            raise ValueError(f'DeepFillEncoder: encoder_type must be one of {sorted(_ENCODER_CHANNELS)}, '
                             f'got {encoder_type!r}')
        channels = [int(c * channel_factor) for c in _ENCODER_CHANNELS[encoder_type]]
        kernels = (5, 3, 3, 3, 3, 3)
        strides = (1, 2, 1, 2, 1, 1)
        cin = in_channels
        for i in range(6):
            self.add_module(f'enc{i + 1}', conv(cin, channels[i], kernel_size=kernels[i], stride=strides[i],
                                                padding=(kernels[i] - 1) // 2, norm_cfg=norm_cfg,
                                                act_cfg=act_cfg, **kwargs))
            cin = channels[i]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        for i in range(6):
            x = getattr(self, f'enc{i + 1}')(x)
        return dict(out=x)


@ARCHS.register_module()
class DeepFillDecoder(nn.Module):
    """Seven 3x3 convs ``dec1`` ... ``dec7`` (128, 128, 64, 64, 32, 16, 3 times ``channel_factor``,
    the last always 3), nearest x2 upsampling after ``dec2`` and ``dec4``.

    Args:
        in_channels: input channels.
        conv_type: ``'conv'`` or ``'gated_conv'`` (the last gated conv keeps its sigmoid gate
            but has no feature activation, as MMagic's).
        norm_cfg, act_cfg: mmcv configs (``dec7`` has no activation).
        out_act_cfg: ``dict(type='clip', min=-1., max=1.)`` (clamp, v1) or an mmcv activation
            config such as ``dict(type='Tanh')`` (v2); None = linear.
        channel_factor: width multiplier.
        **kwargs: passed to every conv module.

    ``forward`` takes the features or ``{'out': features}``.
    """

    def __init__(self, in_channels: int, conv_type: str = 'conv', norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ELU'),
                 out_act_cfg: Optional[dict] = dict(type='clip', min=-1., max=1.),
                 channel_factor: float = 1., **kwargs) -> None:
        super().__init__()
        conv = conv_module(conv_type, 'DeepFillDecoder')
        channels = [int(c * channel_factor) for c in (128, 128, 64, 64, 32, 16)] + [3]
        cin = in_channels
        for i in range(7):
            layer_kwargs = copy.deepcopy(kwargs)
            last = i == 6
            if last and conv_type == 'gated_conv':
                layer_kwargs['feat_act_cfg'] = None
            self.add_module(f'dec{i + 1}', conv(cin, channels[i], kernel_size=3, padding=1, norm_cfg=norm_cfg,
                                                act_cfg=None if last else act_cfg, **layer_kwargs))
            cin = channels[i]
        self.with_out_activation = out_act_cfg is not None
        self.clip_range: Optional[Tuple[float, float]] = None
        if self.with_out_activation:
            if out_act_cfg['type'] == 'clip':
                extra = set(out_act_cfg) - {'type', 'min', 'max'}
                if extra:
                    raise ValueError(f"DeepFillDecoder: out_act_cfg 'clip' takes min/max, got {sorted(extra)}")
                self.clip_range = (out_act_cfg.get('min'), out_act_cfg.get('max'))
            else:
                self.out_act = build_activation_layer(dict(out_act_cfg))

    def forward(self, x: Union[torch.Tensor, Dict[str, torch.Tensor]]) -> torch.Tensor:
        if isinstance(x, dict):
            x = x['out']
        for i in range(7):
            x = getattr(self, f'dec{i + 1}')(x)
            if i in (1, 3):
                x = F.interpolate(x, scale_factor=2)
        if not self.with_out_activation:
            return x
        if self.clip_range is not None:
            return torch.clamp(x, min=self.clip_range[0], max=self.clip_range[1])
        return self.out_act(x)


@ARCHS.register_module()
class ContextualAttentionModule(nn.Module):
    """Contextual attention (DeepFill v1) with MMagic's numerics.

    For every position of ``x`` (queries) it attends over the 3x3 patches of ``context``
    (keys), both downscaled by ``scale`` (nearest): scores = cosine-style correlation with
    each key patch L2-normalised (norm floored at 1e-4), fused along the patch diagonal by an
    identity ``fuse_kernel_size`` kernel twice (flattened row-major, then column-major), key
    patches touching the hole (any masked pixel of the downscaled 3x3 patch) set to ``-inf``,
    ``softmax(scores * softmax_scale)`` over the keys; the output pastes the matching
    full-resolution 4x4 context patches (stride 2) weighted by the scores and divides by the
    number of overlapping patches per pixel.

    Differences from the TensorFlow original (inpaint_ops.py): masked keys get ``-inf``
    (renormalised softmax) instead of ``logits * mm`` then ``probs * mm``; the mask is per
    sample, not the batch's first; the paste divides by the true overlap (4 inside, 2 on
    edges, 1 in corners) instead of a constant 4; downscaling is PyTorch nearest (index
    ``2 i``) rather than TF resize with ``align_corners=True``; zero padding is PyTorch's
    symmetric padding rather than TF 'SAME'. One deliberate difference from MMagic: when every
    key patch of a sample touches the hole, MMagic's softmax over only ``-inf`` returns NaN;
    irkit returns zero attention for that sample (nothing pasted, as TF's masking gives).

    Args (MMagic's): ``unfold_raw_*`` kernel/stride/padding of the pasted patches (4, 2, 1),
    ``unfold_corr_*`` kernel/stride/dilation/padding of the matched patches (3, 1, 1, 1),
    ``scale`` (0.5), ``fuse_kernel_size`` (3; 1 = no fusion), ``softmax_scale`` (10),
    ``return_attention_score``.

    ``forward(x, context, mask=None)`` -> ``output`` or ``(output, attention_score)`` with the
    scores shaped ``(n, h_key, w_key, h, w)``: for each key patch (first two dims) its weight at
    every query position of the downscaled grid.
    """

    def __init__(self, unfold_raw_kernel_size: int = 4, unfold_raw_stride: int = 2,
                 unfold_raw_padding: int = 1, unfold_corr_kernel_size: int = 3,
                 unfold_corr_stride: int = 1, unfold_corr_dilation: int = 1,
                 unfold_corr_padding: int = 1, scale: float = 0.5, fuse_kernel_size: int = 3,
                 softmax_scale: float = 10, return_attention_score: bool = True) -> None:
        super().__init__()
        self.unfold_raw_kernel_size = unfold_raw_kernel_size
        self.unfold_raw_stride = unfold_raw_stride
        self.unfold_raw_padding = unfold_raw_padding
        self.unfold_corr_kernel_size = unfold_corr_kernel_size
        self.unfold_corr_stride = unfold_corr_stride
        self.unfold_corr_dilation = unfold_corr_dilation
        self.unfold_corr_padding = unfold_corr_padding
        self.scale = scale
        self.fuse_kernel_size = fuse_kernel_size
        self.with_fuse_correlation = fuse_kernel_size > 1
        self.softmax_scale = softmax_scale
        self.return_attention_score = return_attention_score
        if self.with_fuse_correlation:
            if fuse_kernel_size % 2 != 1:
                raise ValueError(f'ContextualAttentionModule: fuse_kernel_size must be odd, got {fuse_kernel_size}')
            self.register_buffer('fuse_kernel', torch.eye(fuse_kernel_size).view(
                1, 1, fuse_kernel_size, fuse_kernel_size))

    # --- pieces ---------------------------------------------------------------
    def _corr_unfold(self, t: torch.Tensor) -> torch.Tensor:
        return F.unfold(t, self.unfold_corr_kernel_size, dilation=self.unfold_corr_dilation,
                        padding=self.unfold_corr_padding, stride=self.unfold_corr_stride)

    def _grid(self, hw: Sequence[int], k: int, s: int, p: int, d: int = 1) -> Tuple[int, int]:
        return tuple((v + 2 * p - d * (k - 1) - 1) // s + 1 for v in hw)

    def _fuse(self, scores: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """Identity-kernel fusion of ``scores`` ``(n, query, key)`` along the diagonal of the
        row-major flattening, then of the column-major one (neighbouring queries that match
        neighbouring keys reinforce each other)."""
        n, h, w = scores.shape[0], grid[0], grid[1]
        scores = self._correlate(scores)  # row-major
        # to column-major order on both axes: (qy, qx, ky, kx) -> (qx, qy, kx, ky)
        scores = scores.reshape(n, h, w, h, w).permute(0, 2, 1, 4, 3).reshape(n, w * h, w * h)
        scores = self._correlate(scores)
        return scores.reshape(n, w, h, w, h).permute(0, 2, 1, 4, 3).reshape(n, h * w, h * w)

    def _correlate(self, scores: torch.Tensor) -> torch.Tensor:
        """``conv2d(scores, fuse_kernel, padding=k // 2)`` on the ``(query, key)`` matrix, as a sum
        of shifted copies over the kernel's non-zero taps (the identity kernel: the diagonal), far
        faster on CPU than a one-channel convolution of a ``Q x L`` image."""
        k = self.fuse_kernel_size
        r = (k - 1) // 2
        q, l_ = scores.shape[-2:]
        padded = F.pad(scores, (r, r, r, r))
        kernel = self.fuse_kernel.reshape(k, k)
        out = None
        for i, j in kernel.nonzero().tolist():
            term = padded[:, i:i + q, j:j + l_]
            term = term if float(kernel[i, j]) == 1.0 else term * kernel[i, j].to(scores)
            out = term if out is None else out + term
        return torch.zeros_like(scores) if out is None else out

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: Optional[torch.Tensor] = None):
        n, c = context.shape[:2]
        # full-resolution patches of the context, pasted back at the end: (n, c*kr*kr, L)
        raw_cols = F.unfold(context, self.unfold_raw_kernel_size, padding=self.unfold_raw_padding,
                            stride=self.unfold_raw_stride)
        x = F.interpolate(x, scale_factor=self.scale)
        context = F.interpolate(context, scale_factor=self.scale)
        key_grid = self._grid(context.shape[-2:], self.unfold_corr_kernel_size, self.unfold_corr_stride,
                              self.unfold_corr_padding, self.unfold_corr_dilation)
        keys = self._corr_unfold(context)  # (n, c*k*k, L)
        keys = keys / keys.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-4)
        queries = self._corr_unfold(x)  # (n, c*k*k, Q)
        query_grid = self._grid(x.shape[-2:], self.unfold_corr_kernel_size, self.unfold_corr_stride,
                                self.unfold_corr_padding, self.unfold_corr_dilation)
        scores = torch.bmm(queries.transpose(1, 2), keys)  # (n, Q, L)
        if self.with_fuse_correlation:
            if query_grid != key_grid:
                raise ValueError(f'ContextualAttentionModule: fusion needs the query grid {query_grid} to '
                                 f'equal the key grid {key_grid} (x and context of one size, stride 1)')
            scores = self._fuse(scores, key_grid)
        no_valid_key = None
        if mask is not None:
            mask = F.interpolate(mask, scale_factor=self.scale)
            hole_keys = self._corr_unfold(mask).sum(dim=1, keepdim=True) > 0  # (n, 1, L)
            # a sample whose keys all touch the hole has nothing to attend to: MMagic's softmax over
            # -inf gives NaN there; irkit gives zero attention (nothing pasted), as TF's masking does
            no_valid_key = hole_keys.all(dim=2, keepdim=True)  # (n, 1, 1)
            scores = scores.masked_fill(hole_keys & ~no_valid_key, float('-inf'))
        attention = torch.softmax(scores * self.softmax_scale, dim=2)  # over keys
        if no_valid_key is not None and bool(no_valid_key.any()):
            attention = attention.masked_fill(no_valid_key, 0.0)
        if raw_cols.shape[2] != attention.shape[2]:
            raise ValueError(f'ContextualAttentionModule: {raw_cols.shape[2]} pasted patches for '
                             f'{attention.shape[2]} matched ones; use an input size divisible by '
                             f'{round(1 / self.scale)} with the default unfold settings')
        # paste: every query position receives sum_key score * raw patch (transposed conv as fold)
        h_s, w_s = query_grid
        k, s, p = self.unfold_raw_kernel_size, self.unfold_raw_stride, self.unfold_raw_padding
        out_hw = ((h_s - 1) * s - 2 * p + k, (w_s - 1) * s - 2 * p + k)
        output = F.fold(torch.bmm(raw_cols, attention.transpose(1, 2)), out_hw, k, padding=p, stride=s)
        overlap = F.fold(raw_cols.new_ones(1, k * k, h_s * w_s), out_hw, k, padding=p, stride=s)
        output = output / overlap.masked_fill(overlap == 0, 1.0)
        if self.return_attention_score:
            score = attention.transpose(1, 2).reshape(n, key_grid[0], key_grid[1], h_s, w_s)
            return output, score
        return output


@ARCHS.register_module()
class ContextualAttentionNeck(nn.Module):
    """Contextual attention (``x`` attends over itself inside the hole) + two 3x3 convs.

    Args:
        in_channels: channels in and out.
        conv_type: ``'conv'`` or ``'gated_conv'``.
        conv_cfg, norm_cfg, act_cfg: mmcv configs of ``conv1``/``conv2``.
        contextual_attention_args: :class:`ContextualAttentionModule` arguments.
        **kwargs: passed to both convs.

    ``forward(x, mask)`` -> ``(features, attention_score)``.
    """

    def __init__(self, in_channels: int, conv_type: str = 'conv', conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = dict(type='ELU'),
                 contextual_attention_args: dict = dict(softmax_scale=10.), **kwargs) -> None:
        super().__init__()
        self.contextual_attention = ContextualAttentionModule(**contextual_attention_args)
        conv = conv_module(conv_type, 'ContextualAttentionNeck')
        self.conv1 = conv(in_channels, in_channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                          act_cfg=act_cfg, **kwargs)
        self.conv2 = conv(in_channels, in_channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                          act_cfg=act_cfg, **kwargs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x, offset = self.contextual_attention(x, x, mask)
        return self.conv2(self.conv1(x)), offset


@ARCHS.register_module()
class DeepFillRefiner(nn.Module):
    """DeepFill's second stage: conv branch (encoder + dilated neck) and attention branch (encoder +
    contextual attention), concatenated and decoded.

    ``forward(x, mask)`` with ``x`` the 5-channel stage-2 input (stage-1 composite, ones, mask)
    and ``mask`` ``(n, 1, H, W)`` (1 = hole; resized by nearest to the attention branch's
    1/4 grid) -> ``(image, attention_score)``.
    """

    def __init__(self,
                 encoder_attention: dict = dict(type='DeepFillEncoder', encoder_type='stage2_attention'),
                 encoder_conv: dict = dict(type='DeepFillEncoder', encoder_type='stage2_conv'),
                 dilation_neck: dict = dict(type='GLDilationNeck', in_channels=128, act_cfg=dict(type='ELU')),
                 contextual_attention: dict = dict(type='ContextualAttentionNeck', in_channels=128),
                 decoder: dict = dict(type='DeepFillDecoder', in_channels=256)) -> None:
        super().__init__()
        self.encoder_attention = build_arch(encoder_attention)
        self.encoder_conv = build_arch(encoder_conv)
        self.contextual_attention_neck = build_arch(contextual_attention)
        self.dilation_neck = build_arch(dilation_neck)
        self.decoder = build_arch(decoder)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        conv_x = self.dilation_neck(self.encoder_conv(x)['out'])
        attention_x = self.encoder_attention(x)['out']
        small_mask = F.interpolate(mask, size=attention_x.shape[-2:])
        attention_x, offset = self.contextual_attention_neck(attention_x, small_mask)
        return self.decoder(dict(out=torch.cat([conv_x, attention_x], dim=1))), offset


_DEFAULT_STAGE1 = dict(type='GLEncoderDecoder', encoder=dict(type='DeepFillEncoder'),
                       decoder=dict(type='DeepFillDecoder', in_channels=128),
                       dilation_neck=dict(type='GLDilationNeck', in_channels=128, act_cfg=dict(type='ELU')))


@ARCHS.register_module()
class DeepFillEncoderDecoder(nn.Module):
    """Two-stage DeepFill generator (v1 with plain convs, v2 with gated convs).

    Args:
        stage1: coarse network config (a ``GLEncoderDecoder`` of DeepFill parts).
        stage2: refinement network config (``DeepFillRefiner``).
        return_offset: also return the contextual-attention scores.

    ``forward(x)`` with ``x = cat([masked_img, ones, mask], 1)`` -> ``(stage1, stage2)``
    (``+ (attention_score,)`` with ``return_offset``): the raw (uncomposited) outputs of both
    stages. Stage 2 sees the stage-1 output pasted into the hole plus the ones and mask channels.
    """

    #: MMagic's conventions (irkit configs set channel_order='bgr': MMagic trained on BGR); min_size: the
    #: reflect padding of the dilation-16 convs at 1/4 resolution needs more than 16 px (68, padded to 72)
    inpaint_io = dict(value_range=(-1.0, 1.0), mask='hole', hole_fill=0.0, inputs='concat_ones',
                      mask_channels=1, outputs=('stage1', 'pred'), pad_multiple=8, pad_mode='symmetric',
                      min_size=72, channel_order='rgb')

    def __init__(self, stage1: dict = _DEFAULT_STAGE1, stage2: dict = dict(type='DeepFillRefiner'),
                 return_offset: bool = False) -> None:
        super().__init__()
        self.stage1 = build_arch(copy.deepcopy(stage1))
        self.stage2 = build_arch(copy.deepcopy(stage2))
        self.return_offset = return_offset
        if return_offset:
            self.inpaint_io = dict(self.inpaint_io, outputs=('stage1', 'pred', 'offset'))

    def forward(self, x: torch.Tensor):
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f'DeepFillEncoderDecoder: input size {tuple(x.shape[-2:])} must be divisible by 8 '
                             "(two stride-2 convs and the attention's x0.5 grid); pad it first")
        masked_img, mask = x[:, :3], x[:, -1:]
        stage1 = self.stage1(x)
        stage2_in = torch.cat([stage1 * mask + masked_img * (1. - mask), x[:, 3:]], dim=1)
        stage2, offset = self.stage2(stage2_in, mask)
        return (stage1, stage2, offset) if self.return_offset else (stage1, stage2)

    def init_weights(self) -> None:
        """MMagic's init: every ``nn.Conv2d`` N(0, 0.02) with zero bias, norm layers weight 1 bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, 0, 0.02)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.InstanceNorm2d)):
                constant_init(m, 1)


@ARCHS.register_module()
class DeepFillv1Discriminators(nn.Module):
    """DeepFill v1's independent global and local WGAN critics.

    Args:
        global_disc_cfg: config (with ``type``) of the critic of the whole image (MMagic:
            ``MultiLayerDiscriminator``, 4 ELU convs up to 256 channels, ``fc`` 256*16*16 -> 1).
        local_disc_cfg: config of the critic of the local patch (MMagic: up to 512 channels,
            ``fc`` 512*8*8 -> 1 on 128x128).

    ``forward((global_img, local_patch))`` -> ``(global_logits, local_logits)``, each ``(n, 1)``;
    MMagic applies the GAN loss to each and adds them.
    """

    disc_io = dict(inputs='global_local', local_size=128, returns='logits_pair')

    def __init__(self, global_disc_cfg: dict, local_disc_cfg: dict) -> None:
        super().__init__()
        self.global_disc = build_arch(copy.deepcopy(global_disc_cfg))
        self.local_disc = build_arch(copy.deepcopy(local_disc_cfg))

    def forward(self, x: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        global_img, local_img = x
        return self.global_disc(global_img), self.local_disc(local_img)

    def init_weights(self) -> None:
        """MMagic's init: linear and conv layers N(0, 0.02), bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                normal_init(m, 0, 0.02)
