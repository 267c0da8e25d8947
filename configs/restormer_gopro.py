# Restormer, motion deblurring (Zamir et al., CVPR 2022), official Deblurring_Restormer.yml:
# GoPro 512px crops (generate_patches_gopro.py: overlap 256), 300k iterations, AdamW 3e-4
# (wd 1e-4), grad-norm clip 0.01, constant lr for 92k then cosine to 1e-6, L1 loss,
# progressive patches 128 -> 384, 8 GPUs x batch 8 -> 1.
# Test: GoPro test (HIDE / RealBlur with the same layout), RGB PSNR/SSIM on uint8 outputs.
_base_ = [
    './_base_/models/restormer.py', './_base_/datasets/gopro.py',
    './_base_/schedules/restormer_300k.py'
]

train_dataloader = dict(dataset=dict(gt_root='data/GoPro/train/target_crops', lq_root='data/GoPro/train/input_crops'))
