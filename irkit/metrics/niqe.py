"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013).

A no-reference score (lower is better): the distance between a multivariate Gaussian
fitted to natural-scene-statistics features of the image's 96x96 blocks and the
Gaussian of a pristine image corpus. Follows the authors' MATLAB release
(``computequality.m``):

* grey image (``convert_to='y'``: BT.601 Y as BasicSR's ``calculate_niqe``;
  ``'gray'``: MATLAB ``rgb2gray`` of uint8 RGB, rounded, as the release does), float64,
  cropped to whole blocks;
* two scales; at each, MSCN coefficients with a 7x7 Gaussian window (sigma 7/6,
  replicate borders): ``(I - mu) / (sigma + 1)``; then per block (96/scale pixels) 18
  features: the AGGD fit of the coefficients (alpha, mean of the two betas) and, for the
  products with the 4 circularly shifted neighbours, (alpha, mean, beta_l, beta_r);
* the image is halved with MATLAB's antialiased bicubic ``imresize``
  (``resize='matlab'``) or with OpenCV bilinear as BasicSR does (``resize='opencv'``);
* quality = sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d)), with NaN rows
  dropped for the covariance (MATLAB ``nancov``).

The pristine model is read from the released parameter files: MATLAB's
``modelparameters.mat`` (``mu_prisparam``, ``cov_prisparam``) or BasicSR's
``niqe_pris_params.npz`` (``mu_pris_param``, ``cov_pris_param``). :func:`fit_niqe_params`
re-estimates a model from a folder of pristine images like ``estimatemodelparam.m``.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric

from irkit.metrics.functional import rgb_to_y
from irkit.registry import METRICS
from irkit.utils.imresize import imresize_matlab
from irkit.fileio.weights import find_weights

__all__ = ['niqe', 'niqe_features', 'fit_niqe_params', 'load_niqe_params', 'save_niqe_params',
           'estimate_aggd', 'NIQE']

PARAMS_FILE = 'niqe_pris_params.npz'
PARAMS_SOURCE = ('http://live.ece.utexas.edu/research/quality/niqe_release.zip '
                 '(modelparameters.mat) or BasicSR basicsr/metrics/niqe_pris_params.npz')
# MATLAB: gam = 0.2:0.001:10
_GAM = 0.2 + 0.001 * np.arange(9801)


@functools.lru_cache(maxsize=1)
def _r_gam() -> np.ndarray:
    """MATLAB's r_gam table over ``_GAM`` (scipy imported on first use, not with irkit)."""
    from scipy.special import gamma
    return gamma(2.0 / _GAM) ** 2 / (gamma(1.0 / _GAM) * gamma(3.0 / _GAM))


def gamma_fn(x: float) -> float:
    from scipy.special import gamma
    return float(gamma(x))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
ParamsLike = Union[str, Path, Dict[str, np.ndarray], None]


def gaussian_window() -> np.ndarray:
    """MATLAB ``fspecial('gaussian', 7, 7/6)``, normalised to sum 1."""
    x = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    return g / g.sum()


def estimate_aggd(vec: np.ndarray) -> Tuple[float, float, float]:
    """Moment-matching AGGD fit of ``vec`` (MATLAB ``estimateaggdparam``):
    ``(alpha, beta_left, beta_right)``; alpha on MATLAB's grid 0.2:0.001:10."""
    vec = np.asarray(vec, dtype=np.float64).ravel()
    with np.errstate(invalid='ignore', divide='ignore'):  # flat blocks give NaN, as in MATLAB
        return _estimate_aggd(vec)


def _estimate_aggd(vec: np.ndarray) -> Tuple[float, float, float]:
    left_std = np.sqrt(np.mean(vec[vec < 0] ** 2)) if np.any(vec < 0) else np.nan
    right_std = np.sqrt(np.mean(vec[vec > 0] ** 2)) if np.any(vec > 0) else np.nan
    gammahat = left_std / right_std
    rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec ** 2)
    rhatnorm = rhat * (gammahat ** 3 + 1) * (gammahat + 1) / (gammahat ** 2 + 1) ** 2
    # MATLAB's min() skips NaN and returns index 1 when everything is NaN (e.g. a flat
    # block: no negative or no positive coefficients), so alpha is then 0.2, betas NaN
    alpha = float(_GAM[np.argmin((_r_gam() - rhatnorm) ** 2)]) if np.isfinite(rhatnorm) else 0.2
    k = np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    return alpha, float(left_std * k), float(right_std * k)


