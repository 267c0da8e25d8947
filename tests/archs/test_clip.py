"""CLIP towers: OpenCLIP layout, forward maths, tokenizer."""

import pytest
import torch
import torch.nn.functional as F

from irkit.archs.clip import (CLIP, SimpleTokenizer, _pre_tokenize, get_clip_config, tokenize)

from tests.archs._helpers import assert_layout
from tests.archs.tiny_clip import TINY_CLIP, text_ids, write_tiny_bpe


def test_vit_b32_layout_matches_openclip():
    with torch.device('meta'):
        m = CLIP(**get_clip_config('ViT-B-32'))
    sd = m.state_dict()
    assert len(sd) == 302
    # the (key, shape) layout of open_clip's CLIP(**ViT-B-32 config) (vendored open_clip of
    # Algolzw/daclip-uir@c2cc141)
    assert_layout(sd, 'clip_vit_b32_keys', 'clip')
    assert sd['visual.positional_embedding'].shape == (50, 768)
    assert sd['visual.conv1.weight'].shape == (768, 3, 32, 32)
    assert sd['token_embedding.weight'].shape == (49408, 512)
    assert 'attn_mask' not in sd


def test_encode_image_matches_manual_vit():
    torch.manual_seed(0)
    m = CLIP(**TINY_CLIP).eval()
    v = m.visual
    img = torch.randn(2, 3, 32, 32)
    x = F.conv2d(img, v.conv1.weight, stride=8).flatten(2).transpose(1, 2)
    x = torch.cat([v.class_embedding.expand(2, 1, -1), x], 1) + v.positional_embedding
    x = F.layer_norm(x, (64, ), v.ln_pre.weight, v.ln_pre.bias)
    for blk in v.transformer.resblocks:
        h = F.layer_norm(x, (64, ), blk.ln_1.weight, blk.ln_1.bias)
        q, k, val = F.linear(h, blk.attn.in_proj_weight, blk.attn.in_proj_bias).chunk(3, -1)
        sp = lambda t: t.reshape(2, -1, 2, 32).transpose(1, 2)  # noqa: E731
        a = F.scaled_dot_product_attention(sp(q), sp(k), sp(val)).transpose(1, 2).reshape(2, -1, 64)
        x = x + blk.attn.out_proj(a)
        x = x + blk.mlp(F.layer_norm(x, (64, ), blk.ln_2.weight, blk.ln_2.bias))
    ref = F.layer_norm(x[:, 0], (64, ), v.ln_post.weight, v.ln_post.bias) @ v.proj
    with torch.no_grad():
        out = m.encode_image(img)
    assert out.shape == (2, 32)
    assert torch.allclose(out, ref, atol=1e-5)


def test_encode_text_is_causal_and_pools_eot():
    torch.manual_seed(0)
    m = CLIP(**TINY_CLIP).eval()
    ids = text_ids(2)
    with torch.no_grad():
        a = m.encode_text(ids)
        ids2 = ids.clone()
        ids2[:, -1] = 5  # tokens after the EOT (padding) cannot change the EOT feature
        b = m.encode_text(ids2)
        n = m(text=ids)[1]
    assert a.shape == (2, 32)
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(n.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.isclose(m.logit_scale.exp(), torch.tensor(1 / 0.07))


def test_bad_config_key_named():
    with pytest.raises(KeyError, match='head_widht'):
        CLIP(embed_dim=8, vision_cfg=dict(head_widht=4))


def test_tokenizer_tiny_vocab(tmp_path):
    tok = SimpleTokenizer(write_tiny_bpe(tmp_path / 'bpe.txt.gz'), context_length=8)
    # 256 bytes + 256 bytes</w> + 4 merges + 2 specials
    assert tok.vocab_size == 518 and tok.sot_token == 516 and tok.eot_token == 517
    assert tok.encode('Hello  HELLO!') == [515, 515, 256]  # '!</w>' is byte 0 + 256
    assert tok.encode('hel') == [512, 108 - 33 + 256]  # 'he' + 'l</w>' ('l' is byte index 75)
    ids = tok(['hello', 'hello ' * 10])
    assert ids[0].tolist() == [516, 515, 517, 0, 0, 0, 0, 0]
    assert ids[1, -1] == 517 and ids[1, 0] == 516  # truncated, EOT kept last
    assert tok.decode([515, 256]) == 'hello ! '
    # plain-text vocabulary files work too
    tok2 = SimpleTokenizer(write_tiny_bpe(tmp_path / 'bpe.txt', gz=False))
    assert tok2.encode('hello') == [515]
    pre = torch.tensor([[1, 2, 3]])
    assert tokenize(pre, None) is not None and tokenize(pre, None).dtype == torch.long


def test_pre_tokenize_pattern():
    specials = ['<start_of_text>', '<end_of_text>']
    assert _pre_tokenize("it's 42 don't!!x <end_of_text>", specials) == [
        'it', "'s", '4', '2', 'don', "'t", '!!', 'x', '<end_of_text>']
    assert _pre_tokenize("café's ,'ll", specials) == ['café', "'s", ",'", 'll']


def test_missing_vocab_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='bpe_simple_vocab_16e6'):
        SimpleTokenizer(tmp_path / 'nope.txt.gz')
