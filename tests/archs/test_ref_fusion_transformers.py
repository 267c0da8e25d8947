"""RestormerRefFusion / PromptIRRefFusion (tiny widths, CPU; released sizes on the meta device)."""
import io

import pytest
import torch
import torch.nn.functional as F

from irkit.archs.promptir import PromptIR
from irkit.archs.ref_fusion_transformers import (PromptIRRefFusion, RestormerRefFusion,
                                                 TransformerResFusionBlock)
from irkit.archs.restormer import Restormer
from irkit.registry import ARCHS

MATCH = dict(ext_n_blocks=[1, 1, 2, 1], reffusion_n_blocks=[1, 2, 1, 1], reffusion_n_blocks_middle=1,
             scale=1, num_nbr=1, psize=3, lr_block_size=8, ref_down_block_size=1.5, dilations=[1, 2, 3])
TINY_RESTORMER = dict(dim=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1, heads=[1, 2, 4, 8],
                      ffn_expansion_factor=2.66, bias=False, LayerNorm_type='WithBias', nf=8, **MATCH)
TINY_PROMPTIR = dict(dim=48, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1, heads=[1, 2, 4, 8],
                     ffn_expansion_factor=1.0, bias=False, LayerNorm_type='WithBias', decoder=True,
                     nf=48, **MATCH)
RELEASED = dict(dim=48, num_blocks=[4, 6, 6, 8], num_refinement_blocks=4, heads=[1, 2, 4, 8],
                ffn_expansion_factor=2.66, bias=False, nf=48, ext_n_blocks=[4, 4, 4, 4],
                reffusion_n_blocks=[2, 2, 2, 2], reffusion_n_blocks_middle=1, scale=1, num_nbr=1,
                psize=3, lr_block_size=8, ref_down_block_size=1.5, dilations=[1, 2, 3])


def _randomised(net, seed=0, std=0.05):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return net.eval()


def _count(cfg):
    with torch.device('meta'):
        m = ARCHS.build(cfg)
    return sum(p.numel() for p in m.parameters())


# --- independent parameter count (formulas, not the modules) -------------------------------
def _ln(c, ln):
    return c if ln == 'BiasFree' else 2 * c


def _tblock(c, heads, ln, ffn=2.66):
    hid = int(c * ffn)
    attn = heads + 3 * c * c + 3 * c * 9 + c * c  # temperature, qkv, dwconv, project_out
    mlp = 2 * hid * c + 2 * hid * 9 + hid * c
    return 2 * _ln(c, ln) + attn + mlp


def _masa_params(dim, nf, heads, ext, fusion, ln, in_ch=3):
    enc = 0
    c_in = in_ch
    for k in range(4):
        c = nf * 2 ** k
        enc += c_in * c * 9 + c + ext[min(k, 2)] * 2 * (c * c * 9 + c)
        c_in = c
    fuse = sum(fusion[k] * (_tblock(2 * dim * 2 ** k, heads[k], ln) + 1) for k in range(4))
    return enc + fuse


@pytest.mark.parametrize('ln,backbone', [('WithBias', 26126644), ('BiasFree', 26111668)])
def test_released_restormer_rf_parameter_count(ln, backbone):
    n = _count(dict(type='RestormerRefFusion', LayerNorm_type=ln, **RELEASED))
    masa = _masa_params(48, 48, [1, 2, 4, 8], [4, 4, 4, 4], [2, 2, 2, 2], ln)
    # Restormer's released counts (restormer.py docstring) + the reference branch
    assert n == backbone + masa
    assert n == (60096138 if ln == 'WithBias' else 60075402)
    assert round(n / 1e6, 1) == 60.1  # the paper's "Restormer-RF 60.1 M"


def test_released_promptir_rf_parameter_count():
    masa = _masa_params(48, 48, [1, 2, 4, 8], [4, 4, 4, 4], [2, 2, 2, 2], 'WithBias')
    released = _count(dict(type='PromptIRRefFusion', LayerNorm_type='WithBias', decoder=False,
                           **RELEASED))
    published = _count(dict(type='PromptIRRefFusion', LayerNorm_type='WithBias', decoder=True,
                            **RELEASED))
    prompts = sum(5 * c * s * s + (lin + 1) * 5 + c * c * 9
                  for c, s, lin in [(64, 64, 96), (128, 32, 192), (320, 16, 384)])
    assert published == 35592263 + masa  # PromptIR's released count + the reference branch
    assert released == published - prompts == 66076782
    assert round(released / 1e6, 1) == 66.1  # the paper's "PromptIR-RF 66.1 M" (the yml's decoder=False)


def test_registered_and_state_dict_layout():
    m = ARCHS.build(dict(type='RestormerRefFusion', **TINY_RESTORMER))
    keys = set(m.state_dict())
    for k in ['masa_enc.conv_L1.weight', 'masa_enc.blk_L4.1.conv2.bias', 'patch_embed.proj.weight',
              'masa_blk_enc_level1.0.alpha', 'masa_blk_enc_level2.1.attn.temperature',
              'masa_blk_enc_level4.0.ffn.project_out.weight', 'encoder_level1.0.norm1.body.bias',
              'latent.0.attn.qkv.weight', 'refinement.0.ffn.dwconv.weight', 'output.weight']:
        assert k in keys, k
    assert not any(k.startswith('masa_enc.conv_L5') or k.startswith('masa_blk_enc.') for k in keys)
    assert m.masa_blk_enc_level3[0].norm1.body.weight.shape == (2 * 8 * 4,)  # concat: 2 * dim * 4
    assert isinstance(m.masa_blk_enc_level1[0], TransformerResFusionBlock)
    assert m.padder_size == 8
    p = ARCHS.build(dict(type='PromptIRRefFusion', **TINY_PROMPTIR))
    pkeys = set(p.state_dict())
    assert {'prompt1.prompt_param', 'chnl_reduce3.weight', 'noise_level2.attn.qkv.weight',
            'masa_blk_enc_level4.0.alpha'} <= pkeys


