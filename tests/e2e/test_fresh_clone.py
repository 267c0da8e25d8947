"""The README's commands, as written, in a fresh checkout whose .venv is not activated.

The checkout is a copy of the files git tracks (no work_dirs, no build outputs); its `.venv`
is a link to the environment running the tests instead of a new `pip install` (the install
line itself is CI's job, .ci/run). Nothing is activated: PYTHON, VIRTUAL_ENV and PYTHONPATH
are unset and PATH has no Python with torch, as for a user who just ran the install line.
"""
import os
import re
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, TINY_DEMO, TINY_MAT, free_port

README = open(os.path.join(ROOT, 'README.md')).read()


def _fresh_checkout(dest):
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split('\0')):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):  # a tracked file deleted in the work tree is skipped
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)
    os.symlink(sys.prefix, os.path.join(dest, '.venv'))


def _user_env():
    venv_bin = os.path.join(sys.prefix, 'bin')
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME')}
    env['PATH'] = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep)
                                  if p and os.path.realpath(p) != os.path.realpath(venv_bin))
    env['OMP_NUM_THREADS'] = '1'
    return env


def _run(cmd, cwd, env, timeout=1200):
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{cmd}\nfailed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}'
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_readme_commands_in_a_fresh_checkout(tmp_path):
    repo = tmp_path / 'irkit'
    _fresh_checkout(repo)
    env = _user_env()

    # the README's first command: install (done: .venv), train the demo, test it
    first = re.search(r'```bash\n(python3 -m venv \.venv && .*?)\n```', README).group(1)
    steps = first.split(' && ')
    assert steps[0] == 'python3 -m venv .venv' and steps[1].startswith('.venv/bin/pip install ')
    tiny = ' --cfg-options ' + ' '.join(TINY_DEMO)  # seconds instead of the demo's minutes
    for step in steps[2:]:
        assert step.startswith('.venv/bin/python tools/'), step
        _run(step + tiny, repo, env)
    assert (repo / 'work_dirs/demo_denoise/iter_2.pth').is_file()
    assert sorted(os.listdir(repo / 'work_dirs/demo_denoise/results/side_by_side')) == ['chelsea.png', 'coffee.png']

    # the loss/metric plot of that run, as the Training section writes it (python = .venv/bin/python)
    assert 'python tools/plot_logs.py WORK_DIR' in README
    _run('.venv/bin/python tools/plot_logs.py work_dirs/demo_denoise', repo, env)
    assert cv2.imread(str(repo / 'work_dirs/demo_denoise/plot.png')) is not None

    # the launch script, as in the README's example, with 2 CPU processes, on a tiny MAT over
    # generated images; the script finds .venv/bin/python by itself
    example = re.search(r'`(tools/dist_train\.sh configs/mat_places\.py) 8`', README).group(1)
    data = tmp_path / 'places' / 'data_large'
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(data / f'{i:03d}.png'), rng.integers(0, 256, (130 + 10 * i, 140, 3), dtype=np.uint8))
    opts = ' '.join(f"'{o}'" for o in TINY_MAT + [f'train_dataloader.dataset.data_root={data}',
                                                    'train_cfg.max_iters=1'])
    out = _run(f'PORT={free_port()} {example} 2 --work-dir work_dirs/mat_tiny --cfg-options {opts}', repo, env)
    assert '| 2 processes on' in out and 'Iter(train) [1/1]' in out
    assert (repo / 'work_dirs/mat_tiny/iter_1.pth').is_file()
