# DA-CLIP stage 1 (Luo et al., ICLR 2024): train the controller of a frozen OpenCLIP ViT-B-32
# (laion2b_s34b_b79k) on the 10-degradation caption CSV, official recipe (da-clip/README,
# training flags --da --crop): content + degradation CLIP losses with one shared learnable
# logit scale; AdamW(0.9, 0.98, eps 1e-6), weight decay 0.05 (none on gains, biases,
# LayerNorms, logit_scale), lr 2e-5, batch 512 on one GPU, 30 epochs, 100 warm-up steps then
# cosine, AMP on GPU (use optim_wrapper.type='AmpOptimWrapper' there).
# Validation: degradation classification accuracy on the val CSV.
# Files: $IRKIT_WEIGHTS/open_clip_pytorch_model.bin (hf laion/CLIP-ViT-B-32-laion2B-s34B-b79K)
#        $IRKIT_WEIGHTS/bpe_simple_vocab_16e6.txt.gz (open_clip, src/open_clip/)
#        data/universal/daclip_{train,val}.csv (tools/daclip_make_csv.py)
# Train: python tools/train.py configs/daclip_vitb32.py
_base_ = ['./_base_/default_runtime.py']

data_root = 'data/universal'
_degradations = ['motion-blurry', 'hazy', 'jpeg-compressed', 'low-light', 'noisy', 'raindrop',
                 'rainy', 'shadowed', 'snowy', 'uncompleted']
_epochs = 30

model = dict(
    type='DaCLIPModel',
    daclip=dict(type='DaCLIP', model_name='ViT-B-32', clip_pretrained='open_clip_pytorch_model.bin',
                lock_clip=True, controller_init='official'),
    bpe_path='bpe_simple_vocab_16e6.txt.gz',
    degradations=_degradations,
    loss=dict(type='ContrastiveLoss', normalize=False),
    data_preprocessor=dict(type='DataPreprocessor'))

train_pipeline = [
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='CLIPImageTransform', key='lq', size=224, crop_prob=0.8),  # --crop
    dict(type='PackInputs', keys=['lq'],
         meta_keys=['key', 'caption', 'degradation', 'degradation_label', 'lq_path']),
]
val_pipeline = [
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='CLIPImageTransform', key='lq', size=224),
    dict(type='PackInputs', keys=['lq'],
         meta_keys=['key', 'caption', 'degradation', 'degradation_label', 'lq_path']),
]
train_dataloader = dict(
    batch_size=512, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='DaCLIPCaptionDataset', csv_file=f'{data_root}/daclip_train.csv',
                 degradations=_degradations, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='DaCLIPCaptionDataset', csv_file=f'{data_root}/daclip_val.csv',
                 degradations=_degradations, pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='DegradationAccuracy', degradations=_degradations)
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.,
                       custom_keys={'logit_scale': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=1e-2, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=_epochs, T_max=_epochs, eta_min=0.,
         convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=3,
                    save_best='degradation_acc', rule='greater'))
custom_hooks = [dict(type='NonFiniteGuardHook', action='skip')]  # no image grids in stage 1
