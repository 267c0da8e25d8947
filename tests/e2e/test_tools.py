"""End-to-end: tools/train.py, tools/test.py, resume, tools/dist_train.sh (2 CPU processes, gloo)."""
import json
import os
import sys

import torch

from irkit.fileio.checkpoint import safe_load
from tests.helpers import TINY_DEMO, free_port, run_tool

DEMO = 'configs/demo_denoise.py'


def _opts(*extra):
    return ['--cfg-options', *TINY_DEMO, *extra]


def test_train_then_test_then_resume(tmp_path):
    wd = tmp_path / 'wd'
    run_tool([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(wd), *_opts()])
    assert (wd / 'iter_1.pth').is_file() and (wd / 'iter_2.pth').is_file()
    assert not [p for p in os.listdir(wd) if p.endswith('.tmp') or '.tmp' in p]
    ck = safe_load(wd / 'iter_2.pth')  # weights_only loads irkit checkpoints
    assert ck['meta']['iter'] == 2 and 'rng_state' in ck
    assert any(d.startswith('iter_') for d in os.listdir(wd / 'vis'))  # input|output|gt grids

    out = tmp_path / 'metrics.json'
    proc = run_tool([sys.executable, 'tools/test.py', DEMO, str(wd), '--out', str(out),
                     '--save-images', str(tmp_path / 'imgs'), *_opts()])
    metrics = json.loads(out.read_text())['metrics']
    assert set(metrics) >= {'PSNR', 'SSIM', 'noisy/PSNR', 'noisy/SSIM'}
    assert 15 < metrics['noisy/PSNR'] < 25  # sigma = 25 on [0,255] gives about 20.2 dB
    assert 'PSNR' in proc.stdout
    assert sorted(os.listdir(tmp_path / 'imgs')) == ['chelsea.png', 'coffee.png', 'side_by_side']

    # resume from iter_1 and train to 3: continues at iteration 2
    proc = run_tool([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(wd), '--resume', 'auto',
                     *_opts('train_cfg.max_iters=3', 'train_cfg.val_interval=3')])
    assert 'Iter(train) [3/3]' in proc.stdout + proc.stderr
    assert safe_load(wd / 'iter_3.pth')['meta']['iter'] == 3


def test_amp_on_cpu_uses_bf16_autocast(tmp_path):
    proc = run_tool([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(tmp_path), '--amp',
                     *_opts('train_cfg.max_iters=1', 'train_cfg.val_interval=100')])
    cfg_text = (tmp_path / 'demo_denoise.py').read_text()
    assert 'CPUAmpOptimWrapper' in cfg_text
    assert 'Iter(train) [1/1]' in proc.stdout + proc.stderr


def test_dist_train_two_cpu_processes(tmp_path):
    env = {'PORT': free_port()}
    proc = run_tool(['bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir', str(tmp_path), *_opts()],
                    env=env, timeout=600)
    log = proc.stdout + proc.stderr
    assert '| 2 processes on' in log  # the run summary line (irkit.engine.console)
    assert (tmp_path / 'iter_2.pth').is_file()
    sd = safe_load(tmp_path / 'iter_2.pth')['state_dict']
    assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())
