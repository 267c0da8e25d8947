# MPRNet's optimiser (all tasks): Adam(2e-4, betas (0.9, 0.999), eps 1e-8), 3 warm-up epochs
# (linear, GradualWarmupScheduler multiplier 1) then cosine to 1e-6. The official scheduler
# steps once per epoch; irkit steps per iteration with the epoch lengths converted to
# iterations in each method config (`_iters_per_epoch`).
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999), eps=1e-8))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
