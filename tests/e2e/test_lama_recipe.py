"""LaMa configs through tools/train.py + tools/test.py on tiny data (the recipe and one training
iteration checked loss by loss: tests/models/test_lama_recipe.py)."""
import json
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, run_tool


def _write(path, h, w, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.random((5, 6, 3)).astype(np.float32), (w, h))
    assert cv2.imwrite(str(path), np.round(img * 255).astype(np.uint8))


TRAIN_OPTS = ['model.generator.ngf=8', 'model.generator.n_blocks=1', 'model.discriminator.ndf=8',
              'model.discriminator.n_layers=2', 'model.losses.1.pretrained=False',
              'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
              'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
              'test_dataloader.num_workers=0', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
              'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']


@pytest.mark.slow
@pytest.mark.parametrize('name', ['lama_places', 'lama_celebahq'])
def test_train_and_test_tools_end_to_end(tmp_path, name):
    data = tmp_path / 'data'
    if name == 'lama_places':   # the layouts of docs/methods/lama.md, images > the 64 px crops
        _write(data / 'places365_challenge/data_large/a/airfield/00000001.jpg', 72, 88, 0)
        _write(data / 'places365_challenge/data_large/b/bakery/00000002.jpg', 80, 64, 1)
        for i in range(2):
            _write(data / f'places365/val_large/Places365_val_{i + 1:08d}.jpg', 72, 88, 10 + i)
        opts = [f'train_dataloader.dataset.data_root={data}/places365_challenge/data_large',
                f'val_dataloader.dataset.data_root={data}/places365/val_large',
                f'test_dataloader.dataset.data_root={data}/places365/val_large',
                'train_dataloader.dataset.pipeline.1.crop_size=64',
                'val_dataloader.dataset.pipeline.1.crop_size=64', 'test_dataloader.dataset.pipeline.1.crop_size=64',
                'val_dataloader.dataset.pipeline.2.variant=thick_256',
                'test_dataloader.dataset.pipeline.2.variant=thick_256']
    else:
        for split, n in (('train_256', 2), ('val_source_256', 2), ('visual_test_source_256', 2)):
            for i in range(n):
                _write(data / f'celeba-hq-lama/{split}/{i}.jpg', 64, 64, 20 + i)
        opts = [f'{loader}.dataset.data_root={data}/celeba-hq-lama/{split}' for loader, split in
                (('train_dataloader', 'train_256'), ('val_dataloader', 'val_source_256'),
                 ('test_dataloader', 'visual_test_source_256'))]
    # FID and LPIPS need Inception / VGG weight files: score SSIM, PSNR and the hole-only MAE instead
    cfg = tmp_path / f'{name}_tiny.py'
    cfg.write_text(f"_base_ = ['{ROOT}/configs/{name}.py']\n"
                   "val_evaluator = [dict(type='SSIM'), dict(type='PSNR'), dict(type='MAE', mask_region='hole')]\n"
                   'test_evaluator = val_evaluator\n'
                   "default_hooks = dict(checkpoint=dict(save_best='SSIM', rule='greater'))\n")
    work = tmp_path / 'work'
    run_tool([sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work),
              '--cfg-options', *TRAIN_OPTS, *opts], timeout=900)
    out = tmp_path / 'metrics.json'
    proc = run_tool([sys.executable, 'tools/test.py', str(cfg), str(work), '--out', str(out),
                     '--cfg-options', *TRAIN_OPTS, *opts], timeout=600)
    metrics = json.loads(out.read_text())['metrics']
    assert {'SSIM', 'PSNR', 'MAE'} <= set(metrics) and all(np.isfinite(metrics[k]) for k in ('SSIM', 'PSNR', 'MAE'))
    assert 'SSIM' in proc.stdout
