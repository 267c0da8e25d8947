"""Paired LQ/GT images from folders or BasicSR-format LMDBs."""
from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence, Union

import torch

from irkit.fileio.lmdb import unmatched_message
from irkit.registry import DATASETS

from .base import BaseImageDataset, Source, ids_from_keys

__all__ = ['PairedImageDataset']


@DATASETS.register_module()
class PairedImageDataset(BaseImageDataset):
    """LQ/GT pairs; each root is an LMDB if it ends in ``.lmdb``, else a folder.

    Folders are scanned recursively (or listed by ``meta_file``); LMDBs are listed
    by their ``meta_info.txt`` (or ``meta_file``). A sample's ``key`` is its id:
    the GT path relative to ``gt_root`` without extension.

    Args:
        gt_root, lq_root: folders or ``.lmdb`` databases.
        meta_file: optional list of GT images (BasicSR meta-info format, first
            token = file name relative to ``gt_root``); only those are used.
        filename_tmpl: LQ base name from the id, e.g. ``'{}x4'`` (BasicSR's
            ``filename_tmpl``) or ``'rain-{}'``.
        pipeline: list of transform configs; default loads both images and packs
            ``gt``, ``lq`` (float32 RGB CHW in [0, 1]) and ``key``.
        scale: GT size = ``scale`` x LQ size (checked for every sample, and for
            LMDBs from the meta shapes when the dataset is built).
        gt_filename_tmpl: GT base name from the id (e.g. ``'norain-{}'``).
        lq_suffix_sep: many-to-one pairing: LQ files named ``{id}{sep}{anything}``
            (RESIDE OTS ``part1/0001_0.8_0.2.jpg`` with ``'_'``) all pair with the GT
            ``{id}`` in the same sub-folder or, failing that, at the top of ``gt_root``;
            the dataset then has one sample per LQ file, keyed by the LQ name.
        recursive: scan sub-folders.
        test_mode: evaluation flag (for pipelines and wrappers).
        task: optional label copied into every sample (``results['task']``).
        check_size: verify GT = scale x LQ after the pipeline.
    """

    def __init__(self, gt_root, lq_root, meta_file=None, filename_tmpl: str = '{}',
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None, scale: int = 1,
                 gt_filename_tmpl: str = '{}', lq_suffix_sep: Optional[str] = None,
                 recursive: bool = True, test_mode: bool = False, task: Optional[str] = None,
                 check_size: bool = True) -> None:
        self.gt_root, self.lq_root = str(gt_root), str(lq_root)
        self.meta_file = meta_file
        self.filename_tmpl = filename_tmpl
        self.gt_filename_tmpl = gt_filename_tmpl
        self.lq_suffix_sep = lq_suffix_sep
        self.scale = int(scale)
        if self.scale < 1:
            raise ValueError(f'scale must be a positive integer, got {scale}')
        self.recursive = recursive
        self.task = task
        self.check_size = check_size
        super().__init__(pipeline, test_mode)

    def describe(self) -> str:
        return f'GT {self.gt_root} / LQ {self.lq_root}'

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type='PairedImageDataset', gt_root=self.gt_root,
                    lq_root=self.lq_root, scale=self.scale, task=self.task)

    def default_pipeline(self) -> list:
        return [dict(type='LoadImageFromFile', key='gt'), dict(type='LoadImageFromFile', key='lq'),
                dict(type='PackInputs', keys=('gt', 'lq'))]

    def load_data_list(self) -> List[dict]:
        gt = Source(self.gt_root, 'gt', self.meta_file, self.recursive)
        lq = Source(self.lq_root, 'lq', None, self.recursive)
        for src in (gt, lq):
            if not src.items:
                raise ValueError(f'PairedImageDataset: empty dataset, no images in {src.describe()}')
        gt_ids = ids_from_keys(gt.items, self.gt_filename_tmpl, gt.describe())
        id_to_gt = {}
        for k, i in gt_ids.items():
            if i in id_to_gt:
                raise ValueError(f"GT files {id_to_gt[i]} and {k} in {gt.describe()} map to the same id '{i}'")
            id_to_gt[i] = k
        if self.lq_suffix_sep is not None:
            return self._many_to_one(gt, lq, id_to_gt)
        lq_ids = ids_from_keys(lq.items, self.filename_tmpl, lq.describe())
        id_to_lq = {i: k for k, i in lq_ids.items()}
        only_gt = sorted(i for i in id_to_gt if i not in id_to_lq)
        only_lq = [] if self.meta_file is not None else sorted(i for i in id_to_lq if i not in id_to_gt)
        if only_gt or only_lq:
            raise ValueError(unmatched_message(
                [id_to_gt[i] for i in only_gt], [id_to_lq[i] for i in only_lq],
                gt.describe(), lq.describe()) + f"\n  (LQ names are filename_tmpl={self.filename_tmpl!r} "
                f'applied to the GT id)')
        data, mismatch = [], []
        for i in sorted(id_to_gt):
            gk, lk = id_to_gt[i], id_to_lq[i]
            if gk in gt.shapes and lk in lq.shapes:
                (gh, gw, _), (lh, lw, _) = gt.shapes[gk], lq.shapes[lk]
                if (gh, gw) != (lh * self.scale, lw * self.scale):
                    mismatch.append(f"'{i}': GT {gh}x{gw}, LQ {lh}x{lw}")
            data.append(dict(key=i, scale=self.scale, **gt.items[gk], **lq.items[lk],
                             **({'task': self.task} if self.task is not None else {})))
        if mismatch:
            raise ValueError(f'LQ/GT size mismatch (GT must be scale={self.scale} x LQ) in '
                             f'{len(mismatch)} pairs of {self.describe()}: ' + '; '.join(mismatch[:20]))
        return data

    def _many_to_one(self, gt: Source, lq: Source, id_to_gt: dict) -> List[dict]:
        sep = self.lq_suffix_sep
        data, orphans = [], []
        for lk in sorted(lq.items):
            d, name = os.path.split(lk)
            base = name.split(sep, 1)[0]
            # same sub-folder as the GT first, else any GT with that name at the top
            # (RESIDE OTS: synthetic/partN/0001_0.8_0.2.jpg -> original/0001.jpg)
            ident = f'{d}/{base}' if d and f'{d}/{base}' in id_to_gt else base
            if ident not in id_to_gt:
                orphans.append(lk)
                continue
            data.append(dict(key=lk, scale=self.scale, **gt.items[id_to_gt[ident]], **lq.items[lk],
                             **({'task': self.task} if self.task is not None else {})))
        if orphans:
            raise ValueError(unmatched_message([], orphans, gt.describe(), lq.describe())
                             + f"\n  (an LQ file '<id>{sep}...' needs the GT '<id>')")
        return data

    def check_results(self, results: dict, info: dict) -> None:
        if not self.check_size or 'gt' not in results or 'lq' not in results:
            return
        gt, lq = results['gt'], results['lq']
        scale = int(results.get('scale', self.scale))
        gs = tuple(gt.shape[-2:]) if isinstance(gt, torch.Tensor) else tuple(gt.shape[:2])
        ls = tuple(lq.shape[-2:]) if isinstance(lq, torch.Tensor) else tuple(lq.shape[:2])
        if gs != (ls[0] * scale, ls[1] * scale):
            raise ValueError(f'LQ/GT size mismatch: GT {gs[0]}x{gs[1]} ({info.get("gt_path")}), '
                             f'LQ {ls[0]}x{ls[1]} ({info.get("lq_path")}), expected GT = {scale} x LQ')
