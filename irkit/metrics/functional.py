"""PSNR and SSIM with BasicSR's (and Wang et al.'s MATLAB) conventions.

Inputs are RGB: numpy ``HxWxC`` (or ``HxW``) arrays on the 0..255 scale (uint8 or
float), or torch ``NxCxHxW`` tensors in [0, 1] (one value per image). The
conventions, fixed to match ``basicsr.metrics.calculate_psnr`` /
``calculate_ssim`` (which expect BGR) are:

* ``crop_border`` pixels are removed from every side *before* colour conversion;
* ``test_y_channel``: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (BT.601
  studio swing, range 16..235), not rounded; ``round_y=True`` rounds Y to the
  nearest integer as MATLAB's ``rgb2ycbcr`` does on uint8 images (the
  MPRNet/Restormer deraining protocol);
* float64 arithmetic, peak 255; identical images give ``inf`` PSNR;
* SSIM: 11x11 Gaussian window (sigma 1.5), valid filtering, C1 = (0.01*255)^2,
  C2 = (0.03*255)^2, population variances, mean over the map, then over channels.

See ``docs/metrics.md`` for how these relate to MATLAB and skimage.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

Image = Union[np.ndarray, torch.Tensor]

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
WINDOW = 11
SIGMA = 1.5
# BT.601 studio-swing luma weights for R, G, B (MATLAB rgb2ycbcr / BasicSR).
Y_WEIGHTS = (65.481, 128.553, 24.966)


def gaussian_kernel_1d() -> np.ndarray:
    """The 1-D factor of SSIM's window: ``cv2.getGaussianKernel(11, 1.5)`` (float64)."""
    return cv2.getGaussianKernel(WINDOW, SIGMA).astype(np.float64).ravel()


_KERNEL = gaussian_kernel_1d()


# ---------------------------------------------------------------- numpy path
def _as_hwc(img: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(f'{name}: expected an HxW or HxWxC (C = 1 or 3) RGB array on the 0..255 '
                         f'scale, got shape {img.shape}')
    if not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
        raise TypeError(f'{name}: unsupported dtype {img.dtype}')
    return img


def rgb_to_y(img: np.ndarray, round_y: bool = False) -> np.ndarray:
    """Y of an ``HxWx3`` RGB array on the 0..255 scale, as ``HxWx1`` float64.

    ``round_y`` rounds half away from zero like MATLAB's uint8 ``rgb2ycbcr``.
    """
    # 16 + ((R w0 + G w1) + B w2) / 255 in float64, evaluated in place (no full-size temporaries)
    y = np.multiply(img[..., 0], Y_WEIGHTS[0], dtype=np.float64)
    t = np.multiply(img[..., 1], Y_WEIGHTS[1], dtype=np.float64)
    y += t
    np.multiply(img[..., 2], Y_WEIGHTS[2], out=t, dtype=np.float64)
    y += t
    y /= 255.0
    y += 16.0
    if round_y:
        y = np.clip(np.floor(y + 0.5), 0, 255)
    return y[..., None]


def _prepare_np(img: np.ndarray, img2: np.ndarray, crop_border: int, test_y_channel: bool,
                round_y: bool, as_float64: bool = True) -> tuple:
    img = _as_hwc(img, 'img')
    img2 = _as_hwc(img2, 'img2')
    if img.shape != img2.shape:
        raise ValueError(f'image shapes differ: {img.shape} vs {img2.shape}')
    if crop_border < 0:
        raise ValueError(f'crop_border must be >= 0, got {crop_border}')
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel and img.shape[2] == 3:
        img, img2 = rgb_to_y(img, round_y), rgb_to_y(img2, round_y)
    if not as_float64:  # the OpenCV paths convert while they compute
        return img, img2
    return img.astype(np.float64, copy=False), img2.astype(np.float64, copy=False)


def _psnr_from_mse(mse: float) -> float:
    if mse == 0:
        return float('inf')
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


def _check_ssim_size(h: int, w: int) -> None:
    if h < WINDOW or w < WINDOW:
        raise ValueError(f'SSIM needs images of at least {WINDOW}x{WINDOW} pixels after cropping '
                         f'(got {h}x{w}); reduce crop_border or use larger images')


# cv2 arithmetic handles these depths natively (others are converted to float64 first).
_CV_DEPTHS = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)
_STRIP_ROWS = 64


