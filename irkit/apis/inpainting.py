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

import os
import os.path as osp
from typing import Optional, Union

import numpy as np
import torch

from irkit.apis.restoration import _as_input, inference_pipeline, init_model, to_batch

__all__ = ['init_model', 'read_mask', 'inpaint', 'save_rgb']


def read_mask(path: str, white_is_hole: bool = True, threshold: float = 0.5) -> torch.Tensor:
    """Read a mask image as a 1x1xHxW float tensor with 1 = known pixel, 0 = hole (``LoadMask``)."""
    from irkit.datasets.transforms import LoadMask
    m = LoadMask(key='mask', white_is_hole=white_is_hole, threshold=threshold)({'mask_path': path})['mask']
    return torch.from_numpy(np.ascontiguousarray(m[..., 0]))[None, None]


def _as_mask(mask: Union[str, np.ndarray, torch.Tensor]) -> Union[str, np.ndarray]:
    if isinstance(mask, (str, os.PathLike)):
        return str(mask)
    m = torch.as_tensor(np.asarray(mask) if isinstance(mask, np.ndarray) else mask).float()
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise ValueError(f'mask must be HxW, 1xHxW or 1x1xHxW (1 = known, 0 = hole), got {tuple(mask.shape)}')
    return (m >= 0.5).float().numpy()[..., None]


@torch.no_grad()
def inpaint(model: torch.nn.Module, img: Union[str, np.ndarray, torch.Tensor],
            mask: Union[str, np.ndarray, torch.Tensor], seed: Optional[int] = 240,
            white_is_hole: bool = True, **kwargs) -> torch.Tensor:
    """Fill the holes of one image with an inpainting model (``GANInpaintor`` or a subclass).

    The image is decoded as the config's test pipeline decodes it; the mask file is read
    with ``LoadMask(white_is_hole=...)``.

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
    if not hasattr(model, 'inpaint') or not hasattr(model, 'io'):
        raise TypeError(f'inpaint() needs an inpainting model (GANInpaintor), got {type(model).__name__}; '
                        'is the config an inpainting config?')
    files = {'gt': _as_input(img, 'img'), 'mask': _as_mask(mask)}
    key = osp.splitext(osp.basename(files['gt']))[0] if isinstance(files['gt'], str) else 'image'
    sample = inference_pipeline(model, ['gt'], 'mask', white_is_hole)(files, key=key)
    image, known = sample['gt'], sample['mask']
    if known.shape[-2:] != image.shape[-2:]:
        where = f' ({mask})' if isinstance(mask, str) else ''
        raise ValueError(f'mask size {tuple(known.shape[-2:])}{where} differs from the image size '
                         f'{tuple(image.shape[-2:])}')
    batch = to_batch(model, sample)
    image, known = model.unpack(batch)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    out = model.inpaint(image, known, seed=seed, **kwargs)
    return out.cpu()[0]


def save_rgb(img: torch.Tensor, path: str) -> None:
    """Write a 3xHxW [0,1] tensor as an 8-bit image (atomically; parent folders created).

    Raises ``ValueError`` if the tensor holds NaN/Inf (it would be written as black).
    """
    from irkit.hooks.visualization import to_uint8_bgr, write_image
    bad = int((~img.isfinite()).sum())
    if bad:
        raise ValueError(f'{bad} values of the image for {path} are not finite (NaN/Inf); nothing written')
    write_image(path, to_uint8_bgr(img))
