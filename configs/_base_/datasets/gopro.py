# GoPro motion deblurring (MPRNet / Restormer): test on GoPro test (1,111 pairs, 1280x720;
# HIDE, RealBlur-J/R use the same layout `<set>/{input,target}`).
# Scored like the official MATLAB scripts on saved uint8 PNGs, RGB, no crop. Note: MATLAB's
# ssim on an RGB array is a 3-D SSIM that no Python code reproduces; irkit reports the
# per-channel Gaussian SSIM (BasicSR convention), so SSIM differs slightly from the paper.
data_root = 'data/GoPro'

test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
gopro_test_dataset = dict(type='PairedImageDataset', gt_root=f'{data_root}/test/target',
                          lq_root=f'{data_root}/test/input', pipeline=test_pipeline,
                          test_mode=True)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=gopro_test_dataset)
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator
