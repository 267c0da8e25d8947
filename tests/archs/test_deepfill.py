"""DeepFill v1 / v2 (MMagic's port): released layouts, contextual attention against an independent
loop computation, gated convolution on hand weights, conventions, MMagic checkpoint reading."""
import copy
import math

import numpy as np
import pytest
import torch

from irkit.archs.common.gated_conv import SimpleGatedConvModule
from irkit.archs.deepfill import ContextualAttentionModule, DeepFillEncoderDecoder
from irkit.fileio.weights import read_official
from irkit.registry import ARCHS

from tests.archs._helpers import assert_layout, load_layout
from tests.archs.mmagic_released_configs import (DEEPFILLV1_DISC, DEEPFILLV1_GENERATOR, DEEPFILLV2_DISC,
                                                 DEEPFILLV2_GENERATOR)

LAYOUTS = 'mmagic_inpainting_released_keys'


def build(cfg):
    return ARCHS.build(copy.deepcopy(cfg))


@pytest.mark.parametrize('cfg,part,n_params', [
    (DEEPFILLV1_GENERATOR, 'deepfillv1_generator', 3_601_542),
    (DEEPFILLV1_DISC, 'deepfillv1_disc', 7_072_770),
    (DEEPFILLV2_GENERATOR, 'deepfillv2_generator', 4_414_908),
    (DEEPFILLV2_DISC, 'deepfillv2_disc', 5_946_816),
], ids=['v1-generator', 'v1-disc', 'v2-generator', 'v2-disc'])
def test_released_layouts(cfg, part, n_params):
    net = build(cfg)
    assert_layout(net, LAYOUTS, part)
    assert list(net.state_dict()) == list(load_layout(LAYOUTS, part))  # same order too
    assert sum(p.numel() for p in net.parameters()) == n_params


# --- contextual attention: an independent loop implementation of MMagic's numerics -------------
def contextual_attention_loops(x, ctx, hole, scale=10.0, fuse=3):
    """x, ctx: (C, H, W) float64 numpy; hole: (H, W) 1 = hole. Returns (output, scores[q, k])."""
    c, big_h, big_w = x.shape
    xs, cs, hs = x[:, ::2, ::2], ctx[:, ::2, ::2], hole[::2, ::2]  # nearest x0.5: pixel (2i, 2j)
    h, w = xs.shape[1:]
    pad = lambda a: np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)])  # noqa: E731
    xs_p, cs_p, hs_p = pad(xs), pad(cs), pad(hs)
    pos = [(i, j) for i in range(h) for j in range(w)]  # row-major
    keys = []
    for i, j in pos:
        p = cs_p[:, i:i + 3, j:j + 3]
        keys.append(p / max(np.sqrt((p ** 2).sum()), 1e-4))
    s = np.array([[(xs_p[:, qi:qi + 3, qj:qj + 3] * k).sum() for k in keys] for qi, qj in pos])
    n = len(pos)
    r = (fuse - 1) // 2

    def diag_sum(m):
        out = np.zeros_like(m)
        for a in range(n):
            for b in range(n):
                out[a, b] = sum(m[a + d, b + d] for d in range(-r, r + 1) if 0 <= a + d < n and 0 <= b + d < n)
        return out

    s = diag_sum(s)
    col = [i + j * h for i, j in pos]  # column-major index of each row-major position
    t = np.zeros_like(s)
    t[np.ix_(col, col)] = s
    s = diag_sum(t)[np.ix_(col, col)]
    masked = np.array([hs_p[i:i + 3, j:j + 3].sum() > 0 for i, j in pos])
    logits = np.where(masked[None, :], -np.inf, s * scale)
    att = np.exp(logits - logits.max(1, keepdims=True))
    att /= att.sum(1, keepdims=True)
    ctx_p = pad(ctx)
    out = np.zeros((c, big_h + 2, big_w + 2))
    cnt = np.zeros((big_h + 2, big_w + 2))
    for q, (qi, qj) in enumerate(pos):
        cnt[2 * qi:2 * qi + 4, 2 * qj:2 * qj + 4] += 1
        for k, (ki, kj) in enumerate(pos):
            out[:, 2 * qi:2 * qi + 4, 2 * qj:2 * qj + 4] += att[q, k] * ctx_p[:, 2 * ki:2 * ki + 4, 2 * kj:2 * kj + 4]
    return out[:, 1:-1, 1:-1] / cnt[1:-1, 1:-1], att


