"""Geometric augmentation (identical for all keys). Batch mixup is ``irkit.hooks.MixUpHook``."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from irkit.registry import TRANSFORMS

from .base import BaseTransform, to_keys

__all__ = ['RandomFlip', 'RandomTranspose', 'RandomRot90', 'RandomDihedral', 'dihedral']


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
