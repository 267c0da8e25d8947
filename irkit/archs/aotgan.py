"""AOT-GAN: Aggregated Contextual Transformations for high-resolution image inpainting.

Zeng, Fu, Chao, Guo, "Aggregated Contextual Transformations for High-Resolution Image
Inpainting", arXiv:2104.01431 (2021); reference code
researchmm/AOT-GAN-for-Inpainting@2cd1afd (``src/model/aotgan.py``, Apache-2.0).

* :class:`AOTGenerator` (official ``InpaintGenerator``): reflect-padded 7x7 conv and two
  stride-2 4x4 convs (4 -> 64 -> 128 -> 256 channels), ``block_num`` AOT blocks, two
  :class:`UpConv` (bilinear x2 with ``align_corners=True`` + 3x3 conv) and a 3x3 conv to
  RGB with ``tanh``. ``forward(x, mask)``: ``x`` is the image in [-1, 1] with the holes
  painted white (``img * (1 - mask) + mask``), ``mask`` is ``N x 1 x H x W`` with
  1 = hole.
* :class:`AOTBlock`: four dilated 3x3 branches (``dim // 4`` channels each, reflect
  padding), concatenated and fused by a 3x3 conv; a gate ``sigmoid(my_layer_norm(conv(x)))``
  computed from the block input mixes input and fused features:
  ``x * (1 - g) + fused * g``.
* :class:`AOTDiscriminator` (official ``Discriminator``): a PatchGAN of four
  spectral-normalised 4x4 convs (3 -> 64 -> 128 -> 256 with stride 2, -> 512 with
  stride 1, LeakyReLU 0.2, no bias) and a plain 4x4 conv to one channel; a 512 x 512
  input gives a 62 x 62 map.

State-dict keys are the official ones, so the released ``G*.pt`` (a plain generator
state_dict) and ``D*.pt`` load with ``strict=True``. Spectral norm is
:func:`torch.nn.utils.spectral_norm` as in the official code (keys ``weight_orig``,
``weight_u``, ``weight_v``): in ``train()`` mode every forward runs one power iteration
and updates ``weight_u``/``weight_v`` in place; in ``eval()`` mode the stored vectors
are used unchanged.

Sizes: the generator's output is ``4 * floor(H / 4)`` by ``4 * floor(W / 4)`` (the
official code never pads; :attr:`AOTGenerator.inpaint_io` asks the inpainting model to
pad to a multiple of 4), and the rate-8 reflection padding needs the 1/4-resolution
features to be larger than 8 pixels, i.e. ``H, W >= 36``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from irkit.fileio.weights import ConversionError, Parts, official_format, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['AOTGenerator', 'AOTDiscriminator', 'AOTBlock', 'UpConv', 'my_layer_norm',
           'init_weights_normal']


def my_layer_norm(feat: torch.Tensor) -> torch.Tensor:
    """The AOT gate normalisation: ``5 * (2 * (f - mean) / (std + 1e-9) - 1)``.

    Mean and *unbiased* standard deviation per sample and channel over H, W (the
    official ``my_layer_norm``; the ``- 1`` shift and the factor 5 are part of it).
    """
    mean = feat.mean((2, 3), keepdim=True)
    std = feat.std((2, 3), keepdim=True) + 1e-9
    return 5 * (2 * (feat - mean) / std - 1)


def init_weights_normal(module: nn.Module, gain: float = 0.02) -> None:
    """The official ``BaseNetwork.init_weights('normal', 0.02)``: every Conv*/Linear weight
    ~ N(0, gain), biases 0. Spectral-normalised layers get ``weight_orig`` initialised."""
    for m in module.modules():
        name = type(m).__name__
        if 'Conv' not in name and 'Linear' not in name:
            continue
        weight = getattr(m, 'weight_orig', None)
        if weight is None:
            weight = getattr(m, 'weight', None)
        if not isinstance(weight, torch.Tensor):
            continue
        nn.init.normal_(weight.data, 0.0, gain)
        if getattr(m, 'bias', None) is not None:
            nn.init.constant_(m.bias.data, 0.0)


class UpConv(nn.Module):
    """Bilinear x``scale`` upsampling (``align_corners=True``) then a 3x3 conv."""

    def __init__(self, inc: int, outc: int, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(inc, outc, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.scale, mode='bilinear', align_corners=True)
        return self.conv(x)


class AOTBlock(nn.Module):
    """Aggregated contextual transformation block with a gated residual.

    Branch ``i`` (attribute ``block0i``) is ReflectionPad(r) + 3x3 conv with dilation
    ``r = rates[i]`` to ``dim // 4`` channels + ReLU; the fuse conv takes ``dim`` channels,
    so ``rates`` must have four entries (as in the official code).
    """

    def __init__(self, dim: int, rates: Sequence[int]) -> None:
        super().__init__()
        self.rates = list(rates)
        for i, rate in enumerate(self.rates):
            self.add_module(f'block{i:02d}', nn.Sequential(
                nn.ReflectionPad2d(rate), nn.Conv2d(dim, dim // 4, 3, padding=0, dilation=rate),
                nn.ReLU(True)))
        self.fuse = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, dilation=1))
        self.gate = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, dilation=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([getattr(self, f'block{i:02d}')(x) for i in range(len(self.rates))], 1)
        out = self.fuse(out)
        gate = torch.sigmoid(my_layer_norm(self.gate(x)))
        return x * (1 - gate) + out * gate


@ARCHS.register_module()
class AOTGenerator(nn.Module):
    """AOT-GAN generator (official ``InpaintGenerator``).

    Args:
        block_num: number of AOT blocks (official ``--block_num``, 8).
        rates: dilation rates of each block's branches (official ``--rates 1+2+4+8``).
    """

    inpaint_io = dict(
        value_range=(-1.0, 1.0),
        mask='hole',
        hole_fill=1.0,           # official: images * (1 - masks) + masks (white holes)
        inputs='image_mask',     # forward(image_masked, mask)
        mask_channels=1,
        outputs=('pred',),
        pad_multiple=4,          # two stride-2 convs; the official test.py does not pad at all
        pad_mode='reflect',
        min_size=36,             # the rate-8 reflection padding at 1/4 resolution needs > 8 px there
        channel_order='rgb',
    )

    def __init__(self, block_num: int = 8, rates: Sequence[int] = (1, 2, 4, 8)) -> None:
        super().__init__()
        rates = [int(r) for r in rates]
        if block_num < 0 or len(rates) != 4 or min(rates) < 1:
            raise ValueError(f'AOTGenerator: block_num must be >= 0 and rates four dilation rates >= 1 '
                             f'(each branch has 256 // 4 channels), got block_num={block_num}, rates={rates}')
        self.block_num = block_num
        self.rates = rates
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(4, 64, 7),
            nn.ReLU(True),
            nn.Conv2d(64, 128, 4, stride=2, padding=1),
            nn.ReLU(True),
            nn.Conv2d(128, 256, 4, stride=2, padding=1),
            nn.ReLU(True),
        )
        self.middle = nn.Sequential(*[AOTBlock(256, rates) for _ in range(block_num)])
        self.decoder = nn.Sequential(
            UpConv(256, 128), nn.ReLU(True), UpConv(128, 64), nn.ReLU(True),
            nn.Conv2d(64, 3, 3, stride=1, padding=1))
        self.init_weights()

    def init_weights(self, gain: float = 0.02) -> None:
        """Official initialisation: conv weights ~ N(0, 0.02), biases 0."""
        init_weights_normal(self, gain)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: masked image in [-1, 1] (holes white), ``mask``: 1 = hole. Returns tanh RGB."""
        h, w = x.shape[-2:]
        need = 4 * (max(self.rates) + 1) if self.block_num else 4
        if h < need or w < need:
            raise ValueError(f'AOTGenerator: input {h}x{w} is too small; height and width must be '
                             f'at least {need} (the 1/4-scale features must exceed the largest '
                             f'dilation rate {max(self.rates)})')
        x = torch.cat([x, mask], dim=1)
        x = self.encoder(x)
        x = self.middle(x)
        x = self.decoder(x)
        return torch.tanh(x)


