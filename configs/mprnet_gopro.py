# MPRNet, motion deblurring on GoPro (Zamir et al., CVPR 2021), official Deblurring recipe:
# 3000 epochs of GoPro train (2,103 pairs) at batch 16 (4 GPUs x 4), 256x256 crops, Adam 2e-4,
# 3 warm-up epochs then cosine to 1e-6, Charbonnier + 0.05 x edge loss over the 3 stages.
# Test: GoPro test, RGB PSNR/SSIM on uint8 outputs (see _base_/datasets/gopro.py).
# Train: tools/dist_train.sh configs/mprnet_gopro.py 4
_base_ = [
    './_base_/default_runtime.py', './_base_/datasets/gopro.py',
    './_base_/schedules/mprnet_adam_warmup_cosine.py'
]

_patch_size = 256
_iters_per_epoch = 132  # ceil(2103 / 16), the official loader keeps the last partial batch
_warmup_iters = 3 * _iters_per_epoch
_total_iters = 3000 * _iters_per_epoch  # 396,000

model = dict(
    type='Restorer',
    generator=dict(type='MPRNet', in_c=3, out_c=3, n_feat=96, scale_unetfeats=48,
                   scale_orsnetfeats=32, num_cab=8, kernel_size=3, reduction=4, bias=False),
    losses=[dict(type='CharbonnierLoss', loss_weight=1.0, eps=1e-3),
            dict(type='EdgeLoss', loss_weight=0.05)],
    deep_supervision=True,  # losses summed over the three stage outputs
    pad_multiple=8,
    data_preprocessor=dict(type='DataPreprocessor'))

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=_patch_size, pad_mode='reflect'),
    # official: 9 outcomes (identity twice) of the 8 flips/rotations; irkit draws the 8 uniformly
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='PairedImageDataset', gt_root='data/GoPro/train/target',
                 lq_root='data/GoPro/train/input', pipeline=train_pipeline))

train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=20 * _iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=1e-3, begin=0, end=_warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup_iters, end=_total_iters,
         T_max=_total_iters - _warmup_iters, eta_min=1e-6),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'))
randomness = dict(seed=1234, deterministic=False)
