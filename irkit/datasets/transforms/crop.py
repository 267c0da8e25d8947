"""Cropping, resizing and padding, applied identically to every listed key."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from irkit.registry import TRANSFORMS

from .base import BaseTransform, to_keys

__all__ = ['PairedRandomCrop', 'RandomCrop', 'CenterCrop', 'PadToMultiple', 'CropToMultiple',
           'Resize', 'RandomResizedCrop', 'pad_image', 'resize_image', 'resized_size',
           'random_resized_crop_params']

_PAD_MODES = ('reflect', 'symmetric', 'edge', 'constant')


def _hw(size: Union[int, Sequence[int]], name: str = 'size') -> Tuple[int, int]:
    """``(h, w)`` of an int or a pair; both must be positive integers."""
    try:
        h, w = (size, size) if isinstance(size, (int, float)) else size
        ok = all(float(v).is_integer() and v > 0 for v in (h, w)) and not isinstance(h, bool)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f'{name} must be a positive int or (h, w) of positive ints, got {size!r}')
    return int(h), int(w)


def pad_image(img: np.ndarray, pad_h: int, pad_w: int, mode: str = 'reflect') -> np.ndarray:
    """Pad bottom/right (numpy modes; ``'reflect'`` mirrors without repeating the edge)."""
    if pad_h <= 0 and pad_w <= 0:
        return img
    if mode not in _PAD_MODES:
        raise ValueError(f'pad_mode must be one of {_PAD_MODES}, got {mode!r}')
    width = [(0, max(pad_h, 0)), (0, max(pad_w, 0))] + [(0, 0)] * (img.ndim - 2)
    return np.pad(img, width, mode=mode)


def _where(results: dict, keys) -> str:
    names = [f"{k}_path={results[f'{k}_path']}" for k in keys if results.get(f'{k}_path')]
    key = results.get('key')
    return (f"sample '{key}'" if key is not None else 'sample') + (
        f" ({', '.join(names)})" if names else '')


def _same_size(results: dict, keys) -> Tuple[int, int]:
    sizes = {k: results[k].shape[:2] for k in keys}
    if len(set(sizes.values())) != 1:
        raise ValueError(f'{_where(results, keys)}: images to crop together differ in size: '
                         + ', '.join(f'{k} {h}x{w}' for k, (h, w) in sizes.items()))
    return next(iter(sizes.values()))


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Random aligned crop of a GT patch and the matching LQ patch (``gt = scale x lq``).

    Args:
        gt_patch_size: GT patch size (int or (h, w)); must be divisible by ``scale``.
        scale: LQ -> GT factor; ``None`` takes ``results['scale']`` (default 1).
        gt_key, lq_key: the two images.
        pad_mode: ``None`` rejects images smaller than the patch (naming the files);
            ``'reflect'`` pads them bottom/right first (MPRNet's recipe).
        seed: int for a per-sample fixed crop, ``None`` for random.
    """

    at_inference = 'drop'

    @classmethod
    def check_args(cls, **kwargs) -> None:
        if 'gt_patch_size' in kwargs:
            _hw(kwargs['gt_patch_size'], 'gt_patch_size')

    def __init__(self, gt_patch_size: Union[int, Sequence[int]], scale: Optional[int] = None,
                 gt_key: str = 'gt', lq_key: str = 'lq', pad_mode: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        self.gt_patch_size = _hw(gt_patch_size, 'gt_patch_size')
        self.scale = scale
        self.gt_key, self.lq_key = gt_key, lq_key
        if pad_mode is not None and pad_mode not in _PAD_MODES:
            raise ValueError(f'pad_mode must be None or one of {_PAD_MODES}, got {pad_mode!r}')
        self.pad_mode = pad_mode
        self.seed = seed

    def transform(self, results: dict) -> dict:
        scale = int(self.scale if self.scale is not None else results.get('scale', 1))
        gt, lq = results[self.gt_key], results[self.lq_key]
        ph, pw = self.gt_patch_size
        if ph % scale or pw % scale:
            raise ValueError(f'gt_patch_size {self.gt_patch_size} is not divisible by scale {scale}')
        lh, lw = lq.shape[:2]
        if gt.shape[0] != lh * scale or gt.shape[1] != lw * scale:
            raise ValueError(
                f'{_where(results, (self.gt_key, self.lq_key))}: LQ/GT size mismatch: GT is '
                f'{gt.shape[0]}x{gt.shape[1]}, LQ is {lh}x{lw}, expected GT = {scale} x LQ')
        lph, lpw = ph // scale, pw // scale
        if lh < lph or lw < lpw:
            if self.pad_mode is None:
                raise ValueError(
                    f'{_where(results, (self.gt_key, self.lq_key))}: LQ {lh}x{lw} is smaller than '
                    f"the LQ patch {lph}x{lpw}; crop smaller patches or set pad_mode='reflect'")
            lq = pad_image(lq, lph - lh, lpw - lw, self.pad_mode)
            gt = pad_image(gt, (lph - lh) * scale, (lpw - lw) * scale, self.pad_mode)
            lh, lw = lq.shape[:2]
        rng = self.rng(results)
        top = int(rng.integers(0, lh - lph + 1))
        left = int(rng.integers(0, lw - lpw + 1))
        results[self.lq_key] = lq[top:top + lph, left:left + lpw].copy()
        results[self.gt_key] = gt[top * scale:top * scale + ph, left * scale:left * scale + pw].copy()
        results['crop_bbox'] = (top * scale, left * scale, ph, pw)
        return results


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """The same random ``crop_size`` window from every key (all the same size).

    Images smaller than the crop are padded bottom/right with ``pad_mode``
    (``'reflect'``, MAT's recipe) or rejected when ``pad_mode=None``.
    """

    at_inference = 'drop'

    @classmethod
    def check_args(cls, **kwargs) -> None:
        if 'crop_size' in kwargs:
            _hw(kwargs['crop_size'], 'crop_size')

    def __init__(self, keys: Union[str, Sequence[str]], crop_size: Union[int, Sequence[int]],
                 pad_mode: Optional[str] = 'reflect', seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.crop_size = _hw(crop_size, 'crop_size')
        if pad_mode is not None and pad_mode not in _PAD_MODES:
            raise ValueError(f'pad_mode must be None or one of {_PAD_MODES}, got {pad_mode!r}')
        self.pad_mode = pad_mode
        self.seed = seed

    def transform(self, results: dict) -> dict:
        h, w = _same_size(results, self.keys)
        ch, cw = self.crop_size
        if h < ch or w < cw:
            if self.pad_mode is None:
                raise ValueError(f'{_where(results, self.keys)}: image {h}x{w} is smaller than the '
                                 f"crop {ch}x{cw}; set pad_mode='reflect' to pad it")
            for k in self.keys:
                results[k] = pad_image(results[k], ch - h, cw - w, self.pad_mode)
            h, w = max(h, ch), max(w, cw)
        rng = self.rng(results)
        top = int(rng.integers(0, h - ch + 1))
        left = int(rng.integers(0, w - cw + 1))
        for k in self.keys:
            results[k] = results[k][top:top + ch, left:left + cw].copy()
        results['crop_bbox'] = (top, left, ch, cw)
        return results


@TRANSFORMS.register_module()
class CenterCrop(BaseTransform):
    """Central ``crop_size`` window of every key (offsets rounded down).

    ``pad_mode=None`` (default) rejects images smaller than the crop.
    """

    at_inference = 'drop'

    @classmethod
    def check_args(cls, **kwargs) -> None:
        if 'crop_size' in kwargs:
            _hw(kwargs['crop_size'], 'crop_size')

    def __init__(self, keys: Union[str, Sequence[str]], crop_size: Union[int, Sequence[int]],
                 pad_mode: Optional[str] = None) -> None:
        self.keys = to_keys(keys)
        self.crop_size = _hw(crop_size, 'crop_size')
        self.pad_mode = pad_mode

    def transform(self, results: dict) -> dict:
        h, w = _same_size(results, self.keys)
        ch, cw = self.crop_size
        if h < ch or w < cw:
            if self.pad_mode is None:
                raise ValueError(f'{_where(results, self.keys)}: image {h}x{w} is smaller than the '
                                 f"crop {ch}x{cw}; set pad_mode='reflect' to pad it")
            for k in self.keys:
                results[k] = pad_image(results[k], ch - h, cw - w, self.pad_mode)
            h, w = max(h, ch), max(w, cw)
        top, left = (h - ch) // 2, (w - cw) // 2
        for k in self.keys:
            results[k] = results[k][top:top + ch, left:left + cw].copy()
        results['crop_bbox'] = (top, left, ch, cw)
        return results


@TRANSFORMS.register_module()
class PadToMultiple(BaseTransform):
    """Pad each key bottom/right so height and width are multiples of ``multiple``.

    Records the size before padding in ``results[f'{key}_ori_hw'] = (h, w)``: crop
    the prediction back with ``pred[..., :h, :w]``.
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]] = ('lq', 'gt'), multiple: int = 8,
                 pad_mode: str = 'reflect') -> None:
        self.keys = to_keys(keys)
        if multiple < 1:
            raise ValueError(f'multiple must be >= 1, got {multiple}')
        if pad_mode not in _PAD_MODES:
            raise ValueError(f'pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}')
        self.multiple = int(multiple)
        self.pad_mode = pad_mode

    def transform(self, results: dict) -> dict:
        m = self.multiple
        for k in self.keys:
            if k not in results:
                continue
            h, w = results[k].shape[:2]
            results[k] = pad_image(results[k], (-h) % m, (-w) % m, self.pad_mode)
            results[f'{k}_ori_hw'] = (h, w)
        return results


@TRANSFORMS.register_module()
class CropToMultiple(BaseTransform):
    """Crop every key to the largest size that is a multiple of ``multiple``, centred.

    The ``h % multiple`` surplus rows are split as ``surplus // 2`` from the top and
    the rest from the bottom (same for columns) — PromptIR's ``crop_img`` at test time.
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], multiple: int = 16) -> None:
        if multiple < 1:
            raise ValueError(f'multiple must be >= 1, got {multiple}')
        self.keys = to_keys(keys)
        self.multiple = int(multiple)

    def transform(self, results: dict) -> dict:
        h, w = _same_size(results, self.keys)
        dh, dw = h % self.multiple, w % self.multiple
        if h - dh == 0 or w - dw == 0:
            raise ValueError(f'{_where(results, self.keys)}: image {h}x{w} is smaller than the '
                             f'multiple {self.multiple}')
        top, left = dh // 2, dw // 2
        for k in self.keys:
            results[k] = results[k][top:h - dh + top, left:w - dw + left].copy()
        results['crop_bbox'] = (top, left, h - dh, w - dw)
        return results


