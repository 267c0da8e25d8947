"""MPRNet: released settings, state_dict layout, tiny-width behaviour."""
import pytest
import torch
import torch.nn.functional as F

from irkit.registry import ARCHS, ConfigKeyError

from ._helpers import assert_layout, n_params

TINY = dict(type='MPRNet', n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)


@pytest.mark.parametrize('widths,params,numel,variant', [
    (dict(), 20_127_073, 20_127_127, 'deblurring'),
    (dict(n_feat=80), 15_741_025, 15_741_079, 'denoising'),
    (dict(n_feat=40, scale_unetfeats=20, scale_orsnetfeats=16), 3_637_249, 3_637_303, 'deraining'),
])
def test_released_settings(widths, params, numel, variant):
    model = ARCHS.build(dict(type='MPRNet', **widths))
    sd = model.state_dict()
    assert n_params(model) == params
    assert len(sd) == 316
    assert sum(v.numel() for v in sd.values()) == numel  # 54 duplicate PReLU entries
    assert_layout(model, 'mprnet_released_keys', variant)


def test_one_shared_prelu_under_55_keys():
    model = ARCHS.build(TINY)
    prelus = [m for m in model.modules() if isinstance(m, torch.nn.PReLU)]
    assert len({id(m) for m in prelus}) == 1
    sd = model.state_dict()
    keys = [k for k, v in sd.items() if v.shape == (1,)]
    assert 'shallow_feat1.1.body.1.weight' in sd
    assert 'stage3_orsnet.orb3.body.0.body.1.weight' in sd
    ptrs = {sd[k].data_ptr() for k in keys}
    assert len(ptrs) == 1


def test_prelu_key_count_at_release():
    sd = ARCHS.build(dict(type='MPRNet', n_feat=40, scale_unetfeats=20,
                          scale_orsnetfeats=16)).state_dict()
    prelu_keys = [k for k in sd if k.endswith('body.1.weight') and sd[k].numel() == 1]
    assert len(prelu_keys) == 55
    assert len({sd[k].data_ptr() for k in prelu_keys}) == 1


def test_always_bias_free_convs():
    sd = ARCHS.build(dict(TINY, bias=True)).state_dict()
    for k in ('stage1_encoder.down12.down.1', 'stage1_decoder.up21.up.1',
              'stage3_orsnet.up_enc2.1.up.1', 'stage3_orsnet.orb1.body.1'):
        assert k + '.weight' in sd and k + '.bias' not in sd
    for k in ('tail', 'concat12', 'sam12.conv2', 'stage2_encoder.csff_enc1',
              'stage3_orsnet.orb1.body.0.body.0'):
        assert k + '.bias' in sd


def test_outputs_final_first_and_shapes():
    torch.manual_seed(0)
    model = ARCHS.build(TINY).eval()
    x = torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        outs = model(x)
    assert isinstance(outs, list) and len(outs) == 3
    assert all(o.shape == x.shape for o in outs)
    with torch.no_grad():  # zero tail: the final image is the input (global residual)
        model.tail.weight.zero_()
        assert torch.equal(model(x)[0], x)


def test_stage1_works_on_independent_halves():
    torch.manual_seed(0)
    model = ARCHS.build(TINY).eval().double()
    x = torch.rand(1, 3, 16, 24, dtype=torch.float64)
    y = x.clone()
    y[:, :, 8:] = torch.rand(1, 3, 8, 24, dtype=torch.float64)  # change the bottom half only
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.equal(a[2][:, :, :8], b[2][:, :, :8])  # stage-1 top half untouched
    assert not torch.equal(a[0][:, :, :8], b[0][:, :, :8])  # stage 3 sees the whole image


def test_downsample_is_2x2_average_then_conv():
    model = ARCHS.build(TINY)
    down = model.stage1_encoder.down12
    x = torch.rand(1, 8, 6, 10, dtype=torch.float64)
    down.double()
    ref = F.conv2d(F.avg_pool2d(x, 2), down.down[1].weight)
    torch.testing.assert_close(down(x), ref, rtol=0, atol=1e-12)


def test_gray_input_gives_three_channel_stage_images():
    model = ARCHS.build(dict(TINY, in_c=1, out_c=1)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 1, 8, 16))
    assert outs[0].shape == (1, 1, 8, 16)
    assert outs[1].shape == outs[2].shape == (1, 3, 8, 16)  # SAM conv2 is hard-coded to 3


def test_size_not_multiple_of_8_is_a_clear_error():
    model = ARCHS.build(TINY)
    with pytest.raises(ValueError, match='divisible by 8.*12x16'):
        model(torch.rand(1, 3, 12, 16))


def test_backward_and_strict_unknown_argument():
    model = ARCHS.build(TINY)
    outs = model(torch.rand(1, 3, 8, 8))
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ConfigKeyError, match='n_feat'):
        ARCHS.build(dict(type='MPRNet', n_feats=8))


def test_state_dict_round_trip_strict(tmp_path):
    torch.manual_seed(0)
    a = ARCHS.build(TINY).eval()
    torch.save({'state_dict': a.state_dict()}, tmp_path / 'm.pth')
    torch.manual_seed(1)
    b = ARCHS.build(TINY).eval()
    b.load_state_dict(torch.load(tmp_path / 'm.pth', weights_only=True)['state_dict'], strict=True)
    x = torch.rand(1, 3, 8, 16)
    with torch.no_grad():
        assert all(torch.equal(u, v) for u, v in zip(a(x), b(x)))
