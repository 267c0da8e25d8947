"""NIQE and MATLAB imresize: values of BasicSR's ``calculate_niqe`` on real photographs,
hand-computed weights, AGGD fits of known distributions, the MVG distance, parameter
files, and the metric class."""
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.ndimage as ndi
import skimage.data
import torch
from scipy.stats import gennorm

from irkit.metrics.niqe import (NIQE, _halve_single, estimate_aggd, fit_niqe_params,
                                gaussian_window, load_niqe_params, niqe, niqe_features,
                                save_niqe_params)
from irkit.utils.imresize import cubic, imresize_matlab, resize_weights
from irkit.fileio.weights import MissingWeightsError


def test_cubic_kernel_values():
    # Keys a = -0.5 by hand: 1.5|x|^3 - 2.5|x|^2 + 1 and -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2
    np.testing.assert_allclose(cubic(np.array([0, 0.25, 0.75, 1.25, 1.75, 2, 3])),
                               [1, 0.8671875, 0.2265625, -0.0703125, -0.0234375, 0, 0])


def test_half_size_weights_are_matlabs():
    # shrinking by 2: taps at distances 0.5, 1.5, 2.5, 3.5 of the kernel stretched x2,
    # i.e. cubic(0.25), cubic(0.75), cubic(1.25), cubic(1.75) mirrored, normalised
    w, idx = resize_weights(16, 8, 0.5)
    half = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875]) / 2
    np.testing.assert_allclose(w[3], np.concatenate([half, half[::-1]]), atol=1e-15)
    np.testing.assert_array_equal(idx[3], np.arange(3, 11))  # output 4 is centred at 7.5
    np.testing.assert_array_equal(idx[0], [2, 1, 0, 0, 1, 2, 3, 4])  # mirrored border


def test_imresize_linear_and_constant():
    ramp = np.tile(np.arange(40, dtype=np.float64), (24, 1)) * 3.0 + 7.0
    small = imresize_matlab(ramp, 0.5)
    assert small.shape == (12, 20)
    # a symmetric, normalised kernel reproduces a linear function at the sample centre
    want = (np.arange(2, 18) * 2 + 0.5) * 3.0 + 7.0
    np.testing.assert_allclose(small[:, 2:-2], np.broadcast_to(want, (12, 16)), atol=1e-12)
    np.testing.assert_allclose(imresize_matlab(np.full((9, 7, 3), 4.5), 0.5), 4.5, atol=1e-13)
    assert imresize_matlab(np.zeros((9, 7)), 0.5).shape == (5, 4)  # ceil like MATLAB
    up = imresize_matlab(ramp, 2.0)
    want = ((np.arange(4, 76) + 0.5) / 2 - 0.5) * 3.0 + 7.0
    np.testing.assert_allclose(up[:, 4:-4], np.broadcast_to(want, (48, 72)), atol=1e-12)


def test_gaussian_window():
    g = gaussian_window()
    assert g.shape == (7, 7) and g.sum() == pytest.approx(1.0)
    assert g[3, 3] / g[3, 4] == pytest.approx(np.exp(1 / (2 * (7 / 6) ** 2)))


@pytest.mark.parametrize('shape_param', [1.0, 2.0, 0.6])
def test_aggd_fit_recovers_symmetric_ggd(shape_param):
    x = gennorm.rvs(shape_param, scale=0.7, size=200_000, random_state=0)
    alpha, bl, br = estimate_aggd(x)
    assert alpha == pytest.approx(shape_param, abs=0.03)
    assert bl == pytest.approx(0.7, rel=0.03) and br == pytest.approx(0.7, rel=0.03)


def test_aggd_fit_asymmetric_scales():
    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal(300_000))
    # AGGD with alpha 2: half-normals of sigma 0.5 (left) and 1.5 (right), the left side
    # carrying beta_l / (beta_l + beta_r) = 1/4 of the mass
    x = np.where(rng.random(x.size) < 0.25, -0.5 * x, 1.5 * x)
    alpha, bl, br = estimate_aggd(x)
    assert alpha == pytest.approx(2.0, abs=0.05)
    # for alpha = 2 the AGGD beta is sqrt(2) x the half-normal scale
    assert bl == pytest.approx(0.5 * np.sqrt(2), rel=0.02)
    assert br == pytest.approx(1.5 * np.sqrt(2), rel=0.02)
    assert estimate_aggd(np.zeros(50))[0] == pytest.approx(0.2)  # MATLAB: first grid point


def _natural():
    return [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(),
            skimage.data.rocket()]


@pytest.mark.parametrize('protocol', ['basicsr', 'matlab'])
def test_score_is_zero_against_its_own_model(protocol):
    img = skimage.data.astronaut()[:288, :384]
    mu, cov = fit_niqe_params([img], sharpness_threshold=0.0, convert_to='y', protocol=protocol)
    assert niqe(img, (mu, cov), protocol=protocol) == pytest.approx(0.0, abs=1e-6)
    feats, sharp = niqe_features(img[..., 1].astype(np.float64), protocol=protocol)
    assert feats.shape == (12, 36) and sharp.shape == (12,)


def test_distortions_raise_niqe(tmp_path):
    pristine = _natural()[1:]
    mu, cov = fit_niqe_params(pristine)
    path = tmp_path / 'niqe_pris_params.npz'
    save_niqe_params(path, mu, cov)
    clean = skimage.data.astronaut()
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255)
    import cv2
    blurred = cv2.GaussianBlur(clean, (0, 0), 3)
    q = {k: niqe(v, str(path), convert_to='gray', protocol='matlab')
         for k, v in (('clean', clean), ('noisy', noisy), ('blurred', blurred))}
    assert q['clean'] < q['noisy'] and q['clean'] < q['blurred'], q


