# Restormer, Gaussian colour denoising (Zamir et al., CVPR 2022), official
# GaussianColorDenoising_Restormer.yml (blind): BiasFree LayerNorm, 300k iterations, AdamW
# 3e-4 (wd 1e-4), grad-norm clip 0.01, constant lr for 92k then cosine to 1e-6, L1 loss,
# progressive patches 128 -> 384, mixup (Beta(1.2, 1.2), half the iterations), 8 GPUs.
_base_ = ['./_base_/models/restormer.py', './_base_/schedules/restormer_300k.py']

model = dict(generator=dict(LayerNorm_type='BiasFree'))

# DFWB = DIV2K + Flickr2K + WaterlooED + BSD400 cut into 512px patches (overlap 96).
# Blind model: sigma ~ U[0, 50] per image; the non-blind models use a constant sigma
# (--cfg-options train_pipeline.3.sigma=15 and train_dataloader.dataset.pipeline.3.sigma=15).
# Noise: randn * sigma / 255 added to the float image, not clipped.
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys=['gt'], crop_size=384, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['gt']),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=(0, 50), clip=False),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(dataset=dict(_delete_=True, type='ImageFolderDataset', data_root='data/DFWB',
                                     pipeline=train_pipeline))

# Test: CBSD68 (also Kodak24, McMaster, Urban100) at sigma 15 / 25 / 50 (default 25:
# --cfg-options test_dataloader.dataset.pipeline.1.sigma=50). Noise fixed per image
# (seeded), not clipped; PSNR on the uint8-rounded output, no crop, as
# evaluate_gaussian_*_denoising.py (the paper reports PSNR only).
_sigma_test = 25
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=_sigma_test, seed=0, clip=False),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root='data/CBSD68',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator

custom_hooks = [
    # progressive learning: (iterations, patch, batch per GPU) = (92k, 128, 8), (64k, 160, 5),
    # (48k, 192, 4), (36k, 256, 2), (36k, 320, 1), (24k, 384, 1)
    dict(type='ProgressivePatchHook', iters=[92000, 64000, 48000, 36000, 36000, 24000],
         gt_sizes=[128, 160, 192, 256, 320, 384], mini_batch_sizes=[8, 5, 4, 2, 1, 1]),
    dict(type='MixUpHook', alpha=1.2, per_sample=False, identity_prob=0.5),  # denoising only
    dict(type='NonFiniteGuardHook', action='skip'),
    dict(type='VisualizationHook', max_samples=4),
]
