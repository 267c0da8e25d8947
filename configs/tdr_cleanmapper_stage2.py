# TDR stage 2 (official scripts/train/main_train_tr_mapping.py, with its bugs fixed): train
# the CleanMapper (one MLP per word) on degraded images with the stage-1 Mapper frozen; CLIP
# sees the LQ image, the diffusion loss targets the HQ latents. The release optimises the
# frozen Mapper instead (nothing trains), reads a non-existent argument and saves the Mapper;
# here the CleanMapper is trained and saved. Tasks: denoising (online sigma ~ U[0, 50]),
# deblurring, deraining, dehazing, sampled uniformly (the release's task sampling is broken).
# Same optimiser and schedule as stage 1. Needs _mapper_path from stage 1.
#   tools/dist_train.sh configs/tdr_cleanmapper_stage2.py 4
_base_ = ['./tdr_mapper_stage1.py']

_mapper_path = 'work_dirs/tdr_mapper_stage1/mapper.pt'

model = dict(
    stage='tr', clip_key='lq', mapper_path=_mapper_path,
    clean_mapper=dict(type='CleanMapper', input_dim=1024, output_dim=1024, num_words=20))

_denoise_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='RandomCrop', keys=['gt'], crop_size=512, pad_mode='reflect'),
    dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=(0, 50)),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
_paired_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PairedRandomCrop', gt_patch_size=512, pad_mode='reflect'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='AllInOneDataset',
    datasets=[
        dict(type='ImageFolderDataset', data_root='data/tdr/denoise', pipeline=_denoise_pipeline,
             task='denoise'),
        dict(type='PairedImageDataset', gt_root='data/tdr/deblur/hq', lq_root='data/tdr/deblur/lq',
             pipeline=_paired_pipeline, task='deblur'),
        dict(type='PairedImageDataset', gt_root='data/tdr/derain/hq', lq_root='data/tdr/derain/lq',
             pipeline=_paired_pipeline, task='derain'),
        dict(type='PairedImageDataset', gt_root='data/tdr/dehaze/hq', lq_root='data/tdr/dehaze/lq',
             lq_suffix_sep='_', pipeline=_paired_pipeline, task='dehaze'),
    ],
    tasks=['denoise', 'deblur', 'derain', 'dehaze']))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='PairedImageDataset', gt_root='data/tdr/val/hq', lq_root='data/tdr/val/lq',
    test_mode=True, pipeline=[
        dict(type='LoadImageFromFile', key='gt'), dict(type='LoadImageFromFile', key='lq'),
        dict(type='CenterCrop', keys=['lq', 'gt'], crop_size=512),
        dict(type='PackInputs', keys=['lq', 'gt'])]))
test_dataloader = val_dataloader
