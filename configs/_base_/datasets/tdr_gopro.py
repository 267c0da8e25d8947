# GoPro motion deblurring with TDR guidance images (Lin et al., CVPR 2024, stage 3): LQ/GT pairs
# plus one precomputed 512x512 guidance PNG per input, named like it
# (tools/tdr_generate_guidance.py on the LQ folders): data/GoPro/{train,test}/guidance.
# Training: 384x384 LQ/GT crops with the 8 flips/rotations, batch 8 per GPU. Testing: full
# images, RGB, no crop (as the GoPro base: MPRNet/Restormer's protocol).
data_root = 'data/GoPro'

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=384, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='GuidanceDataset', ref_root=f'{data_root}/train/guidance',
                 dataset=dict(type='PairedImageDataset', gt_root=f'{data_root}/train/target',
                              lq_root=f'{data_root}/train/input', pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='GuidanceDataset', ref_root=f'{data_root}/test/guidance',
                 dataset=dict(type='PairedImageDataset', gt_root=f'{data_root}/test/target',
                              lq_root=f'{data_root}/test/input', pipeline=test_pipeline,
                              test_mode=True)))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator
