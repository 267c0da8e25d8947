# Restormer's schedule (all tasks): 300k iterations, AdamW(3e-4, wd 1e-4), gradient-norm
# clipping at 0.01, lr constant for 92k iterations then cosine to 1e-6 over 208k
# (BasicSR CosineAnnealingRestartCyclicLR periods [92000, 208000], eta_mins [3e-4, 1e-6]),
# validation every 4k. The progressive patch hook, checkpointing and the seed (100) are set
# in each restormer_*.py config.
_total_iters = 300000

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-4, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=92000, end=_total_iters, T_max=208000,
         eta_min=1e-6),
]
train_cfg = dict(type='IterTrainLoop', max_iters=_total_iters, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

