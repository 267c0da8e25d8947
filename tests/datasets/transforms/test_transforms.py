"""Transforms against independent references (formulas, numpy/scipy ops)."""
import cv2
import numpy as np
import pytest
import torch
from scipy import ndimage

from irkit.registry import TRANSFORMS


def build(**cfg):
    return TRANSFORMS.build(cfg)


@pytest.fixture
def img(rng):
    return rng.random((20, 28, 3), dtype=np.float32)


def test_gaussian_noise_statistics_and_seeding(rng):
    gt = rng.random((128, 128, 3), dtype=np.float32)
    t = build(type='AddGaussianNoise', sigma=25)
    out = t(dict(gt=gt.copy(), key='a'))
    noise = out['lq'] - gt
    assert abs(noise.mean()) < 2e-3 and abs(noise.std() - 25 / 255) < 2e-3
    assert noise.min() < 0 and (out['lq'] > 1).any()  # unclipped by default
    np.testing.assert_array_equal(out['gt'], gt)
    seeded = build(type='AddGaussianNoise', sigma=25, seed=7)
    a1 = seeded(dict(gt=gt, key='a'))['lq']
    b1 = seeded(dict(gt=gt, key='b'))['lq']
    a2 = seeded(dict(gt=gt, key='a'))['lq']  # order does not matter
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, b1)
    assert not np.array_equal(a1, build(type='AddGaussianNoise', sigma=25, seed=8)(dict(gt=gt, key='a'))['lq'])
    r = build(type='AddGaussianNoise', sigma=(0, 50), seed=1)
    sig = [r(dict(gt=gt, key=str(i)))['degradation_params']['AddGaussianNoise']['sigma'] for i in range(20)]
    assert 0 <= min(sig) and max(sig) <= 50 and len(set(sig)) == 20


def test_gaussian_noise_quantize(rng):
    gt = rng.integers(0, 256, (16, 16, 3)).astype(np.float32) / 255
    n = np.random.default_rng(0)
    out = build(type='AddGaussianNoise', sigma=50, quantize='truncate', seed=3)(dict(gt=gt, key='k'))['lq']
    u8 = out * 255
    np.testing.assert_allclose(u8, np.round(u8), atol=1e-4)
    assert out.min() >= 0 and out.max() <= 1
    # same draw without quantisation: truncate = floor(clip(gt*255 + noise*sigma))
    raw = build(type='AddGaussianNoise', sigma=50, seed=3)(dict(gt=gt, key='k'))['lq']
    ref = np.floor(np.clip(np.round(gt * 255) + (raw - gt) * 255, 0, 255))
    np.testing.assert_allclose(u8, ref, atol=1e-3)
    del n


def test_paired_random_crop_alignment(rng):
    lq = rng.random((10, 12, 3), dtype=np.float32)
    gt = np.repeat(np.repeat(lq, 4, axis=0), 4, axis=1)  # nearest x4 upsampling
    t = build(type='PairedRandomCrop', gt_patch_size=16)
    for _ in range(5):
        r = t(dict(gt=gt, lq=lq, scale=4))
        assert r['gt'].shape == (16, 16, 3) and r['lq'].shape == (4, 4, 3)
        np.testing.assert_array_equal(r['gt'], np.repeat(np.repeat(r['lq'], 4, 0), 4, 1))
    with pytest.raises(ValueError, match='smaller than the LQ patch'):
        build(type='PairedRandomCrop', gt_patch_size=64)(dict(gt=gt, lq=lq, scale=4, key='x'))
    r = build(type='PairedRandomCrop', gt_patch_size=64, pad_mode='reflect')(dict(gt=gt, lq=lq, scale=4))
    assert r['gt'].shape == (64, 64, 3) and r['lq'].shape == (16, 16, 3)


