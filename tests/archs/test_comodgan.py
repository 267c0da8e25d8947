"""Co-Mod-GAN generator/discriminator: the port's key layout, conventions, noise, dropout,
truncation, the converted-weights reader. Numerics against the port itself were checked
outside the repo (docs/methods/comodgan.md, "Verification")."""
import math

import pytest
import torch
import torch.nn.functional as F

from irkit.archs.comodgan import CoModGANDiscriminator, CoModGANGenerator, G_mapping, comodgan_nf
from irkit.archs.common.stylegan2_rosinality import ModulatedConv2d
from irkit.archs.mat import MATDiscriminator
from irkit.fileio.checkpoint import CheckpointMismatchError, load_state_dict
from irkit.fileio.weights import ConversionError, load_weights, read_official
from irkit.models.inpaint_io import DiscIO, InpaintIO, latent_dim
from irkit.registry import ARCHS

from ._helpers import assert_layout, load_layout

# resolution 16, nf = 32/16/8 at 4/8/16 px, z = w = 8, 2 mapping layers
TINY = dict(resolution=16, fmap_base=64, fmap_max=32, latent_size=8, dlatent_size=8, mapping_fmaps=8,
            mapping_layers=2)


def tiny_g(seed=0, **kw):
    torch.manual_seed(seed)
    g = CoModGANGenerator(**dict(TINY, **kw))
    with torch.no_grad():  # biases and noise strengths away from their zero init
        for name, p in g.named_parameters():
            if p.ndim == 1 or name.endswith('ToRGB.bias'):
                p.add_(0.3 * torch.randn_like(p))
    return g.eval()


def inputs(n=2, res=16, seed=1, latent=8):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(n, 3, res, res, generator=g) * 2 - 1
    mask = (torch.rand(n, 1, res, res, generator=g) > 0.5).float()
    z = torch.randn(n, latent, generator=g)
    return img, mask, z


def capture(module, store, key, what='out'):
    """Record ``module``'s first input (``what='in'``) or output in ``store[key]`` (first call only)."""
    def hook(m, i, o):
        store.setdefault(key, i[0] if what == 'in' else o)
    return module.register_forward_hook(hook)


def fixed_noise(g, n=2, seed=2):
    gen = torch.Generator().manual_seed(seed)
    sizes = [4] + [2 ** r for r in range(3, g.G_synthesis.resolution_log2 + 1) for _ in range(2)]
    return [torch.randn(n, 1, s, s, generator=gen) for s in sizes]


def test_released_configuration_has_the_port_keys_and_shapes():
    with torch.device('meta'):
        g = CoModGANGenerator()
        g1024 = CoModGANGenerator(resolution=1024)
    sd = g.state_dict()
    assert list(sd.pop('dlatent_avg').shape) == [512]  # official G_main variable, not stored by the port
    assert_layout(sd, 'comodgan_released_keys', 'generator')
    assert list(sd) == list(load_layout('comodgan_released_keys', 'generator'))  # same order too
    assert len(sd) == 180
    assert sum(p.numel() for p in g.parameters()) == 79_792_231  # port Generator(), counted outside
    assert sum(p.numel() for p in g1024.parameters()) == 80_044_364  # port Generator(resolution=1024)
    assert g.num_layers == 16 and g.latent_dim == g.latent_size == 512 and g.img_resolution == 512


def test_discriminator_widths_are_the_official_ones():
    nf = comodgan_nf()
    assert [nf(s) for s in range(9)] == [512, 512, 512, 512, 512, 512, 256, 128, 64]
    with torch.device('meta'):
        d = CoModGANDiscriminator()
        mat = MATDiscriminator(img_resolution=512)
    ours = {k: v.shape for k, v in d.state_dict().items()}
    # at the released widths the main head of MAT's discriminator is this network
    assert ours == {k: v.shape for k, v in mat.state_dict().items() if k.split('.')[0] in ('Dis', 'fc0', 'fc1')}
    assert ours['Dis.0.conv.weight'] == (64, 4, 1, 1)  # 1x1 FromRGB on cat(mask - 0.5, image)
    assert sum(p.numel() for p in d.parameters()) == 28_982_913


