"""On-the-fly degradations: clean ``results[key]`` -> degraded ``results[out_key]``.

All take and return float32 ``H x W x C`` RGB images in [0, 1]. Parameters given as
a number are fixed; a ``(lo, hi)`` pair is drawn uniformly per sample. With
``seed=None`` they draw from the worker's stream (training); with an int ``seed``
each image gets a degradation fixed by ``(seed, sample key)`` (evaluation), the
same in every run, worker layout and batch size. Chain several by pointing the
later ones at ``key='lq', out_key='lq'``. The drawn parameters are recorded in
``results['degradation_params'][<class name>]``.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from irkit.registry import TRANSFORMS

from .base import BaseTransform

__all__ = ['AddGaussianNoise', 'GaussianBlur', 'MotionBlur', 'JPEGCompression', 'RainStreaks',
           'Haze', 'LowLight', 'Downsample', 'motion_kernel']

Range = Union[float, Sequence[float]]


def _check_range(name: str, v: Range, lo: float = -math.inf, hi: float = math.inf) -> Range:
    vals = [v] if isinstance(v, (int, float)) else list(v)
    if len(vals) not in (1, 2) or any(not (lo <= float(x) <= hi) for x in vals):
        raise ValueError(f'{name} must be a number or a (lo, hi) pair within [{lo}, {hi}], got {v!r}')
    if len(vals) == 2 and vals[0] > vals[1]:
        raise ValueError(f'{name}: lo > hi in {v!r}')
    return v if isinstance(v, (int, float)) else tuple(float(x) for x in vals)


def _draw(v: Range, rng: np.random.Generator) -> float:
    if isinstance(v, (int, float)):
        return float(v)
    return float(rng.uniform(v[0], v[1]))


def _draw_int(v: Range, rng: np.random.Generator) -> int:
    if isinstance(v, (int, float)):
        return int(v)
    return int(rng.integers(int(v[0]), int(v[1]) + 1))


class _Degradation(BaseTransform):
    def __init__(self, key: str, out_key: str, seed: Optional[int]) -> None:
        self.key, self.out_key, self.seed = key, out_key, seed

    def apply(self, img: np.ndarray, rng: np.random.Generator, results: dict) -> Tuple[np.ndarray, dict]:
        raise TypeError(f'{type(self).__name__} must implement apply()')

    def transform(self, results: dict) -> dict:
        if self.key not in results:
            raise KeyError(f"{type(self).__name__}: no '{self.key}' image in the results; "
                           'load it first (LoadImageFromFile)')
        img = np.asarray(results[self.key], dtype=np.float32)
        out, params = self.apply(img, self.rng(results), results)
        results[self.out_key] = np.ascontiguousarray(out.astype(np.float32, copy=False))
        results.setdefault('degradation_params', {})[type(self).__name__] = params
        return results


@TRANSFORMS.register_module()
class AddGaussianNoise(_Degradation):
    """``lq = gt + n``, ``n ~ N(0, (sigma / 255)^2)`` i.i.d. per pixel and channel.

    Args:
        key, out_key: source and destination.
        sigma: noise level on the 0..255 scale, fixed or a ``(lo, hi)`` range.
        seed: int -> noise fixed per image (derived from ``seed`` and the sample key).
        clip: clip to [0, 1] (default ``False``: Restormer/TDR evaluate unclipped noise).
        quantize: ``None``; ``'round'`` or ``'truncate'`` store the noisy image as 8-bit
            (clipped to 0..255 then rounded, or truncated as PromptIR's
            ``astype(uint8)`` does); either implies clipping.
    """

    def __init__(self, key: str = 'gt', out_key: str = 'lq', sigma: Range = 25,
                 seed: Optional[int] = None, clip: bool = False, quantize: Optional[str] = None
                 ) -> None:
        super().__init__(key, out_key, seed)
        self.sigma = _check_range('sigma', sigma, 0, 1e4)
        if quantize not in (None, 'round', 'truncate'):
            raise ValueError(f"quantize must be None, 'round' or 'truncate', got {quantize!r}")
        self.clip = clip
        self.quantize = quantize

    def apply(self, img, rng, results):
        sigma = _draw(self.sigma, rng)
        noise = rng.standard_normal(img.shape, dtype=np.float32)
        if self.quantize is not None:
            noisy = np.clip(np.round(img * 255.0) + noise * np.float32(sigma), 0, 255)
            noisy = np.floor(noisy) if self.quantize == 'truncate' else np.round(noisy)
            out = noisy / 255.0
        else:
            out = img + noise * np.float32(sigma / 255.0)
            if self.clip:
                out = np.clip(out, 0, 1)
        return out, dict(sigma=sigma)


@TRANSFORMS.register_module()
class GaussianBlur(_Degradation):
    """Isotropic Gaussian blur (``kernel_size`` odd, ``sigma`` in pixels, reflect border)."""

    def __init__(self, key: str = 'gt', out_key: str = 'lq', kernel_size: int = 21,
                 sigma: Range = (0.2, 3.0), seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be a positive odd number, got {kernel_size}')
        self.kernel_size = int(kernel_size)
        self.sigma = _check_range('sigma', sigma, 1e-6)

    def apply(self, img, rng, results):
        sigma = _draw(self.sigma, rng)
        k = cv2.getGaussianKernel(self.kernel_size, sigma, cv2.CV_32F)
        out = cv2.sepFilter2D(img, -1, k, k, borderType=cv2.BORDER_REFLECT_101)
        return out.reshape(img.shape), dict(sigma=sigma)


def motion_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised linear motion-blur kernel of ``length`` pixels at ``angle`` degrees
    (0 = horizontal, counter-clockwise), size ``length`` (made odd) squared."""
    size = int(length) | 1
    k = np.zeros((size, size), np.float32)
    c = size // 2
    k[c, c - (int(length) - 1) // 2: c + int(length) // 2 + 1] = 1.0
    rot = cv2.getRotationMatrix2D((float(c), float(c)), float(angle), 1.0)
    k = cv2.warpAffine(k, rot, (size, size), flags=cv2.INTER_LINEAR)
    s = k.sum()
    if s <= 0:
        k[c, c] = 1.0
        s = 1.0
    return k / s


@TRANSFORMS.register_module()
class MotionBlur(_Degradation):
    """Linear motion blur: a line kernel of ``length`` pixels at ``angle`` degrees."""

    def __init__(self, key: str = 'gt', out_key: str = 'lq', length: Range = (5, 25),
                 angle: Range = (0, 180), seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        self.length = _check_range('length', length, 1)
        self.angle = _check_range('angle', angle)

    def apply(self, img, rng, results):
        length, angle = _draw_int(self.length, rng), _draw(self.angle, rng)
        k = motion_kernel(length, angle)
        out = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)
        return out.reshape(img.shape), dict(length=length, angle=angle)


def _to_u8_bgr(img: np.ndarray) -> np.ndarray:
    u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    return u8[:, :, ::-1] if u8.shape[2] == 3 else u8


@TRANSFORMS.register_module()
class JPEGCompression(_Degradation):
    """JPEG round trip through OpenCV at ``quality`` (1..100) on the 8-bit image."""

    def __init__(self, key: str = 'gt', out_key: str = 'lq', quality: Range = (30, 95),
                 seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        self.quality = _check_range('quality', quality, 1, 100)

    def apply(self, img, rng, results):
        q = _draw_int(self.quality, rng)
        ok, buf = cv2.imencode('.jpg', _to_u8_bgr(img), [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise RuntimeError('OpenCV failed to JPEG-encode the image')
        dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if dec.ndim == 2:
            dec = dec[:, :, None]
        elif dec.shape[2] == 3:
            dec = dec[:, :, ::-1]
        return dec.astype(np.float32) / 255.0, dict(quality=q)


@TRANSFORMS.register_module()
class RainStreaks(_Degradation):
    """Synthetic rain, ``O = clip(B + S)`` (the additive model of Rain100L/H, Yang et al. 2017).

    ``S``: sparse random drops (``density`` = fraction of pixels), smeared by a line
    kernel of ``length`` pixels tilted ``angle`` degrees from vertical, slightly
    widened by a Gaussian of ``width`` pixels, scaled to ``intensity``; the same
    for all channels (white streaks). This reproduces the look, not the exact
    streak sets of the public datasets.
    """

    def __init__(self, key: str = 'gt', out_key: str = 'lq', density: Range = (0.002, 0.01),
                 length: Range = (10, 40), angle: Range = (-20, 20), width: Range = (0.5, 1.5),
                 intensity: Range = (0.6, 1.0), seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        self.density = _check_range('density', density, 0, 1)
        self.length = _check_range('length', length, 1)
        self.angle = _check_range('angle', angle, -90, 90)
        self.width = _check_range('width', width, 0)
        self.intensity = _check_range('intensity', intensity, 0)

    def apply(self, img, rng, results):
        h, w = img.shape[:2]
        density, length = _draw(self.density, rng), _draw_int(self.length, rng)
        angle, width, intensity = _draw(self.angle, rng), _draw(self.width, rng), _draw(self.intensity, rng)
        drops = (rng.random((h, w), dtype=np.float32) < density).astype(np.float32)
        drops *= rng.uniform(0.5, 1.0, size=(h, w)).astype(np.float32)
        k = motion_kernel(length, 90.0 + angle)
        streak = cv2.filter2D(drops, -1, k, borderType=cv2.BORDER_REFLECT_101)
        if width > 0:
            streak = cv2.GaussianBlur(streak, (0, 0), width, borderType=cv2.BORDER_REFLECT_101)
        peak = float(streak.max())
        if peak > 0:
            streak = streak / peak
        streak = np.clip(streak * intensity, 0, 1)[:, :, None]
        out = np.clip(img + streak, 0, 1)
        return out, dict(density=density, length=length, angle=angle, width=width,
                         intensity=intensity)


@TRANSFORMS.register_module()
class Haze(_Degradation):
    """Atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)``.

    ``d`` is ``results[depth_key]`` (``H x W`` or ``H x W x 1``, larger = farther) if
    given, else a synthetic depth ``1 - r / r_max`` around a random centre (haze
    thickest there, as in common synthetic-haze scripts).
    ``beta``: scattering coefficient; ``atmospheric_light``: ``A`` in [0, 1].
    """

    def __init__(self, key: str = 'gt', out_key: str = 'lq', beta: Range = (0.6, 1.8),
                 atmospheric_light: Range = (0.7, 1.0), depth_key: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        self.beta = _check_range('beta', beta, 0)
        self.atmospheric_light = _check_range('atmospheric_light', atmospheric_light, 0, 1)
        self.depth_key = depth_key

    def apply(self, img, rng, results):
        h, w = img.shape[:2]
        beta, a = _draw(self.beta, rng), _draw(self.atmospheric_light, rng)
        if self.depth_key is not None:
            if self.depth_key not in results:
                raise KeyError(f"Haze: no depth map '{self.depth_key}' in the results")
            d = np.asarray(results[self.depth_key], np.float32).reshape(h, w)
        else:
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
            d = 1.0 - r / max(float(r.max()), 1e-6)
        t = np.exp(-beta * d)[:, :, None].astype(np.float32)
        out = img * t + np.float32(a) * (1 - t)
        return out, dict(beta=beta, atmospheric_light=a)


@TRANSFORMS.register_module()
class LowLight(_Degradation):
    """Low light by exposure and gamma: ``lq = clip(exposure * gt ** gamma)``."""

    def __init__(self, key: str = 'gt', out_key: str = 'lq', gamma: Range = (1.5, 3.0),
                 exposure: Range = (0.1, 0.5), seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        self.gamma = _check_range('gamma', gamma, 1e-3)
        self.exposure = _check_range('exposure', exposure, 0)

    def apply(self, img, rng, results):
        gamma, exposure = _draw(self.gamma, rng), _draw(self.exposure, rng)
        out = np.clip(np.float32(exposure) * np.power(np.clip(img, 0, 1), np.float32(gamma)), 0, 1)
        return out, dict(gamma=gamma, exposure=exposure)


_INTERP = {'bicubic': cv2.INTER_CUBIC, 'bilinear': cv2.INTER_LINEAR, 'area': cv2.INTER_AREA,
           'nearest': cv2.INTER_NEAREST}


@TRANSFORMS.register_module()
class Downsample(_Degradation):
    """Downscale by an integer ``scale`` with OpenCV (``'bicubic'``, ``'bilinear'``,
    ``'area'``, ``'nearest'``).

    The source is first cropped bottom/right to a multiple of ``scale`` (BasicSR's
    ``mod_crop``; ``results[key]`` is updated so GT = scale x LQ), and
    ``results['scale']`` is set. OpenCV's bicubic does not antialias, unlike
    MATLAB's ``imresize`` used to make the standard SR test sets.
    """

    def __init__(self, key: str = 'gt', out_key: str = 'lq', scale: int = 4,
                 interpolation: str = 'bicubic', seed: Optional[int] = None) -> None:
        super().__init__(key, out_key, seed)
        if int(scale) < 1:
            raise ValueError(f'scale must be a positive integer, got {scale}')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of {sorted(_INTERP)}, got {interpolation!r}')
        self.scale = int(scale)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        img = results[self.key]
        h, w = img.shape[:2]
        s = self.scale
        if h < s or w < s:
            raise ValueError(f"Downsample: image {h}x{w} of sample '{results.get('key')}' is "
                             f'smaller than the scale {s}')
        results[self.key] = np.ascontiguousarray(img[:h - h % s, :w - w % s])
        results = super().transform(results)
        results['scale'] = s
        return results

    def apply(self, img, rng, results):
        h, w = img.shape[:2]
        out = cv2.resize(img, (w // self.scale, h // self.scale),
                         interpolation=_INTERP[self.interpolation])
        return out.reshape(h // self.scale, w // self.scale, img.shape[2]), dict(scale=self.scale)
