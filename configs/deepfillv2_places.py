# DeepFill v2 (Yu et al., ICCV 2019) on Places at 256 px: MMagic's recipe (deepfillv2_8xb2_places-256x256.py)
#   tools/dist_train.sh configs/deepfillv2_places.py 8      (8 GPUs x 2 images, as MMagic)
# MMagic's released weights (--format mmagic): deepfillv2_256x256_8x2_places_20200619-10d15793.pth
# (docs/methods/deepfillv2.md)
_base_ = ['./_base_/default_runtime.py', './_base_/models/deepfillv2.py']

data_root = 'data/places365'  # MMagic trained on Places365-Challenge (8 M images) in data_large/
_size = 256
# MMagic's irregular masks (LoadMask mask_mode='irregular'), drawn at 256 x 256
_irregular = dict(type='GenerateIrregularMask', num_vertices=(4, 10), max_angle=6.0, length_range=(20, 128),
                  brush_width=(10, 45), area_ratio_range=(0.15, 0.65), img_shape=(_size, _size))

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys='gt', crop_size=384, pad_mode=None),
    dict(type='Resize', keys='gt', size=(_size, _size), interpolation='bilinear'),
    _irregular,
    dict(type='PackInputs', keys=['gt', 'mask']),
]
# evaluation: MMagic reuses the random training pipeline; irkit crops the centre and fixes the mask per image
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys='gt', crop_size=384),
    dict(type='Resize', keys='gt', size=(_size, _size), interpolation='bilinear'),
    dict(_irregular, seed=0),
    dict(type='PackInputs', keys=['gt', 'mask']),
]

train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365', data_root=f'{data_root}/data_large',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365', data_root=f'{data_root}/val_large',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader

# MMagic's evaluator: MAE in the hole (x100 in its tables), PSNR and SSIM of the whole composite
val_evaluator = [dict(type='MAE', mask_region='hole'), dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=1_000_003, val_interval=50_000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=50_000, max_keep_ckpts=5,
                                     save_best='PSNR', rule='greater'))
