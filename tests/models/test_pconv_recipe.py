"""Partial Convolutions configs: MMagic's stage-2 recipe, one training step checked by hand (train + test
end to end, and the released MMagic checkpoint layout scored through tools/test.py:
tests/e2e/test_pconv_recipe.py).

The network is shrunk through config options only (4 instead of 7 levels, so 32 px images;
VGG16 with random weights instead of the ImageNet file), on tiny images in the configs' layout.
"""
import copy
import os

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from irkit.registry import DATASETS, MODELS
from tests.helpers import ROOT
from tests.losses.test_pconv_losses import _gram, _tv_by_loops, _vgg16_pools
from tests.models.test_aotgan_recipe import write_data  # non-square images in the benchmark layouts

from . import mmagic_transform_standins  # noqa: F401  (only where irkit lacks them)

CONFIGS = {'pconv_places': 'places365', 'pconv_celebahq': 'celeba-hq'}
SIZE = 32  # a multiple of 2 ** 4 (the shrunk U-Net)
CROP = 48
POOLS = {'pool1': 1.0, 'pool2': 1.0, 'pool3': 1.0}


def load(name):
    return Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))


def options(paths):
    """Config options shrinking the recipe to the tiny data (same keys for both configs)."""
    opts = {'model.generator.encoder.num_layers': 4, 'model.generator.decoder.num_layers': 4,
            'train_dataloader.dataset.data_root': paths['train'], 'train_dataloader.batch_size': 2,
            'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
            'default_hooks.checkpoint.interval': 2, 'default_hooks.logger.interval': 1}
    opts.update({f'model.losses.{i}.pretrained': False for i in (2, 3, 4, 5)})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False,
                     f'{loader}.dataset.pipeline.1.img_shape': [SIZE, SIZE],
                     f'{loader}.dataset.pipeline.2.crop_size': CROP,
                     f'{loader}.dataset.pipeline.3.size': [SIZE, SIZE]})
    for loader in ('val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.data_root'] = paths['val']
    return opts


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_configs_carry_mmagic_stage2_recipe(name):
    cfg = load(name)
    m = cfg.model
    assert m.type == 'GANInpaintor' and 'discriminator' not in m and 'gan_loss' not in m and m.ema is None
    g = m.generator
    assert g.type == 'PConvEncoderDecoder'
    assert g.encoder == dict(type='PConvEncoder', norm_cfg=dict(type='SyncBN', requires_grad=False), norm_eval=True)
    assert g.decoder == dict(type='PConvDecoder', norm_cfg=dict(type='SyncBN'))
    assert m.io == dict(channel_order='bgr')
    got = [(x.type, x.loss_weight, x.pred, x.get('region'), x.name) for x in m.losses]
    assert got == [('L1Loss', 6.0, 'pred', 'hole', 'loss_l1_hole'), ('L1Loss', 1.0, 'pred', 'known', 'loss_l1_valid'),
                   ('PerceptualLoss', 0.05, 'comp', None, 'loss_composed_percep'),
                   ('StyleLoss', 120.0, 'comp', None, 'loss_composed_style'),
                   ('PerceptualLoss', 0.05, 'pred', None, 'loss_out_percep'),
                   ('StyleLoss', 120.0, 'pred', None, 'loss_out_style'),
                   ('MaskedTVLoss', 0.1, 'comp', 'hole', 'loss_tv')]
    for x in m.losses[2:6]:
        assert (x.layer_weights, x.vgg_type, x.range_norm, x.use_input_norm, x.criterion) == \
            (POOLS, 'vgg16', True, True, 'l1')
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=5e-5)
    assert cfg.train_dataloader.batch_size == 2  # x 4 GPUs
    assert cfg.train_cfg.max_iters == (500_000 if name == 'pconv_places' else 300_002)
    pipe = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipe] == ['LoadImageFromFile', 'GenerateIrregularMask', 'RandomCrop', 'Resize',
                                      'PackInputs']
    mask = pipe[1]
    assert (tuple(mask.num_vertices), mask.max_angle, tuple(mask.length_range), tuple(mask.brush_width),
            tuple(mask.area_ratio_range), tuple(mask.img_shape)) == ((4, 10), 6.0, (20, 128), (10, 45),
                                                                    (0.15, 0.65), (256, 256))
    assert (pipe[2].crop_size, tuple(pipe[3].size)) == (384, (256, 256))
    test_pipe = cfg.test_dataloader.dataset.pipeline
    assert test_pipe[1].seed == 0 and test_pipe[2].seed == 0 and cfg.test_dataloader.dataset.test_mode
    assert cfg.train_dataloader.dataset.benchmark == CONFIGS[name]
    assert [e.type for e in cfg.test_evaluator] == ['MAE', 'PSNR', 'SSIM']
    assert cfg.test_evaluator[0].mask_region == 'hole'


