"""How an inpainting network wants its inputs: the adapter between irkit's convention and the arch's.

irkit's convention at the model boundary: RGB images in [0, 1], masks ``N x 1 x H x W``
with 1 = known pixel, 0 = hole. Each generator arch declares its own convention in a
class attribute (or property) ``inpaint_io`` and each discriminator in ``disc_io``
(plain dicts, so the arch files need nothing from here); a config can override any key
(``model.io=dict(channel_order='bgr')``). :class:`InpaintIO` converts in both
directions and calls the network the way its reference code does.

``inpaint_io`` keys (defaults in brackets):

* ``value_range`` [(-1, 1)]: image range the network takes and returns;
* ``channel_order`` ['rgb']: ``'rgb'`` or ``'bgr'`` (MMagic's BGR-trained configs);
* ``mask`` ['hole']: polarity of the mask the network receives, ``'hole'`` (1 = hole)
  or ``'known'`` (1 = known);
* ``hole_fill`` [0.0]: value, in the network's range, written into the holes of the
  input image; ``None`` passes the image unmasked (the network masks it itself);
* ``inputs`` ['concat']: ``'concat'`` ``G(cat([img, mask]))``, ``'concat_ones'``
  ``G(cat([img, ones, mask]))``, ``'image_mask'`` ``G(img, mask)``,
  ``'image_mask_latents'`` ``G(img, mask, [z])`` with ``z ~ N(0, 1)`` of width
  ``G.latent_dim``;
* ``mask_channels`` [1]: channels of the mask tensor fed (3 for multi-channel PConv);
* ``outputs`` [('pred',)]: names of the returned items; ``'pred'`` is the final image;
* ``pad_multiple`` [1] / ``pad_mode`` ['reflect']: inference on any size pads the
  bottom/right to a multiple (``'symmetric'`` is numpy's edge-including reflection);
* ``min_size`` [1]: smaller images are padded up to this size first (networks whose
  dilated reflection padding needs a minimum size, e.g. AOT-GAN);
* ``resize_to`` [None]: fixed-resolution networks (MAT, Co-ModGAN) are run at this
  square size at inference (bicubic image, nearest mask) and resized back.

``disc_io`` keys: ``inputs`` ['image'] (``'image'`` ``D(img)``, ``'image_mask'``
``D(cat([img, mask]))`` with the mask in the generator's polarity, ``'global_local'``
``D((img, local_patch))``), ``local_size`` [None], ``returns`` ['logits'],
``'logits_features'`` (``(logits, [feature maps])``) or ``'logits_pair'`` (two critics,
``(global_logits, local_logits)``, each with its own adversarial loss; their modules are the
discriminator's attributes named in ``critics`` [('global_disc', 'local_disc')], which a gradient
penalty runs one by one). The local patch is MMagic's ``extract_around_bbox`` window: top-left
``max(0, t - (size - h) // 2)`` for a hole box ``(t, l, h, w)`` (the box a bbox mask recorded
in ``mask_bbox``, else the tight box around the hole), moved inside the image when it sticks out.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_MODES = ('concat', 'concat_ones', 'image_mask', 'image_mask_latents')
PAD_MODES = ('reflect', 'symmetric', 'replicate', 'constant')
DISC_INPUT_MODES = ('image', 'image_mask', 'global_local')
DISC_RETURNS = ('logits', 'logits_features', 'logits_pair')
PAIR_HEADS = ('_global', '_local')


def _declared(module: nn.Module, attr: str) -> dict:
    value = getattr(module, attr, None)
    return dict(value) if isinstance(value, Mapping) else {}


def _merge(cls, declared: Mapping, override: Optional[Mapping], where: str):
    names = {f.name for f in fields(cls)}
    merged = {**declared, **dict(override or {})}
    unknown = [k for k in merged if k not in names]
    if unknown:
        from irkit.registry import ConfigKeyError, closest
        raise ConfigKeyError(f"{where}: unknown key '{unknown[0]}'{closest(unknown[0], names)}; "
                             f"valid keys: {', '.join(sorted(names))}")
    return cls(**merged)


def pad_bottom_right(x: torch.Tensor, multiple: int, mode: str, min_size: int = 1) -> torch.Tensor:
    """Pad NCHW ``x`` on the bottom/right to at least ``min_size`` and a multiple of ``multiple``.

    ``'symmetric'`` repeats the edge pixel (numpy's ``np.pad(mode='symmetric')``, what
    LaMa's ``pad_img_to_modulo`` uses); ``'reflect'`` does not. Pads larger than the
    image fall back to ``'replicate'``.
    """
    h, w = x.shape[-2:]
    th, tw = max(h, min_size), max(w, min_size)
    ph, pw = th - h + (-th) % multiple, tw - w + (-tw) % multiple
    if not (ph or pw):
        return x
    if mode == 'symmetric':
        if ph > h or pw > w:
            return F.pad(x, (0, pw, 0, ph), mode='replicate')
        parts = [x]
        if pw:
            parts = [torch.cat([x, x[..., :, w - pw:].flip(-1)], dim=-1)]
        y = parts[0]
        if ph:
            y = torch.cat([y, y[..., h - ph:, :].flip(-2)], dim=-2)
        return y
    if mode == 'reflect' and (ph >= h or pw >= w):
        mode = 'replicate'
    return F.pad(x, (0, pw, 0, ph), mode=mode)


@dataclass(frozen=True)
class InpaintIO:
    """A generator's input/output convention (see the module docstring)."""
    value_range: Tuple[float, float] = (-1.0, 1.0)
    channel_order: str = 'rgb'
    mask: str = 'hole'
    hole_fill: Optional[float] = 0.0
    inputs: str = 'concat'
    mask_channels: int = 1
    outputs: Tuple[str, ...] = ('pred',)
    pad_multiple: int = 1
    pad_mode: str = 'reflect'
    min_size: int = 1
    resize_to: Optional[int] = None

    def __post_init__(self) -> None:
        def bad(key, value, allowed):
            raise ValueError(f'inpaint_io.{key} must be one of {allowed}, got {value!r}')
        object.__setattr__(self, 'value_range', tuple(float(v) for v in self.value_range))
        object.__setattr__(self, 'outputs', (self.outputs,) if isinstance(self.outputs, str)
                           else tuple(self.outputs))
        lo, hi = self.value_range
        if not hi > lo:
            raise ValueError(f'inpaint_io.value_range must be (low, high) with high > low, got {self.value_range}')
        if self.channel_order not in ('rgb', 'bgr'):
            bad('channel_order', self.channel_order, ('rgb', 'bgr'))
        if self.mask not in ('hole', 'known'):
            bad('mask', self.mask, ('hole', 'known'))
        if self.inputs not in INPUT_MODES:
            bad('inputs', self.inputs, INPUT_MODES)
        if self.pad_mode not in PAD_MODES:
            bad('pad_mode', self.pad_mode, PAD_MODES)
        if self.outputs.count('pred') != 1:
            raise ValueError(f"inpaint_io.outputs must name exactly one 'pred', got {self.outputs}")
        if int(self.pad_multiple) < 1 or int(self.mask_channels) < 1:
            raise ValueError('inpaint_io.pad_multiple and mask_channels must be >= 1')

    @classmethod
    def of(cls, generator: nn.Module, override: Optional[Mapping] = None) -> 'InpaintIO':
        """The generator's declared ``inpaint_io`` with ``override`` (``model.io``) applied."""
        return _merge(cls, _declared(generator, 'inpaint_io'), override, 'model.io')

    def with_(self, **changes: Any) -> 'InpaintIO':
        return replace(self, **changes)

    # --------------------------------------------------------------- images
    def to_net(self, img01: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> the network's range and channel order."""
        lo, hi = self.value_range
        x = img01 if (lo, hi) == (0.0, 1.0) else img01 * (hi - lo) + lo
        return x.flip(1) if self.channel_order == 'bgr' else x

    def from_net(self, y: torch.Tensor) -> torch.Tensor:
        """The network's range and channel order -> [0, 1] RGB (not clamped)."""
        lo, hi = self.value_range
        y = y.flip(1) if self.channel_order == 'bgr' else y
        return y if (lo, hi) == (0.0, 1.0) else (y - lo) / (hi - lo)

    def net_mask(self, known: torch.Tensor) -> torch.Tensor:
        """irkit's mask (1 = known) in the network's polarity and channel count."""
        m = 1 - known if self.mask == 'hole' else known
        return m.expand(-1, self.mask_channels, -1, -1) if self.mask_channels > 1 else m

    def masked_input(self, img_net: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The image the network receives: holes set to ``hole_fill`` (if not None)."""
        if self.hole_fill is None:
            return img_net
        return img_net * known + self.hole_fill * (1 - known)

    # ---------------------------------------------------------------- calls
    def call(self, net: nn.Module, img_net: torch.Tensor, known: torch.Tensor,
             latents: Optional[Sequence[torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Run ``net`` on a network-range image and irkit mask; returns the named outputs."""
        x = self.masked_input(img_net, known)
        m = self.net_mask(known)
        if self.inputs == 'concat':
            out = net(torch.cat([x, m], dim=1))
        elif self.inputs == 'concat_ones':
            out = net(torch.cat([x, torch.ones_like(m[:, :1]), m], dim=1))
        elif self.inputs == 'image_mask':
            out = net(x, m)
        else:
            if latents is None:
                latents = [torch.randn(x.shape[0], latent_dim(net), device=x.device, dtype=x.dtype)]
            out = net(x, m, list(latents))
        return self.name_outputs(out)

    def name_outputs(self, out: Any) -> Dict[str, torch.Tensor]:
        items = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(items) != len(self.outputs):
            raise ValueError(f'the generator returned {len(items)} item(s) but inpaint_io.outputs names '
                             f'{len(self.outputs)}: {self.outputs}')
        return dict(zip(self.outputs, items))


def latent_dim(net: nn.Module) -> int:
    for name in ('latent_dim', 'z_dim', 'style_dim'):
        v = getattr(net, name, None)
        if isinstance(v, int):
            return v
    raise AttributeError(f"{type(net).__name__} declares inputs='image_mask_latents' but has no "
                         "'latent_dim' attribute giving the width of z")


@dataclass(frozen=True)
class DiscIO:
    """A discriminator's input convention (see the module docstring)."""
    inputs: str = 'image'
    local_size: Optional[int] = None
    returns: str = 'logits'
    critics: Tuple[str, str] = ('global_disc', 'local_disc')

    def __post_init__(self) -> None:
        if self.inputs not in DISC_INPUT_MODES:
            raise ValueError(f'disc_io.inputs must be one of {DISC_INPUT_MODES}, got {self.inputs!r}')
        if self.returns not in DISC_RETURNS:
            raise ValueError(f'disc_io.returns must be one of {DISC_RETURNS}, got {self.returns!r}')
        if self.returns == 'logits_pair' and self.inputs != 'global_local':
            raise ValueError("disc_io.returns='logits_pair' needs inputs='global_local'")
        object.__setattr__(self, 'critics', tuple(self.critics))
        if self.inputs == 'global_local' and not self.local_size:
            raise ValueError("disc_io.inputs='global_local' needs local_size")

    @classmethod
    def of(cls, disc: nn.Module, override: Optional[Mapping] = None) -> 'DiscIO':
        return _merge(cls, _declared(disc, 'disc_io'), override, 'model.disc_io')

    def call(self, disc: nn.Module, img_net: torch.Tensor, mask_net: torch.Tensor,
             bbox: Optional[torch.Tensor] = None) -> Dict[str, Tuple[torch.Tensor, List[torch.Tensor]]]:
        """``{head: (logits, features)}``: one head ``''``, or ``'_global'``/``'_local'`` for a
        pair of critics; ``features`` is empty unless the D returns them."""
        if self.inputs == 'image':
            out = disc(img_net)
        elif self.inputs == 'image_mask':
            out = disc(torch.cat([img_net, mask_net[:, :1]], dim=1))
        else:
            out = disc((img_net, local_patches(img_net, mask_net[:, :1], self.local_size, bbox)))
        if self.returns == 'logits_features':
            logits, feats = out
            return {'': (logits, list(feats))}
        if self.returns == 'logits_pair':
            return {h: (o, []) for h, o in zip(PAIR_HEADS, out)}
        return {'': (out, [])}

    def critic_inputs(self, disc: nn.Module, img_net: torch.Tensor, mask_net: torch.Tensor,
                      bbox: Optional[torch.Tensor] = None) -> Dict[str, Tuple[nn.Module, torch.Tensor, bool]]:
        """For a pair of critics: ``{head: (critic module, its input, whether it is full-size)}``."""
        g, l_ = (getattr(disc, n) for n in self.critics)
        return {'_global': (g, img_net, True),
                '_local': (l_, local_patches(img_net, mask_net[:, :1], self.local_size, bbox), False)}


def hole_bbox(hole: torch.Tensor) -> torch.Tensor:
    """``(N, 4)`` integer boxes ``(top, left, height, width)`` around each sample's hole."""
    boxes = []
    for m in hole[:, 0] > 0.5:
        ys, xs = torch.nonzero(m, as_tuple=True)
        if ys.numel() == 0:
            h, w = m.shape
            boxes.append([h // 2, w // 2, 1, 1])
        else:
            t, l = int(ys.min()), int(xs.min())
            boxes.append([t, l, int(ys.max()) - t + 1, int(xs.max()) - l + 1])
    return torch.tensor(boxes, dtype=torch.long)


def local_patches(img: torch.Tensor, hole: torch.Tensor, size: int,
                  bbox: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``size x size`` crops around each sample's hole box (MMagic's ``extract_around_bbox``),
    shifted to stay inside the image.

    ``bbox`` (``N x 4``: top, left, height, width) is the box of a bbox mask when the
    pipeline recorded it; otherwise the tight box around the hole pixels is used.
    """
    boxes = hole_bbox(hole) if bbox is None else torch.as_tensor(bbox).long().view(-1, 4)
    h, w = img.shape[-2:]
    if size > h or size > w:
        raise ValueError(f'local_size {size} is larger than the image ({h}x{w})')
    crops = []
    for i, (t, l, bh, bw) in enumerate(boxes.tolist()):
        # MMagic's scale_bbox: the box grown to size x size around itself, top-left clamped at 0
        top = min(max(0, t - (size - bh) // 2), h - size)
        left = min(max(0, l - (size - bw) // 2), w - size)
        crops.append(img[i:i + 1, :, top:top + size, left:left + size])
    return torch.cat(crops, dim=0)


__all__ = ['InpaintIO', 'DiscIO', 'pad_bottom_right', 'local_patches', 'hole_bbox', 'latent_dim',
           'INPUT_MODES', 'PAD_MODES', 'DISC_INPUT_MODES', 'DISC_RETURNS', 'PAIR_HEADS']
