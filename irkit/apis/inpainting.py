"""Inpainting front door for every inpainting config: ``inpaint(model, img, mask)``.

Mask files are greyscale images where **white = hole** (pixels to fill) and black =
known pixels (threshold 0.5); internally masks follow irkit's convention
(1 = known, 0 = hole).  MAT's own released evaluation masks use the opposite
convention: pass ``white_is_hole=False`` for those.

Any image size works: networks with a padding multiple (LaMa: 8) are padded and cropped
back, fixed-resolution networks (MAT, Co-ModGAN) are run at their training resolution
(bicubic image, nearest mask) and resized back; the known pixels of the input are
kept exactly.

High-resolution strategies (``strategy=``, shared by ``tools/inpaint.py``, the batch tool
and the web demo; IOPaint calls them ``hd_strategy``):

* ``'whole'``: the whole image in one pass (the default; what testing does);
* ``'crop'``: each hole's bounding box grown by ``crop_margin`` pixels on every side
  (clipped to the image) is inpainted on its own and its hole pixels are pasted back;
  boxes whose grown extents overlap are merged first, so every hole pixel is filled by
  exactly one crop and no crop sees another crop's fill;
* ``'resize'``: images whose long side exceeds ``resize_limit`` are shrunk to it
  (antialiased bicubic; a small-image pixel is a hole if any pixel it covers is one),
  inpainted, the result is enlarged back (bicubic) and only the hole pixels are pasted.

Every strategy keeps the known pixels of the input exactly.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, List, Optional, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from irkit.apis.restoration import _as_input, inference_pipeline, init_model, to_batch

__all__ = ['init_model', 'read_mask', 'inpaint', 'save_rgb', 'STRATEGIES', 'hole_boxes', 'inpaint_with_strategy']

STRATEGIES = ('whole', 'crop', 'resize')
Progress = Callable[[int, int], None]


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


def hole_boxes(known: torch.Tensor, margin: int) -> List[Tuple[int, int, int, int]]:
    """``(top, left, bottom, right)`` crops for the ``'crop'`` strategy (bottom/right exclusive).

    ``known`` is ``H x W`` (1 = known, 0 = hole). Each 8-connected hole's bounding box is
    grown by ``margin`` pixels and clipped to the image; boxes that then overlap are
    merged into their common bounding box until none overlap. Sorted top-left first.
    """
    if margin < 0:
        raise ValueError(f'crop_margin must be >= 0, got {margin}')
    from scipy.sparse.csgraph import connected_components
    k = known.detach().cpu().numpy()
    h, w = k.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats((k < 0.5).astype(np.uint8), connectivity=8)
    if n <= 1:
        return []
    x, y, bw, bh = (stats[1:n, i].astype(np.int64) for i in range(4))
    boxes = np.stack([np.maximum(y - margin, 0), np.maximum(x - margin, 0),
                      np.minimum(y + bh + margin, h), np.minimum(x + bw + margin, w)], axis=1)
    while True:  # merge every group of overlapping boxes into its bounding box, until none overlap
        t, l, b, r = (boxes[:, i] for i in range(4))
        overlap = (t[:, None] < b[None]) & (t[None] < b[:, None]) & (l[:, None] < r[None]) & (l[None] < r[:, None])
        count, label = connected_components(overlap, directed=False)
        if count == len(boxes):
            break
        boxes = np.stack([np.concatenate([boxes[label == g, :2].min(0), boxes[label == g, 2:].max(0)])
                          for g in range(count)])
    return sorted(tuple(int(v) for v in box) for box in boxes)


def inpaint_with_strategy(run: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], image: torch.Tensor,
                          known: torch.Tensor, strategy: str = 'whole', crop_margin: int = 128,
                          resize_limit: int = 1280, progress: Optional[Progress] = None) -> torch.Tensor:
    """Apply a high-resolution strategy (module docstring) around ``run(image, known) -> composite``.

    ``image`` is ``1 x 3 x H x W`` in [0, 1], ``known`` ``1 x 1 x H x W`` (1 = known);
    ``progress(done, total)`` is called after each network pass.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    report = progress or (lambda done, total: None)
    h, w = image.shape[-2:]
    if strategy == 'crop':
        boxes = hole_boxes(known[0, 0], int(crop_margin))
        out = image.clone()
        for i, (t, l, b, r) in enumerate(boxes):
            m = known[..., t:b, l:r]
            filled = run(image[..., t:b, l:r], m)
            out[..., t:b, l:r] = filled * (1 - m) + image[..., t:b, l:r] * m
            report(i + 1, len(boxes))
        return out
    if strategy == 'resize' and max(h, w) > resize_limit:
        if resize_limit < 1:
            raise ValueError(f'resize_limit must be >= 1, got {resize_limit}')
        s = resize_limit / max(h, w)
        size = (max(1, round(h * s)), max(1, round(w * s)))
        small = F.interpolate(image, size=size, mode='bicubic', align_corners=False, antialias=True).clamp(0, 1)
        small_known = (F.interpolate(known, size=size, mode='area') >= 1.0).to(known.dtype)
        filled = run(small, small_known)
        report(1, 1)
        big = F.interpolate(filled, size=(h, w), mode='bicubic', align_corners=False).clamp(0, 1)
        return big * (1 - known) + image * known
    out = run(image, known)
    report(1, 1)
    return out


@torch.no_grad()
def inpaint(model: torch.nn.Module, img: Union[str, np.ndarray, torch.Tensor],
            mask: Union[str, np.ndarray, torch.Tensor], seed: Optional[int] = 240,
            white_is_hole: bool = True, strategy: str = 'whole', crop_margin: int = 128,
            resize_limit: int = 1280, progress: Optional[Progress] = None, **kwargs) -> torch.Tensor:
    """Fill the holes of one image with an inpainting model (``GANInpaintor`` or a subclass).

    The image is decoded as the config's test pipeline decodes it; the mask file is read
    with ``LoadMask(white_is_hole=...)``.

    Args:
        model: from :func:`init_model` (an inpainting config + checkpoint).
        img: path, HxWx3 uint8 RGB array or (1x)3xHxW tensor in [0,1].
        mask: path of a mask image (white = hole unless ``white_is_hole=False``) or
            an array/tensor with 1 = known, 0 = hole.
        seed: seeds the network's random draws (latents, noise; ``None``: the global RNG);
            every pass of a strategy uses the same seed.
        strategy, crop_margin, resize_limit: the high-resolution strategy (module docstring).
        progress: ``progress(done, total)`` after each network pass.
        kwargs: model-specific options of ``model.inpaint`` (MAT: ``noise_mode``,
            ``truncation_psi``).

    Returns a 3xHxW float tensor in [0,1] on the CPU.
    """
    if not hasattr(model, 'inpaint') or not hasattr(model, 'io'):
        raise TypeError(f'inpaint() needs an inpainting model (GANInpaintor), got {type(model).__name__}; '
                        'is the config an inpainting config?')
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
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
    out = inpaint_with_strategy(lambda x, m: model.inpaint(x, m, seed=seed, **kwargs), image, known,
                                strategy, crop_margin, resize_limit, progress)
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
