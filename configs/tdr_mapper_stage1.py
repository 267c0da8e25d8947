# TDR stage 1 (Lin et al., CVPR 2024; official scripts/train/main_train_i2t_mapping.py):
# train the image-to-text Mapper (20 words from CLIP ViT-H/14 tokens) and its copies of the
# SD 2.x-base cross-attention key/value projections, on clean images, with the noise-
# prediction MSE of the frozen UNet. Official: AdamW, lr 1e-6 scaled by grad-accumulation 4
# x batch 4 x 4 GPUs = 6.4e-5, weight decay 1e-2, constant lr, grad-norm clip 1, 200k steps,
# random 512 crops (CLIP sees the same crop resized to 224).
# Needs local weights: _sd_root (diffusers SD-2.1-base folder), _clip_root (transformers
# CLIPVisionModel ViT-H/14 folder) and the 'diffusion' extra. Train with 4 GPUs x batch 4:
#   tools/dist_train.sh configs/tdr_mapper_stage1.py 4
# Export the release layout (mapper.pt): torch.save(model.release_state_dict(), 'mapper.pt'),
# or load irkit checkpoints directly (their 'mapper.' prefix is understood).
_base_ = ['./_base_/default_runtime.py']

_sd_root = 'weights/stable-diffusion-2-1-base'
_clip_root = 'weights/clip-vit-huge-patch14'
_total_iters = 200000
_accum = 4

model = dict(
    type='TDRMapperModel', stage='i2t', sd_path=_sd_root, clip_path=_clip_root,
    mapper=dict(type='Mapper', input_dim=1280, output_dim=1024, num_words=20),
    gt_key='gt', clip_key='gt', val_steps=100, guidance_scale=5.0, seed=42, resolution=512,
    data_preprocessor=dict(type='DataPreprocessor'))

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys=['gt'], crop_size=512, pad_mode='reflect'),
    dict(type='PackInputs', keys=['gt']),
]
val_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys=['gt'], crop_size=512),
    dict(type='PackInputs', keys=['gt']),
]
train_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root='data/tdr/clean', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root='data/tdr/val_clean', pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
# the render vs. the (resized) input: a sanity check of the reconstruction, not a benchmark
val_evaluator = [dict(type='PSNR')]
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters * _accum, val_interval=5000 * _accum)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper', accumulative_counts=_accum,
    optimizer=dict(type='AdamW', lr=1e-6 * 4 * 4 * _accum, betas=(0.9, 0.999), weight_decay=1e-2,
                   eps=1e-8),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500 * _accum, max_keep_ckpts=5,
                    save_best=None))
custom_hooks = [dict(type='NonFiniteGuardHook', action='skip')]
