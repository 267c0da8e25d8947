# LaMa (Suvorov et al., WACV 2022) on CelebA-HQ 256: lama-fourier-celeba.yaml of advimman/lama@786f5936
# (9 FFC blocks, no augmentation, batch 5 per GPU); big-lama-celeba.yaml: --cfg-options model.generator.n_blocks=18
#   tools/dist_train.sh configs/lama_celebahq.py 8
# Data layout: docs/methods/lama.md (data/celeba-hq-lama/{train_256,val_source_256,visual_test_source_256}).
_base_ = ['./lama_places.py']

batch_size_per_gpu = 5            # abl-04-256-mh-dist-celeba.yaml
num_gpus = 8                      # GPUs of a run (not stated by LaMa): sets the epoch length below
_train_images = 26000             # train_256 after celebahq_dataset_prepare.sh
_epochs = 40                      # trainer max_epochs
_iters_per_epoch = _train_images // (batch_size_per_gpu * num_gpus)
_val_interval = 2600              # any_gpu_large_ssim_ddp_final_celeba.yaml: val_check_interval
data_root = 'data/celeba-hq-lama'

model = dict(generator=dict(n_blocks=9))   # ffc_resnet_075.yaml

# transform_variant no_augs: the 256 x 256 images as they are, LaMa's training masks
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='GenerateLaMaMask', key='mask', variant='train'),
    dict(type='PackInputs', keys=['gt', 'mask']),
]
# evaluation: the 2,000 visual-test images (val_source_256 for validation) with LaMa's thick 256 masks
# fixed per image (celebahq_gen_masks.sh also makes thin_256 / medium_256 sets)
test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='GenerateLaMaMask', key='mask', variant='thick_256', seed=0),
    dict(type='PackInputs', keys=['gt', 'mask']),
]

train_dataloader = dict(
    batch_size=batch_size_per_gpu,
    dataset=dict(_delete_=True, type='InpaintingBenchmarkDataset', benchmark='celeba-hq-lama',
                 data_root=f'{data_root}/train_256', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=3,                 # data.val_batch_size
    dataset=dict(_delete_=True, type='InpaintingBenchmarkDataset', benchmark='celeba-hq-lama',
                 data_root=f'{data_root}/val_source_256', pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=3, num_workers=3, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='InpaintingBenchmarkDataset', benchmark='celeba-hq-lama',
                 data_root=f'{data_root}/visual_test_source_256', pipeline=test_pipeline, test_mode=True))

train_cfg = dict(max_iters=_epochs * _iters_per_epoch, val_interval=_val_interval)
default_hooks = dict(checkpoint=dict(interval=_val_interval))
