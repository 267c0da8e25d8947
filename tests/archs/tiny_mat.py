"""Tiny MAT configs shared by the MAT arch, model and pickle tests (tests/archs, tests/models, tests/fileio)."""
import pytest

# a small MAT: 128 px, narrow stage 2 / discriminator, 12-wide transformer, 32-d latents
TINY_TABLE = {128: 16, 64: 32, 32: 32, 16: 32, 8: 32, 4: 32}
TINY_G = dict(type='MATGenerator', z_dim=32, c_dim=0, w_dim=32, img_resolution=128, img_channels=3,
              channel_table=TINY_TABLE, stage1_dim=12)
TINY_D = dict(type='MATDiscriminator', c_dim=0, img_resolution=128, img_channels=3,
              channel_table=TINY_TABLE)


@pytest.fixture
def tiny_nets():
    import torch
    from irkit.registry import ARCHS
    torch.manual_seed(0)
    return ARCHS.build(dict(TINY_G)), ARCHS.build(dict(TINY_D))