_RESIZE_MODES = ('nearest', 'bilinear', 'bicubic')


def resize_image(img: np.ndarray, size: Tuple[int, int], interpolation: str = 'bilinear') -> np.ndarray:
    """Resize an ``H x W (x C)`` float array to ``size = (h, w)`` with PIL's filters.

    ``'bilinear'``/``'bicubic'`` are antialiased when shrinking (PIL's ``Image.resize``,
    which torchvision's ``Resize`` calls on PIL images; computed in float with
    ``F.interpolate(..., antialias=True)``, bicubic clamped to [0, 1] as PIL's 8-bit
    output is); ``'nearest'`` takes the source pixel ``floor((i + 0.5) * in / out)``
    (PIL's ``NEAREST``, torch's ``'nearest-exact'``).
    """
    if interpolation not in _RESIZE_MODES:
        raise ValueError(f'interpolation must be one of {_RESIZE_MODES}, got {interpolation!r}')
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f'resize target must be positive, got {h}x{w}')
    if img.shape[:2] == (h, w):
        return img
    squeeze = img.ndim == 2
    arr = img[:, :, None] if squeeze else img
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)[None]
    if interpolation == 'nearest':
        t = F.interpolate(t, size=(h, w), mode='nearest-exact')
    else:
        t = F.interpolate(t, size=(h, w), mode=interpolation, align_corners=False, antialias=True)
        if interpolation == 'bicubic':
            t = t.clamp_(0, 1)
    out = t[0].permute(1, 2, 0).contiguous().numpy()
    return out[:, :, 0] if squeeze else out


