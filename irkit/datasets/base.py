"""Common machinery of irkit's datasets: listing samples and running the pipeline.

Datasets only list samples (paths, keys); the pipeline of registered transforms
does the work. ``dataset[i]`` runs the pipeline on a copy of sample ``i``; any
exception is re-raised as :class:`SampleError` whose message names the dataset,
the index, the sample key and its file paths (also from DataLoader workers).
"""
from __future__ import annotations

import copy
import os
import posixpath
import re
from typing import Callable, Dict, List, Optional, Sequence, Union

from torch.utils.data import Dataset

from irkit.datasets.samplers import seeded_sample
from irkit.datasets.transforms.base import Compose
from irkit.fileio.lmdb import (IMG_EXTENSIONS, LmdbReader, is_lmdb_path, read_meta_info,
                               scan_images)
from irkit.fileio.paths import not_found

__all__ = ['BaseImageDataset', 'SampleError', 'list_source', 'Source', 'template_regex']


class SampleError(RuntimeError):
    """Loading or transforming one sample failed; the message names key and files."""


class Source:
    """The images of one root: a folder (scanned or listed by a meta file) or an LMDB.

    ``items`` maps key (relative path without extension, ``/``-separated) to a dict
    of the sample fields for ``prefix`` (``{prefix}_path`` and, for LMDB,
    ``{prefix}_lmdb``/``{prefix}_lmdb_key``). ``shapes`` holds LMDB meta shapes.
    """

    def __init__(self, root, prefix: str, meta_file=None, recursive: bool = True) -> None:
        self.root = str(root).rstrip('/\\') if root is not None else None
        if self.root is None:
            raise ValueError(f'{prefix}_root is None')
        self.prefix = prefix
        self.is_lmdb = is_lmdb_path(self.root)
        self.items: Dict[str, dict] = {}
        self.shapes: Dict[str, tuple] = {}
        if self.is_lmdb:
            reader = LmdbReader(self.root)  # checks data.mdb + meta_info.txt, opens nothing
            rows = read_meta_info(meta_file) if meta_file is not None else reader.meta
            for m in rows:
                self.items[m.key] = {
                    f'{prefix}_path': os.path.join(reader.db_path, m.key + '.png'),
                    f'{prefix}_lmdb': reader.db_path, f'{prefix}_lmdb_key': m.key}
                if m.shape is not None:
                    self.shapes[m.key] = m.shape
        elif meta_file is not None:
            if not os.path.isdir(self.root):
                raise not_found(f'{prefix} folder', self.root)
            for m in read_meta_info(meta_file):
                # the meta line names the file relative to the root (key = name w/o extension)
                key = self._confined_key(m.key, meta_file)
                self.items[key] = {f'{prefix}_path': self._find_file(key, meta_file)}
        else:
            for key, path in scan_images(self.root, recursive=recursive):
                self.items[key] = {f'{prefix}_path': path}

    def _confined_key(self, name: str, meta_file) -> str:
        """``name`` normalised (``a/./b/../c`` -> ``a/c``); refused if it leaves the root.

        The check is on the path as written: an absolute path or one climbing out with
        ``..`` is an error; symbolic links inside the root are followed as the user set them.
        """
        key = posixpath.normpath(name.replace('\\', '/'))
        if posixpath.isabs(key) or os.path.isabs(name) or key == '..' or key.startswith('../'):
            raise ValueError(f"'{name}' listed in {meta_file} is outside the data root {self.root}: "
                             'meta files list images by their path relative to the root')
        return key

    def _find_file(self, key: str, meta_file) -> str:
        for ext in IMG_EXTENSIONS + tuple(e.upper() for e in IMG_EXTENSIONS):
            p = os.path.join(self.root, key + ext)
            if os.path.isfile(p):
                return p
        raise FileNotFoundError(f"'{key}' listed in {meta_file} has no image file under {self.root}")

    def describe(self) -> str:
        return f"{'LMDB' if self.is_lmdb else 'folder'} {self.root}"


