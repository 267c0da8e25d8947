"""Loading images and masks from disk or from a BasicSR-format LMDB."""
from __future__ import annotations

import os
from typing import Optional

import cv2
import numpy as np

from irkit.fileio.image_header import check_pixel_limit
from irkit.fileio.lmdb import get_reader
from irkit.registry import TRANSFORMS

from .base import BaseTransform

__all__ = ['LoadImageFromFile', 'LoadMask', 'LoadRandomMask', 'ImageDecodeError', 'decode_image',
           'read_bytes', 'check_float_image']


class ImageDecodeError(ValueError):
    """A file (or LMDB value) is empty, truncated or not an image; names the source."""


def read_bytes(results: dict, key: str, backend: str = 'auto', db_path: Optional[str] = None
               ) -> tuple:
    """Bytes of ``results[f'{key}_path']`` and a readable name of where they came from.

    ``backend='auto'`` reads from the LMDB named in ``results[f'{key}_lmdb']`` (set by
    irkit's datasets for ``.lmdb`` roots) and from disk otherwise.
    """
    path = results.get(f'{key}_path')
    lmdb_root = db_path or results.get(f'{key}_lmdb')
    use_lmdb = backend == 'lmdb' or (backend == 'auto' and lmdb_root is not None)
    if backend not in ('auto', 'disk', 'lmdb'):
        raise ValueError(f"backend must be 'auto', 'disk' or 'lmdb', got {backend!r}")
    if use_lmdb:
        if lmdb_root is None:
            raise ValueError(f"backend='lmdb' needs db_path or results['{key}_lmdb']")
        lmdb_key = results.get(f'{key}_lmdb_key')
        if lmdb_key is None:
            if path is None:
                raise KeyError(f"no '{key}_lmdb_key' or '{key}_path' in the results")
            lmdb_key = os.path.splitext(os.path.basename(str(path)))[0]
        data = get_reader(lmdb_root).get(lmdb_key)
        source = f"LMDB {lmdb_root} key '{lmdb_key}'"
        if len(data) == 0:
            raise ImageDecodeError(f'{source}: value is empty (0 bytes)')
        return data, source
    if path is None:
        raise KeyError(f"no '{key}_path' in the results (keys: {sorted(results)})")
    path = str(path)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f'image file not found: {path}') from None
    if len(data) == 0:
        raise ImageDecodeError(f'{path}: file is empty (0 bytes)')
    return data, path


def decode_image(data: bytes, source: str, color_type: str = 'color', channel_order: str = 'rgb',
                 to_float32: bool = True) -> np.ndarray:
    """Decode image bytes to ``H x W x C``.

    Conversions (documented in docs/datasets.md):

    * greyscale files with ``color_type='color'`` are repeated to 3 channels;
    * ``color_type='grayscale'`` lets the decoder convert (``cv2.IMREAD_GRAYSCALE``,
      what BasicSR and the official Restormer code read; alpha is ignored);
    * 4-channel (RGBA) files: a fully opaque alpha channel is dropped; any other
      alpha is rejected (the colour under transparent pixels is undefined), use
      ``color_type='unchanged'`` to keep it;
    * 16-bit files are scaled by 1/65535 (8-bit by 1/255) when ``to_float32``;
    * float files (TIFF, EXR) are read as values in [0, 1], unscaled; NaN/Inf or values
      outside [0, 1] are rejected;
    * other pixel types (32-bit integers) are rejected;
    * an image whose header declares more pixels than ``IRKIT_MAX_IMAGE_PIXELS``
      (:mod:`irkit.fileio.image_header`) is rejected before it is decoded.
    """
    if color_type not in ('color', 'grayscale', 'unchanged'):
        raise ValueError(f"color_type must be 'color', 'grayscale' or 'unchanged', got {color_type!r}")
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    # grey: the decoder's own conversion, exactly cv2.imread(path, IMREAD_GRAYSCALE) as BasicSR
    # and the official Restormer loaders read (libpng's conversion differs from cvtColor(BGR2GRAY)
    # of the colour image by one level on many pixels); ANYDEPTH keeps 16 bits
    flags = (cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH) if color_type == 'grayscale' \
        else cv2.IMREAD_UNCHANGED
    check_pixel_limit(data, source)  # from the header, before anything is decoded
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None:
        raise ImageDecodeError(f'{source}: cannot decode image ({len(data)} bytes; truncated, '
                               'corrupt or not an image file)')
    if img.dtype.kind == 'f':
        check_float_image(img, source)
    elif img.dtype not in (np.uint8, np.uint16):
        raise ImageDecodeError(f'{source}: unsupported pixel type {img.dtype}; irkit reads 8- and '
                               '16-bit images and float images with values in [0, 1]')
    if img.ndim == 2:
        img = img[:, :, None]
    c = img.shape[2]
    if c == 4 and color_type != 'unchanged':
        alpha = img[:, :, 3]
        if not np.all(alpha == np.iinfo(img.dtype).max):
            raise ImageDecodeError(
                f'{source}: image has a transparent alpha channel; irkit does not guess the '
                "colour of transparent pixels. Flatten it, or use color_type='unchanged'.")
        img, c = img[:, :, :3], 3
    if c not in (1, 3, 4):
        raise ImageDecodeError(f'{source}: unsupported number of channels {c}')
    if color_type == 'color' and c == 1:
        img = np.repeat(img, 3, axis=2)
    if channel_order == 'rgb' and img.shape[2] == 3:
        img = img[:, :, ::-1]
    elif channel_order == 'rgb' and img.shape[2] == 4:
        img = img[:, :, [2, 1, 0, 3]]
    if to_float32:
        img = (img.astype(np.float32) if img.dtype.kind == 'f'
               else img.astype(np.float32) / float(np.iinfo(img.dtype).max))
    return np.ascontiguousarray(img)


