# DeepFill v1 (Yu et al., CVPR 2018) on Places at 256 px: MMagic's recipe (deepfillv1_8xb2_places-256x256.py)
#   tools/dist_train.sh configs/deepfillv1_places.py 8      (8 GPUs x 2 images, as MMagic)
# MMagic's released weights (--format mmagic): deepfillv1_256x256_8x2_places_20200619-c00a0e21.pth
# (docs/methods/deepfillv1.md)
_base_ = ['./_base_/default_runtime.py', './_base_/models/deepfillv1.py']

data_root = 'data/places365'  # MMagic trained on Places365-Challenge (8 M images) in data_large/
_size = 256

model = dict(disc_steps=5)  # the critics every iteration, the generator every 5th (MMagic's disc_step)

# MMagic: random 384 crop, resize to 256 (aspect not kept), one bbox hole per image drawn at 256 x 256
# (max 128, shrunk by <= 20 from the top/left, margin 20), box kept for the local critic
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys='gt', crop_size=384, pad_mode=None),
    dict(type='Resize', keys='gt', size=(_size, _size), interpolation='bilinear'),
    dict(type='GenerateBBoxMask', max_bbox_shape=128, max_bbox_delta=40, min_margin=20, img_shape=(_size, _size)),
    dict(type='PackInputs', keys=['gt', 'mask'], meta_keys=['key', 'gt_path', 'mask_bbox']),
]
# evaluation: MMagic reuses the random training pipeline; irkit crops the centre and fixes the box per image
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys='gt', crop_size=384),
    dict(type='Resize', keys='gt', size=(_size, _size), interpolation='bilinear'),
    dict(type='GenerateBBoxMask', max_bbox_shape=128, max_bbox_delta=40, min_margin=20, img_shape=(_size, _size),
         seed=0),
    dict(type='PackInputs', keys=['gt', 'mask'], meta_keys=['key', 'gt_path', 'mask_bbox']),
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

train_cfg = dict(type='IterTrainLoop', max_iters=5_000_003, val_interval=250_000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=250_000, max_keep_ckpts=5,
                                     save_best='PSNR', rule='greater'))
