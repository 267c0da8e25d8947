"""The Partial Convolutions recipe's losses against independent computations:
area-normalised L1 (hole x6, valid x1), VGG16 pool1-3 perceptual (x0.05) and style (x120),
masked TV (x0.1)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.registry import LOSSES

POOLS = {'pool1': 1.0, 'pool2': 1.0, 'pool3': 1.0}


def _tv_by_loops(x, m):
    """MMagic's MaskedTVLoss written out: per direction sum(|diff| * m_first) / (C * sum(m_first))."""
    x, m = x.numpy(), m.numpy()
    n, c, h, w = x.shape
    num_y = den_y = num_x = den_x = 0.0
    for b in range(n):
        for ch in range(c):
            for i in range(h):
                for j in range(w):
                    if i + 1 < h:
                        num_y += abs(x[b, ch, i, j] - x[b, ch, i + 1, j]) * m[b, 0, i, j]
                        den_y += m[b, 0, i, j]
                    if j + 1 < w:
                        num_x += abs(x[b, ch, i, j] - x[b, ch, i, j + 1]) * m[b, 0, i, j]
                        den_x += m[b, 0, i, j]
    return num_y / den_y + num_x / den_x


def test_masked_tv_loss_by_hand():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64)
    m = (torch.rand(2, 1, 5, 6, generator=g, dtype=torch.float64) > 0.5).double()
    tv = LOSSES.build(dict(type='MaskedTVLoss', loss_weight=0.1))
    assert tv(x, weight=m).item() == pytest.approx(0.1 * _tv_by_loops(x, m), rel=1e-12)
    # no mask: the plain mean absolute differences
    want = (x[:, :, 1:] - x[:, :, :-1]).abs().mean() + (x[..., 1:] - x[..., :-1]).abs().mean()
    assert tv(x).item() == pytest.approx(0.1 * want.item(), rel=1e-12)
    # a tiny case by hand: one row [0, 1, 3], mask on the first two pixels -> x: (1 + 2) / 2
    t = torch.tensor([[[[0., 1., 3.]]]])
    assert LOSSES.build(dict(type='MaskedTVLoss'))(t, weight=torch.tensor([[[[1., 1., 0.]]]])).item() == pytest.approx(1.5)
    with pytest.raises(ValueError, match='weight shape'):
        tv(x, weight=m[..., :4])


def test_area_normalised_l1_hole_and_valid():
    pred = torch.tensor([[[[1., 2.], [3., 4.]]]]).repeat(1, 3, 1, 1)
    gt = torch.zeros_like(pred)
    hole = torch.tensor([[[[1., 0.], [0., 0.]]]])  # one channel, broadcast over three
    l_hole = LOSSES.build(dict(type='L1Loss', loss_weight=6.))(pred, gt, weight=hole)
    l_valid = LOSSES.build(dict(type='L1Loss'))(pred, gt, weight=1 - hole)
    assert l_hole.item() == pytest.approx(6 * (3 * 1) / 3)  # sum over the masked area / its size
    assert l_valid.item() == pytest.approx((3 * (2 + 3 + 4)) / 9)


def _vgg16_pools(x, sd):
    """VGG16 features up to pool3 with F.conv2d / F.max_pool2d from a torchvision state dict."""
    # ImageNet statistics as float32 constants (as torchvision and MMagic store them)
    mean = torch.tensor([0.485, 0.456, 0.406]).to(x.dtype).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).to(x.dtype).view(1, 3, 1, 1)
    h = ((x + 1) / 2 - mean) / std
    out = {}
    convs = {1: [0, 2], 2: [5, 7], 3: [10, 12, 14]}
    for block, idxs in convs.items():
        for i in idxs:
            h = F.relu(F.conv2d(h, sd[f'features.{i}.weight'], sd[f'features.{i}.bias'], padding=1))
        h = F.max_pool2d(h, 2)
        out[f'pool{block}'] = h
    return out


def _gram(f):
    n, c, hh, ww = f.shape
    return torch.einsum('nchw,ndhw->ncd', f, f) / (c * hh * ww)


def test_pconv_perceptual_and_style_against_independent_vgg():
    torch.manual_seed(0)
    percep = LOSSES.build(dict(type='PerceptualLoss', layer_weights=POOLS, vgg_type='vgg16',
                               range_norm=True, loss_weight=0.05, pretrained=False)).double()
    style = LOSSES.build(dict(type='StyleLoss', layer_weights=POOLS, vgg_type='vgg16',
                              range_norm=True, loss_weight=120., pretrained=False)).double()
    style.vgg.load_state_dict(percep.vgg.state_dict())
    sd = {f'features.{k}': v for k, v in percep.vgg.features.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(2, 3, 24, 32, generator=g, dtype=torch.float64) * 2 - 1
    out = torch.rand(2, 3, 24, 32, generator=g, dtype=torch.float64) * 2 - 1
    fo, fg = _vgg16_pools(out, sd), _vgg16_pools(gt, sd)
    want_p = 0.05 * sum((fo[k] - fg[k]).abs().mean() for k in POOLS)
    want_s = 120 * sum((_gram(fo[k]) - _gram(fg[k])).abs().mean() for k in POOLS)
    assert percep(out, gt).item() == pytest.approx(want_p.item(), rel=1e-10)
    assert style(out, gt).item() == pytest.approx(want_s.item(), rel=1e-10)
    assert np.isfinite(want_s.item()) and want_s.item() > 0
