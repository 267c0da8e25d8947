"""LaMa's random masks: the training mixture and the thin / medium / thick evaluation sets.

Reimplements ``saicinpainting/training/data/masks.py`` of LaMa (Suvorov et al., WACV
2022; advimman/lama@786f5936) with an explicit numpy generator instead of the global
``np.random`` state. The random draws are made in the official order with the same
bounds, so a generator that maps ``integers``/``choice`` to ``RandomState.randint`` /
``RandomState.choice`` reproduces the official masks pixel for pixel (checked outside
the repository, see ``docs/methods/lama.md``).

* Irregular strokes (``make_random_irregular_mask``): ``n`` strokes, each from a random
  start point with ``1 + randint(5)`` segments; segment angle ``0.01 + randint(max_angle)``
  radians (``2 * 3.1415926 - angle`` on even strokes), length ``10 + randint(max_len)``,
  width ``5 + randint(max_width)``, end point truncated to int and clipped to
  ``[0, W] x [0, H]``, drawn with ``cv2.line``. Through ``RandomIrregularMaskGenerator``
  (no ramp) the number of strokes is ``randint(min_times, max_times + 2)``, i.e. up to
  ``max_times + 1``.
* Boxes (``make_random_rectangle_mask``): ``randint(min_times, max_times + 1)`` boxes with
  width and height ``randint(bbox_min_size, m)``, ``m = min(bbox_max_size + 1, H - 2 margin,
  W - 2 margin)`` (the ``+ 1`` again from the generator class), placed inside the margin.
* Mixture (``MixedMaskGenerator``): one of the kinds with probability proportional to
  ``irregular_proba`` / ``box_proba`` (normalised in float32).

Variants (:data:`LAMA_MASK_VARIANTS`): ``'train'`` is big-lama's / lama-fourier's
training mixture (``configs/training/data/abl-04-256-mh-dist.yaml``); ``thin_256`` ...
``thick_512`` are ``configs/data_gen/random_{thin,medium,thick}_{256,512}.yaml``, the
masks of LaMa's evaluation sets. For those, ``bin/gen_mask_dataset.py`` draws
``variants_n = 5`` masks per image, drops masks covering more than
``max_tamper_area = 0.5`` of the image and keeps one at random; :class:`GenerateLaMaMask`
does the same (when all five are dropped, where the official script skips the image,
it draws five more).

Masks come out as ``H x W x 1`` float32 with 1 = known pixel, 0 = hole (irkit's
convention); the functions below return LaMa's ``H x W`` hole maps (1 = hole).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from irkit.registry import TRANSFORMS

from .base import BaseTransform

__all__ = ['LAMA_MASK_VARIANTS', 'lama_irregular_mask', 'lama_box_mask', 'lama_mixed_mask', 'GenerateLaMaMask']


def _irregular(max_angle: int = 4, max_len: int = 60, max_width: int = 20, min_times: int = 0,
               max_times: int = 10) -> Dict[str, int]:
    return dict(max_angle=max_angle, max_len=max_len, max_width=max_width, min_times=min_times,
                max_times=max_times)


def _box(margin: int = 10, bbox_min_size: int = 30, bbox_max_size: int = 100, min_times: int = 0,
         max_times: int = 3) -> Dict[str, int]:
    return dict(margin=margin, bbox_min_size=bbox_min_size, bbox_max_size=bbox_max_size,
                min_times=min_times, max_times=max_times)


#: LaMa's mask settings: mixture probabilities, stroke and box arguments, and for the
#: evaluation variants the selection (``variants_n`` draws, hole ratio <= ``max_tamper_area``)
LAMA_MASK_VARIANTS: Dict[str, Dict[str, Any]] = {
    'train': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 200, 100, 1, 5),
                  box_proba=1, box_kwargs=_box(10, 30, 150, 1, 4)),
    'thin_256': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 40, 10, 4, 50),
                     box_proba=0, variants_n=5, max_tamper_area=0.5),
    'thin_512': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 100, 20, 4, 70),
                     box_proba=0, variants_n=5, max_tamper_area=0.5),
    'medium_256': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 100, 50, 4, 5),
                       box_proba=0.3, box_kwargs=_box(0, 10, 50, 1, 5), variants_n=5, max_tamper_area=0.5),
    'medium_512': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 200, 100, 4, 10),
                       box_proba=0.3, box_kwargs=_box(0, 30, 150, 1, 5), variants_n=5, max_tamper_area=0.5),
    'thick_256': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 200, 100, 1, 5),
                      box_proba=0.3, box_kwargs=_box(10, 30, 150, 1, 3), variants_n=5, max_tamper_area=0.5),
    'thick_512': dict(irregular_proba=1, irregular_kwargs=_irregular(4, 450, 250, 1, 5),
                      box_proba=0.3, box_kwargs=_box(10, 30, 300, 1, 4), variants_n=5, max_tamper_area=0.5),
}


def lama_irregular_mask(rng: Any, height: int, width: int, max_angle: int = 4, max_len: int = 60,
                        max_width: int = 20, min_times: int = 0, max_times: int = 10) -> np.ndarray:
    """LaMa's irregular strokes as drawn by ``RandomIrregularMaskGenerator`` (no ramp):
    float32 ``H x W``, 1 = hole; ``randint(min_times, max_times + 2)`` strokes."""
    mask = np.zeros((height, width), np.float32)
    for i in range(int(rng.integers(min_times, max_times + 2))):
        x, y = int(rng.integers(width)), int(rng.integers(height))
        for _ in range(1 + int(rng.integers(5))):
            angle = 0.01 + int(rng.integers(max_angle))
            if i % 2 == 0:
                angle = 2 * 3.1415926 - angle
            length = 10 + int(rng.integers(max_len))
            brush_w = 5 + int(rng.integers(max_width))
            end_x = min(max(int(np.float64(x) + length * np.sin(np.float64(angle))), 0), width)
            end_y = min(max(int(np.float64(y) + length * np.cos(np.float64(angle))), 0), height)
            cv2.line(mask, (x, y), (end_x, end_y), 1.0, brush_w)
            x, y = end_x, end_y
    return mask


def lama_box_mask(rng: Any, height: int, width: int, margin: int = 10, bbox_min_size: int = 30,
                  bbox_max_size: int = 100, min_times: int = 0, max_times: int = 3) -> np.ndarray:
    """LaMa's random boxes as drawn by ``RandomRectangleMaskGenerator`` (no ramp):
    float32 ``H x W``, 1 = hole; sides in ``[bbox_min_size, bbox_max_size]`` (capped by the image)."""
    mask = np.zeros((height, width), np.float32)
    hi = min(bbox_max_size + 1, height - 2 * margin, width - 2 * margin)
    if hi <= bbox_min_size:
        raise ValueError(f'LaMa box masks: a {height}x{width} image with margin {margin} has no room for '
                         f'boxes of at least {bbox_min_size} px (bbox_min_size)')
    for _ in range(int(rng.integers(min_times, max_times + 1))):
        bw = int(rng.integers(bbox_min_size, hi))
        bh = int(rng.integers(bbox_min_size, hi))
        x = int(rng.integers(margin, width - margin - bw + 1))
        y = int(rng.integers(margin, height - margin - bh + 1))
        mask[y:y + bh, x:x + bw] = 1
    return mask


def lama_mixed_mask(rng: Any, height: int, width: int, irregular_proba: float = 1 / 3,
                    irregular_kwargs: Optional[Mapping[str, int]] = None, box_proba: float = 1 / 3,
                    box_kwargs: Optional[Mapping[str, int]] = None) -> np.ndarray:
    """LaMa's ``MixedMaskGenerator`` restricted to strokes and boxes: float32 ``H x W``, 1 = hole."""
    kinds, probas = [], []
    if irregular_proba > 0:
        kinds.append((lama_irregular_mask, dict(irregular_kwargs or {})))
        probas.append(irregular_proba)
    if box_proba > 0:
        kinds.append((lama_box_mask, dict(box_kwargs or {})))
        probas.append(box_proba)
    if not kinds:
        raise ValueError('LaMa masks: irregular_proba and box_proba are both 0; nothing to draw')
    p = np.array(probas, dtype='float32')
    p /= p.sum()
    fn, kwargs = kinds[int(rng.choice(len(p), p=p))]
    return fn(rng, height, width, **kwargs)


