import cv2
import numpy as np
import pytest
import torch

from irkit.registry import DATASETS, TRANSFORMS


def _w(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def test_crop_to_multiple_matches_promptir_crop_img():
    img = np.arange(37 * 53 * 3, dtype=np.float32).reshape(37, 53, 3)
    out = TRANSFORMS.build(dict(type='CropToMultiple', keys=['gt'], multiple=16))({'gt': img.copy()})['gt']
    # hand-computed: 37 % 16 = 5 -> rows 2..34, 53 % 16 = 5 -> cols 2..50
    assert out.shape == (32, 48, 3)
    assert np.array_equal(out, img[2:34, 2:50])


def test_dual_pixel_dataset_stacks_views(tmp_path):
    rng = np.random.default_rng(0)
    for name in ('s1', 's2'):
        _w(tmp_path / 'target' / f'{name}.png', (rng.random((16, 24, 3)) * 65535).astype(np.uint16))
        _w(tmp_path / 'inputL' / f'{name}.png', (rng.random((16, 24, 3)) * 65535).astype(np.uint16))
        _w(tmp_path / 'inputR' / f'{name}.png', (rng.random((16, 24, 3)) * 65535).astype(np.uint16))
    ds = DATASETS.build(dict(type='DualPixelDataset', gt_root=str(tmp_path / 'target'),
                             lq_l_root=str(tmp_path / 'inputL'), lq_r_root=str(tmp_path / 'inputR')))
    s = ds[1]
    assert s['key'] == 's2' and s['lq'].shape == (6, 16, 24) and s['gt'].shape == (3, 16, 24)
    left = cv2.imread(str(tmp_path / 'inputL' / 's2.png'), cv2.IMREAD_UNCHANGED)[..., ::-1] / 65535.0
    right = cv2.imread(str(tmp_path / 'inputR' / 's2.png'), cv2.IMREAD_UNCHANGED)[..., ::-1] / 65535.0
    assert torch.allclose(s['lq'][:3], torch.from_numpy(left.transpose(2, 0, 1).copy()).float(), atol=1e-6)
    assert torch.allclose(s['lq'][3:], torch.from_numpy(right.transpose(2, 0, 1).copy()).float(), atol=1e-6)
    (tmp_path / 'inputR' / 's1.png').unlink()
    with pytest.raises(ValueError, match='s1'):
        DATASETS.build(dict(type='DualPixelDataset', gt_root=str(tmp_path / 'target'),
                            lq_l_root=str(tmp_path / 'inputL'), lq_r_root=str(tmp_path / 'inputR')))
