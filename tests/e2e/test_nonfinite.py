"""NonFiniteGuardHook: a NaN loss is skipped (or stops the run) and never reaches a checkpoint."""
import sys

import pytest
import torch

from irkit.fileio.checkpoint import safe_load
from tests.helpers import free_port, run_tool
from tests.e2e._cfg import write_cfg


def _cmd(tmp_path, action):
    cfg = write_cfg(tmp_path / f'nf_{action}.py', iters=4, val_interval=100,
                    generator="dict(_delete_=True, type='NaNAtCall', bad_call=2)",
                    hooks=f"[dict(type='NonFiniteGuardHook', action='{action}')]")
    return [sys.executable, 'tools/train.py', cfg, '--work-dir', str(tmp_path / 'wd')]


def test_skip_keeps_training_finite(tmp_path):
    proc = run_tool(_cmd(tmp_path, 'skip'))
    log = proc.stdout + proc.stderr
    assert 'non-finite values at iteration 2' in log and 'update skipped' in log
    wd = tmp_path / 'wd'
    for it in (1, 2, 3, 4):
        sd = safe_load(wd / f'iter_{it}.pth')['state_dict']
        assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())
    w1 = safe_load(wd / 'iter_1.pth')['state_dict']['generator.conv.weight']
    w2 = safe_load(wd / 'iter_2.pth')['state_dict']['generator.conv.weight']
    w3 = safe_load(wd / 'iter_3.pth')['state_dict']['generator.conv.weight']
    assert torch.equal(w1, w2)  # the NaN step was skipped
    assert not torch.equal(w2, w3)  # and training went on


def test_stop_reports_iteration_and_terms(tmp_path):
    proc = run_tool(_cmd(tmp_path, 'stop'), check=False)
    assert proc.returncode != 0
    assert 'NonFiniteError' in proc.stderr and 'iteration 2' in proc.stderr and 'loss_l1=nan' in proc.stderr
    assert not (tmp_path / 'wd' / 'iter_2.pth').exists()


# ----------------------------------------------------------------------------- two processes
def _dist_cmd(tmp_path, action):
    cfg = write_cfg(tmp_path / f'nf2_{action}.py', iters=4, val_interval=100,
                    generator="dict(_delete_=True, type='NaNAtCall', bad_call=2, bad_rank=1)",
                    hooks=f"[dict(type='NonFiniteGuardHook', action='{action}')]")
    return ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(tmp_path / 'wd')]


@pytest.mark.slow
def test_nan_on_one_rank_is_skipped_on_every_rank(tmp_path):
    # only rank 1 sees the NaN at iteration 2: the ranks decide together, so nobody waits
    # forever in the gradient all-reduce (run_tool kills the process group on timeout)
    proc = run_tool(_dist_cmd(tmp_path, 'skip'), env={'PORT': free_port()}, timeout=240)
    assert 'non-finite values at iteration 2' in proc.stdout + proc.stderr
    wd = tmp_path / 'wd'
    w = [safe_load(wd / f'iter_{it}.pth')['state_dict']['generator.conv.weight'] for it in (1, 2, 3, 4)]
    assert all(torch.isfinite(x).all() for x in w)
    assert torch.equal(w[0], w[1])  # iteration 2 skipped on both ranks
    assert not torch.equal(w[1], w[2])  # and training went on


@pytest.mark.slow
def test_nan_on_one_rank_stops_every_rank(tmp_path):
    proc = run_tool(_dist_cmd(tmp_path, 'stop'), env={'PORT': free_port()}, timeout=240, check=False)
    assert proc.returncode != 0
    assert 'NonFiniteError' in proc.stderr and 'iteration 2' in proc.stderr
    assert not (tmp_path / 'wd' / 'iter_2.pth').exists()
