"""tools/dist_train.sh configs/mat_places.py 2 with a tiny MAT on CPU: trains, checkpoints, resumes.

Slow on a loaded machine (two processes, several MAT iterations at 128 px)."""
import os
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, TINY_MAT, free_port, run_tool


@pytest.mark.slow
def test_tiny_mat_dist_train_and_resume(tmp_path):
    import cv2
    data = tmp_path / 'places' / 'data_large'
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(data / f'{i:03d}.png'), rng.integers(0, 256, (120 + 10 * i, 150, 3), dtype=np.uint8))
    work = tmp_path / 'work'
    common = ['bash', os.path.join(ROOT, 'tools/dist_train.sh'), 'configs/mat_places.py', '2',
              '--work-dir', str(work), '--cfg-options', f'train_dataloader.dataset.data_root={data}'] + TINY_MAT
    run_tool(common + ['train_cfg.max_iters=2'], env={'PORT': free_port()}, timeout=3000)
    assert (work / 'iter_2.pth').is_file()
    from irkit.fileio.checkpoint import safe_load
    sd = safe_load(work / 'iter_2.pth')['state_dict']
    assert any(k.startswith('generator_ema.') for k in sd) and any(k.startswith('discriminator.') for k in sd)
    proc = run_tool(common + ['train_cfg.max_iters=3', '--resume', 'auto'], env={'PORT': free_port()}, timeout=3000)
    assert (work / 'iter_3.pth').is_file()
    assert 'Advance dataloader 2 steps' in proc.stdout + proc.stderr or 'resumed' in (proc.stdout + proc.stderr).lower()


def test_places_without_data_stops_at_once(tmp_path):
    """No dataset: the run stops before training with the expected Places layout."""
    proc = run_tool([sys.executable, os.path.join(ROOT, 'tools/train.py'), 'configs/mat_places.py',
                     '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                     f'train_dataloader.dataset.data_root={tmp_path}/no_places/data_large'] + TINY_MAT[:10],
                    check=False, timeout=1500)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert 'Places365-Standard' in out and 'data_large/' in out and 'masks_val_512_large/' in out
