"""Co-Mod-GAN: co-modulated GAN for large-scale image completion.

Zhao, Cui, Sheng, Dong, Liang, Chang, Xu, "Large Scale Image Completion via
Co-Modulated Generative Adversarial Networks", ICLR 2021 (https://arxiv.org/abs/2103.10428).

A StyleGAN2 skip generator whose every modulated conv is driven by the concatenation of
the per-layer style ``w`` and a global code from a conditional encoder (co-modulation):

* encoder on ``cat(mask - 0.5, image * mask)``: 1x1 FromRGB, per resolution a 3x3 conv
  (kept as a skip feature) and a 3x3 stride-2 conv, at 4x4 a 3x3 conv and a dense layer to
  ``2 * nf(1)`` channels followed by dropout (rate 0.5) -> the global code;
* decoder: a dense layer from the global code to a 4x4 map (plus the encoder's 4x4
  features), then per resolution a modulated up-conv (+ the encoder feature of that
  resolution), a modulated conv, noise injection and a ToRGB skip output;
* the output is composited inside the network: ``y * (1 - mask) + image * mask``.

Layout: the state_dict keys and shapes of the PyTorch port zengxianyu/co-mod-gan-pytorch
(master @ 6d62e2e, ``co_mod_gan.Generator``), so its converted TF weights
(``co-mod-gan-places2-050000.pth`` / ``..._net_G_ema.pth``) load with ``strict=True`` through
the official format ``'comodgan'``; rosinality-style layers from
:mod:`irkit.archs.common.stylegan2_rosinality`. Semantics: the official TensorFlow code
zsyzzsoft/co-mod-gan @ c8b9ffe (``G_main``, ``G_synthesis_co_mod_gan``, ``D_co_mod_gan``).
The port departs from it in two places, each reproducible with a constructor flag:
``skip_4x4=False`` drops the encoder's 4x4 features from the decoder input (the port never
adds them) and ``dropout_in_eval=False`` applies the global-code dropout in train mode only
(the port's ``nn.Dropout``; TF draws it at every call). In train mode the generator also does
what ``G_main`` does in training (style mixing, truncation towards the tracked ``dlatent_avg``);
``truncation_psi=None, style_mixing_prob=None`` turn that off as in the port.

Images are ``N x C x R x R`` in [-1, 1] at the fixed training resolution ``R``; masks
``N x 1 x R x R`` with 1 = known pixel, 0 = hole.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.archs.common.stylegan2 import FullyConnectedLayer, dis_trunk, resolution_log2
from irkit.archs.common.stylegan2_rosinality import (ConvLayer, EqualLinear, PixelNorm, StyledConv,
                                                     ToRGB)
from irkit.fileio.weights import ConversionError, official_format, pick_state, strip_prefix, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['CoModGANGenerator', 'CoModGANDiscriminator', 'G_mapping', 'G_synthesis_co_mod_gan',
           'comodgan_nf', 'comodgan_parts']


def comodgan_nf(fmap_base: int = 16 << 10, fmap_decay: float = 1.0, fmap_min: int = 1,
                fmap_max: int = 512):
    """``nf(stage) = clip(fmap_base / 2**(stage * fmap_decay), fmap_min, fmap_max)``: the width
    of the layers at resolution ``2**(stage + 1)`` (official ``nf``)."""
    def nf(stage: int) -> int:
        return int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))
    return nf


def _require(name: str, value: Any, supported: Any) -> None:
    if value != supported:
        raise ValueError(f'Co-Mod-GAN: {name}={value!r} is not supported (only {supported!r}, '
                         'the released configuration)')


class G_mapping(nn.Module):
    """Mapping network z -> w: pixel norm, then ``mapping_layers`` equalised-lr dense layers
    (lrelu, learning-rate multiplier ``mapping_lrmul``). Keys ``G_mapping.Dense{i}.*``."""

    def __init__(self, latent_size: int = 512, dlatent_size: int = 512, mapping_layers: int = 8,
                 mapping_fmaps: int = 512, mapping_lrmul: float = 0.01,
                 normalize_latents: bool = True) -> None:
        super().__init__()
        layers: List[Tuple[str, nn.Module]] = [('Normalize', PixelNorm())] if normalize_latents else []
        dim_in = latent_size
        for idx in range(mapping_layers):
            fmaps = dlatent_size if idx == mapping_layers - 1 else mapping_fmaps
            layers.append((f'Dense{idx}', EqualLinear(dim_in, fmaps, lr_mul=mapping_lrmul,
                                                      activation='fused_lrelu')))
            dim_in = fmaps
        self.G_mapping = nn.Sequential(OrderedDict(layers))

    def forward(self, latents_in: torch.Tensor) -> torch.Tensor:
        return self.G_mapping(latents_in)


class _EncoderFromRGB(nn.Module):
    def __init__(self, channel_in: int, channel_out: int, resample_kernel: Sequence[float]) -> None:
        super().__init__()
        self.FromRGB = ConvLayer(channel_in, channel_out, 1, blur_kernel=resample_kernel)


class _EncoderBlock(nn.Module):
    def __init__(self, channel_in: int, channel_out: int, resample_kernel: Sequence[float]) -> None:
        super().__init__()
        self.Conv0 = ConvLayer(channel_in, channel_in, kernel_size=3)
        self.Conv1_down = ConvLayer(channel_in, channel_out, kernel_size=3, downsample=True,
                                    blur_kernel=resample_kernel)


class _EncoderFinal(nn.Module):
    def __init__(self, channel_in: int, channel_out: int) -> None:
        super().__init__()
        self.Conv = ConvLayer(channel_in, channel_out, kernel_size=3)
        self.Dense0 = EqualLinear(channel_out * 4 * 4, channel_out * 2, activation='fused_lrelu')


class _DecoderBlock0(nn.Module):
    def __init__(self, channels: int, mod_size: int, num_channels: int) -> None:
        super().__init__()
        self.Dense = EqualLinear(channels * 2, channels * 4 * 4, activation='fused_lrelu')
        self.Conv = StyledConv(channels, channels, kernel_size=3, style_dim=mod_size)
        self.ToRGB = ToRGB(channels, style_dim=mod_size, upsample=False, out_channel=num_channels)


class _DecoderBlock(nn.Module):
    def __init__(self, channel_in: int, channel_out: int, mod_size: int, num_channels: int,
                 resample_kernel: Sequence[float]) -> None:
        super().__init__()
        self.Conv0_up = StyledConv(channel_in, channel_out, kernel_size=3, style_dim=mod_size,
                                   upsample=True, blur_kernel=resample_kernel)
        self.Conv1 = StyledConv(channel_out, channel_out, kernel_size=3, style_dim=mod_size)
        self.ToRGB = ToRGB(channel_out, mod_size, blur_kernel=resample_kernel, out_channel=num_channels)


class G_synthesis_co_mod_gan(nn.Module):
    """Conditional encoder + co-modulated StyleGAN2 skip decoder (official
    ``G_synthesis_co_mod_gan``). Submodules ``E`` (``'{R}x{R}_0'`` FromRGB, ``'{r}x{r}'`` blocks,
    ``'4x4'``), ``G_4x4`` and ``G_{r}x{r}``; see :class:`CoModGANGenerator` for the arguments."""

    def __init__(self, dlatent_size: int = 512, num_channels: int = 3, resolution: int = 512,
                 fmap_base: int = 16 << 10, fmap_decay: float = 1.0, fmap_min: int = 1,
                 fmap_max: int = 512, resample_kernel: Sequence[float] = (1, 3, 3, 1),
                 dropout_rate: float = 0.5, cond_mod: bool = True, style_mod: bool = True,
                 noise_injection: bool = True, skip_4x4: bool = True, dropout_in_eval: bool = True) -> None:
        super().__init__()
        self.resolution_log2 = log2 = resolution_log2(resolution, 8, 'Co-Mod-GAN resolution')
        self.num_layers = log2 * 2 - 2
        nf = comodgan_nf(fmap_base, fmap_decay, fmap_min, fmap_max)
        self.nf = nf
        self.dropout_rate = float(dropout_rate)
        self.cond_mod = cond_mod
        self.style_mod = style_mod
        self.noise_injection = noise_injection
        self.skip_4x4 = skip_4x4
        self.dropout_in_eval = dropout_in_eval
        self.mod_size = (dlatent_size if style_mod else 0) + (nf(1) * 2 if cond_mod else 0)
        if self.mod_size == 0:
            raise ValueError('Co-Mod-GAN needs style_mod or cond_mod (or both)')
        resample_kernel = [float(v) for v in resample_kernel]

        enc: List[Tuple[str, nn.Module]] = [
            (f'{resolution}x{resolution}_0', _EncoderFromRGB(num_channels + 1, nf(log2 - 1), resample_kernel))]
        for res in range(log2, 2, -1):
            enc.append((f'{2 ** res}x{2 ** res}', _EncoderBlock(nf(res - 1), nf(res - 2), resample_kernel)))
        # the 8x8 block leaves nf(1) channels (official); the port declares nf(2) (equal when released)
        enc.append(('4x4', _EncoderFinal(nf(1), nf(1))))
        self.E = nn.Sequential(OrderedDict(enc))

        self.G_4x4 = _DecoderBlock0(nf(1), self.mod_size, num_channels)
        for res in range(3, log2 + 1):
            setattr(self, f'G_{2 ** res}x{2 ** res}',
                    _DecoderBlock(nf(res - 2), nf(res - 1), self.mod_size, num_channels, resample_kernel))

    def _mod(self, dlatents: torch.Tensor, idx: int, x_global: torch.Tensor) -> torch.Tensor:
        parts = ([dlatents[:, idx]] if self.style_mod else []) + ([x_global] if self.cond_mod else [])
        return torch.cat(parts, 1)

    def forward(self, images_in: torch.Tensor, masks_in: torch.Tensor, dlatents_in: torch.Tensor,
                noise: Optional[Sequence[Optional[torch.Tensor]]] = None) -> torch.Tensor:
        """``dlatents_in``: ``N x num_layers x dlatent_size``; ``noise``: ``num_layers - 1``
        per-layer tensors (``N|1 x 1 x r x r``, ``None`` = fresh N(0, 1)) or None."""
        n_noise = self.num_layers - 1
        if noise is None:
            noise = [None] * n_noise
        elif len(noise) != n_noise:
            raise ValueError(f'noise must list {n_noise} per-layer tensors (or None), got {len(noise)}')
        if not self.noise_injection:
            noise = [0] * n_noise

        y = torch.cat([masks_in - 0.5, images_in * masks_in], 1)
        feats: Dict[int, torch.Tensor] = {}
        blocks = list(self.E.children())
        x = blocks[0].FromRGB(y)
        for res, block in zip(range(self.resolution_log2, 2, -1), blocks[1:-1]):
            x = block.Conv0(x)
            feats[res] = x
            x = block.Conv1_down(x)
        final = blocks[-1]
        x = final.Conv(x)
        feats[2] = x
        x = final.Dense0(x.flatten(1))
        x_global = F.dropout(x, self.dropout_rate, training=self.training or self.dropout_in_eval)

        g = self.G_4x4
        x = g.Dense(x_global).view(-1, self.nf(1), 4, 4)
        if self.skip_4x4:
            x = x + feats[2]
        x = g.Conv(x, self._mod(dlatents_in, 0, x_global), noise=noise[0])
        img = g.ToRGB(x, self._mod(dlatents_in, 1, x_global))
        for res in range(3, self.resolution_log2 + 1):
            blk = getattr(self, f'G_{2 ** res}x{2 ** res}')
            x = blk.Conv0_up(x, self._mod(dlatents_in, res * 2 - 5, x_global), noise=noise[res * 2 - 5])
            x = x + feats[res]
            x = blk.Conv1(x, self._mod(dlatents_in, res * 2 - 4, x_global), noise=noise[res * 2 - 4])
            img = blk.ToRGB(x, self._mod(dlatents_in, res * 2 - 3, x_global), skip=img)
        return img * (1 - masks_in) + images_in * masks_in


@ARCHS.register_module()
class CoModGANGenerator(nn.Module):
    """Co-Mod-GAN generator (port ``co_mod_gan.Generator``; official ``G_main``).

    Args (port/official names; defaults = the released Places2 512 and FFHQ 512 models,
    ``resolution=1024`` for FFHQ 1024):
        resolution: fixed image size R (power of two).
        latent_size, dlatent_size: z and w sizes (512).
        num_channels: image channels (3).
        fmap_base, fmap_decay, fmap_min, fmap_max: widths ``nf(stage) = clip(fmap_base /
            2**(stage * fmap_decay), fmap_min, fmap_max)`` (16384, 1, 1, 512).
        mapping_layers, mapping_fmaps, mapping_lrmul, normalize_latents: mapping network
            (8, 512, 0.01, True).
        resample_kernel: FIR taps for resampling ([1, 3, 3, 1]).
        dropout_rate: dropout on the global code (0.5).
        cond_mod, style_mod: modulate with the global code / with w (both True).
        noise_injection: per-layer noise (True).
        randomize_noise: must be True (fresh noise per call; the converted weights carry no
            noise constants: pass ``noise=`` to ``forward`` for fixed noise).
        dlatent_avg_beta: decay of the tracked average of w (``dlatent_avg``, updated in
            train mode, used by truncation); official 0.995, None = do not track.
        truncation_psi: truncation applied in train mode (official ``G_main`` with
            ``is_training``: 0.5, towards ``dlatent_avg``); None = off. Not used in eval mode,
            where ``forward``'s ``truncation`` decides (None, like the official validation).
        style_mixing_prob: probability of style mixing in train mode (official 0.5): a second
            z is drawn and takes over from a random layer ``1 .. num_layers - 1``.
        skip_4x4: add the encoder's 4x4 features to the decoder input (official TF; the
            port omits it: False reproduces the port).
        dropout_in_eval: draw the global-code dropout in eval mode too (official TF; the
            port's ``nn.Dropout`` is train-only: False reproduces the port).
        label_size, architecture, nonlinearity, fused_modconv, pix2pix: only the released
            values (0, 'skip', 'lrelu', True, False) are supported.

    ``forward(images_in, masks_in, latents_in, return_latents=False, inject_index=None,
    truncation=None, truncation_mean=None, noise=None)``: ``latents_in`` is a list of one
    z (or two z for style mixing, switching at layer ``inject_index``, drawn from torch's RNG
    when None) of shape ``N x latent_size``; ``truncation`` psi lerps every w towards
    ``truncation_mean`` (default: the tracked ``dlatent_avg``); ``noise`` lists the
    ``num_layers - 1`` per-layer noise tensors. Returns the composited image (and the
    ``N x num_layers x dlatent_size`` w with ``return_latents``). In train mode a single z
    is style-mixed and truncated as ``G_main`` does in training (``style_mixing_prob``,
    ``truncation_psi``); the port's forward has neither (set both to None to reproduce it).

    The state_dict is the port's plus the ``dlatent_avg`` buffer (official ``G_main``
    variable; the port keeps the average outside the network and passes it as
    ``truncation_mean``); the ``'comodgan'`` reader supplies it for the converted files.
    """

    def __init__(self, resolution: int = 512, latent_size: int = 512, dlatent_size: int = 512,
                 num_channels: int = 3, fmap_base: int = 16 << 10, fmap_decay: float = 1.0,
                 fmap_min: int = 1, fmap_max: int = 512, mapping_layers: int = 8,
                 mapping_fmaps: int = 512, mapping_lrmul: float = 0.01, normalize_latents: bool = True,
                 resample_kernel: Sequence[float] = (1, 3, 3, 1), dropout_rate: float = 0.5,
                 cond_mod: bool = True, style_mod: bool = True, noise_injection: bool = True,
                 randomize_noise: bool = True, dlatent_avg_beta: Optional[float] = 0.995,
                 truncation_psi: Optional[float] = 0.5, style_mixing_prob: Optional[float] = 0.5,
                 skip_4x4: bool = True, dropout_in_eval: bool = True, label_size: int = 0,
                 architecture: str = 'skip', nonlinearity: str = 'lrelu', fused_modconv: bool = True,
                 pix2pix: bool = False) -> None:
        super().__init__()
        for name, value, supported in (('label_size', label_size, 0), ('architecture', architecture, 'skip'),
                                       ('nonlinearity', nonlinearity, 'lrelu'),
                                       ('fused_modconv', fused_modconv, True), ('pix2pix', pix2pix, False),
                                       ('randomize_noise', randomize_noise, True)):
            _require(name, value, supported)
        self.resolution = self.img_resolution = resolution
        self.latent_size = self.latent_dim = latent_size
        self.dlatent_size = dlatent_size
        self.num_channels = num_channels
        self.dlatent_avg_beta = dlatent_avg_beta
        self.truncation_psi = truncation_psi
        self.style_mixing_prob = style_mixing_prob
        self.G_mapping = G_mapping(latent_size, dlatent_size, mapping_layers, mapping_fmaps, mapping_lrmul,
                                   normalize_latents)
        self.G_synthesis = G_synthesis_co_mod_gan(
            dlatent_size, num_channels, resolution, fmap_base, fmap_decay, fmap_min, fmap_max,
            resample_kernel, dropout_rate, cond_mod, style_mod, noise_injection, skip_4x4, dropout_in_eval)
        self.register_buffer('dlatent_avg', torch.zeros(dlatent_size))

    @property
    def inpaint_io(self) -> dict:
        """irkit's adapter (:mod:`irkit.models.inpaint_io`): [-1, 1] images, mask 1 = known, the
        net masks and composites itself, ``G(image, mask, [z])``; fixed resolution."""
        return dict(value_range=(-1.0, 1.0), mask='known', hole_fill=None, inputs='image_mask_latents',
                    outputs=('pred',), resize_to=self.resolution)

    @property
    def num_layers(self) -> int:
        """Number of per-layer styles (``2 * log2(resolution) - 2``)."""
        return self.G_synthesis.num_layers

    def _check_inputs(self, images_in: torch.Tensor, masks_in: torch.Tensor) -> None:
        r, c = self.resolution, self.num_channels
        if images_in.ndim != 4 or tuple(images_in.shape[1:]) != (c, r, r):
            raise ValueError(f'CoModGANGenerator: images_in must be N x {c} x {r} x {r} (the training '
                             f'resolution), got {tuple(images_in.shape)}')
        if masks_in.shape != (images_in.shape[0], 1, r, r):
            raise ValueError(f'CoModGANGenerator: masks_in must be N x 1 x {r} x {r} (1 = known), '
                             f'got {tuple(masks_in.shape)}')

    @torch.no_grad()
    def mean_latent(self, n_latent: int = 4096, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Mean of w over ``n_latent`` draws of z (``1 x dlatent_size``), the port's truncation mean."""
        z = torch.randn(n_latent, self.latent_size, generator=generator, device=self.dlatent_avg.device,
                        dtype=self.dlatent_avg.dtype)
        return self.G_mapping(z).mean(0, keepdim=True)

    def forward(self, images_in: torch.Tensor, masks_in: torch.Tensor, latents_in: Sequence[torch.Tensor],
                return_latents: bool = False, inject_index: Optional[int] = None,
                truncation: Optional[float] = None, truncation_mean: Optional[torch.Tensor] = None,
                noise: Optional[Sequence[Optional[torch.Tensor]]] = None
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        if not isinstance(latents_in, (list, tuple)) or not 1 <= len(latents_in) <= 2:
            raise TypeError('CoModGANGenerator: latents_in must be a list of one z (or two for style '
                            f'mixing), got {type(latents_in).__name__}')
        for z in latents_in:
            if z.ndim != 2 or z.shape != (images_in.shape[0], self.latent_size):
                raise ValueError(f'CoModGANGenerator: each latent must be N x {self.latent_size}, '
                                 f'got {tuple(z.shape)}')
        self._check_inputs(images_in, masks_in)
        n = self.num_layers
        if self.training and len(latents_in) == 1 and self.style_mixing_prob:
            z2 = torch.randn_like(latents_in[0])
            cutoff = int(torch.randint(1, n, ()))
            latents_in = [latents_in[0], z2]
            inject_index = cutoff if float(torch.rand(())) < self.style_mixing_prob else n
        if truncation is None and self.training:
            truncation = self.truncation_psi
        dlatents = [self.G_mapping(z) for z in latents_in]
        if self.training and self.dlatent_avg_beta is not None:
            with torch.no_grad():
                batch_avg = dlatents[0].detach().mean(0).to(self.dlatent_avg.dtype)
                self.dlatent_avg.copy_(batch_avg.lerp(self.dlatent_avg, self.dlatent_avg_beta))
        if truncation is not None:
            mean = self.dlatent_avg if truncation_mean is None else truncation_mean
            dlatents = [mean + truncation * (w - mean) for w in dlatents]
        if len(dlatents) == 1:
            dlatent = dlatents[0].unsqueeze(1).repeat(1, n, 1)
        else:
            if inject_index is None:
                inject_index = int(torch.randint(1, n, ()))
            if not 0 <= inject_index <= n:
                raise ValueError(f'inject_index must be in [0, {n}], got {inject_index}')
            dlatent = torch.cat([dlatents[0].unsqueeze(1).repeat(1, inject_index, 1),
                                 dlatents[1].unsqueeze(1).repeat(1, n - inject_index, 1)], 1)
        out = self.G_synthesis(images_in, masks_in, dlatent, noise=noise)
        return (out, dlatent) if return_latents else out


@ARCHS.register_module()
class CoModGANDiscriminator(nn.Module):
    """Co-Mod-GAN discriminator (official TF ``D_co_mod_gan``): a ResNet StyleGAN2
    discriminator on ``cat(mask - 0.5, image)`` with minibatch standard deviation.

    1x1 FromRGB to ``nf(log2(R) - 1)``, residual blocks down to 4x4 (3x3 conv, 3x3 stride-2
    conv, 1x1 stride-2 skip, sum / sqrt(2)), minibatch std (group ``mbstd_group_size``,
    ``mbstd_num_features`` channels), 3x3 conv to ``nf(1)``, dense to ``nf(0)``, dense to one
    logit. The blocks are irkit's StyleGAN2 ones (shared with MAT's discriminator, whose main
    head is this network at the released widths); the port's own discriminator (train branch)
    differs by a 3x3 first conv and no weights were released for either.

    ``forward(images_in, masks_in)`` with the mask in the generator's polarity (1 = known);
    ``forward(x)`` with ``x = cat([image, mask], 1)`` splits the last channel off as the mask.
    Returns ``N x 1`` logits.
    """

    disc_io = dict(inputs='image_mask', local_size=None, returns='logits')

    def __init__(self, resolution: int = 512, num_channels: int = 3, fmap_base: int = 16 << 10,
                 fmap_decay: float = 1.0, fmap_min: int = 1, fmap_max: int = 512,
                 mbstd_group_size: int = 4, mbstd_num_features: int = 1,
                 resample_kernel: Sequence[float] = (1, 3, 3, 1), label_size: int = 0,
                 architecture: str = 'resnet', nonlinearity: str = 'lrelu', pix2pix: bool = False) -> None:
        super().__init__()
        for name, value, supported in (('label_size', label_size, 0), ('architecture', architecture, 'resnet'),
                                       ('nonlinearity', nonlinearity, 'lrelu'), ('pix2pix', pix2pix, False)):
            _require(name, value, supported)
        if tuple(float(v) for v in resample_kernel) != (1.0, 3.0, 3.0, 1.0):
            raise ValueError(f'CoModGANDiscriminator: only resample_kernel [1, 3, 3, 1] is supported, '
                             f'got {list(resample_kernel)}')
        log2 = resolution_log2(resolution, 8, 'Co-Mod-GAN resolution')
        self.resolution = self.img_resolution = resolution
        self.num_channels = num_channels
        nf = comodgan_nf(fmap_base, fmap_decay, fmap_min, fmap_max)
        # dis_trunk's nf(s) is the width at resolution 2**s, i.e. the official nf(s - 1)
        self.Dis = dis_trunk(num_channels, log2, lambda s: nf(s - 1), 'lrelu',
                             mbstd_group_size if mbstd_group_size > 1 else None,
                             mbstd_num_features if mbstd_group_size > 1 else 0)
        self.fc0 = FullyConnectedLayer(nf(1) * 4 * 4, nf(0), activation='lrelu')
        self.fc1 = FullyConnectedLayer(nf(0), 1)

    def forward(self, images_in: torch.Tensor, masks_in: Optional[torch.Tensor] = None) -> torch.Tensor:
        if masks_in is None:
            if images_in.ndim != 4 or images_in.shape[1] != self.num_channels + 1:
                raise ValueError(f'CoModGANDiscriminator: forward(x) needs x = cat([image, mask], 1) with '
                                 f'{self.num_channels + 1} channels, got {tuple(images_in.shape)}')
            images_in, masks_in = images_in[:, :self.num_channels], images_in[:, self.num_channels:]
        x = self.Dis(torch.cat([masks_in - 0.5, images_in], 1))
        return self.fc1(self.fc0(x.flatten(1)))


# ---------------------------------------------------------------------------
# official weights
# ---------------------------------------------------------------------------
#: z draws (seed 0) averaged by the reader for the converted files' ``dlatent_avg``
DLATENT_AVG_SAMPLES = 4096


@torch.no_grad()
def _mapping_mean(sd: Dict[str, torch.Tensor], path: str) -> torch.Tensor:
    """Mean of w over ``DLATENT_AVG_SAMPLES`` seeded z through the file's mapping network."""
    prefix = 'G_mapping.G_mapping.'
    n_layers = 0
    while f'{prefix}Dense{n_layers}.weight' in sd:
        n_layers += 1
    if n_layers == 0:
        raise ConversionError(f"{path}: not a Co-Mod-GAN port generator: no '{prefix}Dense0.weight' "
                              f'(keys start with: {", ".join(sorted({k.split(".")[0] for k in sd})[:6])})')
    first, last = sd[f'{prefix}Dense0.weight'], sd[f'{prefix}Dense{n_layers - 1}.weight']
    mapping = G_mapping(latent_size=first.shape[1], dlatent_size=last.shape[0], mapping_layers=n_layers,
                        mapping_fmaps=first.shape[0])
    mapping.load_state_dict(strip_prefix(sd, 'G_mapping.'), strict=True)
    mapping = mapping.double()
    z = torch.randn(DLATENT_AVG_SAMPLES, first.shape[1], generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    return mapping(z).mean(0).to(last.dtype)


@official_format('comodgan', description='zengxianyu/co-mod-gan-pytorch converted generator '
                 '(co-mod-gan-{places2-050000,ffhq-9-025000,ffhq-10-025000}[_net_G_ema].pth): a bare '
                 'state_dict of its Generator, optionally "module."-prefixed')
def comodgan_parts(obj: Any, path: str) -> Dict[str, 'OrderedDict[str, torch.Tensor]']:
    """The port's ``torch.save(G_ema.state_dict())``. Its keys are :class:`CoModGANGenerator`'s
    except ``dlatent_avg``, which the port never stored; the reader sets it to the mean of w
    over 4096 z drawn with seed 0 (what the port computes for truncation). The weights are
    the EMA generator's: loaded into a model they initialise ``generator`` and ``generator_ema``."""
    sd = unwrap(tensor_dict(pick_state(obj, ('state_dict',), path, 'comodgan'), path, 'the state dict'))
    if 'dlatent_avg' not in sd:
        sd['dlatent_avg'] = _mapping_mean(sd, path)
    return {'generator': sd}
