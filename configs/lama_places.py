# LaMa (Suvorov et al., WACV 2022): big-lama on Places365-Challenge, 256 px crops (configs/training/big-lama.yaml
# of advimman/lama@786f5936). lama-fourier (Places365-Standard, 9 blocks):
#   --cfg-options model.generator.n_blocks=9 train_dataloader.dataset.benchmark=places365 \
#                 train_dataloader.dataset.data_root=data/places365/data_large
#   tools/dist_train.sh configs/lama_places.py 8
# Data layout: docs/methods/lama.md (data/places365_challenge/data_large, data/places365/val_large).
# Needs $IRKIT_WEIGHTS/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth (ResNetPL) to train.
_base_ = ['./_base_/default_runtime.py']

batch_size_per_gpu = 10           # data.batch_size (abl-04-256-mh-dist.yaml), per GPU under DDP
_crop = 256                       # data.train.out_size
_epochs = 40                      # trainer max_epochs
_iters_per_epoch = 25000          # trainer limit_train_batches (per process)
_iters = _epochs * _iters_per_epoch
data_root = 'data'

model = dict(
    type='GANInpaintor',
    # generator: ffc_resnet, big-lama.yaml (18 blocks; global ratio 0.75 from the last downsampling layer)
    generator=dict(type='FFCResNetGenerator', input_nc=4, output_nc=3, ngf=64, n_downsampling=3, n_blocks=18,
                   add_out_act='sigmoid',
                   init_conv_kwargs=dict(ratio_gin=0, ratio_gout=0, enable_lfu=False),
                   downsample_conv_kwargs=dict(ratio_gin=0, ratio_gout=0, enable_lfu=False),
                   resnet_conv_kwargs=dict(ratio_gin=0.75, ratio_gout=0.75, enable_lfu=False)),
    # discriminator: pix2pixhd_nlayer.yaml
    discriminator=dict(type='NLayerDiscriminator', input_nc=3, ndf=64, n_layers=4),
    # adversarial kind r1 (NonSaturatingWithR1): G softplus(-D(pred)) x 10; D softplus(-D(real)) +
    # [hole: softplus(D(fake)), known pixels of the fake: softplus(-D(fake))] (mask resized nearest)
    gan_loss=dict(type='GANLoss', gan_type='nonsaturating', loss_weight=10.0, mask_as_fake_target=True),
    disc_losses=[dict(type='R1Penalty', gamma=0.002)],   # gp_coef 0.001 * |grad_real D|^2 = gamma / 2
    losses=[
        # l1: weight_known 10, weight_missing 0, mean over all pixels (masked_l1_loss)
        dict(type='L1Loss', loss_weight=10.0, pred='pred', target='gt', region='known', normalize='all'),
        # resnet_pl: weight 30 on the raw prediction; the encoder's BN uses batch statistics as in
        # LaMa's Lightning training (see ResNetPL)
        dict(type='ResNetPL', loss_weight=30.0, batch_stats=True),
        # feature_matching: weight 100, no mask
        dict(type='FeatureMatchingLoss', loss_weight=100.0),
    ],
    disc_input='pred',            # image_to_discriminator: predicted_image (the raw output)
    # Lightning: training_step(optimizer 0) = generator forward + G step; training_step(optimizer 1) =
    # a new generator forward (the updated G, no gradient) + D step
    step_order='g_then_d', disc_fake='recompute',
    data_preprocessor=dict(type='DataPreprocessor'),   # images stay in [0, 1] (the generator's range)
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')

# abl-04-256-mh-dist: random 256 crops + horizontal flip, LaMa's training masks (irregular strokes + boxes).
# LaMa's 'distortions' augmentations (perspective, affine scale 0.7-1.3 / rotate +-40 / shear, optical
# distortion, CLAHE, brightness/contrast, HSV) are not reproduced: see docs/methods/lama.md.
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys=['gt'], crop_size=_crop, pad_mode='reflect'),
    dict(type='RandomFlip', keys=['gt'], direction='horizontal'),
    dict(type='GenerateLaMaMask', key='mask', variant='train'),
    dict(type='PackInputs', keys=['gt', 'mask']),
]
# evaluation: 512 centre crops of Places365 val_large with LaMa's thick 512 masks fixed per image
# (variant='thin_512' / 'medium_512' for the other sets)
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys=['gt'], crop_size=512),
    dict(type='GenerateLaMaMask', key='mask', variant='thick_512', seed=0),
    dict(type='PackInputs', keys=['gt', 'mask']),
]

train_dataloader = dict(
    batch_size=batch_size_per_gpu, num_workers=3, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365-challenge',
                 data_root=f'{data_root}/places365_challenge/data_large', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=3, persistent_workers=False,   # data.val_batch_size
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365',
                 data_root=f'{data_root}/places365/val_large', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader

# LaMa reports FID, LPIPS (VGG) and SSIM on the composited images; weights in $IRKIT_WEIGHTS
val_evaluator = [dict(type='FID', protocol='pytorch-fid'), dict(type='LPIPS', net='vgg'), dict(type='SSIM')]
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=_iters, val_interval=_iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# default_optimizers.yaml: Adam G 1e-3, D 1e-4 (default betas); trainer gradient_clip_val 1 on each step
optim_wrapper = dict(
    constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3), clip_grad=dict(max_norm=1.0)),
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4), clip_grad=dict(max_norm=1.0)),
)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=250),           # log_every_n_steps
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=_iters_per_epoch, max_keep_ckpts=5,
                    save_best='FID', rule='less'),
)
custom_hooks = [dict(type='NonFiniteGuardHook', action='skip')]
randomness = dict(seed=0, diff_rank_seed=True)
