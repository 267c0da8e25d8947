# DeepFill v1 on CelebA-HQ at 256 px: MMagic's recipe (deepfillv1_4xb4_celeba-256x256.py): as
# configs/deepfillv1_places.py with the generator every 2nd iteration, 4 GPUs x 4 images, 1.5M iterations.
# MMagic's released weights (--format mmagic): deepfillv1_256x256_4x4_celeba_20200619-dd51a855.pth.
# Images must be at least 384 px (the random 384 crop).
_base_ = ['./deepfillv1_places.py']

data_root = 'data/celeba-hq'

model = dict(disc_steps=2)
train_dataloader = dict(batch_size=4, dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/train'))
val_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/val'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1_500_003)
