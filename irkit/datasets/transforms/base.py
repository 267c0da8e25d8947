"""Shared pieces of irkit's transforms: the base class, pipelines and random streams.

Inside a pipeline, images are numpy arrays ``H x W x C`` (masks ``H x W x 1``),
float32 in [0, 1], RGB; :class:`~irkit.datasets.transforms.PackInputs` turns them
into CHW tensors at the end.

Randomness: a transform with ``seed=None`` draws from :func:`worker_rng`, a numpy
generator seeded from torch's global RNG of the current process. PyTorch
gives every DataLoader worker its own seed, so workers never share a stream (the
duplicate-stream artefact of unseeded ``np.random`` in workers cannot happen), and
``torch.manual_seed`` / mmengine's ``randomness=dict(seed=...)`` make training
reproducible. (Under irkit's ``InfiniteSampler`` the datasets seed that RNG per sample
from its position in the data stream, see :mod:`irkit.datasets.samplers`.) A transform
with an int ``seed`` draws from :func:`sample_rng`, seeded from ``(seed, sample key)``:
the same image always gets the same degradation or mask, independent of order, workers
and batch size (evaluation).
"""
from __future__ import annotations

import zlib
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch

from irkit.registry import TRANSFORMS

__all__ = ['BaseTransform', 'Compose', 'worker_rng', 'sample_rng', 'sample_ident', 'to_keys']

def worker_rng() -> np.random.Generator:
    """A numpy generator seeded from torch's global RNG (one draw per call).

    Follows ``torch.manual_seed`` exactly, and differs between DataLoader workers
    because PyTorch seeds every worker differently.
    """
    return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,)).item()))


def sample_ident(results: dict) -> str:
    """The identity a per-sample seed is derived from: ``key`` (else ``sample_idx``)."""
    if results.get('key') is not None:
        return str(results['key'])
    if results.get('sample_idx') is not None:
        return f"#{results['sample_idx']}"
    raise KeyError("a seeded transform needs the sample's 'key' or 'sample_idx' in the results")


def sample_rng(seed: int, results: dict, salt: str = '') -> np.random.Generator:
    """A generator fixed by ``seed``, the sample's key and ``salt`` (stable across runs)."""
    ident = sample_ident(results)
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(ident.encode('utf-8')),
                                  zlib.crc32(salt.encode('utf-8'))])


def to_keys(keys: Union[str, Sequence[str]]) -> List[str]:
    return [keys] if isinstance(keys, str) else list(keys)


class BaseTransform:
    """A transform maps a results dict to a results dict (``__call__`` -> ``transform``).

    ``at_inference`` says what :mod:`irkit.datasets.inference` does with the transform when
    a test pipeline serves inference on user files: ``'keep'`` (default), ``'drop'``
    (benchmark-only crops, flips, paddings), ``'load'`` (an image loader) or ``'mask'`` (a
    mask source, replaced by the user's mask).
    """

    seed: Optional[int] = None
    at_inference: str = 'keep'

    def rng(self, results: dict) -> np.random.Generator:
        """Per-sample generator if ``self.seed`` is an int, else the worker's stream."""
        if self.seed is None:
            return worker_rng()
        return sample_rng(self.seed, results, type(self).__name__)

    @classmethod
    def check_args(cls, **kwargs) -> None:
        """Check constructor arguments without side effects; raise ``ValueError``.

        Called when a config is loaded (:func:`irkit.utils.config.validate_config`), so a
        bad value (``crop_size=0``) is reported with its place in the config before any
        data is read. The default checks nothing.
        """

    def transform(self, results: dict) -> dict:  # pragma: no cover - abstract
        raise TypeError(f'{type(self).__name__} must implement transform()')

    def __call__(self, results: dict) -> dict:
        return self.transform(results)

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


@TRANSFORMS.register_module()
class Compose:
    """Apply transforms in order; entries may be config dicts or callables."""

    def __init__(self, transforms: Optional[Sequence[Union[dict, Callable]]] = None) -> None:
        self.transforms = []
        for t in transforms or []:
            if isinstance(t, dict):
                t = TRANSFORMS.build(t)
            if not callable(t):
                raise TypeError(f'pipeline entry {t!r} is neither a config dict nor callable')
            self.transforms.append(t)

    def __call__(self, results: dict) -> dict:
        for t in self.transforms:
            results = t(results)
            if results is None:
                raise ValueError(f'transform {t!r} returned None')
        return results

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r},' for t in self.transforms)
        return f'Compose([{inner}\n])'
