# DeepFill v2 (Yu et al., ICCV 2019) on Places at 256 px: MMagic's recipe (deepfillv2_8xb2_places-256x256.py)
#   tools/dist_train.sh configs/deepfillv2_places.py 8      (8 GPUs x 2 images, as MMagic)
# MMagic's released weights (--format mmagic): deepfillv2_256x256_8x2_places_20200619-10d15793.pth
# (docs/methods/deepfillv2.md)
_base_ = ['./_base_/default_runtime.py', './_base_/models/deepfillv2.py',
          './_base_/datasets/mmagic_inpainting_256.py']

# MMagic's irregular masks (LoadMask mask_mode='irregular') at 256 x 256 instead of the bbox
_irregular = dict(type='GenerateIrregularMask', num_vertices=(4, 10), max_angle=6.0, length_range=(20, 128),
                  brush_width=(10, 45), area_ratio_range=(0.15, 0.65), img_shape=(256, 256))
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys='gt', crop_size=384, pad_mode=None),
    dict(type='Resize', keys='gt', size=(256, 256), interpolation='bilinear'),
    _irregular,
    dict(type='PackInputs', keys=['gt', 'mask']),
]
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys='gt', crop_size=384),
    dict(type='Resize', keys='gt', size=(256, 256), interpolation='bilinear'),
    dict(_irregular, seed=0),
    dict(type='PackInputs', keys=['gt', 'mask']),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(type='IterTrainLoop', max_iters=1_000_003, val_interval=50_000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=50_000, max_keep_ckpts=5,
                                     save_best='PSNR', rule='greater'))