@pytest.mark.parametrize('fuse', [3, 1])
def test_contextual_attention_matches_loop_computation(fuse):
    rng = np.random.default_rng(0)
    x, ctx = rng.standard_normal((2, 2, 8, 12)), rng.standard_normal((2, 2, 8, 12))
    hole = np.zeros((2, 8, 12))
    hole[0, 2:6, 3:8] = 1
    hole[1, 0:3, 8:12] = 1
    ca = ContextualAttentionModule(fuse_kernel_size=fuse).double()
    out, score = ca(torch.from_numpy(x), torch.from_numpy(ctx), torch.from_numpy(hole[:, None]))
    assert out.shape == (2, 2, 8, 12) and score.shape == (2, 4, 6, 4, 6)
    for b in range(2):
        ref_out, ref_att = contextual_attention_loops(x[b], ctx[b], hole[b], fuse=fuse)
        np.testing.assert_allclose(out[b].numpy(), ref_out, rtol=0, atol=1e-12)
        # score[b, ki, kj, qi, qj] = attention of query (qi, qj) on key (ki, kj)
        np.testing.assert_allclose(score[b].reshape(24, 24).T.numpy(), ref_att, rtol=0, atol=1e-12)
    # keys touching the hole get no weight; every query's weights sum to 1
    assert float(score[0, 1:3, 1:4].abs().max()) == 0
    torch.testing.assert_close(score.sum(dim=(1, 2)), torch.ones(2, 4, 6, dtype=torch.float64))


def test_contextual_attention_without_mask_and_errors():
    torch.manual_seed(0)
    ca = ContextualAttentionModule(return_attention_score=False)
    x = torch.randn(1, 3, 8, 8)
    out = ca(x, x)
    ref, _ = contextual_attention_loops(x[0].double().numpy(), x[0].double().numpy(), np.zeros((8, 8)))
    np.testing.assert_allclose(out[0].numpy(), ref, rtol=0, atol=1e-5)
    assert 'fuse_kernel' in ca.state_dict()  # part of MMagic's checkpoints
    with pytest.raises(ValueError, match='fuse_kernel_size must be odd'):
        ContextualAttentionModule(fuse_kernel_size=2)


def test_gated_conv_hand_weights():
    m = SimpleGatedConvModule(1, 1, 1)  # one conv with 2 outputs: feature, gate
    with torch.no_grad():
        m.conv.conv.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))
        m.conv.conv.bias.copy_(torch.tensor([0.5, 0.25]))
    v = torch.tensor([-2.0, -0.25, 0.0, 1.5])
    y = m(v.view(1, 1, 1, 4)).flatten()
    elu = lambda t: t if t > 0 else math.exp(t) - 1  # noqa: E731
    sig = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    expected = [elu(2 * t + 0.5) * sig(-t + 0.25) for t in v.tolist()]
    torch.testing.assert_close(y, torch.tensor(expected))
    last = SimpleGatedConvModule(1, 1, 1, feat_act_cfg=None)  # DeepFill v2's output conv: gate only
    last.load_state_dict(m.state_dict())
    torch.testing.assert_close(last(v.view(1, 1, 1, 4)).flatten(),
                               torch.tensor([(2 * t + 0.5) * sig(-t + 0.25) for t in v.tolist()]))
    assert list(m.state_dict()) == ['conv.conv.weight', 'conv.conv.bias']


@pytest.fixture(scope='module')
def v2():
    torch.manual_seed(0)
    return build(DEEPFILLV2_GENERATOR).eval()


def test_generator_conventions(v2):
    io = DeepFillEncoderDecoder.inpaint_io
    assert (io['inputs'], io['outputs'], io['mask'], io['hole_fill'], io['pad_multiple'], io['min_size']) == \
        ('concat_ones', ('stage1', 'pred'), 'hole', 0.0, 8, 72)
    torch.manual_seed(1)
    img = torch.rand(1, 3, 72, 88) * 2 - 1
    mask = torch.zeros(1, 1, 72, 88)
    mask[..., 20:50, 30:70] = 1
    x = torch.cat([img * (1 - mask), torch.ones_like(mask), mask], 1)
    with torch.no_grad():
        stage1, stage2 = v2(x)
        # stage 2 sees the stage-1 result pasted into the hole, plus the ones and mask channels
        expected, _ = v2.stage2(torch.cat([stage1 * mask + img * (1 - mask), x[:, 3:]], 1), mask)
    assert stage1.shape == stage2.shape == (1, 3, 72, 88)
    assert stage2.abs().max() < 1  # tanh
    torch.testing.assert_close(stage2, expected)
    with pytest.raises(ValueError, match=r'\(72, 92\) must be divisible by 8'):
        v2(torch.zeros(1, 5, 72, 92))
    with pytest.raises(ValueError, match='at least 68 px'):
        v2(torch.zeros(1, 5, 64, 88))


