"""MAT mask generator: convention, rejection, seeding and the hole-ratio statistics."""
import time

import numpy as np
import pytest

from irkit.datasets.transforms.masks import mat_random_mask
from irkit.registry import TRANSFORMS


def test_convention_and_rejection():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = mat_random_mask(64, 48, 'small', rng=rng)
        assert m.shape == (64, 48) and m.dtype == np.float32
        assert set(np.unique(m)) <= {0.0, 1.0}
        assert 0 < 1 - m.mean() < 1  # no mask without holes or all hole
    for _ in range(20):
        r = 1 - mat_random_mask(64, variant='large', hole_range=(0.3, 0.5), rng=rng).mean()
        assert 0.3 < r < 0.5


def test_transform_seeding_and_size():
    img = np.zeros((40, 56, 3), np.float32)
    t = TRANSFORMS.build(dict(type='GenerateMATMask', variant='large', seed=3))
    a = t(dict(gt=img, key='x'))['mask']
    assert a.shape == (40, 56, 1)
    np.testing.assert_array_equal(a, t(dict(gt=img, key='x'))['mask'])
    assert not np.array_equal(a, t(dict(gt=img, key='y'))['mask'])
    free = TRANSFORMS.build(dict(type='GenerateMATMask', size=32))
    assert free(dict())['mask'].shape == (32, 32, 1)
    with pytest.raises(ValueError, match="unknown MAT mask variant 'huge'"):
        TRANSFORMS.build(dict(type='GenerateMATMask', variant='huge'))


def test_hole_ratio_statistics_match_mat():
    """MAT's official 512 generators (4,000 draws): large mean 0.401 with 28.8 % above
    50 % holes; small mean 0.220. Stroke widths are absolute pixel sizes, so the
    statistic depends on the resolution: test at 512 (~3 ms per mask)."""
    n = 2000
    start = time.perf_counter()
    rng = np.random.default_rng(2024)
    large = np.array([1 - mat_random_mask(512, variant='large', rng=rng).mean() for _ in range(n)])
    small = np.array([1 - mat_random_mask(512, variant='small', rng=rng).mean() for _ in range(n)])
    elapsed = time.perf_counter() - start
    assert abs(large.mean() - 0.40) <= 0.02
    assert abs((large > 0.5).mean() - 0.29) <= 0.02
    assert abs(small.mean() - 0.22) <= 0.02
    assert abs((small > 0.5).mean() - 0.052) <= 0.02
    print(f'{2 * n} masks at 512 in {elapsed:.1f}s; large mean {large.mean():.3f}, '
          f'>50%: {(large > 0.5).mean():.3f}; small mean {small.mean():.3f}')


def test_comodgan_variant_matches_the_official_random_mask():
    """Co-Mod-GAN's official ``RandomMask(512)`` (zsyzzsoft/co-mod-gan training/mask_generator.py,
    run outside the repo, 4,000 draws): hole ratio mean 0.644, 80.3 % of masks above 50 %."""
    n = 400
    rng = np.random.default_rng(7)
    r = np.array([1 - mat_random_mask(512, variant='comodgan', rng=rng).mean() for _ in range(n)])
    assert abs(r.mean() - 0.644) <= 0.03  # std 0.18: 3.3 standard errors
    assert abs((r > 0.5).mean() - 0.803) <= 0.06


# --- MMagic's generators (bbox / irregular) -----------------------------------------------
from irkit.datasets.transforms.masks import (bbox2mask, irregular_mask,  # noqa: E402
                                             random_bbox, random_irregular_mask)


def test_bbox_ranges_are_mmagics():
    """256x256, max 128, delta 40, margin 20 (GLCIC / DeepFill v1 recipes): top-left drawn in
    [20, 108), shrunk by 0..20 from the top/left only, so the far edge stays in [148, 235]."""
    rng = np.random.default_rng(0)
    boxes = np.array([random_bbox((256, 256), 128, 40, 20, rng=rng) for _ in range(2000)])
    top, left, h, w = boxes.T
    assert set(h) == set(range(108, 129)) and set(w) == set(range(108, 129))
    assert (top + h).min() >= 148 and (top + h).max() <= 235
    assert (left + w).min() >= 148 and (left + w).max() <= 235
    assert top.min() >= 20 and top.max() <= 127
    rect = random_bbox((100, 300), (40, 120), (10, 30), (5, 50), rng=rng)
    assert 5 <= rect[0] and rect[0] + rect[2] <= 100 - 5 and 50 <= rect[1] and rect[1] + rect[3] <= 300 - 50
    with pytest.raises(ValueError, match='min_margin'):
        random_bbox((256, 256), 128, 40, 64)
    with pytest.raises(ValueError, match='max_bbox_delta'):
        random_bbox((256, 256), 32, 40, 20)


