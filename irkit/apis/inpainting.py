"""Inpainting front door for every inpainting config: ``inpaint(model, img, mask)``.

Mask files are greyscale images where **white = hole** (pixels to fill) and black =
known pixels (threshold 0.5); internally masks follow irkit's convention
(1 = known, 0 = hole).  MAT's own released evaluation masks use the opposite
convention: pass ``white_is_hole=False`` for those.

Any image size works: networks with a padding multiple (LaMa: 8) are padded and cropped
back, fixed-resolution networks (MAT, Co-ModGAN) are run at their training resolution
(bicubic image, nearest mask) and resized back; the known pixels of the input are
kept exactly.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Union

import cv2
import numpy as np
import torch

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
            white_is_hole: bool = True, **kwargs) -> torch.Tensor:
    """Fill the holes of one image with an inpainting model (``GANInpaintor`` or a subclass).

    Args:
        model: from :func:`init_model` (an inpainting config + checkpoint).
        img: path, HxWx3 uint8 RGB array or (1x)3xHxW tensor in [0,1].
        mask: path of a mask image (white = hole unless ``white_is_hole=False``) or
            an array/tensor with 1 = known, 0 = hole.
        seed: seeds the network's random draws (latents, noise; ``None``: the global RNG).
        kwargs: model-specific options of ``model.inpaint`` (MAT: ``noise_mode``,
            ``truncation_psi``).

    Returns a 3xHxW float tensor in [0,1] on the CPU.
    """
    image = _as_image(img)
    known = _as_mask(mask, white_is_hole)
    where = f' ({mask})' if isinstance(mask, str) else ''
    if known.shape[-2:] != image.shape[-2:]:
        raise ValueError(f'mask size {tuple(known.shape[-2:])}{where} differs from the image size '
                         f'{tuple(image.shape[-2:])}')
    if not hasattr(model, 'inpaint') or not hasattr(model, 'io'):
        raise TypeError(f'inpaint() needs an inpainting model (GANInpaintor), got {type(model).__name__}; '
                        'is the config an inpainting config?')
    device = next(model.parameters()).device
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    out = model.inpaint(image.to(device), known.to(device), seed=seed, **kwargs)
    return out.cpu()[0]


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
