"""AOT-GAN generator/discriminator: released layout, hand-computed pieces, official file readers."""
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.archs.aotgan import AOTBlock, AOTDiscriminator, AOTGenerator, UpConv, my_layer_norm
from irkit.fileio.weights import ConversionError, read_official
from irkit.registry import ARCHS

from ._helpers import layout_diff, n_params

FIXTURE = os.path.join(os.path.dirname(__file__), 'fixtures', 'aotgan_released_keys.json')


@pytest.fixture(scope='module')
def released():
    with open(FIXTURE) as f:
        return json.load(f)


def test_released_layout_matches_official(released):
    g = ARCHS.build(dict(type='AOTGenerator'))
    d = ARCHS.build(dict(type='AOTDiscriminator'))
    assert layout_diff(g, released['generator']) == ([], [], [])
    assert layout_diff(d, released['discriminator']) == ([], [], [])
    assert list(g.state_dict()) == list(released['generator'])  # same order as the official file
    assert n_params(g) == 15_200_835 and n_params(d) == 2_763_777


def test_official_init_normal_002():
    torch.manual_seed(0)
    g = AOTGenerator(block_num=1)
    w = g.middle[0].gate[1].weight
    assert abs(w.std().item() - 0.02) < 1e-3 and g.middle[0].gate[1].bias.abs().max() == 0
    d = AOTDiscriminator()
    assert abs(d.conv[6].weight_orig.std().item() - 0.02) < 1e-3 and d.conv[8].bias.abs().max() == 0
    torch.nn.init.constant_(d.conv[0].weight_orig, 1.0)
    d.train()(torch.zeros(1, 3, 32, 32))  # a forward replaces the derived .weight attribute
    d.init_weights()
    assert abs(d.conv[0].weight_orig.std().item() - 0.02) < 5e-3  # re-init still reaches weight_orig


def test_my_layer_norm_vs_numpy():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64) * 3 + 1
    a = x.numpy()
    mean = a.mean(axis=(2, 3), keepdims=True)
    std = a.std(axis=(2, 3), keepdims=True, ddof=1) + 1e-9  # unbiased, as torch.std
    ref = 5 * (2 * (a - mean) / std - 1)
    np.testing.assert_allclose(my_layer_norm(x).numpy(), ref, rtol=0, atol=1e-12)
    const = torch.full((1, 2, 4, 4), 3.0, dtype=torch.float64)
    assert torch.all(my_layer_norm(const) == -5)  # (0 / 1e-9) -> 2*0 - 1 = -1, times 5


def test_aot_block_gated_residual_on_hand_set_weights():
    torch.manual_seed(2)
    blk = AOTBlock(8, [1, 2, 4, 3]).double()
    assert [type(m).__name__ for m in blk.block02] == ['ReflectionPad2d', 'Conv2d', 'ReLU']
    assert blk.block02[1].dilation == (4, 4) and blk.block02[0].padding == (4, 4, 4, 4)
    assert blk.block02[1].out_channels == 2 and blk.fuse[1].in_channels == 8
    x = torch.randn(1, 8, 6, 9, dtype=torch.float64)
    with torch.no_grad():
        for m in (blk.block00[1], blk.block01[1], blk.block02[1], blk.block03[1], blk.fuse[1]):
            m.weight.zero_()
        blk.block00[1].bias.fill_(0.7)
        blk.fuse[1].bias.copy_(torch.arange(8.0))          # fused features = channel index
        torch.nn.init.dirac_(blk.gate[1].weight)            # gate conv = identity
        blk.gate[1].bias.zero_()
        out = blk(x)
    a = x.numpy()
    z = 5 * (2 * (a - a.mean((2, 3), keepdims=True)) / (a.std((2, 3), keepdims=True, ddof=1) + 1e-9) - 1)
    g = 1 / (1 + np.exp(-z))
    fused = np.arange(8.0).reshape(1, 8, 1, 1)
    np.testing.assert_allclose(out.numpy(), a * (1 - g) + fused * g, rtol=0, atol=1e-12)