@ARCHS.register_module()
class AOTDiscriminator(nn.Module):
    """AOT-GAN's soft-mask-guided PatchGAN discriminator (official ``Discriminator``).

    Returns a ``N x 1 x (H/8 - 2) x (W/8 - 2)`` map of logits (62 x 62 at 512 x 512); the
    SM-GAN loss resizes it to the mask size.
    """

    disc_io = dict(inputs='image', local_size=None, returns='logits')

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            spectral_norm(nn.Conv2d(3, 64, 4, stride=2, padding=1, bias=False)),
            nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(64, 128, 4, stride=2, padding=1, bias=False)),
            nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(128, 256, 4, stride=2, padding=1, bias=False)),
            nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(256, 512, 4, stride=1, padding=1, bias=False)),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(512, 1, 4, stride=1, padding=1),
        )
        self.init_weights()

    def init_weights(self, gain: float = 0.02) -> None:
        """Official initialisation: ``weight_orig`` / weights ~ N(0, 0.02), bias 0."""
        init_weights_normal(self, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


# ----------------------------------------------------------------------------------------------
# official checkpoint layouts

@official_format('aotgan', description='AOT-GAN release: G*.pt (plain generator state_dict) '
                 'or D*.pt (plain discriminator state_dict)', direct=True)
def aotgan_parts(obj: Any, path: str) -> Parts:
    """The official trainer's ``G{iter:07d}.pt`` / ``D{iter:07d}.pt``: plain state_dicts."""
    if isinstance(obj, Mapping) and {'optimG', 'optimD'} & set(obj):
        raise ConversionError(f'{path}: this is an AOT-GAN optimiser file (O*.pt); give the '
                              'generator file G*.pt or the discriminator file D*.pt')
    sd = tensor_dict(unwrap(obj) if isinstance(obj, Mapping) else obj, path, 'the file')  # DDP 'module.'
    if 'encoder.1.weight' in sd:
        return {'generator': sd}
    if 'conv.0.weight_orig' in sd:
        return {'discriminator': sd}
    raise ConversionError(f"{path}: not an AOT-GAN G*.pt/D*.pt state_dict (no 'encoder.1.weight' "
                          f"or 'conv.0.weight_orig'; first keys: {', '.join(list(sd)[:4])})")


def mmagic_aot_generator_keys(sd: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """MMagic ``AOTEncoderDecoder`` keys -> official ``InpaintGenerator`` keys (1:1, same tensors).

    ``encoder.encoder.{1,2,3}.conv`` -> ``encoder.{1,3,5}``;
    ``dilation_neck.model.i.blocks.j.1.conv`` -> ``middle.i.block0j.1``;
    ``dilation_neck.model.i.{fuse,gate}.1.conv`` -> ``middle.i.{fuse,gate}.1``;
    ``decoder.decoder.{0,1}.conv`` -> ``decoder.{0,2}.conv``; ``decoder.decoder.2.conv`` -> ``decoder.4``.
    """
    enc = {'1': '1', '2': '3', '3': '5'}
    dec = {'0': 'decoder.0.conv', '1': 'decoder.2.conv', '2': 'decoder.4'}
    out = OrderedDict()
    for k, v in sd.items():
        p = k.split('.')
        if p[:2] == ['encoder', 'encoder'] and len(p) == 5 and p[3] == 'conv' and p[2] in enc:
            new = f'encoder.{enc[p[2]]}.{p[4]}'
        elif p[:2] == ['dilation_neck', 'model'] and len(p) == 8 and p[3] == 'blocks' \
                and p[5:7] == ['1', 'conv']:
            new = f'middle.{p[2]}.block{int(p[4]):02d}.1.{p[7]}'
        elif p[:2] == ['dilation_neck', 'model'] and len(p) == 7 and p[3] in ('fuse', 'gate') \
                and p[4:6] == ['1', 'conv']:
            new = f'middle.{p[2]}.{p[3]}.1.{p[6]}'
        elif p[:2] == ['decoder', 'decoder'] and len(p) == 5 and p[3] == 'conv' and p[2] in dec:
            new = f'{dec[p[2]]}.{p[4]}'
        else:
            raise ConversionError(f"unexpected MMagic AOTEncoderDecoder key '{k}'")
        out[new] = v
    return out


def mmagic_aot_discriminator_keys(sd: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """MMagic ``SoftMaskPatchDiscriminator(num_conv=3, with_spectral_norm=True)`` keys ->
    official ``Discriminator`` keys: ``model.i.conv.*`` -> ``conv.{2i}.*``, ``model.4.*`` -> ``conv.8.*``."""
    out = OrderedDict()
    for k, v in sd.items():
        p = k.split('.')
        if p[0] == 'model' and len(p) == 4 and p[2] == 'conv' and p[1] in '0123':
            new = f'conv.{2 * int(p[1])}.{p[3]}'
        elif p[0] == 'model' and len(p) == 3 and p[1] == '4':
            new = f'conv.8.{p[2]}'
        else:
            raise ConversionError(f"unexpected MMagic SoftMaskPatchDiscriminator key '{k}'")
        out[new] = v
    return out


@official_format('mmagic_aotgan', description="MMagic's re-trained AOT-GAN "
                 "(AOT-GAN_512x512_4x12_places_20220509-6641441b.pth: generator.*/disc.* keys of "
                 'AOTEncoderDecoder / SoftMaskPatchDiscriminator, mapped 1:1 onto the official layout)')
def mmagic_aotgan_parts(obj: Any, path: str) -> Parts:
    """MMagic's AOT-GAN checkpoint, renamed to :class:`AOTGenerator` / :class:`AOTDiscriminator` keys."""
    from irkit.fileio.weights import mmagic_parts
    parts = mmagic_parts(obj, path)
    out: Dict[str, 'OrderedDict[str, torch.Tensor]'] = {}
    try:
        for part, sd in parts.items():
            rename = mmagic_aot_discriminator_keys if part == 'discriminator' else mmagic_aot_generator_keys
            out[part] = rename(sd)
    except ConversionError as e:
        raise ConversionError(f'{path}: {e} (not an MMagic AOT-GAN checkpoint?)') from None
    return out
