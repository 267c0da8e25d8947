# Runtime shared by every irkit config: scope, hooks, logging, environment, visualisation.
default_scope = 'irkit'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # validation metrics logged at the iteration they were computed (not at epoch 0)
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=5,
                    save_best='auto', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    dict(type='NonFiniteGuardHook', action='skip'),
    dict(type='VisualizationHook', max_samples=4),
]

env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=100, by_epoch=False)
log_level = 'INFO'
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
