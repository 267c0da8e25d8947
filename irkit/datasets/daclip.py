"""DA-CLIP data: the caption CSV of stage 1 and the 10-degradation mixed dataset.

Luo et al., "Controlling Vision-Language Models for Multi-Task Image Restoration"
(ICLR 2024), github.com/Algolzw/daclip-uir.

* :class:`DaCLIPCaptionDataset` reads the official CSV: tab-separated, header
  ``filepath<TAB>title``, title = ``"<caption of the GT>: <degradation>"``. The
  degradation is the text after the **last** ``": "`` (the official parser splits
  on every ``": "`` and crashes on captions that contain one).
* :class:`MixedDegradationDataset` lists ``<root>/<degradation>/{LQ,GT}`` for the ten
  degradation types (official ``MD`` dataset) with the official index -> type rule.
* :class:`CLIPImageTransform` resizes an image for the CLIP tower (224 px).
"""
from __future__ import annotations

import csv
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from irkit.datasets.base import BaseImageDataset
from irkit.datasets.transforms.base import BaseTransform, worker_rng
from irkit.fileio.lmdb import scan_images
from irkit.fileio.paths import not_found
from irkit.registry import DATASETS, TRANSFORMS

__all__ = ['DEGRADATIONS', 'parse_title', 'read_caption_csv', 'DaCLIPCaptionDataset',
           'MixedDegradationDataset', 'CLIPImageTransform', 'clip_resize']

#: The ten degradation words of Universal-IR, official order (label = index).
DEGRADATIONS = ('motion-blurry', 'hazy', 'jpeg-compressed', 'low-light', 'noisy', 'raindrop',
                'rainy', 'shadowed', 'snowy', 'uncompleted')


def parse_title(title: str, where: str = '') -> Tuple[str, str]:
    """Split ``"caption: degradation"`` at the last ``": "``."""
    idx = title.rfind(': ')
    if idx < 0:
        raise ValueError(f"{where}title {title!r} has no ': ' separating caption and degradation")
    caption, degradation = title[:idx].strip(), title[idx + 2:].strip()
    if not degradation:
        raise ValueError(f'{where}title {title!r} has an empty degradation')
    return caption, degradation


def read_caption_csv(csv_file: str, img_key: str = 'filepath', caption_key: str = 'title',
                     sep: str = '\t') -> List[Dict[str, str]]:
    """Rows of a DA-CLIP CSV as ``{'path', 'caption', 'degradation'}``; relative image
    paths are resolved against the CSV's folder when they do not exist as given."""
    if not os.path.isfile(csv_file):
        raise not_found('caption CSV', csv_file)
    base = os.path.dirname(os.path.abspath(csv_file))
    rows = []
    with open(csv_file, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f, delimiter=sep, quoting=csv.QUOTE_MINIMAL)
        fields = reader.fieldnames or []
        for k in (img_key, caption_key):
            if k not in fields:
                raise KeyError(f"{csv_file}: no column '{k}' (columns: {fields}); the DA-CLIP "
                               f"format is tab-separated with header 'filepath\\ttitle'")
        for line, row in enumerate(reader, start=2):
            path, title = row[img_key], row[caption_key]
            if path is None or title is None:
                raise ValueError(f'{csv_file}:{line}: missing {img_key} or {caption_key}')
            caption, degradation = parse_title(title, where=f'{csv_file}:{line}: ')
            if not os.path.isabs(path) and not os.path.exists(path):
                path = os.path.join(base, path)
            rows.append(dict(path=path, caption=caption, degradation=degradation))
    if not rows:
        raise ValueError(f'{csv_file}: no rows')
    return rows


