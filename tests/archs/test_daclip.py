"""DaCLIP: layout, zero-initialised controller, reversed control order, loading."""

import pytest
import torch
import torch.nn.functional as F

from irkit.archs.clip import get_clip_config
from irkit.archs.daclip import DaCLIP
from irkit.fileio.weights import MissingWeightsError

from tests.archs._helpers import assert_layout
from tests.archs.tiny_clip import TINY_CLIP, randomize_, text_ids


def test_release_layout_vit_b32():
    with torch.device('meta'):
        m = DaCLIP(model_name='daclip_ViT-B-32')
    sd = m.state_dict()
    # (key, shape) layout of the official DaCLIP(CLIP(**daclip_ViT-B-32)) state dict (631 keys:
    # clip.* 302, visual.* 152, visual_control.* 176, logit_scale), the layout of daclip_ViT-B-32.pt
    assert len(sd) == 631
    assert_layout(sd, 'daclip_vit_b32_keys', 'daclip')
    assert sd['visual_control.transformer.zero_modules.11.bias'].shape == (768, )
    assert {k for k in sd if k.startswith('visual.')} == {
        'visual.' + k for k in m.clip.visual.state_dict()}


def _tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return DaCLIP(clip_cfg=TINY_CLIP, **kw).eval()


def test_zero_init_controller_keeps_clip_outputs():
    m = _tiny()
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        content, degra = m.encode_image(img, control=True)
        plain = m.clip.encode_image(img)
    assert content.shape == degra.shape == (2, 32)
    assert torch.equal(content, plain)
    assert torch.allclose(degra, plain)  # the controller starts as a copy of the tower
    for p in m.visual_control.transformer.zero_modules.parameters():
        assert torch.count_nonzero(p) == 0
    assert all(not p.requires_grad for p in m.clip.parameters())
    assert m.visual is m.clip.visual


def test_reversed_control_order():
    m = randomize_(_tiny(), seed=1)  # non-zero control connections
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        content, degra = m.encode_image(img, control=True)
        # reference: controller hiddens h_i = zero_i(block_i(...)); main block i gets h_{L-1-i}
        v, c = m.clip.visual, m.visual_control
        x = c.embed(img).permute(1, 0, 2)
        hid = []
        for z, blk in zip(c.transformer.zero_modules, c.transformer.transformer.resblocks):
            x = blk(x)
            hid.append(z(x))
        ref_degra = c.head(x.permute(1, 0, 2))[0]

        def main(order):
            y = v.embed(img).permute(1, 0, 2)
            for i, blk in enumerate(v.transformer.resblocks):
                y = blk(y) + hid[order(i)]
            return v.head(y.permute(1, 0, 2))[0]
        reversed_ref = main(lambda i: len(hid) - 1 - i)
        forward_ref = main(lambda i: i)
    assert torch.allclose(degra, ref_degra, atol=1e-6)
    assert torch.allclose(content, reversed_ref, atol=1e-6)
    assert not torch.allclose(content, forward_ref, atol=1e-3)


def test_forward_outputs_and_text_split():
    m = randomize_(_tiny(), seed=2)
    img = torch.randn(3, 3, 32, 32)
    cap, deg = text_ids(3, seed=1), text_ids(3, seed=2)
    with torch.no_grad():
        out = m(img, torch.cat([cap, deg], -1))
        content, degra = m.encode_image(img, control=True)
    assert torch.allclose(out['image_features'], F.normalize(content, dim=-1), atol=1e-6)
    assert torch.allclose(out['image_degra_features'], F.normalize(degra, dim=-1), atol=1e-6)
    assert torch.allclose(out['text_features'], m.encode_text(cap, normalize=True), atol=1e-6)
    assert torch.allclose(out['text_degra_features'], m.encode_text(deg, normalize=True), atol=1e-6)
    assert torch.allclose(out['logit_scale'], m.logit_scale.exp())


def test_initial_controller_modes():
    m = randomize_(_tiny(controller_init='copy'), seed=3)
    m.initial_controller()
    zs = m.visual_control.transformer.zero_modules
    assert all(torch.count_nonzero(p) == 0 for p in zs.parameters())
    assert torch.equal(m.visual_control.ln_post.weight, m.clip.visual.ln_post.weight)
    blk_c = m.visual_control.transformer.transformer.resblocks[1].mlp.c_fc.weight
    assert torch.equal(blk_c, m.clip.visual.transformer.resblocks[1].mlp.c_fc.weight)
    # official: the positional pairing broadcasts CLIP's ln_post into zero_modules[0]
    m2 = randomize_(_tiny(controller_init='official'), seed=3)
    ln_c = m2.visual_control.ln_post.weight.clone()
    m2.initial_controller()
    zs_w = m2.visual_control.transformer.zero_modules[0].weight
    assert torch.equal(zs_w, m2.clip.visual.ln_post.weight.expand_as(zs_w))
    assert torch.equal(m2.visual_control.transformer.zero_modules[0].bias, m2.clip.visual.ln_post.bias)
    assert torch.equal(m2.visual_control.ln_post.weight, ln_c)
    assert torch.equal(m2.visual_control.proj, m2.clip.visual.proj)
    assert torch.equal(m2.logit_scale, m2.clip.logit_scale)


def test_state_dict_round_trip_and_loading(tmp_path):
    m = randomize_(_tiny(), seed=4)
    path = tmp_path / 'daclip_tiny.pt'
    torch.save({'state_dict': {'module.' + k: v for k, v in m.state_dict().items()}}, path)
    m2 = DaCLIP(clip_cfg=TINY_CLIP, pretrained=str(path)).eval()
    img = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a, b = m.encode_image(img, control=True), m2.encode_image(img, control=True)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # base CLIP weights -> controller initialised from them
    torch.save(m.clip.state_dict(), tmp_path / 'clip.bin')
    m3 = DaCLIP(clip_cfg=TINY_CLIP, clip_pretrained=str(tmp_path / 'clip.bin'),
                controller_init='copy')
    assert torch.equal(m3.visual_control.conv1.weight, m.clip.visual.conv1.weight)


def test_missing_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path))
    with pytest.raises(MissingWeightsError, match='daclip_ViT-B-32.pt'):
        DaCLIP(clip_cfg=TINY_CLIP, pretrained='daclip_ViT-B-32.pt')
    with pytest.raises(MissingWeightsError, match='open_clip_pytorch_model.bin'):
        DaCLIP(clip_cfg=TINY_CLIP, clip_pretrained='pretrained/open_clip_pytorch_model.bin')


def test_needs_exactly_one_source():
    with pytest.raises(ValueError, match='exactly one'):
        DaCLIP(clip_cfg=TINY_CLIP, model_name='ViT-B-32')
    assert get_clip_config('ViT-B/32')['embed_dim'] == 512
