"""configs/comodgan_places.py on GANInpaintor: the official recipe's values, one training
iteration of a shrunk Co-Mod-GAN checked against hand computations of its losses (tools/train.py +
tools/test.py end to end on tiny generated data: tests/e2e/test_comodgan_recipe.py)."""
import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, OptimWrapperDict

from irkit.datasets.transforms.masks import mat_random_mask
from irkit.registry import MODELS
from irkit.utils.config import load_config
from tests.helpers import ROOT

CONFIG = 'configs/comodgan_places.py'
# the overrides that shrink the recipe to a CPU-sized Co-Mod-GAN (32 px, widths <= 32, z = w = 16)
TINY_NETS = {'model.generator.resolution': 32, 'model.generator.fmap_base': 128, 'model.generator.fmap_max': 32,
             'model.generator.latent_size': 16, 'model.generator.dlatent_size': 16,
             'model.generator.mapping_fmaps': 16, 'model.discriminator.resolution': 32,
             'model.discriminator.fmap_base': 128, 'model.discriminator.fmap_max': 32, 'model.batch_gpu': 2}


def test_recipe_values():
    cfg = load_config(os.path.join(ROOT, CONFIG))
    m = cfg.model
    assert m.type == 'GANInpaintor' and m.generator.type == 'CoModGANGenerator' and m.generator.resolution == 512
    assert m.discriminator.type == 'CoModGANDiscriminator' and m.discriminator.mbstd_group_size == 4
    assert m.gan_loss == dict(type='GANLoss', gan_type='logistic')
    assert m.disc_losses == [dict(type='R1Penalty', gamma=10.0)] and m.r1_interval == 16
    assert (m.step_order, m.disc_fake, m.disc_input, m.xflip) == ('g_then_d', 'recompute', 'pred', False)
    assert m.ema == dict(half_life_kimg=10, rampup=None) and not m.get('losses')
    assert cfg.total_batch_size == 32 and cfg.train_dataloader.batch_size == m.batch_gpu == 4
    g_opt, d_opt = cfg.optim_wrapper.generator.optimizer, cfg.optim_wrapper.discriminator.optimizer
    assert g_opt.lr == pytest.approx(0.0016) and g_opt.betas == (0.0, pytest.approx(0.99 ** 0.8))
    assert d_opt.lr == pytest.approx(0.002 * 16 / 17) and d_opt.betas == (0.0, pytest.approx(0.990585, abs=1e-6))
    assert cfg.train_cfg.max_iters == 1_562_500 and cfg.train_cfg.val_interval == 1875
    mask = [t for t in cfg.train_pipeline if t.type == 'GenerateMATMask'][0]
    assert mask.variant == 'comodgan'
    # the generator's defaults are official G_main / G_synthesis_co_mod_gan's training settings
    g = _tiny_model()[0].generator
    assert (g.truncation_psi, g.style_mixing_prob, g.dlatent_avg_beta) == (0.5, 0.5, 0.995)
    assert g.G_synthesis.dropout_rate == 0.5 and g.G_synthesis.dropout_in_eval and g.G_synthesis.skip_4x4


def _tiny_model(seed=0):
    cfg = load_config(os.path.join(ROOT, CONFIG))
    model = copy.deepcopy(cfg.model)
    for k, v in TINY_NETS.items():
        node = model
        parts = k.split('.')[1:]
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = v
    torch.manual_seed(seed)
    m = MODELS.build(model)
    opt = cfg.optim_wrapper
    ow = OptimWrapperDict(**{name: OptimWrapper(torch.optim.Adam(
        getattr(m, name).parameters(), lr=opt[name].optimizer.lr, betas=opt[name].optimizer.betas,
        eps=opt[name].optimizer.eps)) for name in ('generator', 'discriminator')})
    return m, ow


def _batch(n=2, size=32):
    g = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(2)
    masks = [torch.from_numpy(mat_random_mask(size, variant='comodgan', rng=rng))[None] for _ in range(n)]
    return dict(gt=[torch.rand(3, size, size, generator=g) for _ in range(n)], mask=masks,
                key=[f'img{i}' for i in range(n)])


def _train_step(m, ow, it, seed=123):
    hub = MessageHub.get_current_instance()
    old = hub.get_info('iter')
    hub.update_info('iter', it)
    try:
        torch.manual_seed(seed)
        return m.train().train_step(_batch(), ow)
    finally:
        hub.update_info('iter', old)


