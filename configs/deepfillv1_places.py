# DeepFill v1 (Yu et al., CVPR 2018) on Places at 256 px: MMagic's recipe (deepfillv1_8xb2_places-256x256.py)
#   tools/dist_train.sh configs/deepfillv1_places.py 8      (8 GPUs x 2 images, as MMagic)
# MMagic's released weights (--format mmagic): deepfillv1_256x256_8x2_places_20200619-c00a0e21.pth
# (docs/methods/deepfillv1.md)
_base_ = ['./_base_/default_runtime.py', './_base_/models/deepfillv1.py',
          './_base_/datasets/mmagic_inpainting_256.py']

model = dict(disc_steps=5)  # the critics every iteration, the generator every 5th (MMagic's disc_step)
train_dataloader = dict(batch_size=2)

train_cfg = dict(type='IterTrainLoop', max_iters=5_000_003, val_interval=250_000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=250_000, max_keep_ckpts=5,
                                     save_best='PSNR', rule='greater'))
