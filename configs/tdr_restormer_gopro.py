# TDR + Restormer, GoPro motion deblurring (Lin et al., CVPR 2024; official
# options/train_restoration/003_restormer_single_image_motion_deblurring.yml).
# Needs the guidance images first (tools/tdr_generate_guidance.py on the LQ folders, one
# 512x512 PNG per image, named like the input): data/GoPro/{train,test}/guidance.
# Stage 3 recipe: 384x384 LQ/GT crops with the 8 flips/rotations, L1, AdamW 2e-4 with 1e-4 for
# the `masa*` reference encoder/fusion parameters, 1M iterations, 4 GPUs x batch 8. The reference
# crop of each training patch is picked by a frozen DINOv2 ViT-B/14 (dinov2_vitb14_pretrain.pth
# in $IRKIT_WEIGHTS; without it: --cfg-options model.ref_matcher=None to use the whole guidance).
# RestormerRefFusion with these arguments: 60,096,138 parameters (the paper's 60.1 M).
# Train: tools/dist_train.sh configs/tdr_restormer_gopro.py 4
_base_ = [
    './_base_/default_runtime.py', './_base_/datasets/tdr_gopro.py',
    './_base_/schedules/tdr_restoration_1m.py'
]

model = dict(
    type='RefRestorer',
    generator=dict(type='RestormerRefFusion', inp_channels=3, out_channels=3, dim=48,
                   num_blocks=[4, 6, 6, 8], num_refinement_blocks=4, heads=[1, 2, 4, 8],
                   ffn_expansion_factor=2.66, bias=False, LayerNorm_type='WithBias',
                   dual_pixel_task=False, nf=48, ext_n_blocks=[4, 4, 4, 4],
                   reffusion_n_blocks=[2, 2, 2, 2], reffusion_n_blocks_middle=1, scale=1,
                   num_nbr=1, psize=3, lr_block_size=8, ref_down_block_size=1.5,
                   dilations=[1, 2, 3]),
    losses=[dict(type='L1Loss', loss_weight=1.0, reduction='mean')],
    ref_matcher=dict(type='DinoVisionTransformer', img_size=518, patch_size=14, embed_dim=768,
                     depth=12, num_heads=12, init_values=1.0,
                     pretrained='dinov2_vitb14_pretrain.pth'),
    ref_matcher_multiple=14,
    pad_multiple=1,  # the arch zero-pads internally (to a multiple of 64)
    data_preprocessor=dict(type='DataPreprocessor'))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1000),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=5,
                    save_best='PSNR', rule='greater'))
randomness = dict(seed=100, deterministic=False)
