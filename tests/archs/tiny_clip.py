"""Tiny CLIP configs and helpers shared by the CLIP / DA-CLIP arch and model tests."""
import gzip

import torch

TINY_CLIP = dict(embed_dim=32,
                 vision_cfg=dict(image_size=32, layers=3, width=64, head_width=32, patch_size=8),
                 text_cfg=dict(context_length=16, vocab_size=600, width=32, heads=2, layers=3))


def write_tiny_bpe(path, gz=True):
    """A 4-merge vocabulary: 'hello</w>' becomes a single token (id 515)."""
    text = '#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n'
    if gz:
        with gzip.open(path, 'wb') as f:
            f.write(text.encode('utf-8'))
    else:
        path.write_text(text, encoding='utf-8')
    return path


def randomize_(module, seed=0, std=0.05):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
    return module


def text_ids(batch, length=16, seed=0, vocab=500):
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(batch, length, dtype=torch.long)
    for i in range(batch):
        n = 3 + i % (length - 4)
        ids[i, 0] = 598
        ids[i, 1:n] = torch.randint(1, vocab, (n - 1,), generator=g)
        ids[i, n] = 599  # the largest id marks the end of text
    return ids
