# Restormer, deraining (Zamir et al., CVPR 2022), official Deraining_Restormer.yml:
# Rain13K, 300k iterations, AdamW 3e-4 (wd 1e-4), grad-norm clip 0.01, constant lr for 92k
# then cosine to 1e-6, L1 loss, progressive patches 128 -> 384, 8 GPUs x batch 8 -> 1.
# Test: Test100/Rain100H/Rain100L/Test2800/Test1200 on MATLAB's rounded Y channel.
# Train: tools/dist_train.sh configs/restormer_rain13k.py 8
_base_ = [
    './_base_/models/restormer.py', './_base_/datasets/rain13k.py',
    './_base_/schedules/restormer_300k.py'
]

train_dataloader = dict(dataset=dict(gt_root='data/Rain13K/train/target', lq_root='data/Rain13K/train/input'))
