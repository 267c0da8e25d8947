"""Resize, RandomResizedCrop, RandomRotation, ColorJitter and LoadRandomMask (AOT-GAN's data
augmentation) against hand computations, colorsys and PIL."""
import colorsys
import math
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from irkit.datasets.transforms.augment import (adjust_brightness, adjust_contrast, adjust_hue,
                                               adjust_saturation, hsv_to_rgb, rgb_to_hsv, rotate_image)
from irkit.datasets.transforms.crop import random_resized_crop_params, resize_image, resized_size
from irkit.registry import TRANSFORMS


def build(**cfg):
    return TRANSFORMS.build(cfg)


# ------------------------------------------------------------------------------------ resizing

def test_resized_size_follows_torchvision_int_rule():
    assert resized_size(300, 460, 512) == (512, int(512 * 460 / 300))  # shorter side -> 512
    assert resized_size(460, 300, 512) == (int(512 * 460 / 300), 512)
    assert resized_size(512, 512, 512) == (512, 512)
    assert resized_size(300, 460, (512, 256)) == (512, 256)


def test_nearest_resize_takes_the_centre_source_pixel():
    src = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    out = resize_image(src, (3, 4), 'nearest')
    rows = [math.floor((i + 0.5) * 5 / 3) for i in range(3)]  # 0, 2, 4
    cols = [math.floor((j + 0.5) * 7 / 4) for j in range(4)]  # 0, 2, 4, 6
    np.testing.assert_array_equal(out, src[np.ix_(rows, cols)])
    up = resize_image(src, (10, 14), 'nearest')
    np.testing.assert_array_equal(up, np.repeat(np.repeat(src, 2, 0), 2, 1))


def test_bilinear_resize_hand_values_and_pil():
    # upsampling 1x2 -> 1x4: output centres at 0.25, 0.75, 1.25, 1.75 in input pixel units
    src = np.array([[0.0, 1.0]], np.float32)
    np.testing.assert_allclose(resize_image(src, (1, 4), 'bilinear'), [[0, 0.25, 0.75, 1]], atol=1e-6)
    # halving averages pixel pairs with the (1/4, 3/4, 3/4, 1/4) triangle of PIL's antialiased
    # filter: output 0 covers inputs 0..2 -> (3*a0 + 3*a1 + a2) / 7 (edge-normalised)
    row = np.array([[0.0, 0.4, 0.8, 0.2]], np.float32)
    out = resize_image(row, (1, 2), 'bilinear')
    np.testing.assert_allclose(out[0, 0], (3 * 0.0 + 3 * 0.4 + 1 * 0.8) / 7, atol=1e-6)
    np.testing.assert_allclose(out[0, 1], (1 * 0.4 + 3 * 0.8 + 3 * 0.2) / 7, atol=1e-6)
    rng = np.random.default_rng(0)
    img = rng.random((37, 53, 3)).astype(np.float32)
    for size in ((20, 31), (64, 80)):
        ref = np.stack([np.asarray(Image.fromarray(img[..., c], 'F').resize(size[::-1], Image.BILINEAR))
                        for c in range(3)], 2)
        np.testing.assert_allclose(resize_image(img, size, 'bilinear'), ref, atol=1e-5)  # float32 sums


def test_resize_transform_keeps_channel_axis_and_rejects_bad_sizes():
    mask = np.ones((30, 40, 1), np.float32)
    out = build(type='Resize', keys='mask', size=12, interpolation='nearest')(dict(mask=mask))['mask']
    assert out.shape == (12, 16, 1)
    with pytest.raises(ValueError, match='interpolation'):
        build(type='Resize', keys='mask', size=12, interpolation='area')
    with pytest.raises(ValueError, match='size'):
        build(type='Resize', keys='mask', size=(0, 3))