def resized_size(h: int, w: int, size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """torchvision's ``Resize`` rule: an int sets the *shorter* side (the longer one becomes
    ``int(size * long / short)``); ``(h, w)`` is used as given."""
    if isinstance(size, int):
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(size * long / short)
        return (size, new_long) if h <= w else (new_long, size)
    return _hw(size)


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize every key (torchvision ``transforms.Resize`` semantics, PIL filters).

    Args:
        keys: results keys to resize (each by its own size rule).
        size: int = length of the shorter side (aspect ratio kept, as torchvision), or
            ``(h, w)``.
        interpolation: ``'nearest'``, ``'bilinear'`` or ``'bicubic'`` (see :func:`resize_image`).

    Dropped at inference on user files (a benchmark's size preparation; models run on any size).
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], size: Union[int, Sequence[int]],
                 interpolation: str = 'bilinear') -> None:
        if interpolation not in _RESIZE_MODES:
            raise ValueError(f'interpolation must be one of {_RESIZE_MODES}, got {interpolation!r}')
        if isinstance(size, int):
            if size < 1:
                raise ValueError(f'Resize: size must be positive, got {size}')
        elif len(size) != 2 or min(int(v) for v in size) < 1:
            raise ValueError(f'Resize: size must be an int or (h, w) with positive values, got {size!r}')
        self.keys = to_keys(keys)
        self.size = size if isinstance(size, int) else _hw(size)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        for k in self.keys:
            img = results[k]
            out = resize_image(img, resized_size(*img.shape[:2], self.size), self.interpolation)
            results[k] = out.reshape(out.shape[:2] + img.shape[2:])
        return results


