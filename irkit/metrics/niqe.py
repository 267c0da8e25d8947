"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, "Making a
'Completely Blind' Image Quality Analyzer", IEEE SPL 2013).

A no-reference score (lower is better): the distance between a multivariate Gaussian
fitted to natural-scene-statistics features of the image's 96x96 blocks and the Gaussian
of a pristine image corpus. The algorithm is the authors' MATLAB release
(``computequality.m``):

* a grey image cropped to whole blocks;
* at two scales, MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7x7 Gaussian window
  (sigma 7/6, replicated borders); per block (96/scale pixels) 18 features: the AGGD fit
  of the coefficients (alpha on the grid 0.2:0.001:10, mean of the two betas) and, for
  their products with the 4 circularly shifted neighbours, (alpha, mean, beta_l, beta_r);
  between the scales the image is halved with MATLAB's antialiased bicubic ``imresize``;
* quality = sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d)), rows with NaN
  dropped for the image covariance (MATLAB ``nancov``).

Two numerical protocols (``protocol``):

* ``'basicsr'`` (default) equals BasicSR's ``calculate_niqe`` (``basicsr.metrics.niqe``,
  1.3.3.11 and later, checked against 1.4.2): the grey image (``convert_to='y'``: BT.601
  Y of BasicSR's ``bgr2ycbcr``; ``'gray'``: OpenCV's grey conversion) is computed in
  float32 and **rounded** to integers (half to even); every later step runs in float32 as
  BasicSR does (``scipy.ndimage.convolve`` keeps the input dtype; the halving uses
  BasicSR's single-precision per-row products). The AGGD fit is a lookup on a discrete
  table, so the last bits of the coefficients decide which table entry wins; float64
  arithmetic instead moves scores by up to ~0.08 on blurred photographs.
* ``'matlab'``: the release's arithmetic, float64 throughout; ``convert_to='gray'`` is
  MATLAB's ``rgb2gray`` of a uint8 image, ``'y'`` MATLAB's uint8 ``rgb2ycbcr`` Y (both
  rounded half away from zero).

The pristine model is read from the released parameter files: MATLAB's
``modelparameters.mat`` (``mu_prisparam``, ``cov_prisparam``) or BasicSR's
``niqe_pris_params.npz`` (``mu_pris_param``, ``cov_pris_param``). :func:`fit_niqe_params`
re-estimates a model from pristine images like ``estimatemodelparam.m``.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric

from irkit.metrics.functional import rgb_to_y
from irkit.registry import METRICS
from irkit.utils.imresize import cubic, imresize_matlab
from irkit.fileio.weights import find_weights

__all__ = ['niqe', 'niqe_features', 'to_niqe_gray', 'fit_niqe_params', 'load_niqe_params',
           'save_niqe_params', 'estimate_aggd', 'NIQE', 'PROTOCOLS']

PARAMS_FILE = 'niqe_pris_params.npz'
PARAMS_SOURCE = ('http://live.ece.utexas.edu/research/quality/niqe_release.zip '
                 '(modelparameters.mat) or BasicSR basicsr/metrics/niqe_pris_params.npz')
PROTOCOLS = ('basicsr', 'matlab')
CONVERSIONS = ('y', 'gray')
# the AGGD shape grid 0.2:0.001:10 (9801 values)
_GAM = np.arange(0.2, 10.001, 0.001)
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
ParamsLike = Union[str, Path, Dict[str, np.ndarray], Tuple[np.ndarray, np.ndarray], None]


@functools.lru_cache(maxsize=1)
def _r_gam() -> np.ndarray:
    """The table gamma(2/a)^2 / (gamma(1/a) gamma(3/a)) over the shape grid (scipy is
    imported on first use, not with irkit)."""
    from scipy.special import gamma
    inv = np.reciprocal(_GAM)
    return np.square(gamma(inv * 2)) / (gamma(inv) * gamma(inv * 3))


def _gamma(x: float) -> float:
    from scipy.special import gamma
    return gamma(x)


def gaussian_window() -> np.ndarray:
    """MATLAB ``fspecial('gaussian', 7, 7/6)``, normalised to sum 1."""
    x = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    return g / g.sum()


def estimate_aggd(vec: np.ndarray) -> Tuple[float, float, float]:
    """Moment-matching AGGD fit of ``vec`` (MATLAB ``estimateaggdparam``):
    ``(alpha, beta_left, beta_right)``, alpha on the grid 0.2:0.001:10.

    The statistics are computed in the dtype of ``vec`` (float32 for the BasicSR
    protocol, float64 for MATLAB's). A side without samples (a flat block) gives NaN
    betas and alpha 0.2, as MATLAB's ``min`` over an all-NaN vector returns its first
    index.
    """
    vec = np.asarray(vec).ravel()
    if not np.issubdtype(vec.dtype, np.floating):
        vec = vec.astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        left_std = np.sqrt(np.mean(vec[vec < 0] ** 2)) if np.any(vec < 0) else np.nan
        right_std = np.sqrt(np.mean(vec[vec > 0] ** 2)) if np.any(vec > 0) else np.nan
        gammahat = left_std / right_std
        rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec ** 2)
        rhatnorm = (rhat * (gammahat ** 3 + 1) * (gammahat + 1)) / ((gammahat ** 2 + 1) ** 2)
        alpha = _GAM[np.argmin((_r_gam() - rhatnorm) ** 2)] if np.isfinite(rhatnorm) else _GAM[0]
        k = np.sqrt(_gamma(1 / alpha) / _gamma(3 / alpha))
        return float(alpha), float(left_std * k), float(right_std * k)


