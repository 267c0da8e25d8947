"""LaMa configs: the big-lama recipe, one training iteration checked loss by loss against LaMa's
formulas computed by hand (tools/train.py + tools/test.py end to end on tiny data:
tests/e2e/test_lama_recipe.py)."""
import copy
import os

import pytest
import torch
import torch.nn.functional as F
from mmengine import Config

from irkit.engine.optim import PerModuleOptimWrapperConstructor
from irkit.registry import MODELS
from tests.helpers import ROOT

TINY = dict(generator=dict(ngf=8, n_blocks=1), discriminator=dict(ndf=8, n_layers=2))
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)   # float32, as LaMa's constants
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _cfg(name):
    return Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))


@pytest.mark.parametrize('name', ['lama_places', 'lama_celebahq'])
def test_configs_carry_the_big_lama_recipe(name):
    cfg = _cfg(name)
    m = cfg.model
    g = m.generator
    assert (g.type, g.ngf, g.n_downsampling, g.add_out_act) == ('FFCResNetGenerator', 64, 3, 'sigmoid')
    assert g.n_blocks == (18 if name == 'lama_places' else 9)
    assert g.resnet_conv_kwargs == dict(ratio_gin=0.75, ratio_gout=0.75, enable_lfu=False)
    assert dict(m.discriminator) == dict(type='NLayerDiscriminator', input_nc=3, ndf=64, n_layers=4)
    assert (m.gan_loss.gan_type, m.gan_loss.loss_weight, m.gan_loss.mask_as_fake_target) == ('nonsaturating', 10, True)
    assert [dict(d) for d in m.disc_losses] == [dict(type='R1Penalty', gamma=0.002)]   # gp_coef 0.001
    weights = {loss.type: loss.loss_weight for loss in m.losses}
    assert weights == {'L1Loss': 10.0, 'ResNetPL': 30.0, 'FeatureMatchingLoss': 100.0}
    assert (m.disc_input, m.step_order, m.disc_fake) == ('pred', 'g_then_d', 'recompute')
    opt = cfg.optim_wrapper
    assert (opt.generator.optimizer.lr, opt.discriminator.optimizer.lr) == (1e-3, 1e-4)
    assert opt.generator.clip_grad.max_norm == opt.discriminator.clip_grad.max_norm == 1.0
    assert cfg.train_dataloader.batch_size == (10 if name == 'lama_places' else 5)
    masks = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'GenerateLaMaMask']
    assert [t.variant for t in masks] == ['train']
    if name == 'lama_places':
        assert cfg.train_cfg.max_iters == 40 * 25000
        assert cfg.train_dataloader.dataset.benchmark == 'places365-challenge'


def _model(name, seed=0):
    cfg = _cfg(name)
    m = copy.deepcopy(cfg.model.to_dict())
    m['generator'].update(TINY['generator'])
    m['discriminator'].update(TINY['discriminator'])
    for loss in m['losses']:
        if loss['type'] == 'ResNetPL':
            loss['pretrained'] = False   # random encoder weights (the released file is not needed here)
    torch.manual_seed(seed)
    model = MODELS.build(m)
    opt = {k: v for k, v in cfg.optim_wrapper.to_dict().items() if k != 'constructor'}
    return model, PerModuleOptimWrapperConstructor(opt)(model)


def _batch(n=2, size=32):
    g = torch.Generator().manual_seed(3)
    masks = []
    for i in range(n):
        m = torch.ones(1, size, size)
        m[:, 5 + 3 * i:20, 8:26 - 2 * i] = 0
        m[:, 24:28, 2:30] = 0
        masks.append(m)
    return dict(gt=[torch.rand(3, size, size, generator=g) for _ in range(n)], mask=masks,
                key=[f'k{i}' for i in range(n)])


@pytest.mark.parametrize('name', ['lama_places', 'lama_celebahq'])
def test_one_iteration_matches_lama_losses_by_hand(name):
    model, optim = _model(name)
    model.train()
    before = copy.deepcopy(model)          # G and D as the iteration starts
    b = _batch()
    gt, known = torch.stack(b['gt']), torch.stack(b['mask'])
    hole = 1 - known
    log = model.train_step(b, optim)
    for k in ('loss_g', 'loss_l1', 'loss_resnetpl', 'loss_featurematching', 'loss_d_fake', 'loss_d_real', 'loss_r1'):
        assert k in log and torch.isfinite(log[k]), k
    # both networks stepped
    for net in ('generator', 'discriminator'):
        old = dict(getattr(before, net).named_parameters())
        assert any(not torch.equal(p, old[k]) for k, p in getattr(model, net).named_parameters()), net

    # ---- generator step (LaMa's DefaultInpaintingTrainingModule.generator_loss) on the pre-step G and D
    G, D = before.generator, before.discriminator
    pred = G(torch.cat([gt * (1 - hole), hole], 1))                  # img * (1 - mask), mask
    fake_logits, fake_feats = D(pred)
    _, real_feats = D(gt)
    l1 = ((known * 10 + hole * 0) * (pred - gt).abs()).mean()   # masked_l1_loss: weight_known 10, weight_missing 0
    assert log['loss_l1'].item() == pytest.approx(l1.item(), rel=1e-5)
    fm = torch.stack([F.mse_loss(f, r) for f, r in zip(fake_feats, real_feats)]).mean() * 100
    assert log['loss_featurematching'].item() == pytest.approx(fm.item(), rel=1e-5)
    adv = F.softplus(-fake_logits).mean() * 10                       # NonSaturatingWithR1.generator_loss
    assert log['loss_g'].item() == pytest.approx(adv.item(), rel=1e-5)
    enc = copy.deepcopy(model.loss_specs[1].module.impl).train()     # batch statistics, as under Lightning
    with torch.no_grad():
        fp = enc((pred - IMAGENET_MEAN) / IMAGENET_STD)
        ft = enc((gt - IMAGENET_MEAN) / IMAGENET_STD)
    pl = 30 * sum(((a - c) ** 2).mean() for a, c in zip(fp, ft))
    assert log['loss_resnetpl'].item() == pytest.approx(pl.item(), rel=1e-5)

    # ---- discriminator step: a new forward of the updated G, the pre-step D
    with torch.no_grad():
        fake = model.generator(torch.cat([gt * (1 - hole), hole], 1))
    fl, _ = D(fake)
    m = F.interpolate(hole, size=fl.shape[-2:], mode='nearest')
    d_fake = (m * F.softplus(fl) + (1 - m) * F.softplus(-fl)).mean()   # mask_as_fake_target
    assert log['loss_d_fake'].item() == pytest.approx(d_fake.item(), rel=1e-5)
    real = gt.clone().requires_grad_(True)
    rl, _ = D(real)
    assert log['loss_d_real'].item() == pytest.approx(F.softplus(-rl).mean().item(), rel=1e-5)
    (grad,) = torch.autograd.grad(rl.sum(), real)
    r1 = 0.001 * (grad.reshape(2, -1).norm(2, dim=1) ** 2).mean()     # make_r1_gp * gp_coef
    assert log['loss_r1'].item() == pytest.approx(r1.item(), rel=1e-4)


def test_inference_keeps_known_pixels_on_any_size():
    model, _ = _model('lama_places')
    model.eval()
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 37, 53, generator=g)          # padded to 40 x 56 (symmetric), cropped back
    known = torch.ones(1, 1, 37, 53)
    known[..., 10:25, 12:40] = 0
    out = model.inpaint(img, known)
    assert out.shape == img.shape
    assert torch.equal(out * known, img * known)
    assert bool(((out >= 0) & (out <= 1)).all())
