"""Geometric and photometric augmentation (identical for all keys). Batch mixup is
``irkit.hooks.MixUpHook``."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from irkit.registry import TRANSFORMS

from .base import BaseTransform, to_keys

__all__ = ['RandomFlip', 'RandomTranspose', 'RandomRot90', 'RandomDihedral', 'RandomRotation',
           'ColorJitter', 'dihedral', 'rotate_image', 'rgb_to_hsv', 'hsv_to_rgb',
           'adjust_brightness', 'adjust_contrast', 'adjust_saturation', 'adjust_hue']


def dihedral(img: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 flips/rotations (mode 0 = identity; BasicSR/Restormer's numbering):
    1 flipud, 2 rot90, 3 rot90+flipud, 4 rot180, 5 rot180+flipud, 6 rot270, 7 rot270+flipud."""
    k, flip = divmod(mode, 2)
    out = np.rot90(img, k, axes=(0, 1)) if k else img
    if flip:
        out = out[::-1]
    return np.ascontiguousarray(out)


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip all ``keys`` together with probability ``flip_ratio``.

    ``direction``: ``'horizontal'`` (left-right), ``'vertical'`` (up-down) or
    ``'diagonal'`` (both).
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], flip_ratio: float = 0.5,
                 direction: str = 'horizontal', seed: Optional[int] = None) -> None:
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ValueError(f"direction must be 'horizontal', 'vertical' or 'diagonal', got {direction!r}")
        self.keys = to_keys(keys)
        self.flip_ratio = float(flip_ratio)
        self.direction = direction
        self.seed = seed

    def transform(self, results: dict) -> dict:
        flip = bool(self.rng(results).random() < self.flip_ratio)
        if flip:
            for k in self.keys:
                img = results[k]
                if self.direction in ('horizontal', 'diagonal'):
                    img = img[:, ::-1]
                if self.direction in ('vertical', 'diagonal'):
                    img = img[::-1]
                results[k] = np.ascontiguousarray(img)
        results[f'flip_{self.direction}'] = flip
        return results


@TRANSFORMS.register_module()
class RandomTranspose(BaseTransform):
    """Swap height and width of all ``keys`` with probability ``transpose_ratio``."""

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], transpose_ratio: float = 0.5,
                 seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.transpose_ratio = float(transpose_ratio)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        do = bool(self.rng(results).random() < self.transpose_ratio)
        if do:
            for k in self.keys:
                results[k] = np.ascontiguousarray(np.swapaxes(results[k], 0, 1))
        results['transpose'] = do
        return results


@TRANSFORMS.register_module()
class RandomRot90(BaseTransform):
    """Rotate all ``keys`` by the same uniformly drawn multiple of 90 degrees
    (counter-clockwise ``k`` in {0, 1, 2, 3}, stored in ``results['rot90_k']``)."""

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        k = int(self.rng(results).integers(0, 4))
        if k:
            for key in self.keys:
                results[key] = np.ascontiguousarray(np.rot90(results[key], k, axes=(0, 1)))
        results['rot90_k'] = k
        return results


@TRANSFORMS.register_module()
class RandomDihedral(BaseTransform):
    """One of the 8 flip/rotation modes for all ``keys`` (Restormer's ``random_augmentation``
    with ``randint(0, 7)``; ``exclude_identity=True`` gives PromptIR's ``randint(1, 7)``)."""

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], exclude_identity: bool = False,
                 seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.exclude_identity = exclude_identity
        self.seed = seed

    def transform(self, results: dict) -> dict:
        mode = int(self.rng(results).integers(1 if self.exclude_identity else 0, 8))
        for key in self.keys:
            results[key] = dihedral(results[key], mode)
        results['dihedral_mode'] = mode
        return results


_PIL_FILTERS = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}


def rotate_image(img: np.ndarray, angle: float, interpolation: str = 'nearest',
                 fill: float = 0.0) -> np.ndarray:
    """Rotate ``H x W (x C)`` counter-clockwise by ``angle`` degrees about the image centre,
    same size, outside pixels set to ``fill`` — PIL's ``Image.rotate`` (what torchvision's
    ``RandomRotation`` runs on PIL images), applied per channel in float (mode ``'F'``)."""
    if interpolation not in _PIL_FILTERS:
        raise ValueError(f'interpolation must be one of {sorted(_PIL_FILTERS)}, got {interpolation!r}')
    arr = np.asarray(img, dtype=np.float32)
    chans = arr[:, :, None] if arr.ndim == 2 else arr
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(chans[:, :, c]), mode='F').rotate(
        float(angle), resample=_PIL_FILTERS[interpolation], expand=False, fillcolor=float(fill)))
        for c in range(chans.shape[2])], axis=2)
    return out[:, :, 0] if arr.ndim == 2 else out


