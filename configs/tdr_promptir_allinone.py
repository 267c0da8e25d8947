# TDR + PromptIR, all-in-one restoration (Lin et al., CVPR 2024; official
# options/train_restoration/001_promptir_all_in_one_restoration.yml): one model for Gaussian
# denoising (sigma 15/25/50), deraining (Rain100L) and dehazing (RESIDE OTS), guided by the
# precomputed guidance images (tools/tdr_generate_guidance.py, one 512x512 PNG per image named
# like it) in data/PromptIR/Train/guidance/{denoise,derain,dehaze} (test: .../test/guidance/*).
# Stage 3 recipe: 384x384 crops, 8 flips/rotations (identity included), L1, AdamW 2e-4 with
# 1e-4 for the `masa*` reference encoder/fusion parameters, 1M iterations, 4 GPUs x batch 8.
# The release draws one of the five settings uniformly per sample; the repeats below give each
# setting about the same share (~72k samples per epoch each). Noise as in the release: randn *
# sigma/255 added to the float image, not clipped or quantised.
# The reference crop of each training patch is picked by a frozen DINOv2 ViT-B/14
# (dinov2_vitb14_pretrain.pth in $IRKIT_WEIGHTS; without it: --cfg-options model.ref_matcher=None
# to use the whole guidance image).
# The released yml sets decoder=False, which cannot run (PromptIR's up4_3 gets the 8*dim latent);
# this config uses decoder=True, the published PromptIR (69.56 M parameters; 66.08 M for the
# released decoder=False model).
# Train: tools/dist_train.sh configs/tdr_promptir_allinone.py 4
_base_ = ['./_base_/default_runtime.py', './_base_/schedules/tdr_restoration_1m.py']

_patch_size = 384
data_root = 'data/PromptIR'
_tasks = ['denoise_15', 'denoise_25', 'denoise_50', 'derain', 'dehaze']
# the same entries for every task, so that mixed-task batches collate
_train_meta_keys = ['key', 'task', 'gt_path']

model = dict(
    type='RefRestorer',
    generator=dict(type='PromptIRRefFusion', inp_channels=3, out_channels=3, dim=48,
                   num_blocks=[4, 6, 6, 8], num_refinement_blocks=4, heads=[1, 2, 4, 8],
                   ffn_expansion_factor=2.66, bias=False, LayerNorm_type='WithBias', decoder=True,
                   nf=48, ext_n_blocks=[4, 4, 4, 4], reffusion_n_blocks=[2, 2, 2, 2],
                   reffusion_n_blocks_middle=1, scale=1, num_nbr=1, psize=3, lr_block_size=8,
                   ref_down_block_size=1.5, dilations=[1, 2, 3]),
    losses=[dict(type='L1Loss', loss_weight=1.0, reduction='mean')],
    ref_matcher=dict(type='DinoVisionTransformer', img_size=518, patch_size=14, embed_dim=768,
                     depth=12, num_heads=12, init_values=1.0,
                     pretrained='dinov2_vitb14_pretrain.pth'),
    ref_matcher_multiple=14,
    pad_multiple=1,  # the arch zero-pads internally (to a multiple of 64)
    data_preprocessor=dict(type='DataPreprocessor'))


def _denoise_pipeline(sigma):  # noqa: E302 (helper, not a config key)
    return [
        dict(type='LoadImageFromFile', key='gt'),
        dict(type='RandomCrop', keys=['gt'], crop_size=_patch_size, pad_mode='reflect'),
        dict(type='RandomDihedral', keys=['gt']),  # randint(0, 7): identity included
        dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=sigma),
        dict(type='PackInputs', keys=['lq', 'gt'], meta_keys=_train_meta_keys),
    ]


paired_train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=_patch_size, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt'], meta_keys=_train_meta_keys),
]
train_dataset = dict(
    type='GuidanceDataset',
    # guidance named after the sample key (the clean image for denoising, the LQ file otherwise;
    # Rain100L's key is the number: for rain-N.png names set ref_name={'derain': '{lq_stem}'});
    # the three noise levels share the denoise guidance, as in the release
    ref_root={'denoise_15': f'{data_root}/Train/guidance/denoise',
              'denoise_25': f'{data_root}/Train/guidance/denoise',
              'denoise_50': f'{data_root}/Train/guidance/denoise',
              'derain': f'{data_root}/Train/guidance/derain',
              'dehaze': f'{data_root}/Train/guidance/dehaze'},
    dataset=dict(
        type='AllInOneDataset',
        datasets=[
            dict(type='ImageFolderDataset', data_root=f'{data_root}/Train/Denoise',
                 pipeline=_denoise_pipeline(15), task='denoise_15'),
            dict(type='ImageFolderDataset', data_root=f'{data_root}/Train/Denoise',
                 pipeline=_denoise_pipeline(25), task='denoise_25'),
            dict(type='ImageFolderDataset', data_root=f'{data_root}/Train/Denoise',
                 pipeline=_denoise_pipeline(50), task='denoise_50'),
            dict(type='PairedImageDataset', gt_root=f'{data_root}/Train/Derain/gt',
                 lq_root=f'{data_root}/Train/Derain/rainy', filename_tmpl='rain-{}',
                 gt_filename_tmpl='norain-{}', pipeline=paired_train_pipeline, task='derain'),
            dict(type='PairedImageDataset', gt_root=f'{data_root}/Train/Dehaze/original',
                 lq_root=f'{data_root}/Train/Dehaze/synthetic', lq_suffix_sep='_',
                 pipeline=paired_train_pipeline, task='dehaze'),
        ],
        tasks=_tasks,
        repeats=[14, 14, 14, 360, 1]))  # 5,144 x 14, 200 x 360, 72,135 x 1
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'), dataset=train_dataset)

# Evaluation as the release: full images, RGB PSNR/SSIM, no crop, the whole guidance image as
# the reference. Test noise: seeded per image (np.random.seed(0)), not clipped. One task per run,
# e.g. --cfg-options test_dataloader.dataset.dataset.pipeline.1.sigma=50 (BSD68 at sigma 50).
test_noise_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25, seed=0),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
test_paired_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
bsd68_dataset = dict(
    type='GuidanceDataset', ref_root=f'{data_root}/test/guidance/bsd68',
    dataset=dict(type='ImageFolderDataset', data_root=f'{data_root}/test/denoise/bsd68',
                 pipeline=test_noise_pipeline, test_mode=True, task='denoise_25'))
rain100l_dataset = dict(
    type='GuidanceDataset', ref_root=f'{data_root}/test/guidance/rain100l',
    dataset=dict(type='PairedImageDataset', gt_root=f'{data_root}/test/derain/Rain100L/target',
                 lq_root=f'{data_root}/test/derain/Rain100L/input', pipeline=test_paired_pipeline,
                 test_mode=True, task='derain'))
sots_dataset = dict(
    type='GuidanceDataset', ref_root=f'{data_root}/test/guidance/sots',
    dataset=dict(type='PairedImageDataset', gt_root=f'{data_root}/test/dehaze/target',
                 lq_root=f'{data_root}/test/dehaze/input', lq_suffix_sep='_',
                 pipeline=test_paired_pipeline, test_mode=True, task='dehaze'))
test_sets = dict(bsd68=bsd68_dataset, rain100l=rain100l_dataset, sots=sots_dataset)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=rain100l_dataset)
test_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       collate_fn=dict(type='default_collate'), dataset=bsd68_dataset)
val_evaluator = [dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1000),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'))
randomness = dict(seed=100, deterministic=False)
