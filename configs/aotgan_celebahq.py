# AOT-GAN (Zeng et al., arXiv 2104.01431) on CelebA-HQ at 512 px: the official recipe, as configs/aotgan_places.py
# (the official code has one recipe; the dataset is --dir_image/--data_train). Data layout: docs/methods/aotgan.md.
_base_ = ['./aotgan_places.py']

data_root = 'data/celeba-hq'

train_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/train'))
val_dataloader = dict(dataset=dict(benchmark='celeba-hq', data_root=f'{data_root}/val'))
test_dataloader = val_dataloader
