"""Loss values against hand-computed numbers and independent formulas."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.losses import r1_penalty
from irkit.registry import LOSSES


def build(**cfg):
    return LOSSES.build(cfg)


def test_pixel_losses_by_hand():
    pred = torch.tensor([[[[1., 2.], [3., 4.]]]])
    tgt = torch.zeros_like(pred)
    assert build(type='L1Loss')(pred, tgt).item() == pytest.approx(2.5)
    assert build(type='L1Loss', loss_weight=2., reduction='sum')(pred, tgt).item() == pytest.approx(20.)
    assert build(type='MSELoss')(pred, tgt).item() == pytest.approx(7.5)
    w = torch.tensor([[[[1., 0.], [0., 1.]]]])
    assert build(type='L1Loss')(pred, tgt, weight=w).item() == pytest.approx(2.5)  # (1+4)/2
    assert build(type='MSELoss')(pred, tgt, weight=w).item() == pytest.approx(8.5)  # (1+16)/2
    ch = build(type='CharbonnierLoss')(pred, tgt).item()
    assert ch == pytest.approx(np.mean([math.sqrt(v * v + 1e-6) for v in (1, 2, 3, 4)]), abs=1e-7)
    assert build(type='CharbonnierLoss')(tgt, tgt).item() == pytest.approx(1e-3)
    assert build(type='L1Loss', reduction='none')(pred, tgt).shape == pred.shape
    with pytest.raises(ValueError, match='reduction'):
        build(type='L1Loss', reduction='avg')


def _edge_reference(x):
    """MPRNet's edge Laplacian written with numpy loops (replicate pad, 5x5 correlation)."""
    k = np.array([.05, .25, .4, .25, .05])
    k2 = np.outer(k, k)

    def gauss(img):
        p = np.pad(img, 2, mode='edge')
        out = np.zeros_like(img)
        for i in range(img.shape[0]):
            for j in range(img.shape[1]):
                out[i, j] = (p[i:i + 5, j:j + 5] * k2).sum()
        return out
    f = gauss(x)
    up = np.zeros_like(f)
    up[::2, ::2] = f[::2, ::2] * 4
    return x - gauss(up)


def test_edge_loss_matches_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 9, 10, generator=g, dtype=torch.float64)
    y = torch.rand(1, 2, 9, 10, generator=g, dtype=torch.float64)
    d = np.stack([_edge_reference(x[0, c].numpy()) - _edge_reference(y[0, c].numpy()) for c in range(2)])
    want = np.mean(np.sqrt(d ** 2 + 1e-6))
    assert build(type='EdgeLoss')(x, y).item() == pytest.approx(want, abs=1e-12)
    assert build(type='EdgeLoss', loss_weight=0.05)(x, x).item() == pytest.approx(0.05 * 1e-3)


@pytest.mark.parametrize('gan_type,real,fake,gen', [
    ('logistic', lambda v: np.log1p(np.exp(-v)), lambda v: np.log1p(np.exp(v)), lambda v: np.log1p(np.exp(-v))),
    ('vanilla', lambda v: np.log1p(np.exp(-v)), lambda v: np.log1p(np.exp(v)), lambda v: np.log1p(np.exp(-v))),
    ('lsgan', lambda v: (v - 1) ** 2, lambda v: v ** 2, lambda v: (v - 1) ** 2),
    ('wgan', lambda v: -v, lambda v: v, lambda v: -v),
    ('hinge', lambda v: np.maximum(0, 1 - v), lambda v: np.maximum(0, 1 + v), lambda v: -v),
])
def test_gan_losses_by_hand(gan_type, real, fake, gen):
    v = np.array([-1.5, 0.0, 0.5, 2.0])
    t = torch.tensor(v)
    loss = build(type='GANLoss', gan_type=gan_type, loss_weight=0.1)
    assert loss(t, True, is_disc=True).item() == pytest.approx(real(v).mean(), abs=1e-12)
    assert loss(t, False, is_disc=True).item() == pytest.approx(fake(v).mean(), abs=1e-12)
    assert loss(t, True, is_disc=False).item() == pytest.approx(0.1 * gen(v).mean(), abs=1e-12)