def test_random_resized_crop_params_follow_torchvision_rule():
    class Scripted:
        """Feeds given uniforms / integers, like a generator whose draws we chose."""

        def __init__(self, uniforms, ints):
            self.u, self.i = list(uniforms), list(ints)

        def uniform(self, lo, hi):
            return lo + (hi - lo) * self.u.pop(0)

        def integers(self, lo, hi):
            assert lo == 0
            return min(self.i.pop(0), hi - 1)

    h, w = 100, 200
    # first try: area fraction 0.5 -> 10000 px, ratio exp(0) = 1 -> 100 x 100 fits
    top, left, ch, cw = random_resized_crop_params(h, w, (0.08, 1.0), (3 / 4, 4 / 3),
                                                   Scripted([(0.5 - 0.08) / 0.92, 0.5], [0, 37]))
    assert (top, left, ch, cw) == (0, 37, 100, 100)
    # ten tries that never fit (area 100 % at ratio 4/3 -> 163 x 122 > 100 rows) -> fallback:
    # w/h = 2 > 4/3 -> full height, width round(100 * 4/3) = 133, centred
    params = random_resized_crop_params(h, w, (1.0, 1.0), (4 / 3, 4 / 3), Scripted([0.0] * 20, []))
    assert params == (0, (200 - 133) // 2, 100, 133)


def test_random_resized_crop_transform_and_seed(rng):
    img = rng.random((60, 90, 3)).astype(np.float32)
    t = build(type='RandomResizedCrop', keys='gt', size=32, seed=3)
    out = t(dict(gt=img.copy(), key='a'))
    top, left, ch, cw = out['crop_bbox']
    assert out['gt'].shape == (32, 32, 3)
    np.testing.assert_allclose(out['gt'], resize_image(img[top:top + ch, left:left + cw], (32, 32)), atol=0)
    assert 0.08 * 60 * 90 * 0.9 <= ch * cw <= 60 * 90 and 3 / 4 * 0.9 <= cw / ch <= 4 / 3 * 1.1
    assert t(dict(gt=img.copy(), key='a'))['crop_bbox'] == out['crop_bbox']
    boxes = {build(type='RandomResizedCrop', keys='gt', size=32)(dict(gt=img))['crop_bbox'] for _ in range(10)}
    assert len(boxes) > 5


# ------------------------------------------------------------------------------------ rotation

def test_rotation_by_90_is_rot90_and_corners_get_fill():
    rng = np.random.default_rng(1)
    img = rng.random((8, 8)).astype(np.float32)
    np.testing.assert_array_equal(rotate_image(img, 90, 'nearest'), np.rot90(img))  # counter-clockwise
    out = rotate_image(np.zeros((64, 64), np.float32), 45, 'nearest', fill=1.0)
    assert out[0, 0] == 1.0 and out[-1, -1] == 1.0 and out[32, 32] == 0.0


def test_rotation_pixel_mapping_by_hand():
    # counter-clockwise rotation by a about c = (W/2, H/2): output pixel centre (x + .5, y + .5)
    # samples the input at c + R(a) (p - c) with R(a) = [[cos, -sin], [sin, cos]] (y down)
    h, w, a = 20, 30, 20.0
    img = np.arange(h * w, dtype=np.float32).reshape(h, w)
    out = rotate_image(img, a, 'nearest', fill=-1)
    t = math.radians(a)
    cx, cy = w / 2, h / 2
    for (y, x) in [(3, 4), (10, 15), (17, 25), (0, 29)]:
        dx, dy = x + 0.5 - cx, y + 0.5 - cy
        sx = math.cos(t) * dx - math.sin(t) * dy + cx
        sy = math.sin(t) * dx + math.cos(t) * dy + cy
        expect = img[int(sy), int(sx)] if 0 <= sx < w and 0 <= sy < h else -1
        assert out[y, x] == expect, (y, x, sx, sy)


def test_random_rotation_transform_mask_polarity_and_seed():
    known = np.zeros((40, 40, 1), np.float32)  # all hole, irkit polarity (1 = known)
    t = build(type='RandomRotation', keys='mask', degrees=(10, 45), interpolation='nearest', fill=1.0, seed=0)
    out = t(dict(mask=known.copy(), key='k'))
    assert 10 <= out['rotation_angle'] <= 45 and out['mask'].shape == (40, 40, 1)
    assert out['mask'][0, 0, 0] == 1 and out['mask'][20, 20, 0] == 0  # rotated-in corners are known
    assert t(dict(mask=known.copy(), key='k'))['rotation_angle'] == out['rotation_angle']
    with pytest.raises(ValueError, match='degrees'):
        build(type='RandomRotation', keys='mask', degrees=(45, 0))


# ------------------------------------------------------------------------------- colour jitter

def test_hsv_round_trip_matches_colorsys():
    rng = np.random.default_rng(2)
    px = np.concatenate([rng.random((200, 3)), [[0.2, 0.2, 0.2], [1, 0, 0], [0, 1, 1], [0.5, 0.5, 0.1],
                                                 [0.3, 0.7, 0.7], [0, 0, 0]]])
    hsv = rgb_to_hsv(px)
    ref = np.array([colorsys.rgb_to_hsv(*p) for p in px])
    np.testing.assert_allclose(hsv, ref, atol=1e-12)
    np.testing.assert_allclose(hsv_to_rgb(hsv), px, atol=1e-12)
    shifted = adjust_hue(px[None], 0.3)[0]
    ref = np.array([colorsys.hsv_to_rgb((h + 0.3) % 1.0, s, v) for h, s, v in
                    (colorsys.rgb_to_hsv(*p) for p in px)])
    np.testing.assert_allclose(shifted, ref, atol=1e-12)


def test_brightness_contrast_saturation_formulas():
    img = np.array([[[0.2, 0.4, 0.9], [0.6, 0.1, 0.3]]])
    np.testing.assert_allclose(adjust_brightness(img, 1.5), np.clip(1.5 * img, 0, 1))
    gray = 0.2989 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    np.testing.assert_allclose(adjust_contrast(img, 0.7), np.clip(0.7 * img + 0.3 * gray.mean(), 0, 1))
    np.testing.assert_allclose(adjust_saturation(img, 1.3), np.clip(1.3 * img - 0.3 * gray[..., None], 0, 1))
    np.testing.assert_allclose(adjust_saturation(img, 0.0), np.repeat(gray[..., None], 3, -1))


def test_color_jitter_order_ranges_and_replay():
    rng = np.random.default_rng(3)
    img = rng.random((6, 5, 3)).astype(np.float32)
    t = build(type='ColorJitter', keys='gt', brightness=0.05, contrast=0.05, saturation=0.05, hue=0.05, seed=1)
    out = t(dict(gt=img.copy(), key='x'))
    p = out['color_jitter']
    assert sorted(p['order']) == [0, 1, 2, 3]
    for k in ('brightness', 'contrast', 'saturation'):
        assert 0.95 <= p[k] <= 1.05
    assert -0.05 <= p['hue'] <= 0.05
    ref = img.astype(np.float64)
    ops = [(adjust_brightness, p['brightness']), (adjust_contrast, p['contrast']),
           (adjust_saturation, p['saturation']), (adjust_hue, p['hue'])]
    for i in p['order']:
        ref = ops[i][0](ref, ops[i][1])
    np.testing.assert_allclose(out['gt'], ref, atol=1e-6)
    assert out['gt'].dtype == np.float32
    only_b = build(type='ColorJitter', keys='gt', brightness=0.5)(dict(gt=img.copy()))
    assert only_b['color_jitter']['hue'] is None
    np.testing.assert_allclose(only_b['gt'], np.clip(img * only_b['color_jitter']['brightness'], 0, 1), atol=1e-6)
    with pytest.raises(ValueError, match='hue'):
        build(type='ColorJitter', hue=0.7)


# ------------------------------------------------------------------------------ random masks

def test_load_random_mask_picks_from_folder(tmp_path):
    folder = tmp_path / 'masks'
    os.makedirs(folder / 'sub')
    for i, name in enumerate(['a', 'b', 'sub/c']):
        m = np.zeros((16, 16), np.uint8)
        m[:, :4 * (i + 1)] = 255  # white = hole: 4, 8, 12 hole columns
        cv2.imwrite(str(folder / f'{name}.png'), m)
    t = build(type='LoadRandomMask', mask_root=str(folder))
    assert len(t) == 3
    seen = set()
    for _ in range(40):
        out = t(dict(key='img'))
        m = out['mask']
        assert m.shape == (16, 16, 1) and set(np.unique(m)) <= {0.0, 1.0}
        holes = int((m[0, :, 0] == 0).sum())
        seen.add(holes)
        assert os.path.basename(out['mask_path']) == {4: 'a.png', 8: 'b.png', 12: 'c.png'}[holes]
    assert seen == {4, 8, 12}
    fixed = build(type='LoadRandomMask', mask_root=str(folder), seed=5)
    assert fixed(dict(key='img'))['mask_path'] == fixed(dict(key='img'))['mask_path']
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='no mask images'):
        build(type='LoadRandomMask', mask_root=str(empty))
    with pytest.raises(ValueError, match='exactly one'):
        build(type='LoadRandomMask')
    with pytest.raises(FileNotFoundError, match='LoadRandomMask: mask folder not found: .*nowhere'):
        build(type='LoadRandomMask', mask_root=str(tmp_path / 'nowhere'))


