# PromptIR, all-in-one restoration (Potlapalli et al., NeurIPS 2023), official train.py /
# options.py: one model for denoising (sigma 15/25/50), deraining and dehazing.
# Data per epoch: BSD400 + WED clean images x3 per sigma (46,296), Rain100L train x120
# (24,000), RESIDE OTS x1 (72,135) = 142,431 samples; 128x128 crops, one of the 7
# non-identity flips/rotations; noisy inputs stored as truncated uint8.
# 4 GPUs x batch 8 (drop_last): 4,450 iterations per epoch, 120 epochs; AdamW 2e-4
# (weight decay 0.01, torch default), L1 loss; LinearWarmupCosineAnnealingLR(warmup 15,
# max 150 epochs) -- training stops at epoch 120.
# Train: tools/dist_train.sh configs/promptir_allinone.py 4
_base_ = ['./_base_/default_runtime.py']

_patch_size = 128
_iters_per_epoch = 4450  # 142,431 // 32
_warmup_iters = 15 * _iters_per_epoch
_total_iters = 120 * _iters_per_epoch  # 534,000
data_root = 'data/PromptIR'

model = dict(
    type='Restorer',
    generator=dict(type='PromptIR', inp_channels=3, out_channels=3, dim=48,
                   num_blocks=[4, 6, 6, 8], num_refinement_blocks=4, heads=[1, 2, 4, 8],
                   ffn_expansion_factor=2.66, bias=False, LayerNorm_type='WithBias',
                   decoder=True),
    losses=[dict(type='L1Loss', loss_weight=1.0)],
    pad_multiple=16,
    data_preprocessor=dict(type='DataPreprocessor'))


def _denoise_pipeline(sigma):  # noqa: E302 (helper, not a config key)
    return [
        dict(type='LoadImageFromFile', key='gt'),
        dict(type='RandomCrop', keys=['gt'], crop_size=_patch_size, pad_mode='reflect'),
        dict(type='RandomDihedral', keys=['gt'], exclude_identity=True),  # randint(1, 7)
        # clip(uint8 + randn * sigma, 0, 255).astype(uint8): truncated, as officially
        dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=sigma, quantize='truncate'),
        dict(type='PackInputs', keys=['lq', 'gt']),
    ]


paired_train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=_patch_size, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt'], exclude_identity=True),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataset = dict(
    type='AllInOneDataset',
    datasets=[
        dict(type='ImageFolderDataset', data_root=f'{data_root}/Train/Denoise',
             pipeline=_denoise_pipeline(15), task='denoise_15'),
        dict(type='ImageFolderDataset', data_root=f'{data_root}/Train/Denoise',
             pipeline=_denoise_pipeline(25), task='denoise_25'),
        dict(type='ImageFolderDataset', data_root=f'{data_root}/Train/Denoise',
             pipeline=_denoise_pipeline(50), task='denoise_50'),
        dict(type='PairedImageDataset', gt_root=f'{data_root}/Train/Derain/gt',
             lq_root=f'{data_root}/Train/Derain/rainy', filename_tmpl='rain-{}',
             gt_filename_tmpl='norain-{}', pipeline=paired_train_pipeline, task='derain'),
        dict(type='PairedImageDataset', gt_root=f'{data_root}/Train/Dehaze/original',
             lq_root=f'{data_root}/Train/Dehaze/synthetic', lq_suffix_sep='_',
             pipeline=paired_train_pipeline, task='dehaze'),
    ],
    tasks=['denoise_15', 'denoise_25', 'denoise_50', 'derain', 'dehaze'],
    repeats=[3, 3, 3, 120, 1])
train_dataloader = dict(
    batch_size=8, num_workers=16, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'), dataset=train_dataset)

# Evaluation as test.py / val_utils.compute_psnr_ssim: both images centre-cropped to a
# multiple of 16 (crop_img(base=16)), RGB metrics on the float output clipped to [0, 1]
# (no uint8 quantisation), averaged per image, per task. Test noise: truncated uint8,
# fixed per image. One task per run by default; the three test sets are named in `test_sets`
# (`tools/test.py ... --test-set all` scores all three), e.g.
#   --cfg-options test_dataloader.dataset.pipeline.2.sigma=50   (BSD68 at sigma 50)
test_noise_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CropToMultiple', keys=['gt'], multiple=16),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25, seed=0, quantize='truncate'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
test_paired_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='CropToMultiple', keys=['lq', 'gt'], multiple=16),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
bsd68_dataset = dict(type='ImageFolderDataset', data_root=f'{data_root}/test/denoise/bsd68',
                     pipeline=test_noise_pipeline, test_mode=True, task='denoise_25')
rain100l_dataset = dict(type='PairedImageDataset',
                        gt_root=f'{data_root}/test/derain/Rain100L/target',
                        lq_root=f'{data_root}/test/derain/Rain100L/input',
                        pipeline=test_paired_pipeline, test_mode=True, task='derain')
sots_dataset = dict(type='PairedImageDataset', gt_root=f'{data_root}/test/dehaze/target',
                    lq_root=f'{data_root}/test/dehaze/input', lq_suffix_sep='_',
                    pipeline=test_paired_pipeline, test_mode=True, task='dehaze')
test_sets = dict(bsd68=bsd68_dataset, rain100l=rain100l_dataset, sots=sots_dataset)

val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=rain100l_dataset)
test_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       collate_fn=dict(type='default_collate'), dataset=bsd68_dataset)
# skimage PSNR(data_range=1) on float outputs; SSIM here is the Gaussian-window one
# (PromptIR's skimage 0.19 SSIM uses a 7x7 uniform window with sample covariance)
val_evaluator = [dict(type='PSNR', quantize=False), dict(type='SSIM', quantize=False)]
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=5 * _iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.01))
# lr(e) = e * 2e-4 / 14 over the first 15 epochs, then 1e-4 * (1 + cos(pi (e - 15) / 135));
# stepped per iteration here (the official scheduler steps per epoch)
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=1e-3, begin=0, end=_warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup_iters, end=_total_iters,
         T_max=135 * _iters_per_epoch, eta_min=0.0),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=_iters_per_epoch,
                    max_keep_ckpts=5, save_best=None))
randomness = dict(seed=0, deterministic=False)
