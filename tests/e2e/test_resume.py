"""Crash and resume: SIGKILL at a random iteration, --resume auto, bit-exact continuation."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from irkit.fileio.checkpoint import latest_checkpoint, safe_load
from tests.helpers import ROOT, run_tool
from tests.e2e._cfg import write_cfg

ITERS = 8


def _losses(wd):
    rec = {}
    with open(os.path.join(wd, 'losses_rank0.json')) as f:
        rec.update(json.load(f))
    return {int(k): v for k, v in rec.items()}


def _train_cmd(cfg, wd, *extra):
    return [sys.executable, 'tools/train.py', cfg, '--work-dir', str(wd), *extra]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')


@pytest.mark.parametrize('workers', [0, 2])
def test_sigkill_then_resume_is_bit_exact(tmp_path, workers):
    cfg = write_cfg(tmp_path / 'plain.py', "[dict(type='LossRecorderHook')]", ITERS, workers)
    slow_cfg = write_cfg(tmp_path / 'slow.py', "[dict(type='LossRecorderHook'), "
                         "dict(type='SlowIterHook', seconds=0.4)]", ITERS, workers)
    ref = tmp_path / 'ref'
    run_tool(_train_cmd(cfg, ref))

    run = tmp_path / 'run'
    kill_at = random.Random(workers).randint(2, ITERS - 3)
    proc = subprocess.Popen(_train_cmd(slow_cfg, run), cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (run / f'iter_{kill_at}.pth').exists():
        assert proc.poll() is None, 'training ended before it could be killed'
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = latest_checkpoint(run)
    assert killed_at is not None and int(killed_at.stem.split('_')[1]) < ITERS
    before = _losses(run)

    run_tool(_train_cmd(cfg, run, '--resume', 'auto'))
    after = _losses(run)
    ref_losses = _losses(ref)
    resumed_from = int(killed_at.stem.split('_')[1])
    assert sorted(after) == list(range(resumed_from + 1, ITERS + 1))
    for it, terms in {**before, **after}.items():
        assert terms == ref_losses[it], f'iteration {it}: {terms} != {ref_losses[it]}'
    a = safe_load(ref / f'iter_{ITERS}.pth')['state_dict']
    b = safe_load(run / f'iter_{ITERS}.pth')['state_dict']
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_kill_during_slow_save_leaves_previous_checkpoint(tmp_path):
    wd = tmp_path / 'wd'
    cfg = write_cfg(tmp_path / 'slowsave.py', "[dict(type='SlowSaveHook', megabytes=400)]", ITERS)
    proc = subprocess.Popen(_train_cmd(cfg, wd), cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    tmp_seen = None
    while tmp_seen is None:
        assert proc.poll() is None, 'training ended before a save could be interrupted'
        assert time.time() < deadline
        tmps = [p for p in os.listdir(wd) if p.startswith('.iter_2.pth')] if wd.exists() else []
        if tmps and os.path.getsize(wd / tmps[0]) > 0:
            tmp_seen = tmps[0]
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (wd / 'iter_2.pth').exists()  # no partial file under the final name
    assert latest_checkpoint(wd).name == 'iter_1.pth'
    assert safe_load(wd / 'iter_1.pth')['meta']['iter'] == 1
    # and the run resumes from it
    run_tool(_train_cmd(write_cfg(tmp_path / 'three.py', '[]', 3), wd, '--resume', 'auto'))
    assert safe_load(wd / 'iter_3.pth')['meta']['iter'] == 3


@pytest.mark.slow
def test_resume_auto_falls_back_to_the_newest_checkpoint_that_loads(tmp_path):
    """iter_3.pth truncated, a weight inside iter_2.pth changed on disk: --resume auto says
    which it skipped and why, resumes from iter_1.pth and trains on."""
    wd = tmp_path / 'wd'
    run_tool(_train_cmd(write_cfg(tmp_path / 'three.py', '[]', 3), wd))
    data = (wd / 'iter_3.pth').read_bytes()
    (wd / 'iter_3.pth').write_bytes(data[:len(data) // 2])
    w = safe_load(wd / 'iter_2.pth')['state_dict']['generator.model.0.weight']
    data = bytearray((wd / 'iter_2.pth').read_bytes())
    pos = bytes(data).find(w.numpy().tobytes())
    assert pos > 0
    data[pos + 7] ^= 0x10  # a silently different weight without the checksum
    (wd / 'iter_2.pth').write_bytes(bytes(data))
    proc = run_tool(_train_cmd(write_cfg(tmp_path / 'five.py', '[]', 5), wd, '--resume', 'auto'))
    out = proc.stdout
    assert 'skipping iter_3.pth' in out and 'truncated or damaged' in out
    assert 'skipping iter_2.pth' in out and 'state_dict/generator.model.0.weight' in out
    assert f'resuming from {wd / "iter_1.pth"}' in out
    assert safe_load(wd / 'iter_5.pth')['meta']['iter'] == 5