def test_upconv_is_align_corners_bilinear():
    up = UpConv(1, 1).double()
    with torch.no_grad():
        torch.nn.init.dirac_(up.conv.weight)
        up.conv.bias.zero_()
    x = torch.tensor([[[[0.0, 3.0], [6.0, 9.0]]]], dtype=torch.float64)
    # align_corners=True: output pixel i sits at input coordinate i / 3 -> 0, 1, 2, 3 / 6, 7, 8, 9 ...
    ref = torch.tensor([[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]], dtype=torch.float64)
    torch.testing.assert_close(up(x)[0, 0], ref, rtol=0, atol=1e-12)


def test_forward_sizes_and_range():
    torch.manual_seed(3)
    g = AOTGenerator(block_num=1).eval()
    for h, w in ((36, 52), (40, 36)):
        img, mask = torch.rand(2, 3, h, w) * 2 - 1, (torch.rand(2, 1, h, w) > 0.5).float()
        with torch.no_grad():
            out = g(img * (1 - mask) + mask, mask)
        assert out.shape == (2, 3, h, w) and out.abs().max() < 1
    with torch.no_grad():  # not a multiple of 4: the official net returns 4 * floor(size / 4)
        assert g(torch.zeros(1, 3, 38, 50), torch.zeros(1, 1, 38, 50)).shape == (1, 3, 36, 48)
    with pytest.raises(ValueError, match='at least 36'):
        g(torch.zeros(1, 3, 32, 64), torch.zeros(1, 1, 32, 64))
    with pytest.raises(ValueError, match='four dilation rates'):
        AOTGenerator(rates=(1, 2))
    out = g(torch.zeros(1, 3, 36, 36), torch.ones(1, 1, 36, 36))
    out.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())


def test_io_declarations():
    io = AOTGenerator.inpaint_io
    assert io['value_range'] == (-1.0, 1.0) and io['mask'] == 'hole' and io['hole_fill'] == 1.0
    assert io['inputs'] == 'image_mask' and io['outputs'] == ('pred',) and io['pad_multiple'] == 4
    assert io['channel_order'] == 'rgb' and io['mask_channels'] == 1
    assert AOTDiscriminator.disc_io == dict(inputs='image', local_size=None, returns='logits')


