"""Mixing several task datasets with per-task repeat factors (all-in-one restoration)."""
from __future__ import annotations

import bisect
from typing import List, Optional, Sequence, Union

from torch.utils.data import Dataset

from irkit.datasets.samplers import seeded_sample
from irkit.registry import DATASETS

__all__ = ['AllInOneDataset']


@DATASETS.register_module()
class AllInOneDataset(Dataset):
    """Concatenate task datasets, each repeated ``repeats[i]`` times, labelled by task.

    Every sample gets ``task`` (the name) and ``task_id`` (its index in
    ``self.task_names``, the unique names in first-seen order, so several
    datasets may share a task). PromptIR's recipe: BSD400+WED with
    ``AddGaussianNoise`` at sigma 15, 25, 50 (three datasets, each x3),
    Rain100L x120, RESIDE OTS x1.

    Args:
        datasets: dataset configs (built from ``DATASETS``) or dataset objects.
        tasks: one name per dataset; default: the dataset's ``task`` attribute,
            else ``'task{i}'``.
        repeats: one positive int per dataset (default all 1).
    """

    def __init__(self, datasets: Sequence[Union[dict, Dataset]],
                 tasks: Optional[Sequence[str]] = None,
                 repeats: Optional[Sequence[int]] = None) -> None:
        if not datasets:
            raise ValueError('AllInOneDataset: datasets is empty')
        self.datasets: List[Dataset] = [DATASETS.build(d) if isinstance(d, dict) else d
                                        for d in datasets]
        n = len(self.datasets)
        if tasks is None:
            tasks = [getattr(d, 'task', None) or f'task{i}' for i, d in enumerate(self.datasets)]
        if len(tasks) != n:
            raise ValueError(f'AllInOneDataset: {len(tasks)} tasks for {n} datasets')
        repeats = [1] * n if repeats is None else list(repeats)
        if len(repeats) != n or any(int(r) != r or r < 1 for r in repeats):
            raise ValueError(f'AllInOneDataset: repeats must be {n} positive integers, got {repeats}')
        self.tasks = list(tasks)
        self.repeats = [int(r) for r in repeats]
        self.task_names = list(dict.fromkeys(self.tasks))
        self.sizes = [len(d) for d in self.datasets]
        for i, s in enumerate(self.sizes):
            if s == 0:
                raise ValueError(f"AllInOneDataset: dataset {i} (task '{self.tasks[i]}') is empty")
        self.cumulative = []
        total = 0
        for s, r in zip(self.sizes, self.repeats):
            total += s * r
            self.cumulative.append(total)

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type='AllInOneDataset', tasks=self.tasks, repeats=self.repeats,
                    task_names=self.task_names, sizes=self.sizes)

    def full_init(self) -> None:
        """Sub-datasets are complete when built."""

    def __len__(self) -> int:
        return self.cumulative[-1]

    def locate(self, idx: int):
        """``(dataset index, index inside it)`` of global sample ``idx``."""
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'AllInOneDataset index {idx} out of range ({len(self)} samples)')
        d = bisect.bisect_right(self.cumulative, idx)
        start = self.cumulative[d - 1] if d else 0
        return d, (idx - start) % self.sizes[d]

    def __getitem__(self, idx: int) -> dict:
        d, local = self.locate(int(idx))
        with seeded_sample(idx):  # the sub-dataset gets a plain index
            sample = self.datasets[d][local]
        sample['task'] = self.tasks[d]
        sample['task_id'] = self.task_names.index(self.tasks[d])
        return sample

    def __repr__(self) -> str:
        parts = ', '.join(f'{t} {s}x{r}' for t, s, r in zip(self.tasks, self.sizes, self.repeats))
        return f'AllInOneDataset({len(self)} samples: {parts})'
