"""GLCIC, DeepFill v1 and DeepFill v2 configs: MMagic's recipes and one training step checked by hand
(train + tools/test.py end to end: tests/e2e/test_mmagic_gan_recipes.py).

The networks are shrunk through config options only (DeepFill: ``channel_factor=0.25``; discriminators:
``max_channels``; GLCIC: a 16 px local patch), on tiny images written in the configs' folder layout.
Expected values are computed here from the formulas of MMagic's inpaintors (``one_stage.py``,
``two_stage.py``, ``gl_inpaintor.py``, ``deepfillv1.py`` of open-mmlab/mmagic@0a560bb).
"""
import copy
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine import Config
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from irkit.registry import DATASETS, MODELS
from tests.archs.mmagic_released_configs import (DEEPFILLV1_DISC, DEEPFILLV1_GENERATOR, DEEPFILLV2_DISC,
                                                    DEEPFILLV2_GENERATOR, GL_DISC, GL_GENERATOR)
from tests.helpers import ROOT

CONFIGS = {'glcic_places': 'places365', 'glcic_celebahq': 'celeba-hq', 'deepfillv1_places': 'places365',
           'deepfillv1_celebahq': 'celeba-hq', 'deepfillv2_places': 'places365', 'deepfillv2_celebahq': 'celeba-hq'}

def load(name):
    return Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))


def write_data(root, bench):
    """Non-square images bigger than the (shrunk) crops, in the configs' folder layout."""
    rng = np.random.default_rng(0)
    train = 'data_large/a/airfield' if bench == 'places365' else 'train'
    val = 'val_large' if bench == 'places365' else 'val'
    for folder, n in ((train, 3), (val, 2)):
        d = root / bench / folder
        d.mkdir(parents=True)
        for i in range(n):
            img = cv2.resize(rng.random((6, 7, 3)), (110, 90)) * 200 + rng.random((90, 110, 3)) * 55
            cv2.imwrite(str(d / f'{i:08d}.jpg'), img.astype(np.uint8))
    return {'train': str(root / bench / train), 'val': str(root / bench / val)}


