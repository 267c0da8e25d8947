# AOT-GAN (Zeng et al., arXiv 2104.01431) on Places2 at 512 px: the official recipe
# (researchmm/AOT-GAN-for-Inpainting@2cd1afd src/utils/option.py + src/trainer/trainer.py).
#   tools/train.py configs/aotgan_places.py                  (batch 8 on one GPU, as the official default)
# On N GPUs keep the total batch of 8 (the official loader splits --batch_size over the GPUs):
#   tools/dist_train.sh configs/aotgan_places.py N --cfg-options train_dataloader.batch_size=$((8 / N))
# Data layout and the differences from the official step: docs/methods/aotgan.md.
_base_ = ['./_base_/default_runtime.py']

_img_size = 512
data_root = 'data/places365'
mask_root = 'data/pconv_masks/train'      # official --dir_mask/--mask_type pconv: NVIDIA irregular masks, white = hole
val_mask_root = 'data/pconv_masks/test'   # evaluation masks (e.g. one hole-ratio bucket of NVIDIA's test set)

_perceptual_layers = {'relu1_1': 1.0, 'relu2_1': 1.0, 'relu3_1': 1.0, 'relu4_1': 1.0, 'relu5_1': 1.0}
_style_layers = {'relu2_2': 1.0, 'relu3_4': 1.0, 'relu4_4': 1.0, 'relu5_2': 1.0}

model = dict(
    type='GANInpaintor',
    generator=dict(type='AOTGenerator', block_num=8, rates=(1, 2, 4, 8)),
    discriminator=dict(type='AOTDiscriminator'),
    # --rec_loss 1*L1+250*Style+0.1*Perceptual on the raw prediction vs the image (whole image, [-1, 1]);
    # VGG19 with torchvision's ImageNet weights ($IRKIT_WEIGHTS/vgg19-dcbb9e9d.pth), inputs (x+1)/2 then mean/std
    losses=[
        dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt'),
        dict(type='StyleLoss', loss_weight=250.0, layer_weights=_style_layers, vgg_type='vgg19',
             use_input_norm=True, range_norm=True, criterion='l1', pred='pred', target='gt'),
        dict(type='PerceptualLoss', loss_weight=0.1, layer_weights=_perceptual_layers, vgg_type='vgg19',
             use_input_norm=True, range_norm=True, criterion='l1', pred='pred', target='gt'),
    ],
    # --gan_type smgan, --adv_weight 0.01: D predicts the blurred hole mask on composites, 0 on real images
    gan_loss=dict(type='GANLoss', gan_type='smgan', loss_weight=0.01),
    disc_input='comp',            # D (and G's adversarial term) see comp = (1 - m) * img + m * pred
    step_order='g_then_d',        # G's adversarial loss against D before D's update, D on the detached comp
    disc_fake='detach',
    disc_grad_from_generator=True,  # the official step does not freeze D in G's backward: D's gradient
                                    # is grad(dis) + grad(0.01 * gen)
    ema=None,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1]
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')

# images: RandomResizedCrop(512) + RandomHorizontalFlip + ColorJitter(0.05, 0.05, 0.05, 0.05);
# masks: a random file of the mask folder, Resize(512, nearest), RandomHorizontalFlip, RandomRotation((0, 45), nearest)
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomResizedCrop', keys='gt', size=_img_size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
         interpolation='bilinear'),
    dict(type='RandomFlip', keys='gt', flip_ratio=0.5, direction='horizontal'),
    dict(type='ColorJitter', keys='gt', brightness=0.05, contrast=0.05, saturation=0.05, hue=0.05),
    dict(type='LoadRandomMask', mask_root=mask_root, key='mask'),
    dict(type='Resize', keys='mask', size=(_img_size, _img_size), interpolation='nearest'),
    dict(type='RandomFlip', keys='mask', flip_ratio=0.5, direction='horizontal'),
    # fill=1.0: pixels rotated in from outside are known (the official fill 0 on its 1 = hole masks)
    dict(type='RandomRotation', keys='mask', degrees=(0.0, 45.0), interpolation='nearest', fill=1.0),
    dict(type='PackInputs', keys=['gt', 'mask']),
]
# evaluation: 512 centre crops, one mask per image drawn from the evaluation mask folder with a fixed seed
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys='gt', crop_size=_img_size),
    dict(type='LoadRandomMask', mask_root=val_mask_root, key='mask', seed=2021),
    dict(type='Resize', keys='mask', size=(_img_size, _img_size), interpolation='nearest'),
    dict(type='PackInputs', keys=['gt', 'mask']),
]

train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365',
                 data_root=f'{data_root}/data_large', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365', data_root=f'{data_root}/val_large',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader

# official eval.py: mae, psnr, ssim (skimage, uint8 whole images), fid (pytorch-fid); irkit's MAE is the plain
# mean absolute error on [0, 1] (the official "mae" is sum|r - f| / sum(r + f)); FID needs the Inception
# weights $IRKIT_WEIGHTS/inception-2015-12-05.pt (docs/metrics.md)
val_evaluator = [dict(type='MAE'), dict(type='PSNR'), dict(type='SSIM'),
                 dict(type='FID', protocol='pytorch-fid')]  # official eval.py: pytorch-fid (covariance / (N - 1))
test_evaluator = val_evaluator

train_cfg = dict(type='IterTrainLoop', max_iters=1_000_000, val_interval=10_000)  # --iterations 1e6, --save_every 1e4
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# --lrg 1e-4 --lrd 1e-4 --beta1 0.5 --beta2 0.999
optim_wrapper = dict(
    constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),  # --print_every 10
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10_000, max_keep_ckpts=5,
                    save_best='FID', rule='less'),
)
randomness = dict(seed=2021)  # --seed 2021
