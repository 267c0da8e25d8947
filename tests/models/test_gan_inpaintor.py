"""GANInpaintor: conventions, losses against hand computations, the step schedules, inference."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict

from irkit.models.inpaint_io import InpaintIO, local_patches, pad_bottom_right
from irkit.registry import MODELS

from . import toy_inpaint  # noqa: F401  (registers the toy archs)


def build(**kw):
    torch.manual_seed(0)
    cfg = dict(type='GANInpaintor', generator=dict(type='ToyInpaintG'), discriminator=dict(type='ToyPatchD'),
               gan_loss=dict(type='GANLoss', gan_type='nonsaturating', loss_weight=2.0),
               losses=[dict(type='L1Loss', loss_weight=10.0, region='known', normalize='all')])
    cfg.update(kw)
    return MODELS.build(cfg)


def optims(m, lr=1e-2):
    return OptimWrapperDict(generator=OptimWrapper(torch.optim.SGD(m.generator.parameters(), lr=lr)),
                            discriminator=OptimWrapper(torch.optim.SGD(m.discriminator.parameters(), lr=lr)))


def batch(n=2, h=16, w=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    masks = []
    for i in range(n):
        m = torch.ones(1, h, w)
        m[:, 3 + i:10, 4:12] = 0
        masks.append(m)
    return dict(gt=[torch.rand(3, h, w, generator=g) for _ in range(n)], mask=masks, key=[f'k{i}' for i in range(n)])


def stacked(b):
    return torch.stack(b['gt']), torch.stack(b['mask'])


def params(mod):
    return {k: v.detach().clone() for k, v in mod.state_dict().items()}


def changed(before, mod):
    return any(not torch.equal(before[k], v) for k, v in mod.state_dict().items())


# ------------------------------------------------------------------- adapter
def test_io_conversions_and_calls():
    io = InpaintIO(value_range=(-1, 1), channel_order='bgr', mask='known', hole_fill=0.5, inputs='image_mask')
    x = torch.rand(2, 3, 5, 6)
    y = io.to_net(x)
    assert torch.equal(y, (x * 2 - 1).flip(1)) and torch.allclose(io.from_net(y), x, atol=1e-7)
    known = (torch.rand(2, 1, 5, 6) > 0.5).float()
    assert torch.equal(io.net_mask(known), known)
    assert torch.equal(InpaintIO(mask='hole', mask_channels=3).net_mask(known), (1 - known).expand(-1, 3, -1, -1))
    filled = io.masked_input(y, known)
    assert torch.equal(filled[known.expand_as(y) == 0], torch.full_like(filled[known.expand_as(y) == 0], 0.5))
    from irkit.registry import ARCHS
    net = ARCHS.build(dict(type='RecordingG'))
    for mode, nargs, ch in (('concat', 1, 4), ('concat_ones', 1, 5), ('image_mask', 2, 3)):
        net.calls.clear()
        out = InpaintIO(value_range=(0, 1), inputs=mode, hole_fill=0.0).call(net, x, known)
        assert set(out) == {'pred'} and len(net.calls[0]) == nargs and net.calls[0][0].shape[1] == ch
    x4 = net.calls[0][0]
    assert torch.equal(x4, x * known)  # image_mask: holes zero-filled
    net.calls.clear()
    net.latent_dim = 7
    InpaintIO(value_range=(0, 1), inputs='image_mask_latents').call(net, x, known)
    assert net.calls[0][2][0].shape == (2, 7)
    ones = InpaintIO(value_range=(0, 1), inputs='concat_ones')
    net.calls.clear()
    ones.call(net, x, known)
    assert torch.equal(net.calls[0][0][:, 3:4], torch.ones_like(known))
    assert torch.equal(net.calls[0][0][:, 4:], 1 - known)
    with pytest.raises(ValueError, match='outputs'):
        InpaintIO(outputs=('a', 'b'))
    with pytest.raises(ValueError, match='returned 1 item'):
        InpaintIO(outputs=('stage1', 'pred')).name_outputs(torch.zeros(1))


def test_symmetric_padding_is_numpy_symmetric():
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    y = pad_bottom_right(x, 8, 'symmetric')
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 3), (0, 1)), mode='symmetric')
    assert y.shape == (2, 3, 8, 8) and np.array_equal(y.numpy(), ref)
    r = pad_bottom_right(x, 4, 'reflect')
    assert np.array_equal(r.numpy(), np.pad(x.numpy(), ((0, 0), (0, 0), (0, 3), (0, 1)), mode='reflect'))
    assert pad_bottom_right(x[..., :4, :4], 4, 'symmetric').shape == (2, 3, 4, 4)


def test_local_patches_follow_the_hole_and_stay_inside():
    img = torch.arange(64.).view(1, 1, 8, 8).expand(2, 1, 8, 8).clone()
    hole = torch.zeros(2, 1, 8, 8)
    hole[0, :, 1:3, 1:3] = 1   # box (1, 1, 2, 2): top-left max(0, 1 - (4 - 2) // 2) = 0
    hole[1, :, 4:7, 5:8] = 1   # box (4, 5, 3, 3): top 4 - 0 = 4; left 5 -> 4 (moved inside the image)
    p = local_patches(img, hole, 4)
    assert torch.equal(p[0, 0], img[0, 0, 0:4, 0:4]) and torch.equal(p[1, 0], img[1, 0, 4:8, 4:8])


def test_unknown_io_key_and_unpaired_gan_settings_are_refused():
    from irkit.registry import ConfigKeyError
    with pytest.raises(ConfigKeyError, match="unknown key 'pad_mulitple'.*did you mean 'pad_multiple'"):
        build(io=dict(pad_mulitple=8))
    with pytest.raises(ValueError, match='both discriminator and gan_loss'):
        build(gan_loss=None)
    with pytest.raises(ValueError, match='must not normalise'):
        build(data_preprocessor=dict(type='DataPreprocessor', mean=[0.5] * 3, std=[0.5] * 3))


def test_non_binary_or_misshaped_masks_are_refused():
    m = build()
    b = batch()
    b['mask'][0] = b['mask'][0] * 0.7
    with pytest.raises(ValueError, match=r"binary.*\['k0', 'k1'\]"):
        m.val_step(b)
    b = batch()
    b['mask'] = [x[:, :8] for x in b['mask']]
    with pytest.raises(ValueError, match='N x 1 x H x W'):
        m.val_step(b)


# -------------------------------------------------------------------- losses
def test_generator_losses_equal_hand_computations():
    m = build(losses=[dict(type='L1Loss', loss_weight=10.0, region='known', normalize='all'),
                      dict(type='L1Loss', loss_weight=3.0, pred='stage1_comp', region='hole', name='loss_hole1'),
                      dict(type='FeatureMatchingLoss', loss_weight=5.0)])
    gt01, known = stacked(batch())
    ns = m._namespace(gt01, known)
    losses = m.generator_losses(ns, it=0)
    with torch.no_grad():
        gt = gt01 * 2 - 1
        s1, pred = m.generator(torch.cat([gt * known, 1 - known], 1))
        comp = pred * (1 - known) + gt * known
        logits, [f_fake] = m.discriminator(comp)
        _, [f_real] = m.discriminator(gt)
        adv = F.softplus(-logits).mean() * 2.0
        l1_known = (pred - gt).abs().mul(known).mean() * 10.0       # LaMa: mean over all pixels
        s1c = s1 * (1 - known) + gt * known
        hole = (1 - known).expand_as(gt)
        l1_hole = ((s1c - gt).abs() * hole).sum() / hole.sum() * 3.0  # MMagic: mean over the hole
        fm = F.mse_loss(f_fake, f_real) * 5.0
    assert set(losses) == {'loss_g', 'loss_l1', 'loss_hole1', 'loss_featurematching'}
    for name, ref in (('loss_g', adv), ('loss_l1', l1_known), ('loss_hole1', l1_hole),
                      ('loss_featurematching', fm)):
        assert losses[name].item() == pytest.approx(ref.item(), rel=1e-6), name
    assert torch.equal(ns['input'], gt * known)


def test_discriminator_losses_with_r1_and_shift_by_hand():
    m = build(gan_loss=dict(type='GANLoss', gan_type='hinge'),
              disc_losses=[dict(type='R1Penalty', gamma=4.0), dict(type='DiscShiftLoss', loss_weight=0.5)])
    gt01, known = stacked(batch())
    fake = torch.rand_like(gt01) * 2 - 1
    logs, grads = {}, []
    m.discriminator_losses({'pred': fake, 'stage1': fake}, gt01 * 2 - 1, known, None,
                           lambda v: grads.append(float(v.detach())), lambda k, v: logs.__setitem__(k, float(v.detach())))
    gt = (gt01 * 2 - 1).requires_grad_(True)
    lf, _ = m.discriminator(fake)
    lr, _ = m.discriminator(gt)
    (g,) = torch.autograd.grad(lr.sum(), gt)
    r1 = (g.pow(2).flatten(1).sum(1) * 2.0).mean()
    d_fake, d_real = F.relu(1 + lf).mean(), F.relu(1 - lr).mean()
    ref = {'loss_d_fake': d_fake, 'loss_d_real': d_real, 'loss_r1': r1,  # MMagic: 0.5 * w * loss ** 2
           'loss_disc_shift_fake': 0.5 * 0.5 * d_fake ** 2, 'loss_disc_shift_real': 0.5 * 0.5 * d_real ** 2}
    for k, v in ref.items():
        assert logs[k] == pytest.approx(v.item(), rel=1e-5), k
    assert grads[0] == pytest.approx(logs['loss_d_fake'] + logs['loss_disc_shift_fake'], rel=1e-6)
    assert grads[1] == pytest.approx(logs['loss_d_real'] + logs['loss_r1'] + logs['loss_disc_shift_real'], rel=1e-6)


# -------------------------------------------------------------------- steps
def test_d_then_g_steps_both_and_uses_the_updated_discriminator():
    m = build()
    ow = optims(m)
    g0, d0 = params(m.generator), params(m.discriminator)
    m.train()
    log = m.train_step(batch(), ow)
    assert changed(g0, m.generator) and changed(d0, m.discriminator)
    for k in ('loss_g', 'loss_l1', 'loss_d_fake', 'loss_d_real', 'loss', 'l1'):
        assert torch.isfinite(log[k]), k
    # the generator's adversarial loss was computed with the updated D on the pre-update G's output
    d_after = params(m.discriminator)
    m2 = build()
    m2.generator.load_state_dict(g0)
    m2.discriminator.load_state_dict(d_after)
    gt01, known = stacked(batch())
    with torch.no_grad():
        ns = m2._namespace(gt01, known)
        expect = m2.generator_losses(ns, 0)['loss_g']
    assert log['loss_g'].item() == pytest.approx(expect.item(), rel=1e-6)
    assert all(not p.requires_grad for p in m.discriminator.parameters())


def test_g_then_d_recompute_feeds_d_the_updated_generator():
    m = build(step_order='g_then_d', disc_fake='recompute')
    ow = optims(m)
    d0 = params(m.discriminator)
    m.train()
    log = m.train_step(batch(), ow)
    m2 = build()
    m2.generator.load_state_dict(params(m.generator))   # G after its step
    m2.discriminator.load_state_dict(d0)                # D before its step
    gt01, known = stacked(batch())
    with torch.no_grad():
        ns = m2._namespace(gt01, known)
        logits, _ = m2.discriminator(ns['comp'])
    assert log['loss_d_fake'].item() == pytest.approx(F.softplus(logits).mean().item(), rel=1e-6)


def test_disc_steps_and_glcic_schedule():
    m = build(disc_steps=2)
    ow = optims(m)
    m.train()
    for it, g_moves in ((0, False), (1, True), (2, False)):
        m._local_iter = it
        g0, d0 = params(m.generator), params(m.discriminator)
        log = m.train_step(batch(seed=it), ow)
        assert changed(g0, m.generator) == g_moves and changed(d0, m.discriminator), it
        assert ('loss_g' in log) == g_moves
    # GLCIC: G alone (reconstruction only), then D alone, then both with the adversarial term
    m = build(disc_start_iter=2, generator_pause=(2, 4), adv_start_iter=4)
    ow = optims(m)
    m.train()
    for it, (g_moves, d_moves, adv) in {0: (True, False, False), 2: (False, True, False),
                                        3: (False, True, False), 4: (True, True, True)}.items():
        m._local_iter = it
        g0, d0 = params(m.generator), params(m.discriminator)
        log = m.train_step(batch(seed=it), ow)
        assert (changed(g0, m.generator), changed(d0, m.discriminator), 'loss_g' in log) == \
            (g_moves, d_moves, adv), it


def test_lazy_r1_every_interval_and_constant_ema():
    m = build(disc_losses=[dict(type='R1Penalty', gamma=10.0)], r1_interval=2, ema=dict(decay=0.5),
              step_order='g_then_d')
    ow = optims(m)
    m.train()
    e0 = params(m.generator_ema)
    log0 = m.train_step(batch(), ow)
    for k, p in m.generator.named_parameters():
        assert torch.allclose(dict(m.generator_ema.named_parameters())[k], 0.5 * e0[k] + 0.5 * p.detach(), atol=1e-7)
    m._local_iter = 1
    log1 = m.train_step(batch(), ow)
    assert 'loss_r1' in log0 and 'loss_r1' not in log1


def test_batch_gpu_rounds_accumulate_gradients():
    """Two rounds of one image give the sum of the two per-image gradients (StyleGAN2-ADA)."""
    grads = {}
    for bg in (None, 1):
        m = build(gan_loss=None, discriminator=None, batch_gpu=bg)
        ow = OptimWrapper(torch.optim.SGD(m.generator.parameters(), lr=0.0))
        m.train()
        seen = []
        ow.step = lambda **kw: seen.append([p.grad.clone() for p in m.generator.parameters()])
        m.train_step(batch(), ow)
        grads[bg] = seen[0]
    for a, b in zip(grads[None], grads[1]):
        assert torch.allclose(2 * a, b, atol=1e-6)


def test_without_discriminator_trains_with_one_optimizer():
    m = build(gan_loss=None, discriminator=None)
    ow = OptimWrapper(torch.optim.SGD(m.generator.parameters(), lr=1e-2))
    g0 = params(m.generator)
    m.train()
    log = m.train_step(batch(), ow)
    assert changed(g0, m.generator) and set(log) == {'loss_l1', 'l1', 'loss'}


# ---------------------------------------------------------------- inference
def test_inference_any_size_keeps_known_pixels_and_is_seeded():
    m = build(io=dict(pad_multiple=8, pad_mode='symmetric')).eval()
    b = batch(n=1, h=13, w=19)
    out = m.val_step(b)
    again = m.val_step(b)
    gt, known = b['gt'][0], b['mask'][0]
    assert out[0]['pred'].shape == (3, 13, 19) and torch.equal(out[0]['pred'], again[0]['pred'])
    keep = known.bool().expand_as(gt)
    assert torch.equal(out[0]['pred'][keep], gt[keep])
    assert out[0]['key'] == 'k0' and torch.equal(out[0]['mask'], known)
    # the hole is the network's output on the symmetric-padded input, cropped back, in [0, 1]
    x = pad_bottom_right(gt[None] * 2 - 1, 8, 'symmetric')
    mk = pad_bottom_right(known[None], 8, 'symmetric')
    with torch.no_grad():
        ref = ((m.generator(torch.cat([x * mk, 1 - mk], 1))[1] + 1) / 2).clamp(0, 1)[..., :13, :19]
    hole = ~keep
    assert torch.allclose(out[0]['pred'][hole], ref[0][hole], atol=1e-6)


def test_bgr_io_feeds_the_network_bgr_and_returns_rgb():
    m = build(generator=dict(type='RecordingG'), discriminator=None, gan_loss=None, losses=[],
              io=dict(channel_order='bgr', hole_fill=None)).eval()
    img = torch.rand(1, 3, 4, 5)
    known = torch.ones(1, 1, 4, 5)
    known[..., 1, 1] = 0
    out = m.inpaint(img, known)
    seen = m.generator.calls[-1][0]
    assert torch.equal(seen[:, :3], img.flip(1)) and torch.allclose(out, img)


@pytest.mark.parametrize('into_d', [False, True])
def test_disc_grad_from_generator_adds_gs_adversarial_gradient_to_d(into_d):
    """AOT-GAN's official step: D's update uses grad(d_loss) + grad(g_adv) when asked."""
    m = build(step_order='g_then_d', disc_grad_from_generator=into_d, losses=[])
    ow = OptimWrapperDict(generator=OptimWrapper(torch.optim.SGD(m.generator.parameters(), lr=0.0)),
                          discriminator=OptimWrapper(torch.optim.SGD(m.discriminator.parameters(), lr=1.0)))
    d0 = copy.deepcopy(m.discriminator)
    m.train()
    m.train_step(batch(), ow)
    gt01, known = stacked(batch())
    gt = gt01 * 2 - 1
    _, pred = m.generator(torch.cat([gt * known, 1 - known], 1))  # G did not move (lr 0)
    comp = pred * (1 - known) + gt * known
    d_loss = F.softplus(d0(comp.detach())[0]).mean() + F.softplus(-d0(gt)[0]).mean()
    g_adv = 2.0 * F.softplus(-d0(comp)[0]).mean()
    total = d_loss + g_adv if into_d else d_loss
    grads = torch.autograd.grad(total, list(d0.parameters()))
    for p_new, p_old, g in zip(m.discriminator.parameters(), d0.parameters(), grads):
        assert torch.allclose(p_new.detach(), p_old.detach() - g, atol=1e-6)
    with pytest.raises(ValueError, match="g_then_d"):
        build(disc_grad_from_generator=True)


def test_min_size_pads_small_images_up_and_crops_back():
    x = torch.arange(3 * 5 * 7, dtype=torch.float32).view(1, 3, 5, 7)
    y = pad_bottom_right(x, 4, 'reflect', min_size=12)
    assert y.shape == (1, 3, 12, 12) and torch.equal(y[..., :5, :7], x)
    m = build(io=dict(pad_multiple=4, min_size=12)).eval()
    b = batch(n=1, h=6, w=9)
    out = m.val_step(b)[0]['pred']
    assert out.shape == (3, 6, 9)


@pytest.mark.parametrize('order', ['d_then_g', 'g_then_d'])
def test_parameters_the_arch_froze_stay_frozen(order):
    """PConv's stage 2 freezes the encoder BatchNorm in the arch: the steps must not unfreeze it."""
    m = build(step_order=order, generator=dict(type='ToyInpaintG', freeze_first=True))
    w0, v0 = m.generator.c1.weight.detach().clone(), m.generator.c2[0].weight.detach().clone()
    ow = optims(m)
    m.train()
    for it in range(2):
        m._local_iter = it
        m.train_step(batch(seed=it), ow)
    assert torch.equal(m.generator.c1.weight, w0) and not m.generator.c1.weight.requires_grad
    assert not torch.equal(m.generator.c2[0].weight, v0)  # the rest trains


def test_init_weights_starts_the_ema_equal_to_the_initialised_generator():
    """The runner calls init_weights after construction; an arch's own init must reach the EMA copy."""
    m = build(ema=dict(decay=0.9))

    def init(module):
        for p in module.parameters():
            torch.nn.init.constant_(p, 0.25)
    m.generator.init_weights = lambda: init(m.generator)
    m.init_weights()
    for p, q in zip(m.generator.parameters(), m.generator_ema.parameters()):
        assert torch.equal(p, q) and torch.all(p == 0.25)
