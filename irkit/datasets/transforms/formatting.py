"""Packing a results dict into what the data preprocessor and models expect."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

from irkit.registry import TRANSFORMS

from .base import BaseTransform, to_keys

__all__ = ['PackInputs', 'ConcatChannels', 'to_tensor_chw']

DEFAULT_META_KEYS = ('key', 'task', 'task_id', 'scale', 'sample_idx', 'lq_path', 'gt_path',
                     'mask_path', 'lq_ori_hw', 'gt_ori_hw')


def to_tensor_chw(img, name: str = 'image') -> torch.Tensor:
    """``H x W x C`` (or ``H x W``) array -> contiguous float32 ``C x H x W`` tensor.
    Integer arrays are scaled to [0, 1] by their type's maximum."""
    if isinstance(img, torch.Tensor):
        return img.float().contiguous()
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"'{name}' must be H x W x C, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32))


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """Return a new dict with ``keys`` as float32 CHW tensors plus the meta entries.

    Args:
        keys: image entries to convert (``'lq'``, ``'gt'``, ``'mask'``...); each must exist.
        meta_keys: plain entries copied when present (default: ``key``, ``task``,
            ``task_id``, ``scale``, ``sample_idx``, ``lq_path``, ``gt_path``,
            ``mask_path``, ``lq_ori_hw``, ``gt_ori_hw``).
    """

    def __init__(self, keys: Union[str, Sequence[str]] = ('lq', 'gt'),
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.keys = to_keys(keys)
        self.meta_keys = to_keys(meta_keys)

    def transform(self, results: dict) -> dict:
        out = {}
        for k in self.keys:
            if k not in results:
                raise KeyError(f"PackInputs: no '{k}' in the results (has {sorted(results)}); "
                               'load or generate it earlier in the pipeline')
            out[k] = to_tensor_chw(results[k], k)
        for k in self.meta_keys:
            if k in results and k not in out:
                out[k] = results[k]
        return out


@TRANSFORMS.register_module()
class ConcatChannels(BaseTransform):
    """Stack HWC images along the channel axis into ``out_key`` (e.g. the two dual-pixel views)."""

    def __init__(self, keys: Sequence[str], out_key: str = 'lq', remove_inputs: bool = True) -> None:
        self.keys = to_keys(keys)
        if len(self.keys) < 2:
            raise ValueError(f'ConcatChannels needs at least two keys, got {self.keys}')
        self.out_key = out_key
        self.remove_inputs = remove_inputs

    def transform(self, results: dict) -> dict:
        arrays = []
        for k in self.keys:
            if k not in results:
                raise KeyError(f"ConcatChannels: no '{k}' in the sample (has: {sorted(results)})")
            a = results[k]
            arrays.append(a[..., None] if a.ndim == 2 else a)
        shapes = {a.shape[:2] for a in arrays}
        if len(shapes) != 1:
            paths = ', '.join(str(results.get(f'{k}_path', k)) for k in self.keys)
            raise ValueError(f'ConcatChannels: images differ in size {sorted(shapes)} ({paths})')
        results[self.out_key] = np.concatenate(arrays, axis=2)
        if self.remove_inputs:
            for k in self.keys:
                if k != self.out_key:
                    results.pop(k)
        return results
