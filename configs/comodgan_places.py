# Co-Mod-GAN (Zhao et al., ICLR 2021) on Places2 at 512 px: the official recipe
# (zsyzzsoft/co-mod-gan run_training.py --dataset=places2 --resolution=512 --total-kimg 50000 --num-gpus=8).
#   tools/dist_train.sh configs/comodgan_places.py 8          (8 GPUs x 4 images = batch 32)
# On N != 8 GPUs keep the batch of 32 with
#   --cfg-options train_dataloader.batch_size=$((32 / N))   (processed in rounds of model.batch_gpu=4)
# Released weights (the port's conversion of co-mod-gan-places2-050000.pkl): official format 'comodgan',
# see docs/methods/comodgan.md. Data layout: as configs/mat_places.py (data/places365/...).
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/places512_mat_masks.py']

num_gpus = 8                      # GPUs of the official run
batch_size_per_gpu = 4            # sched.minibatch_gpu_base
total_batch_size = num_gpus * batch_size_per_gpu  # 32 = sched.minibatch_size_base

_img_size = 512
_total_kimg = 50000               # Places2 command: --total-kimg 50000
_iters = _total_kimg * 1000 // total_batch_size   # 1,562,500 iterations at batch 32
_val_interval = 60 * 1000 // total_batch_size     # metrics every 10 ticks of 6 kimg (512 px) = 60 kimg

# Adam lr 0.002 (G and D), betas (0, 0.99), eps 1e-8, corrected for lazy regularisation as StyleGAN2 does:
# ratio = reg_interval / (reg_interval + 1); lr * ratio, beta ** ratio (G_reg_interval 4, D_reg_interval 16)
_base_lr = 0.002
_g_ratio = 4 / 5
_d_ratio = 16 / 17
data_root = 'data/places365'

model = dict(
    type='GANInpaintor',
    # G_main + G_synthesis_co_mod_gan defaults: w 512, dropout 0.5 on the global code (every call),
    # training-mode style mixing 0.5 and truncation psi 0.5 towards dlatent_avg (beta 0.995)
    generator=dict(type='CoModGANGenerator', resolution=_img_size),
    discriminator=dict(type='CoModGANDiscriminator', resolution=_img_size, mbstd_group_size=4),
    # G_masked_logistic_ns_l1 (l1_weight 0): softplus(-D(fake)); D_masked_logistic_r1: softplus(D(fake))
    # + softplus(-D(real)) + gamma / 2 * |grad D(real)|^2, gamma 10, lazy every 16 minibatches (x 16)
    gan_loss=dict(type='GANLoss', gan_type='logistic'),
    disc_losses=[dict(type='R1Penalty', gamma=10.0)],
    r1_interval=16,
    disc_input='pred',            # the generator composites itself: its output is what D sees
    step_order='g_then_d',        # G_train_op, then D_train_op (training_loop.py)
    disc_fake='recompute',        # the D loss draws its own latents and runs G again
    ema=dict(half_life_kimg=10, rampup=None),   # G_smoothing_kimg 10
    xflip=False,                  # no --mirror-augment for Places2
    batch_gpu=batch_size_per_gpu,
    val_seed=240,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1]
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')  # G and D step separately; grads averaged by the model

# Places365-Challenge high-resolution train images (~8 M; Co-Mod-GAN's data, MAT's Places_512 used the
# 1.8 M Standard set), read as JPEG and centre-cropped to 512 (tf.image.resize_with_crop_or_pad), no flip;
# masks: Co-Mod-GAN's RandomMask(512, hole_range=[0, 1])
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys=['gt'], crop_size=_img_size, pad_mode='constant'),
    dict(type='GenerateMATMask', key='mask', variant='comodgan'),
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
randomness = dict(seed=1000, diff_rank_seed=True)  # tf_config rnd.np_random_seed = 1000