def _block_features(block: np.ndarray) -> List[float]:
    alpha, bl, br = estimate_aggd(block)
    feat = [alpha, (bl + br) / 2]
    for shift in _SHIFTS:
        alpha, bl, br = estimate_aggd(block * np.roll(block, shift, axis=(0, 1)))
        feat += [alpha, (br - bl) * (_gamma(2 / alpha) / _gamma(1 / alpha)), bl, br]
    return feat


def _halve_single(img: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(img, 0.5)`` (antialiased bicubic) in single precision, with the
    arithmetic of BasicSR's ``imresize``: symmetric padding, then one float32
    matrix-vector product per output row (over the 8 taps), then per output column.

    At scale 1/2 the 8 tap weights are exact binary fractions, so only the order of the
    float32 accumulations matters; it is the one ``torch.mv`` uses, as in BasicSR.
    """
    import torch
    # taps at distances 3.5, 2.5, ..., -3.5 of the kernel stretched x2 (exact in float32)
    w = 0.5 * cubic(0.5 * (3.5 - np.arange(8)))
    w = torch.from_numpy((w / w.sum()).astype(np.float32))

    def one_axis(x: torch.Tensor) -> torch.Tensor:
        # x: (n, m) float32; halves the first axis; output row i uses padded rows 2i..2i+7
        n = x.shape[0]
        out_n = int(math.ceil(n / 2))
        pad_e = 2 * out_n + 3 - n
        padded = torch.cat([x[:3].flip(0), x, x[n - pad_e:].flip(0)], dim=0).contiguous()
        out = torch.empty((out_n, x.shape[1]), dtype=torch.float32)
        for i in range(out_n):
            out[i] = padded[2 * i:2 * i + 8].t().mv(w)
        return out

    def columns(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        out_n = int(math.ceil(n / 2))
        pad_e = 2 * out_n + 3 - n
        padded = torch.cat([x[:, :3].flip(1), x, x[:, n - pad_e:].flip(1)], dim=1).contiguous()
        out = torch.empty((x.shape[0], out_n), dtype=torch.float32)
        for i in range(out_n):
            out[:, i] = padded[:, 2 * i:2 * i + 8].mv(w)
        return out

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        return columns(one_axis(x)).numpy()


def to_niqe_gray(img: np.ndarray, convert_to: str = 'y', protocol: str = 'basicsr') -> np.ndarray:
    """The grey image NIQE scores, from an RGB ``HxWx3`` (or grey) image on the 0..255 scale.

    ``'basicsr'``: float32, converted as BasicSR does (``'y'``: ``bgr2ycbcr`` Y of the
    image / 255, in float32; ``'gray'``: OpenCV ``BGR2GRAY`` of the image / 255), not yet
    rounded; a grey input passes unchanged. ``'matlab'``: float64, MATLAB's uint8
    ``rgb2gray`` (``'gray'``) or ``rgb2ycbcr`` Y (``'y'``), rounded half away from zero.
    """
    _check_options(convert_to, protocol)
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return img.astype(np.float32 if protocol == 'basicsr' else np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'NIQE expects an HxW grey or HxWx3 RGB image (0..255), got {img.shape}')
    if protocol == 'basicsr':
        bgr = img[..., ::-1].astype(np.float32) / 255.
        if convert_to == 'y':
            y = np.dot(bgr, [24.966, 128.553, 65.481]) + 16.0  # float64, BasicSR's bgr2ycbcr
            y /= 255.
            return y.astype(np.float32) * 255.
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) * 255.
    if convert_to == 'y':
        return rgb_to_y(img, round_y=True)[..., 0]
    w = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB rgb2gray
    g = img[..., 0] * w[0] + img[..., 1] * w[1] + img[..., 2] * w[2]
    return np.clip(np.floor(g.astype(np.float64) + 0.5), 0, 255)


def niqe_features(gray: np.ndarray, block_size: int = 96, protocol: str = 'basicsr'
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Features (n_blocks x 36, float64) and block sharpness (n_blocks,) of a grey image.

    The arithmetic runs in float32 for ``'basicsr'`` and float64 for ``'matlab'``. Blocks
    are ordered as MATLAB's ``blkproc`` output reshaped column-major.
    """
    from scipy.ndimage import convolve
    _check_options(protocol=protocol)
    dtype = np.float32 if protocol == 'basicsr' else np.float64
    h, w = gray.shape
    nh, nw = h // block_size, w // block_size
    if nh == 0 or nw == 0:
        raise ValueError(f'NIQE needs an image of at least {block_size}x{block_size} pixels '
                         f'(after cropping), got {h}x{w}')
    img = np.ascontiguousarray(gray[:nh * block_size, :nw * block_size], dtype=dtype)
    win = gaussian_window()
    feats, sharp = [], None
    for scale in (1, 2):
        # 'nearest' = MATLAB's 'replicate'; the output keeps the input dtype
        mu = convolve(img, win, mode='nearest')
        sigma = np.sqrt(np.abs(convolve(np.square(img), win, mode='nearest') - np.square(mu)))
        mscn = (img - mu) / (sigma + 1)
        b = block_size // scale
        rows = []
        for j in range(nw):  # column-major block order, as MATLAB's reshape gives
            for i in range(nh):
                rows.append(_block_features(mscn[i * b:(i + 1) * b, j * b:(j + 1) * b]))
        feats.append(np.asarray(rows, dtype=np.float64))
        if scale == 1:
            sharp = np.asarray([sigma[i * b:(i + 1) * b, j * b:(j + 1) * b].mean()
                                for j in range(nw) for i in range(nh)], dtype=np.float64)
            if protocol == 'basicsr':  # on the [0, 1] image, as BasicSR
                img = _halve_single(img / 255.) * 255.
            else:
                img = imresize_matlab(img, 0.5)
    return np.concatenate(feats, axis=1), sharp


def _mvg(feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """MATLAB ``nanmean`` and ``nancov`` (rows with any NaN dropped) of feature rows."""
    mu = np.nanmean(feats, axis=0)
    clean = feats[~np.isnan(feats).any(axis=1)]
    if clean.shape[0] < 2:
        raise ValueError('NIQE: fewer than 2 image blocks with finite features; use a larger '
                         'image or a smaller block_size')
    return mu, np.cov(clean, rowvar=False)


def _check_options(convert_to: str = 'y', protocol: str = 'basicsr') -> None:
    if convert_to not in CONVERSIONS:
        raise ValueError(f"NIQE: convert_to must be one of {CONVERSIONS}, got {convert_to!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"NIQE: protocol must be one of {PROTOCOLS}, got {protocol!r}")


def load_niqe_params(params: ParamsLike = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(mu, cov)`` of the pristine model from a ``.npz`` (BasicSR keys), a ``.mat``
    (MATLAB release keys), a dict, or, when ``None``, ``$IRKIT_WEIGHTS/niqe_pris_params.npz``."""
    if isinstance(params, tuple):
        data = {'mu_pris_param': params[0], 'cov_pris_param': params[1]}
        source = 'the given (mu, cov)'
    elif isinstance(params, dict):
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
                    protocol: str = 'matlab') -> Tuple[np.ndarray, np.ndarray]:
    """Pristine model from natural images, as MATLAB's ``estimatemodelparam.m``: per image,
    keep the blocks whose mean local sigma exceeds ``sharpness_threshold`` x the image's
    sharpest block, pool them, and fit the Gaussian (the release: 125 images, 96, 0.75)."""
    pooled = []
    for img in images:
        gray = to_niqe_gray(img, convert_to, protocol)
        if protocol == 'basicsr':
            gray = gray.round()
        feats, sharp = niqe_features(gray, block_size, protocol)
        pooled.append(feats[sharp > sharpness_threshold * sharp.max()])
    if not pooled:
        raise ValueError('fit_niqe_params: no images given')
    return _mvg(np.concatenate(pooled, axis=0))


def niqe(img: np.ndarray, params: ParamsLike = None, crop_border: int = 0,
         convert_to: str = 'y', block_size: int = 96, protocol: str = 'basicsr') -> float:
    """NIQE of an RGB ``HxWx3`` (or grey ``HxW``) image on the 0..255 scale (lower is better).

    Args:
        params: the pristine model: anything :func:`load_niqe_params` takes, or an
            already loaded ``(mu, cov)`` tuple.
        crop_border: pixels removed from each side (after the grey conversion).
        convert_to: ``'y'`` (BT.601 luma) or ``'gray'``.
        block_size: block side in pixels (96 in the release).
        protocol: ``'basicsr'`` (BasicSR's ``calculate_niqe``) or ``'matlab'`` (the
            release's float64 arithmetic); see the module docstring.
    """
    _check_options(convert_to, protocol)
    mu_p, cov_p = load_niqe_params(params)
    gray = to_niqe_gray(img, convert_to, protocol)
    if crop_border:
        gray = gray[crop_border:-crop_border, crop_border:-crop_border]
    if protocol == 'basicsr':
        gray = gray.round()  # BasicSR rounds the grey image, half to even, in float32
    feats, _ = niqe_features(gray, block_size, protocol)
    mu_d, cov_d = _mvg(feats)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))


@METRICS.register_module()
class NIQE(BaseMetric):
    """No-reference NIQE of the predictions (lower is better), averaged over images.

    Args:
        pris_params: the pristine model file (``.npz``/``.mat``) or a folder holding
            ``niqe_pris_params.npz``; default ``$IRKIT_WEIGHTS/niqe_pris_params.npz``.
        crop_border, convert_to, block_size, protocol: as :func:`niqe`; the defaults
            equal BasicSR's ``calculate_niqe``.
        quantize: round predictions to uint8 levels first (BasicSR's ``tensor2img``).
    """
    default_prefix: Optional[str] = ''

    def __init__(self, pris_params: Optional[str] = None, crop_border: int = 0,
                 convert_to: str = 'y', block_size: int = 96, protocol: str = 'basicsr',
                 quantize: bool = True, pred_key: str = 'pred', collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        _check_options(convert_to, protocol)
        self.params = load_niqe_params(pris_params)  # fails at build time if missing
        self.crop_border, self.convert_to = int(crop_border), convert_to
        self.block_size, self.protocol, self.quantize = int(block_size), protocol, quantize
        self.pred_key = pred_key

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        from irkit.metrics.image_metrics import to_hwc_255
        for sample in data_samples:
            if self.pred_key not in sample:
                raise KeyError(f"NIQE needs '{self.pred_key}' in the predictions; got keys "
                               f'{sorted(sample)}')
            img = to_hwc_255(sample[self.pred_key], self.quantize, self.pred_key)
            self.results.append(niqe(img, self.params, self.crop_border, self.convert_to,
                                     self.block_size, self.protocol))

    def compute_metrics(self, results: List[float]) -> dict:
        return {'NIQE': float(np.mean(results)) if results else float('nan')}