def _block_features(block: np.ndarray) -> List[float]:
    alpha, bl, br = estimate_aggd(block)
    feat = [alpha, (bl + br) / 2]
    for shift in _SHIFTS:
        pair = block * np.roll(block, shift, axis=(0, 1))
        alpha, bl, br = estimate_aggd(pair)
        mean = (br - bl) * gamma_fn(2 / alpha) / gamma_fn(1 / alpha)
        feat += [alpha, mean, bl, br]
    return feat


def _to_gray(img: np.ndarray, convert_to: str) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'NIQE expects an HxW grey or HxWx3 RGB image (0..255), got {img.shape}')
    if convert_to == 'y':
        return rgb_to_y(img)[..., 0]
    if convert_to == 'gray':  # MATLAB rgb2gray on uint8: weighted sum, rounded
        w = (0.298936021293775, 0.587043074451121, 0.114020904255103)
        g = img[..., 0] * w[0] + img[..., 1] * w[1] + img[..., 2] * w[2]
        return np.clip(np.floor(g.astype(np.float64) + 0.5), 0, 255)
    raise ValueError(f"convert_to must be 'y' or 'gray', got {convert_to!r}")


def niqe_features(gray: np.ndarray, block_size: int = 96, resize: str = 'matlab'
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Features (n_blocks x 36) and block sharpness (n_blocks,) of a float64 grey image.

    Blocks are ordered as MATLAB's ``blkproc`` output reshaped column-major.
    """
    if resize not in ('matlab', 'opencv'):
        raise ValueError(f"resize must be 'matlab' or 'opencv', got {resize!r}")
    h, w = gray.shape
    nh, nw = h // block_size, w // block_size
    if nh == 0 or nw == 0:
        raise ValueError(f'NIQE needs an image of at least {block_size}x{block_size} pixels '
                         f'(after cropping), got {h}x{w}')
    img = gray[:nh * block_size, :nw * block_size].astype(np.float64)
    win = gaussian_window()
    feats, sharp = [], None
    for scale in (1, 2):
        mu = cv2.filter2D(img, cv2.CV_64F, win, borderType=cv2.BORDER_REPLICATE)
        sigma = np.sqrt(np.abs(cv2.filter2D(img * img, cv2.CV_64F, win,
                                            borderType=cv2.BORDER_REPLICATE) - mu * mu))
        mscn = (img - mu) / (sigma + 1)
        b = block_size // scale
        rows = []
        for j in range(nw):  # column-major block order, as MATLAB's reshape gives
            for i in range(nh):
                rows.append(_block_features(mscn[i * b:(i + 1) * b, j * b:(j + 1) * b]))
        feats.append(np.asarray(rows))
        if scale == 1:
            sharp = np.asarray([sigma[i * b:(i + 1) * b, j * b:(j + 1) * b].mean()
                                for j in range(nw) for i in range(nh)])
            if resize == 'matlab':
                img = imresize_matlab(img, 0.5)
            else:  # BasicSR: cv2 bilinear on the [0, 1] image
                img = cv2.resize(img / 255.0, (img.shape[1] // 2, img.shape[0] // 2),
                                 interpolation=cv2.INTER_LINEAR) * 255.0
    return np.concatenate(feats, axis=1), sharp


def _mvg(feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """MATLAB ``nanmean`` and ``nancov`` (rows with any NaN dropped) of feature rows."""
    mu = np.nanmean(feats, axis=0)
    clean = feats[~np.isnan(feats).any(axis=1)]
    if clean.shape[0] < 2:
        raise ValueError('NIQE: fewer than 2 image blocks with finite features; use a larger '
                         'image or a smaller block_size')
    return mu, np.cov(clean, rowvar=False)


def load_niqe_params(params: ParamsLike = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(mu, cov)`` of the pristine model from a ``.npz`` (BasicSR keys), a ``.mat``
    (MATLAB release keys), a dict, or, when ``None``, ``$IRKIT_WEIGHTS/niqe_pris_params.npz``."""
    if isinstance(params, dict):
        data = params
        source = 'the given dict'
    else:
        path = find_weights(PARAMS_FILE, params, config_key='pris_params', source=PARAMS_SOURCE)
        source = str(path)
        if path.suffix == '.mat':
            from scipy.io import loadmat
            data = loadmat(str(path))
        else:
            with np.load(str(path), allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
    for mu_key, cov_key in (('mu_pris_param', 'cov_pris_param'), ('mu_prisparam', 'cov_prisparam')):
        if mu_key in data and cov_key in data:
            mu = np.asarray(data[mu_key], dtype=np.float64).ravel()
            cov = np.asarray(data[cov_key], dtype=np.float64)
            if mu.shape != (36,) or cov.shape != (36, 36):
                raise ValueError(f'{source}: expected a 36-vector and a 36x36 matrix, got '
                                 f'{mu.shape} and {cov.shape}')
            return mu, cov
    raise KeyError(f"{source}: no NIQE model; expected keys 'mu_pris_param'/'cov_pris_param' "
                   f"(BasicSR .npz) or 'mu_prisparam'/'cov_prisparam' (MATLAB .mat), "
                   f'got {sorted(k for k in data if not k.startswith("__"))}')


def save_niqe_params(path: Union[str, Path], mu: np.ndarray, cov: np.ndarray) -> None:
    """Write a model in BasicSR's ``niqe_pris_params.npz`` layout."""
    np.savez(str(path), mu_pris_param=np.asarray(mu, np.float64).reshape(1, 36),
             cov_pris_param=np.asarray(cov, np.float64), gaussian_window=gaussian_window())


def fit_niqe_params(images: Iterable[np.ndarray], block_size: int = 96,
                    sharpness_threshold: float = 0.75, convert_to: str = 'gray',
                    resize: str = 'matlab') -> Tuple[np.ndarray, np.ndarray]:
    """Pristine model from natural images, as MATLAB's ``estimatemodelparam.m``: per image,
    keep the blocks whose mean local sigma exceeds ``sharpness_threshold`` x the image's
    sharpest block, pool them, and fit the Gaussian (the release: 125 images, 96, 0.75)."""
    pooled = []
    for img in images:
        feats, sharp = niqe_features(_to_gray(img, convert_to), block_size, resize)
        pooled.append(feats[sharp > sharpness_threshold * sharp.max()])
    if not pooled:
        raise ValueError('fit_niqe_params: no images given')
    return _mvg(np.concatenate(pooled, axis=0))


def niqe(img: np.ndarray, params: ParamsLike = None, crop_border: int = 0,
         convert_to: str = 'y', block_size: int = 96, resize: str = 'matlab') -> float:
    """NIQE of an RGB ``HxWx3`` (or grey ``HxW``) image on the 0..255 scale (lower is better).

    ``params``: the pristine model (anything :func:`load_niqe_params` takes, or an
    already loaded ``(mu, cov)`` tuple).
    """
    mu_p, cov_p = params if isinstance(params, tuple) else load_niqe_params(params)
    if crop_border:
        img = np.asarray(img)[crop_border:-crop_border, crop_border:-crop_border]
    feats, _ = niqe_features(_to_gray(img, convert_to), block_size, resize)
    mu_d, cov_d = _mvg(feats)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))