def _masked_l1(a, b, w):
    """mask_reduce_loss: sum(|a - b| * w) / sum(w expanded to the channels)."""
    return ((a - b).abs() * w).sum() / w.expand_as(a).sum()


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_one_training_step_by_hand(name, tmp_path):
    cfg = load(name)
    cfg.merge_from_dict(options(write_data(tmp_path, CONFIGS[name])))
    DefaultScope.get_instance(f'pconv_{name}_{os.getpid()}', scope_name='irkit')
    torch.manual_seed(0)
    data = DATASETS.build(cfg.train_dataloader.dataset)
    batch = default_collate([data[0], data[1]])
    assert batch['gt'][0].shape == (3, SIZE, SIZE) and batch['mask'][0].shape == (1, SIZE, SIZE)
    model = MODELS.build(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    g0 = copy.deepcopy(model.generator)
    stats = {k: v.clone() for k, v in model.generator.state_dict().items() if 'running_' in k}
    log = model.train_step(batch, optim)
    # --- the same step by hand, in MMagic's convention: BGR in [-1, 1], 3-channel mask 1 = known
    gt = (batch['gt'] * 2 - 1).flip(1)
    known = batch['mask'].float()
    hole = 1 - known
    assert 0 < hole.mean() < 1
    g0.train()
    assert not g0.encoder.enc2.bn.training and g0.decoder.dec2.bn.training  # norm_eval
    pred, _ = g0(gt * known, known.repeat(1, 3, 1, 1))
    comp = pred * hole + gt * known
    hand = {'loss_l1_hole': 6 * _masked_l1(pred, gt, hole), 'loss_l1_valid': _masked_l1(pred, gt, known),
            'loss_tv': 0.1 * _tv_by_loops(comp.detach().double(), hole.double())}
    for i, (key, x) in enumerate((('composed', comp), ('out', pred))):
        for spec, kind in ((model.loss_specs[2 + 2 * i], 'percep'), (model.loss_specs[3 + 2 * i], 'style')):
            sd = {f'features.{k}': v for k, v in spec.module.vgg.features.state_dict().items()}
            fx, fg = _vgg16_pools(x, sd), _vgg16_pools(gt, sd)
            if kind == 'percep':
                v = 0.05 * sum((fx[k] - fg[k]).abs().mean() for k in POOLS)
            else:
                v = 120 * sum((_gram(fx[k]) - _gram(fg[k])).abs().mean() for k in POOLS)
            hand[f'loss_{key}_{kind}'] = v
    assert set(log) == set(hand) | {'loss', 'l1'}
    values = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in hand.items()}
    for k, v in values.items():
        assert torch.isfinite(log[k]) and v > 0, k
        np.testing.assert_allclose(log[k].item(), v, rtol=2e-5, err_msg=k)
    np.testing.assert_allclose(log['loss'].item(), sum(values.values()), rtol=2e-5)
    # --- Adam's first step on every trainable weight: -lr * g / (|g| + eps)
    total = sum(v for k, v in hand.items() if k != 'loss_tv') + 0.1 * _tv_torch(comp, hole)
    trainable = [(n, p) for n, p in g0.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(total, [p for _, p in trainable])
    new = dict(model.generator.named_parameters())
    moved = 0
    for (n, p_old), gr in zip(trainable, grads):
        expect = -5e-5 * gr / (gr.abs() + 1e-8)
        sure = gr.abs() > 1e-6  # where fp32 noise cannot flip the sign
        torch.testing.assert_close((new[n].detach() - p_old.detach())[sure], expect[sure], rtol=0, atol=1e-6,
                                   msg=lambda m: f'{n}: {m}')
        moved += int(sure.sum())
    assert moved > 0.5 * sum(p.numel() for _, p in trainable)
    # encoder BN statistics are frozen (norm_eval), the decoder's moved
    after = model.generator.state_dict()
    assert all(torch.equal(after[k], v) == k.startswith('encoder.') for k, v in stats.items())


def _tv_torch(x, w):
    """The masked TV of the recipe with autograd (for the gradient check)."""
    wy, wx = w[:, :, :-1], w[..., :-1]
    dy = ((x[:, :, :-1] - x[:, :, 1:]).abs() * wy).sum() / wy.expand(-1, 3, -1, -1).sum()
    dx = ((x[..., :-1] - x[..., 1:]).abs() * wx).sum() / wx.expand(-1, 3, -1, -1).sum()
    return dx + dy


def test_stage2_keeps_encoder_batchnorm_affine_frozen(tmp_path):
    cfg = load('pconv_places')
    cfg.merge_from_dict(options(write_data(tmp_path, 'places365')))
    DefaultScope.get_instance(f'pconv_frozen_{os.getpid()}', scope_name='irkit')
    torch.manual_seed(0)
    data = DATASETS.build(cfg.train_dataloader.dataset)
    batch = default_collate([data[0], data[1]])
    model = MODELS.build(cfg.model).train()
    frozen = {n: p.detach().clone() for n, p in model.generator.named_parameters() if not p.requires_grad}
    assert frozen and all('.bn.' in n and n.startswith('encoder.') for n in frozen)
    model.train_step(batch, build_optim_wrapper(model, cfg.optim_wrapper))
    params = dict(model.generator.named_parameters())
    assert all(not params[n].requires_grad for n in frozen)
    assert all(torch.equal(params[n].detach(), v) for n, v in frozen.items())
