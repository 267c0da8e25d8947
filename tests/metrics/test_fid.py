"""FID and P-IDS / U-IDS against their references' formulas, written here from the
reference code: MAT (StyleGAN2-ADA ``FeatureStats`` + ``compute_fid``, and the
``LinearSVC`` calls of ``evaluatoin/cal_fid_pids_uids.py``) and pytorch-fid
(``calculate_activation_statistics`` + ``calculate_frechet_distance``)."""
import sys

import numpy as np
import pytest
import scipy.linalg
import torch

from irkit.metrics.fid import fid_from_features, pids_uids
from irkit.registry import METRICS


def _sqrtm(m):
    r = scipy.linalg.sqrtm(m)
    return r[0] if isinstance(r, tuple) else r


def mat_fid(fake, real, batch=64):
    """MAT: FeatureStats accumulates float64 sums of float32 features batch by batch;
    cov = sum x x^T / N - mu mu^T; fid = real(|mu_g - mu_r|^2 + tr(S_g + S_r - 2 sqrtm(S_g S_r)))."""
    def mean_cov(x):
        raw_mean = np.zeros(x.shape[1])
        raw_cov = np.zeros((x.shape[1], x.shape[1]))
        for a in range(0, len(x), batch):
            x64 = np.asarray(x[a:a + batch], dtype=np.float32).astype(np.float64)
            raw_mean += x64.sum(axis=0)
            raw_cov += x64.T @ x64
        mean = raw_mean / len(x)
        return mean, raw_cov / len(x) - np.outer(mean, mean)
    mu_gen, sigma_gen = mean_cov(fake)
    mu_real, sigma_real = mean_cov(real)
    m = np.square(mu_gen - mu_real).sum()
    s = _sqrtm(np.dot(sigma_gen, sigma_real))
    return float(np.real(m + np.trace(sigma_gen + sigma_real - s * 2)))


def pytorch_fid(fake, real):
    """pytorch-fid: activations in a float64 array, np.mean / np.cov, eps retry, real part."""
    def stats(x):
        act = np.empty(x.shape)
        act[:] = x
        return np.mean(act, axis=0), np.cov(act, rowvar=False)
    mu1, sigma1 = stats(fake)
    mu2, sigma2 = stats(real)
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def seeded_features(n=200, d=24, seed=0):
    """Non-negative, correlated float32 features; each fake is its real plus noise."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    real = np.maximum(rng.normal(size=(n, d)) @ mix + 0.3, 0).astype(np.float32)
    fake = np.maximum(real + 0.2 * rng.normal(size=(n, d)) @ mix, 0).astype(np.float32)
    return real, fake


@pytest.mark.parametrize('n', [200, 10])  # 10 < D: singular covariances
def test_fid_equals_mat_and_pytorch_fid_formulas(n):
    real, fake = seeded_features(n)
    want_mat, want_ptf = mat_fid(fake, real), pytorch_fid(fake, real)
    assert fid_from_features(real, fake) == pytest.approx(want_mat, rel=1e-9)
    assert fid_from_features(real, fake, protocol='pytorch-fid') == pytest.approx(want_ptf, rel=1e-9)
    # the estimators differ by a visible amount at these sizes
    assert abs(want_mat - want_ptf) > 1e-3 * want_mat
    # the estimator alone can be swapped: MAT's formula with np.cov
    swapped = fid_from_features(real, fake, protocol='mat', cov_estimator='unbiased')
    assert swapped == pytest.approx(want_ptf, rel=1e-6)


def test_fid_closed_form_by_estimator():
    # columns of a Hadamard matrix: zero-mean, orthogonal patterns, so the covariances are
    # exactly diagonal: a^2 (/ N) or a^2 N / (N - 1)
    h = scipy.linalg.hadamard(8)[:, 1:4].astype(np.float64)
    real = h * np.array([1.0, 2.0, 3.0])
    fake = h * np.array([2.0, 2.0, 1.0]) + np.array([1.0, 0.0, -1.0])
    # |dmu|^2 = 2; sum(s1 + s2 - 2 sqrt(s1 s2)) = (1 + 4 - 4) + (4 + 4 - 8) + (9 + 1 - 6) = 5
    assert fid_from_features(real, fake) == pytest.approx(7.0, rel=1e-12)
    assert fid_from_features(real, fake, 'pytorch-fid') == pytest.approx(2 + 5 * 8 / 7, rel=1e-12)
    assert fid_from_features(real, real) == pytest.approx(0.0, abs=1e-12)


def mat_pids_uids(real, fake):
    """MAT's cal_fid_pids_uids.py, line by line, on float32 features."""
    from sklearn.svm import LinearSVC
    svm = LinearSVC(dual=False)
    svm_inputs = np.concatenate([real, fake])
    svm_targets = np.array([1] * real.shape[0] + [0] * fake.shape[0])
    svm.fit(svm_inputs, svm_targets)
    uids = 1 - svm.score(svm_inputs, svm_targets)
    real_outputs = svm.decision_function(real)
    fake_outputs = svm.decision_function(fake)
    return float(np.mean(fake_outputs > real_outputs)), float(uids)