@TRANSFORMS.register_module()
class RandomRotation(BaseTransform):
    """torchvision's ``RandomRotation(degrees, interpolation, fill)`` for every key.

    One angle ``U(degrees)`` (counter-clockwise, degrees; an int/float ``d`` means
    ``(-d, d)``) for all keys, stored in ``results['rotation_angle']``; the image keeps
    its size (``expand=False``) and uncovered pixels get ``fill``. ``fill`` is in the
    array's own values: for irkit masks (1 = known) ``fill=1.0`` is what torchvision's
    ``fill=0`` does to a 1 = hole mask (AOT-GAN's mask augmentation).
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], degrees: Union[float, Sequence[float]],
                 interpolation: str = 'nearest', fill: float = 0.0, seed: Optional[int] = None) -> None:
        if isinstance(degrees, (int, float)):
            if degrees < 0:
                raise ValueError(f'RandomRotation: a single degrees value must be >= 0, got {degrees}')
            degrees = (-float(degrees), float(degrees))
        if len(degrees) != 2 or degrees[0] > degrees[1]:
            raise ValueError(f'RandomRotation: degrees must be (min, max), got {degrees!r}')
        if interpolation not in _PIL_FILTERS:
            raise ValueError(f'interpolation must be one of {sorted(_PIL_FILTERS)}, got {interpolation!r}')
        self.keys = to_keys(keys)
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.interpolation = interpolation
        self.fill = float(fill)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        angle = float(self.rng(results).uniform(*self.degrees))
        for k in self.keys:
            img = results[k]
            results[k] = rotate_image(img, angle, self.interpolation, self.fill).reshape(img.shape)
        results['rotation_angle'] = angle
        return results


_GRAY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights


def _gray(img: np.ndarray) -> np.ndarray:
    return (_GRAY[0] * img[..., 0] + _GRAY[1] * img[..., 1] + _GRAY[2] * img[..., 2])[..., None]


def _blend(img: np.ndarray, other, ratio: float) -> np.ndarray:
    return np.clip(ratio * img + (1.0 - ratio) * other, 0.0, 1.0)


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """``clip(factor * img)`` (torchvision's ``adjust_brightness``)."""
    return _blend(img, 0.0, factor)


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean grey level of the whole image (torchvision's ``adjust_contrast``)."""
    return _blend(img, _gray(img).mean(), factor)


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the per-pixel grey image (torchvision's ``adjust_saturation``)."""
    return _blend(img, _gray(img), factor)


def rgb_to_hsv(img: np.ndarray) -> np.ndarray:
    """``H x W x 3`` RGB in [0, 1] -> HSV with hue in [0, 1) (the colorsys definition)."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    maxc, minc = img.max(-1), img.min(-1)
    delta = maxc - minc
    flat = delta == 0
    s = delta / np.where(maxc == 0, 1.0, maxc)
    d = np.where(flat, 1.0, delta)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(flat, 0.0, np.mod(h / 6.0, 1.0))
    return np.stack([h, s, maxc], axis=-1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p = np.clip(v * (1.0 - s), 0, 1)
    q = np.clip(v * (1.0 - s * f), 0, 1)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0, 1)
    i = i.astype(np.int64) % 6
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """Shift the HSV hue by ``factor`` (in turns, [-0.5, 0.5]) (torchvision's ``adjust_hue``)."""
    hsv = rgb_to_hsv(img)
    hsv[..., 0] = np.mod(hsv[..., 0] + factor, 1.0)
    return hsv_to_rgb(hsv)


def _jitter_range(name: str, value: float, center: float = 1.0, bound: Tuple[float, float] = (0, np.inf)):
    value = float(value)
    if value < 0:
        raise ValueError(f'ColorJitter: {name} must be >= 0, got {value}')
    if value == 0:
        return None
    lo, hi = max(center - value, bound[0]), center + value
    if name == 'hue' and value > 0.5:
        raise ValueError(f'ColorJitter: hue must be in [0, 0.5], got {value}')
    return lo, hi


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """torchvision's ``ColorJitter(brightness, contrast, saturation, hue)`` on float RGB.

    Factors ``U(max(0, 1 - v), 1 + v)`` (hue: ``U(-v, v)``), the four adjustments in a
    random order (a permutation drawn first, then the factors in the order brightness,
    contrast, saturation, hue; a 0 argument skips that adjustment and its draw). The
    adjustments are torchvision's float-tensor definitions (clipped to [0, 1] after
    each); torchvision's PIL path rounds to 8 bits after each step and shifts the hue in
    8-bit HSV. Drawn values go to ``results['color_jitter']``.
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]] = 'gt', brightness: float = 0.0,
                 contrast: float = 0.0, saturation: float = 0.0, hue: float = 0.0,
                 seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.brightness = _jitter_range('brightness', brightness)
        self.contrast = _jitter_range('contrast', contrast)
        self.saturation = _jitter_range('saturation', saturation)
        self.hue = _jitter_range('hue', hue, center=0.0, bound=(-0.5, 0.5))
        self.seed = seed

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        order = [int(i) for i in rng.permutation(4)]
        factors = [None if r is None else float(rng.uniform(*r))
                   for r in (self.brightness, self.contrast, self.saturation, self.hue)]
        ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        for k in self.keys:
            img = results[k]
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(f"ColorJitter: '{k}' must be H x W x 3 RGB, got shape {img.shape}")
            out = img.astype(np.float64)
            for i in order:
                if factors[i] is not None:
                    out = ops[i](out, factors[i])
            results[k] = out.astype(img.dtype)
        results['color_jitter'] = dict(order=order, brightness=factors[0], contrast=factors[1],
                                       saturation=factors[2], hue=factors[3])
        return results