@METRICS.register_module()
class NIQE(BaseMetric):
    """No-reference NIQE of the predictions (lower is better), averaged over images.

    Args:
        pris_params: the pristine model file (``.npz``/``.mat``) or a folder holding
            ``niqe_pris_params.npz``; default ``$IRKIT_WEIGHTS/niqe_pris_params.npz``.
        crop_border, convert_to, block_size, resize: as :func:`niqe`.
        quantize: round predictions to uint8 levels first (BasicSR's ``tensor2img``).
    """
    default_prefix: Optional[str] = ''

    def __init__(self, pris_params: Optional[str] = None, crop_border: int = 0,
                 convert_to: str = 'y', block_size: int = 96, resize: str = 'matlab',
                 quantize: bool = True, pred_key: str = 'pred', collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if convert_to not in ('y', 'gray') or resize not in ('matlab', 'opencv'):
            raise ValueError(f"NIQE: convert_to must be 'y'/'gray' and resize 'matlab'/'opencv', "
                             f'got {convert_to!r}, {resize!r}')
        self.params = load_niqe_params(pris_params)  # fails at build time if missing
        self.crop_border, self.convert_to = int(crop_border), convert_to
        self.block_size, self.resize, self.quantize = int(block_size), resize, quantize
        self.pred_key = pred_key

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        from irkit.metrics.image_metrics import to_hwc_255
        for sample in data_samples:
            if self.pred_key not in sample:
                raise KeyError(f"NIQE needs '{self.pred_key}' in the predictions; got keys "
                               f'{sorted(sample)}')
            img = to_hwc_255(sample[self.pred_key], self.quantize, self.pred_key)
            self.results.append(niqe(img, self.params, self.crop_border, self.convert_to,
                                     self.block_size, self.resize))

    def compute_metrics(self, results: List[float]) -> dict:
        return {'NIQE': float(np.mean(results)) if results else float('nan')}

