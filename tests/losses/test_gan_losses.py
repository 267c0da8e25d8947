"""GAN losses of the inpainting recipes against hand computations and independent formulas."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.registry import LOSSES


def build(**cfg):
    return LOSSES.build(cfg)


def test_smgan_targets_blurred_hole_for_fakes_and_one_for_the_generator():
    from scipy.ndimage import convolve
    torch.manual_seed(0)
    hole = torch.zeros(1, 1, 80, 90, dtype=torch.float64)
    hole[..., 20:50, 30:75] = 1
    d_map = torch.randn(1, 1, 20, 23, dtype=torch.float64)
    up = F.interpolate(d_map, size=(80, 90), mode='bilinear', align_corners=True)
    x = np.arange(71) - 35.0
    g = np.exp(-x ** 2 / 200.0)
    g /= g.sum()
    blurred = convolve(hole[0, 0].numpy(), np.outer(g, g), mode='constant', cval=0.0)
    loss = build(type='GANLoss', gan_type='smgan', loss_weight=0.01)
    d_fake = loss(d_map, False, is_disc=True, mask=hole)
    # the kernel is float32 as AOT-GAN builds it: within 1e-7 of the float64 Gaussian
    assert d_fake.item() == pytest.approx(((up[0, 0].numpy() - blurred) ** 2).mean(), abs=1e-7)
    assert loss(d_map, True, is_disc=True, mask=hole).item() == pytest.approx((up ** 2).mean().item(), rel=1e-12)
    assert loss(d_map, True, is_disc=False, mask=hole).item() == pytest.approx(
        0.01 * ((up - 1) ** 2).mean().item(), rel=1e-12)
    with pytest.raises(ValueError, match='hole mask'):
        loss(d_map, True)


def test_mask_as_fake_target_counts_known_pixels_of_fakes_as_real():
    pred = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]]])
    hole = torch.zeros(1, 1, 4, 4)
    hole[..., :2, :2] = 1  # nearest-resized to the 2x2 map: only the top-left logit is a hole
    loss = build(type='GANLoss', gan_type='nonsaturating', mask_as_fake_target=True)
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    ref = (sp(0.5) + sp(1.0) + sp(-2.0) + sp(0.0)) / 4  # hole: softplus(D); known: softplus(-D)
    assert loss(pred, False, is_disc=True, mask=hole).item() == pytest.approx(ref, rel=1e-6)
    # real targets and the generator side are the plain non-saturating loss
    assert loss(pred, True, is_disc=True, mask=hole).item() == pytest.approx(
        np.mean([sp(-v) for v in (0.5, -1.0, 2.0, 0.0)]), rel=1e-6)
    with pytest.raises(ValueError, match='logistic'):
        build(type='GANLoss', gan_type='hinge', mask_as_fake_target=True)


def test_masked_gradient_penalty_by_hand():
    w = torch.tensor([[[[1.0, -2.0], [0.5, 3.0]]], [[[0.0, 1.0], [2.0, -1.0]]]])  # 2 out, 1 in, 2x2

    def disc(x):  # linear critic: grad_x sum(disc(x)) is known in closed form
        return F.conv2d(x, w[:1]).sum(dim=(1, 2, 3))

    real = torch.rand(2, 1, 3, 3)
    fake = torch.rand(2, 1, 3, 3)
    mask = torch.zeros(2, 1, 3, 3)
    mask[:, :, 1:, 1:] = 1
    torch.manual_seed(3)
    gp = build(type='GradientPenaltyLoss', loss_weight=10.0)(disc, real, fake, mask=mask)
    grad = F.conv_transpose2d(torch.ones(2, 1, 2, 2), w[:1])  # d/dx of sum(conv(x, w))
    pen = ((grad * mask).abs() - 1) ** 2                    # one channel: the L2 norm is |.|
    assert gp.item() == pytest.approx(10 * pen.mean().item() / mask.mean().item(), rel=1e-6)
    gp_plain = build(type='GradientPenaltyLoss', loss_weight=1.0, norm_mode='HWC')(disc, real, fake)
    assert gp_plain.item() == pytest.approx(((grad.flatten(1).norm(dim=1) - 1) ** 2).mean().item(), rel=1e-6)


def test_disc_shift_and_feature_matching():
    x = torch.tensor([1.0, -2.0, 3.0])
    assert build(type='DiscShiftLoss', loss_weight=0.1)(x).item() == pytest.approx(0.1 * 14 / 3)
    a = [torch.ones(1, 2, 2, 2), torch.zeros(1, 1, 3, 3)]
    b = [torch.zeros(1, 2, 2, 2), torch.full((1, 1, 3, 3), 2.0)]
    fm = build(type='FeatureMatchingLoss', loss_weight=10.0)
    assert fm(a, b).item() == pytest.approx(10 * (1.0 + 4.0) / 2)
    assert build(type='FeatureMatchingLoss', criterion='l1')(a, b).item() == pytest.approx((1 + 2) / 2)
    with pytest.raises(ValueError, match='logits_features'):
        fm([], [])
