# MPRNet's shared training recipe (Zamir et al., CVPR 2021; official train.py of the Deblurring,
# Deraining and Denoising folders): the deblurring-width arch, Charbonnier + 0.05 x edge loss
# summed over the three stage outputs, 256x256 crops with flips/rotations, batch 16.
# Task configs add their dataset and schedule bases, the widths, the data roots, the epoch-based
# schedule converted to iterations, and what differs (SIDD: 128 crops, no edge loss, MixUp).
_base_ = ['../default_runtime.py']

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
    dict(type='PairedRandomCrop', gt_patch_size=256, pad_mode='reflect'),
    # official: 9 outcomes (identity twice) of the 8 flips/rotations; irkit draws the 8 uniformly
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='PairedImageDataset', gt_root=None, lq_root=None, pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'))
randomness = dict(seed=1234, deterministic=False)