def _cv_ready(img: np.ndarray) -> np.ndarray:
    """``img`` as an array OpenCV accepts: a supported dtype, contiguous rows, 2-D if 1 channel."""
    if img.dtype.type not in _CV_DEPTHS:
        img = img.astype(np.float64)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if not img.flags.c_contiguous and img.strides[-1] != img.itemsize:
        img = np.ascontiguousarray(img)
    return img


def _ssim_strip(a: np.ndarray, b: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """SSIM map rows ``r0:r1`` (valid region) of two OpenCV-ready arrays, float64.

    Uses u = x + y and v = x - y, so four filtered planes per channel give
    mu_x^2 + mu_y^2, mu_x mu_y, sigma_x^2 + sigma_y^2 and sigma_xy (up to float64
    rounding) as the five-plane textbook form does; the SSIM fraction is then
    evaluated with numerator and denominator both scaled by 4. Each map row only needs
    the 11 input rows under its window, so rows are processed in strips that stay in
    the CPU cache; the values are those of whole-image filtering.
    """
    r = WINDOW // 2
    k = _KERNEL
    sa, sb = a[r0:r1 + 2 * r], b[r0:r1 + 2 * r]
    u = cv2.add(sa, sb, dtype=cv2.CV_64F)
    v = cv2.subtract(sa, sb, dtype=cv2.CV_64F)
    fu = cv2.sepFilter2D(u, cv2.CV_64F, k, k)[r:-r, r:-r]
    fv = cv2.sepFilter2D(v, cv2.CV_64F, k, k)[r:-r, r:-r]
    fuu = cv2.sepFilter2D(cv2.multiply(u, u, dst=u), cv2.CV_64F, k, k)[r:-r, r:-r]
    fvv = cv2.sepFilter2D(cv2.multiply(v, v, dst=v), cv2.CV_64F, k, k)[r:-r, r:-r]
    # fu = mu_x + mu_y, fv = mu_x - mu_y, fuu - fvv = 4 E[xy], fuu + fvv = 2 E[x^2 + y^2]
    fu2 = cv2.multiply(fu, fu)
    fv2 = cv2.multiply(fv, fv)
    mp = cv2.addWeighted(fu2, 1.0, fv2, -1.0, 2 * C1)   # 2 (2 mu_x mu_y + C1)
    ms = cv2.addWeighted(fu2, 1.0, fv2, 1.0, 2 * C1)    # 2 (mu_x^2 + mu_y^2 + C1)
    sp = cv2.subtract(cv2.addWeighted(fuu, 1.0, fvv, -1.0, 2 * (C1 + C2)), mp)  # 2 (2 s_xy + C2)
    ss = cv2.subtract(cv2.addWeighted(fuu, 1.0, fvv, 1.0, 2 * (C1 + C2)), ms)   # 2 (s_x + s_y + C2)
    return cv2.divide(cv2.multiply(mp, sp), cv2.multiply(ms, ss))


def _ssim_strips(img: np.ndarray, img2: np.ndarray, fn) -> list:
    """Run ``fn(strip_map, r0, r1)`` on every strip of the SSIM map, on a small thread pool
    (OpenCV and numpy release the GIL), and return the results in strip order."""
    _check_ssim_size(img.shape[0], img.shape[1])
    a, b = _cv_ready(img), _cv_ready(img2)
    if a.dtype != b.dtype:
        a, b = a.astype(np.float64), b.astype(np.float64)
    hv = a.shape[0] - WINDOW + 1
    bounds = [(r0, min(r0 + _STRIP_ROWS, hv)) for r0 in range(0, hv, _STRIP_ROWS)]

    def work(rb):
        return fn(_ssim_strip(a, b, *rb), *rb)
    workers = min(len(bounds), max(1, min(4, os.cpu_count() or 1)))
    if workers == 1:
        return [work(rb) for rb in bounds]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, bounds))


