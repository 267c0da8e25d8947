"""An infinite sampler whose position can be set, for resuming without replaying the data.

Iteration-based training draws samples from one endless stream: shuffled passes over the
dataset, one after the other, dealt out to the processes (sample ``p`` of the stream goes
to rank ``p % world_size``). mmengine's ``InfiniteSampler`` produces that stream; resuming
at iteration ``N`` then means skipping ``N x batch_size`` samples per process, and
mmengine does it by loading (and throwing away) every skipped batch: hours at 300k
iterations.

irkit's :class:`InfiniteSampler` (registered under the same name in irkit's scope, so
configs need no change) yields the same indices in the same order, and

- :meth:`InfiniteSampler.set_position` starts the stream at any sample without loading
  anything (it only replays the permutations' random generator, milliseconds per pass);
- each index carries the seed of its sample's random augmentation, derived from the
  sampler seed and the sample's position in the stream (:class:`SampleIndex`). irkit's
  datasets run their pipeline under :func:`seeded_sample`, so the crops, flips and noise
  of a sample do not depend on which process or DataLoader worker loads it, or on what
  that worker loaded before; a resumed run therefore continues bit-exactly with any
  number of workers, and one process with batch ``2b`` sees the same samples as two
  processes with batch ``b``.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler as MMEngineInfiniteSampler

from irkit.registry import DATA_SAMPLERS

__all__ = ['InfiniteSampler', 'SampleIndex', 'seeded_sample', 'sample_seed']


class SampleIndex(int):
    """A dataset index (an ``int``) that carries ``seed``, the seed of its sample's randomness."""

    def __new__(cls, index: int, seed: int) -> 'SampleIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):  # sent to DataLoader workers
        return SampleIndex, (int(self), self.seed)

    def __repr__(self) -> str:
        return f'SampleIndex({int(self)}, seed={self.seed})'


def sample_seed(seed: int, position: int) -> int:
    """A 63-bit seed for stream position ``position`` of a sampler seeded with ``seed``."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(position)]).generate_state(2)
    return (int(words[0]) << 31) ^ int(words[1])


@contextmanager
def seeded_sample(idx):
    """Run one sample's loading with the Python, numpy and torch RNGs seeded from ``idx.seed``.

    For a :class:`SampleIndex`; a plain ``int`` index changes nothing. The process's RNG
    states are restored afterwards, so loading a sample never moves the training stream.
    """
    seed = getattr(idx, 'seed', None)
    if seed is None:
        yield
        return
    py, npy, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(th)


@DATA_SAMPLERS.register_module()
class InfiniteSampler(MMEngineInfiniteSampler):
    """mmengine's ``InfiniteSampler`` (same arguments, same index order) with a settable
    position and per-sample seeds; see the module docstring.

    Args:
        dataset: the dataset (only its length is used).
        shuffle: a new random permutation for every pass (else ``0..len-1`` in order).
        seed: seed of the permutations and of the samples' augmentation (the runner passes
            ``randomness.seed``); ``None`` draws one shared by all processes.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: Optional[int] = None) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        if self.size == 0:
            raise ValueError('InfiniteSampler: the dataset is empty')
        self.set_position(0)

    def set_position(self, n: int) -> None:
        """Continue this process's share of the stream after its first ``n`` samples."""
        if n < 0:
            raise ValueError(f'InfiniteSampler.set_position: n must be >= 0, got {n}')
        self.position = int(n)
        self.indices = self._indices_from(self.position)

    def _indices_from(self, n: int) -> Iterator[SampleIndex]:
        g = torch.Generator()
        g.manual_seed(self.seed)
        p = n * self.world_size + self.rank  # position in the stream shared by all processes
        done = 0  # passes whose permutation has been drawn from g
        perm = None
        while True:
            pass_no, i = divmod(p, self.size)
            if perm is None or pass_no >= done:
                if self.shuffle:
                    while done < pass_no:  # skipped passes: advance g, build nothing
                        torch.randperm(self.size, generator=g)
                        done += 1
                    perm = torch.randperm(self.size, generator=g).tolist()
                else:
                    perm = range(self.size)
                done = pass_no + 1
            yield SampleIndex(perm[i], sample_seed(self.seed, p))
            p += self.world_size