def test_contract_declarations():
    g = ARCHS.build(dict(type='CoModGANGenerator', **TINY))
    io = InpaintIO.of(g)
    assert io.value_range == (-1.0, 1.0) and io.mask == 'known' and io.hole_fill is None
    assert io.inputs == 'image_mask_latents' and io.outputs == ('pred',) and io.channel_order == 'rgb'
    assert io.resize_to == 16  # fixed-resolution network
    assert latent_dim(g) == 8
    d = CoModGANDiscriminator(resolution=16, fmap_base=64, fmap_max=32)
    assert DiscIO.of(d) == DiscIO(inputs='image_mask', local_size=None, returns='logits')
    # the adapter's calls: G(image, mask, [z]) and D(cat([image, mask]))
    img, known, _ = inputs()
    torch.manual_seed(0)
    out = io.call(g.eval(), img, known)['pred']
    assert out.shape == img.shape and torch.equal(out * known, img * known)
    assert DiscIO.of(d).call(d, img, known)[''][0].shape == (2, 1)


def test_known_pixels_are_kept_exactly_and_holes_are_generated():
    g = tiny_g()
    img, mask, z = inputs()
    with torch.no_grad():
        out = g(img, mask, [z])
    known = mask.expand_as(img).bool()
    assert torch.equal(out[known], img[known])
    assert (out[~known] - img[~known]).abs().min() > 0


def test_encoder_sees_mask_minus_half_and_masked_image():
    g = tiny_g()
    img, mask, z = inputs()
    seen = {}
    capture(g.G_synthesis.E[0].FromRGB, seen, 'y', 'in')
    with torch.no_grad():
        g(img, mask, [z])
    y = seen['y']
    assert torch.equal(y[:, :1], mask - 0.5)
    assert torch.equal(y[:, 1:], img * mask)  # hole pixels are 0 whatever the image holds


def test_explicit_noise_makes_eval_deterministic_and_is_used():
    g = tiny_g(dropout_in_eval=False)
    img, mask, z = inputs()
    noise = fixed_noise(g)
    with torch.no_grad():
        torch.manual_seed(0)
        a = g(img, mask, [z], noise=noise)
        torch.manual_seed(1)
        b = g(img, mask, [z], noise=noise)
        c = g(img, mask, [z], noise=[n * 0 for n in noise])
        r1, r2 = g(img, mask, [z]), g(img, mask, [z])  # fresh noise each call
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3
    assert (r1 - r2).abs().max() > 1e-3
    with pytest.raises(ValueError, match='5 per-layer tensors'):
        g(img, mask, [z], noise=noise[:3])
    off = tiny_g(dropout_in_eval=False, noise_injection=False)
    with torch.no_grad():
        assert torch.equal(off(img, mask, [z], noise=noise), off(img, mask, [z]))


def _global_code(g, img, mask, z, seed):
    """(dense output before dropout, global code after it)."""
    seen = {}
    h1 = capture(g.G_synthesis.E[-1].Dense0, seen, 'pre')
    h2 = capture(g.G_synthesis.G_4x4.Dense, seen, 'post', 'in')
    torch.manual_seed(seed)
    with torch.no_grad():
        g(img, mask, [z], noise=fixed_noise(g))
    h1.remove()
    h2.remove()
    return seen['pre'], seen['post']


def test_global_code_dropout_is_drawn_in_eval_as_in_the_official_code():
    img, mask, z = inputs()
    g = tiny_g()  # dropout_in_eval=True (official TF)
    pre, post = _global_code(g, img, mask, z, seed=0)
    kept = post != 0
    assert torch.allclose(post[kept], 2 * pre[kept])  # inverted dropout, rate 0.5
    assert 0.3 < kept.float().mean() < 0.7
    _, post2 = _global_code(g, img, mask, z, seed=1)
    assert not torch.equal(post, post2)
    # the port's behaviour: nn.Dropout, i.e. identity in eval, drawn in train
    port = tiny_g(dropout_in_eval=False)
    pre, post = _global_code(port, img, mask, z, seed=0)
    assert torch.equal(pre, post)
    port.train()
    pre, post = _global_code(port, img, mask, z, seed=0)
    assert (post == 0).any() and torch.allclose(post[post != 0], 2 * pre[post != 0])


