"""(LQ, GT, guidance) triples for TDR's reference-guided restoration (stage 3).

The guidance ("reference") images are rendered beforehand by
``tools/tdr_generate_guidance.py`` (one 512x512 PNG per input image, named after
the input's key). :class:`GuidanceDataset` wraps any irkit dataset (paired,
all-in-one, ...) and adds ``ref`` (float32 RGB CHW in [0, 1], not cropped: the
whole guidance image, as the release) and ``ref_path`` to each sample.

Around an :class:`~irkit.datasets.AllInOneDataset` the guidance is looked up per
task (``ref_root={task: folder}``) from the inner sample's listing (key, file
names) and the task label the all-in-one dataset assigns; the sample keeps its
``task``/``task_id``. Repeated samples share one lookup.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Union

import torch
from torch.utils.data import Dataset

from irkit.datasets.transforms.loading import decode_image
from irkit.fileio.lmdb import scan_images
from irkit.fileio.paths import not_found
from irkit.registry import DATASETS

__all__ = ['GuidanceDataset']


def _stem(path: Optional[str]) -> str:
    return os.path.splitext(os.path.basename(path))[0] if path else ''


@DATASETS.register_module()
class GuidanceDataset(Dataset):
    """Add the precomputed TDR guidance image to every sample of ``dataset``.

    Args:
        dataset: the inner dataset (config dict or dataset object) yielding ``lq``,
            ``gt``, ``key`` (and ``lq_path``/``gt_path``/``task`` when known).
        ref_root: folder of guidance images, or ``{task: folder}`` for all-in-one
            data (a sample's ``task`` selects the folder).
        ref_name: format string giving a sample's guidance file name without
            extension, from the fields ``key``, ``lq_stem``, ``gt_stem`` (file base
            names) and ``task``; default ``'{key}'`` (what the generation tool writes
            when run on the folder the keys come from). A ``{task: format}`` dict sets
            it per task (tasks not listed use ``'{key}'``), e.g. ``{'derain':
            '{lq_stem}'}`` for Rain100L guidance rendered from ``rain-N.png``.
        strict: check at construction that every sample has its guidance file
            (the error lists the missing ones).
    """

    def __init__(self, dataset: Union[dict, Dataset], ref_root: Union[str, Dict[str, str]],
                 ref_name: Union[str, Dict[str, str]] = '{key}', strict: bool = True) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.ref_root = ref_root
        self.ref_name = ref_name
        self._index: Dict[Optional[str], Dict[str, str]] = {}
        roots = ref_root if isinstance(ref_root, dict) else {None: ref_root}
        for task, root in roots.items():
            if not os.path.isdir(str(root)):
                raise not_found('guidance folder' + (f" (task '{task}')" if task else ''), str(root),
                                '; render it with tools/tdr_generate_guidance.py')
            self._index[task] = dict(scan_images(str(root)))
        self.ref_paths: List[Optional[str]] = []
        missing = []
        seen: Dict[object, Optional[str]] = {}
        for i in range(len(self.dataset)):
            uid = self._unique_id(i)
            if uid not in seen:
                info = self._info(i)
                seen[uid] = self._find(info)
                if seen[uid] is None:
                    missing.append(self._name(info))
            self.ref_paths.append(seen[uid])
        if strict and missing:
            raise FileNotFoundError(
                f'{len(missing)} of {len(self.dataset)} samples have no guidance image under '
                f"{ref_root} (ref_name={ref_name!r}): " + ', '.join(missing[:10])
                + (' ...' if len(missing) > 10 else ''))

    @staticmethod
    def _listing(dataset, i: int) -> dict:
        get = getattr(dataset, 'get_data_info', None)
        return dict(get(i)) if get is not None else {'key': str(i)}

    def _info(self, i: int) -> dict:
        ds = self.dataset
        if all(hasattr(ds, a) for a in ('locate', 'datasets', 'tasks')):  # AllInOneDataset
            d, local = ds.locate(i)
            info = self._listing(ds.datasets[d], local)
            info['task'] = ds.tasks[d]
            return info
        return self._listing(ds, i)

    def _unique_id(self, i: int):
        ds = self.dataset
        if all(hasattr(ds, a) for a in ('locate', 'datasets', 'tasks')):
            return ds.locate(i)  # repeats of one sample share the lookup
        return i

    def _name(self, info: dict) -> str:
        fields = dict(key=info.get('key', ''), lq_stem=_stem(info.get('lq_path')),
                      gt_stem=_stem(info.get('gt_path')), task=info.get('task', ''))
        fmt = (self.ref_name.get(fields['task'], '{key}') if isinstance(self.ref_name, dict)
               else self.ref_name)
        try:
            return fmt.format(**fields)
        except KeyError as e:
            raise KeyError(f'ref_name {fmt!r} uses an unknown field {e}; '
                           f'fields: {", ".join(fields)}') from None

    def _find(self, info: dict) -> Optional[str]:
        task = info.get('task') if isinstance(self.ref_root, dict) else None
        if isinstance(self.ref_root, dict) and task not in self._index:
            raise KeyError(f"sample task {task!r} has no guidance folder in ref_root "
                           f"(tasks: {', '.join(map(str, self._index))})")
        return self._index[task].get(self._name(info))

    @property
    def metainfo(self) -> dict:
        meta = dict(getattr(self.dataset, 'metainfo', {}) or {})
        meta.update(ref_root=self.ref_root)
        return meta

    def full_init(self) -> None:
        """Listed in ``__init__``."""

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        info = self._info(idx)
        info['ref_path'] = self.ref_paths[idx]
        return info

    def __getitem__(self, idx: int) -> dict:
        sample = self.dataset[idx]
        path = self.ref_paths[idx % len(self)]
        if path is None:
            raise FileNotFoundError(f"no guidance image for sample {idx} "
                                    f"(name {self._name(self._info(idx))!r}) under {self.ref_root}")
        with open(path, 'rb') as f:
            img = decode_image(f.read(), path)
        sample['ref'] = torch.from_numpy(img.transpose(2, 0, 1).copy()).float()
        sample['ref_path'] = path
        return sample
