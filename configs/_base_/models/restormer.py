# Restormer's shared training recipe (official *_Restormer.yml): the WithBias RGB arch, L1 loss,
# 384px crops + 8 flips/rotations, progressive patches, hooks. Task configs add their dataset and
# schedule bases, set train_dataloader.dataset roots and override what differs (BiasFree
# LayerNorm and MixUp for denoising, 1 channel for grey, their own pipelines).
_base_ = ['../default_runtime.py']

model = dict(
    type='Restorer',
    generator=dict(type='Restormer', inp_channels=3, out_channels=3, dim=48,
                   num_blocks=[4, 6, 6, 8], num_refinement_blocks=4, heads=[1, 2, 4, 8],
                   ffn_expansion_factor=2.66, bias=False, LayerNorm_type='WithBias',
                   dual_pixel_task=False),
    losses=[dict(type='L1Loss', loss_weight=1.0, reduction='mean')],
    pad_multiple=8,
    data_preprocessor=dict(type='DataPreprocessor'))

# the loader crops the largest progressive patch (384) at the largest per-GPU batch (8);
# ProgressivePatchHook then sub-samples the batch and sub-crops the patch per iteration
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=384, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt']),  # randint(0, 7): 8 modes incl. identity
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='PairedImageDataset', gt_root=None, lq_root=None, pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1000),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'))
custom_hooks = [
    # progressive learning: (iterations, patch, batch per GPU) = (92k, 128, 8), (64k, 160, 5),
    # (48k, 192, 4), (36k, 256, 2), (36k, 320, 1), (24k, 384, 1)
    dict(type='ProgressivePatchHook', iters=[92000, 64000, 48000, 36000, 36000, 24000],
         gt_sizes=[128, 160, 192, 256, 320, 384], mini_batch_sizes=[8, 5, 4, 2, 1, 1]),
    dict(type='NonFiniteGuardHook', action='skip'),
    dict(type='VisualizationHook', max_samples=4),
]
randomness = dict(seed=100, deterministic=False)
