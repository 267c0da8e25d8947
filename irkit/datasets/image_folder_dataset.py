"""Clean images from a folder or LMDB (LQ synthesised by degradation transforms)."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Union

from irkit.registry import DATASETS

from .base import BaseImageDataset, Source

__all__ = ['ImageFolderDataset']


@DATASETS.register_module()
class ImageFolderDataset(BaseImageDataset):
    """Images under ``data_root`` (folder scanned recursively, or ``.lmdb``).

    Each sample holds ``key`` and ``{key_name}_path`` (default ``gt_path``); the
    default pipeline loads and packs ``gt``. Put degradations in the pipeline to
    make ``lq`` on the fly, e.g. ``AddGaussianNoise(sigma=25)``.

    Args:
        data_root: folder or ``.lmdb``.
        meta_file: optional list of images (first token per line, relative path).
        pipeline: transform configs.
        recursive: scan sub-folders.
        key_name: results key of the image (``'gt'``).
        test_mode: evaluation flag.
        task: optional label copied into every sample.
    """

    def __init__(self, data_root, meta_file=None,
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None,
                 recursive: bool = True, key_name: str = 'gt', test_mode: bool = False,
                 task: Optional[str] = None) -> None:
        self.data_root = str(data_root)
        self.meta_file = meta_file
        self.recursive = recursive
        self.key_name = key_name
        self.task = task
        super().__init__(pipeline, test_mode)

    def describe(self) -> str:
        return str(self.data_root)

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type='ImageFolderDataset', data_root=self.data_root, task=self.task)

    def default_pipeline(self) -> list:
        return [dict(type='LoadImageFromFile', key=self.key_name),
                dict(type='PackInputs', keys=(self.key_name,))]

    def load_data_list(self) -> List[dict]:
        src = Source(self.data_root, self.key_name, self.meta_file, self.recursive)
        extra = {'task': self.task} if self.task is not None else {}
        return [dict(key=k, **src.items[k], **extra) for k in sorted(src.items)]
