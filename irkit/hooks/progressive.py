"""Training-batch schedules of the Restormer / MPRNet recipes, as hooks.

* :class:`ProgressivePatchHook` -- Restormer's progressive learning: the loader
  yields ``gt_size`` crops at the largest batch size, and at every iteration a
  random subset of the batch and one random sub-window (the same for all images
  of the batch) are kept, following a stage table (official ``basicsr/train.py``).
* :class:`MixUpHook` -- mixup of the training batch: Restormer's
  ``Mixing_Augment`` (one lambda per batch ~ Beta(1.2, 1.2), skipped half of the
  time) or MPRNet's ``MixUp_AUG`` (one lambda per sample ~ Beta(0.6, 0.6), from
  a given iteration on).

Both act in ``before_train_iter`` on the collated batch (a dict of NCHW tensors
or of lists of CHW tensors) in place, before the data preprocessor, which is
exactly where the official scripts apply them.  Randomness comes from torch's
global generator, whose state irkit's training loop saves and restores, so
resumed runs continue identically.
"""
from __future__ import annotations

import bisect
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook

from irkit.registry import HOOKS

__all__ = ['ProgressivePatchHook', 'MixUpHook']


def _as_batch_tensor(value, key: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return torch.stack(list(value))
    raise KeyError(f"the training batch entry '{key}' is not an image batch (got {type(value).__name__})")


def _select(value, indices: list):
    """Keep the samples ``indices`` of a batch entry (tensor, list or tuple)."""
    if isinstance(value, torch.Tensor) and value.dim() >= 1:
        return value[indices]
    if isinstance(value, (list, tuple)):
        return type(value)(value[i] for i in indices)
    return value


@HOOKS.register_module()
class ProgressivePatchHook(Hook):
    """Restormer's progressive patch/batch schedule.

    Args:
        iters: iterations of each stage (Restormer: 92k, 64k, 48k, 36k, 36k, 24k).
        gt_sizes: patch size of each stage (128, 160, 192, 256, 320, 384); the
            loader must crop ``max(gt_sizes)`` (the official ``gt_size``).
        mini_batch_sizes: batch size per GPU of each stage (8, 5, 4, 2, 1, 1); the
            loader's ``batch_size`` must be the largest.
        keys: image entries to crop (``lq`` at ``patch // scale``, others at ``patch``).
        lq_key: which of ``keys`` is the low-resolution input.
        scale: GT/LQ size ratio (1 for restoration).

    Stage ``j`` covers iterations ``(sum(iters[:j]), sum(iters[:j+1])]`` counted from
    1 as in the official loop; past the last stage the last one is kept.
    """

    priority = 'ABOVE_NORMAL'  # before batch mixing hooks, as officially

    def __init__(self, iters: Sequence[int], gt_sizes: Sequence[int],
                 mini_batch_sizes: Sequence[int], keys: Sequence[str] = ('lq', 'gt'),
                 lq_key: str = 'lq', scale: int = 1) -> None:
        if not (len(iters) == len(gt_sizes) == len(mini_batch_sizes)) or not iters:
            raise ValueError('ProgressivePatchHook: iters, gt_sizes and mini_batch_sizes need the '
                             f'same non-zero length, got {len(iters)}, {len(gt_sizes)}, '
                             f'{len(mini_batch_sizes)}')
        if any(int(v) < 1 for v in list(iters) + list(gt_sizes) + list(mini_batch_sizes)):
            raise ValueError('ProgressivePatchHook: iters, gt_sizes and mini_batch_sizes must be '
                             'positive')
        self.iters = [int(v) for v in iters]
        self.gt_sizes = [int(v) for v in gt_sizes]
        self.mini_batch_sizes = [int(v) for v in mini_batch_sizes]
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        self.lq_key = lq_key
        self.scale = int(scale)
        if any(s % self.scale for s in self.gt_sizes):
            raise ValueError(f'ProgressivePatchHook: gt_sizes {self.gt_sizes} must be divisible by '
                             f'scale={self.scale}')
        self.boundaries = []
        total = 0
        for n in self.iters:
            total += n
            self.boundaries.append(total)

    def stage(self, current_iter: int) -> int:
        """Stage index for the 1-based iteration ``current_iter``."""
        return min(bisect.bisect_left(self.boundaries, current_iter), len(self.boundaries) - 1)

    def apply(self, batch: dict, current_iter: int) -> dict:
        """Subsample and crop ``batch`` in place for ``current_iter`` (1-based)."""
        j = self.stage(current_iter)
        patch, mini_bs = self.gt_sizes[j], self.mini_batch_sizes[j]
        missing = [k for k in self.keys if k not in batch]
        if missing:
            raise KeyError(f'ProgressivePatchHook: batch has no {missing} (has {sorted(batch)})')
        images = {k: _as_batch_tensor(batch[k], k) for k in self.keys}
        gt_key = next((k for k in self.keys if k != self.lq_key), self.keys[0])
        n, (h, w) = images[gt_key].shape[0], images[gt_key].shape[-2:]
        if patch > min(h, w):
            raise ValueError(f'ProgressivePatchHook: stage {j} needs {patch}px patches but the loader '
                             f'gives {h}x{w} crops; crop max(gt_sizes)={max(self.gt_sizes)} in the '
                             'train pipeline')
        if mini_bs < n:
            indices = sorted(torch.randperm(n)[:mini_bs].tolist())
            for k in list(batch):
                if k in images:
                    images[k] = images[k][indices]
                else:
                    batch[k] = _select(batch[k], indices)
        if patch < min(h, w):
            # one window for the whole batch, as in the official loop
            top = int((h - patch) * torch.rand(()).item()) // self.scale * self.scale
            left = int((w - patch) * torch.rand(()).item()) // self.scale * self.scale
            for k, img in images.items():
                s = self.scale if k == self.lq_key else 1
                t, l, p = top // s, left // s, patch // s
                images[k] = img[..., t:t + p, l:l + p]
        for k, img in images.items():
            batch[k] = img if isinstance(batch[k], torch.Tensor) else list(img.unbind(0))
        return batch

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        if isinstance(data_batch, dict):
            self.apply(data_batch, runner.iter + 1)


@HOOKS.register_module()
class MixUpHook(Hook):
    """Mix training pairs with a shuffled copy of the batch.

    ``x = lam * x + (1 - lam) * x[perm]`` for every key, with the same ``perm`` and
    ``lam`` for all keys (so ``lq``/``gt`` stay paired).

    Args:
        alpha: Beta(alpha, alpha) parameter (Restormer 1.2, MPRNet 0.6).
        per_sample: one lambda per sample (MPRNet) instead of one per batch (Restormer).
        identity_prob: probability of leaving the batch unmixed (Restormer's
            ``use_identity``: 0.5).
        start_iter: first (0-based) iteration that is mixed (MPRNet: after epoch 5).
        keys: entries to mix.
    """

    priority = 'NORMAL'

    def __init__(self, alpha: float = 1.2, per_sample: bool = False, identity_prob: float = 0.0,
                 start_iter: int = 0, keys: Sequence[str] = ('lq', 'gt')) -> None:
        if alpha <= 0:
            raise ValueError(f'MixUpHook: alpha must be > 0, got {alpha}')
        if not 0 <= identity_prob < 1:
            raise ValueError(f'MixUpHook: identity_prob must be in [0, 1), got {identity_prob}')
        self.alpha = float(alpha)
        self.per_sample = per_sample
        self.identity_prob = float(identity_prob)
        self.start_iter = int(start_iter)
        self.keys = [keys] if isinstance(keys, str) else list(keys)

    def apply(self, batch: dict) -> dict:
        """Mix ``batch`` in place (draws the identity decision, lambda and permutation)."""
        if self.identity_prob > 0 and torch.rand(()).item() < self.identity_prob:
            return batch
        missing = [k for k in self.keys if k not in batch]
        if missing:
            raise KeyError(f'MixUpHook: batch has no {missing} (has {sorted(batch)})')
        images = {k: _as_batch_tensor(batch[k], k) for k in self.keys}
        n = images[self.keys[0]].shape[0]
        beta = torch.distributions.Beta(torch.tensor([self.alpha]), torch.tensor([self.alpha]))
        lam = beta.sample((n if self.per_sample else 1,)).view(-1, 1, 1, 1)
        perm = torch.randperm(n)
        for k, x in images.items():
            lk = lam.to(device=x.device, dtype=x.dtype)
            mixed = lk * x + (1 - lk) * x[perm.to(x.device)]
            batch[k] = mixed if isinstance(batch[k], torch.Tensor) else list(mixed.unbind(0))
        return batch

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        if isinstance(data_batch, dict) and runner.iter >= self.start_iter:
            self.apply(data_batch)
