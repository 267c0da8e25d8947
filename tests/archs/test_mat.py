"""MAT generator/discriminator: released sizes, official key layout, block behaviour."""
import hashlib

import pytest
import torch

from irkit.archs.common.stylegan2 import MappingNet, MinibatchStdLayer, setup_filter, upfirdn2d
from irkit.archs.mat import Conv2dLayerPartial, MATDiscriminator, MATGenerator, WindowAttention

from tests.archs.tiny_mat import TINY_TABLE


def _digest(sd):
    return hashlib.sha256('\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sorted(sd.items())).encode()).hexdigest()


# sha256 of the sorted "key:shape" lines of the official networks.mat.Generator / Discriminator
# (fenglinglwb/MAT@d273d89, img_resolution=512), computed from the official code outside this repo
OFFICIAL_G512 = '9ee08157601bd55a675d6324c723dcede1c454ab5726dbcff26dc280fe5217fb'
OFFICIAL_D512 = 'aac63becfb221de714902ef0e39913cb71748b6ca58359c577ea697e117f7493'


def test_released_sizes_and_keys():
    with torch.device('meta'):
        g = MATGenerator(z_dim=512, c_dim=0, w_dim=512, img_resolution=512, img_channels=3)
        d = MATDiscriminator(c_dim=0, img_resolution=512, img_channels=3, mbstd_group_size=8)
    assert sum(p.numel() for p in g.parameters()) == 61_562_518
    assert sum(p.numel() for p in d.parameters()) == 36_231_618
    gsd, dsd = g.state_dict(), d.state_dict()
    assert len(gsd) == 487 and len(dsd) == 132
    assert sum(b.numel() for b in g.buffers()) == 1_748_800
    attn_masks = sorted(k for k in gsd if k.endswith('attn_mask'))
    assert attn_masks == [f'synthesis.first_stage.tran.{i}.blocks.1.attn_mask' for i in (0, 1, 3, 4)]
    assert gsd['synthesis.dec.Dec_512x512.conv1.noise_const'].shape == (512, 512)
    assert 'mapping.w_avg' in gsd and 'fc1_stg1.weight' in dsd
    assert _digest(gsd) == OFFICIAL_G512 and _digest(dsd) == OFFICIAL_D512


def test_smaller_resolutions_and_bad_args():
    with torch.device('meta'):
        g = MATGenerator(512, 0, 512, 128, 3)
        d = MATDiscriminator(0, 128, 3)
    assert sum(p.numel() for p in g.parameters()) == 56_940_126
    assert sum(p.numel() for p in d.parameters()) == 35_489_794
    with pytest.raises(ValueError, match='>= 128'):
        MATGenerator(img_resolution=64)
    with pytest.raises(ValueError, match='no width for resolution'):
        MATGenerator(img_resolution=128, channel_table={128: 8})
    with pytest.raises(ValueError, match='divisible by 6'):
        MATGenerator(img_resolution=128, channel_table=TINY_TABLE, stage1_dim=10)
    # a list gives the widths from img_resolution down to 4
    a = MATDiscriminator(0, 128, 3, channel_table=[16, 32, 32, 32, 32, 32])
    b = MATDiscriminator(0, 128, 3, channel_table=TINY_TABLE)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}


def test_fir_filter_and_updown():
    f = setup_filter([1, 3, 3, 1])
    assert torch.allclose(f, torch.outer(torch.tensor([1., 3, 3, 1]), torch.tensor([1., 3, 3, 1])) / 64)
    x = torch.ones(1, 1, 8, 8)
    # a constant image stays constant inside (unit DC gain) when blurred without resampling
    y = upfirdn2d(x, f, padding=[1, 2, 1, 2])
    assert y.shape == (1, 1, 8, 8) and torch.allclose(y[..., 2:-2, 2:-2], torch.ones(1, 1, 4, 4))
    # impulse response of the x2 upsampler = the filter times up**2
    imp = torch.zeros(1, 1, 1, 1)
    imp[..., 0, 0] = 1
    up = upfirdn2d(imp, f, up=2, padding=[3, 3, 3, 3], gain=4)
    assert up.shape == (1, 1, 5, 5)
    assert torch.allclose(up[0, 0, :4, :4], f * 4) and up[0, 0, 4].abs().sum() == 0
    # FIR x2 down then the matching up keep a constant image constant away from the borders
    from irkit.archs.common.stylegan2 import downsample2d, upsample2d
    c = torch.full((1, 2, 16, 16), 3.0)
    assert downsample2d(c, f).shape == (1, 2, 8, 8) and upsample2d(c, f).shape == (1, 2, 32, 32)
    assert torch.allclose(downsample2d(c, f)[..., 1:-1, 1:-1], c[..., :6, :6])
    assert torch.allclose(upsample2d(c, f)[..., 2:-2, 2:-2], torch.full((1, 2, 28, 28), 3.0))


