# Places365 at 512 px scored as MAT's and Co-Mod-GAN's published tables are (MAT README): 512 centre
# crops of the 36,500 val_large images, each with MAT's fixed mask of the same sorted index
# (masks_val_512_large; white = known), FID / P-IDS / U-IDS on StyleGAN2-ADA's Inception pool features
# ($IRKIT_WEIGHTS/inception-2015-12-05.pt): FID with the covariance / N as StyleGAN2-ADA's FeatureStats,
# P-IDS/U-IDS by scikit-learn's LinearSVC(dual=False) (pip install 'irkit[metrics]').
# Small masks: --cfg-options test_dataloader.dataset.mask_root=data/places365/masks_val_512_small
data_root = 'data/places365'

test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='CenterCrop', keys=['gt'], crop_size=512),
    dict(type='LoadMask', key='mask', white_is_hole=False),
    dict(type='PackInputs', keys=['gt', 'mask']),
]
val_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='places365', data_root=f'{data_root}/val_large',
                 mask_root=f'{data_root}/masks_val_512_large', mask_match='index', mask_white_is_hole=False,
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PIDS', with_fid=True, fid_protocol='mat')]
test_evaluator = val_evaluator
