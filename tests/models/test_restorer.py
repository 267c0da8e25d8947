import pytest
import torch

from irkit.models.restorer import Restorer, pad_to_multiple, tiled_forward
from irkit.registry import MODELS


def _model(**kw):
    torch.manual_seed(0)
    return MODELS.build(dict(type='Restorer', generator=dict(type='DnCNN', nc=8, nb=4, use_bn=False),
                             losses=[dict(type='L1Loss')], **kw)).eval()


def test_pad_to_multiple_and_crop_back():
    x = torch.rand(1, 3, 13, 21)
    xp, (h, w) = pad_to_multiple(x, 8)
    assert xp.shape[-2:] == (16, 24) and (h, w) == (13, 21)
    assert torch.equal(xp[..., :13, :21], x)
    assert torch.equal(xp[..., 13, :21], x[..., 11, :])  # reflect


def test_tiled_matches_whole_image_with_enough_overlap():
    m = _model()
    x = torch.rand(1, 3, 70, 93)
    whole = m.inference(x)
    m.tile, m.tile_overlap = 32, 16  # receptive field of 4 conv layers = 9 px
    tiled = m.inference(x)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max().item() < 1e-3
    # without overlap the seams show: the check above can fail
    m.tile_overlap = 0
    assert (m.inference(x) - whole).abs().max().item() > 1e-3


def test_tiled_forward_identity_blend_is_exact():
    x = torch.rand(2, 3, 50, 61)
    y = tiled_forward(lambda t: t * 2, x, tile=16, overlap=6)
    assert torch.allclose(y, x * 2, atol=1e-6)


def test_self_ensemble_of_equivariant_net_equals_plain():
    m = _model()
    x = torch.rand(1, 3, 16, 16)
    # an elementwise generator is flip/transpose equivariant: ensemble == plain
    m.generator = torch.nn.Sigmoid()
    plain = m.inference(x)
    m.self_ensemble = True
    assert torch.allclose(m.inference(x), plain, atol=1e-6)


def test_predict_any_size_with_padding_multiple():
    m = _model(pad_multiple=8)
    seen = []
    m.generator.register_forward_pre_hook(lambda mod, args: seen.append(tuple(args[0].shape[-2:])))
    batch = {'lq': torch.rand(2, 3, 13, 21), 'gt': torch.rand(2, 3, 13, 21), 'key': ['a', 'b']}
    out = m.predict(batch)
    assert seen == [(16, 24)]
    assert [o['key'] for o in out] == ['a', 'b'] and out[0]['pred'].shape == (3, 13, 21)
    assert out[0]['pred'].min() >= 0 and out[0]['pred'].max() <= 1


def test_deep_supervision_sums_over_outputs():
    m = _model(deep_supervision=True)
    gt = torch.zeros(1, 3, 4, 4)
    outs = [torch.full_like(gt, 1.0), torch.full_like(gt, 2.0), torch.full_like(gt, 3.0)]
    assert m.compute_losses(outs, gt)['loss_l1'].item() == pytest.approx(6.0)
    m.deep_supervision = False
    assert m.compute_losses(outs, gt)['loss_l1'].item() == pytest.approx(1.0)


def test_clamp_train_outputs_clamps_before_losses_and_stops_gradient():
    m = _model(deep_supervision=True, clamp_train_outputs=True)
    gt = torch.full((1, 1, 1, 2), 0.5)
    # stage outputs with pixels above 1 and below 0: clamped to 1 and 0, |1-.5| = |0-.5| = .5
    o1 = torch.tensor([[[[1.5, 0.25]]]], requires_grad=True)
    o2 = torch.tensor([[[[-2.0, 0.75]]]], requires_grad=True)
    loss = m.compute_losses([o1, o2], gt)['loss_l1']
    # L1 means: stage 1 (0.5 + 0.25) / 2, stage 2 (0.5 + 0.25) / 2
    assert loss.item() == pytest.approx(0.75)
    loss.backward()
    # d/dx mean|x - .5| = sign / 2 inside [0,1], 0 where the clamp saturated
    assert o1.grad.flatten().tolist() == [0.0, -0.5]
    assert o2.grad.flatten().tolist() == [0.0, 0.5]
    m.clamp_train_outputs = False
    assert m.compute_losses([o1, o2], gt)['loss_l1'].item() == pytest.approx((1 + .25 + 2.5 + .25) / 2)
