"""One training per work dir (a lock naming the owner; a killed owner's lock taken over) and no
leftovers of killed writes."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, run_tool
from tests.e2e._cfg import write_cfg


def _train(cfg, wd, *extra):
    return [sys.executable, 'tools/train.py', cfg, '--work-dir', str(wd), *extra]


@pytest.mark.slow
def test_second_training_on_a_work_dir_is_refused_and_a_killed_ones_lock_taken_over(tmp_path):
    wd = tmp_path / 'wd'
    slow = write_cfg(tmp_path / 'slow.py', "[dict(type='SlowIterHook', seconds=0.5)]", iters=60)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    first = subprocess.Popen(_train(slow, wd), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not (wd / 'iter_1.pth').exists():
            assert first.poll() is None and time.time() < deadline, 'the first run did not get going'
            time.sleep(0.1)
        before = sorted(os.listdir(wd))
        second = run_tool(_train(write_cfg(tmp_path / 'quick.py', '[]', iters=2), wd), check=False,
                          timeout=240)
        assert second.returncode == 1
        err = second.stderr.strip().splitlines()
        assert err[0].startswith('error: WorkDirLockedError: work dir ') and 'in use by another training run' in err[0]
        assert f'pid {first.pid} on host {socket.gethostname()}, started ' in err[0]
        assert first.poll() is None  # the first run goes on, its files untouched
        assert not (wd / 'iter_2.pth').exists() or 'iter_2.pth' not in before
        assert 'last_checkpoint' not in set(os.listdir(wd)) - set(before)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # the killed run's lock and a temporary file of a write it did not finish are leftovers
    leftover = wd / f'.iter_9.pth.irkit-tmp.{first.pid}@{socket.gethostname()}.0123abcd'
    leftover.write_bytes(b'half a checkpoint')
    proc = run_tool(_train(write_cfg(tmp_path / 'resume.py', '[]', iters=3), wd, '--resume', 'auto'),
                    timeout=240)
    assert f'the previous run (pid {first.pid} on host' in proc.stdout and 'taking it over' in proc.stdout
    assert f'removed {leftover}' in proc.stdout and not leftover.exists()
    assert (wd / 'iter_3.pth').exists()
    assert not [p for p in os.listdir(wd) if '.irkit-tmp.' in p]
    assert (wd / '.irkit-train.lock').read_bytes() == b''  # released at the end


def test_killed_create_lmdb_leaves_a_temporary_the_next_run_removes(tmp_path):
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)
    src = tmp_path / 'src'
    src.mkdir()
    for i in range(300):
        cv2.imwrite(str(src / f'{i:03d}.png'), (rng.random((128, 128, 3)) * 255).astype(np.uint8))
    cmd = [sys.executable, 'tools/create_lmdb.py', str(src), str(tmp_path / 'db.lmdb'), '--quiet']
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while not [p for p in os.listdir(tmp_path) if '.irkit-tmp.' in p]:
            assert proc.poll() is None and time.time() < deadline, 'create_lmdb ended before it was killed'
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = [p for p in os.listdir(tmp_path) if '.irkit-tmp.' in p]
    assert len(partial) == 1 and f'.db.lmdb.irkit-tmp.{proc.pid}@' in partial[0]
    again = run_tool(cmd, timeout=240)
    assert f'removed {tmp_path / partial[0]}' in again.stdout
    assert sorted(os.listdir(tmp_path)) == ['db.lmdb', 'src']