def test_one_iteration_steps_g_and_d_with_the_official_losses():
    m, ow = _tiny_model()
    g0, d0 = copy.deepcopy(m.generator), copy.deepcopy(m.discriminator)
    e0 = {k: v.clone() for k, v in m.generator_ema.named_parameters()}
    log = _train_step(m, ow, it=0)  # iteration 0: the lazy R1 step runs (every 16)
    for k in ('loss_g', 'loss_d_fake', 'loss_d_real', 'loss_r1', 'score_fake', 'score_real'):
        assert k in log and torch.isfinite(log[k]), k
    assert set(k for k in log if k.startswith('loss')) == {'loss', 'loss_g', 'loss_d_fake', 'loss_d_real', 'loss_r1'}

    # hand computation with the networks as they were, replaying the RNG draws of the step
    b = _batch()
    real = torch.stack(b['gt']) * 2 - 1                  # [0, 1] -> the network's [-1, 1]
    known = torch.stack(b['mask'])
    torch.manual_seed(123)
    z = torch.randn(2, 16)                               # the model's z ~ N(0, 1), width G.latent_dim
    g0.train()
    with torch.no_grad():
        fake = g0(real, known, [z])                      # G_main in training: mixing, truncation, dropout
        loss_g = F.softplus(-d0(torch.cat([fake, known], 1))).mean()
    assert float(log['loss_g']) == pytest.approx(loss_g.item(), rel=1e-5)
    # D step: a fresh z through the updated G (disc_fake='recompute'), D as before its step
    g1 = copy.deepcopy(m.generator).train()
    g1.dlatent_avg.copy_(g0.dlatent_avg)                 # the average as the G step left it
    with torch.no_grad():
        fake1 = g1(real, known, [torch.randn(2, 16)])
        loss_d_fake = F.softplus(d0(torch.cat([fake1, known], 1))).mean()
        loss_d_real = F.softplus(-d0(torch.cat([real, known], 1))).mean()
    assert float(log['loss_d_fake']) == pytest.approx(float(loss_d_fake), rel=1e-5)
    assert float(log['loss_d_real']) == pytest.approx(float(loss_d_real), rel=1e-5)
    assert torch.equal(m.generator.dlatent_avg, g1.dlatent_avg)  # tracked on both G calls

    # R1: the same step at iteration 1 (no R1) leaves D as the R1 step found it
    m_b, ow_b = _tiny_model()
    _train_step(m_b, ow_b, it=1)
    d1 = m_b.discriminator
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d1(torch.cat([x, known], 1)).sum(), x)
    r1 = (grad.square().sum([1, 2, 3]) * 10 / 2).mean()
    assert float(log['loss_r1']) == pytest.approx(float(r1), rel=1e-4)
    assert not torch.equal(m.discriminator.fc1.weight, d1.fc1.weight)  # the R1 step moved D

    # both networks stepped; EMA with half-life 10 kimg at batch 2
    assert not torch.equal(m.generator.G_synthesis.G_4x4.Dense.weight, g0.G_synthesis.G_4x4.Dense.weight)
    assert not torch.equal(d1.fc1.weight, d0.fc1.weight)
    beta = 0.5 ** (2 / 10000)
    for k, p in m.generator.named_parameters():
        assert torch.allclose(dict(m.generator_ema.named_parameters())[k], p.detach().lerp(e0[k], beta),
                              atol=1e-6), k
    assert torch.equal(m.generator_ema.dlatent_avg, m.generator.dlatent_avg)


def test_released_generator_file_evaluates_through_the_model(tmp_path):
    """The port's converted weights (a bare G_ema state dict without dlatent_avg) go through
    convert_checkpoint (format 'comodgan', verified against the config's generator) into the
    model's generator and its EMA copy, which the model tests with."""
    from irkit.fileio.weights import convert_checkpoint, load_weights
    m, _ = _tiny_model(seed=5)
    port_sd = {k: v for k, v in m.generator.state_dict().items() if k != 'dlatent_avg'}
    src = tmp_path / 'co-mod-gan-places2-050000_net_G_ema.pth'
    torch.save(port_sd, src)
    tiny = {k[len('model.'):]: v for k, v in TINY_NETS.items()}
    summary = convert_checkpoint(src, tmp_path / 'comodgan_places512.pth', 'comodgan', os.path.join(ROOT, CONFIG),
                                 cfg_options={f'model.{k}': v for k, v in tiny.items()}, safetensors=False)
    assert summary['target'] == 'generator' and summary['tensors'] == len(port_sd) + 1
    fresh, _ = _tiny_model(seed=6)
    load_weights(fresh, tmp_path / 'comodgan_places512.pth')  # a bare generator -> generator and EMA
    for net in (fresh.generator, fresh.generator_ema):
        assert torch.equal(net.G_synthesis.G_4x4.Dense.weight, m.generator.G_synthesis.G_4x4.Dense.weight)
        assert net.dlatent_avg.abs().sum() > 0           # filled by the reader
    b = _batch()
    out = torch.stack([r['pred'] for r in fresh.eval().val_step(b)])
    real, known = torch.stack(b['gt']), torch.stack(b['mask'])
    torch.manual_seed(fresh.seed_for(b))
    with torch.no_grad():
        y = fresh.generator_ema(real * 2 - 1, known, [torch.randn(2, 16)])
    expected = ((y + 1) / 2).clamp(0, 1) * (1 - known) + real * known
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(out * known, real * known)
