"""configs/comodgan_places.py through tools/train.py + tools/test.py on tiny generated data (the recipe
and one training iteration checked by hand: tests/models/test_comodgan_recipe.py)."""
import json
import sys

import cv2
import numpy as np
import pytest

from irkit.datasets.transforms.masks import mat_random_mask
from tests.helpers import run_tool
from tests.models.test_comodgan_recipe import CONFIG, TINY_NETS


def _write_images(folder, n, size, seed):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = cv2.resize(rng.random((4, 5, 3)).astype(np.float32), (size[1], size[0]))
        cv2.imwrite(str(folder / f'{i:03d}.png'), np.round(img * 255).astype(np.uint8))


@pytest.mark.slow
def test_tiny_recipe_trains_and_scores(tmp_path):
    data = tmp_path / 'places365'
    _write_images(data / 'data_large' / 'a' / 'abbey', 4, (40, 48), seed=0)
    _write_images(data / 'val_large', 4, (40, 48), seed=1)
    (data / 'masks').mkdir()
    rng = np.random.default_rng(3)
    for i in range(4):  # MAT's evaluation masks are white = known, at the crop size
        known = mat_random_mask(32, variant='comodgan', rng=rng)
        cv2.imwrite(str(data / 'masks' / f'{i:03d}.png'), (known * 255).astype(np.uint8))
    tiny = [f'{k}={v}' for k, v in TINY_NETS.items()]
    work = tmp_path / 'work'
    run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work), '--cfg-options',
              f'train_dataloader.dataset.data_root={data}/data_large', 'train_dataloader.batch_size=2',
              'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'train_dataloader.dataset.pipeline.1.crop_size=32',
              'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None', 'train_cfg.max_iters=2',
              'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.save_best=None',
              'default_hooks.logger.interval=1'] + tiny, timeout=1500)
    assert (work / 'iter_2.pth').is_file()
    out, saved = tmp_path / 'metrics.json', tmp_path / 'pred'
    run_tool([sys.executable, 'tools/test.py', CONFIG, str(work / 'iter_2.pth'), '--work-dir', str(work),
              '--out', str(out), '--save-images', str(saved), '--cfg-options', f'test_dataloader.dataset.data_root={data}/val_large',
              f'test_dataloader.dataset.mask_root={data}/masks', 'test_dataloader.batch_size=2',
              'test_dataloader.num_workers=0', 'test_dataloader.dataset.pipeline.1.crop_size=32',
              'test_evaluator.0.inception_path=False'] + tiny, timeout=1500)
    metrics = json.loads(out.read_text())['metrics']  # (random-weight Inception: values not meaningful)
    assert set(metrics) == {'FID', 'P-IDS', 'U-IDS'}, metrics
    assert np.isfinite(metrics['FID']) and 0 <= metrics['P-IDS'] <= 1 and 0 <= metrics['U-IDS'] <= 1
    # the scored images: 32 px centre crops, inpainted in the holes, the input's pixels elsewhere
    for i in range(4):
        pred = cv2.imread(str(saved / f'{i:03d}.png')).astype(int)
        crop = cv2.imread(str(data / 'val_large' / f'{i:03d}.png'))[4:36, 8:40].astype(int)
        known = cv2.imread(str(data / 'masks' / f'{i:03d}.png'), cv2.IMREAD_GRAYSCALE) > 127
        assert pred.shape == crop.shape == (32, 32, 3)
        assert np.array_equal(pred[known], crop[known])
        assert np.abs(pred[~known] - crop[~known]).max() > 0