def test_random_crop_reflect_pad_and_same_window(img):
    t = build(type='RandomCrop', keys=['gt', 'lq'], crop_size=(24, 32))
    r = t(dict(gt=img, lq=img * 2))
    padded = np.pad(img, [(0, 4), (0, 4), (0, 0)], mode='reflect')  # 20x28 -> 24x32
    np.testing.assert_array_equal(r['gt'], padded)
    np.testing.assert_array_equal(r['lq'], padded * 2)
    t = build(type='RandomCrop', keys=['gt', 'mask'], crop_size=8)
    for _ in range(5):
        r = t(dict(gt=img, mask=img[:, :, :1] * 3))
        top, left, _, _ = r['crop_bbox']
        np.testing.assert_array_equal(r['gt'], img[top:top + 8, left:left + 8])
        np.testing.assert_array_equal(r['mask'], img[top:top + 8, left:left + 8, :1] * 3)
    with pytest.raises(ValueError, match='differ in size'):
        t(dict(gt=img, mask=img[:10]))
    with pytest.raises(ValueError, match='smaller than the crop'):
        build(type='RandomCrop', keys='gt', crop_size=64, pad_mode=None)(dict(gt=img))


def test_center_crop(img):
    r = build(type='CenterCrop', keys='gt', crop_size=(10, 20))(dict(gt=img))
    np.testing.assert_array_equal(r['gt'], img[5:15, 4:24])


@pytest.mark.parametrize('cfg,ref', [
    (dict(type='RandomFlip', flip_ratio=1.0), lambda x: x[:, ::-1]),
    (dict(type='RandomFlip', flip_ratio=1.0, direction='vertical'), lambda x: x[::-1]),
    (dict(type='RandomFlip', flip_ratio=1.0, direction='diagonal'), lambda x: x[::-1, ::-1]),
    (dict(type='RandomTranspose', transpose_ratio=1.0), lambda x: x.transpose(1, 0, 2)),
    (dict(type='RandomFlip', flip_ratio=0.0), lambda x: x),
])
def test_flips(img, cfg, ref):
    r = build(keys=['gt', 'lq'], **cfg)(dict(gt=img, lq=img + 1))
    np.testing.assert_array_equal(r['gt'], ref(img))
    np.testing.assert_array_equal(r['lq'], ref(img) + 1)


def test_rot90_and_dihedral_identical_for_keys(img):
    seen = set()
    t = build(type='RandomRot90', keys=['gt', 'lq'])
    for _ in range(30):
        r = t(dict(gt=img, lq=img + 1))
        np.testing.assert_array_equal(r['gt'], np.rot90(img, r['rot90_k']))
        np.testing.assert_array_equal(r['lq'], r['gt'] + 1)
        seen.add(r['rot90_k'])
    assert seen == {0, 1, 2, 3}
    t = build(type='RandomDihedral', keys=['gt', 'lq'], exclude_identity=True)
    modes = set()
    for _ in range(60):
        r = t(dict(gt=img, lq=img + 1))
        np.testing.assert_array_equal(r['lq'], r['gt'] + 1)
        modes.add(r['dihedral_mode'])
    assert modes == set(range(1, 8))


def test_pad_to_multiple(img):
    r = build(type='PadToMultiple', keys=['lq'], multiple=8)(dict(lq=img))
    assert r['lq'].shape == (24, 32, 3) and r['lq_ori_hw'] == (20, 28)
    np.testing.assert_array_equal(r['lq'], np.pad(img, [(0, 4), (0, 4), (0, 0)], mode='reflect'))
    h, w = r['lq_ori_hw']
    np.testing.assert_array_equal(r['lq'][:h, :w], img)


def test_gaussian_blur_matches_scipy(img):
    r = build(type='GaussianBlur', kernel_size=7, sigma=1.3)(dict(gt=img))
    x = np.arange(7) - 3
    g = np.exp(-x ** 2 / (2 * 1.3 ** 2))
    k2 = np.outer(g, g) / np.outer(g, g).sum()
    ref = np.stack([ndimage.convolve(img[:, :, c].astype(np.float64), k2, mode='mirror') for c in range(3)], -1)
    np.testing.assert_allclose(r['lq'], ref, atol=1e-5)