def test_partial_conv_rescale_and_mask_update():
    torch.manual_seed(0)
    pc = Conv2dLayerPartial(1, 1, 3, activation='lrelu')
    x = torch.randn(1, 1, 6, 6)
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., 0, 0] = 1  # one valid pixel
    out, new = pc(x, mask)
    plain = pc.conv(x)
    # windows that see the valid pixel get k*k / 1 = 9 (after bias and activation); others 0
    assert torch.allclose(out[..., :2, :2], plain[..., :2, :2] * 9)
    assert torch.all(out[..., 2:, :] == 0) and torch.all(out[..., :, 2:] == 0)
    assert torch.equal(new[0, 0, :2, :2], torch.ones(2, 2)) and new.sum() == 4


def test_attention_masks_invalid_keys_with_minus_100():
    import torch.nn.functional as F
    torch.manual_seed(0)
    att = WindowAttention(12, 4, 6)
    x = torch.randn(2, 16, 12)
    valid = torch.zeros(2, 16, 1)
    valid[0, :3] = 1  # window 0: 3 valid tokens; window 1: none
    out, new = att(x, valid)
    # mask update: a window with any valid token becomes fully valid
    assert torch.equal(new[0], torch.ones(16, 1)) and torch.equal(new[1], torch.zeros(16, 1))
    # reference: q, k from L2-normalised tokens, scale head_dim**-0.5, -100 on invalid keys
    n = F.normalize(x, dim=-1)
    q = att.q(n).reshape(2, 16, 6, 2).transpose(1, 2)
    k = att.k(n).reshape(2, 16, 6, 2).transpose(1, 2)
    v = att.v(x).reshape(2, 16, 6, 2).transpose(1, 2)
    logits = q @ k.transpose(-1, -2) * 2 ** -0.5 + (valid[:, None, None, :, 0] - 1) * 100
    ref = att.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(2, 16, 12))
    assert torch.allclose(out, ref, atol=1e-6)


def test_mapping_truncation_and_w_avg():
    torch.manual_seed(0)
    m = MappingNet(z_dim=8, c_dim=0, w_dim=8, num_ws=3, num_layers=2, w_avg_beta=0.5)
    z = torch.randn(4, 8)
    m.train()
    w = m(z, None)
    assert w.shape == (4, 3, 8) and torch.allclose(m.w_avg, w[:, 0].mean(0) * 0.5)
    m.eval()
    avg = m.w_avg.clone()
    w1 = m(z, None)
    assert torch.equal(m.w_avg, avg)  # no update in eval
    wt = m(z, None, truncation_psi=0.5)
    assert torch.allclose(wt, avg + 0.5 * (w1 - avg), atol=1e-6)
    wc = m(z, None, truncation_psi=0.5, truncation_cutoff=1)
    assert torch.allclose(wc[:, 0], wt[:, 0]) and torch.allclose(wc[:, 1:], w1[:, 1:])


def test_minibatch_std():
    x = torch.randn(4, 6, 2, 2)
    y = MinibatchStdLayer(group_size=2)(x)
    g = x.reshape(2, 2, 6, 2, 2)
    ref = ((g - g.mean(0)).square().mean(0) + 1e-8).sqrt().mean(dim=[1, 2, 3])  # (2,)
    assert y.shape == (4, 7, 2, 2)
    assert torch.allclose(y[:, 6, 0, 0], ref.repeat(2))


def test_tiny_forward_composites_and_seeded_dropout(tiny_nets):
    g, d = tiny_nets
    g.eval()
    img = torch.rand(2, 3, 128, 128) * 2 - 1
    mask = torch.ones(2, 1, 128, 128)
    mask[:, :, 32:96, 16:80] = 0
    z = torch.randn(2, 32)
    outs = []
    for seed in (240, 240, 241):
        torch.manual_seed(seed)
        with torch.no_grad():
            outs.append(g(img, mask, z, None, noise_mode='const', return_stg1=True))
    (o, o1), (p, p1), (q, _) = outs
    assert torch.equal(o, p) and torch.equal(o1, p1)  # seeded: reproducible
    assert not torch.equal(o, q)  # the style-manipulation draws act in eval mode too
    known = mask.bool().expand_as(img)
    assert torch.equal(o[known], img[known]) and torch.equal(o1[known], img[known])
    with torch.no_grad():
        s, s1 = d(o, mask, o1, None)
    assert s.shape == (2, 1) and s1.shape == (2, 1) and torch.isfinite(s).all()
