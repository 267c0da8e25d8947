"""Images with inpainting masks, generated on the fly or read from files."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Union

from irkit.registry import DATASETS

from .base import BaseImageDataset, Source

__all__ = ['InpaintingDataset']


@DATASETS.register_module()
class InpaintingDataset(BaseImageDataset):
    """Images (``gt``) plus masks (``mask``: ``1 x H x W``, 1 = known, 0 = hole).

    Without ``mask_root`` the default pipeline draws MAT's large masks
    (``GenerateMATMask``): fresh masks in training, and in ``test_mode`` a mask
    fixed per image (seeded by ``mask_seed`` and the sample key) so evaluations
    are reproducible. With ``mask_root`` the masks are read from files
    (``LoadMask``; white = hole unless ``mask_white_is_hole=False``, which MAT's
    released masks need), paired with the images by key (same relative name,
    any extension) or, ``mask_match='index'``, by sorted position (MAT's
    validation protocol; counts must be equal).

    Args:
        data_root: image folder or ``.lmdb``.
        mask_root: optional mask folder or ``.lmdb``.
        meta_file: optional image list.
        pipeline: transform configs (default: load, mask, pack ``gt`` and ``mask``).
        mask_match: ``'key'`` or ``'index'``.
        mask_variant: MAT variant for the default generated masks.
        mask_seed: seed of the fixed evaluation masks (``test_mode=True``).
        mask_white_is_hole: file convention for the default ``LoadMask``.
        recursive: scan sub-folders.
        test_mode: evaluation flag.
    """

    def __init__(self, data_root, mask_root=None, meta_file=None,
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None,
                 mask_match: str = 'key', mask_variant: str = 'large', mask_seed: int = 0,
                 mask_white_is_hole: bool = True, recursive: bool = True,
                 test_mode: bool = False) -> None:
        if mask_match not in ('key', 'index'):
            raise ValueError(f"mask_match must be 'key' or 'index', got {mask_match!r}")
        self.data_root = str(data_root)
        self.mask_root = None if mask_root is None else str(mask_root)
        self.meta_file = meta_file
        self.mask_match = mask_match
        self.mask_variant = mask_variant
        self.mask_seed = mask_seed
        self.mask_white_is_hole = mask_white_is_hole
        self.recursive = recursive
        super().__init__(pipeline, test_mode)

    def describe(self) -> str:
        return self.data_root + (f' (masks {self.mask_root})' if self.mask_root else '')

    @property
    def metainfo(self) -> dict:
        return dict(dataset_type='InpaintingDataset', data_root=self.data_root,
                    mask_root=self.mask_root)

    def default_pipeline(self) -> list:
        if self.mask_root is not None:
            mask = dict(type='LoadMask', key='mask', white_is_hole=self.mask_white_is_hole)
        else:
            mask = dict(type='GenerateMATMask', variant=self.mask_variant,
                        seed=self.mask_seed if self.test_mode else None)
        return [dict(type='LoadImageFromFile', key='gt'), mask,
                dict(type='PackInputs', keys=('gt', 'mask'))]

    def _check_mask_convention(self) -> None:
        """A mask folder that states its convention (``manifest.json`` of tools/make_mask_sets.py:
        ``"convention": "white = hole ..."``) must be read with that polarity."""
        import json
        import os
        manifest = os.path.join(self.mask_root, 'manifest.json')
        if not os.path.isfile(manifest):
            return
        try:
            convention = str(json.load(open(manifest, encoding='utf-8')).get('convention', ''))
        except (OSError, ValueError):
            return
        white_is_hole = convention.replace(' ', '').lower().startswith('white=hole')
        white_is_known = convention.replace(' ', '').lower().startswith('white=known')
        if not (white_is_hole or white_is_known):
            return
        for t in getattr(self.pipeline, 'transforms', []):
            declared = getattr(t, 'white_is_hole', None)
            if declared is not None and bool(declared) != white_is_hole:
                raise ValueError(
                    f"{self.mask_root}: its manifest.json says '{convention}' but the pipeline's "
                    f"{type(t).__name__} reads white_is_hole={declared}; set white_is_hole={white_is_hole} "
                    '(mask_white_is_hole for the default pipeline)')

    def load_data_list(self) -> List[dict]:
        img = Source(self.data_root, 'gt', self.meta_file, self.recursive)
        data = [dict(key=k, **img.items[k]) for k in sorted(img.items)]
        if self.mask_root is None or not data:
            return data
        masks = Source(self.mask_root, 'mask', None, self.recursive)
        self._check_mask_convention()
        if self.mask_match == 'index':
            if len(masks.items) != len(data):
                raise ValueError(f"mask_match='index' needs as many masks as images: "
                                 f'{len(masks.items)} masks in {masks.describe()}, {len(data)} '
                                 f'images in {img.describe()}')
            for d, mk in zip(data, sorted(masks.items)):
                d.update(masks.items[mk])
            return data
        missing = [d['key'] for d in data if d['key'] not in masks.items]
        if missing:
            raise ValueError(f'{len(missing)} images in {img.describe()} have no mask with the '
                             f'same name in {masks.describe()}: ' + ', '.join(missing[:20])
                             + (' ...' if len(missing) > 20 else ''))
        for d in data:
            d.update(masks.items[d['key']])
        return data
