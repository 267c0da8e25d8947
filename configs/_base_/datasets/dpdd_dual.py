# DPDD dual-pixel defocus deblurring (Restormer): the two sub-aperture views `inputL`,
# `inputR` (16-bit PNGs) stacked into a 6-channel input, target `target`.
# Needs a dataset listing the three roots (DualPixelDataset) and a channel concatenation
# (ConcatChannels) from the data layer.
data_root = 'data/DPDD'

# DPDD test (combined indoor + outdoor scenes, 76 images): PSNR, SSIM and MAE on the float
# outputs (the official script also reports LPIPS; add dict(type='LPIPS') with its weights).
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='unchanged'),
    dict(type='LoadImageFromFile', key='lq_l', color_type='unchanged'),
    dict(type='LoadImageFromFile', key='lq_r', color_type='unchanged'),
    dict(type='ConcatChannels', keys=['lq_l', 'lq_r'], out_key='lq'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
dpdd_test_dataset = dict(type='DualPixelDataset', gt_root=f'{data_root}/test/target',
                         lq_l_root=f'{data_root}/test/inputL', lq_r_root=f'{data_root}/test/inputR',
                         pipeline=test_pipeline, test_mode=True)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=dpdd_test_dataset)
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', quantize=False), dict(type='SSIM', quantize=False),
                 dict(type='MAE')]
test_evaluator = val_evaluator
