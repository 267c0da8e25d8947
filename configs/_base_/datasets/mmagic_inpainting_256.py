# MMagic's inpainting data pipeline at 256 px (configs/{global_local,deepfillv1,deepfillv2}/*.py of
# open-mmlab/mmagic@0a560bb), on Places (data_root/data_large, val_large): random 384 crop, resize to
# 256 x 256 (aspect not kept), one bbox hole per image drawn at 256 x 256 (max 128, shrunk by <= 20
# from the top/left, margin 20), its box kept for a local discriminator. Configs with free-form masks
# replace the mask step. Evaluation: MMagic reuses the random training pipeline; irkit takes the centre
# 384 crop and fixes the mask per image (seed 0).
data_root = 'data/places365'  # MMagic trained on Places365-Challenge (8 M images) in data_large/
_size = 256
_bbox = dict(type='GenerateBBoxMask', max_bbox_shape=128, max_bbox_delta=40, min_margin=20, img_shape=(_size, _size))
_pack = dict(type='PackInputs', keys=['gt', 'mask'], meta_keys=['key', 'gt_path', 'mask_bbox'])

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys='gt', crop_size=384, pad_mode=None),
    dict(type='Resize', keys='gt', size=(_size, _size), interpolation='bilinear'),
    _bbox,
    _pack,
]
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys='gt', crop_size=384),
    dict(type='Resize', keys='gt', size=(_size, _size), interpolation='bilinear'),
    dict(_bbox, seed=0),
    _pack,
]

train_dataloader = dict(
    num_workers=4, persistent_workers=True,
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
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
