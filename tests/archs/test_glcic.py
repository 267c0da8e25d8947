"""GLCIC (MMagic's port): released layout, conventions, discriminators, MMagic checkpoint reading."""
import copy

import pytest
import torch
import torch.nn.functional as F

from irkit.archs.common.gl_blocks import GLEncoderDecoder
from irkit.archs.common.multi_layer_disc import MultiLayerDiscriminator
from irkit.archs.glcic import GLDiscs
from irkit.fileio.weights import ConversionError, read_official
from irkit.registry import ARCHS

from tests.archs._helpers import assert_layout, load_layout
from tests.archs.mmagic_released_configs import GL_DISC, GL_GENERATOR

LAYOUTS = 'mmagic_inpainting_released_keys'


@pytest.fixture(scope='module')
def gl_generator():
    torch.manual_seed(0)
    return ARCHS.build(copy.deepcopy(GL_GENERATOR))


def test_released_generator_layout(gl_generator):
    assert_layout(gl_generator, LAYOUTS, 'gl_generator')
    assert list(gl_generator.state_dict()) == list(load_layout(LAYOUTS, 'gl_generator'))  # same order too
    assert sum(p.numel() for p in gl_generator.parameters()) == 6_069_155


def test_released_discriminator_layout():
    disc = ARCHS.build(copy.deepcopy(GL_DISC))
    assert_layout(disc, LAYOUTS, 'gl_disc')
    assert sum(p.numel() for p in disc.parameters()) == 45_060_225
    assert disc.disc_io == dict(inputs='global_local', local_size=128, returns='logits')


def test_generator_convention_and_shapes(gl_generator):
    io = GLEncoderDecoder.inpaint_io
    assert (io['value_range'], io['mask'], io['hole_fill'], io['inputs'], io['outputs']) == \
        ((-1.0, 1.0), 'hole', 0.0, 'concat', ('pred',))
    gl_generator.eval()
    with torch.no_grad():
        y = gl_generator(torch.randn(2, 4, 48, 80))
    assert y.shape == (2, 3, 48, 80)  # two stride-2 convs, two stride-2 deconvs
    assert y.min() >= -1 and y.max() <= 1


def test_decoder_output_activations():
    torch.manual_seed(0)
    x = torch.randn(1, 256, 4, 6)
    clip = ARCHS.build(dict(type='GLDecoder'))
    sig = ARCHS.build(dict(type='GLDecoder', out_act='sigmoid'))
    sig.load_state_dict(clip.state_dict())
    with torch.no_grad():
        a, b = clip(x), sig(x)
        raw = x
        for i in range(7):
            raw = getattr(clip, f'dec{i + 1}')(raw)
    assert a.shape == (1, 3, 16, 24)
    torch.testing.assert_close(a, raw.clamp(-1, 1))
    torch.testing.assert_close(b, torch.sigmoid(raw))
    with pytest.raises(ValueError, match="out_act must be 'clip' or 'sigmoid'"):
        ARCHS.build(dict(type='GLDecoder', out_act='tanh'))


def test_dilation_neck_dilations():
    neck = ARCHS.build(dict(type='GLDilationNeck', in_channels=8))
    assert [(c.conv.dilation, c.conv.padding) for c in neck.dilation_convs] == \
        [((d, d), (d, d)) for d in (2, 4, 8, 16)]
    gated = ARCHS.build(dict(type='GLDilationNeck', in_channels=8, conv_type='gated_conv'))
    assert tuple(gated.dilation_convs[0].conv.conv.weight.shape) == (16, 8, 3, 3)
    with pytest.raises(ValueError, match="conv_type must be one of"):
        ARCHS.build(dict(type='GLDilationNeck', conv_type='partial'))