def test_load_random_mask_from_list_file_nonzero_rule(tmp_path):
    m = np.zeros((8, 8), np.uint8)
    m[2:5, 3:6] = 1  # MMagic's rule: any non-zero value is a hole
    cv2.imwrite(str(tmp_path / 'm1.png'), m)
    (tmp_path / 'list.txt').write_text('m1.png\n\n')
    t = build(type='LoadRandomMask', mask_list_file=str(tmp_path / 'list.txt'), prefix=str(tmp_path),
              threshold=0)
    out = t(dict(key='a'))['mask'][:, :, 0]
    np.testing.assert_array_equal(out, 1 - m)
    (tmp_path / 'bad.txt').write_text('missing.png\n')
    t = build(type='LoadRandomMask', mask_list_file=str(tmp_path / 'bad.txt'), prefix=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        t(dict(key='a'))


def test_inference_drops_the_benchmark_preparation():
    """At inference on user files the resizes/augmentations go and LoadRandomMask is the user's mask."""
    from irkit.datasets.inference import inference_pipeline_cfg
    pipe = [dict(type='LoadImageFromFile', key='gt'),
            dict(type='RandomResizedCrop', keys='gt', size=32),
            dict(type='ColorJitter', keys='gt', brightness=0.1),
            dict(type='LoadRandomMask', mask_root='/nowhere', key='mask', seed=1),
            dict(type='Resize', keys='mask', size=(32, 32), interpolation='nearest'),
            dict(type='RandomRotation', keys='mask', degrees=(0, 45), fill=1.0),
            dict(type='PackInputs', keys=['gt', 'mask'])]
    assert [t['type'] for t in inference_pipeline_cfg(pipe, ['gt'], 'mask')] == [
        'LoadImageFromFile', 'LoadMask', 'PackInputs']
