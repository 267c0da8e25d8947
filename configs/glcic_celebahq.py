# GLCIC on CelebA-HQ at 256 px: MMagic's recipe (gl_8xb12_celeba-256x256.py): as configs/glcic_places.py
# with T_C = 40k, T_D = 50k and 300k iterations. MMagic's released weights (--format mmagic):
# gl_256x256_8x12_celeba_20200619-5af0493f.pth. Images must be at least 384 px (the random 384 crop).
_base_ = ['./glcic_places.py']

data_root = 'data/celeba-hq'
_iter_tc, _iter_td = 40_000, 50_000

model = dict(disc_start_iter=_iter_tc + 1, generator_pause=(_iter_tc + 1, _iter_td + 1),
             adv_start_iter=_iter_td + 1)
train_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/train'))
val_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/val'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=300_002)
