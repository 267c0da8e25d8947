"""irkit.apis.inpainting: the high-resolution strategies (whole, crop around the holes, resize)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.apis.inpainting import hole_boxes, inpaint
from irkit.registry import MODELS

from ..models import toy_inpaint  # noqa: F401  (registers ToyInpaintG)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(dict(type='GANInpaintor', generator=dict(type='ToyInpaintG', width=8))).eval()


def image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def as_tensor(img):
    return torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def test_hole_boxes_grow_clip_and_merge():
    known = torch.ones(64, 80)
    known[20:30, 30:45] = 0                           # one hole: box grown by 8 on every side
    assert hole_boxes(known, 8) == [(12, 22, 38, 53)]
    known[0:3, 75:80] = 0                              # a hole in the corner: clipped to the image
    assert hole_boxes(known, 8) == [(0, 67, 11, 80), (12, 22, 38, 53)]
    assert hole_boxes(known, 12) == [(0, 63, 15, 80), (8, 18, 42, 57)]  # rows overlap, columns do not
    assert hole_boxes(known, 20) == [(0, 10, 50, 80)]  # grown boxes overlap: merged into one
    assert hole_boxes(torch.ones(8, 8), 4) == []
    # A and B overlap once grown; C overlaps neither, only the box merging them
    chain = torch.ones(20, 20)
    chain[1:5, 1:5] = 0       # A: grown by 1 -> (0, 0, 6, 6)
    chain[6:9, 6:9] = 0       # B: (5, 5, 10, 10), overlaps A
    chain[1, 8] = 0           # C: (0, 7, 3, 10), inside A-B's box (0, 0, 10, 10) only
    chain[15:17, 15:17] = 0   # D: (14, 14, 18, 18), on its own
    assert hole_boxes(chain, 1) == [(0, 0, 10, 10), (14, 14, 18, 18)]


def test_whole_keeps_known_pixels_and_reports_one_pass(model):
    img = image(40, 56)
    known = torch.ones(40, 56)
    known[10:20, 5:30] = 0
    calls = []
    out = inpaint(model, img, known, strategy='whole', progress=lambda d, t: calls.append((d, t)))
    x = as_tensor(img)[0]
    assert out.shape == (3, 40, 56) and calls == [(1, 1)]
    assert torch.equal(out[:, known.bool()], x[:, known.bool()])
    assert torch.equal(out, model.inpaint(as_tensor(img), known[None, None], seed=240)[0])


def test_crop_inpaints_each_grown_box_and_pastes_its_holes(model):
    img = image(64, 96, seed=1)
    known = torch.ones(64, 96)
    known[20:30, 30:45] = 0
    known[50:60, 80:90] = 0
    x = as_tensor(img)
    calls = []
    out = inpaint(model, img, known, strategy='crop', crop_margin=4, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 2), (2, 2)]
    assert torch.equal(out[:, known.bool()], x[0][:, known.bool()])      # known pixels untouched
    expected = x[0].clone()
    for t, l, b, r in [(16, 26, 34, 49), (46, 76, 64, 94)]:               # box +- 4, clipped at the bottom
        m = known[None, None, t:b, l:r]
        expected[:, t:b, l:r] = model.inpaint(x[..., t:b, l:r], m, seed=240)[0]
    assert torch.equal(out, expected)
    # the crop result differs from the whole-image pass (the network saw less context)
    assert not torch.equal(out, inpaint(model, img, known, strategy='whole'))


def test_crop_without_holes_returns_the_image(model):
    img = image(16, 16)
    out = inpaint(model, img, torch.ones(16, 16), strategy='crop')
    assert torch.equal(out, as_tensor(img)[0])


def test_resize_inpaints_small_and_pastes_back_only_the_holes(model):
    img = image(60, 100, seed=2)
    known = torch.ones(60, 100)
    known[21:33, 41:60] = 0
    known[7, 13] = 0                              # a one-pixel hole must survive the shrinking
    seen = []
    run = model.inpaint

    def recording(x, m, seed=None):
        seen.append((x.clone(), m.clone()))
        return run(x, m, seed=seed)

    model.inpaint = recording
    try:
        out = inpaint(model, img, known, strategy='resize', resize_limit=50)
    finally:
        del model.inpaint
    (small, small_known), = seen
    assert small.shape[-2:] == (30, 50) and small_known.shape[-2:] == (30, 50)
    # every pixel of the small image covering a hole pixel is a hole: (7, 13) -> (3, 6) at scale 1/2
    assert small_known[0, 0, 3, 6] == 0 and small_known[0, 0, 10:16, 20:30].sum() == 0
    assert small_known.mean() > 0.9                                 # and the rest stays known
    x = as_tensor(img)
    assert torch.equal(out[:, known.bool()], x[0][:, known.bool()])
    up = F.interpolate(model.inpaint(small, small_known, seed=240), size=(60, 100), mode='bicubic',
                       align_corners=False).clamp(0, 1)[0]
    hole = ~known.bool()
    assert torch.allclose(out[:, hole], up[:, hole], atol=1e-6)
    # below the limit 'resize' is the whole-image pass
    assert torch.equal(inpaint(model, img, known, strategy='resize', resize_limit=100),
                       inpaint(model, img, known, strategy='whole'))


def test_bad_strategy_names_the_choices(model):
    with pytest.raises(ValueError, match="strategy must be one of whole, crop, resize, got 'tile'"):
        inpaint(model, image(8, 8), torch.ones(8, 8), strategy='tile')
