# GLCIC (Iizuka et al., SIGGRAPH 2017) on Places at 256 px: MMagic's recipe (gl_8xb12_places-256x256.py)
#   tools/dist_train.sh configs/glcic_places.py 8          (8 GPUs x 12 images, as MMagic)
# MMagic's released weights (--format mmagic): gl_256x256_8x12_places_20200619-52a040a8.pth (docs/methods/glcic.md)
_base_ = ['./_base_/default_runtime.py', './_base_/models/glcic.py', './_base_/datasets/mmagic_inpainting_256.py']

_iter_tc, _iter_td = 90_000, 100_000  # GLCIC's T_C, T_D (MMagic's iter_tc, iter_td)

# MMagic counts from 0: G alone while iter <= T_C, D alone while T_C < iter <= T_D, then both
# (G: L1 + adversarial). MMagic's Places config resumed at start_iter=350000; irkit restores the
# iteration counter on resume, so the schedule runs from iteration 0.
model = dict(disc_start_iter=_iter_tc + 1, generator_pause=(_iter_tc + 1, _iter_td + 1),
             adv_start_iter=_iter_td + 1)
train_dataloader = dict(batch_size=12)

train_cfg = dict(type='IterTrainLoop', max_iters=500_002, val_interval=50_000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=50_000, max_keep_ckpts=5,
                                     save_best='PSNR', rule='greater'))
