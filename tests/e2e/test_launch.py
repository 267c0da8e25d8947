"""tools/dist_train.sh failures, read from the real launcher's output: each distinct error once,
no torchrun traceback, a SIGKILLed process named as a likely out-of-memory kill; and how the
launch scripts choose the interpreter."""
import os
import shutil
import subprocess

from tests.helpers import ROOT, TINY_DEMO, free_port, run_tool
from tests.e2e._cfg import write_cfg


def _dist(args, **kw):
    return run_tool(['bash', 'tools/dist_train.sh', *args], env={'PORT': free_port()}, timeout=600,
                    check=False, **kw)


def test_same_error_on_both_ranks_prints_once(tmp_path):
    proc = _dist(['configs/demo_denoise.py', '2', '--work-dir', str(tmp_path), '--cfg-options',
                  *TINY_DEMO, 'model.generator.nbb=3'])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    msg = "DnCNN got an unexpected argument 'nbb'"
    assert out.count(msg) == 1, out
    assert 'ranks 0, 1 failed' in out
    for noise in ('ChildFailedError', 'Traceback', 'torch/distributed/elastic', 'Root Cause',
                  'Setting MKL_NUM_THREADS'):
        assert noise not in out, (noise, out)


def test_sigkilled_rank_is_reported_as_likely_out_of_memory(tmp_path):
    cfg = write_cfg(tmp_path / 'kill.py', "[dict(type='KillAtIterHook', at=1, rank=1)]", iters=3)
    proc = _dist([cfg, '2', '--work-dir', str(tmp_path / 'wd')])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    lines = [ln for ln in out.splitlines() if 'was killed' in ln]
    assert len(lines) == 1, out
    assert 'rank 1' in lines[0] and '-9' in lines[0] and 'out-of-memory' in lines[0]
    assert 'batch_size' in lines[0]  # what to try
    # rank 0's gloo error is a consequence, summarised in one line
    assert 'rank 0 lost the connection' in out and 'Connection reset' not in out
    assert 'ChildFailedError' not in out and 'Traceback' not in out


def test_bug_traceback_printed_once(tmp_path):
    """An error that is not an input error keeps its traceback, printed once for both ranks."""
    cfg = write_cfg(tmp_path / 'bug.py', "[dict(type='RaiseAtIterHook', at=1)]", iters=3)
    proc = _dist([cfg, '2', '--work-dir', str(tmp_path / 'wd')])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert out.count('Traceback (most recent call last)') == 1, out
    assert out.count('ZeroDivisionError: planted bug in after_train_iter') == 1, out
    assert 'ChildFailedError' not in out


def _pick(tmp_path, env, venv=False):
    """The interpreter tools/_python.sh picks in a checkout laid out under tmp_path."""
    (tmp_path / 'tools').mkdir(exist_ok=True)
    shutil.copy(os.path.join(ROOT, 'tools', '_python.sh'), tmp_path / 'tools')
    if venv:
        py = tmp_path / '.venv' / 'bin' / 'python'
        py.parent.mkdir(parents=True, exist_ok=True)
        py.write_text('#!/bin/sh\n')
        py.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'VIRTUAL_ENV')}
    out = subprocess.run(['bash', '-c', f'source {tmp_path}/tools/_python.sh && echo "$PYTHON"'],
                         env={**base, **env}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_launch_scripts_pick_the_interpreter(tmp_path):
    venv_py = str((tmp_path / '.venv' / 'bin' / 'python').resolve())
    assert _pick(tmp_path, {}) == 'python3'  # no venv anywhere
    assert _pick(tmp_path, {}, venv=True) == venv_py  # the README's .venv, not activated
    active = tmp_path / 'other'
    (active / 'bin').mkdir(parents=True)
    (active / 'bin' / 'python').write_text('#!/bin/sh\n')
    (active / 'bin' / 'python').chmod(0o755)
    assert _pick(tmp_path, {'VIRTUAL_ENV': str(active)}) == f'{active}/bin/python'
    assert _pick(tmp_path, {'PYTHON': '/opt/py/bin/python', 'VIRTUAL_ENV': str(active)}) == '/opt/py/bin/python'


def test_launch_script_without_arguments_prints_usage():
    proc = subprocess.run(['bash', 'tools/dist_train.sh'], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and 'Usage: tools/dist_train.sh CONFIG NGPUS' in proc.stderr
    assert '.venv/bin/python' in proc.stderr