def test_r1_penalty_against_autograd_on_tiny_discriminator():
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Tanh(), torch.nn.Flatten(),
                            torch.nn.Linear(4 * 4 * 4, 1)).double()
    x = torch.randn(3, 3, 6, 6, dtype=torch.double, requires_grad=True)
    pen = r1_penalty(d(x), x)
    for i in range(3):  # per-sample gradient by autograd on one sample at a time
        xi = x[i:i + 1].detach().requires_grad_(True)
        (gi,) = torch.autograd.grad(d(xi).sum(), xi)
        assert pen[i].item() == pytest.approx(gi.pow(2).sum().item(), rel=1e-12)
    loss = build(type='R1Penalty', gamma=10., loss_weight=16.)(d(x), x)
    assert loss.item() == pytest.approx(16 * 5 * pen.mean().item(), rel=1e-12)
    loss.backward()  # create_graph: the penalty trains D
    assert d[0].weight.grad is not None and d[0].weight.grad.abs().sum() > 0

    # D(x) = sum(a * x^2): grad = 2 a x, penalty = sum(4 a^2 x^2)
    a = torch.tensor(0.7, dtype=torch.double)
    x2 = torch.randn(2, 1, 2, 2, dtype=torch.double, requires_grad=True)
    pen2 = r1_penalty((a * x2 ** 2).sum(dim=(1, 2, 3)), x2)
    torch.testing.assert_close(pen2, (4 * a ** 2 * x2.detach() ** 2).sum(dim=(1, 2, 3)))


def test_contrastive_loss_by_hand():
    loss = build(type='ContrastiveLoss')
    a = torch.eye(2, 4, dtype=torch.float64)
    s = 1 / 0.07
    assert loss(a, a.clone()).item() == pytest.approx(math.log1p(math.exp(-s)), rel=1e-6)
    b = torch.tensor([[1., 0.], [1., 1.]])
    bn = b / b.norm(dim=1, keepdim=True)
    logits = 2.0 * torch.eye(2) @ bn.t()
    want = (F.cross_entropy(logits, torch.arange(2)) + F.cross_entropy(logits.t(), torch.arange(2))) / 2
    got = loss(torch.eye(2), b, logit_scale=torch.tensor(2.0))
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    out = loss(torch.eye(2), b)
    out.backward()
    assert loss.logit_scale.grad is not None
    assert 'logit_scale' in dict(loss.named_parameters())


def _vgg_feats_manual(vgg, x, wanted):
    """Walk the VGG19 state_dict by hand (conv/relu/pool), returning wanted conv outputs."""
    from irkit.archs.common.vgg import CFGS
    sd = vgg.state_dict()
    h = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    out, i, block, idx = {}, 0, 1, 1
    for v in CFGS['vgg19']:
        if v == 'M':
            h = F.max_pool2d(h, 2)
            i, block, idx = i + 1, block + 1, 1
            continue
        if f'features.{i}.weight' not in sd:
            break
        h = F.conv2d(h, sd[f'features.{i}.weight'], sd[f'features.{i}.bias'], padding=1)
        if f'conv{block}_{idx}' in wanted:
            out[f'conv{block}_{idx}'] = h
        h = F.relu(h)
        if f'relu{block}_{idx}' in wanted:
            out[f'relu{block}_{idx}'] = h
        i, idx = i + 2, idx + 1
    return out


def test_mat_perceptual_loss_and_style_loss():
    torch.manual_seed(0)
    loss = build(type='MATPerceptualLoss', loss_weight=0.1, pretrained=False)
    for m in loss.vgg.modules():  # scale random weights so deep features are not ~0
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=(2 / (9 * m.in_channels)) ** 0.5)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    y = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    fx = _vgg_feats_manual(loss.vgg, (x + 1) / 2, {'conv4_4', 'conv5_4'})
    fy = _vgg_feats_manual(loss.vgg, (y + 1) / 2, {'conv4_4', 'conv5_4'})
    want = 0.1 * (0.25 * (fx['conv4_4'] - fy['conv4_4']).abs().mean()
                  + 0.5 * (fx['conv5_4'] - fy['conv5_4']).abs().mean())
    got = loss(x, y)
    assert got.item() == pytest.approx(want.item(), rel=1e-4)
    assert got.item() > 0

    style = build(type='StyleLoss', layer_weights={'relu1_1': 1.0, 'relu2_1': 0.5}, pretrained=False)
    xs, ys = (x + 1) / 2, (y + 1) / 2
    fx = _vgg_feats_manual(style.vgg, xs, {'relu1_1', 'relu2_1'})
    fy = _vgg_feats_manual(style.vgg, ys, {'relu1_1', 'relu2_1'})

    def gram(f):
        n, c, h, w = f.shape
        m = f.reshape(c, h * w)
        return m @ m.t() / (c * h * w)
    want = sum(wt * (gram(fx[k]) - gram(fy[k])).abs().mean() for k, wt in [('relu1_1', 1.0), ('relu2_1', 0.5)])
    assert style(xs, ys).item() == pytest.approx(want.item(), rel=1e-4)


def test_perceptual_loss_options():
    loss = build(type='PerceptualLoss', layer_weights={'relu2_2': 1.0}, vgg_type='vgg16', pretrained=False)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    out = loss(x, torch.rand(1, 3, 16, 16))
    out.backward()
    assert x.grad is not None and all(p.grad is None for p in loss.vgg.parameters())
    with pytest.raises(ValueError, match='unknown vgg16 layer'):
        build(type='PerceptualLoss', layer_weights={'conv5_4': 1.0}, vgg_type='vgg16', pretrained=False)
