"""Hooks that write images: input | output | ground-truth grids, and test outputs."""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook

from irkit.fileio.tempfiles import temp_name
from irkit.registry import HOOKS


def to_bgr(img: torch.Tensor, dtype=np.uint8) -> np.ndarray:
    """CHW float [0,1] RGB tensor → HWC BGR array of ``dtype`` (``np.uint8`` or ``np.uint16``),
    rounded like BasicSR's tensor2img."""
    peak = float(np.iinfo(dtype).max)
    arr = img.detach().float().clamp(0, 1).cpu().numpy()
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, 0)
    arr = (arr.transpose(1, 2, 0) * peak).round().astype(dtype)
    return np.ascontiguousarray(arr[..., ::-1])


def to_uint8_bgr(img: torch.Tensor) -> np.ndarray:
    """CHW float [0,1] RGB tensor → HWC uint8 BGR array (rounded like BasicSR's tensor2img)."""
    return to_bgr(img, np.uint8)


def safe_name(key: str) -> str:
    return re.sub(r'[^\w.\-]+', '_', str(key)).strip('_') or 'image'


def write_image(path: str, img: np.ndarray) -> None:
    """Write atomically: temporary file in the same folder, then rename."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    ext = osp.splitext(path)[1] or '.png'
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise IOError(f'could not encode image for {path}')
    tmp = osp.join(osp.dirname(path) or '.', temp_name(osp.basename(path)))
    try:
        with open(tmp, 'wb') as f:
            f.write(buf.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def make_grid(sample: dict, keys: Sequence[str]) -> Optional[np.ndarray]:
    tiles = []
    h = max((sample[k].shape[-2] for k in keys if isinstance(sample.get(k), torch.Tensor)), default=0)
    for k in keys:
        v = sample.get(k)
        if isinstance(v, torch.Tensor) and v.dim() == 3:
            t = to_uint8_bgr(v)
            if t.shape[0] != h:  # e.g. a low-resolution input beside an upscaled output
                t = cv2.resize(t, (round(t.shape[1] * h / t.shape[0]), h), interpolation=cv2.INTER_NEAREST)
            tiles.append(t)
    return np.concatenate(tiles, axis=1) if tiles else None


def add_image_to_backends(runner, tag: str, rgb: np.ndarray, step: int) -> None:
    """Send an HWC uint8 RGB image to the visualiser's backends other than the local one
    (whose files would repeat the hook's own ``vis/`` folder), e.g. TensorBoard."""
    from mmengine.dist import is_main_process
    from mmengine.visualization import LocalVisBackend
    if not is_main_process():
        return
    vis = getattr(runner, 'visualizer', None)
    for backend in getattr(vis, '_vis_backends', {}).values():
        if not isinstance(backend, LocalVisBackend):
            backend.add_image(tag, np.ascontiguousarray(rgb), step=step)


@HOOKS.register_module()
class VisualizationHook(Hook):
    """Save ``input | output | ground truth`` grids of the first validation samples.

    Files go to ``{work_dir}/vis/iter_{N}/{key}.png`` (or ``out_dir``); the same grids go
    to the visualiser's other backends (TensorBoard: tag ``val/{key}`` at step ``N``).

    Args:
        max_samples: how many samples per validation run.
        keys: which entries to tile, left to right.
        out_dir: folder; default ``{work_dir}/vis``.
    """

    priority = 'LOW'

    def __init__(self, max_samples: int = 4, keys: Sequence[str] = ('lq', 'pred', 'gt'),
                 out_dir: Optional[str] = None) -> None:
        self.max_samples = max_samples
        self.keys = tuple(keys)
        self.out_dir = out_dir
        self._count = 0

    def before_val_epoch(self, runner) -> None:
        self._count = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        out_dir = self.out_dir or osp.join(runner.work_dir, 'vis')
        for s in outputs or []:
            if self._count >= self.max_samples:
                return
            grid = make_grid(s, self.keys)
            if grid is not None:
                name = safe_name(s.get('key', f'{batch_idx}_{self._count}'))
                write_image(osp.join(out_dir, f'iter_{runner.iter}', f'{name}.png'), grid)
                add_image_to_backends(runner, f'val/{name}', grid[..., ::-1], runner.iter)
            self._count += 1


@HOOKS.register_module()
class SaveImagesHook(Hook):
    """Save every test output as ``{out_dir}/{key}.png`` (and optionally a side-by-side grid)."""

    priority = 'LOW'

    def __init__(self, out_dir: str, side_by_side: bool = False,
                 keys: Sequence[str] = ('lq', 'pred', 'gt')) -> None:
        self.out_dir = out_dir
        self.side_by_side = side_by_side
        self.keys = tuple(keys)

    def before_test(self, runner) -> None:
        from irkit.fileio.tempfiles import remove_stale_temps
        for folder in (self.out_dir, osp.join(self.out_dir, 'side_by_side')):
            remove_stale_temps(folder)  # leftovers of a killed earlier run

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        for i, s in enumerate(outputs or []):
            name = safe_name(s.get('key', f'{batch_idx}_{i}'))
            write_image(osp.join(self.out_dir, f'{name}.png'), to_uint8_bgr(s['pred']))
            if self.side_by_side:
                grid = make_grid(s, self.keys)
                write_image(osp.join(self.out_dir, 'side_by_side', f'{name}.png'), grid)


__all__ = ['VisualizationHook', 'SaveImagesHook', 'to_bgr', 'to_uint8_bgr', 'write_image']