def test_motion_blur(img):
    r = build(type='MotionBlur', length=9, angle=0)(dict(gt=img))
    ref = ndimage.convolve1d(img.astype(np.float64), np.ones(9) / 9, axis=1, mode='mirror')
    np.testing.assert_allclose(r['lq'], ref, atol=1e-5)
    flat = np.full((16, 16, 3), 0.3, np.float32)
    r = build(type='MotionBlur', seed=1)(dict(gt=flat, key='x'))
    np.testing.assert_allclose(r['lq'], flat, atol=1e-5)


def test_jpeg(rng):
    from tests.datasets.data_fixtures import natural_image
    gt = natural_image(rng, 64, 64).astype(np.float32) / 255
    hi = build(type='JPEGCompression', quality=95)(dict(gt=gt))['lq']
    lo = build(type='JPEGCompression', quality=10)(dict(gt=gt))['lq']
    err_hi, err_lo = np.abs(hi - gt).mean(), np.abs(lo - gt).mean()
    assert err_hi < err_lo and err_lo > 0
    np.testing.assert_allclose(lo * 255, np.round(lo * 255), atol=1e-4)
    u8 = np.round(gt * 255).astype(np.uint8)[:, :, ::-1]
    ref = cv2.imdecode(cv2.imencode('.jpg', u8, [cv2.IMWRITE_JPEG_QUALITY, 10])[1], 1)[:, :, ::-1]
    np.testing.assert_array_equal(np.round(lo * 255).astype(np.uint8), ref)


def test_haze_formula(img):
    depth = np.linspace(0, 1, 20 * 28, dtype=np.float32).reshape(20, 28)
    r = build(type='Haze', beta=1.2, atmospheric_light=0.9, depth_key='depth')(dict(gt=img, depth=depth))
    t = np.exp(-1.2 * depth)[:, :, None]
    np.testing.assert_allclose(r['lq'], img * t + 0.9 * (1 - t), atol=1e-6)
    r = build(type='Haze', seed=0)(dict(gt=img, key='k'))
    assert r['lq'].shape == img.shape and (r['lq'] >= 0).all() and (r['lq'] <= 1).all()


def test_low_light_formula(img):
    r = build(type='LowLight', gamma=2.0, exposure=0.3)(dict(gt=img))
    np.testing.assert_allclose(r['lq'], 0.3 * img ** 2, atol=1e-6)


