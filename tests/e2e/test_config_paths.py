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


def test_readme_own_masks_config_trains_as_written(tmp_path):
    """The README's 'your own masks' LaMa config: only its folder paths change (to generated data)."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)
    photos, masks = tmp_path / 'my_photos', tmp_path / 'my_masks'
    photos.mkdir()
    masks.mkdir()
    for i in range(2):
        cv2.imwrite(str(photos / f'{i}.png'), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        m = np.zeros((30, 30), np.uint8)
        m[5:15 + i, 8:20] = 255
        cv2.imwrite(str(masks / f'm{i}.png'), m)
    block = _readme_block('# configs/my_lama.py')
    assert "_base_ = ['./lama_places.py']" in block
    configs = tmp_path / 'configs'
    configs.mkdir()
    for name in ('lama_places.py', '_base_'):
        os.symlink(os.path.join(ROOT, 'configs', name), configs / name)
    (configs / 'my_lama.py').write_text(block.replace('/data/my_photos', str(photos)).replace(
        '/data/my_masks', str(masks)))
    opts = ['model.generator.ngf=8', 'model.generator.n_blocks=1', 'model.discriminator.ndf=8',
            'model.discriminator.n_layers=2', 'model.losses.1.pretrained=False', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'train_dataloader.dataset.pipeline.1.crop_size=32', 'train_dataloader.dataset.pipeline.4.size=[32,32]',
            'train_cfg.max_iters=1', 'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.save_best=None']
    wd = tmp_path / 'wd'
    proc = run_tool([sys.executable, 'tools/train.py', str(configs / 'my_lama.py'), '--work-dir', str(wd),
                     '--cfg-options', *opts], check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert (wd / 'iter_1.pth').is_file()
