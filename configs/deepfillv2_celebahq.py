# DeepFill v2 on CelebA-HQ at 256 px: MMagic's recipe (deepfillv2_8xb2_celeba-256x256.py): as
# configs/deepfillv2_places.py with 500k iterations. MMagic's released weights (--format mmagic):
# deepfillv2_256x256_8x2_celeba_20200619-c96e5f12.pth. Images must be at least 384 px (the random 384 crop).
_base_ = ['./deepfillv2_places.py']

data_root = 'data/celeba-hq'

train_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/train'))
val_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/val'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=500_003)
