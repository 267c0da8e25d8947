"""Restormer: released variants, state_dict layout, tiny-width behaviour."""
import pytest
import torch

from irkit.registry import ARCHS

from ._helpers import assert_layout, n_params

TINY = dict(type='Restormer', dim=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1,
            heads=[1, 2, 2, 4])


@pytest.mark.parametrize('kwargs,params,keys,variant', [
    (dict(), 26_126_644, 494, 'default'),
    (dict(inp_channels=6, dual_pixel_task=True), 26_132_548, 495, 'dual_pixel'),
    (dict(LayerNorm_type='BiasFree'), 26_111_668, 406, 'biasfree'),
    (dict(inp_channels=1, out_channels=1, LayerNorm_type='BiasFree'), 26_109_076, 406, 'biasfree_gray'),
])
def test_released_variants(kwargs, params, keys, variant):
    model = ARCHS.build(dict(type='Restormer', **kwargs))
    assert n_params(model) == params
    assert len(model.state_dict()) == keys
    assert_layout(model, 'restormer_released_keys', variant)


def test_level1_has_no_reduce_conv_and_runs_at_2dim():
    sd = ARCHS.build(TINY).state_dict()
    assert 'reduce_chan_level1.weight' not in sd
    assert sd['decoder_level1.0.norm1.body.weight'].shape == (16,)
    assert sd['refinement.0.attn.temperature'].shape == (1, 1, 1)
    assert sd['output.weight'].shape == (3, 16, 3, 3)
    assert sd['patch_embed.proj.weight'].shape == (8, 3, 3, 3)


def test_bias_flag_spares_embedding_and_resampling():
    sd = ARCHS.build(dict(TINY, bias=True)).state_dict()
    for k in ('patch_embed.proj', 'down1_2.body.0', 'up2_1.body.0'):
        assert k + '.bias' not in sd
    for k in ('output', 'reduce_chan_level2', 'latent.0.attn.qkv', 'latent.0.ffn.dwconv'):
        assert k + '.bias' in sd


@pytest.mark.parametrize('hw', [(8, 8), (16, 40), (32, 8)])
def test_shapes_and_global_residual(hw):
    torch.manual_seed(0)
    model = ARCHS.build(TINY).eval()
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        y = model(x)
        assert y.shape == x.shape
        model.output.weight.zero_()
        assert torch.equal(model(x), x)


def test_dual_pixel_has_no_input_residual():
    torch.manual_seed(0)
    model = ARCHS.build(dict(TINY, inp_channels=6, dual_pixel_task=True)).eval()
    x = torch.rand(1, 6, 16, 24)
    with torch.no_grad():
        assert model(x).shape == (1, 3, 16, 24)
        model.output.weight.zero_()
        assert torch.equal(model(x), torch.zeros(1, 3, 16, 24))
    assert model.skip_conv.weight.shape == (16, 8, 1, 1)


def test_size_not_multiple_of_8_is_a_clear_error():
    with pytest.raises(ValueError, match='divisible by 8.*20x16'):
        ARCHS.build(TINY)(torch.rand(1, 3, 20, 16))


def test_float64_and_backward():
    torch.manual_seed(0)
    model = ARCHS.build(dict(TINY, LayerNorm_type='BiasFree')).double()
    y = model(torch.rand(1, 3, 8, 16, dtype=torch.float64))
    assert y.dtype == torch.float64
    y.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_wrong_number_of_levels():
    with pytest.raises(ValueError, match='4 entries'):
        ARCHS.build(dict(TINY, num_blocks=[1, 1, 1]))