def test_skip_4x4_adds_the_encoder_features_to_the_decoder_input():
    img, mask, z = inputs()
    outs = {}
    for skip in (True, False):
        g = tiny_g(skip_4x4=skip)
        seen = {}
        capture(g.G_synthesis.E[-1].Conv, seen, 'e4')
        capture(g.G_synthesis.G_4x4.Dense, seen, 'dense')
        capture(g.G_synthesis.G_4x4.Conv, seen, 'conv_in', 'in')
        torch.manual_seed(0)
        with torch.no_grad():
            outs[skip] = g(img, mask, [z], noise=fixed_noise(g))
        expected = seen['dense'].view(-1, 32, 4, 4) + (seen['e4'] if skip else 0)
        assert torch.equal(seen['conv_in'], expected)
    assert (outs[True] - outs[False]).abs().max() > 1e-3


def test_mapping_network_by_hand():
    m = G_mapping(latent_size=6, dlatent_size=5, mapping_layers=3, mapping_fmaps=7, mapping_lrmul=0.01)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 10)
    z = torch.randn(4, 6)
    x = z / torch.sqrt((z ** 2).mean(1, keepdim=True) + 1e-8)
    for i in range(3):
        lin = m.G_mapping[i + 1]
        w = lin.weight * 0.01 / math.sqrt(lin.weight.shape[1])
        x = F.leaky_relu(x @ w.t() + lin.bias * 0.01, 0.2) * math.sqrt(2)
    assert torch.allclose(m(z), x, atol=1e-5)


def test_truncation_mixing_and_dlatent_avg():
    g = tiny_g(dropout_in_eval=False)
    img, mask, z = inputs()
    z2 = torch.randn_like(z)
    noise = fixed_noise(g)
    with torch.no_grad():
        g.dlatent_avg.copy_(torch.randn(8))
        w1, w2 = g.G_mapping(z), g.G_mapping(z2)
        _, lat = g(img, mask, [z], return_latents=True, noise=noise)
        assert lat.shape == (2, 6, 8) and torch.allclose(lat, w1[:, None].expand(-1, 6, -1))
        _, lat = g(img, mask, [z], truncation=0.0, return_latents=True, noise=noise)
        assert torch.allclose(lat, g.dlatent_avg.expand(2, 6, 8))
        mean = torch.randn(1, 8)
        _, lat = g(img, mask, [z, z2], inject_index=2, truncation=0.5, truncation_mean=mean,
                   return_latents=True, noise=noise)
        assert torch.allclose(lat[:, :2], (mean + 0.5 * (w1 - mean))[:, None].expand(-1, 2, -1))
        assert torch.allclose(lat[:, 2:], (mean + 0.5 * (w2 - mean))[:, None].expand(-1, 4, -1))
        # eval: the average is not updated; train: lerp towards the batch mean of w (beta 0.995)
        before = g.dlatent_avg.clone()
        g(img, mask, [z], noise=noise)
        assert torch.equal(g.dlatent_avg, before)
        g.train()
        g(img, mask, [z], noise=noise)
        assert torch.allclose(g.dlatent_avg, w1.mean(0) + 0.995 * (before - w1.mean(0)))
    # train mode: official G_main's style mixing (p) and truncation (psi 0.5, towards dlatent_avg)
    mix = tiny_g(style_mixing_prob=1.0).train()
    with torch.no_grad():
        mix.dlatent_avg.copy_(torch.randn(8))
        torch.manual_seed(4)
        _, lat = mix(img, mask, [z], return_latents=True, noise=noise)
        avg = mix.dlatent_avg
        w1 = mix.G_mapping(z)
        first = (avg + 0.5 * (w1 - avg))[:, None]
        k = int((lat - first).abs().amax(dim=(0, 2)).gt(1e-6).int().argmax())  # first mixed layer
        assert 1 <= k <= 5 and torch.allclose(lat[:, :k], first.expand(-1, k, -1), atol=1e-6)
        assert (lat[:, k:] - first).abs().amin() > 0  # rows from a second z
        assert torch.allclose(lat[:, k:], lat[:, k:k + 1].expand(-1, 6 - k, -1))
        plain = tiny_g(truncation_psi=None, style_mixing_prob=None).train()
        _, lat = plain(img, mask, [z], return_latents=True, noise=noise)
        assert torch.allclose(lat, plain.G_mapping(z)[:, None].expand(-1, 6, -1))
    with pytest.raises(TypeError, match='list of one z'):
        g(img, mask, z)
    with pytest.raises(ValueError, match='N x 3 x 16 x 16'):
        g(img[:, :, :8], mask[:, :, :8], [z])


