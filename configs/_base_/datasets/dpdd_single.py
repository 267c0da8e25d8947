# DPDD single-image defocus deblurring (Restormer): the centre view `inputC` vs `target`,
# `test/{inputC,target}`. The files are 16-bit PNGs; test_single_image_defocus_deblur.py
# reads them with cv2.imread's default flag (high byte) / 255: as_8bit=True.
data_root = 'data/DPDD'

# DPDD test (combined indoor + outdoor scenes, 76 images): PSNR, SSIM and MAE on the float
# outputs (the official script also reports LPIPS; add dict(type='LPIPS') with its weights).
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt', as_8bit=True),
    dict(type='LoadImageFromFile', key='lq', as_8bit=True),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
dpdd_test_dataset = dict(type='PairedImageDataset', gt_root=f'{data_root}/test/target',
                         lq_root=f'{data_root}/test/inputC', pipeline=test_pipeline,
                         test_mode=True)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=dpdd_test_dataset)
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', quantize=False), dict(type='SSIM', quantize=False),
                 dict(type='MAE')]
test_evaluator = val_evaluator
