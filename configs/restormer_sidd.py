# Restormer, real denoising (Zamir et al., CVPR 2022), official RealDenoising_Restormer.yml:
# SIDD-Medium 512px crops (overlap 128), BiasFree LayerNorm, 300k iterations, AdamW 3e-4
# (wd 1e-4), grad-norm clip 0.01, constant lr for 92k then cosine to 1e-6, L1 loss,
# progressive patches 128 -> 384, mixup (Beta(1.2, 1.2), one lambda per batch, half the
# iterations unmixed), 8 GPUs x batch 8 -> 1.
# Test: the 1,280 SIDD validation blocks, float outputs (see _base_/datasets/sidd.py).
_base_ = [
    './_base_/models/restormer.py', './_base_/datasets/sidd.py',
    './_base_/schedules/restormer_300k.py'
]

model = dict(generator=dict(LayerNorm_type='BiasFree'))
train_dataloader = dict(dataset=dict(gt_root='data/SIDD/train/target_crops',
                                     lq_root='data/SIDD/train/input_crops'))
custom_hooks = [
    # progressive learning: (iterations, patch, batch per GPU) = (92k, 128, 8), (64k, 160, 5),
    # (48k, 192, 4), (36k, 256, 2), (36k, 320, 1), (24k, 384, 1)
    dict(type='ProgressivePatchHook', iters=[92000, 64000, 48000, 36000, 36000, 24000],
         gt_sizes=[128, 160, 192, 256, 320, 384], mini_batch_sizes=[8, 5, 4, 2, 1, 1]),
    dict(type='MixUpHook', alpha=1.2, per_sample=False, identity_prob=0.5),  # denoising only
    dict(type='NonFiniteGuardHook', action='skip'),
    dict(type='VisualizationHook', max_samples=4),
]
