"""MATLAB's ``imresize`` (bicubic, antialiased when shrinking) in numpy.

The standard super-resolution test sets, NIQE and many MATLAB evaluation scripts use
MATLAB's ``imresize``; OpenCV's bicubic differs (no antialiasing, a = -0.75). This
follows MATLAB's definition: the cubic kernel with a = -0.5, output pixel ``i``
(1-based) centred at ``u = i / scale + (1 - 1 / scale) / 2`` in input coordinates, the
kernel stretched by ``1 / scale`` (and its height scaled by ``scale``) when shrinking,
weights normalised per output pixel, symmetric (mirror) padding, rows resized before
columns when both scales are equal (MATLAB resizes the dimension with the smaller
scale first), output size ``ceil(scale * input size)``. Arithmetic is float64.
"""
from __future__ import annotations

import math
from typing import Tuple, Union

import numpy as np

__all__ = ['cubic', 'resize_weights', 'imresize_matlab']


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``bicubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def resize_weights(in_len: int, out_len: int, scale: float,
                   antialias: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Per output pixel: the weights and 0-based input indices MATLAB's imresize uses.

    Returns ``(weights, indices)``, both ``out_len x P``; rows of ``weights`` sum to 1.
    """
    if antialias and scale < 1:
        width = 4.0 / scale

        def kernel(x):
            return scale * cubic(scale * x)
    else:
        width = 4.0
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    w = kernel(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], idx[:, keep]


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float,
                 antialias: bool) -> np.ndarray:
    w, idx = resize_weights(img.shape[axis], out_len, scale, antialias)
    x = np.moveaxis(img, axis, 0)
    gathered = x[idx]  # out_len x P x ...
    w = w.reshape(w.shape + (1,) * (x.ndim - 1))
    return np.moveaxis((gathered * w).sum(axis=1), 0, axis)


def imresize_matlab(img: np.ndarray, scale: Union[float, Tuple[float, float]],
                    antialias: bool = True) -> np.ndarray:
    """Resize an ``HxW`` or ``HxWxC`` array like MATLAB's ``imresize(img, scale)``.

    Returns float64 (MATLAB rounds and clips only for integer inputs; callers that
    need uint8 round themselves).
    """
    img = np.asarray(img, dtype=np.float64)
    if img.ndim not in (2, 3):
        raise ValueError(f'imresize_matlab expects an HxW or HxWxC array, got shape {img.shape}')
    sh, sw = (scale, scale) if np.isscalar(scale) else scale
    if sh <= 0 or sw <= 0:
        raise ValueError(f'scale must be positive, got {scale}')
    out_h, out_w = int(math.ceil(img.shape[0] * sh)), int(math.ceil(img.shape[1] * sw))
    order = (0, 1) if sh <= sw else (1, 0)
    for axis in order:
        s, n = (sh, out_h) if axis == 0 else (sw, out_w)
        img = _resize_axis(img, axis, n, s, antialias)
    return img