def options(name, paths, even_boxes=False):
    """Config options shrinking the recipe to the tiny data."""
    method = name.split('_')[0]
    opts = {'train_dataloader.dataset.data_root': paths['train'], 'train_dataloader.batch_size': 2,
            'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2, 'default_hooks.checkpoint.interval': 2,
            'default_hooks.checkpoint.save_best': None, 'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    size, crop = (32, 48) if method == 'glcic' else (72, 80)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader != 'train_dataloader':
            opts[f'{loader}.dataset.data_root'] = paths['val']
        opts[f'{loader}.dataset.pipeline.1.crop_size'] = crop
        opts[f'{loader}.dataset.pipeline.2.size'] = (size, size)
        opts[f'{loader}.dataset.pipeline.3.img_shape'] = (size, size)
        if method != 'deepfillv2':  # bbox masks scaled down with the images
            box = 12 if method == 'glcic' else 24
            opts.update({f'{loader}.dataset.pipeline.3.max_bbox_shape': box,
                         f'{loader}.dataset.pipeline.3.max_bbox_delta': 0 if even_boxes else 4,
                         f'{loader}.dataset.pipeline.3.min_margin': 4})
    if method == 'glcic':
        for part in ('global_disc_cfg', 'local_disc_cfg'):
            opts.update({f'model.discriminator.{part}.max_channels': 32,
                         f'model.discriminator.{part}.fc_in_channels': 32})
        opts['model.disc_io'] = dict(local_size=16)  # 32 px images: 6 / 5 stride-2 convs reach 1x1
    else:
        g = 'model.generator.'
        for enc in ('stage1.encoder', 'stage2.encoder_attention', 'stage2.encoder_conv'):
            opts[g + enc + '.channel_factor'] = 0.25
        opts.update({g + 'stage1.decoder.in_channels': 32, g + 'stage1.decoder.channel_factor': 0.25,
                     g + 'stage1.dilation_neck.in_channels': 32, g + 'stage2.dilation_neck.in_channels': 32,
                     g + 'stage2.contextual_attention.in_channels': 32, g + 'stage2.decoder.in_channels': 64,
                     g + 'stage2.decoder.channel_factor': 0.25})
        if method == 'deepfillv2':
            opts['model.discriminator.max_channels'] = 16
        else:  # 72 px: 4 stride-2 convs -> 5x5; the 32 px local patch -> 2x2
            opts.update({'model.discriminator.global_disc_cfg.max_channels': 16,
                         'model.discriminator.global_disc_cfg.fc_in_channels': 16 * 5 * 5,
                         'model.discriminator.local_disc_cfg.max_channels': 16,
                         'model.discriminator.local_disc_cfg.fc_in_channels': 16 * 2 * 2,
                         'model.disc_io': dict(local_size=32)})
    return opts


# ------------------------------------------------------------------------------------ recipes
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_configs_carry_mmagics_recipe(name):
    cfg = load(name)
    m = cfg.model
    method, data = name.split('_')
    assert m.type == 'GANInpaintor' and m.io == dict(channel_order='bgr')
    assert (m.step_order, m.disc_input, m.ema) == ('d_then_g', 'comp', None)
    released = {'glcic': (GL_GENERATOR, GL_DISC), 'deepfillv1': (DEEPFILLV1_GENERATOR, DEEPFILLV1_DISC),
                'deepfillv2': (DEEPFILLV2_GENERATOR, DEEPFILLV2_DISC)}[method]
    assert m.generator.to_dict() == released[0] and m.discriminator.to_dict() == released[1]
    losses = {loss.name: (loss.type, loss.loss_weight, loss.pred, loss.target, loss.region) for loss in m.losses}
    if method == 'glcic':
        assert losses == {'loss_l1_hole': ('L1Loss', 1.0, 'pred', 'gt', 'hole')}
        assert (m.gan_loss.gan_type, m.gan_loss.loss_weight) == ('vanilla', 0.001)
        tc, td = (90_000, 100_000) if data == 'places' else (40_000, 50_000)
        assert (m.disc_start_iter, tuple(m.generator_pause), m.adv_start_iter) == (tc + 1, (tc + 1, td + 1), td + 1)
        assert m.get('disc_steps', 1) == 1 and 'disc_losses' not in m
    else:
        assert losses == {f'loss_stage{s}_l1_{r}': ('L1Loss', 1.0, 'stage1' if s == 1 else 'pred', 'gt',
                                                     'hole' if r == 'hole' else 'known')
                          for s in (1, 2) for r in ('hole', 'valid')}
        gan = ('hinge', 0.1) if method == 'deepfillv2' else ('wgan', 1e-4)
        assert (m.gan_loss.gan_type, m.gan_loss.loss_weight) == gan
        steps = {'deepfillv1_places': 5, 'deepfillv1_celebahq': 2}.get(name, 1)
        assert m.disc_steps == steps and m.get('disc_start_iter', 0) == 0 and 'generator_pause' not in m
        if method == 'deepfillv1':
            assert [d.to_dict() for d in m.disc_losses] == [
                dict(type='GradientPenaltyLoss', loss_weight=10.0, mask=True),
                dict(type='DiscShiftLoss', loss_weight=0.001)]
    lr = {'glcic': 4e-4}.get(method, 1e-4)
    for part in ('generator', 'discriminator'):
        opt = cfg.optim_wrapper[part].optimizer
        assert (opt.type, opt.lr) == ('Adam', lr) and 'betas' not in opt  # torch's default (0.9, 0.999), as MMagic
    batch = {'glcic': 12, 'deepfillv1_places': 2, 'deepfillv1_celebahq': 4, 'deepfillv2': 2}
    assert cfg.train_dataloader.batch_size == batch.get(name, batch.get(method))
    iters = {'glcic_places': 500_002, 'glcic_celebahq': 300_002, 'deepfillv1_places': 5_000_003,
             'deepfillv1_celebahq': 1_500_003, 'deepfillv2_places': 1_000_003, 'deepfillv2_celebahq': 500_003}
    assert cfg.train_cfg.max_iters == iters[name]
    pipe = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipe] == ['LoadImageFromFile', 'RandomCrop', 'Resize',
                                      'GenerateIrregularMask' if method == 'deepfillv2' else 'GenerateBBoxMask',
                                      'PackInputs']
    assert (pipe[1].crop_size, tuple(pipe[2].size), tuple(pipe[3].img_shape)) == (384, (256, 256), (256, 256))
    if method == 'deepfillv2':
        assert (tuple(pipe[3].num_vertices), pipe[3].max_angle, tuple(pipe[3].length_range),
                tuple(pipe[3].brush_width), tuple(pipe[3].area_ratio_range)) == \
            ((4, 10), 6.0, (20, 128), (10, 45), (0.15, 0.65))
    else:
        assert (pipe[3].max_bbox_shape, pipe[3].max_bbox_delta, pipe[3].min_margin) == (128, 40, 20)
        assert 'mask_bbox' in pipe[4].meta_keys
    assert cfg.train_dataloader.dataset.benchmark == CONFIGS[name]
    assert cfg.test_dataloader.dataset.pipeline[3].seed == 0  # evaluation masks fixed per image
    assert [e.type for e in cfg.val_evaluator] == ['MAE', 'PSNR', 'SSIM'] and cfg.val_evaluator[0].mask_region == 'hole'