def ssim_map_np(img: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """SSIM maps (C x H-10 x W-10) of two ``HxWxC`` arrays on the 0..255 scale, float64."""
    c = img.shape[2]
    out = np.empty((img.shape[0] - WINDOW + 1, img.shape[1] - WINDOW + 1, c))

    def put(m, r0, r1):
        out[r0:r1] = m.reshape(r1 - r0, -1, c)
    _ssim_strips(img, img2, put)
    return np.moveaxis(out, 2, 0)


def ssim_channel_means(img: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """Mean of the SSIM map per channel (shape (C,)) without materialising the map."""
    c = img.shape[2]
    sums = _ssim_strips(img, img2, lambda m, r0, r1: cv2.sumElems(m)[:c])
    n = (img.shape[0] - WINDOW + 1) * (img.shape[1] - WINDOW + 1)
    return np.sum(np.asarray(sums, dtype=np.float64), axis=0) / n


def mse_np(img: np.ndarray, img2: np.ndarray) -> float:
    """Mean squared difference of two same-shape arrays, accumulated in float64."""
    a, b = _cv_ready(img), _cv_ready(img2)
    if a.dtype == b.dtype:
        return cv2.norm(a, b, cv2.NORM_L2SQR) / img.size
    return float(np.mean((img.astype(np.float64) - img2.astype(np.float64)) ** 2))


def _masked_mean(values: np.ndarray, region: Optional[np.ndarray]) -> float:
    """Mean of ``values`` (C x H x W) over the pixels where ``region`` (H x W bool) holds."""
    if region is None:
        return float(values.mean())
    n = int(region.sum())
    if n == 0:
        return float('nan')
    return float(values[:, region].mean())


# ---------------------------------------------------------------- torch path
def _prepare_pt(img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool,
                round_y: bool) -> tuple:
    if img.shape != img2.shape:
        raise ValueError(f'image shapes differ: {tuple(img.shape)} vs {tuple(img2.shape)}')
    if img.ndim != 4 or img.shape[1] not in (1, 3):
        raise ValueError(f'expected NxCxHxW tensors (C = 1 or 3, RGB in [0, 1]), got shape '
                         f'{tuple(img.shape)}')
    if crop_border < 0:
        raise ValueError(f'crop_border must be >= 0, got {crop_border}')
    img = img.detach().to(torch.float64) * 255.0
    img2 = img2.detach().to(torch.float64) * 255.0
    if crop_border:
        img = img[..., crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[..., crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel and img.shape[1] == 3:
        w = torch.tensor(Y_WEIGHTS, dtype=torch.float64, device=img.device).view(1, 3, 1, 1)

        def to_y(x):
            y = 16.0 + (x * w).sum(1, keepdim=True) / 255.0
            return torch.clamp(torch.floor(y + 0.5), 0, 255) if round_y else y
        img, img2 = to_y(img), to_y(img2)
    return img, img2


def ssim_map_pt(img: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
    """SSIM maps (N x C x H-10 x W-10) of float64 NCHW tensors on the 0..255 scale."""
    _check_ssim_size(img.shape[-2], img.shape[-1])
    n, c, h, w = img.shape
    k = torch.from_numpy(gaussian_kernel_1d()).to(img)
    u = img + img2
    v = img - img2
    x = torch.cat([u, v, u * u, v * v], dim=1).reshape(n * 4 * c, 1, h, w)
    x = F.conv2d(x, k.view(1, 1, WINDOW, 1))
    x = F.conv2d(x, k.view(1, 1, 1, WINDOW)).reshape(n, 4, c, h - WINDOW + 1, w - WINDOW + 1)
    fu, fv, fuu, fvv = x.unbind(1)
    fu2, fv2 = fu * fu, fv * fv
    mu_sum = 0.5 * (fu2 + fv2)
    mu_prod = 0.25 * (fu2 - fv2)
    sig_sum = 0.5 * (fuu + fvv) - mu_sum
    sig_xy = 0.25 * (fuu - fvv) - mu_prod
    return ((2 * mu_prod + C1) * (2 * sig_xy + C2)) / ((mu_sum + C1) * (sig_sum + C2))


# ---------------------------------------------------------------- public API
def psnr(img: Image, img2: Image, crop_border: int = 0, test_y_channel: bool = False,
         round_y: bool = False) -> Union[float, torch.Tensor]:
    """Peak signal-to-noise ratio (dB), peak 255, BasicSR's ``calculate_psnr`` conventions.

    Args:
        img, img2: numpy HxW(xC) RGB arrays on the 0..255 scale, or NxCxHxW RGB tensors
            in [0, 1].
        crop_border: pixels removed from each side before any colour conversion.
        test_y_channel: score the BT.601 Y channel (16..235) instead of RGB.
        round_y: round Y to integers (MATLAB ``rgb2ycbcr`` on uint8; deraining protocol).

    Returns:
        a float for numpy inputs (``inf`` for identical images), a float64 tensor of
        shape (N,) for tensors.
    """
    if isinstance(img, torch.Tensor) or isinstance(img2, torch.Tensor):
        if not (isinstance(img, torch.Tensor) and isinstance(img2, torch.Tensor)):
            raise TypeError('psnr: give two numpy arrays or two torch tensors, not a mix')
        a, b = _prepare_pt(img, img2, crop_border, test_y_channel, round_y)
        mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
        return 10.0 * torch.log10(255.0 ** 2 / mse)  # mse == 0 gives inf
    a, b = _prepare_np(img, img2, crop_border, test_y_channel, round_y, as_float64=False)
    return _psnr_from_mse(mse_np(a, b))


def ssim(img: Image, img2: Image, crop_border: int = 0, test_y_channel: bool = False,
         round_y: bool = False) -> Union[float, torch.Tensor]:
    """Structural similarity with BasicSR's ``calculate_ssim`` conventions.

    Same arguments as :func:`psnr`. Per channel: SSIM map of Wang et al. (11x11 Gaussian,
    sigma 1.5, valid region) averaged, then averaged over channels. Raises ``ValueError``
    when an image is smaller than 11x11 after cropping.
    """
    if isinstance(img, torch.Tensor) or isinstance(img2, torch.Tensor):
        if not (isinstance(img, torch.Tensor) and isinstance(img2, torch.Tensor)):
            raise TypeError('ssim: give two numpy arrays or two torch tensors, not a mix')
        a, b = _prepare_pt(img, img2, crop_border, test_y_channel, round_y)
        if a.device.type == 'cpu':  # OpenCV's strip path is much faster than float64 conv2d
            _check_ssim_size(a.shape[-2], a.shape[-1])
            return torch.tensor([ssim_channel_means(x.permute(1, 2, 0).numpy(),
                                                    y.permute(1, 2, 0).numpy()).mean()
                                 for x, y in zip(a, b)], dtype=torch.float64)
        return ssim_map_pt(a, b).mean(dim=(2, 3)).mean(dim=1)
    a, b = _prepare_np(img, img2, crop_border, test_y_channel, round_y, as_float64=False)
    return float(ssim_channel_means(a, b).mean())


__all__ = ['psnr', 'ssim', 'rgb_to_y', 'ssim_map_np', 'ssim_channel_means', 'mse_np', 'ssim_map_pt', 'gaussian_kernel_1d']
