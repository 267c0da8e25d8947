# MPRNet, motion deblurring on GoPro (Zamir et al., CVPR 2021), official Deblurring recipe:
# 3000 epochs of GoPro train (2,103 pairs) at batch 16 (4 GPUs x 4), 256x256 crops, Adam 2e-4,
# 3 warm-up epochs then cosine to 1e-6, Charbonnier + 0.05 x edge loss over the 3 stages.
# Test: GoPro test, RGB PSNR/SSIM on uint8 outputs (see _base_/datasets/gopro.py).
# Train: tools/dist_train.sh configs/mprnet_gopro.py 4
_base_ = [
    './_base_/models/mprnet.py', './_base_/datasets/gopro.py',
    './_base_/schedules/mprnet_adam_warmup_cosine.py'
]

_iters_per_epoch = 132  # ceil(2103 / 16), the official loader keeps the last partial batch
_warmup_iters = 3 * _iters_per_epoch
_total_iters = 3000 * _iters_per_epoch  # 396,000

model = dict(generator=dict(n_feat=96, scale_unetfeats=48, scale_orsnetfeats=32))
train_dataloader = dict(dataset=dict(gt_root='data/GoPro/train/target',
                                     lq_root='data/GoPro/train/input'))
train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=20 * _iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=1e-3, begin=0, end=_warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup_iters, end=_total_iters,
         T_max=_total_iters - _warmup_iters, eta_min=1e-6),
]
