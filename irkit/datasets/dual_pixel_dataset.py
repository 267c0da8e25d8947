"""Dual-pixel defocus deblurring data (DPDD): target + left/right sub-aperture views."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Union

from irkit.registry import DATASETS

from .paired_image_dataset import PairedImageDataset

__all__ = ['DualPixelDataset']


@DATASETS.register_module()
class DualPixelDataset(PairedImageDataset):
    """Triplets ``gt`` / ``lq_l`` / ``lq_r`` with matching names in three roots.

    Each sample lists ``gt_path``, ``lq_l_path`` and ``lq_r_path``; the default
    pipeline loads the three images unchanged (DPDD is 16-bit) and stacks the two
    views into a 6-channel ``lq`` with ``ConcatChannels``, as Restormer's
    dual-pixel model expects.
    """

    def __init__(self, gt_root, lq_l_root, lq_r_root, meta_file=None, filename_tmpl: str = '{}',
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None, recursive: bool = True,
                 test_mode: bool = False) -> None:
        self.lq_l_root, self.lq_r_root = str(lq_l_root), str(lq_r_root)
        super().__init__(gt_root, lq_l_root, meta_file=meta_file, filename_tmpl=filename_tmpl,
                         pipeline=pipeline, recursive=recursive, test_mode=test_mode)

    def describe(self) -> str:
        return f'GT {self.gt_root} / LQ-left {self.lq_l_root} / LQ-right {self.lq_r_root}'

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type='DualPixelDataset', gt_root=self.gt_root, lq_l_root=self.lq_l_root,
                    lq_r_root=self.lq_r_root)

    def default_pipeline(self) -> list:
        return [dict(type='LoadImageFromFile', key='gt', color_type='unchanged'),
                dict(type='LoadImageFromFile', key='lq_l', color_type='unchanged'),
                dict(type='LoadImageFromFile', key='lq_r', color_type='unchanged'),
                dict(type='ConcatChannels', keys=['lq_l', 'lq_r'], out_key='lq'),
                dict(type='PackInputs', keys=('gt', 'lq'))]

    def load_data_list(self) -> List[dict]:
        def views(root: str, side: str) -> dict:
            self.lq_root = root
            out = {}
            for d in PairedImageDataset.load_data_list(self):
                out[d['key']] = {(k.replace('lq', f'lq_{side}', 1) if k.startswith('lq') else k): v
                                 for k, v in d.items()}
            return out

        try:
            left, right = views(self.lq_l_root, 'l'), views(self.lq_r_root, 'r')
        finally:
            self.lq_root = self.lq_l_root
        return [{**left[k], **right[k]} for k in sorted(left)]