def clip_resize(img: np.ndarray, size: int = 224, crop: bool = True) -> np.ndarray:
    """Resize the short side to ``size`` (bicubic, antialiased like PIL) and centre-crop
    to ``size x size``; HWC float in [0, 1] -> HWC float32 in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    h, w = t.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) != (h, w):
        t = F.interpolate(t, size=(nh, nw), mode='bicubic', align_corners=False,
                          antialias=True).clamp_(0, 1)
    if crop:
        top, left = (nh - size) // 2, (nw - size) // 2
        t = t[..., top:top + size, left:left + size]
    return t[0].permute(1, 2, 0).contiguous().numpy()


@TRANSFORMS.register_module()
class CLIPImageTransform(BaseTransform):
    """CLIP input of ``results[key]``: optional random square crop (DA-CLIP ``--crop``:
    with probability ``crop_prob`` a crop of side U{low_size..min(H, W)}), then
    resize the short side to ``size`` and centre-crop. Normalisation (OpenAI mean/std)
    is done by the model."""

    def __init__(self, key: str = 'lq', size: int = 224, crop_prob: float = 0.,
                 low_size: int = 64, seed: Optional[int] = None) -> None:
        self.key, self.size, self.crop_prob, self.low_size = key, size, crop_prob, low_size
        self.seed = seed

    def transform(self, results: dict) -> dict:
        img = results[self.key]
        if self.crop_prob > 0:
            rng = self.rng(results)
            if rng.random() < self.crop_prob:
                h, w = img.shape[:2]
                s = int(rng.integers(min(self.low_size, min(h, w)), min(h, w) + 1))
                top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
                img = img[top:top + s, left:left + s]
        results[self.key] = clip_resize(img, self.size)
        return results


_META = ('key', 'sample_idx', 'lq_path', 'gt_path', 'caption', 'degradation', 'degradation_label')


@DATASETS.register_module()
class DaCLIPCaptionDataset(BaseImageDataset):
    """Stage-1 data: LQ images with a caption and a degradation word (official CSV).

    Args:
        csv_file: tab-separated ``filepath``/``title`` file (``tools/daclip_make_csv.py``).
        degradations: the label vocabulary; rows whose degradation is not listed raise.
        img_key, caption_key, sep: CSV column names and separator.
        pipeline: default: load ``lq``, :class:`CLIPImageTransform` (``crop_prob=0.8``
            unless ``test_mode``), pack ``lq`` with the caption and labels.
    Sample: ``lq`` (3x224x224 in [0, 1]), ``caption``, ``degradation``,
    ``degradation_label`` (int), ``key``, ``lq_path``.
    """

    def __init__(self, csv_file: str, degradations: Sequence[str] = DEGRADATIONS,
                 img_key: str = 'filepath', caption_key: str = 'title', sep: str = '\t',
                 pipeline: Optional[list] = None, test_mode: bool = False) -> None:
        self.csv_file = csv_file
        self.degradations = tuple(degradations)
        self.img_key, self.caption_key, self.sep = img_key, caption_key, sep
        super().__init__(pipeline=pipeline, test_mode=test_mode)

    def default_pipeline(self) -> list:
        return [dict(type='LoadImageFromFile', key='lq'),
                dict(type='CLIPImageTransform', key='lq', size=224,
                     crop_prob=0. if self.test_mode else 0.8),
                dict(type='PackInputs', keys=['lq'], meta_keys=list(_META))]

    def describe(self) -> str:
        return self.csv_file

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type=type(self).__name__, degradations=list(self.degradations))

    def load_data_list(self) -> List[dict]:
        out = []
        for i, row in enumerate(read_caption_csv(self.csv_file, self.img_key, self.caption_key,
                                                 self.sep)):
            if row['degradation'] not in self.degradations:
                raise ValueError(f"{self.csv_file}: row {i + 2} has degradation "
                                 f"'{row['degradation']}', not one of {list(self.degradations)}")
            key = os.path.splitext(os.path.basename(row['path']))[0]
            out.append(dict(key=f"{row['degradation']}/{key}", lq_path=row['path'],
                            caption=row['caption'], degradation=row['degradation'],
                            degradation_label=self.degradations.index(row['degradation'])))
        return out


@DATASETS.register_module()
class MixedDegradationDataset(BaseImageDataset):
    """Universal-IR's mixed-degradation data (official ``MD`` dataset).

    Layout: ``<data_root>/<degradation>/LQ/*`` and ``.../GT/*`` paired by sorted order,
    for each entry of ``degradations``. Length = total number of pairs.

    Index rule: training (``test_mode=False``) takes type ``index % len(degradations)``
    and draws a random pair of that type (official balanced sampling); testing returns
    every pair exactly once, type by type (the official round-robin walk can repeat
    and skip pairs when the types have different sizes).

    Args:
        data_root: the folder holding one sub-folder per degradation.
        degradations: degradation names (= sub-folders), label = position.
        captions: optional CSV (``filepath``/``title``) giving each LQ image a caption.
        pipeline: default (train): load both, 256 paired random crop, random
            flip/rotation, pack; (test): load and pack.
        patch_size: the training crop.
        seed: fix the pair draws (else they follow torch's seed per worker).
    Sample: ``lq``, ``gt``, ``degradation`` (= ``task``), ``degradation_label``
    (= ``task_id``), ``key``, paths, and ``caption`` when ``captions`` is given.
    """

    def __init__(self, data_root: str, degradations: Sequence[str] = DEGRADATIONS,
                 captions: Optional[str] = None, pipeline: Optional[list] = None,
                 patch_size: int = 256, test_mode: bool = False, seed: Optional[int] = None) -> None:
        self.data_root = data_root
        self.degradations = tuple(degradations)
        self.captions_file = captions
        self.patch_size = patch_size
        self.seed = seed
        self._epoch_draws = 0
        super().__init__(pipeline=pipeline, test_mode=test_mode)

    def default_pipeline(self) -> list:
        meta = list(_META) + ['task', 'task_id']
        if self.test_mode:
            return [dict(type='LoadImageFromFile', key='gt'),
                    dict(type='LoadImageFromFile', key='lq'),
                    dict(type='PackInputs', keys=['lq', 'gt'], meta_keys=meta)]
        return [dict(type='LoadImageFromFile', key='gt'),
                dict(type='LoadImageFromFile', key='lq'),
                dict(type='PairedRandomCrop', gt_patch_size=self.patch_size),
                dict(type='RandomDihedral', keys=['lq', 'gt']),
                dict(type='PackInputs', keys=['lq', 'gt'], meta_keys=meta)]

    def describe(self) -> str:
        return f'{self.data_root} ({", ".join(self.degradations)})'

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type=type(self).__name__, degradations=list(self.degradations))

    def load_data_list(self) -> List[dict]:
        captions = {}
        if self.captions_file is not None:
            for row in read_caption_csv(self.captions_file):
                captions[os.path.normpath(os.path.abspath(row['path']))] = row['caption']
        self.per_type: List[List[dict]] = []
        for label, deg in enumerate(self.degradations):
            lq_dir = os.path.join(self.data_root, deg, 'LQ')
            gt_dir = os.path.join(self.data_root, deg, 'GT')
            for d in (lq_dir, gt_dir):
                if not os.path.isdir(d):
                    raise not_found('MixedDegradationDataset: folder', d,
                                    ' (layout: <data_root>/<degradation>/{LQ,GT})')
            lqs = sorted(p for _, p in scan_images(lq_dir))
            gts = sorted(p for _, p in scan_images(gt_dir))
            if len(lqs) != len(gts):
                raise ValueError(f"MixedDegradationDataset: '{deg}' has {len(lqs)} LQ and "
                                 f'{len(gts)} GT images ({lq_dir}, {gt_dir})')
            if not lqs:
                raise ValueError(f"MixedDegradationDataset: '{deg}' has no images in {lq_dir}")
            items = []
            for lq, gt in zip(lqs, gts):
                info = dict(key=f'{deg}/{os.path.splitext(os.path.basename(lq))[0]}',
                            lq_path=lq, gt_path=gt, degradation=deg, degradation_label=label,
                            task=deg, task_id=label)
                cap = captions.get(os.path.normpath(os.path.abspath(lq)))
                if cap is not None:
                    info['caption'] = cap
                elif captions:
                    raise KeyError(f'{self.captions_file} has no caption for {lq}')
                items.append(info)
            self.per_type.append(items)
        return [it for items in self.per_type for it in items]

    def _pick(self, index: int) -> dict:
        if self.test_mode:
            return self.data_list[index]
        items = self.per_type[index % len(self.degradations)]
        if self.seed is None:
            rng = worker_rng()  # follows torch's seed, differs between workers
        else:
            rng = np.random.default_rng([int(self.seed), index, self._epoch_draws])
            self._epoch_draws += 1
        return items[int(rng.integers(len(items)))]

    def get_data_info(self, idx: int) -> dict:
        info = dict(self._pick(idx))
        info['sample_idx'] = idx
        return info
