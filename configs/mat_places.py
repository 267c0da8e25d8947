# MAT (Li et al., CVPR 2022) on Places365-Standard at 512 px: the official recipe.
#   tools/dist_train.sh configs/mat_places.py 8          (8 GPUs x 4 images = batch 32, as the paper)
# On N != 8 GPUs the total batch is 4 x N; keep 32 with
#   --cfg-options train_dataloader.batch_size=$((32 / N))   (processed in rounds of model.batch_gpu=4)
# Data layout: see docs/methods/mat.md (data/places365/{data_large,val_large,masks_val_512_*}).
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/places512_mat_masks.py']

num_gpus = 8                      # GPUs of the official run
batch_size_per_gpu = 4            # images per GPU and per forward (StyleGAN2-ADA --batch-gpu)
total_batch_size = num_gpus * batch_size_per_gpu  # 32 = MAT's --batch

_img_size = 512
_total_kimg = 50000               # places512 spec: 50,000 kimg
_iters = _total_kimg * 1000 // total_batch_size   # 1,562,500 iterations at batch 32
_val_interval = 200 * 1000 // total_batch_size    # fid36k5_full every 50 ticks of 4 kimg = 200 kimg

# Adam, base lr 1e-3, betas (0, 0.99), eps 1e-8, corrected for lazy regularisation as StyleGAN2-ADA does:
# ratio = reg_interval / (reg_interval + 1); lr * ratio, beta ** ratio (G_reg_interval 4, D_reg_interval 16)
_base_lr = 1e-3
_g_ratio = 4 / 5
_d_ratio = 16 / 17
data_root = 'data/places365'

model = dict(
    type='MATInpaintor',
    generator=dict(type='MATGenerator', z_dim=512, c_dim=0, w_dim=512, img_resolution=_img_size,
                   img_channels=3),
    discriminator=dict(type='MATDiscriminator', c_dim=0, img_resolution=_img_size, img_channels=3,
                       mbstd_group_size=8),  # train.py: --mbstd-group 8 -> min(8, 4 per GPU) = 4
    perceptual_loss=dict(type='MATPerceptualLoss', loss_weight=0.1),  # VGG19 conv4_4/conv5_4, pcp_ratio 0.1
    r1_gamma=10.0,
    d_reg_interval=16,
    style_mixing_prob=0.5,
    truncation_psi=0.5,
    ema_kimg=10.0,
    ema_rampup=None,
    xflip=True,                   # --mirror=True
    batch_gpu=batch_size_per_gpu,
    val_noise_mode='const',
    val_seed=240,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1]
)
# MAT steps G and D separately and averages gradients itself: no DDP around the whole model
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')  # scoped: mmengine's wrap_model looks in its root registry

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys=['gt'], crop_size=_img_size, pad_mode='reflect'),  # reflect-pad if < 512
    dict(type='GenerateMATMask', key='mask', variant='large'),  # RandomMask(512, hole_range=[0, 1])
    dict(type='PackInputs', keys=['gt', 'mask']),
]

train_dataloader = dict(
    batch_size=batch_size_per_gpu, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365',
                 data_root=f'{data_root}/data_large', pipeline=train_pipeline))


train_cfg = dict(type='IterTrainLoop', max_iters=_iters, val_interval=_val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=_base_lr * _g_ratio, betas=(0.0 ** _g_ratio, 0.99 ** _g_ratio), eps=1e-8)),
    discriminator=dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=_base_lr * _d_ratio, betas=(0.0 ** _d_ratio, 0.99 ** _d_ratio), eps=1e-8)),
)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=_val_interval, max_keep_ckpts=5,
                    save_best='FID', rule='less'),
)
custom_hooks = [dict(type='NonFiniteGuardHook', action='skip')]
randomness = dict(seed=0, diff_rank_seed=True)  # MAT seeds each rank with seed * num_gpus + rank
