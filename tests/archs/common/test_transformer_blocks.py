"""Restormer-style blocks against hand-written formulas."""
import math

import pytest
import torch
import torch.nn.functional as F

from irkit.archs.common.transformer_blocks import (Attention, BiasFree_LayerNorm, Downsample,
                                                   FeedForward, LayerNorm, TransformerBlock,
                                                   Upsample, WithBias_LayerNorm)


def test_biasfree_layernorm_does_not_centre():
    torch.manual_seed(0)
    ln = BiasFree_LayerNorm(5)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0, -1.0]))
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64) + 3.0  # large mean: centring would show
    ln.double()
    ref = torch.empty_like(x)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                v = x[b, :, i, j]
                var = ((v - v.mean()) ** 2).mean()  # population variance around the mean
                ref[b, :, i, j] = v / math.sqrt(var.item() + 1e-5) * ln.weight
    torch.testing.assert_close(ln(x), ref, rtol=0, atol=1e-12)
    assert 'bias' not in dict(ln.named_parameters())


def test_withbias_layernorm_is_channel_layer_norm_eps_1e5():
    torch.manual_seed(0)
    ln = WithBias_LayerNorm(6).double()
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 6, 5, 3, dtype=torch.float64) * 0.01  # small variance: eps matters
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, eps=1e-5).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref, rtol=0, atol=1e-12)
    wrong_eps = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, eps=1e-6)
    assert (wrong_eps.permute(0, 3, 1, 2) - ln(x)).abs().max() > 1e-3


def test_layernorm_type_keys_and_bad_type():
    assert set(LayerNorm(4, 'WithBias').state_dict()) == {'body.weight', 'body.bias'}
    assert set(LayerNorm(4, 'BiasFree').state_dict()) == {'body.weight'}
    with pytest.raises(ValueError, match='LayerNorm_type'):
        LayerNorm(4, 'Biasfree')


@pytest.mark.parametrize('dim,hidden', [(48, 127), (96, 255), (192, 510), (384, 1021),
                                        (704, 1872), (320, 851), (160, 425), (8, 21)])
def test_gdfn_hidden_width_is_floor(dim, hidden):
    ffn = FeedForward(dim, 2.66, bias=False)
    assert ffn.project_in.out_channels == 2 * hidden
    assert ffn.project_out.in_channels == hidden


def test_gdfn_uses_exact_gelu():
    torch.manual_seed(0)
    ffn = FeedForward(4, 2.0, bias=True).double()
    x = torch.randn(1, 4, 5, 6, dtype=torch.float64) * 3
    y = ffn.dwconv(ffn.project_in(x))
    a, b = y[:, :8], y[:, 8:]
    erf_gelu = 0.5 * a * (1 + torch.erf(a / math.sqrt(2)))
    torch.testing.assert_close(ffn(x), ffn.project_out(erf_gelu * b), rtol=0, atol=1e-12)


def test_mdta_matches_per_head_loop():
    torch.manual_seed(0)
    heads, dim = 2, 6
    attn = Attention(dim, heads, bias=True).double()
    with torch.no_grad():
        attn.temperature.copy_(torch.tensor([0.7, 1.9]).view(2, 1, 1))
    x = torch.randn(2, dim, 3, 5, dtype=torch.float64)
    qkv = attn.qkv_dwconv(attn.qkv(x))
    q, k, v = qkv[:, :dim], qkv[:, dim:2 * dim], qkv[:, 2 * dim:]
    out = torch.empty(2, dim, 15, dtype=torch.float64)
    ch = dim // heads
    for b in range(2):
        for h in range(heads):  # head = outer factor of the channel index
            sl = slice(h * ch, (h + 1) * ch)
            qh = q[b, sl].reshape(ch, -1)
            kh = k[b, sl].reshape(ch, -1)
            qh = qh / qh.norm(dim=1, keepdim=True)
            kh = kh / kh.norm(dim=1, keepdim=True)
            a = torch.softmax(qh @ kh.T * attn.temperature[h, 0, 0], dim=1)
            out[b, sl] = a @ v[b, sl].reshape(ch, -1)
    ref = attn.project_out(out.reshape(2, dim, 3, 5))
    torch.testing.assert_close(attn(x), ref, rtol=0, atol=1e-12)


def test_pixel_shuffle_order_and_bias_free_resampling():
    up, down = Upsample(2), Downsample(4)
    assert up.body[0].bias is None and down.body[0].bias is None
    assert up.body[0].out_channels == 4 and down.body[0].out_channels == 2
    x = torch.arange(2 * 8 * 2 * 3, dtype=torch.float64).reshape(2, 8, 2, 3)
    shuffled = up.body[1](x)  # PyTorch order (c, r1, r2): out[c, 2h+i, 2w+j] = in[4c+2i+j, h, w]
    assert shuffled.shape == (2, 2, 4, 6)
    for c in range(2):
        for h in range(2):
            for w in range(3):
                for i in range(2):
                    for j in range(2):
                        assert shuffled[1, c, 2 * h + i, 2 * w + j] == x[1, 4 * c + 2 * i + j, h, w]
    torch.testing.assert_close(down.body[1](shuffled), x)  # PixelUnshuffle is the inverse


def test_transformer_block_residual_structure():
    torch.manual_seed(0)
    blk = TransformerBlock(8, 2, 2.66, False, 'BiasFree')
    with torch.no_grad():
        blk.attn.project_out.weight.zero_()
        blk.ffn.project_out.weight.zero_()
    x = torch.randn(1, 8, 4, 4)
    torch.testing.assert_close(blk(x), x)
