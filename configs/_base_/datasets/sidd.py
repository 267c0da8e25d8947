# SIDD real denoising (MPRNet / Restormer): validation = the 1,280 SIDD validation blocks
# (256x256, from ValidationNoisyBlocksSrgb.mat / ValidationGtBlocksSrgb.mat exported as PNG
# to `val/{input,target}`, see docs/datasets.md).
# evaluate_SIDD.m scores the single-precision [0,1] outputs with MATLAB psnr/ssim: irkit
# scores the float output without uint8 quantisation (quantize=False), RGB, no crop.
data_root = 'data/SIDD'

test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
sidd_val_dataset = dict(type='PairedImageDataset', gt_root=f'{data_root}/val/target',
                        lq_root=f'{data_root}/val/input', pipeline=test_pipeline, test_mode=True)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=sidd_val_dataset)
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', quantize=False), dict(type='SSIM', quantize=False)]
test_evaluator = val_evaluator
