"""Free-form inpainting masks with MAT's training distribution.

Reimplements the sampling procedure of MAT (Li et al., CVPR 2022,
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
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

from irkit.registry import TRANSFORMS

from .base import BaseTransform

__all__ = ['MAT_MASK_VARIANTS', 'mat_random_mask', 'mat_brush', 'GenerateMATMask']

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
