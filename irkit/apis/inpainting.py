"""Inpainting front door (MAT): ``inpaint(model, img, mask)``.

Mask files are greyscale images where **white = hole** (pixels to fill) and black =
known pixels (threshold 0.5); internally masks follow irkit's convention
(1 = known, 0 = hole).  MAT's own released evaluation masks use the opposite
convention: pass ``white_is_hole=False`` for those.

The model works at its training resolution (``img_resolution``, 512 for the
released weights): other sizes are resized to it (bicubic image, nearest mask),
inpainted, resized back, and the known pixels of the input are kept exactly.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from irkit.apis.restoration import init_model, read_rgb

__all__ = ['init_model', 'read_mask', 'inpaint', 'save_rgb']


def read_mask(path: str, white_is_hole: bool = True, threshold: float = 0.5) -> torch.Tensor:
    """Read a mask image as a 1x1xHxW float tensor with 1 = known pixel, 0 = hole."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'mask not found: {path}')
    data = np.fromfile(path, dtype=np.uint8)
    m = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if m is None:
        raise ValueError(f'cannot decode mask {path} (empty, truncated or not an image)')
    if m.ndim == 3:
        m = m[..., 3] if m.shape[2] == 4 and m[..., :3].max() == 0 else m[..., :3].max(axis=2)
    scale = 65535.0 if m.dtype == np.uint16 else 255.0
    white = m.astype(np.float32) / scale >= threshold
    known = ~white if white_is_hole else white
    return torch.from_numpy(known.astype(np.float32))[None, None]


def _as_image(img: Union[str, np.ndarray, torch.Tensor]) -> torch.Tensor:
    if isinstance(img, str):
        return read_rgb(img)
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'expected an HxWx3 uint8 RGB array, got {img.shape} {img.dtype}')
        return torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    t = img.float()
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[:2] != (1, 3):
        raise ValueError(f'expected a 3xHxW or 1x3xHxW tensor in [0,1], got {tuple(img.shape)}')
    return t


def _as_mask(mask: Union[str, np.ndarray, torch.Tensor], white_is_hole: bool) -> torch.Tensor:
    if isinstance(mask, str):
        return read_mask(mask, white_is_hole=white_is_hole)
    m = torch.as_tensor(np.asarray(mask) if isinstance(mask, np.ndarray) else mask).float()
    while m.ndim < 4:
        m = m[None]
    if m.shape[:2] != (1, 1):
        raise ValueError(f'mask must be HxW, 1xHxW or 1x1xHxW (1 = known, 0 = hole), got {tuple(m.shape)}')
    return (m >= 0.5).float()


@torch.no_grad()
def inpaint(model: torch.nn.Module, img: Union[str, np.ndarray, torch.Tensor],
            mask: Union[str, np.ndarray, torch.Tensor], seed: Optional[int] = 240,
            white_is_hole: bool = True, noise_mode: Optional[str] = None) -> torch.Tensor:
    """Fill the holes of one image with a :class:`~irkit.models.mat_inpaintor.MATInpaintor`.

    Args:
        model: from :func:`init_model` (``configs/mat_places.py`` + checkpoint).
        img: path, HxWx3 uint8 RGB array or (1x)3xHxW tensor in [0,1].
        mask: path of a mask image (white = hole unless ``white_is_hole=False``) or
            an array/tensor with 1 = known, 0 = hole.
        seed: seeds z and MAT's style-manipulation draws (``None``: the global RNG).
        noise_mode: override the model's ``val_noise_mode``.

    Returns a 3xHxW float tensor in [0,1] on the CPU.
    """
    image = _as_image(img)
    known = _as_mask(mask, white_is_hole)
    where = f' ({mask})' if isinstance(mask, str) else ''
    if known.shape[-2:] != image.shape[-2:]:
        raise ValueError(f'mask size {tuple(known.shape[-2:])}{where} differs from the image size '
                         f'{tuple(image.shape[-2:])}')
    if not hasattr(model, 'inpaint') or not hasattr(model, 'generator_ema'):
        raise TypeError(f'inpaint() needs a MATInpaintor, got {type(model).__name__}')
    device = next(model.parameters()).device
    res = model.generator_ema.img_resolution
    h, w = image.shape[-2:]
    x, m = image.to(device), known.to(device)
    if (h, w) != (res, res):
        x = F.interpolate(x, size=(res, res), mode='bicubic', align_corners=False).clamp(0, 1)
        m = F.interpolate(m, size=(res, res), mode='nearest')
    out = model.inpaint(x * 2 - 1, m, seed=seed, noise_mode=noise_mode)
    out = ((out + 1) / 2).clamp(0, 1)
    if (h, w) != (res, res):
        out = F.interpolate(out, size=(h, w), mode='bicubic', align_corners=False).clamp(0, 1)
    out = out.cpu() * (1 - known) + image * known  # keep the known pixels exactly
    return out[0]


def save_rgb(img: torch.Tensor, path: str) -> None:
    """Write a 3xHxW [0,1] tensor as an 8-bit image (parent folders created)."""
    import os
    arr = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)[..., ::-1]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    ext = osp.splitext(path)[1] or '.png'
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(arr))
    if not ok:
        raise ValueError(f'cannot encode an image as {ext} for {path}')
    tmp = path + '.tmp'
    buf.tofile(tmp)
    os.replace(tmp, path)