def test_parameter_files(tmp_path, monkeypatch):
    mu, cov = np.arange(36.0), np.eye(36) * 2
    save_niqe_params(tmp_path / 'p.npz', mu, cov)
    scipy.io.savemat(tmp_path / 'modelparameters.mat',
                     {'mu_prisparam': mu[None], 'cov_prisparam': cov})
    for f in ('p.npz', 'modelparameters.mat'):
        m, c = load_niqe_params(str(tmp_path / f))
        np.testing.assert_array_equal(m, mu)
        np.testing.assert_array_equal(c, cov)
    with np.load(tmp_path / 'p.npz') as z:  # BasicSR's layout
        assert set(z.files) == {'mu_pris_param', 'cov_pris_param', 'gaussian_window'}
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path / 'nowhere'))
    monkeypatch.setenv('HOME', str(tmp_path))
    with pytest.raises(MissingWeightsError, match='niqe_pris_params.npz.*pris_params'):
        NIQE()
    np.savez(tmp_path / 'bad.npz', something=np.zeros(3))
    with pytest.raises(KeyError, match='bad.npz.*mu_pris_param'):
        load_niqe_params(str(tmp_path / 'bad.npz'))
    with pytest.raises(ValueError, match='at least 96x96'):
        niqe(np.zeros((50, 200, 3)), (mu, cov))
    with pytest.raises(ValueError, match="protocol must be one of"):
        niqe(np.zeros((100, 100, 3)), (mu, cov), protocol='opencv')
    with pytest.raises(ValueError, match="convert_to must be one of"):
        NIQE(pris_params=str(tmp_path / 'p.npz'), convert_to='Y')


def test_metric_class_matches_function(tmp_path):
    mu, cov = fit_niqe_params(_natural()[1:3])
    save_niqe_params(tmp_path / 'niqe_pris_params.npz', mu, cov)
    metric = NIQE(pris_params=str(tmp_path), crop_border=4)
    imgs = [skimage.data.astronaut()[:200, :300], skimage.data.coffee()[:210, :250]]
    samples = [dict(pred=torch.from_numpy(i).permute(2, 0, 1).float() / 255) for i in imgs]
    metric.process({}, samples)
    got = metric.compute_metrics(metric.results)['NIQE']
    want = np.mean([niqe(i, (mu, cov), crop_border=4) for i in imgs])
    assert got == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------- BasicSR's calculate_niqe
# Expected values: BasicSR 1.4.2's calculate_niqe(img_bgr, crop_border, 'HWC', convert_to)
# (basicsr/metrics/niqe.py with its to_y_channel, bgr2ycbcr and imresize, transcribed outside
# this repository and run with numpy 2.4, scipy 1.17, torch 2.13 CPU), with the pristine
# model data/niqe_test_model.npz. That model was estimated with the same transcription's
# feature code like MATLAB's estimatemodelparam.m (blocks sharper than 0.75 x the sharpest,
# nancov) on scikit-image pictures not scored here: stereo_motorcycle (left), camera, brick,
# grass, gravel, coins and clock. The degraded copies are rebuilt below with numpy/scipy.
# irkit gave these values bit for bit; the tolerance is the promised 1e-3, which float64
# arithmetic (up to 0.08 off on blurred pictures) or unrounded Y (up to 1.0) do not meet.
MODEL = Path(__file__).parent / 'data' / 'niqe_test_model.npz'
BASICSR_VALUES = [
    ('astronaut', 'y', 0, 5.758958075750378),
    ('astronaut, gaussian blur sigma 2', 'y', 0, 18.30258779234357),
    ('immunohistochemistry', 'y', 0, 7.697491408324603),
    ('coffee, cubic down-up x4', 'y', 0, 17.745242317002806),
    ('coffee, cubic down-up x4', 'gray', 4, 17.239426106959733),
    ('chelsea, gaussian noise sigma 10', 'y', 0, 12.120322782455691),
    ('rocket, gaussian blur sigma 1.5', 'y', 0, 13.0970803395374),
]


def _u8(x):
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _picture(name):
    base = getattr(skimage.data, name.split(',')[0])()
    if 'blur' in name:
        s = float(name.rsplit(' ', 1)[1])
        return _u8(ndi.gaussian_filter(base.astype(np.float64), sigma=(s, s, 0)))
    if 'down-up' in name:
        small = ndi.zoom(base.astype(np.float64), (0.25, 0.25, 1), order=3)
        return _u8(ndi.zoom(small, (base.shape[0] / small.shape[0], base.shape[1] / small.shape[1], 1),
                            order=3))
    if 'noise' in name:
        return _u8(base + np.random.default_rng(0).normal(0, 10, base.shape))
    return base


@pytest.mark.parametrize('name,convert_to,crop_border,want', BASICSR_VALUES,
                         ids=[f'{v[0]}-{v[1]}-{v[2]}' for v in BASICSR_VALUES])
def test_equals_basicsr_calculate_niqe_on_photographs(name, convert_to, crop_border, want):
    got = niqe(_picture(name), str(MODEL), crop_border=crop_border, convert_to=convert_to)
    assert got == pytest.approx(want, abs=1e-3)


def test_halving_is_matlab_imresize_in_single_precision():
    rng = np.random.default_rng(0)
    img = (rng.random((13, 10)) * 255).round().astype(np.float32) / 255
    got = _halve_single(img)
    assert got.dtype == np.float32 and got.shape == (7, 5)
    want = imresize_matlab(img.astype(np.float64), 0.5)  # float64 MATLAB imresize
    np.testing.assert_allclose(got, want, atol=1e-6)
