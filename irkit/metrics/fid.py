"""FID and P-IDS / U-IDS on Inception-v3 pool features (MAT's evaluation protocol).

* Features: 2048-d pool features of the FID Inception-v3
  (:class:`irkit.archs.common.inception.FIDInceptionV3`, StyleGAN2-ADA's
  ``inception-2015-12-05.pt``) on uint8-rounded RGB images at full size (the network
  resizes to 299 internally).
* FID (Heusel et al., 2017): float64 means/covariances of the inpainted (``pred``) and
  real (``gt``) features; ``|mu_r - mu_g|^2 + tr(S_r + S_g - 2 sqrtm(S_g S_r))``, real part.
* P-IDS / U-IDS (Zhao et al., Co-Mod-GAN, ICLR 2021; as MAT computes them): a linear SVM
  (squared hinge, L2 penalty on weights and intercept, C = 1: ``LinearSVC(dual=False)``)
  separates real (label 1) from inpainted (label 0) features. U-IDS = 1 - its accuracy
  on those same features; P-IDS = share of pairs i with decision(fake_i) > decision(real_i).
  Both are fractions (papers print them x100).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric

from irkit.metrics.image_metrics import quantize_uint8
from irkit.registry import METRICS


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """Fréchet distance between two Gaussians (float64, ``scipy.linalg.sqrtm``)."""
    import scipy.linalg
    diff = mu1 - mu2

    def sqrtm(m):
        r = scipy.linalg.sqrtm(m)
        return r[0] if isinstance(r, tuple) else r  # older scipy returns (sqrtm, errest)
    covmean = sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        eps = 1e-6 * np.eye(sigma1.shape[0])
        covmean = sqrtm((sigma1 + eps).dot(sigma2 + eps))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two (N, D) feature sets."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f'FID needs at least 2 images per set (got {len(real)} real, {len(fake)} fake)')
    return frechet_distance(real.mean(0), np.cov(real, rowvar=False),
                            fake.mean(0), np.cov(fake, rowvar=False))


class LinearSVM:
    """Primal L2-regularised squared-hinge linear SVM (liblinear's ``dual=False`` problem).

    Minimises ``0.5 |w|^2 + C sum_i max(0, 1 - y_i (w.x_i + b))^2`` over ``(w, b)`` with the
    intercept regularised as liblinear does (``intercept_scaling=1``), by truncated Newton
    (trust-region CG with the generalised Hessian), like liblinear's TRON solver.
    """

    def __init__(self, C: float = 1.0, tol: float = 1e-10, max_iter: int = 1000) -> None:
        self.C, self.tol, self.max_iter = C, tol, max_iter
        self.coef_: Optional[np.ndarray] = None
        self.intercept_: float = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> 'LinearSVM':
        from scipy.optimize import minimize
        x = np.asarray(x, dtype=np.float64)
        xa = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        s = np.where(np.asarray(y) > 0, 1.0, -1.0)
        C = self.C

        def fun(w):
            m = 1 - s * (xa @ w)
            act = m > 0
            f = 0.5 * w @ w + C * np.sum(m[act] ** 2)
            g = w - 2 * C * xa[act].T @ (s[act] * m[act])
            return f, g

        def hessp(w, v):
            act = (1 - s * (xa @ w)) > 0
            xv = xa[act] @ v
            return v + 2 * C * xa[act].T @ xv

        res = minimize(fun, np.zeros(xa.shape[1]), jac=True, hessp=hessp, method='trust-ncg',
                       options=dict(gtol=self.tol, maxiter=self.max_iter))
        self.coef_, self.intercept_ = res.x[:-1], float(res.x[-1])
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.coef_ + self.intercept_

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        pred = (self.decision_function(x) > 0).astype(int)
        return float(np.mean(pred == (np.asarray(y) > 0).astype(int)))


def pids_uids(real: np.ndarray, fake: np.ndarray, C: float = 1.0) -> Dict[str, float]:
    """P-IDS and U-IDS of paired (N, D) real / inpainted features (MAT's definition)."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.shape != fake.shape:
        raise ValueError(f'P-IDS needs paired features, got {real.shape} and {fake.shape}')
    x = np.concatenate([real, fake])
    y = np.array([1] * len(real) + [0] * len(fake))
    svm = LinearSVM(C=C).fit(x, y)
    uids = 1.0 - svm.score(x, y)
    pids = float(np.mean(svm.decision_function(fake) > svm.decision_function(real)))
    return {'P-IDS': pids, 'U-IDS': uids}


class _InceptionMetric(BaseMetric):
    """Collects Inception features of ``pred`` and ``gt`` for every sample."""
    default_prefix: Optional[str] = ''

    def __init__(self, inception_path: Optional[str] = None, pred_key: str = 'pred',
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
            out.append(net(batch).double().cpu().numpy().reshape(len(g), -1))
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
            ``$IRKIT_WEIGHTS``.
        device: where Inception runs.
        network: optional feature network (uint8-range NCHW RGB -> (N, D)) used instead.
    """

    def compute_metrics(self, results: List[dict]) -> dict:
        real, fake = self._stack(results)
        return {'FID': fid_from_features(real, fake)}


@METRICS.register_module()
class PIDS(_InceptionMetric):
    """P-IDS and U-IDS (fractions) as in MAT's ``cal_fid_pids_uids.py``; ``with_fid`` adds FID
    from the same features."""

    def __init__(self, inception_path: Optional[str] = None, with_fid: bool = False,
                 svm_C: float = 1.0, pred_key: str = 'pred', gt_key: str = 'gt',
                 device: str = 'cpu', collect_device: str = 'cpu', prefix: Optional[str] = None,
                 network: Optional[nn.Module] = None) -> None:
        super().__init__(inception_path=inception_path, pred_key=pred_key, gt_key=gt_key,
                         device=device, collect_device=collect_device, prefix=prefix,
                         network=network)
        self.with_fid, self.svm_C = with_fid, svm_C

    def compute_metrics(self, results: List[dict]) -> dict:
        real, fake = self._stack(results)
        out = pids_uids(real, fake, C=self.svm_C)
        if self.with_fid:
            out['FID'] = fid_from_features(real, fake)
        return out
