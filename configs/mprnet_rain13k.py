# MPRNet, deraining on Rain13K (Zamir et al., CVPR 2021), official Deraining recipe:
# 250 epochs of Rain13K (13,712 pairs) at batch 16, 256x256 crops, Adam 2e-4, 3 warm-up
# epochs then cosine to 1e-6, Charbonnier + 0.05 x edge loss over the 3 stages.
# Test: Test100/Rain100H/Rain100L/Test2800/Test1200 on MATLAB's rounded Y channel.
_base_ = [
    './_base_/models/mprnet.py', './_base_/datasets/rain13k.py',
    './_base_/schedules/mprnet_adam_warmup_cosine.py'
]

_iters_per_epoch = 857  # ceil(13712 / 16)
_warmup_iters = 3 * _iters_per_epoch
_total_iters = 250 * _iters_per_epoch  # 214,250

model = dict(generator=dict(n_feat=40, scale_unetfeats=20, scale_orsnetfeats=16))
train_dataloader = dict(dataset=dict(gt_root='data/Rain13K/train/target',
                                     lq_root='data/Rain13K/train/input'))
train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=5 * _iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=1e-3, begin=0, end=_warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup_iters, end=_total_iters,
         T_max=_total_iters - _warmup_iters, eta_min=1e-6),
]
