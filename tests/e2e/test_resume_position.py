"""--resume at a large iteration count moves the sampler there: no skipped batch is loaded,
and the batches that follow are those of the uninterrupted stream (the sampler itself:
tests/datasets/test_samplers.py)."""
import itertools
import os
import sys

import torch

from irkit.fileio.checkpoint import safe_load
from tests.helpers import ROOT, run_tool


CFG = '''
_base_ = ['{root}/configs/demo_denoise.py']
custom_imports = dict(imports=['tests.plugins.irkit_plugins'], allow_failed_imports=False)
model = dict(generator=dict(nc=8, nb=3))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(type='CountingImageFolder', count_file='{count}', pipeline=[
                            dict(type='LoadImageFromFile', key='gt'),
                            dict(type='RandomCrop', keys=['gt'], crop_size=32),
                            dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25),
                            dict(type='PackInputs', keys=['lq', 'gt'])]))
train_cfg = dict(max_iters=2, val_interval=10 ** 9)
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=-1, save_best=None),
                     logger=dict(interval=1))
randomness = dict(seed=123)
'''


BIG = 100_000


def _loaded(path):
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_resume_at_a_large_iteration_loads_only_new_batches(tmp_path):
    count = tmp_path / 'loaded.txt'
    cfg = tmp_path / 'count.py'
    cfg.write_text(CFG.format(root=ROOT, count=count))
    wd = tmp_path / 'wd'
    run_tool([sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(wd)])
    assert len(_loaded(count)) == 4  # 2 iterations x batch 2

    # the same checkpoint, declared to be at iteration BIG (as after a long run)
    ckpt = safe_load(wd / 'iter_2.pth')
    ckpt['meta']['iter'] = BIG
    os.remove(wd / 'iter_2.pth')
    torch.save(ckpt, wd / f'iter_{BIG}.pth')
    count.unlink()
    proc = run_tool([sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(wd), '--resume', 'auto',
                     '--cfg-options', f'train_cfg.max_iters={BIG + 2}'], timeout=300)
    out = proc.stdout + proc.stderr
    assert f'Iter(train) [{BIG + 2}/{BIG + 2}]' in out
    assert 'nothing loaded to skip' in out
    loaded = _loaded(count)
    assert len(loaded) == 4, f'{len(loaded)} samples loaded, expected only the 2 new batches'

    # they are the samples at positions 2*BIG .. 2*BIG+3 of mmengine's InfiniteSampler stream
    from mmengine.dataset import InfiniteSampler as Reference
    n = len(os.listdir(os.path.join(ROOT, 'data/demo/train')))
    ref = Reference(range(n), shuffle=True, seed=123)
    assert loaded == list(itertools.islice(iter(ref), 2 * BIG, 2 * BIG + 4))