def test_pids_uids_equal_mats_script():
    real, fake = seeded_features(300, 16, seed=1)
    got = pids_uids(real, fake)
    p, u = mat_pids_uids(real, fake)
    assert got == {'P-IDS': p, 'U-IDS': u}
    assert 0.05 < p < 0.5 and 0.05 < u < 0.49  # a non-trivial case
    same = pids_uids(real, real.copy())
    assert same == {'P-IDS': 0.0, 'U-IDS': 0.5}  # w = 0: every decision is 0
    far = pids_uids(real, real + 10.0)
    assert far == {'P-IDS': 0.0, 'U-IDS': 0.0}
    with pytest.raises(ValueError, match='paired'):
        pids_uids(real, fake[:-1])


class FeaturesOf(torch.nn.Module):
    """Stands in for Inception: 12 pooled values of the uint8-range image."""

    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1) / 255.0


def test_metric_classes_equal_references():
    g = torch.Generator().manual_seed(0)
    samples = []
    for i in range(40):
        gt = torch.rand(3, 16, 16, generator=g)
        samples.append(dict(gt=gt, pred=(gt + 0.2 * torch.randn(3, 16, 16, generator=g)).clamp(0, 1)))
    metrics = [METRICS.build(dict(type='FID', network=FeaturesOf())),
               METRICS.build(dict(type='FID', protocol='pytorch-fid', network=FeaturesOf())),
               METRICS.build(dict(type='PIDS', with_fid=True, network=FeaturesOf()))]
    for m in metrics:
        for j in range(0, 40, 8):
            m.process({}, samples[j:j + 8])
    got = [m.evaluate(40) for m in metrics]

    def feats(key):  # images rounded to uint8 levels, pooled 2x2
        x = torch.stack([(s[key].clamp(0, 1) * 255).round() for s in samples])
        return (torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1) / 255).numpy()
    real, fake = feats('gt'), feats('pred')
    assert got[0] == {'FID': pytest.approx(mat_fid(fake, real), rel=1e-9)}
    assert got[1] == {'FID': pytest.approx(pytorch_fid(fake, real), rel=1e-9)}
    p, u = mat_pids_uids(real, fake)
    assert got[2] == {'P-IDS': p, 'U-IDS': u, 'FID': pytest.approx(mat_fid(fake, real), rel=1e-9)}


def test_options_and_missing_sklearn(monkeypatch):
    with pytest.raises(ValueError, match="protocol must be one of.*'clean'"):
        METRICS.build(dict(type='FID', protocol='clean'))
    with pytest.raises(ValueError, match='cov_estimator must be one of'):
        METRICS.build(dict(type='FID', cov_estimator='N-1'))
    monkeypatch.setitem(sys.modules, 'sklearn.svm', None)  # as if scikit-learn were not installed
    with pytest.raises(ImportError, match=r"irkit\[metrics\]"):
        METRICS.build(dict(type='PIDS'))