def test_downsample_area_is_block_mean(rng):
    gt = rng.random((21, 30, 3), dtype=np.float32)
    r = build(type='Downsample', scale=3, interpolation='area')(dict(gt=gt))
    assert r['gt'].shape == (21, 30, 3) and r['lq'].shape == (7, 10, 3) and r['scale'] == 3
    ref = gt.reshape(7, 3, 10, 3, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(r['lq'], ref, atol=1e-6)
    r = build(type='Downsample', scale=4)(dict(gt=gt))  # mod-crop to 20x28
    assert r['gt'].shape == (20, 28, 3) and r['lq'].shape == (5, 7, 3)


def test_rain_streaks(img):
    t = build(type='RainStreaks', density=0.02, seed=3)
    a, b = t(dict(gt=img, key='k'))['lq'], t(dict(gt=img, key='k'))['lq']
    np.testing.assert_array_equal(a, b)
    assert (a >= img - 1e-7).all() and a.max() <= 1 and (a > img + 0.05).any()
    # streaks are grey (same added amount on every channel where not clipped)
    add = a - img
    ok = (a < 1).all(axis=2)
    np.testing.assert_allclose(add[ok][:, 0], add[ok][:, 1], atol=1e-6)


def test_chained_degradations(img):
    r = dict(gt=img, key='k')
    for cfg in [dict(type='GaussianBlur', seed=0), dict(type='JPEGCompression', key='lq', out_key='lq', seed=0),
                dict(type='AddGaussianNoise', key='lq', out_key='lq', sigma=10, seed=0)]:
        r = build(**cfg)(r)
    assert r['lq'].shape == img.shape and r['lq'].dtype == np.float32
    assert set(r['degradation_params']) == {'GaussianBlur', 'JPEGCompression', 'AddGaussianNoise'}


def test_pack_inputs(img):
    r = build(type='PackInputs', keys=['gt', 'mask'])(dict(gt=img, mask=np.ones((20, 28, 1), np.float32),
                                                          key='a', gt_path='/x/a.png', junk=object()))
    assert r['gt'].shape == (3, 20, 28) and r['gt'].dtype == torch.float32 and r['mask'].shape == (1, 20, 28)
    np.testing.assert_array_equal(r['gt'].numpy(), img.transpose(2, 0, 1))
    assert r['key'] == 'a' and r['gt_path'] == '/x/a.png' and 'junk' not in r
    u8 = build(type='PackInputs', keys='gt')(dict(gt=np.full((2, 2, 3), 255, np.uint8)))['gt']
    assert u8.dtype == torch.float32 and u8.max().item() == 1.0
    with pytest.raises(KeyError, match="no 'lq' in the results"):
        build(type='PackInputs')(dict(gt=img))


def test_load_image_options(tmp_path):
    bgr = np.dstack([np.full((3, 4), v, np.uint8) for v in (10, 20, 30)])
    cv2.imwrite(str(tmp_path / 'a.png'), bgr)
    r = build(type='LoadImageFromFile', key='gt', channel_order='bgr', to_float32=False)(
        dict(gt_path=str(tmp_path / 'a.png')))
    np.testing.assert_array_equal(r['gt'], bgr)
    r = build(type='LoadImageFromFile', key='lq', color_type='grayscale')(dict(lq_path=str(tmp_path / 'a.png')))
    assert r['lq'].shape == (3, 4, 1)
    # grey reading is cv2.imread(IMREAD_GRAYSCALE), as BasicSR / Restormer read; libpng's own
    # conversion differs from cvtColor(BGR2GRAY) of the colour image (21 vs 22 here)
    grey = cv2.imread(str(tmp_path / 'a.png'), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_allclose(r['lq'][..., 0], grey / 255, rtol=0, atol=1e-7)
    assert grey[0, 0] != cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[0, 0]
    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), (0, 0), 1.5)
    cv2.imwrite(str(tmp_path / 'p.jpg'), photo, [cv2.IMWRITE_JPEG_QUALITY, 60])
    r = build(type='LoadImageFromFile', key='lq', color_type='grayscale', to_float32=False)(
        dict(lq_path=str(tmp_path / 'p.jpg')))
    want = cv2.imread(str(tmp_path / 'p.jpg'), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(r['lq'][..., 0], want)
    g16 = (rng.integers(0, 65536, (5, 6, 3))).astype(np.uint16)
    cv2.imwrite(str(tmp_path / 'g16.png'), g16)
    r = build(type='LoadImageFromFile', key='lq', color_type='grayscale', to_float32=False)(
        dict(lq_path=str(tmp_path / 'g16.png')))
    assert r['lq'].dtype == np.uint16 and r['lq'].shape == (5, 6, 1)  # 16 bits kept
    with pytest.raises(FileNotFoundError, match='image file not found: .*nope.png'):
        build(type='LoadImageFromFile')(dict(gt_path=str(tmp_path / 'nope.png')))
    with pytest.raises(ValueError, match="color_type must be"):
        build(type='LoadImageFromFile', color_type='rgb')


def test_worker_streams_differ_and_reseed():
    from irkit.datasets.transforms.base import worker_rng
    torch.manual_seed(5)
    a = worker_rng().random(3)
    torch.manual_seed(5)
    b = worker_rng().random(3)
    np.testing.assert_array_equal(a, b)
