"""FID and P-IDS / U-IDS on Inception-v3 pool features.

* Features: 2048-d pool features of the FID Inception-v3
  (:class:`irkit.archs.common.inception.FIDInceptionV3`, StyleGAN2-ADA's
  ``inception-2015-12-05.pt``) on uint8-rounded RGB images at full size (the network
  resizes to 299 internally), kept in float32 as MAT's ``FeatureStats`` keeps them.
* FID (Heusel et al., NeurIPS 2017) of the inpainted (``pred``) and real (``gt``) sets:
  ``|mu_g - mu_r|^2 + tr(S_g + S_r - 2 sqrtm(S_g S_r))`` with ``scipy.linalg.sqrtm``, in
  float64, by the formula of a protocol (``protocol``):

  - ``'mat'``: MAT's ``metrics/frechet_inception_distance.py`` / ``cal_fid_pids_uids.py``
    on StyleGAN2-ADA's ``FeatureStats``: the covariance divides by N
    (``sum x x^T / N - mu mu^T``), the real part of the whole sum is taken, no
    regularisation;
  - ``'pytorch-fid'``: ``pytorch_fid.fid_score.calculate_frechet_distance`` with
    ``np.cov`` (divides by N - 1); 1e-6 is added to the diagonals when ``sqrtm`` is not
    finite, and an imaginary part above 1e-3 on the diagonal is an error.

  ``cov_estimator`` (``'biased'``: / N, ``'unbiased'``: / (N - 1)) overrides the
  protocol's covariance estimator.
* P-IDS / U-IDS (Zhao et al., Co-Mod-GAN, ICLR 2021) exactly as MAT computes them:
  ``sklearn.svm.LinearSVC(dual=False)`` (squared hinge, L2 penalty on weights and
  intercept, C = 1) fitted on real (label 1) and inpainted (label 0) features;
  U-IDS = 1 - its accuracy on those same features; P-IDS = share of pairs i with
  decision(fake_i) > decision(real_i). Both are fractions (papers print them x100).
  scikit-learn is an optional dependency (``pip install 'irkit[metrics]'``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric

from irkit.metrics.image_metrics import quantize_uint8
from irkit.registry import METRICS

FID_PROTOCOLS = {'mat': 'biased', 'pytorch-fid': 'unbiased'}  # protocol -> covariance estimator
COV_ESTIMATORS = ('biased', 'unbiased')
SKLEARN_HINT = ("P-IDS/U-IDS use scikit-learn's LinearSVC (MAT's protocol); install it with "
                "pip install 'irkit[metrics]' (or pip install scikit-learn)")


def _cov_estimator(protocol: str, cov_estimator: Optional[str]) -> str:
    if protocol not in FID_PROTOCOLS:
        raise ValueError(f'FID protocol must be one of {sorted(FID_PROTOCOLS)}, got {protocol!r}')
    if cov_estimator is None:
        return FID_PROTOCOLS[protocol]
    if cov_estimator not in COV_ESTIMATORS:
        raise ValueError(f'cov_estimator must be one of {COV_ESTIMATORS} or None (the '
                         f"protocol's), got {cov_estimator!r}")
    return cov_estimator


def feature_stats(feats: np.ndarray, cov_estimator: str = 'biased') -> Tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of (N, D) features.

    ``'biased'``: StyleGAN2-ADA's ``FeatureStats.get_mean_cov`` (MAT): ``sum x / N`` and
    ``sum x x^T / N - mu mu^T``. ``'unbiased'``: ``np.mean`` and ``np.cov`` (pytorch-fid,
    clean-fid), dividing by N - 1.
    """
    x = np.asarray(feats)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f'FID needs at least 2 feature vectors (N x D), got shape {x.shape}')
    if cov_estimator == 'biased':  # float64 sums over chunks of rows, as FeatureStats.append
        raw_mean, raw_cov = np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
        for a in range(0, len(x), 4096):
            x64 = x[a:a + 4096].astype(np.float64)
            raw_mean += x64.sum(axis=0)
            raw_cov += x64.T @ x64
        mu = raw_mean / len(x)
        return mu, raw_cov / len(x) - np.outer(mu, mu)
    if cov_estimator == 'unbiased':
        x = x.astype(np.float64)
        return x.mean(axis=0), np.cov(x, rowvar=False)
    raise ValueError(f'cov_estimator must be one of {COV_ESTIMATORS}, got {cov_estimator!r}')


