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
    img = img.astype(np.float64, copy=False)
    y = 16.0 + (img[..., 0] * Y_WEIGHTS[0] + img[..., 1] * Y_WEIGHTS[1]
                + img[..., 2] * Y_WEIGHTS[2]) / 255.0
    if round_y:
        y = np.clip(np.floor(y + 0.5), 0, 255)
    return y[..., None]


def _prepare_np(img: np.ndarray, img2: np.ndarray, crop_border: int, test_y_channel: bool,
                round_y: bool) -> tuple:
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
    return img.astype(np.float64, copy=False), img2.astype(np.float64, copy=False)


def _psnr_from_mse(mse: float) -> float:
    if mse == 0:
        return float('inf')
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


def _check_ssim_size(h: int, w: int) -> None:
    if h < WINDOW or w < WINDOW:
        raise ValueError(f'SSIM needs images of at least {WINDOW}x{WINDOW} pixels after cropping '
                         f'(got {h}x{w}); reduce crop_border or use larger images')


def _filter_valid(planes: np.ndarray) -> np.ndarray:
    """Gaussian-filter each ``HxW`` plane of ``planes`` (P x H x W), valid region only."""
    k = gaussian_kernel_1d()
    r = WINDOW // 2
    out = np.empty((planes.shape[0], planes.shape[1] - 2 * r, planes.shape[2] - 2 * r))
    for i, p in enumerate(planes):
        out[i] = cv2.sepFilter2D(p, cv2.CV_64F, k, k)[r:-r, r:-r]
    return out


def ssim_map_np(img: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """SSIM maps (C x H-10 x W-10) of two float64 ``HxWxC`` arrays (0..255 scale).

    Uses u = x + y and v = x - y so that four filtered planes per channel give
    mu_x^2 + mu_y^2, mu_x mu_y, sigma_x^2 + sigma_y^2 and sigma_xy exactly (up to
    float64 rounding) as the five-plane textbook form does.
    """
    _check_ssim_size(img.shape[0], img.shape[1])
    a = np.moveaxis(img, 2, 0)
    b = np.moveaxis(img2, 2, 0)
    u = a + b
    v = a - b
    planes = np.ascontiguousarray(np.concatenate([u, v, u * u, v * v], axis=0))
    c = a.shape[0]
    f = _filter_valid(planes)
    fu, fv, fuu, fvv = f[:c], f[c:2 * c], f[2 * c:3 * c], f[3 * c:]
    fu2 = fu * fu
    fv2 = fv * fv
    mu_sum = 0.5 * (fu2 + fv2)          # mu_x^2 + mu_y^2
    mu_prod = 0.25 * (fu2 - fv2)        # mu_x mu_y
    sig_sum = 0.5 * (fuu + fvv) - mu_sum  # sigma_x^2 + sigma_y^2
    sig_xy = 0.25 * (fuu - fvv) - mu_prod
    return ((2 * mu_prod + C1) * (2 * sig_xy + C2)) / ((mu_sum + C1) * (sig_sum + C2))


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
    a, b = _prepare_np(img, img2, crop_border, test_y_channel, round_y)
    return _psnr_from_mse(float(np.mean((a - b) ** 2)))


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
        return ssim_map_pt(a, b).mean(dim=(2, 3)).mean(dim=1)
    a, b = _prepare_np(img, img2, crop_border, test_y_channel, round_y)
    return float(ssim_map_np(a, b).mean(axis=(1, 2)).mean())


__all__ = ['psnr', 'ssim', 'rgb_to_y', 'ssim_map_np', 'ssim_map_pt', 'gaussian_kernel_1d']
