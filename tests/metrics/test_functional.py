"""irkit.metrics.psnr/ssim against an independent transcription of BasicSR's formulas
(fed BGR, as BasicSR expects) and against skimage where conventions coincide."""
import numpy as np
import pytest
import skimage.data
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from irkit.metrics import psnr, ssim
from tests.metrics import bsr_reference as ref


def _pairs():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 53, 3), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    nat = skimage.data.astronaut()[100:196, 180:260]
    nat2 = np.clip(nat.astype(np.float64) + rng.normal(0, 6, nat.shape), 0, 255).round().astype(np.uint8)
    fl = rng.uniform(0, 255, (40, 41, 3))
    fl2 = np.clip(fl + rng.normal(0, 3, fl.shape), 0, 255)
    gray = skimage.data.camera()[200:260, 200:270]
    gray2 = np.clip(gray + rng.normal(0, 9, gray.shape), 0, 255).astype(np.uint8)
    const = np.full((30, 30, 3), 77, np.uint8)
    const2 = np.full((30, 30, 3), 90, np.uint8)
    # taller than several 64-row strips of the SSIM map, last strip partial
    tall = rng.integers(0, 256, (150, 37, 3), dtype=np.uint8)
    tall2 = np.clip(tall + rng.normal(0, 20, tall.shape), 0, 255).astype(np.uint8)
    u16 = rng.integers(0, 256, (80, 33, 3)).astype(np.uint16)
    i64 = np.clip(u16 + rng.integers(-9, 10, u16.shape), 0, 255).astype(np.int64)
    return {'random': (a, b), 'tall': (tall, tall2), 'uint16_vs_int64': (u16, i64), 'natural': (nat, nat2), 'float': (fl, fl2), 'gray': (gray, gray2),
            'identical': (nat, nat.copy()), 'constant': (const, const2),
            'constant_vs_random': (const, a[:30, :30])}


PAIRS = _pairs()


def _bgr(x):
    return x[..., ::-1] if x.ndim == 3 else x


@pytest.mark.parametrize('name', sorted(PAIRS))
@pytest.mark.parametrize('crop_border', [0, 4])
@pytest.mark.parametrize('y', [False, True])
def test_matches_basicsr(name, crop_border, y):
    a, b = PAIRS[name]
    p_ref = ref.calculate_psnr(_bgr(a), _bgr(b), crop_border, test_y_channel=y)
    s_ref = ref.calculate_ssim(_bgr(a), _bgr(b), crop_border, test_y_channel=y)
    p = psnr(a, b, crop_border=crop_border, test_y_channel=y)
    s = ssim(a, b, crop_border=crop_border, test_y_channel=y)
    if np.isinf(p_ref):
        assert p == float('inf')
    else:
        assert abs(p - p_ref) < 1e-5
    assert abs(s - s_ref) < 1e-6
    if name == 'identical':
        assert s == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize('name', ['random', 'natural', 'float', 'gray'])
def test_matches_skimage(name):
    a, b = PAIRS[name]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a64, b64, data_range=255), abs=1e-10)
    kw = dict(data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    if a.ndim == 3:
        kw['channel_axis'] = -1
    assert ssim(a, b) == pytest.approx(structural_similarity(a64, b64, **kw), abs=1e-9)


def test_torch_path_one_value_per_image():
    (a, b), (c, d) = PAIRS['random'], PAIRS['natural']
    c, d = c[:48, :53], d[:48, :53]
    t = lambda *xs: torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).double() / 255  # noqa: E731
    x, y = t(a, c), t(b, d)
    for cb in (0, 4):
        for yc in (False, True):
            p = psnr(x, y, crop_border=cb, test_y_channel=yc)
            s = ssim(x, y, crop_border=cb, test_y_channel=yc)
            assert p.shape == (2,) and s.shape == (2,)
            for i, (u, v) in enumerate([(a, b), (c, d)]):
                assert abs(float(p[i]) - psnr(u, v, cb, yc)) < 1e-9
                assert abs(float(s[i]) - ssim(u, v, cb, yc)) < 1e-10
    assert torch.isinf(psnr(x, x)).all()


def test_round_y_is_matlab_rgb2ycbcr_on_uint8():
    a, b = PAIRS['natural']

    def y_matlab(img):  # MATLAB: double computation, uint8 conversion rounds half away from 0
        img = img.astype(np.float64)
        y = 16 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255
        return np.floor(y + 0.5)

    ya, yb = y_matlab(a), y_matlab(b)
    assert psnr(a, b, test_y_channel=True, round_y=True) == pytest.approx(
        10 * np.log10(255 ** 2 / np.mean((ya - yb) ** 2)), abs=1e-10)
    assert ssim(a, b, test_y_channel=True, round_y=True) == pytest.approx(
        ref.calculate_ssim(ya, yb, 0), abs=1e-10)
    assert psnr(a, b, test_y_channel=True, round_y=True) != psnr(a, b, test_y_channel=True)


def test_errors():
    a = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match='11x11'):
        ssim(a, a, crop_border=5)
    with pytest.raises(ValueError, match='11x11'):
        ssim(torch.zeros(1, 3, 10, 30), torch.zeros(1, 3, 10, 30))
    with pytest.raises(ValueError, match='shapes differ'):
        psnr(a, a[:10])
    with pytest.raises(ValueError, match='HxWxC'):
        psnr(np.zeros((4, 4, 5)), np.zeros((4, 4, 5)))
    with pytest.raises(TypeError, match='not a mix'):
        psnr(a, torch.zeros(1, 3, 20, 20))


def test_ssim_map_strips_equal_whole_image_filtering():
    """The strip-wise map equals the textbook five-plane map of whole-image filtering."""
    import cv2
    from irkit.metrics.functional import C1, C2, ssim_map_np
    a, b = (x.astype(np.float64) for x in PAIRS['tall'])
    win = np.outer(cv2.getGaussianKernel(11, 1.5), cv2.getGaussianKernel(11, 1.5))
    for c in range(3):
        x, y = a[..., c], b[..., c]
        f = [cv2.filter2D(p, -1, win)[5:-5, 5:-5] for p in (x, y, x * x, y * y, x * y)]
        m1, m2 = f[0], f[1]
        s1, s2, s12 = f[2] - m1 ** 2, f[3] - m2 ** 2, f[4] - m1 * m2
        want = ((2 * m1 * m2 + C1) * (2 * s12 + C2)) / ((m1 ** 2 + m2 ** 2 + C1) * (s1 + s2 + C2))
        got = ssim_map_np(a, b)[c]
        assert got.shape == (140, 27)
        assert np.abs(got - want).max() < 1e-12


def test_torch_conv_map_equals_numpy_map():
    """ssim_map_pt (the GPU path; CPU tensors take the OpenCV path) gives the numpy map."""
    from irkit.metrics.functional import ssim_map_np, ssim_map_pt
    a, b = (x.astype(np.float64) for x in PAIRS['tall'])
    ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None] for x in (a, b))
    got = ssim_map_pt(ta, tb)[0].numpy()
    assert np.abs(got - ssim_map_np(a, b)).max() < 1e-12
