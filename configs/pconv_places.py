# Partial Convolutions (Liu et al., ECCV 2018) on Places365 at 256 px: MMagic's stage-2 recipe, the one that
# produced pconv_256x256_stage2_4x2_places_20200619-1ffed0e8.pth (configs/partial_conv/
# pconv_stage2_4xb2_places-256x256.py): 4 GPUs x 2 images, Adam 5e-5, 500k iterations, frozen encoder BN.
#   tools/dist_train.sh configs/pconv_places.py 4 --cfg-options load_from=<stage-1 checkpoint>
#   tools/test.py configs/pconv_places.py pconv_256x256_stage2_4x2_places_20200619-1ffed0e8.pth
# Stage 1 (8 GPUs x 12, lr 2e-4, encoder BN trainable, 800k): see configs/_base_/models/pconv.py.
# SyncBN needs CUDA when several processes train; on CPU use
#   --cfg-options model.generator.encoder.norm_cfg.type=BN model.generator.decoder.norm_cfg.type=BN
# Data layout, conventions and deviations: docs/methods/pconv.md.
_base_ = ['./_base_/default_runtime.py', './_base_/models/pconv.py']

_img_size = 256
data_root = 'data/places365'
# MMagic's LoadMask(mask_mode='irregular') settings; the mask is drawn at 256 x 256 before the image is cropped
_mask = dict(type='GenerateIrregularMask', num_vertices=(4, 10), max_angle=6.0, length_range=(20, 128),
             brush_width=(10, 45), area_ratio_range=(0.15, 0.65), img_shape=(_img_size, _img_size))
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),           # RGB [0, 1]; the model converts to the net's BGR
    dict(**_mask),
    dict(type='RandomCrop', keys='gt', crop_size=384),  # MMagic Crop(384, random_crop=True)
    dict(type='Resize', keys='gt', size=(_img_size, _img_size), interpolation='bilinear'),
    dict(type='PackInputs', keys=['gt', 'mask']),
]
# MMagic evaluates with the training pipeline (a new random crop and mask at every run); irkit draws the same
# crop and mask for an image every time (seeded by the image key), with MMagic's distributions
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(**_mask, seed=0),
    dict(type='RandomCrop', keys='gt', crop_size=384, seed=0),
    dict(type='Resize', keys='gt', size=(_img_size, _img_size), interpolation='bilinear'),
    dict(type='PackInputs', keys=['gt', 'mask']),
]

train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,   # x 4 GPUs
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # MMagic trains on the Places365-Challenge list (meta/places365_train_challenge.txt, ~8 M images of data_large)
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365',
                 data_root=f'{data_root}/data_large', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365', data_root=f'{data_root}/val_large',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader

# MMagic: MAE(mask_key='mask', scaling=100) (hole-only mean |error| on [0, 1], reported x 100), PSNR, SSIM
val_evaluator = [dict(type='MAE', mask_region='hole'), dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=500_000, val_interval=50_000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=50_000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'),
)