def check_float_image(img: np.ndarray, source: str) -> None:
    """A float image (TIFF, EXR...) holds values in [0, 1] as they are; NaN/Inf and values
    outside [0, 1] are refused (irkit does not guess a scale or fill holes)."""
    finite = np.isfinite(img)
    if not finite.all():
        n_nan = int(np.isnan(img).sum())
        raise ImageDecodeError(f'{source}: float image with {img.size - int(finite.sum())} non-finite '
                               f'values ({n_nan} NaN, {img.size - int(finite.sum()) - n_nan} Inf)')
    lo, hi = float(img.min()), float(img.max())
    if lo < 0 or hi > 1:
        raise ImageDecodeError(f'{source}: float image with values in [{lo:.4g}, {hi:.4g}]; irkit '
                               'reads float images as values in [0, 1]: rescale it first')


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load ``results[f'{key}_path']`` into ``results[key]`` (``H x W x C``).

    Args:
        key: which image (``'gt'``, ``'lq'``, ``'img'``...).
        color_type: ``'color'`` (3 channels), ``'grayscale'`` (1 channel) or
            ``'unchanged'``.
        channel_order: ``'rgb'`` (irkit's convention) or ``'bgr'``.
        to_float32: float32 in [0, 1] (default) or the file's integer type.
        backend: ``'auto'`` (LMDB when the dataset root is an ``.lmdb``), ``'disk'``
            or ``'lmdb'``.
        db_path: LMDB folder for ``backend='lmdb'`` when the dataset did not set
            ``results[f'{key}_lmdb']``; the key is then the file name without extension.
        as_8bit: read 16-bit files as 8-bit by keeping the high byte (``x >> 8``, then
            / 255), as ``cv2.imread``'s default flag and hence BasicSR's loader do, e.g.
            Restormer's single-image recipe reading DPDD's 16-bit PNGs. 8-bit files are
            unaffected.

    Also sets ``results[f'ori_{key}_shape']``.
    """

    at_inference = 'load'

    def __init__(self, key: str = 'gt', color_type: str = 'color', channel_order: str = 'rgb',
                 to_float32: bool = True, backend: str = 'auto', db_path: Optional[str] = None,
                 as_8bit: bool = False) -> None:
        self.as_8bit = as_8bit
        self.key = key
        self.color_type = color_type
        self.channel_order = channel_order
        self.to_float32 = to_float32
        self.backend = backend
        self.db_path = db_path
        decode_image(cv2.imencode('.png', np.zeros((1, 1), np.uint8))[1].tobytes(), 'self-check',
                     color_type, channel_order)  # validates the arguments early

    def transform(self, results: dict) -> dict:
        data, source = read_bytes(results, self.key, self.backend, self.db_path)
        img = decode_image(data, source, self.color_type, self.channel_order,
                           self.to_float32 and not self.as_8bit)
        if self.as_8bit and img.dtype.kind != 'f':
            if img.dtype == np.uint16:
                img = (img >> 8).astype(np.uint8)
            if self.to_float32:
                img = img.astype(np.float32) / 255.0
        elif self.as_8bit and self.to_float32:
            img = img.astype(np.float32)
        results[self.key] = img
        results[f'ori_{self.key}_shape'] = img.shape
        return results


@TRANSFORMS.register_module()
class LoadMask(BaseTransform):
    """Load a mask file into ``results[key]`` as ``H x W x 1`` float32, 1 = known, 0 = hole.

    Args:
        key: results key (path in ``results[f'{key}_path']``).
        white_is_hole: irkit's on-disk convention is white = hole (MMagic's too).
            MAT's released evaluation masks are the opposite (white = known):
            use ``white_is_hole=False`` for them.
        threshold: fraction of the maximum value above which a pixel is white.
        backend, db_path: as in :class:`LoadImageFromFile`.
    """

    at_inference = 'mask'

    def __init__(self, key: str = 'mask', white_is_hole: bool = True, threshold: float = 0.5,
                 backend: str = 'auto', db_path: Optional[str] = None) -> None:
        self.key = key
        self.white_is_hole = white_is_hole
        self.threshold = threshold
        self.backend = backend
        self.db_path = db_path

    def transform(self, results: dict) -> dict:
        data, source = read_bytes(results, self.key, self.backend, self.db_path)
        m = decode_image(data, source, 'grayscale', 'rgb', to_float32=True)
        white = m > self.threshold
        known = ~white if self.white_is_hole else white
        results[self.key] = known.astype(np.float32)
        return results


@TRANSFORMS.register_module()
class LoadRandomMask(LoadMask):
    """Load a mask drawn at random from a set of mask files into ``results[key]``.

    Each call picks one file uniformly, so images and masks are not paired: the way
    AOT-GAN (``--mask_type pconv``: every PNG of a folder) and MMagic's
    ``LoadMask(mask_mode='set')`` (a list file) train on the NVIDIA irregular masks.

    Args:
        mask_root: folder (scanned, sorted by name) or LMDB of mask images.
        mask_list_file: instead of ``mask_root``, a text file with one mask file per line,
            relative to ``prefix`` (MMagic's ``mask_list_file`` / ``prefix``).
        prefix: folder the listed names are relative to.
        key, white_is_hole, threshold: as :class:`LoadMask` (white = hole by default;
            ``threshold=0`` makes every non-zero pixel white, MMagic's rule for mask sets).
        recursive: scan sub-folders of ``mask_root``.
        seed: None = a fresh file every call; an int = a fixed file per sample key.

    The result is ``H x W x 1`` float32, 1 = known; the chosen file goes to
    ``results[f'{key}_path']``.
    """

    def __init__(self, mask_root: Optional[str] = None, key: str = 'mask', white_is_hole: bool = True,
                 threshold: float = 0.5, recursive: bool = True, mask_list_file: Optional[str] = None,
                 prefix: str = '', seed: Optional[int] = None) -> None:
        super().__init__(key=key, white_is_hole=white_is_hole, threshold=threshold)
        if (mask_root is None) == (mask_list_file is None):
            raise ValueError('LoadRandomMask: give exactly one of mask_root and mask_list_file')
        if mask_list_file is not None:
            if not os.path.isfile(mask_list_file):
                raise FileNotFoundError(f'LoadRandomMask: mask list not found: {mask_list_file}')
            with open(mask_list_file, encoding='utf-8') as f:
                names = [line.strip() for line in f if line.strip()]
            self._files = [{f'{key}_path': os.path.join(prefix, n)} for n in names]
            where = str(mask_list_file)
        else:
            from irkit.datasets.base import Source  # late import: irkit.datasets imports this module
            try:
                src = Source(mask_root, key, None, recursive)
            except FileNotFoundError as e:
                raise FileNotFoundError(f'LoadRandomMask: mask folder not found: {mask_root} (a folder or '
                                        'LMDB of mask images, white = hole unless white_is_hole=False)') from e
            self._files = [src.items[k] for k in sorted(src.items)]
            where = src.describe()
        if not self._files:
            raise ValueError(f'LoadRandomMask: no mask images in {where}')
        self.mask_root, self.mask_list_file, self.prefix = mask_root, mask_list_file, prefix
        self.seed = seed

    def __len__(self) -> int:
        return len(self._files)

    def transform(self, results: dict) -> dict:
        pick = self._files[int(self.rng(results).integers(len(self._files)))]
        for field in (f'{self.key}_lmdb', f'{self.key}_lmdb_key'):
            results.pop(field, None)
        results.update(pick)
        return super().transform(results)

    def __repr__(self) -> str:
        src = f'mask_root={self.mask_root!r}' if self.mask_root is not None else \
            f'mask_list_file={self.mask_list_file!r}, prefix={self.prefix!r}'
        return (f'LoadRandomMask({src}, {len(self._files)} masks, key={self.key!r}, '
                f'white_is_hole={self.white_is_hole}, threshold={self.threshold}, seed={self.seed})')