def random_resized_crop_params(h: int, w: int, scale: Sequence[float], ratio: Sequence[float],
                               rng: np.random.Generator) -> Tuple[int, int, int, int]:
    """``(top, left, height, width)`` of torchvision's ``RandomResizedCrop.get_params``.

    Up to 10 tries: area fraction ``U(scale)``, aspect ratio ``exp(U(log ratio))``, sides
    ``round(sqrt(area * ratio))`` / ``round(sqrt(area / ratio))``, accepted if they fit,
    position uniform; otherwise the whole image cropped centrally to the nearest
    allowed aspect ratio.
    """
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        cw = int(round(math.sqrt(target_area * aspect)))
        ch = int(round(math.sqrt(target_area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            return top, left, ch, cw
    in_ratio = w / h
    if in_ratio < min(ratio):
        cw = w
        ch = int(round(cw / min(ratio)))
    elif in_ratio > max(ratio):
        ch = h
        cw = int(round(ch * max(ratio)))
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """torchvision's ``RandomResizedCrop``: a random area/aspect crop resized to ``size``.

    The same crop is taken from every key. Parameters follow
    :func:`random_resized_crop_params` (torchvision's rule, drawn from irkit's numpy
    stream instead of torch's global RNG); resizing as :func:`resize_image`.

    Args:
        keys: results keys (same size).
        size: output ``int`` (square) or ``(h, w)``.
        scale: range of the crop's area as a fraction of the image (0.08, 1.0).
        ratio: range of the crop's aspect ratio w / h (3/4, 4/3).
        interpolation: ``'bilinear'`` (torchvision's default), ``'bicubic'`` or ``'nearest'``.
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], size: Union[int, Sequence[int]],
                 scale: Sequence[float] = (0.08, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3),
                 interpolation: str = 'bilinear', seed: Optional[int] = None) -> None:
        if interpolation not in _RESIZE_MODES:
            raise ValueError(f'interpolation must be one of {_RESIZE_MODES}, got {interpolation!r}')
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'RandomResizedCrop: scale and ratio must be increasing positive ranges, '
                             f'got scale={scale!r}, ratio={ratio!r}')
        self.keys = to_keys(keys)
        self.size = _hw(size)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.interpolation = interpolation
        self.seed = seed

    def transform(self, results: dict) -> dict:
        h, w = _same_size(results, self.keys)
        top, left, ch, cw = random_resized_crop_params(h, w, self.scale, self.ratio, self.rng(results))
        for k in self.keys:
            img = results[k]
            out = resize_image(img[top:top + ch, left:left + cw], self.size, self.interpolation)
            results[k] = out.reshape(out.shape[:2] + img.shape[2:])
        results['crop_bbox'] = (top, left, ch, cw)
        return results