def test_glcic_schedule_is_mmagics():
    """MMagic's GLInpaintor with T_C = 1, T_D = 3 updates G alone at iterations 0-1, D alone at 2-3, both
    from 4 on, and adds the adversarial term to G from 4 on (its cur_iter counts from 0)."""
    cfg = load('glcic_places')
    tc, td = 1, 3
    cfg.merge_from_dict(options('glcic_places', {'train': '', 'val': ''}))
    cfg.model.update(disc_start_iter=tc + 1, generator_pause=(tc + 1, td + 1), adv_start_iter=td + 1)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    gt = torch.rand(2, 3, 32, 32)
    known = torch.ones(2, 1, 32, 32)
    known[..., 8:20, 10:22] = 0
    batch = dict(gt=gt, mask=known, mask_bbox=torch.tensor([[8, 10, 12, 12]] * 2), key=['a', 'b'])
    seen = []
    def params(net):  # parameters only: BN statistics follow every train-mode forward (MMagic's too)
        return {k: v.detach().clone() for k, v in net.named_parameters()}

    for it in range(6):
        g0, d0 = params(model.generator), params(model.discriminator)
        log = model.train_step(batch, optim)
        g_moved = any(not torch.equal(v, params(model.generator)[k]) for k, v in g0.items())
        d_moved = any(not torch.equal(v, params(model.discriminator)[k]) for k, v in d0.items())
        seen.append((g_moved, d_moved, 'loss_g' in log))
    assert seen == [(True, False, False)] * 2 + [(False, True, False)] * 2 + [(True, True, True)] * 2


def mmagic_local_patch(img, bbox, size):
    """MMagic's extract_around_bbox: the size x size window at (max(0, t - (size - h) // 2), ...)."""
    out = []
    for i, (t, left, h, w) in enumerate(bbox.tolist()):
        top, lft = max(0, t - (size - h) // 2), max(0, left - (size - w) // 2)
        out.append(img[i:i + 1, :, top:top + size, lft:lft + size])
    return torch.cat(out)


def test_local_patch_of_an_odd_box_is_mmagics():
    from irkit.models.inpaint_io import local_patches
    img = torch.arange(32 * 32.).view(1, 1, 32, 32)
    bbox = torch.tensor([[9, 10, 11, 13]])
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 9:20, 10:23] = 1
    torch.testing.assert_close(local_patches(img, hole, 16, bbox), mmagic_local_patch(img, bbox, 16))


# ------------------------------------------------------------------------------------ one step by hand
def build_step(name, tmp_path, **model_overrides):
    cfg = load(name)
    cfg.merge_from_dict(options(name, write_data(tmp_path, CONFIGS[name]), even_boxes=True))
    cfg.model.update(model_overrides)
    DefaultScope.get_instance(f'mmagic_recipe_{name}_{os.getpid()}_{len(model_overrides)}', scope_name='irkit')
    torch.manual_seed(0)
    data = DATASETS.build(cfg.train_dataloader.dataset)
    batch = default_collate([data[0], data[1]])
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim, batch


def net_inputs(batch):
    """MMagic's view of the batch: BGR in [-1, 1] (from irkit's RGB [0, 1]), mask 1 = hole."""
    gt = (batch['gt'] * 2 - 1).flip(1)
    hole = 1 - batch['mask'].float()
    return gt, hole


