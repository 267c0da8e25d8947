# Restormer, dual-pixel defocus deblurring (Zamir et al., CVPR 2022), official
# DefocusDeblur_DualPixel_16bit_Restormer.yml: DPDD 16-bit 512px crops, left+right views
# as a 6-channel input (dual_pixel_task=True: no global residual), 300k iterations, AdamW
# 3e-4 (wd 1e-4), grad-norm clip 0.01, constant lr for 92k then cosine to 1e-6, L1 loss,
# progressive patches 128 -> 384, 8 GPUs x batch 8 -> 1.
_base_ = [
    './_base_/models/restormer.py', './_base_/datasets/dpdd_dual.py',
    './_base_/schedules/restormer_300k.py'
]

model = dict(generator=dict(inp_channels=6, dual_pixel_task=True))

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='unchanged'),
    dict(type='LoadImageFromFile', key='lq_l', color_type='unchanged'),
    dict(type='LoadImageFromFile', key='lq_r', color_type='unchanged'),
    dict(type='ConcatChannels', keys=['lq_l', 'lq_r'], out_key='lq'),  # 6-channel input
    dict(type='PairedRandomCrop', gt_patch_size=384, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='DualPixelDataset', gt_root='data/DPDD/train/target_crops',
                 lq_l_root='data/DPDD/train/inputL_crops',
                 lq_r_root='data/DPDD/train/inputR_crops', pipeline=train_pipeline))

custom_hooks = [
    # progressive learning: (iterations, patch, batch per GPU) = (92k, 128, 8), (64k, 160, 5),
    # (48k, 192, 4), (36k, 256, 2), (36k, 320, 1), (24k, 384, 1)
    dict(type='ProgressivePatchHook', iters=[92000, 64000, 48000, 36000, 36000, 24000],
         gt_sizes=[128, 160, 192, 256, 320, 384], mini_batch_sizes=[8, 5, 4, 2, 1, 1]),
    dict(type='NonFiniteGuardHook', action='skip'),
    # the 6-channel left|right input is no image: show output | target only
    dict(type='VisualizationHook', max_samples=4, keys=['pred', 'gt']),
]