def test_modulated_conv_by_hand():
    conv = ModulatedConv2d(3, 4, 3, style_dim=5)
    x, style = torch.randn(2, 3, 6, 6), torch.randn(2, 5)
    s = style @ (conv.modulation.weight / math.sqrt(5)).t() + conv.modulation.bias
    for b in range(2):
        w = conv.weight[0] / math.sqrt(27) * s[b].view(1, 3, 1, 1)
        w = w / torch.sqrt((w ** 2).sum([1, 2, 3], keepdim=True) + 1e-8)
        assert torch.allclose(conv(x, style)[b], F.conv2d(x[b:b + 1], w, padding=1)[0], atol=1e-5)
    up = ModulatedConv2d(3, 4, 3, style_dim=5, upsample=True, demodulate=False)
    assert up(x, style).shape == (2, 4, 12, 12)


def test_discriminator_forward():
    torch.manual_seed(0)
    d = CoModGANDiscriminator(resolution=16, fmap_base=64, fmap_max=32)
    img, known, _ = inputs(n=4)
    logits = d(img, known)
    assert logits.shape == (4, 1)
    assert torch.equal(d(torch.cat([img, known], 1)), logits)
    seen = {}
    capture(d.Dis[0], seen, 'x', 'in')
    d(img, known)
    assert torch.equal(seen['x'], torch.cat([known - 0.5, img], 1))
    with pytest.raises(ValueError, match='4 channels'):
        d(img)
    nombstd = CoModGANDiscriminator(resolution=16, fmap_base=64, fmap_max=32, mbstd_group_size=0)
    assert nombstd(img, known).shape == (4, 1)


def _port_file(tmp_path, g, name='co-mod-gan-places2-050000_net_G_ema.pth', prefix='', drop=()):
    sd = {prefix + k: v for k, v in g.state_dict().items() if k != 'dlatent_avg' and k not in drop}
    path = tmp_path / name
    torch.save(sd, path)
    return path


@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_reader_round_trip(tmp_path, prefix):
    src = tiny_g(seed=3)
    path = _port_file(tmp_path, src, prefix=prefix)
    parts = read_official(path, 'comodgan')
    assert set(parts) == {'generator'}
    dst = CoModGANGenerator(**TINY)
    load_state_dict(dst, parts['generator'], strict=True)
    for k, v in src.state_dict().items():
        if k != 'dlatent_avg':
            assert torch.equal(dst.state_dict()[k], v), k
    # dlatent_avg = mean of w over 4096 z (seed 0), what the port uses for truncation
    expected = src.double().mean_latent(4096, generator=torch.Generator().manual_seed(0))[0].float()
    assert torch.allclose(dst.dlatent_avg, expected, atol=1e-6)
    assert dst.dlatent_avg.abs().max() > 0
    # irkit's one load rule with fmt=: the same into a bare network
    again = CoModGANGenerator(**TINY)
    load_weights(again, path, fmt='comodgan')
    assert all(torch.equal(again.state_dict()[k], v) for k, v in dst.state_dict().items())


def test_reader_errors(tmp_path):
    g = tiny_g()
    parts = read_official(_port_file(tmp_path, g, drop=('G_synthesis.G_4x4.Dense.weight',)), 'comodgan')
    with pytest.raises(CheckpointMismatchError, match='G_synthesis.G_4x4.Dense.weight'):
        load_state_dict(CoModGANGenerator(**TINY), parts['generator'], strict=True)
    path = tmp_path / 'not_comodgan.pth'
    torch.save({'encoder.weight': torch.zeros(3)}, path)
    with pytest.raises(ConversionError, match="not a Co-Mod-GAN port generator.*G_mapping.G_mapping.Dense0"):
        read_official(path, 'comodgan')


def test_unsupported_options_are_refused():
    with pytest.raises(ValueError, match='randomize_noise=False'):
        CoModGANGenerator(**TINY, randomize_noise=False)
    with pytest.raises(ValueError, match='Co-Mod-GAN resolution must be a power of two >= 8'):
        CoModGANGenerator(resolution=48)
    with pytest.raises(ValueError, match="architecture='resnet'"):
        CoModGANGenerator(**TINY, architecture='resnet')
