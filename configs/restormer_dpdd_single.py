# Restormer, single-image defocus deblurring (Zamir et al., CVPR 2022), official
# DefocusDeblur_Single_8bit_Restormer.yml: DPDD 512px crops of the centre view, 300k
# iterations, AdamW 3e-4 (wd 1e-4), grad-norm clip 0.01, constant lr for 92k then cosine
# to 1e-6, L1 loss, progressive patches 128 -> 384, 8 GPUs x batch 8 -> 1.
_base_ = [
    './_base_/models/restormer_rgb.py', './_base_/datasets/dpdd_single.py',
    './_base_/schedules/restormer_300k.py'
]

train_dataloader = dict(dataset=dict(gt_root='data/DPDD/train/target_crops',
                                     lq_root='data/DPDD/train/inputC_crops'))
