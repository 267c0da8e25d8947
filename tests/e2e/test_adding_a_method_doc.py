"""docs/adding_an_inpainting_method.md works as written: its code blocks are a new method.

The page's blocks (arch file, config, metafile) are written into a temporary package and config
folder (the arch as a plugin imported through ``custom_imports`` instead of editing irkit/archs),
then the tools train, test, inpaint and convert with them on generated images.
"""
import os
import sys

import cv2
import numpy as np
import pytest
import torch

from tests.helpers import ROOT, run_tool
from tests.test_docs import blocks


@pytest.mark.slow
def test_the_worked_example_trains_tests_inpaints_and_converts(tmp_path):
    b = blocks()
    pkg = tmp_path / 'plugins'
    pkg.mkdir()
    (pkg / 'tinyfill.py').write_text(b['irkit/archs/tinyfill.py'])
    cfg_dir = tmp_path / 'configs'
    (cfg_dir / '_base_').mkdir(parents=True)
    (cfg_dir / '_base_' / 'default_runtime.py').write_text(
        open(os.path.join(ROOT, 'configs', '_base_', 'default_runtime.py')).read())
    cfg = cfg_dir / 'tinyfill_places.py'
    cfg.write_text(b['configs/tinyfill_places.py']
                   + "\ncustom_imports = dict(imports=['tinyfill'], allow_failed_imports=False)\n")
    rng = np.random.default_rng(0)
    for split in ('data_large', 'val_large'):
        d = tmp_path / 'places365' / split
        d.mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(d / f'{i}.png'), rng.integers(0, 256, (40, 44, 3), dtype=np.uint8))
    opts = [f'train_dataloader.dataset.data_root={tmp_path}/places365/data_large',
            f'val_dataloader.dataset.data_root={tmp_path}/places365/val_large',
            f'test_dataloader.dataset.data_root={tmp_path}/places365/val_large',
            'train_dataloader.dataset.pipeline.1.crop_size=32', 'val_dataloader.dataset.pipeline.1.crop_size=32',
            'test_dataloader.dataset.pipeline.1.crop_size=32', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
            'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
            'default_hooks.logger.interval=1']
    env = {'PYTHONPATH': os.pathsep.join([ROOT, str(pkg)])}
    work = tmp_path / 'work'
    run_tool([sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work), '--cfg-options', *opts],
             env=env, timeout=600)
    assert (work / 'iter_2.pth').is_file()
    proc = run_tool([sys.executable, 'tools/test.py', str(cfg), str(work), '--work-dir', str(work),
                     '--cfg-options', *opts], env=env, timeout=600)
    assert 'PSNR' in proc.stdout and 'MAE' in proc.stdout
    img = rng.integers(0, 256, (30, 37, 3), dtype=np.uint8)   # any size (pad_multiple 4)
    mask = np.zeros((30, 37), np.uint8)
    mask[5:20, 8:25] = 255
    cv2.imwrite(str(tmp_path / 'photo.png'), img)
    cv2.imwrite(str(tmp_path / 'holes.png'), mask)
    run_tool([sys.executable, 'tools/inpaint.py', str(cfg), str(work / 'iter_2.pth'), '--img',
              str(tmp_path / 'photo.png'), '--mask', str(tmp_path / 'holes.png'), '--out',
              str(tmp_path / 'filled.png')], env=env, timeout=600)
    out = cv2.imread(str(tmp_path / 'filled.png'))
    assert out.shape == img.shape and np.array_equal(out[mask == 0], img[mask == 0])
    # a released file in the declared official layout converts and verifies strictly
    sys.path.insert(0, str(pkg))
    try:
        from irkit.registry import ARCHS
        import tinyfill  # noqa: F401  (registers the arch and the format)
        g = ARCHS.build(dict(type='TinyFillGenerator', width=16))
        torch.save({'netG': g.state_dict(), 'epoch': 3}, tmp_path / 'tinyfill.pth')
        from irkit.fileio.weights import convert_checkpoint
        s = convert_checkpoint(tmp_path / 'tinyfill.pth', tmp_path / 'converted.pth', 'tinyfill', str(cfg))
        assert s['verified'] and s['target'] == 'generator' and s['tensors'] == len(g.state_dict())
    finally:
        sys.path.remove(str(pkg))
