"""PromptIR: released model, state_dict layout, small-depth behaviour."""
import pytest
import torch

from irkit.archs.promptir import PromptGenBlock
from irkit.registry import ARCHS

from ._helpers import assert_layout, n_params

# dim must stay 48 (the official prompt widths are literal numbers); shrink the depth.
SMALL = dict(type='PromptIR', decoder=True, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1,
             ffn_expansion_factor=1.0)


def test_released_model():
    model = ARCHS.build(dict(type='PromptIR', decoder=True))
    assert n_params(model) == 35_592_263
    sd = model.state_dict()
    assert len(sd) == 548
    assert_layout(model, 'promptir_released_keys', 'generator')
    assert sd['prompt1.prompt_param'].shape == (1, 5, 64, 64, 64)
    assert sd['prompt2.prompt_param'].shape == (1, 5, 128, 32, 32)
    assert sd['prompt3.prompt_param'].shape == (1, 5, 320, 16, 16)
    assert sd['prompt3.linear_layer.weight'].shape == (5, 384)
    assert sd['noise_level3.attn.temperature'].shape == (4, 1, 1)  # heads[2] everywhere
    assert sd['noise_level1.attn.temperature'].shape == (4, 1, 1)
    assert sd['reduce_noise_level2.weight'].shape == (192, 320, 1, 1)
    unused = sum(v.numel() for k, v in sd.items()
                 if k.startswith(('chnl_reduce', 'reduce_noise_channel')))
    assert unused == 215_296


def test_shapes_residual_and_noise_emb_ignored():
    torch.manual_seed(0)
    model = ARCHS.build(SMALL).eval()
    x = torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        y = model(x)
        assert y.shape == x.shape
        assert torch.equal(model(x, noise_emb=torch.rand(2, 7)), y)
        model.output.weight.zero_()
        assert torch.equal(model(x), x)


def test_prompt_block_formula():
    torch.manual_seed(0)
    blk = PromptGenBlock(prompt_dim=2, prompt_len=3, prompt_size=4, lin_dim=5).double()
    torch.nn.init.dirac_(blk.conv3x3.weight)  # identity conv
    x = torch.rand(2, 5, 4, 4, dtype=torch.float64)
    w = torch.softmax(x.mean(dim=(2, 3)) @ blk.linear_layer.weight.T + blk.linear_layer.bias,
                      dim=1)
    ref = torch.einsum('bk,kchw->bchw', w, blk.prompt_param[0])
    torch.testing.assert_close(blk(x), ref, rtol=0, atol=1e-12)  # same size: no resampling
    # x2 resize, align_corners=False: output pixel 1 sits at input coordinate 0.25
    y = blk(torch.rand(1, 5, 8, 8, dtype=torch.float64))
    assert y.shape == (1, 2, 8, 8)


def test_prompt_init_uniform_01():
    p = ARCHS.build(SMALL).prompt2.prompt_param
    assert 0 <= p.min() and p.max() < 1 and abs(p.mean().item() - 0.5) < 0.01


def test_decoder_false_and_other_dims_are_clear_errors():
    model = ARCHS.build(dict(SMALL, decoder=False))  # constructible, as officially
    assert 'prompt1.prompt_param' not in model.state_dict()
    with pytest.raises(RuntimeError, match='decoder=True'):
        model(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match='dim=48'):
        ARCHS.build(dict(SMALL, dim=32))
    with pytest.raises(ValueError, match='divisible by 8'):
        ARCHS.build(SMALL)(torch.rand(1, 3, 12, 8))


def test_backward():
    model = ARCHS.build(dict(SMALL, num_refinement_blocks=0))
    model(torch.rand(1, 3, 8, 8)).mean().backward()
    used = [n for n, p in model.named_parameters()
            if not n.startswith(('chnl_reduce', 'reduce_noise_channel'))]
    grads = dict(model.named_parameters())
    assert all(grads[n].grad is not None for n in used)
