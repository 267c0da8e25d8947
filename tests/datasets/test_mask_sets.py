"""Fixed evaluation mask sets: deterministic, the published generator's masks, verified by manifest."""
import json

import cv2
import numpy as np
import pytest

from irkit.datasets.mask_sets import MASK_SETS, generate_mask_set, mask_rng, verify_mask_set
from irkit.datasets.transforms.masks import mat_random_mask


def test_two_generations_are_identical_and_are_the_generators_masks(tmp_path):
    a = generate_mask_set('mat_large', str(tmp_path / 'a'), count=3, size=64, seed=7)
    b = generate_mask_set('mat_large', str(tmp_path / 'b'), count=3, size=64, seed=7)
    assert a['sha256'] == b['sha256'] and [f['sha256'] for f in a['files']] == [f['sha256'] for f in b['files']]
    for i, f in enumerate(a['files']):
        img = cv2.imread(str(tmp_path / 'a' / f['file']), cv2.IMREAD_UNCHANGED)
        known = mat_random_mask(64, 64, 'large', (0.0, 1.0), mask_rng(7, 'mat_large', i))
        assert np.array_equal(img == 255, known == 0)          # white = hole
        assert f['hole_ratio'] == pytest.approx(float((known == 0).mean()), abs=1e-6)
    c = generate_mask_set('mat_large', str(tmp_path / 'c'), count=3, size=64, seed=8)
    assert c['sha256'] != a['sha256']
    # mask i does not depend on how many are drawn
    d = generate_mask_set('mat_large', str(tmp_path / 'd'), count=5, size=64, seed=7)
    assert [f['sha256'] for f in d['files'][:3]] == [f['sha256'] for f in a['files']]


def test_ratio_sets_stay_in_their_bin_and_manifest_checks_catch_changes(tmp_path):
    m = generate_mask_set('ratio_20_30', str(tmp_path / 'r'), count=4, size=64)
    assert all(0.2 < f['hole_ratio'] < 0.3 for f in m['files'])
    assert json.loads((tmp_path / 'r' / 'manifest.json').read_text())['params']['hole_range'] == [0.2, 0.3]
    assert verify_mask_set(str(tmp_path / 'r'))['sha256'] == m['sha256']
    cv2.imwrite(str(tmp_path / 'r' / '000001.png'), np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match='000001.png differs'):
        verify_mask_set(str(tmp_path / 'r'))
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_mask_set('ratio_20_30', str(tmp_path / 'r'), count=1, size=64)
    with pytest.raises(KeyError, match="did you mean 'mat_large'"):
        generate_mask_set('mat_larg', str(tmp_path / 'x'))
    assert {f'ratio_{lo:02d}_{lo + 10:02d}' for lo in range(0, 60, 10)} <= set(MASK_SETS)


def test_every_ratio_bin_is_the_large_generators_first_draw_inside_the_bin(tmp_path):
    """Rejection from MAT's full large-mask distribution; the lowest bin too (MAT's own
    hole_range scaling leaves no hole at all there)."""
    for lo in range(0, 60, 10):
        name = f'ratio_{lo:02d}_{lo + 10:02d}'
        m = generate_mask_set(name, str(tmp_path / name), count=2, size=64, seed=3)
        for i, f in enumerate(m['files']):
            rng = mask_rng(3, name, i)
            while True:  # independent re-draw: the first large mask whose hole ratio is in the bin
                known = mat_random_mask(64, 64, 'large', (0.0, 1.0), rng)
                if lo / 100 < (known == 0).mean() < (lo + 10) / 100:
                    break
            img = cv2.imread(str(tmp_path / name / f['file']), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(img == 255, known == 0), (name, i)
            assert lo / 100 < f['hole_ratio'] < (lo + 10) / 100


def test_a_mask_folder_stating_its_convention_refuses_the_wrong_polarity(tmp_path):
    from irkit.registry import DATASETS
    generate_mask_set('mat_small', str(tmp_path / 'masks'), count=2, size=32)
    imgs = tmp_path / 'imgs'
    imgs.mkdir()
    for i in range(2):
        cv2.imwrite(str(imgs / f'{i}.png'), np.zeros((32, 32, 3), np.uint8))
    ok = DATASETS.build(dict(type='InpaintingDataset', data_root=str(imgs), mask_root=str(tmp_path / 'masks'),
                             mask_match='index'))
    hole = ok[0]['mask'][0] == 0
    first = cv2.imread(str(tmp_path / 'masks' / '000000.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(hole.numpy(), first == 255)
    with pytest.raises(ValueError, match="says 'white = hole.*white_is_hole=False"):
        DATASETS.build(dict(type='InpaintingDataset', data_root=str(imgs), mask_root=str(tmp_path / 'masks'),
                            mask_match='index', mask_white_is_hole=False))
