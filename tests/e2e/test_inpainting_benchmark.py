"""The inpainting benchmark end to end: two methods, the same masks, twice, identical numbers."""
import json
import os
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, run_tool

TINY_MAT = ['model.generator.z_dim=32', 'model.generator.w_dim=32', 'model.generator.img_resolution=128',
            'model.generator.stage1_dim=12', 'model.generator.channel_table=[16,32,32,32,32,32]',
            'model.discriminator.img_resolution=128', 'model.discriminator.channel_table=[16,32,32,32,32,32]']


@pytest.mark.slow
def test_two_methods_twice_same_numbers_table_plot_grid(tmp_path):
    rng = np.random.default_rng(0)
    imgs = tmp_path / 'images'
    imgs.mkdir()
    for i in range(3):
        cv2.imwrite(str(imgs / f'{i:02d}.png'), rng.integers(0, 256, (70 + 5 * i, 90, 3), dtype=np.uint8))
    run_tool([sys.executable, 'tools/make_mask_sets.py', str(tmp_path / 'masks'), '--sets', 'mat_large',
              'ratio_10_20', '--count', '3', '--size', '64'])
    outs = []
    for run in ('a', 'b'):
        args = [sys.executable, 'tools/inpainting_benchmark.py', '--images', str(imgs), '--mask-sets',
                str(tmp_path / 'masks' / 'mat_large'), str(tmp_path / 'masks' / 'ratio_10_20'),
                '--model', 'aotgan=configs/aotgan_places.py', '--model', 'mat=configs/mat_places.py',
                '--cfg-options', 'aotgan:model.generator.block_num=1', *[f'mat:{o}' for o in TINY_MAT],
                '--metrics', 'PSNR', 'SSIM', 'L1_hole', '--grid', '2', '--out', str(tmp_path / run)]
        proc = run_tool(args, timeout=1500)
        outs.append(json.loads((tmp_path / run / 'results.json').read_text()))
    a, b = outs
    assert a['scores'] == b['scores']                     # deterministic
    assert set(a['scores']) == {'aotgan', 'mat'} and set(a['scores']['mat']) == {'mat_large', 'ratio_10_20'}
    s = a['scores']['aotgan']['ratio_10_20']
    assert {'PSNR', 'SSIM', 'MAE', 'PSNR@10-20%', 'count@10-20%'} <= set(s) and s['count@10-20%'] == 3
    assert a['mask_sets']['mat_large']['sha256'] == json.loads(
        (tmp_path / 'masks' / 'mat_large' / 'manifest.json').read_text())['sha256']
    assert a['models']['mat']['checkpoint'] == 'random init (seed 0)'
    table = (tmp_path / 'a' / 'table.md').read_text()
    assert '| aotgan | random init (seed 0) | mat_large |' in table and 'PSNR by hole ratio' in table
    assert table.startswith('| model | checkpoint | mask set | MAE (hole) | PSNR | SSIM |')
    assert 'random init' in proc.stdout
    grid = cv2.imread(str(tmp_path / 'a' / 'grid.png'))
    assert grid.shape == (2 * 64, 4 * 64, 3)               # input | aotgan | mat | ground truth
    assert (tmp_path / 'a' / 'plot.png').is_file() and (tmp_path / 'a' / 'results.csv').is_file()
    assert os.path.isfile(os.path.join(ROOT, 'tools', 'make_mask_sets.py'))
