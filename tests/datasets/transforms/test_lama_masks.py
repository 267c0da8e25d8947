"""LaMa masks: the official draw order and bounds, convention, seeding, hole-ratio statistics."""
import math

import cv2
import numpy as np
import pytest
import torch

from irkit.datasets.transforms.lama_masks import (LAMA_MASK_VARIANTS, lama_box_mask, lama_irregular_mask,
                                                  lama_mixed_mask)
from irkit.registry import TRANSFORMS


class ScriptedRng:
    """Returns scripted values and records the bounds each draw asked for."""

    def __init__(self, values):
        self.values = list(values)
        self.calls = []

    def integers(self, low, high=None):
        self.calls.append((low,) if high is None else (low, high))
        return self.values.pop(0)

    def choice(self, n, p=None):
        self.calls.append(('choice', n, None if p is None else tuple(np.round(p, 6))))
        return self.values.pop(0)


def test_irregular_strokes_follow_the_official_draws():
    # 2 strokes; stroke 0: start (10, 20), 1 segment, angle index 1, length 10+30, width 5+2;
    # stroke 1: start (50, 5), 2 segments (angle 0 / len 10+0 / width 5+0, angle 3 / len 10+15 / width 5+4)
    rng = ScriptedRng([2, 10, 20, 0, 1, 30, 2, 50, 5, 1, 0, 0, 0, 3, 15, 4])
    got = lama_irregular_mask(rng, 64, 80, max_angle=4, max_len=60, max_width=20, min_times=1, max_times=5)
    assert rng.calls == [(1, 7), (80,), (64,), (5,), (4,), (60,), (20,),
                         (80,), (64,), (5,), (4,), (60,), (20,), (4,), (60,), (20,)]

    def end(x, y, length, angle):   # truncated towards zero, then clipped to [0, W] x [0, H]
        return (min(max(int(x + length * math.sin(angle)), 0), 80),
                min(max(int(y + length * math.cos(angle)), 0), 64))

    expected = np.zeros((64, 80), np.float32)
    e0 = end(10, 20, 40, 2 * 3.1415926 - 1.01)   # even stroke: mirrored angle
    assert e0 == (0, 41)
    cv2.line(expected, (10, 20), e0, 1.0, 7)
    e1 = end(50, 5, 10, 0.01)
    cv2.line(expected, (50, 5), e1, 1.0, 5)
    e2 = end(*e1, 25, 3.01)
    cv2.line(expected, e1, e2, 1.0, 9)
    np.testing.assert_array_equal(got, expected)


def test_boxes_follow_the_official_draws():
    rng = ScriptedRng([2, 40, 31, 12, 10, 30, 150, 100, 20])
    got = lama_box_mask(rng, 200, 300, margin=10, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=4)
    # sides in [30, 150] (randint high = min(150 + 1, H - 2 margin, W - 2 margin)); origin inside the margin
    assert rng.calls == [(1, 5), (30, 151), (30, 151), (10, 300 - 10 - 40 + 1), (10, 200 - 10 - 31 + 1),
                         (30, 151), (30, 151), (10, 300 - 10 - 30 + 1), (10, 200 - 10 - 150 + 1)]
    expected = np.zeros((200, 300), np.float32)
    expected[10:10 + 31, 12:12 + 40] = 1
    expected[20:20 + 150, 100:100 + 30] = 1
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match='no room for boxes'):
        lama_box_mask(np.random.default_rng(0), 40, 40, margin=10, bbox_min_size=30)


def test_mixture_probabilities_are_normalised():
    rng = ScriptedRng([1, 0])   # choice -> boxes, then zero boxes
    m = lama_mixed_mask(rng, 64, 64, irregular_proba=1, irregular_kwargs={}, box_proba=0.3,
                        box_kwargs=dict(margin=0, bbox_min_size=10, bbox_max_size=20, min_times=0, max_times=1))
    assert rng.calls[0] == ('choice', 2, (round(1 / 1.3, 6), round(0.3 / 1.3, 6)))
    assert rng.calls[1] == (0, 2) and not m.any()
    with pytest.raises(ValueError, match='both 0'):
        lama_mixed_mask(np.random.default_rng(0), 8, 8, irregular_proba=0, box_proba=0)