def _sqrtm(m: np.ndarray) -> np.ndarray:
    import scipy.linalg
    r = scipy.linalg.sqrtm(m)
    return r[0] if isinstance(r, tuple) else r


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray, protocol: str = 'mat') -> float:
    """Fréchet distance between two Gaussians by the formula of ``protocol`` (see the
    module docstring); ``sqrtm`` of ``sigma1 @ sigma2``."""
    _cov_estimator(protocol, None)
    if protocol == 'mat':
        m = np.square(mu1 - mu2).sum()
        s = _sqrtm(np.dot(sigma1, sigma2))
        return float(np.real(m + np.trace(sigma1 + sigma2 - s * 2)))
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f'FID: sqrtm has an imaginary component of '
                             f'{np.max(np.abs(covmean.imag)):.3g} (pytorch-fid protocol)')
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(real: np.ndarray, fake: np.ndarray, protocol: str = 'mat',
                      cov_estimator: Optional[str] = None) -> float:
    """FID between real and generated (N, D) feature sets by ``protocol``'s formula."""
    est = _cov_estimator(protocol, cov_estimator)
    mu_g, sigma_g = feature_stats(fake, est)
    mu_r, sigma_r = feature_stats(real, est)
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r, protocol)


def require_sklearn() -> None:
    """Raise ``ImportError`` naming the extra when scikit-learn (P-IDS/U-IDS) is missing."""
    _linear_svc()


def _linear_svc(C: float = 1.0):
    try:
        from sklearn.svm import LinearSVC
    except ImportError as e:
        raise ImportError(SKLEARN_HINT) from e
    return LinearSVC(C=C, dual=False)


def pids_uids(real: np.ndarray, fake: np.ndarray, C: float = 1.0,
              fid_protocol: Optional[str] = None,
              cov_estimator: Optional[str] = None) -> Dict[str, float]:
    """P-IDS and U-IDS of paired (N, D) real / inpainted features, as MAT's
    ``cal_fid_pids_uids.py``: the same scikit-learn calls on the same float64 values.

    With ``fid_protocol``, FID (:func:`fid_from_features`) is computed too, on a second
    thread while liblinear (single-threaded, GIL released) fits the SVM.
    """
    if np.shape(real) != np.shape(fake) or np.ndim(real) != 2:
        raise ValueError(f'P-IDS needs paired (N, D) features, got {np.shape(real)} and '
                         f'{np.shape(fake)}')
    if fid_protocol is None:
        return _pids_uids(real, fake, C)
    _cov_estimator(fid_protocol, cov_estimator)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        fid = pool.submit(fid_from_features, real, fake, fid_protocol, cov_estimator)
        out = _pids_uids(real, fake, C)
        out['FID'] = fid.result()
    return out


def _pids_uids(real: np.ndarray, fake: np.ndarray, C: float) -> Dict[str, float]:
    svm = _linear_svc(C)
    # MAT passes float32 features, which LinearSVC converts to float64; one float64 array
    # (real rows, then fake rows) holds exactly those values, and its halves are the
    # decision_function inputs
    n = len(real)
    x = np.empty((2 * n, np.shape(real)[1]), dtype=np.float64)
    x[:n], x[n:] = real, fake
    y = np.array([1] * n + [0] * n)
    svm.fit(x, y)
    uids = 1 - svm.score(x, y)
    pids = np.mean(svm.decision_function(x[n:]) > svm.decision_function(x[:n]))
    return {'P-IDS': float(pids), 'U-IDS': float(uids)}


