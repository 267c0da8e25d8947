"""NIQE and MATLAB imresize: hand-computed weights, AGGD fits of known distributions,
the MVG distance, parameter files, and the metric class."""
import numpy as np
import pytest
import scipy.io
import skimage.data
import torch
from scipy.stats import gennorm

from irkit.metrics.niqe import (NIQE, estimate_aggd, fit_niqe_params, gaussian_window,
                                load_niqe_params, niqe, niqe_features, save_niqe_params)
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


def test_score_is_zero_against_its_own_model():
    img = skimage.data.astronaut()[:288, :384]
    mu, cov = fit_niqe_params([img], sharpness_threshold=0.0, convert_to='y')
    assert niqe(img, (mu, cov)) == pytest.approx(0.0, abs=1e-6)
    feats, sharp = niqe_features(img[..., 1].astype(np.float64))
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
    q = {k: niqe(v, str(path), convert_to='gray')
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
