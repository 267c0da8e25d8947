# Partial Convolutions (Liu et al., ECCV 2018) on CelebA-HQ at 256 px: MMagic's stage-2 recipe
# (configs/partial_conv/pconv_stage2_4xb2_celeba-256x256.py -> pconv_256x256_stage2_4x2_celeba_20200619-860f8b95.pth):
# as configs/pconv_places.py (4 GPUs x 2, Adam 5e-5, frozen encoder BN) for 300,002 iterations.
#   tools/dist_train.sh configs/pconv_celebahq.py 4 --cfg-options load_from=<stage-1 checkpoint>
# Stage 1: 8 GPUs x 1 image, lr 2e-4, encoder BN trainable, 800k (configs/_base_/models/pconv.py).
_base_ = ['./pconv_places.py']

data_root = 'data/celeba-hq'
train_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/train'))
val_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/val'))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=300_002)
