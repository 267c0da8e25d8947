# Restormer, single-image defocus deblurring (Zamir et al., CVPR 2022), official
# DefocusDeblur_Single_8bit_Restormer.yml: DPDD 512px crops of the centre view, 300k
# iterations, AdamW 3e-4 (wd 1e-4), grad-norm clip 0.01, constant lr for 92k then cosine
# to 1e-6, L1 loss, progressive patches 128 -> 384, 8 GPUs x batch 8 -> 1.
_base_ = [
    './_base_/models/restormer.py', './_base_/datasets/dpdd_single.py',
    './_base_/schedules/restormer_300k.py'
]

# The crops are 16-bit PNGs (generate_patches_dpdd.py); the "8bit" recipe reads them with
# cv2.imread's default flag, i.e. the high byte / 255 (as_8bit=True); else as _base_/models/restormer.py
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', as_8bit=True),
    dict(type='LoadImageFromFile', key='lq', as_8bit=True),
    dict(type='PairedRandomCrop', gt_patch_size=384, pad_mode='reflect'),
    dict(type='RandomDihedral', keys=['lq', 'gt']),
    dict(type='PackInputs', keys=['lq', 'gt']),
]
train_dataloader = dict(dataset=dict(gt_root='data/DPDD/train/target_crops',
                                     lq_root='data/DPDD/train/inputC_crops',
                                     pipeline=train_pipeline))
