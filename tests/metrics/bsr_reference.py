"""An independent, straightforward transcription of BasicSR's PSNR/SSIM formulas.

Written from the conventions in ``basicsr/metrics/psnr_ssim.py`` (numpy path, BGR
input): per-channel loops, ``cv2.filter2D`` with the outer-product Gaussian window,
valid region by slicing, float32 Y conversion as ``to_y_channel`` does.
"""
import cv2
import numpy as np


def to_y_channel_bgr(img):
    img = img.astype(np.float32) / 255.
    y = np.dot(img, [24.966, 128.553, 65.481]) + 16.0
    y = (y / 255.).astype(np.float32)
    return (y * 255.)[..., None]


def _prep(img, img2, crop_border, test_y_channel):
    if img.ndim == 2:
        img, img2 = img[..., None], img2[..., None]
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    if test_y_channel and img.shape[2] == 3:
        img, img2 = to_y_channel_bgr(img), to_y_channel_bgr(img2)
    return img.astype(np.float64), img2.astype(np.float64)


def calculate_psnr(img, img2, crop_border, test_y_channel=False):
    img, img2 = _prep(img, img2, crop_border, test_y_channel)
    mse = np.mean((img - img2) ** 2)
    if mse == 0:
        return float('inf')
    return 10. * np.log10(255. * 255. / mse)


def _ssim(img, img2):
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = cv2.filter2D(img, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(img2, -1, window)[5:-5, 5:-5]
    mu1_sq = mu1 ** 2
    mu2_sq = mu2 ** 2
    mu1_mu2 = mu1 * mu2
    sigma1_sq = cv2.filter2D(img ** 2, -1, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = cv2.filter2D(img2 ** 2, -1, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = cv2.filter2D(img * img2, -1, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.mean()


def calculate_ssim(img, img2, crop_border, test_y_channel=False):
    img, img2 = _prep(img, img2, crop_border, test_y_channel)
    return np.array([_ssim(img[..., i], img2[..., i]) for i in range(img.shape[2])]).mean()
