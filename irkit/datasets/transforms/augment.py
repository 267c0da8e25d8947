"""Geometric augmentation (identical for all keys) and the MixUp batch augmentation."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

from irkit.registry import TRANSFORMS

from .base import BaseTransform, to_keys

__all__ = ['RandomFlip', 'RandomTranspose', 'RandomRot90', 'RandomDihedral', 'MixUp',
           'dihedral']


def dihedral(img: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 flips/rotations (mode 0 = identity; BasicSR/Restormer's numbering):
    1 flipud, 2 rot90, 3 rot90+flipud, 4 rot180, 5 rot180+flipud, 6 rot270, 7 rot270+flipud."""
    k, flip = divmod(mode, 2)
    out = np.rot90(img, k, axes=(0, 1)) if k else img
    if flip:
        out = out[::-1]
    return np.ascontiguousarray(out)


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip all ``keys`` together with probability ``flip_ratio``.

    ``direction``: ``'horizontal'`` (left-right), ``'vertical'`` (up-down) or
    ``'diagonal'`` (both).
    """

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], flip_ratio: float = 0.5,
                 direction: str = 'horizontal', seed: Optional[int] = None) -> None:
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ValueError(f"direction must be 'horizontal', 'vertical' or 'diagonal', got {direction!r}")
        self.keys = to_keys(keys)
        self.flip_ratio = float(flip_ratio)
        self.direction = direction
        self.seed = seed

    def transform(self, results: dict) -> dict:
        flip = bool(self.rng(results).random() < self.flip_ratio)
        if flip:
            for k in self.keys:
                img = results[k]
                if self.direction in ('horizontal', 'diagonal'):
                    img = img[:, ::-1]
                if self.direction in ('vertical', 'diagonal'):
                    img = img[::-1]
                results[k] = np.ascontiguousarray(img)
        results[f'flip_{self.direction}'] = flip
        return results


@TRANSFORMS.register_module()
class RandomTranspose(BaseTransform):
    """Swap height and width of all ``keys`` with probability ``transpose_ratio``."""

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], transpose_ratio: float = 0.5,
                 seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.transpose_ratio = float(transpose_ratio)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        do = bool(self.rng(results).random() < self.transpose_ratio)
        if do:
            for k in self.keys:
                results[k] = np.ascontiguousarray(np.swapaxes(results[k], 0, 1))
        results['transpose'] = do
        return results


@TRANSFORMS.register_module()
class RandomRot90(BaseTransform):
    """Rotate all ``keys`` by the same uniformly drawn multiple of 90 degrees
    (counter-clockwise ``k`` in {0, 1, 2, 3}, stored in ``results['rot90_k']``)."""

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        k = int(self.rng(results).integers(0, 4))
        if k:
            for key in self.keys:
                results[key] = np.ascontiguousarray(np.rot90(results[key], k, axes=(0, 1)))
        results['rot90_k'] = k
        return results


@TRANSFORMS.register_module()
class RandomDihedral(BaseTransform):
    """One of the 8 flip/rotation modes for all ``keys`` (Restormer's ``random_augmentation``
    with ``randint(0, 7)``; ``exclude_identity=True`` gives PromptIR's ``randint(1, 7)``)."""

    at_inference = 'drop'

    def __init__(self, keys: Union[str, Sequence[str]], exclude_identity: bool = False,
                 seed: Optional[int] = None) -> None:
        self.keys = to_keys(keys)
        self.exclude_identity = exclude_identity
        self.seed = seed

    def transform(self, results: dict) -> dict:
        mode = int(self.rng(results).integers(1 if self.exclude_identity else 0, 8))
        for key in self.keys:
            results[key] = dihedral(results[key], mode)
        results['dihedral_mode'] = mode
        return results


@TRANSFORMS.register_module()
class MixUp:
    """MPRNet's denoising MixUp, a *batch* augmentation.

    ``__call__(batch)`` takes the model's batch dict with NCHW tensors and returns a
    new dict where, for every listed key, ``x = lam * x + (1 - lam) * x[perm]`` with
    one ``lam ~ Beta(alpha, alpha)`` per sample and one random permutation shared by
    all keys (so ``lq`` and ``gt`` stay paired). Other entries are passed through.

    Args:
        alpha: Beta parameter (MPRNet: 0.6).
        keys: tensors to mix (default ``('lq', 'gt')``).
    """

    def __init__(self, alpha: float = 0.6, keys: Sequence[str] = ('lq', 'gt')) -> None:
        if alpha <= 0:
            raise ValueError(f'alpha must be > 0, got {alpha}')
        self.alpha = float(alpha)
        self.keys = to_keys(keys)
        self._beta = torch.distributions.Beta(torch.tensor([self.alpha]), torch.tensor([self.alpha]),
                                              validate_args=False)

    def __call__(self, batch: dict) -> dict:
        missing = [k for k in self.keys if not isinstance(batch.get(k), torch.Tensor)]
        if missing:
            raise KeyError(f'MixUp needs NCHW tensors {missing} in the batch (has {sorted(batch)})')
        n = batch[self.keys[0]].shape[0]
        lam = self._beta.sample((n,)).view(n, 1, 1, 1)
        perm = torch.randperm(n)
        out = dict(batch)
        for k in self.keys:
            x = batch[k]
            lk = lam.to(device=x.device, dtype=x.dtype)
            out[k] = lk * x + (1 - lk) * x[perm.to(x.device)]
        return out

    def __repr__(self) -> str:
        return f'MixUp(alpha={self.alpha}, keys={self.keys})'
