# MAT (Li et al., CVPR 2022) on CelebA-HQ at 512 px: the official recipe (train.py --cfg=celeba512).
#   tools/dist_train.sh configs/mat_celebahq.py 8       (8 GPUs x 4 images = batch 32)
# Same networks, losses and optimiser as configs/mat_places.py; 25,000 kimg; evaluation on the
# 2,993 validation images (fid2993_full) with MAT's fixed masks.
# Data layout: see docs/methods/mat.md (data/celeba-hq/{train,val,masks_val_512_*}).
_base_ = ['./mat_places.py']

_total_kimg = 25000               # celeba512 spec
_iters = _total_kimg * 1000 // 32
_val_interval = 200 * 1000 // 32
data_root = 'data/celeba-hq'
_large_mask_root = 'data/celeba-hq/masks_val_512_large'

train_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root='data/celeba-hq/train'))
val_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root='data/celeba-hq/val',
                                   mask_root=_large_mask_root))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=_iters, val_interval=_val_interval)
default_hooks = dict(checkpoint=dict(interval=_val_interval))
