"""TDR guidance generation on tiny random SD/CLIP models (skipped without the extra)."""
import pytest
import torch

from tests.models.conftest import TINY_CLEAN, TINY_MAPPER

pytestmark = pytest.mark.diffusion  # CI runs them again with the diffusion extra
pytest.importorskip('diffusers', reason="TDR guidance needs the 'diffusion' extra")
pytest.importorskip('transformers', reason="TDR guidance needs the 'diffusion' extra")

from irkit.models import tdr_guidance as G  # noqa: E402
from irkit.fileio.weights import MissingWeightsError  # noqa: E402


@pytest.fixture
def comps(tiny_sd):
    sd, clip = tiny_sd
    torch.manual_seed(1)
    return G.load_tdr_components(sd, clip, mapper=dict(TINY_MAPPER), clean_mapper=dict(TINY_CLEAN))


def test_placeholder_index_matches_tokens(comps):
    text = G.DEFAULT_TEMPLATE.format(G.DEFAULT_PLACEHOLDER)
    idx = G.placeholder_index(text)
    ids = G.tokenize_prompt(comps.tokenizer, text, 1)[0]
    assert idx == 5 and ids[idx].item() == 5  # 's</w>' in the tiny vocabulary
    with pytest.raises(ValueError, match='placeholder'):
        G.placeholder_index('a photo of a dog')


def test_injection_equals_plain_prompt(comps):
    """Injecting the embeddings of 'a photo' for S == encoding 'a photo of a a photo'."""
    te, tok = comps.text_encoder, comps.tokenizer
    ids = G.tokenize_prompt(tok, 'a photo of a S', 2)
    emb = te.get_input_embeddings().weight
    words = emb[torch.tensor([2, 3])].unsqueeze(0).expand(2, -1, -1)
    with torch.no_grad():
        injected = G.encode_prompt(te, ids, words, 5)
        plain = G.encode_prompt(te, G.tokenize_prompt(tok, 'a photo of a a photo', 2))
        untouched = G.encode_prompt(te, ids)
    torch.testing.assert_close(injected, plain, atol=1e-6, rtol=1e-5)
    # causal text encoder: tokens before the placeholder are unaffected
    torch.testing.assert_close(injected[:, :5], untouched[:, :5])
    assert not torch.allclose(injected[:, 5:], untouched[:, 5:])
    # the hook is removed afterwards
    with torch.no_grad():
        torch.testing.assert_close(G.encode_prompt(te, ids), untouched)


def test_inject_words_truncates():
    tok = torch.arange(6.).view(1, 6, 1)
    out = G.inject_words(tok, torch.full((1, 3, 1), -1.), 2)
    assert out.flatten().tolist() == [0, 1, -1, -1, -1, 3]
    out = G.inject_words(tok, torch.full((1, 9, 1), -1.), 4)  # more words than room
    assert out.flatten().tolist() == [0, 1, 2, 3, -1, -1]


def test_global_kv_copies_reproduce_unet(tiny_sd):
    """With the k/v copies initialised from the UNet, the routed UNet equals the original."""
    import diffusers
    sd, _ = tiny_sd
    from irkit.archs.tdr_mapper import Mapper
    ref = diffusers.UNet2DConditionModel.from_pretrained(str(sd), subfolder='unet').eval()
    unet = diffusers.UNet2DConditionModel.from_pretrained(str(sd), subfolder='unet').eval()
    mapper = Mapper(12, 16, 2, hidden_dim=8)
    n = G.install_global_kv(unet, mapper, copy_weights=True)
    assert n == len(G.cross_attentions(unet)) >= 1
    names = sorted(k for k in mapper.state_dict() if not k.startswith('mapping'))
    assert names == sorted(f'{a.replace(".", "_")}_{p}.weight' for a in G.cross_attentions(unet)
                           for p in ('to_k', 'to_v'))
    x = torch.randn(2, 4, 8, 8)
    ctx = torch.randn(2, 12, 16)
    with torch.no_grad():
        a = ref(x, 10, encoder_hidden_states=ctx).sample
        b = unet(x, 10, encoder_hidden_states=ctx).sample
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        getattr(mapper, names[0][:-len('.weight')]).weight.mul_(3)
        c = unet(x, 10, encoder_hidden_states=ctx).sample
    assert (c - a).abs().max() > 1e-4  # the copies, not the UNet's own projections, are used


def test_generate_is_seeded_and_batch_independent(comps):
    img = torch.rand(2, 3, 20, 30)
    out = G.generate_guidance(comps, img, num_inference_steps=2, resolution=16)
    assert out.shape == (2, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    single = G.generate_guidance(comps, img[1:], num_inference_steps=2, resolution=16)
    torch.testing.assert_close(out[1:], single, atol=1e-5, rtol=1e-4)
    again = G.generate_guidance(comps, img, num_inference_steps=2, resolution=16)
    torch.testing.assert_close(out, again)


def test_clean_mapper_changes_guidance(comps):
    img = torch.rand(1, 3, 16, 16)
    a = G.generate_guidance(comps, img, num_inference_steps=1, resolution=16)
    b = G.generate_guidance(comps, img, num_inference_steps=1, resolution=16, use_clean_mapper=False)
    assert (a - b).abs().max() > 0


def test_release_state_dict_roundtrip(tiny_sd, tmp_path, comps):
    """A release-style mapper.pt (plain state_dict incl. k/v copies) loads back exactly."""
    sd, clip = tiny_sd
    torch.save(comps.mapper.state_dict(), tmp_path / 'mapper.pt')
    torch.save(comps.clean_mapper.state_dict(), tmp_path / 'clean_mapper.pt')
    again = G.load_tdr_components(sd, clip, mapper=dict(TINY_MAPPER), clean_mapper=dict(TINY_CLEAN),
                                  mapper_path=tmp_path / 'mapper.pt',
                                  clean_mapper_path=tmp_path / 'clean_mapper.pt')
    for a, b in ((comps.mapper, again.mapper), (comps.clean_mapper, again.clean_mapper)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    img = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(G.generate_guidance(comps, img, num_inference_steps=1, resolution=16),
                               G.generate_guidance(again, img, num_inference_steps=1, resolution=16))


def test_missing_weights_are_named(tiny_sd, tmp_path):
    sd, clip = tiny_sd
    with pytest.raises(MissingWeightsError, match='Stable Diffusion.*sd_path'):
        G.load_tdr_components(tmp_path / 'nope', clip)
    with pytest.raises(MissingWeightsError, match='mapper_path'):
        G.load_tdr_components(sd, clip, mapper=dict(TINY_MAPPER), mapper_path=tmp_path / 'm.pt')
