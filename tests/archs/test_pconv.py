"""Partial convolutions: the layer against hand computations, MMagic's released layout,
the MMagic checkpoint reader, encoder BatchNorm freezing and the U-Net's size rules."""
import os

import pytest
import torch

from irkit.archs.pconv import MaskConvModule, PartialConv2d, PConvEncoder, PConvEncoderDecoder
from irkit.fileio.weights import ConversionError, read_official
from irkit.registry import ARCHS

from .pconv_released_layout import RELEASED_STATE_DICT

# --------------------------------------------------------------------------- the layer


def _hand_pconv(x, m, w, b, k, pad):
    """Partial conv, stride 1, by loops: sum over the window of w*x*m, times
    (#window entries) / (#valid entries), plus the bias; 0 where no entry is valid."""
    n, cin, h, wd = x.shape
    cout = w.shape[0]
    out = torch.zeros(n, cout, h, wd, dtype=x.dtype)
    new_mask = torch.zeros(n, 1, h, wd, dtype=x.dtype)
    mc = m.expand(n, cin, h, wd)
    winsize = (cin if m.shape[1] == cin else 1) * k * k
    for bi in range(n):
        for i in range(h):
            for j in range(wd):
                acc = torch.zeros(cout, dtype=x.dtype)
                valid = 0.0
                for di in range(k):
                    for dj in range(k):
                        ii, jj = i + di - pad, j + dj - pad
                        if 0 <= ii < h and 0 <= jj < wd:
                            acc += w[:, :, di, dj] @ (x[bi, :, ii, jj] * mc[bi, :, ii, jj])
                            valid += float(m[bi, :, ii, jj].sum())
                if valid > 0:
                    out[bi, :, i, j] = acc * winsize / valid + (b if b is not None else 0)
                    new_mask[bi, 0, i, j] = 1
    return out, new_mask


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('multi_channel', [False, True])
def test_partial_conv_against_hand_computation(bias, multi_channel):
    g = torch.Generator().manual_seed(0)
    cin, cout = 2, 3
    conv = PartialConv2d(cin, cout, 3, padding=1, bias=bias, multi_channel=multi_channel).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g, dtype=torch.float64))
        if bias:
            conv.bias.copy_(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    x = torch.randn(1, cin, 4, 5, generator=g, dtype=torch.float64)
    m = torch.ones(1, cin if multi_channel else 1, 4, 5, dtype=torch.float64)
    m[..., 0:3, 0:3] = 0  # a hole with one fully invalid window at (1, 1)
    if multi_channel:
        m[:, 1, 3, 4] = 0  # channels differ
    out, new_mask = conv(x, m)
    want, want_mask = _hand_pconv(x, m, conv.weight.detach(), conv.bias.detach() if bias else None, 3, 1)
    assert conv.slide_winsize == (cin * 9 if multi_channel else 9)
    assert new_mask.shape == (1, cout if multi_channel else 1, 4, 5)
    assert torch.equal(new_mask, want_mask.expand_as(new_mask))
    assert new_mask[0, 0, 1, 1] == 0 and out[0, :, 1, 1].abs().sum() == 0  # nothing valid -> 0, bias too
    torch.testing.assert_close(out, want, rtol=1e-7, atol=1e-12)  # eps=1e-8 on the count


def test_partial_conv_ones_weights_ratio():
    # ones weights, no bias, constant input: every window with a valid pixel returns the full
    # window sum (9 * value), i.e. holes are filled by re-normalisation
    conv = PartialConv2d(1, 1, 3, padding=1, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.full((1, 1, 3, 3), 2.0)
    m = torch.tensor([[[[1., 0., 0.], [0., 0., 0.], [0., 0., 0.]]]])
    out, new_mask = conv(x, m)
    assert torch.equal(new_mask, torch.tensor([[[[1., 1., 0.], [1., 1., 0.], [0., 0., 0.]]]]))
    torch.testing.assert_close(out, 18.0 * new_mask, rtol=1e-7, atol=0)  # 9 * 2 * 9 / (1 + eps)
    # eps keeps fully invalid windows finite (9 / 0 * 0 would be nan)
    assert torch.isnan(PartialConv2d(1, 1, 3, padding=1, bias=False, eps=0.0).requires_grad_(False)(x, m)[0]).any()
    # no mask: plain convolution (MMagic); border windows see zero padding
    assert conv(x).tolist() == [[[[8., 12., 8.], [12., 18., 12.], [8., 12., 8.]]]]


def test_partial_padding_cache_and_return_mask():
    torch.manual_seed(0)
    conv = PartialConv2d(2, 3, 3, padding=1, partial_padding=True, multi_channel=True)
    x = torch.randn(2, 2, 5, 6)
    out, upd = conv(x)
    out_ones, upd_ones = conv(x, torch.ones_like(x))
    assert torch.equal(out, out_ones) and torch.equal(upd, upd_ones[:1])
    cached = conv._ones_cache
    conv(x, (torch.rand_like(x) > 0.5).float())  # a masked call in between ...
    out2, _ = conv(x)
    assert conv._ones_cache is cached and torch.equal(out2, out)  # ... does not leak into the next one
    conv(torch.randn(1, 2, 7, 7))
    assert conv._ones_cache is not cached  # recomputed for a new shape
    # corner: 4 of 9 positions inside -> ratio 18/8 on the masked sum (multi-channel: 2*4 of 2*9)
    torch.nn.init.ones_(conv.weight)
    torch.nn.init.zeros_(conv.bias)
    y = conv(torch.ones(1, 2, 4, 4))[0]
    assert torch.allclose(y, torch.full_like(y, 18.0))
    # return_mask switches
    assert isinstance(conv(x, return_mask=False), torch.Tensor)
    plain = PartialConv2d(2, 3, 3, padding=1, return_mask=False)
    assert isinstance(plain(x, torch.ones(2, 1, 5, 6)), torch.Tensor)
    assert len(plain(x, torch.ones(2, 1, 5, 6), return_mask=True)) == 2


def test_multi_channel_counts_from_channel_sum_equal_updater_conv():
    torch.manual_seed(0)
    conv = PartialConv2d(3, 5, 5, stride=2, padding=2, multi_channel=True)
    x = torch.randn(2, 3, 11, 13)
    m = (torch.rand(2, 3, 11, 13) > 0.4).float()
    out, upd = conv(x, m)
    assert upd.shape == (2, 5, 6, 7)
    ref = torch.nn.functional.conv2d(m, torch.ones(5, 3, 5, 5), stride=2, padding=2)  # the buffer's conv
    assert torch.equal(upd, ref.clamp(0, 1))
    # an edited (non-ones) updater is honoured through the buffer, also after load_state_dict
    sd = conv.state_dict()
    sd['weight_mask_updater'] = sd['weight_mask_updater'].clone()
    sd['weight_mask_updater'][:, 0] = 0  # ignore channel 0 of the mask
    conv.load_state_dict(sd)
    assert not conv._updater_is_ones
    upd2 = conv(x, m)[1]
    ref2 = torch.nn.functional.conv2d(m[:, 1:], torch.ones(5, 2, 5, 5), stride=2, padding=2)
    assert torch.equal(upd2, ref2.clamp(0, 1))


def test_partial_conv_mask_errors_and_no_mask_gradient():
    conv = PartialConv2d(3, 4, 3, padding=1, multi_channel=True)
    with pytest.raises(ValueError, match=r'mask of shape \(N, 3, 8, 8\)'):
        conv(torch.randn(1, 3, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match='groups=1'):
        PartialConv2d(4, 4, 3, groups=2)
    m = torch.ones(1, 3, 8, 8, requires_grad=True)
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    out, upd = conv(x, m)
    assert not upd.requires_grad
    out.sum().backward()
    assert x.grad is not None
    assert 'weight_mask_updater' in conv.state_dict()


def test_pconv_type_resolves_through_mmcv_builder():
    from mmcv.cnn import build_conv_layer
    layer = build_conv_layer(dict(type='PConv', multi_channel=True), 4, 8, 3, padding=1)
    assert type(layer) is PartialConv2d and layer.multi_channel
    mod = MaskConvModule(4, 8, 3, padding=1, conv_cfg=dict(type='PConv'), norm_cfg=dict(type='BN'))
    assert sorted(mod.state_dict()) == ['bn.bias', 'bn.num_batches_tracked', 'bn.running_mean',
                                        'bn.running_var', 'bn.weight', 'conv.weight',
                                        'conv.weight_mask_updater']
    x = torch.randn(2, 4, 6, 6)
    y, m = mod(x, torch.ones(2, 1, 6, 6))
    assert y.shape == (2, 8, 6, 6) and m.shape == (2, 1, 6, 6) and (y >= 0).all()
    with pytest.raises(ValueError, match='conv_cfg type'):
        MaskConvModule(4, 8, 3, conv_cfg=None)


# --------------------------------------------------------------------------- the U-Net

RELEASED = dict(encoder=dict(type='PConvEncoder', norm_cfg=dict(type='SyncBN', requires_grad=False),
                             norm_eval=True),
                decoder=dict(type='PConvDecoder', norm_cfg=dict(type='SyncBN')))


def test_released_layout_matches_mmagic():
    with torch.device('meta'):
        net = ARCHS.build(dict(type='PConvEncoderDecoder', **RELEASED))
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == RELEASED_STATE_DICT
    assert list(got) == list(RELEASED_STATE_DICT)
    assert sum(p.numel() for p in net.parameters()) == 25_779_860
    # stage 2 freezes the encoder's BN affine parameters
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith('encoder.') and '.bn.' in n for n in frozen)
    assert len(frozen) == 2 * 6  # enc2 .. enc7
    assert net.inpaint_io['pad_multiple'] == 128 and net.inpaint_io['mask'] == 'known'


def _small(norm_eval=False, requires_grad=True, num_layers=4):
    return PConvEncoderDecoder(
        encoder=dict(type='PConvEncoder', num_layers=num_layers, norm_eval=norm_eval,
                     norm_cfg=dict(type='BN', requires_grad=requires_grad)),
        decoder=dict(type='PConvDecoder', num_layers=num_layers))


def test_mmagic_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    src = _small()
    sd = {k: (torch.randn_like(v) if v.is_floating_point() and 'mask_updater' not in k else v)
          for k, v in src.state_dict().items()}
    path = os.path.join(tmp_path, 'pconv_256x256_stage2_4x2_fake.pth')
    torch.save({'meta': {'mmedit_version': '0.14.0', 'iter': 500000, 'config': 'model = dict(...)'},
                'state_dict': {**{f'generator.{k}': v for k, v in sd.items()}},
                'optimizer': {'generator': {'state': {0: {'step': torch.tensor(3.)}},
                                            'param_groups': [{'lr': 5e-5, 'params': [0]}]}}}, path)
    parts = read_official(path, 'mmagic')
    assert sorted(parts) == ['generator']
    dst = _small()
    dst.load_state_dict(parts['generator'], strict=True)
    for k, v in dst.state_dict().items():
        assert torch.equal(v, sd[k]), k
    assert any(k.endswith('weight_mask_updater') for k in parts['generator'])
    # a key missing from the file is named by strict loading
    del parts['generator']['decoder.dec1.conv.weight_mask_updater']
    with pytest.raises(RuntimeError, match='decoder.dec1.conv.weight_mask_updater'):
        _small().load_state_dict(parts['generator'], strict=True)
    torch.save({'state_dict': {'encoder.enc1.conv.weight': torch.zeros(1)}}, path)
    with pytest.raises(ConversionError, match="no 'generator.*' weights"):
        read_official(path, 'mmagic')


def test_norm_eval_freezes_encoder_batchnorm():
    torch.manual_seed(0)
    net = _small(norm_eval=True, requires_grad=False).train()
    enc_bn = [m for m in net.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    dec_bn = [m for m in net.decoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert enc_bn and dec_bn
    assert not any(m.training for m in enc_bn) and all(m.training for m in dec_bn)
    assert all(not p.requires_grad for m in enc_bn for p in m.parameters())
    before = [m.running_mean.clone() for m in enc_bn + dec_bn]
    x, m = torch.randn(2, 3, 16, 32), torch.ones(2, 3, 16, 32)
    net(x, m)[0].mean().backward()
    after = [m.running_mean for m in enc_bn + dec_bn]
    assert all(torch.equal(a, b) for a, b in zip(before[:len(enc_bn)], after[:len(enc_bn)]))
    assert not any(torch.equal(a, b) for a, b in zip(before[len(enc_bn):], after[len(enc_bn):]))
    assert all(m.weight.grad is None for m in enc_bn)
    assert net.decoder.dec2.bn.weight.grad is not None
    # stage 1: encoder BN trains
    net1 = _small().train()
    assert all(m.training for m in net1.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    net.eval()
    assert not any(m.training for m in net.modules())


def test_any_size_rules_and_hole_independence():
    torch.manual_seed(0)
    net = _small().eval()  # 4 stride-2 layers: sizes must be multiples of 16
    assert net.size_multiple == 16 and net.inpaint_io['pad_multiple'] == 16
    assert PConvEncoderDecoder.inpaint_io['pad_multiple'] == 128
    x = torch.randn(1, 3, 32, 48)
    known = torch.ones(1, 3, 32, 48)
    known[..., 8:20, 10:30] = 0
    out, mask_out = net(x * known, known)
    assert out.shape == (1, 3, 32, 48) and mask_out.shape == (1, 3, 32, 48)
    assert torch.equal(mask_out, torch.ones_like(mask_out))  # a small hole is closed by the bottleneck
    # partial convolutions never look at hole pixels
    x2 = x.clone()
    x2[..., 8:20, 10:30] = torch.randn(1, 3, 12, 20) * 100
    torch.testing.assert_close(net(x2, known)[0], out, rtol=0, atol=0)
    with pytest.raises(ValueError, match='not a multiple of 16'):
        net(torch.randn(1, 3, 40, 48), torch.ones(1, 3, 40, 48))
    with pytest.raises(ValueError, match='must be equal'):
        PConvEncoderDecoder(encoder=dict(type='PConvEncoder', num_layers=5),
                            decoder=dict(type='PConvDecoder', num_layers=4))
    with pytest.raises(ValueError, match='num_layers >= 4'):
        PConvEncoder(num_layers=3)
