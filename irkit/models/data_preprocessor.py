"""Turns a collated batch into what a model's ``forward(batch, mode)`` takes."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from irkit.registry import MODELS


@MODELS.register_module()
class DataPreprocessor(BaseDataPreprocessor):
    """Stack and move a batch of samples to the model's device.

    Datasets yield dicts whose image entries (``lq``, ``gt``, ``mask``, ...) are
    float32 CHW tensors in [0, 1] (RGB) and whose other entries (``key``,
    ``task``, paths) are plain values. The dataloader's collate function may
    leave them as lists (mmengine's ``pseudo_collate``) or stack them
    (``default_collate``); either way this returns ``dict(batch=...)`` with the
    image entries as NCHW tensors on the model's device, so that mmengine calls
    ``model.forward(batch=..., mode=...)``.

    Args:
        mean, std: optional per-channel normalisation ``(x - mean) / std`` applied
            to the listed ``norm_keys`` (e.g. ``mean=0.5, std=0.5`` maps [0,1] to
            [-1,1] as MAT expects). Models map outputs back with :meth:`destruct`.
        norm_keys: which entries are normalised (default ``('lq', 'gt')``).
    """

    def __init__(self, mean: Sequence[float] | float | None = None,
                 std: Sequence[float] | float | None = None,
                 norm_keys: Sequence[str] = ('lq', 'gt'),
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.norm_keys = tuple(norm_keys)
        if (mean is None) != (std is None):
            raise ValueError('DataPreprocessor: give both mean and std, or neither')
        self._normalise = mean is not None
        if self._normalise:
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)

    @staticmethod
    def _stack(value: Any) -> Any:
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
            shapes = {tuple(v.shape) for v in value}
            if len(shapes) == 1:
                return torch.stack(list(value))
        return value

    def forward(self, data: Dict[str, Any], training: bool = False) -> Dict[str, Any]:
        if 'batch' in data and len(data) == 1:  # already processed
            data = data['batch']
        batch = {k: self._stack(v) for k, v in data.items()}
        batch = self.cast_data(batch)
        if self._normalise:
            for k in self.norm_keys:
                if isinstance(batch.get(k), torch.Tensor):
                    batch[k] = (batch[k] - self.mean) / self.std
        return dict(batch=batch)

    def destruct(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: back to [0, 1] images."""
        if self._normalise:
            x = x * self.std + self.mean
        return x


def unbatch(batch: Mapping[str, Any], n: int, keys: Optional[Sequence[str]] = None, **first: Any) -> List[dict]:
    """Per-sample dicts of a model's outputs and batch (what ``predict`` returns to metrics/hooks).

    Each sample gets the entries of ``first`` (tensors with ``n`` rows, or lists of ``n``),
    then every per-sample entry of ``batch`` not already there (restricted to ``keys`` when
    given): tensors with ``n`` rows as CPU copies (floating ones as float32), lists/tuples
    of ``n`` items element by element. Other entries are skipped.
    """
    out: List[dict] = [{} for _ in range(n)]
    items = list(first.items()) + [(k, v) for k, v in batch.items() if keys is None or k in keys]
    for k, v in items:
        if isinstance(v, torch.Tensor) and v.dim() >= 1 and v.shape[0] == n:
            for i in range(n):
                if k not in out[i]:
                    out[i][k] = v[i].detach().float().cpu() if v.is_floating_point() else v[i].detach().cpu()
        elif isinstance(v, (list, tuple)) and len(v) == n:
            for i in range(n):
                out[i].setdefault(k, v[i])
    return out
