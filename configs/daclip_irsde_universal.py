# Universal-IR (DA-CLIP + IR-SDE, Luo et al., ICLR 2024), stage 2: one ConditionalUNet for ten
# degradations, conditioned on the frozen DA-CLIP's content (cross-attention) and degradation
# (prompt) embeddings. Official options/train.yml: IR-SDE max_sigma 50, T 100, cosine, eps 0.005;
# nf 64, ch_mult [1, 2, 4, 8], context_dim 512 (48,975,747 parameters); batch 16, 256 crops with
# flips/rotations, balanced over the 10 types; AdamW 2e-4 (0.9, 0.99), no weight decay;
# cosine annealing over 700k iterations to 1e-6; L1 matching loss; EMA 0.995 every 10 steps.
# Test (options/test.yml): posterior sampling, 100 steps from LQ + 50/255 noise; PSNR/SSIM on
# RGB uint8 with a 4-pixel border crop, LPIPS (AlexNet) on the full image; FID per set.
# Files: $IRKIT_WEIGHTS/daclip_ViT-B-32.pt (hf weblzw/daclip-uir-ViT-B-32-irsde);
#        data/universal/{train,val}/<degradation>/{LQ,GT}.
# Test the release: model.pretrained='universal-ir.pth' (see docs/methods/daclip.md).
_base_ = ['./_base_/default_runtime.py']

data_root = 'data/universal'
_degradations = ['motion-blurry', 'hazy', 'jpeg-compressed', 'low-light', 'noisy', 'raindrop',
                 'rainy', 'shadowed', 'snowy', 'uncompleted']
_total_iters = 700000

model = dict(
    type='SDERestorer',
    generator=dict(type='ConditionalUNet', in_nc=3, out_nc=3, nf=64, ch_mult=[1, 2, 4, 8],
                   context_dim=512, use_degra_context=True, use_image_context=True),
    sde=dict(max_sigma=50, T=100, schedule='cosine', eps=0.005),
    daclip=dict(type='DaCLIP', model_name='ViT-B-32', pretrained='daclip_ViT-B-32.pt'),
    loss_type='l1', loss_weight=1.0, sampling_mode='posterior',
    ema_decay=0.995, ema_update_every=10, ema_update_after_step=100, test_with_ema=True,
    pretrained=None,
    data_preprocessor=dict(type='DataPreprocessor'))

train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='MixedDegradationDataset', data_root=f'{data_root}/train',
                 degradations=_degradations, patch_size=256))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='MixedDegradationDataset', data_root=f'{data_root}/val',
                 degradations=_degradations, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', crop_border=4), dict(type='SSIM', crop_border=4)]
test_evaluator = [dict(type='PSNR', crop_border=4), dict(type='SSIM', crop_border=4),
                  dict(type='LPIPS', net='alex')]

train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.99), weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=_total_iters, T_max=_total_iters,
         eta_min=1e-6),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=200),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'))
randomness = dict(seed=0, deterministic=False)