def l1_region(pred, gt, weight):
    """MMagic's L1Loss with weight: sum(|pred - gt| * w) / sum(w over channels)."""
    return ((pred - gt).abs() * weight).sum() / (weight.expand_as(pred).sum() + 1e-12)


def check(log, hand):
    for k, v in hand.items():
        assert torch.isfinite(log[k]), k
        np.testing.assert_allclose(log[k].item(), v.item(), rtol=2e-5, atol=1e-7, err_msg=k)


def test_glcic_step_by_hand(tmp_path):
    model, optim, batch = build_step('glcic_places', tmp_path, disc_start_iter=0, generator_pause=None,
                                     adv_start_iter=0)
    assert batch['mask_bbox'].shape == (2, 4) and batch['gt'].shape == (2, 3, 32, 32)
    g0, d0 = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    log = model.train_step(batch, optim)
    gt, hole = net_inputs(batch)
    pred = g0(torch.cat([gt * (1 - hole), hole], 1))  # train mode: batch statistics, as MMagic
    comp = gt * (1 - hole) + pred * hole
    bbox = batch['mask_bbox']
    fake = (comp.detach(), mmagic_local_patch(comp.detach(), bbox, 16))
    real = (gt, mmagic_local_patch(gt, bbox, 16))
    d1 = copy.deepcopy(model.discriminator)  # after the D step
    bce = F.binary_cross_entropy_with_logits
    d_fake, d_real = d0(fake), d0(real)
    g_fake = d1((comp, mmagic_local_patch(comp, bbox, 16)))
    check(log, {'loss_d_fake': bce(d_fake, torch.zeros_like(d_fake)),
                'loss_d_real': bce(d_real, torch.ones_like(d_real)),
                'loss_l1_hole': l1_region(pred, gt, hole),
                'loss_g': 0.001 * bce(g_fake, torch.ones_like(g_fake))})


def test_deepfillv2_step_by_hand(tmp_path):
    model, optim, batch = build_step('deepfillv2_places', tmp_path)
    assert batch['gt'].shape == (2, 3, 72, 72) and 0 < (1 - batch['mask']).mean() < 1
    g0, d0 = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    log = model.train_step(batch, optim)
    gt, hole = net_inputs(batch)
    stage1, pred = g0(torch.cat([gt * (1 - hole), torch.ones_like(hole), hole], 1))
    comp = gt * (1 - hole) + pred * hole
    d_fake = d0(torch.cat([comp.detach(), hole], 1))  # the D step's two forwards (one power iteration each)
    d_real = d0(torch.cat([gt, hole], 1))
    d1 = copy.deepcopy(model.discriminator)  # updated weights, spectral-norm vectors as before G's forward
    for k in ('weight_u', 'weight_v'):
        for i in range(1, 7):
            getattr(getattr(d1, f'conv{i}').conv, k).copy_(getattr(getattr(d0, f'conv{i}').conv, k))
    g_fake = d1(torch.cat([comp, hole], 1))
    check(log, {'loss_d_fake': F.relu(1 + d_fake).mean(), 'loss_d_real': F.relu(1 - d_real).mean(),
                'loss_stage1_l1_hole': l1_region(stage1, gt, hole),
                'loss_stage1_l1_valid': l1_region(stage1, gt, 1 - hole),
                'loss_stage2_l1_hole': l1_region(pred, gt, hole),
                'loss_stage2_l1_valid': l1_region(pred, gt, 1 - hole),
                'loss_g': -0.1 * g_fake.mean()})


