"""DINOv2 ViT (TDR's reference matcher): layout, tokens, position-embedding interpolation, loading."""
import pytest
import torch

from irkit.archs.dinov2 import DINOV2_VITB14_FILE, DinoVisionTransformer
from irkit.fileio.weights import MissingWeightsError


TINY_VIT = dict(img_size=28, patch_size=14, embed_dim=32, depth=2, num_heads=4, init_values=1.0)


def _vit(seed=0):
    torch.manual_seed(seed)
    return DinoVisionTransformer(**TINY_VIT).eval()


def test_dinov2_layout_and_tokens():
    vit = _vit()
    keys = set(vit.state_dict())
    for k in ['cls_token', 'pos_embed', 'mask_token', 'patch_embed.proj.weight', 'norm.bias',
              'blocks.1.norm1.weight', 'blocks.0.attn.qkv.bias', 'blocks.0.attn.proj.weight',
              'blocks.0.ls1.gamma', 'blocks.1.mlp.fc1.weight', 'blocks.1.mlp.fc2.bias', 'blocks.0.ls2.gamma']:
        assert k in keys, k
    assert vit.pos_embed.shape == (1, 2 * 2 + 1, 32)
    with torch.no_grad():
        assert vit(torch.rand(2, 3, 28, 28)).shape == (2, 4, 32)
        assert vit(torch.rand(1, 3, 42, 70)).shape == (1, 15, 32)  # interpolated position grid
    with pytest.raises(ValueError, match='multiple of the patch size'):
        vit(torch.rand(1, 3, 30, 28))
    # the ViT-B/14 TDR builds: 175 tensors, 86,580,480 parameters (DINOv2's 86 M ViT-B/14)
    with torch.device('meta'):
        full = DinoVisionTransformer()
    sd = full.state_dict()
    assert len(sd) == 175 and sum(v.numel() for v in sd.values()) == 86580480
    assert sd['pos_embed'].shape == (1, 37 * 37 + 1, 768)


def test_position_embedding_interpolation():
    vit = _vit()
    with torch.no_grad():
        vit.pos_embed[:, 1:] = 0.25  # bicubic resizing keeps a constant grid constant
    pe = vit.interpolate_pos_encoding(1 + 3 * 5, 42, 70)
    assert pe.shape == (1, 16, 32)
    torch.testing.assert_close(pe[:, 1:], torch.full((1, 15, 32), 0.25))
    torch.testing.assert_close(pe[:, 0], vit.pos_embed[:, 0])
    assert vit.interpolate_pos_encoding(5, 28, 28) is vit.pos_embed  # training size: unchanged


def test_dinov2_strict_reload_and_missing_weights(tmp_path, monkeypatch):
    vit = _vit()
    path = tmp_path / DINOV2_VITB14_FILE
    torch.save(vit.state_dict(), path)
    x = torch.rand(1, 3, 28, 42)
    for pretrained in (str(path), str(tmp_path)):  # the file, or a folder holding it
        with torch.no_grad():
            torch.testing.assert_close(DinoVisionTransformer(**TINY_VIT, pretrained=pretrained).eval()(x),
                                       vit(x), atol=0, rtol=0)
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path))  # a bare name: looked up in $IRKIT_WEIGHTS
    DinoVisionTransformer(**TINY_VIT, pretrained=DINOV2_VITB14_FILE)
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path / 'empty'))
    with pytest.raises(MissingWeightsError, match=r'dinov2_vitb14_pretrain\.pth.*model\.ref_matcher'):
        DinoVisionTransformer(**TINY_VIT, pretrained=DINOV2_VITB14_FILE)
    torch.save({k: v for k, v in vit.state_dict().items() if k != 'mask_token'}, tmp_path / 'bad.pth')
    with pytest.raises(Exception, match='mask_token'):
        DinoVisionTransformer(**TINY_VIT, pretrained=str(tmp_path / 'bad.pth'))
