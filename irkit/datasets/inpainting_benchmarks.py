"""Inpainting benchmarks with a known folder layout (Places365, Places365-Challenge, CelebA-HQ).

:class:`InpaintingBenchmarkDataset` is :class:`InpaintingDataset` plus a check,
before anything is scanned, that the data (and mask) folders exist; when they do
not, the error names the folder layout the configs expect and where the data
comes from, so ``tools/train.py configs/mat_places.py`` stops at once with
instructions instead of a bare "folder not found".
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence, Union

from irkit.datasets.inpainting_dataset import InpaintingDataset
from irkit.fileio.paths import not_found
from irkit.registry import DATASETS

__all__ = ['InpaintingBenchmarkDataset', 'BENCHMARK_LAYOUTS']

BENCHMARK_LAYOUTS = {
    'places365': """\
Places365-Standard, high-resolution images (http://places2.csail.mit.edu/download.html:
'Train images' and 'Validation images' of the "High resolution" Places365-Standard set), and the
fixed MAT evaluation masks (README of https://github.com/fenglinglwb/MAT), laid out as
    data/places365/
        data_large/        training images, any sub-folders (e.g. a/airfield/00000001.jpg), ~1.8 M
        val_large/         the 36,500 validation images (Places365_val_00000001.jpg ...)
        masks_val_512_small/   MAT's fixed small evaluation masks (PNG, white = known pixel,
        masks_val_512_large/   i.e. mask_white_is_hole=False), paired with val_large by sorted index
Point data_root/mask_root (or --cfg-options train_dataloader.dataset.data_root=...) elsewhere if needed.""",
    'places365-challenge': """\
Places365-Challenge high-resolution training images (http://places2.csail.mit.edu/download.html:
'Train images' of the Places365-Challenge 2016 "High resolution" set, ~8 M images, 476 GB; LaMa's
fetch_data/places_challenge_train_download.sh fetches the same 26 tar parts), laid out as
    data/places365_challenge/
        data_large/        training images, any sub-folders
and, for evaluation, Places365-Standard's validation images in data/places365/val_large/ (the
'places365' layout). Point data_root (or --cfg-options train_dataloader.dataset.data_root=...) elsewhere if needed.""",
    'celeba-hq-lama': """\
CelebA-HQ at 256 px split as LaMa does (fetch_data/celebahq_dataset_prepare.sh of
https://github.com/advimman/lama on data256x256.zip: 26,000 train / 2,000 val images from its
train_shuffled.flist, 2,000 visual-test images from val_shuffled.flist), laid out as
    data/celeba-hq-lama/
        train_256/               training images
        val_source_256/          the 2,000 validation images
        visual_test_source_256/  the 2,000 test images
Point data_root (or --cfg-options ...data_root=...) elsewhere if needed.""",
    'celeba-hq': """\
CelebA-HQ at 1024 or 512 px (https://github.com/tkarras/progressive_growing_of_gans, or the
'CelebAMask-HQ' release), split as in MAT (24,183 train / 2,993 validation images), laid out as
    data/celeba-hq/
        train/             training images (e.g. 00000.jpg)
        val/               the 2,993 validation images
        masks_val_512_small/   fixed small evaluation masks, paired with val by sorted index
        masks_val_512_large/   fixed large evaluation masks
Point data_root/mask_root (or --cfg-options ...data_root=...) elsewhere if needed.""",
}


@DATASETS.register_module()
class InpaintingBenchmarkDataset(InpaintingDataset):
    """:class:`InpaintingDataset` for a named benchmark layout (a key of :data:`BENCHMARK_LAYOUTS`:
    ``'places365'``, ``'places365-challenge'``, ``'celeba-hq'``, ``'celeba-hq-lama'``); missing
    folders raise ``FileNotFoundError`` describing the layout.

    All other arguments are those of :class:`InpaintingDataset`.
    """

    def __init__(self, data_root, benchmark: str = 'places365', mask_root=None, meta_file=None,
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None,
                 mask_match: str = 'key', mask_variant: str = 'large', mask_seed: int = 0,
                 mask_white_is_hole: bool = True, recursive: bool = True,
                 test_mode: bool = False) -> None:
        if benchmark not in BENCHMARK_LAYOUTS:
            raise ValueError(f'unknown benchmark {benchmark!r}; choose from {sorted(BENCHMARK_LAYOUTS)}')
        self.benchmark = benchmark
        for what, root in (('data_root', data_root), ('mask_root', mask_root)):
            if root is not None and not os.path.exists(str(root)):
                raise not_found(f'{benchmark} {what}', root,
                                f'\nExpected layout:\n{BENCHMARK_LAYOUTS[benchmark]}')
        super().__init__(data_root, mask_root=mask_root, meta_file=meta_file, pipeline=pipeline,
                         mask_match=mask_match, mask_variant=mask_variant, mask_seed=mask_seed,
                         mask_white_is_hole=mask_white_is_hole, recursive=recursive, test_mode=test_mode)
