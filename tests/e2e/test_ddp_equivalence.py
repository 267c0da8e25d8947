"""DDP: 2 processes x batch b == 1 process x batch 2b; metrics over 2 processes == 1 process."""
import json
import os
import shutil
import sys

import torch

from irkit.fileio.checkpoint import safe_load
from tests.helpers import ROOT, free_port, run_tool

CFG = '''
_base_ = ['{root}/configs/demo_denoise.py']
custom_imports = dict(imports=['tests.plugins.irkit_plugins'], allow_failed_imports=False)
model = dict(generator=dict(nc=8, nb=3))
# no random augmentation: every process sees exactly the samples a single process would
_det_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys=['gt'], crop_size=32),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25, seed=0),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(batch_size={bs}, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=_det_pipeline))
val_dataloader = dict(dataset=dict(data_root='{val_root}'))
test_dataloader = dict(dataset=dict(data_root='{val_root}'))
train_cfg = dict(max_iters=4, val_interval=100)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=4, eta_min=1e-5, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=4), logger=dict(interval=1))
custom_hooks = [dict(type='LossRecorderHook')]
randomness = dict(seed=7)
'''


def _write_cfg(tmp_path, bs, val_root):
    p = tmp_path / f'ddp_bs{bs}.py'
    p.write_text(CFG.format(root=ROOT, bs=bs, val_root=val_root))
    return str(p)


def _val_root(tmp_path):
    # 3 held-out images: not divisible by the world size
    d = tmp_path / 'val'
    d.mkdir()
    for name in ('chelsea.png', 'coffee.png'):
        shutil.copy(os.path.join(ROOT, 'data/demo/test', name), d / name)
    shutil.copy(os.path.join(ROOT, 'data/demo/train/rocket.png'), d / 'rocket.png')
    return str(d)


def test_two_processes_match_one_process(tmp_path):
    val_root = _val_root(tmp_path)
    port = free_port()
    single, multi = tmp_path / 'single', tmp_path / 'multi'
    run_tool([sys.executable, 'tools/train.py', _write_cfg(tmp_path, 4, val_root), '--work-dir', str(single)])
    run_tool(['bash', 'tools/dist_train.sh', _write_cfg(tmp_path, 2, val_root), '2', '--work-dir', str(multi)],
             env={'PORT': port}, timeout=600)

    one = json.loads((single / 'losses_rank0.json').read_text())
    r0 = json.loads((multi / 'losses_rank0.json').read_text())
    r1 = json.loads((multi / 'losses_rank1.json').read_text())
    assert sorted(one) == sorted(r0) == sorted(r1) == ['1', '2', '3', '4']
    for it in one:
        mean2 = (r0[it]['loss'] + r1[it]['loss']) / 2
        assert abs(one[it]['loss'] - mean2) < 1e-5, (it, one[it]['loss'], mean2)
    a = safe_load(single / 'iter_4.pth')['state_dict']
    b = safe_load(multi / 'iter_4.pth')['state_dict']
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=0), k

    # evaluation: 3 images over 2 processes (one rank gets a padded duplicate that must be dropped)
    ck = str(single / 'iter_4.pth')
    out1, out2 = tmp_path / 'm1.json', tmp_path / 'm2.json'
    run_tool([sys.executable, 'tools/test.py', _write_cfg(tmp_path, 4, val_root), ck, '--out', str(out1),
              '--work-dir', str(tmp_path / 't1')])
    run_tool(['bash', 'tools/dist_test.sh', _write_cfg(tmp_path, 4, val_root), ck, '2', '--out', str(out2),
              '--work-dir', str(tmp_path / 't2')], env={'PORT': free_port()}, timeout=600)
    m1 = json.loads(out1.read_text())['metrics']
    m2 = json.loads(out2.read_text())['metrics']
    assert m1.keys() == m2.keys() and 'PSNR' in m1
    for k in m1:
        assert abs(m1[k] - m2[k]) < 1e-6, (k, m1[k], m2[k])
