"""Tiny configs for reliability tests, written next to the test's tmp files."""
from tests.helpers import ROOT

TEMPLATE = '''
_base_ = ['{root}/configs/demo_denoise.py']
custom_imports = dict(imports=['tests.plugins.irkit_plugins'], allow_failed_imports=False)
model = dict(generator={generator})
train_dataloader = dict(batch_size=2, num_workers={workers}, persistent_workers=False,
                        dataset=dict(pipeline=[
                            dict(type='LoadImageFromFile', key='gt'),
                            dict(type='RandomCrop', keys=['gt'], crop_size=32),
                            dict(type='RandomFlip', keys=['gt']),
                            dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25),
                            dict(type='PackInputs', keys=['lq', 'gt'])]))
train_cfg = dict(max_iters={iters}, val_interval={val_interval})
param_scheduler = [dict(type='CosineAnnealingLR', T_max={iters}, eta_min=1e-5, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1), logger=dict(interval=1))
custom_hooks = {hooks}
randomness = dict(seed=123, deterministic=True)
'''


def write_cfg(path, hooks='[]', iters=8, workers=0, val_interval=None,
              generator="dict(nc=8, nb=3)"):
    path.write_text(TEMPLATE.format(root=ROOT, hooks=hooks, iters=iters, workers=workers,
                                    val_interval=val_interval or iters, generator=generator))
    return str(path)
