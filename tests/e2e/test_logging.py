"""What a training run leaves to look at: validation scalars at their iteration (scalars.json
and TensorBoard), sample grids in TensorBoard, a concise console, tools/plot_logs.py."""
import glob
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, TINY_DEMO, run_tool

DEMO = 'configs/demo_denoise.py'
# 4 iterations, validation after 2 and 4
OPTS = ['--cfg-options', *TINY_DEMO, 'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
        'param_scheduler.0.T_max=4', 'default_hooks.checkpoint.interval=4']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp('logging') / 'wd'
    proc = run_tool([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(wd), *OPTS])
    return wd, proc.stdout + proc.stderr


def _records(wd):
    (path,) = glob.glob(str(wd / '*' / 'vis_data' / 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_validation_scalars_carry_their_iteration(run):
    wd, _ = run
    recs = _records(wd)
    val = [r for r in recs if 'PSNR' in r]
    assert [r['step'] for r in val] == [2, 4]
    assert [r['step'] for r in recs if 'loss' in r] == [1, 2, 3, 4]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    (vis_data,) = glob.glob(str(wd / '*' / 'vis_data'))
    ea = EventAccumulator(vis_data, size_guidance={'images': 0, 'scalars': 0})
    ea.Reload()
    tb = ea.Scalars('PSNR')
    assert [e.step for e in tb] == [2, 4]
    np.testing.assert_allclose([e.value for e in tb], [r['PSNR'] for r in val], rtol=1e-6)


def test_sample_grids_reach_tensorboard(run):
    wd, _ = run
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    (vis_data,) = glob.glob(str(wd / '*' / 'vis_data'))
    ea = EventAccumulator(vis_data, size_guidance={'images': 0, 'scalars': 0})
    ea.Reload()
    tags = sorted(ea.Tags()['images'])
    assert tags == ['val/chelsea', 'val/coffee']  # the two validation images of data/demo/test
    for tag in tags:
        events = ea.Images(tag)
        assert [e.step for e in events] == [2, 4]
        for e in events:
            # the TensorBoard image is the grid the hook wrote to vis/iter_N/ (RGB vs BGR)
            tb = cv2.imdecode(np.frombuffer(e.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
            disk = cv2.imread(str(wd / 'vis' / f'iter_{e.step}' / f'{tag[4:]}.png'))
            assert tb is not None and disk is not None
            np.testing.assert_array_equal(tb, disk)
    # the local backend does not repeat the hook's vis/ folder
    assert not glob.glob(str(wd / '*' / 'vis_data' / 'vis_image'))


def test_console_is_concise_and_the_log_file_complete(run, tmp_path):
    wd, out = run
    before_first_iter = out[:out.index('Iter(train) [1/4]')].splitlines()
    assert len(before_first_iter) <= 8, '\n'.join(before_first_iter)
    for detail in ('System environment', 'Config:', 'Hooks will be executed', 'UserWarning'):
        assert detail not in out, detail
    (log,) = glob.glob(str(wd / '*' / '*.log'))
    text = open(log).read()
    assert log in out  # the summary line names the log file
    for detail in ('System environment', 'Config:', 'Hooks will be executed'):
        assert detail in text, detail

    proc = run_tool([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(tmp_path), '--verbose',
                     '--cfg-options', *TINY_DEMO, 'train_cfg.max_iters=1', 'train_cfg.val_interval=10'])
    loud = proc.stdout + proc.stderr
    for detail in ('System environment', 'Config:', 'Hooks will be executed'):
        assert detail in loud, detail


def _plot_logs(*args, check=True):
    return run_tool([sys.executable, 'tools/plot_logs.py', *map(str, args)], check=check)


def test_plot_logs_draws_losses_and_metrics(run, tmp_path):
    wd, _ = run
    proc = _plot_logs(wd)
    assert 'loss' in proc.stdout and 'PSNR' in proc.stdout
    img = cv2.imread(str(wd / 'plot.png'))
    assert img is not None and img.shape[0] > 200 and img.std() > 5  # drawn, not blank
    out = tmp_path / 'lr.png'
    _plot_logs(wd, '--keys', 'lr', 'SSIM', '--out', out)
    assert cv2.imread(str(out)) is not None
    bad = _plot_logs(wd, '--keys', 'PNSR', check=False)
    assert bad.returncode == 1 and "'PNSR' was never logged" in bad.stderr and 'PSNR' in bad.stderr
    missing = _plot_logs(tmp_path / 'nowhere', check=False)
    assert missing.returncode == 1 and 'work dir not found' in missing.stderr


def test_plot_logs_without_matplotlib_says_what_to_install(run):
    wd, _ = run
    code = ('import sys; sys.modules["matplotlib"] = None; sys.argv = ["plot_logs.py", sys.argv[1]]; '
            'import runpy; runpy.run_path("tools/plot_logs.py", run_name="__main__")')
    proc = subprocess.run([sys.executable, '-c', code, str(wd)], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 1 and 'needs matplotlib' in proc.stderr and ".[dev]" in proc.stderr