def test_fusion_block_is_identity_at_init():
    blk = TransformerResFusionBlock(16, 2, 2.66, False, 'WithBias')
    x = torch.randn(1, 16, 5, 7)
    assert blk.alpha.item() == 0
    torch.testing.assert_close(blk(x), x)


def test_restormer_rf_at_init_equals_restormer_on_zero_padded_input():
    """alpha = 0: the fusion is the identity, so the output is Restormer's on the zero-padded input."""
    torch.manual_seed(0)
    net = RestormerRefFusion(**TINY_RESTORMER).eval()
    base = Restormer(**{k: TINY_RESTORMER[k] for k in ('dim', 'num_blocks', 'num_refinement_blocks',
                                                        'heads', 'ffn_expansion_factor', 'bias',
                                                        'LayerNorm_type')}).eval()
    base.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith('masa')})
    x, r = torch.rand(1, 3, 37, 45), torch.rand(1, 3, 50, 60)
    with torch.no_grad():
        y = net(x, r)
        ref = base(F.pad(x, (0, 64 - 45, 0, 64 - 37)))[..., :37, :45]
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


def test_promptir_rf_at_init_equals_promptir_on_zero_padded_input():
    torch.manual_seed(0)
    net = PromptIRRefFusion(**TINY_PROMPTIR).eval()
    base = PromptIR(**{k: TINY_PROMPTIR[k] for k in ('dim', 'num_blocks', 'num_refinement_blocks',
                                                      'heads', 'ffn_expansion_factor', 'bias',
                                                      'LayerNorm_type', 'decoder')}).eval()
    base.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith('masa')})
    x = torch.rand(1, 3, 37, 45)
    with torch.no_grad():
        y = net(x, torch.rand(1, 3, 64, 64))
        ref = base(F.pad(x, (0, 64 - 45, 0, 64 - 37)))[..., :37, :45]
    torch.testing.assert_close(y, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('cls,cfg', [(RestormerRefFusion, TINY_RESTORMER),
                                     (PromptIRRefFusion, TINY_PROMPTIR)])
def test_non_multiple_sizes_reference_matters_and_round_trip(cls, cfg):
    net = _randomised(cls(**cfg))
    x = torch.rand(1, 3, 37, 45)
    r1, r2 = torch.rand(1, 3, 37, 45), torch.rand(1, 3, 64, 100)
    with torch.no_grad():
        y1, y2 = net(x, r1), net(x, r2)
    assert y1.shape == x.shape and torch.isfinite(y1).all() and y2.shape == x.shape
    assert (y1 - y2).abs().max() > 1e-6  # the (non-zero alpha) fusion uses the reference
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    buf.seek(0)
    other = cls(**cfg).eval()
    other.load_state_dict(torch.load(buf, weights_only=True), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(other(x, r1), y1, atol=0, rtol=0)


def test_internal_zero_padding_and_crop():
    net = _randomised(RestormerRefFusion(**TINY_RESTORMER))
    x, r = torch.rand(1, 3, 50, 70), torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        y = net(x, r)
        y_pad = net(F.pad(x, (0, 128 - 70, 0, 64 - 50)), F.pad(r, (0, 128 - 70, 0, 64 - 50)))
    torch.testing.assert_close(y, y_pad[..., :50, :70])


def test_four_level_warp_matches_the_encoder_levels():
    """The release indexes a fifth level (IndexError); the fix warps levels 0-3 onto the encoder."""
    net = _randomised(RestormerRefFusion(**TINY_RESTORMER))
    x, r = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        warped = net._warp(x, r)
    assert [tuple(w.shape) for w in warped] == [(1, 8, 64, 128), (1, 16, 32, 64), (1, 32, 16, 32),
                                                (1, 64, 8, 16)]


def test_dual_pixel_variant():
    cfg = dict(TINY_RESTORMER, inp_channels=6, dual_pixel_task=True)
    net = _randomised(RestormerRefFusion(**cfg))
    with torch.no_grad():
        y = net(torch.rand(1, 6, 37, 45), torch.rand(1, 6, 40, 40))
    assert y.shape == (1, 3, 37, 45)
    with pytest.raises(ValueError, match='channels'):  # the release feeds the 3-channel guidance
        net(torch.rand(1, 6, 37, 45), torch.rand(1, 3, 40, 40))


def test_errors():
    with pytest.raises(ValueError, match='nf must equal dim'):
        RestormerRefFusion(**dict(TINY_RESTORMER, nf=16))
    with pytest.raises(ValueError, match='reffusion_n_blocks'):
        RestormerRefFusion(**dict(TINY_RESTORMER, reffusion_n_blocks=[1, 1, 1]))
    with pytest.raises(ValueError, match='scale'):
        RestormerRefFusion(**dict(TINY_RESTORMER, scale=2))
    with pytest.raises(ValueError, match='lr_block_size'):
        RestormerRefFusion(**dict(TINY_RESTORMER, lr_block_size=4))
    net = PromptIRRefFusion(**dict(TINY_PROMPTIR, decoder=False))
    with pytest.raises(RuntimeError, match='decoder=True'):
        net(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
