# Rain13K deraining (MPRNet / Restormer): train on the 13,712 Rain13K pairs, test on
# Test100, Rain100H, Rain100L, Test2800, Test1200 (`<set>/{input,target}`).
# Scored as evaluate_PSNR_SSIM.m does: Y of MATLAB's rgb2ycbcr on the saved uint8 image
# (rounded Y), PSNR peak 255, Wang SSIM (Gaussian 11x11, sigma 1.5, valid), no crop,
# averaged per set (the paper then averages the five sets).
data_root = 'data/Rain13K'

test_pipeline = [
    dict(type='LoadImageFromFile', key='gt'),
    dict(type='LoadImageFromFile', key='lq'),
    dict(type='PackInputs', keys=['lq', 'gt']),
]


def _paired(name):  # noqa: E302 (helper, not a config key)
    return dict(type='PairedImageDataset', gt_root=f'{data_root}/test/{name}/target',
                lq_root=f'{data_root}/test/{name}/input', pipeline=test_pipeline, test_mode=True)


test100_dataset = _paired('Test100')
rain100h_dataset = _paired('Rain100H')
rain100l_dataset = _paired('Rain100L')
test2800_dataset = _paired('Test2800')
test1200_dataset = _paired('Test1200')
# the named test sets of `tools/test.py --test-set NAME ...|all` (the paper averages the five)
test_sets = dict(Test100=test100_dataset, Rain100H=rain100h_dataset, Rain100L=rain100l_dataset,
                 Test2800=test2800_dataset, Test1200=test1200_dataset)

val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'), dataset=rain100l_dataset)
# Test100 by default; `tools/test.py ... --test-set Rain100H` (or `all`: the five one after
# the other, plus their mean) scores the sets named in `test_sets`, or pick one with e.g.
#   --cfg-options test_dataloader.dataset.gt_root=data/Rain13K/test/Rain100H/target \
#                 test_dataloader.dataset.lq_root=data/Rain13K/test/Rain100H/input
test_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       collate_fn=dict(type='default_collate'), dataset=test100_dataset)
val_evaluator = [
    dict(type='PSNR', test_y_channel=True, round_y=True),
    dict(type='SSIM', test_y_channel=True, round_y=True),
]
test_evaluator = val_evaluator
