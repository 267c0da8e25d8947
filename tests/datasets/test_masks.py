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
