# MPRNet, real denoising on SIDD (Zamir et al., CVPR 2021), official Denoising recipe:
# 80 epochs of SIDD-Medium patches (320 images x 300 patches of 256px = 96,000) at batch 16,
# 128x128 crops, Adam 2e-4 (weight decay 1e-8), 3 warm-up epochs then cosine with
# T_max = 80 - 3 + 40 epochs (so the lr never reaches 1e-6), Charbonnier over the 3 stages
# (no edge loss), MixUp (Beta(0.6, 0.6), one lambda per sample) after epoch 5.
# Test: the 1,280 SIDD validation blocks, float outputs (see _base_/datasets/sidd.py).
_base_ = [
    './_base_/models/mprnet.py', './_base_/datasets/sidd.py',
    './_base_/schedules/mprnet_adam_warmup_cosine.py'
]

_iters_per_epoch = 6000  # 96,000 patches / 16
_warmup_iters = 3 * _iters_per_epoch
_total_iters = 80 * _iters_per_epoch  # 480,000

model = dict(
    generator=dict(n_feat=80, scale_unetfeats=48, scale_orsnetfeats=32),
    # official: Charbonnier(clamp(restored, 0, 1), target) per stage, no edge loss
    losses=[dict(type='CharbonnierLoss', loss_weight=1.0, eps=1e-3)],
    clamp_train_outputs=True)
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=128, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(dataset=dict(gt_root='data/SIDD/train/target',
                                     lq_root='data/SIDD/train/input', pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-8))
train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=_iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=1e-3, begin=0, end=_warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup_iters, end=_total_iters,
         T_max=(80 - 3 + 40) * _iters_per_epoch, eta_min=1e-6),
]
custom_hooks = [
    dict(type='MixUpHook', alpha=0.6, per_sample=True, start_iter=5 * _iters_per_epoch),
    dict(type='NonFiniteGuardHook', action='skip'),
    dict(type='VisualizationHook', max_samples=4),
]
