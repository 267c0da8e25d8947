"""irkit.apis.restore(progress=...): one call per network pass, with the count the model expects."""
import numpy as np
import torch

from irkit.apis import restore
from irkit.registry import MODELS


def test_progress_counts_tiles_and_self_ensemble_passes():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='Restorer', generator=dict(type='DnCNN', in_nc=3, out_nc=3, nc=4, nb=2),
                              pad_multiple=4, tile=20, tile_overlap=4)).eval()
    img = np.random.default_rng(0).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    calls = []
    out = restore(model, img, progress=lambda done, total: calls.append((done, total)))
    # tile 20 (a multiple of 4), step 16: rows start at 0, 10; columns at 0, 16, 25 -> 6 tiles
    assert calls == [(i, 6) for i in range(1, 7)] and model.num_passes(30, 45) == 6
    assert torch.equal(out, restore(model, img))              # counting does not change the result
    model.self_ensemble = True
    calls.clear()
    restore(model, img, tile=64, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 8) for i in range(1, 9)]              # one tile, eight flips
    assert not model.generator._forward_hooks                  # the counting hooks are removed again
