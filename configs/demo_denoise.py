# Demo: Gaussian denoising (sigma = 25) on the images in data/demo, small DnCNN, about 2-3 minutes
# on 2 CPU cores. Train: python tools/train.py configs/demo_denoise.py
_base_ = ['./_base_/default_runtime.py']

_sigma = 25
_patch_size = 48
_iters = 800
data_root = 'data/demo'

model = dict(
    type='Restorer',
    generator=dict(type='DnCNN', in_nc=3, out_nc=3, nc=32, nb=7, use_bn=False, residual=True),
    losses=[dict(type='L1Loss', loss_weight=1.0)],
    data_preprocessor=dict(type='DataPreprocessor'),
)

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys=['gt'], crop_size=_patch_size),
    dict(type='RandomFlip', keys=['gt']),
    dict(type='RandomTranspose', keys=['gt']),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=_sigma),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
# evaluation noise is fixed per image (seeded by the seed and the image key)
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=_sigma, seed=0),
    dict(type='PackInputs', keys=['lq', 'gt']),
]

train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=f'{data_root}/train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=f'{data_root}/test', pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='PSNR', prefix='noisy', pred_key='lq'),
    dict(type='SSIM', prefix='noisy', pred_key='lq'),
    dict(type='PSNR'),
    dict(type='SSIM'),
]
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=_iters, val_interval=_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3, betas=(0.9, 0.999)))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=_iters, eta_min=1e-5, by_epoch=False)]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=_iters, max_keep_ckpts=2,
                    save_best=None))
