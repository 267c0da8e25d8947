"""NAFNetRefFusion and the MASA matching (tiny widths, CPU)."""
import pytest
import torch
import torch.nn.functional as F

from irkit.archs.ref_fusion import MASAEncoder, NAFNetRefFusion, masa_warp
from irkit.registry import ARCHS

TINY = dict(img_channel=3, width=4, middle_blk_num=1, enc_blk_nums=[1, 1, 1, 1],
            dec_blk_nums=[1, 1, 1, 1], nf=4, ext_n_blocks=[1, 1, 1, 1],
            reffusion_n_blocks=[1, 1, 1, 1], reffusion_n_blocks_middle=1, scale=1, num_nbr=1,
            psize=3, lr_block_size=8, ref_down_block_size=1.5, dilations=[1, 2, 3])


def _randomised(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return net.eval()


@pytest.fixture(scope='module')
def net():
    return _randomised(NAFNetRefFusion(**TINY))


def test_registered_with_official_arguments():
    m = ARCHS.build(dict(type='NAFNetRefFusion', **TINY))
    assert isinstance(m, NAFNetRefFusion) and m.padder_size == 16


def test_state_dict_layout():
    m = NAFNetRefFusion(**dict(TINY, reffusion_n_blocks=[2, 1, 1, 1], ext_n_blocks=[1, 2, 3, 9]))
    keys = set(m.state_dict())
    for k in ['intro.weight', 'ending.bias', 'encoders.3.0.sca.1.weight', 'downs.0.weight',
              'ups.0.0.weight', 'decoders.0.0.beta', 'middle_blks.0.gamma',
              'masa_enc.conv_L1.weight', 'masa_enc.conv_L5.bias', 'masa_enc.blk_L2.1.conv2.weight',
              'masa_blk_enc.0.1.norm2.bias', 'masa_blk_middle.0.0.conv5.weight']:
        assert k in keys, k
    # MASA levels 3-5 reuse the third block count (the release's Encoder)
    for lvl, n in [(1, 1), (2, 2), (3, 3), (4, 3), (5, 3)]:
        assert f'masa_enc.blk_L{lvl}.{n - 1}.conv1.weight' in keys
        assert f'masa_enc.blk_L{lvl}.{n}.conv1.weight' not in keys
    # fusion blocks work on concat(x, ref): 2x the level width
    assert m.masa_blk_enc[2][0].conv1.in_channels == 2 * 4 * 4
    assert m.masa_blk_middle[0][0].conv1.in_channels == 2 * 4 * 16
    assert not any(k.startswith('masa_blk_dec') for k in keys)


def test_middle_depth_release_fix():
    four = NAFNetRefFusion(**dict(TINY, reffusion_n_blocks=[1, 1, 1, 1], reffusion_n_blocks_middle=3))
    five = NAFNetRefFusion(**dict(TINY, reffusion_n_blocks=[1, 1, 1, 1, 2], reffusion_n_blocks_middle=3))
    assert len(four.masa_blk_middle[0]) == 3  # the release raises IndexError here
    assert len(five.masa_blk_middle[0]) == 2  # the release's behaviour when it works


@pytest.mark.parametrize('hw,ref_hw', [((37, 150), (37, 150)), ((100, 61), (128, 128)),
                                       ((130, 140), (64, 200))])
def test_any_size_forward(net, hw, ref_hw):
    x, r = torch.rand(2, 3, *hw), torch.rand(2, 3, *ref_hw)
    with torch.no_grad():
        y = net(x, r)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_internal_zero_padding_and_crop(net):
    x, r = torch.rand(1, 3, 50, 70), torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        y = net(x, r)
        y_pad = net(F.pad(x, (0, 128 - 70, 0, 128 - 50)), F.pad(r, (0, 128 - 70, 0, 128 - 50)))
    torch.testing.assert_close(y, y_pad[..., :50, :70])


def test_reference_matters(net):
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = net(x, torch.rand(1, 3, 64, 64))
        b = net(x, torch.rand(1, 3, 64, 64))
    assert (a - b).abs().max() > 1e-6


def test_self_match_transfers_identical_features():
    """Reference == input: every interior patch finds itself, attention 1, fold averages
    identical copies -> the deepest warped level equals the input features there."""
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, 2 * 2 ** k, 8 * 2 ** (4 - k), 16 * 2 ** (4 - k), generator=g)
             for k in range(5)]  # deepest 8 x 16 (finest first)
    # px = 16 // 8 = 2 blocks along x, py = 1; window as NAFNetRefFusion computes it
    warped = masa_warp(feats, feats, px=2, py=1, diameter_x=13, diameter_y=13, psize=3,
                       dilations=[1, 2, 3], num_nbr=1)
    assert [w.shape for w in warped] == [f.shape for f in feats]
    deep, out = feats[-1], warped[-1]
    torch.testing.assert_close(out[..., 2:-2, 2:-2], deep[..., 2:-2, 2:-2], atol=1e-5, rtol=1e-5)


def test_masa_encoder_pyramid():
    enc = MASAEncoder(3, 4, [1, 1, 1], num_levels=5)
    feats = enc(torch.rand(1, 3, 64, 96))
    assert [tuple(f.shape[1:]) for f in feats] == [(4, 64, 96), (8, 32, 48), (16, 16, 24),
                                                   (32, 8, 12), (64, 4, 6)]


@pytest.mark.parametrize('bad,match', [(dict(nf=8), 'nf'),
                                       (dict(enc_blk_nums=[1, 1, 1]), '4 encoder'),
                                       (dict(lr_block_size=3), 'lr_block_size'),
                                       (dict(reffusion_n_blocks=[1, 1]), 'reffusion_n_blocks'),
                                       (dict(scale=2), 'scale')])
def test_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        NAFNetRefFusion(**dict(TINY, **bad))


def test_smallest_block_size_for_dilation_3():
    NAFNetRefFusion(**dict(TINY, lr_block_size=5))  # centre 3 of the padded 7-block: fits
    with pytest.raises(ValueError):
        NAFNetRefFusion(**dict(TINY, lr_block_size=4))