class _InceptionMetric(BaseMetric):
    """Collects Inception features of ``pred`` and ``gt`` for every sample."""
    default_prefix: Optional[str] = ''

    def __init__(self, inception_path: Union[str, bool, None] = None, pred_key: str = 'pred',
                 gt_key: str = 'gt', device: str = 'cpu', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, network: Optional[nn.Module] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.inception_path = inception_path
        self.pred_key, self.gt_key, self.device = pred_key, gt_key, device
        self._network = network  # built on first use: constructing the metric loads nothing

    @property
    def network(self) -> nn.Module:
        if self._network is None:
            from irkit.archs.common.inception import FIDInceptionV3
            self._network = FIDInceptionV3(pretrained=self.inception_path)
        return self._network.to(self.device).eval()

    def _features(self, images: List[torch.Tensor]) -> np.ndarray:
        net = self.network
        shapes = {tuple(x.shape) for x in images}
        groups = [images] if len(shapes) == 1 else [[x] for x in images]
        out = []
        for g in groups:
            batch = torch.stack([quantize_uint8(x.cpu()) for x in g]).to(self.device)
            # float32, as MAT's FeatureStats stores them
            out.append(net(batch).float().cpu().numpy().reshape(len(g), -1))
        return np.concatenate(out)

    @torch.no_grad()
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        if not data_samples:
            return
        fake = self._features([s[self.pred_key] for s in data_samples])
        real = self._features([s[self.gt_key] for s in data_samples])
        for f, r in zip(fake, real):
            self.results.append({'fake': f, 'real': r})

    @staticmethod
    def _stack(results: List[dict]) -> tuple:
        return (np.stack([r['real'] for r in results]), np.stack([r['fake'] for r in results]))


@METRICS.register_module()
class FID(_InceptionMetric):
    """Fréchet Inception Distance between the ``gt`` and ``pred`` images of the dataset.

    Args:
        inception_path: StyleGAN2-ADA's ``inception-2015-12-05.pt`` (or pytorch-fid's
            ``pt_inception-2015-12-05-6726825d.pth``); ``None`` looks it up in
            ``$IRKIT_WEIGHTS``; ``False`` builds it with random weights (smoke tests only:
            the numbers mean nothing).
        protocol: ``'mat'`` (MAT / StyleGAN2-ADA: covariance / N) or ``'pytorch-fid'``
            (``np.cov``: / (N - 1)); see :mod:`irkit.metrics.fid`.
        cov_estimator: ``'biased'`` (/ N) or ``'unbiased'`` (/ (N - 1)); ``None`` takes the
            protocol's.
        device: where Inception runs.
        network: optional feature network (uint8-range NCHW RGB -> (N, D)) used instead.
    """

    def __init__(self, inception_path: Union[str, bool, None] = None, protocol: str = 'mat',
                 cov_estimator: Optional[str] = None, pred_key: str = 'pred',
                 gt_key: str = 'gt', device: str = 'cpu', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, network: Optional[nn.Module] = None) -> None:
        super().__init__(inception_path=inception_path, pred_key=pred_key, gt_key=gt_key,
                         device=device, collect_device=collect_device, prefix=prefix,
                         network=network)
        self.cov_estimator = _cov_estimator(protocol, cov_estimator)
        self.protocol = protocol

    def compute_metrics(self, results: List[dict]) -> dict:
        real, fake = self._stack(results)
        return {'FID': fid_from_features(real, fake, self.protocol, self.cov_estimator)}


@METRICS.register_module()
class PIDS(_InceptionMetric):
    """P-IDS and U-IDS (fractions) as in MAT's ``cal_fid_pids_uids.py`` (scikit-learn's
    ``LinearSVC(dual=False)``); ``with_fid`` adds FID from the same features.

    Args:
        with_fid: also report ``FID``, by ``fid_protocol``'s formula (MAT's by default).
        fid_protocol, cov_estimator: as :class:`FID`'s ``protocol`` and ``cov_estimator``.
        svm_C: the SVM's C (MAT: 1).
        Others as :class:`FID`.
    """

    def __init__(self, inception_path: Union[str, bool, None] = None, with_fid: bool = False,
                 fid_protocol: str = 'mat', cov_estimator: Optional[str] = None,
                 svm_C: float = 1.0, pred_key: str = 'pred', gt_key: str = 'gt',
                 device: str = 'cpu', collect_device: str = 'cpu', prefix: Optional[str] = None,
                 network: Optional[nn.Module] = None) -> None:
        super().__init__(inception_path=inception_path, pred_key=pred_key, gt_key=gt_key,
                         device=device, collect_device=collect_device, prefix=prefix,
                         network=network)
        require_sklearn()  # fail when the metric is built, not after inference
        self.with_fid, self.svm_C = with_fid, svm_C
        self.cov_estimator = _cov_estimator(fid_protocol, cov_estimator)
        self.fid_protocol = fid_protocol

    def compute_metrics(self, results: List[dict]) -> dict:
        real, fake = self._stack(results)
        return pids_uids(real, fake, C=self.svm_C,
                         fid_protocol=self.fid_protocol if self.with_fid else None,
                         cov_estimator=self.cov_estimator)