def test_transform_convention_seeding_and_size():
    img = np.zeros((96, 128, 3), np.float32)
    t = TRANSFORMS.build(dict(type='GenerateLaMaMask', variant='medium_256', seed=3))
    a = t(dict(gt=img, key='x'))['mask']
    assert a.shape == (96, 128, 1) and a.dtype == np.float32
    assert set(np.unique(a)) <= {0.0, 1.0} and 0 < a.mean() < 1   # 1 = known
    np.testing.assert_array_equal(a, t(dict(gt=img, key='x'))['mask'])
    assert not np.array_equal(a, t(dict(gt=img, key='y'))['mask'])
    free = TRANSFORMS.build(dict(type='GenerateLaMaMask', size=(64, 80)))
    torch.manual_seed(0)
    m1 = free(dict())['mask']
    torch.manual_seed(0)
    np.testing.assert_array_equal(m1, free(dict())['mask'])   # training masks follow torch's seed
    assert m1.shape == (64, 80, 1)
    with pytest.raises(ValueError, match="unknown LaMa mask variant 'huge'"):
        TRANSFORMS.build(dict(type='GenerateLaMaMask', variant='huge'))
    with pytest.raises(ValueError, match=r"unknown irregular_kwargs \['width'\]"):
        TRANSFORMS.build(dict(type='GenerateLaMaMask', irregular_kwargs=dict(width=3)))
    with pytest.raises(KeyError, match="no 'gt' image"):
        TRANSFORMS.build(dict(type='GenerateLaMaMask'))(dict())


def test_evaluation_variants_reject_masks_above_half_the_image():
    t = TRANSFORMS.build(dict(type='GenerateLaMaMask', variant='thick_256', size=256))
    rng = np.random.default_rng(5)
    ratios = [t.draw(rng, 256, 256).mean() for _ in range(200)]
    assert max(ratios) <= 0.5
    plain = TRANSFORMS.build(dict(type='GenerateLaMaMask', variant='thick_256', variants_n=1, max_tamper_area=1))
    assert max(plain.draw(rng, 256, 256).mean() for _ in range(200)) > 0.5


# Hole ratios of the OFFICIAL generators, measured with advimman/lama@786f5936
# (MixedMaskGenerator with the yaml settings; for the evaluation variants the selection of
# bin/gen_mask_dataset.py on square images: 5 variants, square crop, hole ratio <= 0.5, one kept);
# 2,000 masks each, global np.random seeded 0: (mean, std).
OFFICIAL_HOLE_RATIO = {
    ('train', 256): (0.3564, 0.2046),
    ('thin_256', 256): (0.2915, 0.1285),
    ('medium_256', 256): (0.2377, 0.1296),
    ('thick_256', 256): (0.2692, 0.1338),
    ('thin_512', 512): (0.2895, 0.1315),
    ('medium_512', 512): (0.2742, 0.1426),
    ('thick_512', 512): (0.2650, 0.1335),
}

# fewer draws for the slow variants (many strokes, 512 px): about 1-2 s each
N_DRAWS = {('thin_512', 512): 60, ('thin_256', 256): 100, ('medium_512', 512): 100, ('thick_512', 512): 100}


@pytest.mark.parametrize('variant,size', sorted(OFFICIAL_HOLE_RATIO))
def test_hole_ratio_statistics_match_lama(variant, size):
    mean, std = OFFICIAL_HOLE_RATIO[(variant, size)]
    n = N_DRAWS.get((variant, size), 250)
    t = TRANSFORMS.build(dict(type='GenerateLaMaMask', variant=variant))
    rng = np.random.default_rng(2024)
    r = np.array([t.draw(rng, size, size).mean() for _ in range(n)])
    tol = 4 * std / np.sqrt(n)   # 4 standard errors of the mean
    assert abs(r.mean() - mean) <= tol, f'{variant}: mean hole ratio {r.mean():.4f} vs official {mean}'
    assert abs(r.std() - std) <= 0.25 * std


def test_variants_table_matches_the_official_yaml():
    # configs/training/data/abl-04-256-mh-dist.yaml (big-lama / lama-fourier training masks)
    assert LAMA_MASK_VARIANTS['train'] == dict(
        irregular_proba=1, irregular_kwargs=dict(max_angle=4, max_len=200, max_width=100, min_times=1, max_times=5),
        box_proba=1, box_kwargs=dict(margin=10, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=4))
    # configs/data_gen/random_thick_512.yaml
    assert LAMA_MASK_VARIANTS['thick_512'] == dict(
        irregular_proba=1, irregular_kwargs=dict(max_angle=4, max_len=450, max_width=250, min_times=1, max_times=5),
        box_proba=0.3, box_kwargs=dict(margin=10, bbox_min_size=30, bbox_max_size=300, min_times=1, max_times=4),
        variants_n=5, max_tamper_area=0.5)


def test_lama_mask_sets_are_the_generators_masks(tmp_path):
    from irkit.datasets.mask_sets import generate_mask_set, mask_rng
    manifest = generate_mask_set('lama_medium', str(tmp_path / 'set'), count=3, size=256)
    for i, f in enumerate(manifest['files']):
        hole = TRANSFORMS.build(dict(type='GenerateLaMaMask', variant='medium_256')).draw(
            mask_rng(0, 'lama_medium', i), 256, 256)
        png = cv2.imread(str(tmp_path / 'set' / f['file']), cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(png == 255, hole == 1)   # white = hole
    with pytest.raises(ValueError, match='256 and 512'):
        generate_mask_set('lama_thick', str(tmp_path / 'odd'), count=1, size=384)
