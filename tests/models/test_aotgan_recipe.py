"""AOT-GAN configs: the official recipe, one training step checked by hand (train + test end to end:
tests/e2e/test_aotgan_recipe.py).

The configs' networks are shrunk through config options only (one AOT block; VGG19 with random
weights instead of the ImageNet file), on tiny images and masks written in the configs' layout.
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
from tests.helpers import ROOT

CONFIGS = {'aotgan_places': 'places365', 'aotgan_celebahq': 'celeba-hq'}
SIZE = 40  # >= 36 (the rate-8 reflection padding at 1/4 scale) and a multiple of 4
VGG_IDX = {'relu1_1': 1, 'relu2_1': 6, 'relu3_1': 11, 'relu4_1': 20, 'relu5_1': 29,
           'relu2_2': 8, 'relu3_4': 17, 'relu4_4': 26, 'relu5_2': 31}  # torchvision vgg19.features


def load(name):
    return Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))


def write_data(root, bench):
    """Images (non-square, bigger than the crop) and white-is-hole masks of another size."""
    rng = np.random.default_rng(0)
    train = 'data_large/a/airfield' if bench == 'places365' else 'train'
    val = 'val_large' if bench == 'places365' else 'val'
    for folder, n in ((train, 3), (val, 2)):
        d = root / bench / folder
        d.mkdir(parents=True)
        for i in range(n):
            img = cv2.resize(rng.random((6, 7, 3)), (70, 52)) * 200 + rng.random((52, 70, 3)) * 55
            cv2.imwrite(str(d / f'{i:08d}.jpg'), img.astype(np.uint8))
    for folder in ('train', 'test'):
        d = root / 'pconv_masks' / folder
        d.mkdir(parents=True)
        for i in range(3):
            m = np.zeros((64, 64), np.uint8)
            m[8 + 4 * i:40, 10:30 + 5 * i] = 255
            cv2.imwrite(str(d / f'{i:05d}.png'), m)
    return {'train': str(root / bench / train), 'val': str(root / bench / val),
            'masks': str(root / 'pconv_masks' / 'train'), 'val_masks': str(root / 'pconv_masks' / 'test')}


def options(paths):
    """Config options shrinking the recipe to the tiny data (same keys for both configs)."""
    opts = {'model.generator.block_num': 1,
            'model.losses.1.pretrained': False, 'model.losses.2.pretrained': False,
            'train_dataloader.dataset.data_root': paths['train'],
            'train_dataloader.dataset.pipeline.1.size': SIZE,
            'train_dataloader.dataset.pipeline.4.mask_root': paths['masks'],
            'train_dataloader.dataset.pipeline.5.size': [SIZE, SIZE],
            'train_dataloader.batch_size': 2, 'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
            'default_hooks.checkpoint.interval': 2, 'default_hooks.checkpoint.save_best': None,
            'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    for loader in ('val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.dataset.data_root': paths['val'],
                     f'{loader}.dataset.pipeline.1.crop_size': SIZE,
                     f'{loader}.dataset.pipeline.2.mask_root': paths['val_masks'],
                     f'{loader}.dataset.pipeline.3.size': [SIZE, SIZE]})
    for ev in ('val_evaluator', 'test_evaluator'):  # FID needs the Inception weights: MSE instead
        opts[ev] = [dict(type='MAE'), dict(type='PSNR'), dict(type='SSIM'), dict(type='MSE')]
    return opts


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_configs_carry_the_official_recipe(name):
    cfg = load(name)
    m = cfg.model
    assert m.type == 'GANInpaintor' and m.generator == dict(type='AOTGenerator', block_num=8, rates=(1, 2, 4, 8))
    assert m.discriminator.type == 'AOTDiscriminator'
    assert (m.step_order, m.disc_fake, m.disc_input, m.ema) == ('g_then_d', 'detach', 'comp', None)
    assert m.disc_grad_from_generator is True
    assert (m.gan_loss.gan_type, m.gan_loss.loss_weight) == ('smgan', 0.01)
    l1, style, perc = m.losses
    assert (l1.type, l1.loss_weight, l1.pred, l1.target) == ('L1Loss', 1.0, 'pred', 'gt') and 'region' not in l1
    assert (style.type, style.loss_weight, style.pred) == ('StyleLoss', 250.0, 'pred')
    assert style.layer_weights == {'relu2_2': 1.0, 'relu3_4': 1.0, 'relu4_4': 1.0, 'relu5_2': 1.0}
    assert (perc.type, perc.loss_weight, perc.pred) == ('PerceptualLoss', 0.1, 'pred')
    assert perc.layer_weights == {f'relu{i}_1': 1.0 for i in range(1, 6)}
    assert all(x.range_norm and x.use_input_norm and x.criterion == 'l1' and x.vgg_type == 'vgg19'
               for x in (style, perc))
    for part in ('generator', 'discriminator'):
        opt = cfg.optim_wrapper[part].optimizer
        assert (opt.type, opt.lr, tuple(opt.betas)) == ('Adam', 1e-4, (0.5, 0.999))
    assert cfg.train_dataloader.batch_size == 8 and cfg.train_cfg.max_iters == 1_000_000
    assert cfg.randomness.seed == 2021
    pipe = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipe] == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'ColorJitter',
                                      'LoadRandomMask', 'Resize', 'RandomFlip', 'RandomRotation', 'PackInputs']
    assert (pipe[1].size, tuple(pipe[1].scale)) == (512, (0.08, 1.0))
    assert [pipe[3][k] for k in ('brightness', 'contrast', 'saturation', 'hue')] == [0.05] * 4
    assert (tuple(pipe[7].degrees), pipe[7].interpolation, pipe[7].fill) == ((0.0, 45.0), 'nearest', 1.0)
    assert cfg.train_dataloader.dataset.benchmark == CONFIGS[name]


def vgg_features(vgg, x, names):
    """Features by torchvision index, computed here: (x + 1) / 2, ImageNet mean/std, layer by layer."""
    x = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / \
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    out, want = {}, {VGG_IDX[n]: n for n in names}
    for i in range(max(want) + 1):
        x = vgg.features[i](x)
        if i in want:
            out[want[i]] = x
    return out


def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def blurred(hole):
    """The official SM-GAN target: 71 x 71 Gaussian (sigma 10) of the hole mask, zero padding."""
    x = torch.arange(71, dtype=torch.float32) - 35
    k = torch.exp(-x ** 2 / 200)
    k = k / k.sum()
    return F.conv2d(hole, (k[:, None] * k[None, :])[None, None], padding=35)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_one_training_step_by_hand(name, tmp_path):
    cfg = load(name)
    cfg.merge_from_dict(options(write_data(tmp_path, CONFIGS[name])))
    DefaultScope.get_instance(f'aot_{name}_{os.getpid()}', scope_name='irkit')
    torch.manual_seed(0)
    data = DATASETS.build(cfg.train_dataloader.dataset)
    batch = default_collate([data[0], data[1]])
    assert batch['gt'][0].shape == (3, SIZE, SIZE) and batch['mask'][0].shape == (1, SIZE, SIZE)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    g0, d0 = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    log = model.train_step(batch, optim)
    # --- the same step by hand, from the weights (and spectral-norm vectors) before it
    gt = batch['gt'] * 2 - 1
    known = batch['mask'].float()
    hole = 1 - known
    assert 0 < hole.mean() < 1
    pred = g0(gt * known + hole, hole)                     # white holes, mask 1 = hole
    comp = pred * hole + gt * known
    up = lambda t: F.interpolate(t, size=(SIZE, SIZE), mode='bilinear', align_corners=True)  # noqa: E731
    d0.train()
    g_fake = up(d0(comp))                                  # the three D calls of the official step,
    d_fake = up(d0(comp.detach()))                         # in its order (each one power iteration)
    d_real = up(d0(gt))
    vgg_s = model.loss_specs[1].module.vgg
    vgg_p = model.loss_specs[2].module.vgg
    fs_p, fs_t = vgg_features(vgg_s, pred, ['relu2_2', 'relu3_4', 'relu4_4', 'relu5_2']), \
        vgg_features(vgg_s, gt, ['relu2_2', 'relu3_4', 'relu4_4', 'relu5_2'])
    fp_p, fp_t = vgg_features(vgg_p, pred, [f'relu{i}_1' for i in range(1, 6)]), \
        vgg_features(vgg_p, gt, [f'relu{i}_1' for i in range(1, 6)])
    hand = {
        'loss_l1': (pred - gt).abs().mean(),
        'loss_style': 250 * sum((gram(fs_p[k]) - gram(fs_t[k])).abs().mean() for k in fs_p),
        'loss_perceptual': 0.1 * sum((fp_p[k] - fp_t[k]).abs().mean() for k in fp_p),
        'loss_g': 0.01 * ((g_fake - 1) ** 2).mean(),
        'loss_d_fake': ((d_fake - blurred(hole)) ** 2).mean(),
        'loss_d_real': (d_real ** 2).mean(),
    }
    for k, v in hand.items():
        assert torch.isfinite(log[k]) and v.item() > 0, k
        np.testing.assert_allclose(log[k].item(), v.item(), rtol=2e-5, err_msg=k)
    # --- both networks stepped, by Adam's first step: -lr * g / (|g| + eps) (bias-corrected)
    g_total = sum(hand[k] for k in ('loss_l1', 'loss_style', 'loss_perceptual', 'loss_g'))
    g_grads = torch.autograd.grad(g_total, list(g0.parameters()), retain_graph=True)
    d_params = [p for n, p in d0.named_parameters()]
    # the official step: G's adversarial term reaches D too (disc_grad_from_generator=True)
    d_grads = torch.autograd.grad(hand['loss_d_fake'] + hand['loss_d_real'] + hand['loss_g'], d_params)
    for net, before, grads in ((model.generator, g0, g_grads), (model.discriminator, d0, d_grads)):
        moved = 0
        for (n, p_new), p_old, g in zip(net.named_parameters(), before.parameters(), grads):
            expect = -1e-4 * g / (g.abs() + 1e-8)
            sure = g.abs() > 1e-7  # where fp32 noise cannot flip the sign
            torch.testing.assert_close((p_new.detach() - p_old.detach())[sure], expect[sure], rtol=0, atol=2e-6,
                                       msg=lambda m: f'{n}: {m}')
            moved += int(sure.sum())
        assert moved > 0.5 * sum(p.numel() for p in net.parameters())


def test_official_generator_file_inpaints_any_size(tmp_path):
    """init_model + a plain official G*.pt, then inpaint() on sizes that are not multiples of 4."""
    from irkit.apis import init_model
    from irkit.apis.inpainting import inpaint
    from irkit.archs.aotgan import AOTGenerator
    torch.manual_seed(2)
    g = AOTGenerator(block_num=1)
    torch.nn.init.normal_(g.decoder[4].weight, std=0.5)  # visible output
    torch.save(g.state_dict(), tmp_path / 'G0000000.pt')
    model = init_model(os.path.join(ROOT, 'configs', 'aotgan_places.py'), str(tmp_path / 'G0000000.pt'),
                       cfg_options={'model.generator.block_num': 1})
    assert torch.equal(model.generator.decoder[4].weight, g.decoder[4].weight)
    rng = np.random.default_rng(0)
    for h, w in ((45, 61), (36, 37)):
        img = torch.from_numpy(rng.random((3, h, w)).astype(np.float32))
        known = torch.ones(1, 1, h, w)
        known[..., 5:20, 8:30] = 0
        out = inpaint(model, img, known[0, 0].numpy())
        assert out.shape[-2:] == (h, w)
        torch.testing.assert_close(out.reshape(3, h, w)[:, known[0, 0] > 0], img[:, known[0, 0] > 0], rtol=0, atol=0)
        # the holes hold the network's output: G(white-filled image, hole mask) on the padded input
        x = F.pad(img[None] * 2 - 1, (0, (-w) % 4, 0, (-h) % 4), mode='reflect')
        m = F.pad(1 - known, (0, (-w) % 4, 0, (-h) % 4), mode='reflect')
        with torch.no_grad():
            ref = ((g.eval()(x * (1 - m) + m, m) + 1) / 2).clamp(0, 1)[..., :h, :w]
        hole = known[0, 0] == 0
        torch.testing.assert_close(out.reshape(3, h, w)[:, hole], ref[0][:, hole], rtol=0, atol=1e-6)
    # smaller images are padded up to min_size=36 (replicate: reflection needs pad < size) and cropped back
    small = torch.rand(3, 30, 40)
    known = np.ones((30, 40), np.float32)
    known[10:20, 10:20] = 0
    out = inpaint(model, small, known)
    assert out.shape == (3, 30, 40) and torch.equal(out[:, known > 0], small[:, known > 0])