def test_return_offset_and_v1_clip():
    torch.manual_seed(0)
    cfg = copy.deepcopy(DEEPFILLV1_GENERATOR)
    cfg['return_offset'] = True
    net = build(cfg).eval()
    assert net.inpaint_io['outputs'] == ('stage1', 'pred', 'offset')
    assert DeepFillEncoderDecoder.inpaint_io['outputs'] == ('stage1', 'pred')  # class default untouched
    x = torch.randn(2, 5, 72, 80) * 5
    x[:, 3:4] = 1
    x[:, 4:] = 0
    x[0, 4:, 8:40, 16:48] = 1
    with torch.no_grad():
        s1, s2, score = net(x)
    assert s1.abs().max() <= 1 and s2.abs().max() <= 1  # clip
    assert score.shape == (2, 9, 10, 9, 10)  # keys x queries on the 1/8 grid
    torch.testing.assert_close(score.sum(dim=(1, 2)), torch.ones(2, 9, 10))


def test_all_keys_in_the_hole_gives_zero_attention():
    """MMagic returns NaN when every key patch touches the hole; irkit pastes nothing."""
    ca = ContextualAttentionModule()
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0] = 1  # sample 0: all hole
    mask[1, :, 0, 0] = 1
    out, score = ca(x, x, mask)
    assert float(out[0].detach().abs().max()) == 0 and float(score[0].detach().abs().max()) == 0
    torch.testing.assert_close(score[1].sum(dim=(0, 1)), torch.ones(4, 4))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_init_weights_is_mmagics():
    torch.manual_seed(0)
    net = build(DEEPFILLV1_GENERATOR)
    net.init_weights()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 42  # 17 in stage 1, 25 in stage 2
    w = torch.cat([c.weight.detach().flatten() for c in convs])
    assert abs(float(w.std()) - 0.02) < 0.001 and all(float(c.bias.detach().abs().max()) == 0 for c in convs)
    disc = build(DEEPFILLV1_DISC)
    disc.init_weights()
    assert abs(float(disc.global_disc.fc.linear.weight.detach().std()) - 0.02) < 0.001


def test_discriminators():
    torch.manual_seed(0)
    d1 = build(DEEPFILLV1_DISC).eval()
    assert d1.disc_io == dict(inputs='global_local', local_size=128, returns='logits_pair')
    g, l_ = torch.randn(2, 3, 256, 256), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        gp, lp = d1((g, l_))
        assert torch.equal(gp, d1.global_disc(g)) and torch.equal(lp, d1.local_disc(l_))
    assert gp.shape == lp.shape == (2, 1)
    d2 = build(DEEPFILLV2_DISC)
    assert d2.disc_io['inputs'] == 'image_mask'
    with torch.no_grad():
        assert d2(torch.randn(1, 4, 64, 96)).shape == (1, 256, 1, 2)  # a map of patch logits
    # spectral norm: in eval mode the conv weight is weight_orig / sigma, sigma = u^T W v
    c = d2.conv1.conv
    w = c.weight_orig.detach().flatten(1)
    sigma = c.weight_u @ (w @ c.weight_v)
    d2.eval()
    with torch.no_grad():
        d2(torch.randn(1, 4, 64, 64))
    torch.testing.assert_close(c.weight.flatten(1), w / sigma)


def _random_state(net, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) * 0.05 for k, v in net.state_dict().items()}


def test_mmagic_checkpoint_round_trip(v2, tmp_path):
    """MMagic's DeepFill v2 checkpoint layout (meta, 'generator.'/'disc.' keys incl. spectral-norm
    u/v buffers, optimizer states) loads strictly and reproduces the source network."""
    disc = build(DEEPFILLV2_DISC)
    gsd, dsd = _random_state(v2, 3), _random_state(disc, 4)
    state = {f'generator.{k}': v for k, v in gsd.items()}
    state.update({f'disc.{k}': v for k, v in dsd.items()})
    path = tmp_path / 'deepfillv2_256x256_8x2_places_20200619-10d15793.pth'
    torch.save({'meta': {'mmedit_version': '0.4.0', 'iter': 100000}, 'state_dict': state,
                'optimizer': {'generator': {'state': {}, 'param_groups': [{'lr': 1e-4, 'params': [0]}]}}},
               path)
    parts = read_official(path, 'mmagic')
    net = build(DEEPFILLV2_GENERATOR).eval()
    net.load_state_dict(parts['generator'], strict=True)
    disc.load_state_dict(parts['discriminator'], strict=True)
    assert torch.equal(disc.conv6.conv.weight_u, dsd['conv6.conv.weight_u'])
    v2.load_state_dict(gsd)
    x = torch.randn(1, 5, 72, 80)
    with torch.no_grad():
        for a, b in zip(net(x), v2(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    del parts['generator']['stage2.contextual_attention_neck.contextual_attention.fuse_kernel']
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*contextual_attention\.fuse_kernel'):
        net.load_state_dict(parts['generator'], strict=True)