def test_discriminator_spectral_norm_train_vs_eval():
    torch.manual_seed(4)
    d = AOTDiscriminator().double()
    x = torch.rand(2, 3, 64, 48, dtype=torch.float64)
    d.eval()
    u0 = d.conv[0].weight_u.clone()
    with torch.no_grad():
        out = d(x)
    assert out.shape == (2, 1, 64 // 8 - 2, 48 // 8 - 2)
    assert torch.equal(d.conv[0].weight_u, u0)  # no power iteration in eval
    # eval weight = weight_orig / (u^T W v) with the stored vectors
    conv = d.conv[0]
    wm = conv.weight_orig.reshape(64, -1)
    sigma = conv.weight_u @ wm @ conv.weight_v
    torch.testing.assert_close(conv.weight, conv.weight_orig / sigma, rtol=0, atol=1e-15)
    d.train()
    with torch.no_grad():
        d(x)
    v1 = F.normalize(wm.t() @ u0, dim=0, eps=1e-12)  # one power iteration from the stored u
    u1 = F.normalize(wm @ v1, dim=0, eps=1e-12)
    torch.testing.assert_close(conv.weight_u, u1, rtol=0, atol=1e-12)
    torch.testing.assert_close(conv.weight_v, v1, rtol=0, atol=1e-12)


def _save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_official_reader_round_trip(tmp_path):
    torch.manual_seed(5)
    g, d = AOTGenerator(block_num=2), AOTDiscriminator()
    parts = read_official(_save(g.state_dict(), tmp_path / 'G0000000.pt'), 'aotgan')
    assert list(parts) == ['generator']
    g2 = AOTGenerator(block_num=2)
    g2.load_state_dict(parts['generator'], strict=True)
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), g2.state_dict().values()))
    parts = read_official(_save(d.state_dict(), tmp_path / 'D0000000.pt'), 'aotgan')
    assert list(parts) == ['discriminator']
    d2 = AOTDiscriminator()
    d2.load_state_dict(parts['discriminator'], strict=True)
    assert torch.equal(d2.conv[4].weight_v, d.conv[4].weight_v)
    # a file saved from the DDP wrapper (module.*) reads the same
    ddp = {f'module.{k}': v for k, v in g.state_dict().items()}
    assert list(read_official(_save(ddp, tmp_path / 'Gddp.pt'), 'aotgan')['generator']) == list(g.state_dict())
    # a missing tensor is named by the strict load
    sd = g.state_dict()
    del sd['middle.1.gate.1.bias']
    parts = read_official(_save(sd, tmp_path / 'G_missing.pt'), 'aotgan')
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*middle\.1\.gate\.1\.bias'):
        AOTGenerator(block_num=2).load_state_dict(parts['generator'], strict=True)
    # more blocks in the file than in the config: the extra keys are named
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\).*middle\.1\.'):
        AOTGenerator(block_num=1).load_state_dict(read_official(tmp_path / 'G0000000.pt', 'aotgan')['generator'])
    with pytest.raises(ConversionError, match='optimiser file'):
        read_official(_save({'optimG': {}, 'optimD': {}}, tmp_path / 'O0000000.pt'), 'aotgan')
    with pytest.raises(ConversionError, match='not an AOT-GAN'):
        read_official(_save({'model.0.weight': torch.zeros(1)}, tmp_path / 'other.pt'), 'aotgan')


def test_mmagic_layout_maps_onto_official(released, tmp_path):
    """MMagic's released key set (fixture from MMagic's classes) -> exactly the official keys."""
    torch.manual_seed(6)
    sd = {f'generator.{k}': torch.randn(s) for k, s in released['mmagic_generator'].items()}
    sd.update({f'disc.{k}': torch.randn(s) for k, s in released['mmagic_discriminator'].items()})
    path = _save({'meta': {'iter': 500000}, 'state_dict': sd}, tmp_path / 'aot_mmagic.pth')
    parts = read_official(path, 'mmagic_aotgan')
    assert {k: list(v.shape) for k, v in parts['generator'].items()} == released['generator']
    assert {k: list(v.shape) for k, v in parts['discriminator'].items()} == released['discriminator']
    # spot checks of the renaming (same tensors)
    assert torch.equal(parts['generator']['middle.7.block03.1.weight'], sd['generator.dilation_neck.model.7.blocks.3.1.conv.weight'])
    assert torch.equal(parts['generator']['decoder.2.conv.bias'], sd['generator.decoder.decoder.1.conv.bias'])
    assert torch.equal(parts['generator']['decoder.4.weight'], sd['generator.decoder.decoder.2.conv.weight'])
    assert torch.equal(parts['generator']['encoder.5.weight'], sd['generator.encoder.encoder.3.conv.weight'])
    assert torch.equal(parts['discriminator']['conv.6.weight_u'], sd['disc.model.3.conv.weight_u'])
    assert torch.equal(parts['discriminator']['conv.8.bias'], sd['disc.model.4.bias'])
    g = AOTGenerator()
    g.load_state_dict(parts['generator'], strict=True)
    bad = dict(sd, **{'generator.dilation_neck.model.0.extra.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match="unexpected MMagic AOTEncoderDecoder key "
                                              "'dilation_neck.model.0.extra.weight'"):
        read_official(_save({'state_dict': bad}, tmp_path / 'bad.pth'), 'mmagic_aotgan')