@TRANSFORMS.register_module()
class GenerateLaMaMask(BaseTransform):
    """Put a LaMa mask in ``results[key]`` (``H x W x 1`` float32, 1 = known, 0 = hole).

    Args:
        key: where to store the mask.
        variant: a key of :data:`LAMA_MASK_VARIANTS`: ``'train'`` (LaMa's training
            mixture) or ``'thin_256'``, ``'medium_256'``, ``'thick_256'``, ``'thin_512'``,
            ``'medium_512'``, ``'thick_512'`` (its evaluation masks).
        irregular_proba, irregular_kwargs, box_proba, box_kwargs: override the variant's
            mixture (kwargs are merged into the variant's).
        variants_n, max_tamper_area: the evaluation selection (``None``: the variant's;
            ``variants_n=1, max_tamper_area=1`` for plain draws).
        img_key: the mask takes this image's size when ``size`` is None.
        size: fixed mask size (int or (h, w)) instead.
        seed: ``None`` draws a fresh mask every time (training); an int fixes the mask
            of each image from ``(seed, sample key)`` (evaluation).
    """

    at_inference = 'mask'

    def __init__(self, key: str = 'mask', variant: str = 'train', irregular_proba: Optional[float] = None,
                 irregular_kwargs: Optional[Mapping[str, int]] = None, box_proba: Optional[float] = None,
                 box_kwargs: Optional[Mapping[str, int]] = None, variants_n: Optional[int] = None,
                 max_tamper_area: Optional[float] = None, img_key: str = 'gt',
                 size: Union[int, Sequence[int], None] = None, seed: Optional[int] = None) -> None:
        if variant not in LAMA_MASK_VARIANTS:
            raise ValueError(f'unknown LaMa mask variant {variant!r}; choose from {sorted(LAMA_MASK_VARIANTS)}')
        spec = copy.deepcopy(LAMA_MASK_VARIANTS[variant])
        if irregular_proba is not None:
            spec['irregular_proba'] = irregular_proba
        if box_proba is not None:
            spec['box_proba'] = box_proba
        for name, given, ref in (('irregular_kwargs', irregular_kwargs, _irregular()),
                                 ('box_kwargs', box_kwargs, _box())):
            merged = dict(spec.get(name) or ref)
            unknown = sorted(set(given or {}) - set(ref))
            if unknown:
                raise ValueError(f'GenerateLaMaMask: unknown {name} {unknown}; valid: {sorted(ref)}')
            merged.update(given or {})
            spec[name] = merged
        self.key = key
        self.variant = variant
        self.irregular_proba = float(spec['irregular_proba'])
        self.irregular_kwargs = spec['irregular_kwargs']
        self.box_proba = float(spec.get('box_proba', 0))
        self.box_kwargs = spec['box_kwargs']
        self.variants_n = int(variants_n if variants_n is not None else spec.get('variants_n', 1))
        self.max_tamper_area = float(max_tamper_area if max_tamper_area is not None
                                     else spec.get('max_tamper_area', 1.0))
        if self.variants_n < 1:
            raise ValueError(f'GenerateLaMaMask: variants_n must be >= 1, got {self.variants_n}')
        if not 0 < self.max_tamper_area <= 1:
            raise ValueError(f'GenerateLaMaMask: max_tamper_area must be in (0, 1], got {self.max_tamper_area}')
        if self.irregular_proba <= 0 and self.box_proba <= 0:
            raise ValueError('GenerateLaMaMask: irregular_proba and box_proba are both 0; nothing to draw')
        self.img_key = img_key
        self.size: Optional[Tuple[int, int]] = None if size is None else (
            (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1])))
        self.seed = seed

    def draw(self, rng: Any, height: int, width: int, max_rounds: int = 100) -> np.ndarray:
        """One mask as LaMa's hole map (``H x W`` float32, 1 = hole)."""
        for _ in range(max_rounds):
            masks = [lama_mixed_mask(rng, height, width, self.irregular_proba, self.irregular_kwargs,
                                     self.box_proba, self.box_kwargs) for _ in range(self.variants_n)]
            kept = [m for m in masks if m.mean() <= self.max_tamper_area]
            if kept:
                return kept[int(rng.choice(len(kept)))]
        raise RuntimeError(f'GenerateLaMaMask({self.variant!r}): no mask with at most '
                           f'{self.max_tamper_area:.0%} holes in {max_rounds * self.variants_n} draws '
                           f'at {height}x{width}')

    def transform(self, results: dict) -> dict:
        if self.size is not None:
            h, w = self.size
        else:
            if self.img_key not in results:
                raise KeyError(f"GenerateLaMaMask: no '{self.img_key}' image to take the size from; "
                               'load it first or give size=')
            h, w = results[self.img_key].shape[:2]
        hole = self.draw(self.rng(results), h, w)
        results[self.key] = (1.0 - hole)[:, :, None].astype(np.float32)
        return results
