"""Inpainting mask generators: MAT's training distribution and MMagic's bbox / irregular / set masks.

All generators return irkit's convention, float32 ``H x W x 1`` (functions: ``H x W``), 1 = known
pixel, 0 = hole, and draw from an explicit numpy ``Generator`` (seeded per sample in evaluation,
see :class:`~irkit.datasets.transforms.base.BaseTransform`).

**MAT** (``GenerateMATMask``) reimplements the sampling procedure of MAT (Li et al., CVPR 2022,
``datasets/mask_generator_512.py`` and its ``_small``/``_256`` variants) with an
explicit numpy ``Generator`` instead of the global ``np.random`` state:

1. start from an all-known mask;
2. ``randint(n_small_boxes)`` boxes with width and height each ``randint(W // 2)``
   (``randint(H // 2)``), top-left ``randint(-w // 2, W - w + w // 2)`` so boxes
   may stick out of the image, clipped;
3. ``randint(n_large_boxes)`` boxes with sizes up to the full image;
4. ``randint(n_strokes)`` brush strokes: 4..17 vertices, alternating angles around
   2 pi / 5 (+- up to 2 pi / 15), step length ``clip(N(r, r // 2), 0, 2 r)`` with
   ``r = sqrt(H^2 + W^2) / 8``, width ``int(U(12, 48))`` pixels, a polyline plus
   discs at the vertices; the stroke layer is flipped up-down and left-right with
   probability 1/2 each;
5. hole = box holes OR strokes; masks whose hole ratio is not strictly inside
   ``hole_range`` (default: exactly 0 % or 100 %) are redrawn.

Stroke widths are absolute pixel sizes, so the hole-ratio distribution depends on
the resolution: the ``large``/``small`` variants are MAT's 512 generators,
``large_256``/``small_256`` its 256 ones. ``comodgan`` is Co-Mod-GAN's ``RandomMask``
(Zhao et al., ICLR 2021; the same procedure with 0-9 boxes <= size/2, 0-4 boxes <= size and
0-19 strokes).

Measured hole ratios of the official generators at 512 (4,000 draws): large mean
0.401, 28.8 % of masks above 50 % holes; small mean 0.220.

**MMagic** (``mmagic/utils/trans_utils.py`` and ``LoadMask`` of open-mmlab/mmagic v1.2.0, the
masks of its GLCIC / DeepFill / PConv recipes), the same draws in the same order as MMagic's
functions (fed a ``RandomState``-backed generator they give MMagic's masks pixel for pixel):

* ``bbox`` (:class:`GenerateBBoxMask`, :func:`random_bbox`, :func:`bbox2mask`): top-left drawn
  in ``[margin, size - margin - max_shape)`` (exclusive), then the box is shrunk by
  ``randint(0, max_delta // 2 + 1)`` from its top (left) side only: the bottom/right edge stays
  where it was drawn (MMagic's comment says the centre is kept; the code keeps the far edge).
  The box ``(top, left, h, w)`` is kept in ``results['mask_bbox']`` for the local
  discriminator of GLCIC / DeepFill v1;
* ``irregular`` (:class:`GenerateIrregularMask`, :func:`irregular_mask`): ``randint(num_vertices)``
  start points, each with ``randint(1, 6)`` straight strokes of integer angle
  ``randint(0, max_angle) + 0.01`` radians (mirrored to ``2 pi - angle`` for even start points),
  length ``randint(length_range)``, width ``randint(brush_width)`` (``cv2.line``), redrawn until
  the hole ratio is strictly inside ``area_ratio_range``. MMagic draws a start point's x in
  ``[0, W)`` and y in ``[0, H)`` but hands cv2 the point ``(y, x)``; irkit keeps that, so on
  non-square images the start points cover the top-left ``min(H, W)`` square (square images,
  all of MMagic's recipes, are unaffected);
* ``set``: a random file of a mask list is ``LoadRandomMask(mask_list_file=..., prefix=...,
  threshold=0)`` (any non-zero pixel is a hole).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import cv2
from PIL import Image, ImageDraw

from irkit.registry import TRANSFORMS

from .base import BaseTransform

__all__ = ['MAT_MASK_VARIANTS', 'mat_random_mask', 'mat_brush', 'GenerateMATMask', 'random_bbox',
           'bbox2mask', 'random_irregular_mask', 'irregular_mask', 'GenerateBBoxMask',
           'GenerateIrregularMask']

# (max boxes <= size/2, max boxes <= size, max strokes); randint(n) draws 0..n-1
MAT_MASK_VARIANTS = {
    'large': (5, 3, 9),
    'small': (3, 2, 4),
    'large_256': (4, 2, 8),
    'small_256': (2, 2, 3),
    # Co-Mod-GAN's RandomMask (zsyzzsoft/co-mod-gan training/mask_generator.py), the same procedure
    'comodgan': (10, 5, 20),
}


def mat_brush(rng: np.random.Generator, height: int, width: int, max_tries: int,
              min_num_vertex: int = 4, max_num_vertex: int = 18,
              mean_angle: float = 2 * math.pi / 5, angle_range: float = 2 * math.pi / 15,
              min_width: int = 12, max_width: int = 48) -> np.ndarray:
    """MAT's random brush strokes: uint8 ``H x W``, 1 = stroke."""
    average_radius = math.sqrt(height * height + width * width) / 8
    canvas = Image.new('L', (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(max_tries)) if max_tries > 0 else 0):
        num_vertex = int(rng.integers(min_num_vertex, max_num_vertex))
        angle_min = mean_angle - rng.uniform(0, angle_range)
        angle_max = mean_angle + rng.uniform(0, angle_range)
        angles = [2 * math.pi - rng.uniform(angle_min, angle_max) if i % 2 == 0
                  else rng.uniform(angle_min, angle_max) for i in range(num_vertex)]
        vertex = [(int(rng.integers(0, width)), int(rng.integers(0, height)))]
        for i in range(num_vertex):
            r = float(np.clip(rng.normal(average_radius, average_radius // 2), 0, 2 * average_radius))
            new_x = min(max(vertex[-1][0] + r * math.cos(angles[i]), 0), width)
            new_y = min(max(vertex[-1][1] + r * math.sin(angles[i]), 0), height)
            vertex.append((int(new_x), int(new_y)))
        stroke_width = int(rng.uniform(min_width, max_width))
        draw.line(vertex, fill=1, width=stroke_width)
        half = stroke_width // 2
        for x, y in vertex:
            draw.ellipse((x - half, y - half, x + half, y + half), fill=1)
    mask = np.asarray(canvas, np.uint8)
    if rng.random() > 0.5:
        mask = mask[::-1, :]
    if rng.random() > 0.5:
        mask = mask[:, ::-1]
    return mask


def mat_random_mask(height: int, width: Optional[int] = None, variant: str = 'large',
                    hole_range: Sequence[float] = (0.0, 1.0),
                    rng: Optional[np.random.Generator] = None, max_attempts: int = 1000
                    ) -> np.ndarray:
    """One MAT training mask, float32 ``H x W``, 1 = known pixel, 0 = hole."""
    width = height if width is None else width
    if variant not in MAT_MASK_VARIANTS:
        raise ValueError(f'unknown MAT mask variant {variant!r}; choose from {sorted(MAT_MASK_VARIANTS)}')
    lo, hi = float(hole_range[0]), float(hole_range[1])
    if not (0 <= lo < hi <= 1):
        raise ValueError(f'hole_range must satisfy 0 <= lo < hi <= 1, got {hole_range!r}')
    if height < 4 or width < 4:
        raise ValueError(f'mask size {height}x{width} is too small (min 4x4)')
    rng = np.random.default_rng() if rng is None else rng
    coef = min(lo + hi, 1.0)
    n_small, n_large, n_strokes = MAT_MASK_VARIANTS[variant]
    for _ in range(max_attempts):
        known = np.ones((height, width), np.uint8)

        def boxes(max_tries: int, max_h: int, max_w: int) -> None:
            for _ in range(int(rng.integers(max_tries)) if max_tries > 0 else 0):
                bw, bh = int(rng.integers(max_w)), int(rng.integers(max_h))
                x = int(rng.integers(-(bw // 2), width - bw + bw // 2))
                y = int(rng.integers(-(bh // 2), height - bh + bh // 2))
                known[max(y, 0):min(y + bh, height), max(x, 0):min(x + bw, width)] = 0

        boxes(int(n_small * coef), height // 2, width // 2)
        boxes(int(n_large * coef), height, width)
        known &= 1 - mat_brush(rng, height, width, int(n_strokes * coef))
        hole_ratio = 1.0 - known.mean()
        if lo < hole_ratio < hi:
            return known.astype(np.float32)
    raise RuntimeError(f'no mask with a hole ratio inside {hole_range} after {max_attempts} draws')


@TRANSFORMS.register_module()
class GenerateMATMask(BaseTransform):
    """Put a MAT training mask in ``results[key]`` (``H x W x 1`` float32, 1 = known).

    Args:
        key: where to store the mask.
        variant: ``'large'`` (MAT's default training masks), ``'small'``,
            ``'large_256'`` or ``'small_256'``.
        hole_range: accepted hole ratios (exclusive bounds), MAT's ``hole_range``.
        img_key: the mask takes this image's size when ``size`` is None.
        size: fixed mask size (int or (h, w)) instead.
        seed: ``None`` draws a fresh mask every time (training); an int fixes the
            mask of each image from ``(seed, sample key)`` (evaluation).
    """

    at_inference = 'mask'

    def __init__(self, key: str = 'mask', variant: str = 'large',
                 hole_range: Sequence[float] = (0.0, 1.0), img_key: str = 'gt',
                 size: Union[int, Sequence[int], None] = None, seed: Optional[int] = None) -> None:
        if variant not in MAT_MASK_VARIANTS:
            raise ValueError(f'unknown MAT mask variant {variant!r}; choose from {sorted(MAT_MASK_VARIANTS)}')
        self.key = key
        self.variant = variant
        self.hole_range = tuple(float(v) for v in hole_range)
        self.img_key = img_key
        self.size: Optional[Tuple[int, int]] = None if size is None else (
            (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1])))
        self.seed = seed

    def transform(self, results: dict) -> dict:
        if self.size is not None:
            h, w = self.size
        else:
            if self.img_key not in results:
                raise KeyError(f"GenerateMATMask: no '{self.img_key}' image to take the size from; "
                               'load it first or give size=')
            h, w = results[self.img_key].shape[:2]
        mask = mat_random_mask(h, w, self.variant, self.hole_range, self.rng(results))
        results[self.key] = mask[:, :, None]
        return results


# --- MMagic's generators ------------------------------------------------------------------------
IntPair = Union[int, Sequence[int]]


def _pair(v: IntPair, name: str) -> Tuple[int, int]:
    """``v`` as ``(a, b)``: an int is repeated (MMagic's bbox arguments)."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if len(v) != 2:
        raise ValueError(f'{name} must be an int or a pair, got {v!r}')
    return int(v[0]), int(v[1])


def _range(v: IntPair, name: str) -> Tuple[int, int]:
    """``[lo, hi)`` of an MMagic range argument: an int ``n`` means exactly ``n`` (``(n, n + 1)``)."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v) + 1
    if len(v) != 2 or int(v[0]) >= int(v[1]):
        raise ValueError(f'{name} must be an int or (min, max) with min < max (max excluded), got {v!r}')
    return int(v[0]), int(v[1])


def _image_hw(img_shape: Sequence[int]) -> Tuple[int, int]:
    return int(img_shape[0]), int(img_shape[1])


def random_bbox(img_shape: Sequence[int], max_bbox_shape: IntPair, max_bbox_delta: IntPair = 40,
                min_margin: IntPair = 20, rng: Optional[np.random.Generator] = None
                ) -> Tuple[int, int, int, int]:
    """MMagic's random box ``(top, left, h, w)`` for an image of ``img_shape`` ``(h, w, ...)``.

    ``max_bbox_shape``, ``max_bbox_delta``, ``min_margin``: ints or ``(h, w)`` pairs.
    """
    img_h, img_w = _image_hw(img_shape)
    max_h, max_w = _pair(max_bbox_shape, 'max_bbox_shape')
    delta_h, delta_w = _pair(max_bbox_delta, 'max_bbox_delta')
    margin_h, margin_w = _pair(min_margin, 'min_margin')
    if max_h > img_h or max_w > img_w:
        raise ValueError(f'max_bbox_shape {(max_h, max_w)} is larger than the image {(img_h, img_w)}')
    if delta_h // 2 * 2 >= max_h or delta_w // 2 * 2 >= max_w:
        raise ValueError(f'max_bbox_delta {(delta_h, delta_w)} must be smaller than max_bbox_shape '
                         f'{(max_h, max_w)}')
    if img_h - max_h <= 2 * margin_h or img_w - max_w <= 2 * margin_w:
        raise ValueError(f'min_margin {(margin_h, margin_w)} leaves no room for a {(max_h, max_w)} box in a '
                         f'{(img_h, img_w)} image (need size - max_bbox_shape > 2 * min_margin)')
    rng = np.random.default_rng() if rng is None else rng
    top = int(rng.integers(margin_h, img_h - margin_h - max_h))
    left = int(rng.integers(margin_w, img_w - margin_w - max_w))
    shrink_top = int(rng.integers(0, delta_h // 2 + 1))
    shrink_left = int(rng.integers(0, delta_w // 2 + 1))
    return top + shrink_top, left + shrink_left, max_h - shrink_top, max_w - shrink_left


def bbox2mask(img_shape: Sequence[int], bbox: Sequence[int]) -> np.ndarray:
    """float32 ``H x W x 1`` mask, 0 inside ``bbox = (top, left, h, w)``, 1 elsewhere.

    (MMagic's function of the same name returns the opposite polarity, 1 = hole.)
    """
    img_h, img_w = _image_hw(img_shape)
    top, left, h, w = (int(v) for v in bbox)
    mask = np.ones((img_h, img_w, 1), np.float32)
    mask[top:top + h, left:left + w] = 0
    return mask


def random_irregular_mask(img_shape: Sequence[int], num_vertices: IntPair = (4, 8), max_angle: float = 4,
                          length_range: IntPair = (10, 100), brush_width: IntPair = (10, 40),
                          rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """One draw of MMagic's irregular strokes: uint8 ``H x W``, **1 = hole** (see the module doc)."""
    h, w = _image_hw(img_shape)
    min_len, max_len = _range(length_range, 'length_range')
    min_vert, max_vert = _range(num_vertices, 'num_vertices')
    min_width, max_width = _range(brush_width, 'brush_width')
    rng = np.random.default_rng() if rng is None else rng
    hole = np.zeros((h, w), np.uint8)
    for i in range(int(rng.integers(min_vert, max_vert))):
        x, y = int(rng.integers(w)), int(rng.integers(h))
        n = int(rng.integers(1, 6))
        angles = rng.integers(0, int(max_angle), size=n)
        lengths = rng.integers(min_len, max_len, size=n)
        widths = rng.integers(min_width, max_width, size=n)
        for j in range(n):
            angle = 0.01 + angles[j]
            if i % 2 == 0:
                angle = 2 * math.pi - angle
            end_x = int(x + lengths[j] * np.sin(angle))  # truncation, as astype(int32)
            end_y = int(y + lengths[j] * np.cos(angle))
            cv2.line(hole, (y, x), (end_y, end_x), 1, int(widths[j]))  # (y, x): MMagic's order
            x, y = end_x, end_y
    return hole


def irregular_mask(img_shape: Sequence[int], area_ratio_range: Sequence[float] = (0.15, 0.5),
                   rng: Optional[np.random.Generator] = None, max_attempts: int = 10000,
                   **kwargs) -> np.ndarray:
    """MMagic's ``get_irregular_mask``: :func:`random_irregular_mask` redrawn until the hole ratio is
    strictly inside ``area_ratio_range``; float32 ``H x W x 1``, 1 = known."""
    lo, hi = float(area_ratio_range[0]), float(area_ratio_range[1])
    if not 0 <= lo < hi <= 1:
        raise ValueError(f'area_ratio_range must satisfy 0 <= min < max <= 1, got {area_ratio_range!r}')
    h, w = _image_hw(img_shape)
    rng = np.random.default_rng() if rng is None else rng
    for _ in range(max_attempts):
        hole = random_irregular_mask(img_shape, rng=rng, **kwargs)
        if lo < hole.sum() / (h * w) < hi:
            return (1 - hole).astype(np.float32)[:, :, None]
    raise RuntimeError(f'no irregular mask with a hole ratio inside {tuple(area_ratio_range)} after '
                       f'{max_attempts} draws (img_shape {(h, w)}, {kwargs})')


class _MaskFromShape(BaseTransform):
    """Shared size logic: a fixed ``img_shape`` (MMagic's ``mask_config['img_shape']``) or the size
    of ``results[img_key]``. At inference the user's mask replaces the generator."""

    at_inference = 'mask'

    def _shape(self, results: dict) -> Tuple[int, int]:
        if self.img_shape is not None:
            return self.img_shape
        if self.img_key not in results:
            raise KeyError(f"{type(self).__name__}: no '{self.img_key}' image to take the size from; "
                           'load it first or give img_shape=')
        return tuple(results[self.img_key].shape[:2])

    @staticmethod
    def _hw(img_shape) -> Optional[Tuple[int, int]]:
        return None if img_shape is None else _image_hw(img_shape)


@TRANSFORMS.register_module()
class GenerateBBoxMask(_MaskFromShape):
    """MMagic's ``LoadMask(mask_mode='bbox')``: one rectangular hole (GLCIC, DeepFill v1 recipes).

    Args:
        max_bbox_shape, max_bbox_delta, min_margin: see :func:`random_bbox` (MMagic's recipes:
            128, 40, 20 on 256x256).
        img_shape: mask size ``(h, w)``; None = the size of ``results[img_key]``.
        key: where the mask goes (``H x W x 1`` float32, 1 = known).
        img_key: image giving the size when ``img_shape`` is None.
        bbox_key: where the box ``(top, left, h, w)`` goes (MMagic: ``mask_bbox``), an int64 array
            (``default_collate`` stacks the boxes of a batch into ``N x 4``; list the key in
            ``PackInputs(meta_keys=...)``).
        seed: None = fresh masks (training); an int = a fixed mask per sample key (evaluation).
    """

    def __init__(self, max_bbox_shape: IntPair = 128, max_bbox_delta: IntPair = 40, min_margin: IntPair = 20,
                 img_shape: Optional[Sequence[int]] = None, key: str = 'mask', img_key: str = 'gt',
                 bbox_key: str = 'mask_bbox', seed: Optional[int] = None) -> None:
        self.max_bbox_shape = _pair(max_bbox_shape, 'max_bbox_shape')
        self.max_bbox_delta = _pair(max_bbox_delta, 'max_bbox_delta')
        self.min_margin = _pair(min_margin, 'min_margin')
        self.img_shape = self._hw(img_shape)
        self.key, self.img_key, self.bbox_key, self.seed = key, img_key, bbox_key, seed
        if self.img_shape is not None:  # validate early
            random_bbox(self.img_shape, self.max_bbox_shape, self.max_bbox_delta, self.min_margin,
                        np.random.default_rng(0))

    def transform(self, results: dict) -> dict:
        shape = self._shape(results)
        bbox = random_bbox(shape, self.max_bbox_shape, self.max_bbox_delta, self.min_margin, self.rng(results))
        results[self.key] = bbox2mask(shape, bbox)
        results[self.bbox_key] = np.asarray(bbox, np.int64)  # collates to an (N, 4) tensor
        return results


@TRANSFORMS.register_module()
class GenerateIrregularMask(_MaskFromShape):
    """MMagic's ``LoadMask(mask_mode='irregular')`` (DeepFill v2 and PConv recipes).

    Args:
        num_vertices, max_angle, length_range, brush_width: see :func:`random_irregular_mask`
            (MMagic's DeepFill v2 recipe: (4, 10), 6.0, (20, 128), (10, 45)).
        area_ratio_range: accepted hole ratios, exclusive (recipe: (0.15, 0.65)).
        img_shape, key, img_key, seed: as :class:`GenerateBBoxMask`.
    """

    def __init__(self, num_vertices: IntPair = (4, 8), max_angle: float = 4.0,
                 length_range: IntPair = (10, 100), brush_width: IntPair = (10, 40),
                 area_ratio_range: Sequence[float] = (0.15, 0.5), img_shape: Optional[Sequence[int]] = None,
                 key: str = 'mask', img_key: str = 'gt', seed: Optional[int] = None) -> None:
        self.stroke_args = dict(num_vertices=_range(num_vertices, 'num_vertices'), max_angle=max_angle,
                                length_range=_range(length_range, 'length_range'),
                                brush_width=_range(brush_width, 'brush_width'))
        if int(max_angle) < 1:
            raise ValueError(f'max_angle must be >= 1 (angles are randint(0, max_angle)), got {max_angle}')
        self.area_ratio_range = (float(area_ratio_range[0]), float(area_ratio_range[1]))
        if not 0 <= self.area_ratio_range[0] < self.area_ratio_range[1] <= 1:
            raise ValueError(f'area_ratio_range must satisfy 0 <= min < max <= 1, got {area_ratio_range!r}')
        self.img_shape = self._hw(img_shape)
        self.key, self.img_key, self.seed = key, img_key, seed

    def transform(self, results: dict) -> dict:
        results[self.key] = irregular_mask(self._shape(results), self.area_ratio_range, self.rng(results),
                                           **self.stroke_args)
        return results
