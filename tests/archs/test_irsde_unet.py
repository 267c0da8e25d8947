"""ConditionalUNet: released size, layout, conditioning paths, padding."""

import pytest
import torch

from irkit.archs.irsde_unet import ConditionalUNet, SpatialTransformer

from tests.archs._helpers import assert_layout
from tests.archs.tiny_clip import randomize_


def test_released_parameter_count_and_layout():
    with torch.device('meta'):
        m = ConditionalUNet(3, 3, 64, [1, 2, 4, 8], 512, True, True)
    assert sum(p.numel() for p in m.parameters()) == 48975747
    sd = m.state_dict()
    # the official ConditionalUNet(3, 3, 64, [1,2,4,8], 512, True, True) layout (universal-ir.pth),
    # Algolzw/daclip-uir@c2cc141
    assert len(sd) == 224
    assert_layout(sd, 'irsde_unet_released_keys', 'generator')
    assert isinstance(m.downs[3][2].fn.fn, SpatialTransformer)
    assert isinstance(m.mid_attn.fn.fn, SpatialTransformer)


def _tiny(**kw):
    torch.manual_seed(0)
    args = dict(in_nc=3, out_nc=3, nf=32, ch_mult=[1, 1, 2, 2], context_dim=16,
                use_degra_context=True, use_image_context=True)
    args.update(kw)
    return ConditionalUNet(**args).eval()


def test_shapes_padding_and_conditioning():
    m = randomize_(_tiny(), seed=1)
    g = torch.Generator().manual_seed(0)
    xt, mu = torch.randn(2, 3, 19, 23, generator=g), torch.rand(2, 3, 19, 23, generator=g)
    tc, ic = torch.randn(2, 16, generator=g), torch.randn(2, 16, generator=g)
    t = torch.tensor([5, 60])
    with torch.no_grad():
        out = m(xt, mu, t, text_context=tc, image_context=ic)
        no_prompt = m(xt, mu, t, image_context=ic)
        other_img = m(xt, mu, t, text_context=tc, image_context=ic.flip(0))
        t4 = m(xt, mu, t.view(2, 1, 1, 1), text_context=tc, image_context=ic)
        single = m(xt[:1], mu[:1], 7, text_context=tc[:1], image_context=ic[:1])  # B=1, int t
    assert out.shape == (2, 3, 19, 23) and single.shape == (1, 3, 19, 23)
    assert not torch.allclose(out, no_prompt)        # degradation prompt changes the output
    assert not torch.allclose(out, other_img)        # content token changes the output
    assert torch.equal(out, t4)                      # (B,1,1,1) timesteps are flattened


def test_prompt_formula():
    m = randomize_(_tiny(), seed=2)
    tc = torch.randn(2, 16)
    with torch.no_grad():
        p = torch.softmax(m.text_mlp(tc), dim=1) * m.prompt
        ref = m.prompt_mlp(p)
    assert ref.shape == (2, 128)
    assert m.prompt.shape == (1, 128)


def test_zero_init_proj_out_and_missing_context():
    m = _tiny()
    assert all(torch.count_nonzero(p) == 0 for p in m.mid_attn.fn.fn.proj_out.parameters())
    with pytest.raises(ValueError, match='image_context'):
        m(torch.randn(1, 3, 16, 16), torch.randn(1, 3, 16, 16), 3, text_context=torch.randn(1, 16))


def test_width_must_be_multiple_of_32():
    with pytest.raises(ValueError, match='multiples of 32'):
        ConditionalUNet(3, 3, 24, [1, 2])