def template_regex(tmpl: str) -> re.Pattern:
    """``'{}_x4'`` -> regex capturing the id part of a file base name."""
    if tmpl.count('{}') != 1:
        raise ValueError(f"filename template must contain '{{}}' exactly once, got {tmpl!r}")
    pre, post = tmpl.split('{}')
    return re.compile('^' + re.escape(pre) + '(.+)' + re.escape(post) + '$')


def ids_from_keys(keys, tmpl: str, where: str) -> Dict[str, str]:
    """Map each key (``dir/name``) to its id (``dir/<part of name matching {}>``)."""
    if tmpl == '{}':
        return {k: k for k in keys}
    rx = template_regex(tmpl)
    out, bad = {}, []
    for k in keys:
        d, name = os.path.split(k)
        m = rx.match(name)
        if m is None:
            bad.append(k)
            continue
        out[k] = f'{d}/{m.group(1)}' if d else m.group(1)
    if bad:
        raise ValueError(f"{len(bad)} file names in {where} do not match the template {tmpl!r}: "
                         + ', '.join(bad[:20]) + (' ...' if len(bad) > 20 else ''))
    return out


class BaseImageDataset(Dataset):
    """List samples in :meth:`load_data_list`, run ``pipeline`` in ``__getitem__``."""

    def __init__(self, pipeline: Optional[Sequence[Union[dict, Callable]]] = None,
                 test_mode: bool = False) -> None:
        self.test_mode = test_mode
        self.pipeline = Compose(self.default_pipeline() if pipeline is None else pipeline)
        self.data_list: List[dict] = self.load_data_list()
        if not self.data_list:
            raise ValueError(f'{type(self).__name__}: empty dataset, no images found in '
                             f'{self.describe()}')

    # -- to override -------------------------------------------------------------
    def default_pipeline(self) -> list:
        raise TypeError(f'{type(self).__name__} must define default_pipeline()')

    def load_data_list(self) -> List[dict]:
        raise TypeError(f'{type(self).__name__} must define load_data_list()')

    def describe(self) -> str:
        return '?'

    def check_results(self, results: dict, info: dict) -> None:
        """Hook to validate a processed sample (raise with a clear message)."""

    # -- mmengine-compatible surface ---------------------------------------------
    @property
    def metainfo(self) -> dict:
        return dict(dataset_type=type(self).__name__)

    def full_init(self) -> None:
        """Everything is listed in ``__init__`` (mmengine calls this if present)."""

    def __len__(self) -> int:
        return len(self.data_list)

    def get_data_info(self, idx: int) -> dict:
        info = copy.deepcopy(self.data_list[idx])
        info['sample_idx'] = idx
        return info

    def __getitem__(self, idx: int) -> dict:
        # an index from irkit's InfiniteSampler seeds this sample's randomness (exact resume)
        with seeded_sample(idx):
            idx = int(idx)
            if idx < 0:
                idx += len(self)
            if not 0 <= idx < len(self):
                raise IndexError(f'{type(self).__name__} index {idx} out of range ({len(self)} samples)')
            info = self.get_data_info(idx)
            try:
                results = self.pipeline(dict(info))
                self.check_results(results, info)
                return results
            except SampleError:
                raise
            except Exception as e:
                raise SampleError(self._error_message(idx, info, e)) from e

    def _error_message(self, idx: int, info: dict, e: BaseException) -> str:
        paths = ', '.join(f'{k}={v}' for k, v in info.items() if k.endswith('_path'))
        return (f"{type(self).__name__} sample {idx} (key '{info.get('key')}'"
                + (f', {paths}' if paths else '') + f'): {type(e).__name__}: {e}')

    def __repr__(self) -> str:
        return f'{type(self).__name__}({len(self)} samples from {self.describe()})'