def test_deepfillv1_step_by_hand(tmp_path):
    """What MMagic's DeepFillv1Inpaintor computes (the critic update every step, G every disc_step-th)."""
    model, optim, batch = build_step('deepfillv1_places', tmp_path, disc_steps=1)
    g0, d0 = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    log = model.train_step(batch, optim)
    gt, hole = net_inputs(batch)
    stage1, pred = g0(torch.cat([gt * (1 - hole), torch.ones_like(hole), hole], 1))
    comp = gt * (1 - hole) + pred * hole
    bbox = batch['mask_bbox']
    fg, fl = d0((comp.detach(), mmagic_local_patch(comp.detach(), bbox, 32)))
    rg, rl = d0((gt, mmagic_local_patch(gt, bbox, 32)))
    d1 = copy.deepcopy(model.discriminator)
    gg, gl = d1((comp, mmagic_local_patch(comp, bbox, 32)))
    hand = {'loss_stage1_l1_hole': l1_region(stage1, gt, hole),
            'loss_stage1_l1_valid': l1_region(stage1, gt, 1 - hole),
            'loss_stage2_l1_hole': l1_region(pred, gt, hole),
            'loss_stage2_l1_valid': l1_region(pred, gt, 1 - hole)}
    check(log, hand)
    # WGAN: critics mean(fake) - mean(real) per critic, DiscShift 0.5 * 0.001 * loss ** 2 per loss value
    d_terms = [fg.mean(), fl.mean(), -rg.mean(), -rl.mean()]
    d_total = sum(t + 0.0005 * t ** 2 for t in d_terms)
    d_logged = sum(v for k, v in log.items() if k.startswith(('loss_d_', 'loss_disc_shift')))
    np.testing.assert_allclose(float(d_logged), float(d_total.detach()), rtol=2e-5)
    g_logged = sum(v for k, v in log.items() if k == 'loss_g' or k.startswith('loss_g_'))
    np.testing.assert_allclose(float(g_logged), float(-1e-4 * (gg.mean() + gl.mean()).detach()), rtol=2e-5)
    gp = [v for k, v in log.items() if k.startswith('loss_gp')]
    assert gp and all(torch.isfinite(v) and v > 0 for v in gp)


# ------------------------------------------------------------------------------------ end to end


@pytest.mark.parametrize('name', ['deepfillv2_places', 'deepfillv1_celebahq', 'glcic_places'])
def test_mmagic_file_inpaints_any_size(name, tmp_path):
    """init_model(..., fmt='mmagic') with a file in MMagic's layout, then inpaint() on sizes that are not
    multiples of 8 (one below the 72 px minimum): known pixels kept exactly, holes = the BGR generator on
    the symmetric-padded input."""
    from irkit.apis import init_model
    from irkit.apis.inpainting import inpaint
    from irkit.models.inpaint_io import pad_bottom_right
    shrink = {k: v for k, v in options(name, {'train': '', 'val': ''}).items() if k.startswith('model.')}
    torch.manual_seed(3)
    src = MODELS.build(load_model_cfg(name, shrink))
    state = {f'generator.{k}': v for k, v in src.generator.state_dict().items()}
    if src.discriminator is not None:
        state.update({f'disc.{k}': v for k, v in src.discriminator.state_dict().items()})
    path = tmp_path / 'released.pth'
    torch.save({'meta': {'mmedit_version': '0.4.0'}, 'state_dict': state}, path)
    model = init_model(os.path.join(ROOT, 'configs', f'{name}.py'), str(path), fmt='mmagic', cfg_options=shrink)
    for k, v in src.generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[k], v), k
    for h, w in ((90, 123), (40, 50)):  # 40 x 50: DeepFill pads it up to its 72 px minimum
        img = torch.from_numpy(np.random.default_rng(0).random((3, h, w)).astype(np.float32))
        known = torch.ones(1, 1, h, w)
        known[..., h // 4:3 * h // 4, w // 4:3 * w // 4] = 0
        out = inpaint(model, img, known[0, 0].numpy()).reshape(3, h, w)
        torch.testing.assert_close(out[:, known[0, 0] > 0], img[:, known[0, 0] > 0], rtol=0, atol=0)
        multiple, least = (4, 1) if name.startswith('glcic') else (8, 72)
        x = pad_bottom_right(img[None], multiple, 'symmetric', least)
        m = pad_bottom_right(known, multiple, 'symmetric', least)
        gt, hole = (x * 2 - 1).flip(1), 1 - m
        with torch.no_grad():
            if name.startswith('glcic'):
                pred = src.generator.eval()(torch.cat([gt * (1 - hole), hole], 1))
            else:
                pred = src.generator.eval()(torch.cat([gt * (1 - hole), torch.ones_like(hole), hole], 1))[1]
        ref = ((pred.flip(1) + 1) / 2).clamp(0, 1)[0, :, :h, :w]
        torch.testing.assert_close(out[:, known[0, 0] == 0], ref[:, known[0, 0] == 0], rtol=0, atol=1e-6)


def load_model_cfg(name, opts):
    cfg = load(name)
    cfg.merge_from_dict(opts)
    return cfg.model
