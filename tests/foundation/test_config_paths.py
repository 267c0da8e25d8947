"""Configs a user writes: the README's plugin example as written, a config outside the
repository inheriting with a relative _base_, and how relative data paths resolve."""
import os
import re
import sys

from tests.helpers import ROOT, TINY_DEMO, run_tool

# TINY_DEMO for any generator, one iteration, no validation
ONE_ITER = [o for o in TINY_DEMO if not o.startswith(('model.', 'train_cfg.', 'param_scheduler.'))] + [
    'train_cfg.max_iters=1', 'train_cfg.val_interval=10', 'param_scheduler.0.T_max=1']


def _readme_block(first_line):
    """The README's python code block that starts with ``first_line``."""
    text = open(os.path.join(ROOT, 'README.md')).read()
    for block in re.findall(r'```python\n(.*?)```', text, flags=re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f'README has no python block starting with {first_line!r}')


def test_readme_plugin_example_trains_as_written(tmp_path):
    # the user's package, on PYTHONPATH as the README says; the config next to irkit's
    pkg = tmp_path / 'my_pkg'
    pkg.mkdir()
    (pkg / 'my_net.py').write_text(_readme_block('# my_pkg/my_net.py'))
    configs = tmp_path / 'configs'
    configs.mkdir()
    for name in ('demo_denoise.py', '_base_'):  # a checkout's configs/ folder
        os.symlink(os.path.join(ROOT, 'configs', name), configs / name)
    (configs / 'mynet_demo.py').write_text(_readme_block('# configs/mynet_demo.py'))
    wd = tmp_path / 'wd'
    proc = run_tool([sys.executable, 'tools/train.py', str(configs / 'mynet_demo.py'), '--work-dir', str(wd),
                     '--cfg-options', *ONE_ITER],
                    env={'PYTHONPATH': f'{tmp_path}{os.pathsep}{ROOT}'})
    assert 'Iter(train) [1/1]' in proc.stdout + proc.stderr
    from irkit.fileio.checkpoint import safe_load
    sd = safe_load(wd / 'iter_1.pth')['state_dict']
    assert sd['generator.body.0.weight'].shape == (48, 3, 3, 3)  # MyNet(width=48) was trained


def _outside_config(tmp_path):
    exp = tmp_path / 'experiments'
    exp.mkdir()
    rel = os.path.relpath(os.path.join(ROOT, 'configs', 'demo_denoise.py'), exp)
    cfg = exp / 'my_denoise.py'
    cfg.write_text(f"_base_ = ['{rel}']  # relative to this file\ntrain_cfg = dict(max_iters=1)\n")
    return exp, cfg


def test_config_outside_the_repo_inherits_with_a_relative_base(tmp_path):
    exp, cfg = _outside_config(tmp_path)
    # run from the repository: the base's data/demo paths resolve against the current directory
    proc = run_tool([sys.executable, os.path.join(ROOT, 'tools/train.py'), str(cfg), '--work-dir',
                     str(tmp_path / 'wd'), '--cfg-options', *ONE_ITER, 'model.generator.nc=8'], cwd=ROOT)
    assert 'Iter(train) [1/1]' in proc.stdout + proc.stderr


def test_missing_relative_data_path_names_the_directory_it_was_resolved_against(tmp_path):
    exp, cfg = _outside_config(tmp_path)
    proc = run_tool([sys.executable, os.path.join(ROOT, 'tools/train.py'), str(cfg), '--work-dir',
                     str(tmp_path / 'wd'), '--cfg-options', *ONE_ITER, 'model.generator.nc=8'], cwd=exp, check=False)
    err = proc.stderr
    assert proc.returncode == 1, proc.stdout + err
    assert 'image folder not found: data/demo/train' in err
    assert f'resolved against the current directory, {exp}' in err
    assert f'exists under the irkit checkout {ROOT}' in err and os.path.join(ROOT, 'data/demo/train') in err
    assert 'Traceback' not in err