def test_bbox2mask_and_transform():
    m = bbox2mask((5, 6), (1, 2, 3, 2))
    expected = np.ones((5, 6), np.float32)
    expected[1:4, 2:4] = 0
    np.testing.assert_array_equal(m[:, :, 0], expected)
    t = TRANSFORMS.build(dict(type='GenerateBBoxMask', img_shape=(256, 256), seed=5))
    r = t(dict(key='a'))
    top, left, h, w = r['mask_bbox']
    assert r['mask'].shape == (256, 256, 1) and r['mask'].dtype == np.float32
    assert r['mask'][top:top + h, left:left + w].max() == 0 and r['mask'].sum() == 256 * 256 - h * w
    assert r['mask_bbox'].dtype == np.int64 and r['mask_bbox'].shape == (4,)
    np.testing.assert_array_equal(t(dict(key='a'))['mask_bbox'], r['mask_bbox'])  # fixed per sample key
    from_image = TRANSFORMS.build(dict(type='GenerateBBoxMask', max_bbox_shape=32, max_bbox_delta=8,
                                       min_margin=4))
    assert from_image(dict(gt=np.zeros((64, 80, 3), np.float32)))['mask'].shape == (64, 80, 1)
    with pytest.raises(ValueError, match='min_margin'):
        TRANSFORMS.build(dict(type='GenerateBBoxMask', img_shape=(128, 128)))


def test_irregular_stroke_geometry():
    """A scripted draw: one start point x=10, y=5 with one stroke of angle 0 (+0.01, mirrored to
    2 pi - 0.01 for the first point), length 20, width 3. MMagic hands cv2 the point (y, x), so
    the stroke runs along row ~10 from column 5 to column ~24 (not down column 10)."""

    class Scripted:
        def __init__(self, values):
            self.values = list(values)

        def integers(self, low, high=None, size=None):
            v = self.values.pop(0)
            return np.full(size, v) if size is not None else v

    # num_vertices, x, y, n_directions, angles, lengths, widths
    hole = random_irregular_mask((40, 40), rng=Scripted([1, 10, 5, 1, 0, 20, 3]))
    end_col = int(5 + 20 * np.cos(2 * np.pi - 0.01))  # 24
    end_row = int(10 + 20 * np.sin(2 * np.pi - 0.01))  # 9
    assert (end_row, end_col) == (9, 24)
    assert hole[10, 5] == 1 and hole[9, 24] == 1 and hole[10, 15] == 1
    ys, xs = np.nonzero(hole)  # the 3 px wide stroke with round caps stays within rows 7..12
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (7, 12, 3, 26)
    assert hole[20, 10] == 0


def test_irregular_mask_statistics_match_mmagic():
    """DeepFill v2 recipe (256x256, vertices (4, 10), max_angle 6, length (20, 128), width (10, 45),
    ratio (0.15, 0.65)). MMagic's get_irregular_mask measured over 2,000 draws: hole ratio mean
    0.343, sd 0.097; before rejection 96.5 % of the draws fall inside the range."""
    rng = np.random.default_rng(1)
    args = dict(num_vertices=(4, 10), max_angle=6, length_range=(20, 128), brush_width=(10, 45))
    ratios = np.array([1 - irregular_mask((256, 256), (0.15, 0.65), rng=rng, **args).mean() for _ in range(300)])
    assert ratios.min() > 0.15 and ratios.max() < 0.65
    assert abs(ratios.mean() - 0.343) < 0.02 and abs(ratios.std() - 0.097) < 0.02
    raw = np.array([random_irregular_mask((256, 256), rng=rng, **args).mean() for _ in range(300)])
    assert abs(((raw > 0.15) & (raw < 0.65)).mean() - 0.965) < 0.04
    t = TRANSFORMS.build(dict(type='GenerateIrregularMask', area_ratio_range=(0.15, 0.65), seed=0, **args))
    a = t(dict(key='k', gt=np.zeros((64, 48, 3), np.float32)))['mask']
    assert a.shape == (64, 48, 1) and set(np.unique(a)) == {0.0, 1.0}
    np.testing.assert_array_equal(a, t(dict(key='k', gt=np.zeros((64, 48, 3), np.float32)))['mask'])
    with pytest.raises(ValueError, match='area_ratio_range'):
        TRANSFORMS.build(dict(type='GenerateIrregularMask', area_ratio_range=(0.5, 0.2)))