def test_discs_combine_global_and_local():
    """One logit per sample = fc(cat(global fc features, local fc features))."""
    torch.manual_seed(0)
    small = dict(in_channels=3, max_channels=16, fc_in_channels=16 * 2 * 2, fc_out_channels=1024)
    disc = GLDiscs(dict(small, num_convs=4), dict(small, num_convs=3)).eval()
    disc.init_weights()
    g, l_ = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        out = disc((g, l_))
        expected = F.linear(torch.cat([disc.global_disc(g), disc.local_disc(l_)], 1), disc.fc.weight, disc.fc.bias)
    assert out.shape == (2, 1)
    torch.testing.assert_close(out, expected)
    assert float(disc.fc.bias.detach().abs().max()) == 0 and 0.01 < float(disc.fc.weight.detach().std()) < 0.03
    with pytest.raises(ValueError, match='fc_in_channels is 64'):
        disc((g, torch.randn(2, 3, 32, 32)))  # local patch of the wrong size


def test_multi_layer_disc_layers():
    d = MultiLayerDiscriminator(3, 256, num_convs=3, norm_cfg=dict(type='BN'), with_input_norm=False,
                                out_act_cfg=dict(type='LeakyReLU', negative_slope=0.2))
    # no fc: the last conv has no norm and the output activation; the first has no norm
    assert d.conv1.norm_name is None and d.conv2.norm_name == 'bn' and d.conv3.norm_name is None
    assert isinstance(d.conv3.activate, torch.nn.LeakyReLU) and isinstance(d.conv2.activate, torch.nn.ReLU)
    assert [d.conv1.conv.stride, d.conv1.conv.padding, d.conv3.conv.out_channels] == [(2, 2), (2, 2), 256]
    assert d(torch.randn(1, 3, 32, 40)).shape == (1, 256, 4, 5)
    assert d.disc_io['inputs'] == 'image'
    assert MultiLayerDiscriminator(4, 64, num_convs=2).disc_io['inputs'] == 'image_mask'
    out_convs = MultiLayerDiscriminator(3, 64, num_convs=2, with_out_convs=True)
    assert out_convs(torch.randn(1, 3, 16, 16)).shape == (1, 1, 4, 4)


def _random_state(net, seed):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in net.state_dict().items():
        if v.dtype == torch.long:
            sd[k] = torch.randint(0, 50, v.shape, generator=g)
        elif k.endswith('running_var'):
            sd[k] = torch.rand(v.shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(v.shape, generator=g) * 0.05
    return sd


def test_mmagic_checkpoint_round_trip(gl_generator, tmp_path):
    """A file laid out as MMagic's released GL checkpoints (mmengine dict: meta, state_dict with
    'generator.'/'disc.' prefixes, optimizer states) loads strictly and gives the same outputs."""
    disc = ARCHS.build(copy.deepcopy(GL_DISC))
    gsd, dsd = _random_state(gl_generator, 1), _random_state(disc, 2)
    state = {f'generator.{k}': v for k, v in gsd.items()}
    state.update({f'disc.{k}': v for k, v in dsd.items()})
    path = tmp_path / 'gl_256x256_8x12_places_20200619-52a040a8.pth'
    torch.save({'meta': {'mmedit_version': '0.4.0', 'iter': 500000},
                'state_dict': state,
                'optimizer': {'generator': {'state': {}, 'param_groups': [{'lr': 4e-4, 'params': [0]}]},
                              'disc': {'state': {}, 'param_groups': [{'lr': 4e-4, 'params': [0]}]}}}, path)
    parts = read_official(path, 'mmagic')
    assert set(parts) == {'generator', 'discriminator'}
    net = ARCHS.build(copy.deepcopy(GL_GENERATOR)).eval()
    net.load_state_dict(parts['generator'], strict=True)
    disc.load_state_dict(parts['discriminator'], strict=True)
    gl_generator.load_state_dict(gsd)
    gl_generator.eval()
    x = torch.randn(1, 4, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(net(x), gl_generator(x), rtol=0, atol=0)
    # a checkpoint missing a tensor fails strict loading and names it
    del parts['generator']['decoder.dec7.conv.bias']
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*decoder\.dec7\.conv\.bias'):
        net.load_state_dict(parts['generator'], strict=True)
    # a file without generator weights is not an MMagic checkpoint
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'encoder.x': torch.zeros(1)}}, bad)
    with pytest.raises(ConversionError, match="no 'generator.\\*' weights"):
        read_official(bad, 'mmagic')
