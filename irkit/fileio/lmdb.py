"""LMDB image databases in BasicSR's on-disk format.

Format (shared with BasicSR's ``make_lmdb_from_imgs`` and MMagic's converters)::

    X.lmdb/
        data.mdb        main (unnamed) database: key -> complete PNG file
        lock.mdb
        meta_info.txt   one line per image, in write order:
                        "{key}.png ({h},{w},{c}) {compress_level}"

* key: the image path relative to the source root, without extension,
  ``/``-separated, ASCII bytes (``0001_s001``, ``000/00000000``).
* value: ``cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, level])`` of the
  image read with ``cv2.IMREAD_UNCHANGED`` (BGR order, original bit depth), so it
  decodes to the right colours with any PNG reader.

Unlike BasicSR's reader, keys containing dots work: a meta line is parsed from
the right (``a.b.png (h,w,c) 1`` is key ``a.b``).

Reading: :class:`LmdbReader` opens the database lazily, once per process (so each
DataLoader worker has its own); values are located from the B-tree pages and read
with one ``pread`` each (:mod:`irkit.fileio.lmdb_pages`; fast on a cold page cache,
and a truncated or damaged ``data.mdb`` is an :class:`LmdbError` naming the database
and key instead of a SIGBUS). py-lmdb serves the layouts that reader does not handle;
``lmdb >= 2`` refuses to open the same environment twice in one process, which a
forked worker inherits from a parent that already read from the database, so the
reader closes an inherited handle in the worker and opens a fresh one.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from irkit.fileio.image_header import check_pixel_limit
from irkit.fileio.paths import not_found
from irkit.fileio.tempfiles import temp_name

__all__ = [
    'META_FILE', 'IMG_EXTENSIONS', 'MetaInfo', 'LmdbReader', 'LmdbError', 'LmdbKeyError',
    'read_meta_info', 'format_meta_line', 'scan_images', 'encode_png', 'make_lmdb',
    'make_paired_lmdb', 'verify_lmdb', 'is_lmdb_path'
]

META_FILE = 'meta_info.txt'
IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
_META_RE = re.compile(r'^(?P<name>.+) \((?P<h>\d+),(?P<w>\d+),(?P<c>\d+)\)(?: (?P<level>\d+))?$')


class LmdbError(RuntimeError):
    """An LMDB database is missing, malformed or cannot be written."""


class LmdbKeyError(KeyError):
    """A key is not in an LMDB database (the message names key and database)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def is_lmdb_path(path) -> bool:
    """A root ending in ``.lmdb`` (optionally with a trailing slash) is an LMDB."""
    return str(path).rstrip('/\\').endswith('.lmdb')


@dataclass(frozen=True)
class MetaInfo:
    """One line of ``meta_info.txt``."""
    key: str
    shape: Tuple[int, int, int]
    compress_level: Optional[int]


def format_meta_line(key: str, shape: Sequence[int], compress_level: int) -> str:
    """BasicSR's line: ``{key}.png ({h},{w},{c}) {compress_level}`` (no newline)."""
    h, w, c = shape
    return f'{key}.png ({h},{w},{c}) {compress_level}'


def read_meta_info(path) -> List[MetaInfo]:
    """Parse a ``meta_info.txt`` (LMDB or folder style) into :class:`MetaInfo` rows.

    Accepts BasicSR's LMDB lines (``key.png (h,w,c) level``), folder meta lines
    without the level (``0001_s001.png (480,480,3)``) and bare file names (one per
    line). The key is the name without its extension; dots inside it are kept.
    """
    path = Path(path)
    if not path.is_file():
        raise not_found('meta info file', path)
    rows = []
    with open(path, encoding='utf-8') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip('\r\n')
            if not line.strip():
                continue
            m = _META_RE.match(line)
            if m:
                name = m.group('name')
                shape = (int(m.group('h')), int(m.group('w')), int(m.group('c')))
                level = int(m.group('level')) if m.group('level') is not None else None
            else:
                if ' (' in line:
                    raise LmdbError(f'{path}:{lineno}: cannot parse meta info line {line!r}; '
                                    "expected '{key}.png ({h},{w},{c}) {level}'")
                name, shape, level = line.strip(), None, None
            key = os.path.splitext(name)[0] if os.path.splitext(name)[1].lower() in IMG_EXTENSIONS \
                else name
            rows.append(MetaInfo(key, shape, level))
    return rows


# --------------------------------------------------------------------------- reading
_ENVS: Dict[str, Tuple[int, '_Handle']] = {}
_ENV_LOCK = threading.Lock()


class _Handle:
    """A process's reader of one database: values are read with ``pread`` from the B-tree
    pages (:class:`irkit.fileio.lmdb_pages.ValueLocator`), never through a memory map.

    Opening checks the meta pages and that ``data.mdb`` holds every page the database
    uses, so a truncated file is an :class:`LmdbError` naming it, not a SIGBUS; a damaged
    page met while reading is an :class:`LmdbError` naming the database and the key.
    py-lmdb (``env``, opened on first use) serves only layouts the page reader does not
    handle (sub-databases, DUPSORT, no ``os.pread``), and whole-database iteration.
    """

    def __init__(self, db_path: str) -> None:
        from irkit.fileio.lmdb_pages import DamagedFileError, UnsupportedLayoutError, ValueLocator
        self.db_path = db_path
        self.data_path = os.path.join(db_path, 'data.mdb')
        self._env = None
        self.locator: Optional[ValueLocator] = None
        try:
            self.locator = ValueLocator(self.data_path)
        except DamagedFileError as e:
            raise LmdbError(f'LMDB {db_path} is damaged ({e}); re-create it with '
                            'tools/create_lmdb.py') from None
        except UnsupportedLayoutError:
            pass
        except OSError as e:
            raise LmdbError(f'cannot read LMDB {db_path}: {e}') from None
        if not hasattr(os, 'pread') and self.locator is not None:  # pragma: no cover - Windows
            self.locator.close()
            self.locator = None

    @property
    def env(self):
        """py-lmdb's read-only environment (opened on first use)."""
        if self._env is None:
            import lmdb
            try:
                self._env = lmdb.open(self.db_path, readonly=True, lock=False, readahead=False,
                                      meminit=False, max_readers=2048)
            except lmdb.Error as e:
                raise LmdbError(f'cannot open LMDB {self.db_path}: {e}') from e
        return self._env

    def entries(self) -> int:
        if self.locator is not None:
            return self.locator.info.entries
        with self.env.begin() as txn:
            return txn.stat()['entries']

    def get(self, key: bytes) -> Optional[bytes]:
        from irkit.fileio.lmdb_pages import DamagedFileError, UnsupportedLayoutError
        if self.locator is not None:
            try:
                return self.locator.read(key)
            except UnsupportedLayoutError:
                pass
            except (DamagedFileError, OSError) as e:
                raise LmdbError(f"LMDB {self.db_path}: cannot read key '{key.decode(errors='replace')}'"
                                f': {e}; the database is damaged, re-create it with '
                                'tools/create_lmdb.py') from None
        with self.env.begin(write=False) as txn:
            return txn.get(key)

    def close(self) -> None:
        if self.locator is not None:
            self.locator.close()
        if self._env is not None:
            self._env.close()


def _open_env(db_path: str) -> _Handle:
    """The process's reader of ``db_path`` (opened on first use)."""
    pid = os.getpid()
    with _ENV_LOCK:
        entry = _ENVS.get(db_path)
        if entry is not None and entry[0] == pid:
            return entry[1]
        if entry is not None:  # inherited through fork: lmdb>=2 would refuse to reopen it
            try:
                entry[1].close()
            except Exception:  # noqa: BLE001 - best effort on a foreign handle
                pass
            del _ENVS[db_path]
        handle = _Handle(db_path)
        _ENVS[db_path] = (pid, handle)
        return handle


def forget(db_path) -> None:
    """Close this process's cached handle and reader of ``db_path`` (after it is replaced)."""
    p = os.path.abspath(str(db_path).rstrip('/\\'))
    with _ENV_LOCK:
        entry = _ENVS.pop(p, None)
        if entry is not None and entry[0] == os.getpid():
            entry[1].close()
    _READERS.pop(p, None)


class LmdbReader:
    """Read values of a BasicSR-format LMDB (``X.lmdb`` folder with ``meta_info.txt``).

    The constructor only reads ``meta_info.txt``; the environment is opened on the
    first :meth:`get` in each process. Picklable (the handle is not pickled).
    """

    def __init__(self, db_path, require_meta: bool = True) -> None:
        self.db_path = os.path.abspath(str(db_path).rstrip('/\\'))
        if not os.path.isdir(self.db_path):
            raise FileNotFoundError(f'LMDB folder not found: {self.db_path}')
        if not os.path.isfile(os.path.join(self.db_path, 'data.mdb')):
            raise LmdbError(f'{self.db_path} is not an LMDB environment (no data.mdb)')
        self.meta_path = os.path.join(self.db_path, META_FILE)
        self._meta: Optional[List[MetaInfo]] = None
        if require_meta and not os.path.isfile(self.meta_path):
            raise LmdbError(
                f'LMDB {self.db_path} has no {META_FILE}: the list of keys and shapes is '
                f'missing. Re-create it with tools/create_lmdb.py, or write one line per image '
                f"'{{key}}.png ({{h}},{{w}},{{c}}) 1'.")

    @property
    def meta(self) -> List[MetaInfo]:
        if self._meta is None:
            self._meta = read_meta_info(self.meta_path)
        return self._meta

    def keys(self) -> List[str]:
        return [m.key for m in self.meta]

    def get(self, key: str) -> bytes:
        value = _open_env(self.db_path).get(key.encode('utf-8'))
        if value is None:
            raise LmdbKeyError(f"key '{key}' not found in LMDB {self.db_path}")
        return value

    def __getstate__(self):
        return self.__dict__.copy()

    def __repr__(self) -> str:
        return f'LmdbReader({self.db_path!r})'


_READERS: Dict[str, LmdbReader] = {}


def get_reader(db_path) -> LmdbReader:
    """A cached :class:`LmdbReader` per database path (per process)."""
    p = os.path.abspath(str(db_path).rstrip('/\\'))
    reader = _READERS.get(p)
    if reader is None:
        reader = _READERS[p] = LmdbReader(p)
    return reader


# --------------------------------------------------------------------------- writing
def scan_images(root, recursive: bool = True, suffixes: Sequence[str] = IMG_EXTENSIONS
                ) -> List[Tuple[str, str]]:
    """Sorted ``(key, path)`` pairs of the images under ``root``.

    key = path relative to ``root`` without extension, ``/``-separated. Raises if
    two files map to the same key (``a.png`` and ``a.jpg``).
    """
    root = Path(root)
    if not root.is_dir():
        raise not_found('image folder', root)
    it = root.rglob('*') if recursive else root.glob('*')
    found: Dict[str, str] = {}
    for p in it:
        if p.suffix.lower() in suffixes and p.is_file():
            key = p.relative_to(root).with_suffix('').as_posix()
            if key in found:
                raise ValueError(f"two images in {root} share the key '{key}': "
                                 f'{found[key]} and {p}')
            found[key] = str(p)
    return sorted(found.items())


def encode_png(path: str, compress_level: int = 1) -> Tuple[bytes, Tuple[int, int, int]]:
    """Read ``path`` unchanged with OpenCV and encode it as BasicSR does.

    Returns ``(png_bytes, (h, w, c))``. Raises ``ValueError`` naming the file if it
    is empty or does not decode.
    """
    import cv2
    import numpy as np
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f'{path}: file is empty (0 bytes)')
    with open(path, 'rb') as f:
        data = f.read()
    check_pixel_limit(data, path)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'{path}: not a decodable image (truncated or not an image file)')
    if img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{path}: unsupported pixel type {img.dtype} (PNG stores uint8/uint16)')
    ok, enc = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, int(compress_level)])
    if not ok:
        raise ValueError(f'{path}: OpenCV could not encode the image as PNG')
    if img.ndim == 2:
        shape = (img.shape[0], img.shape[1], 1)
    else:
        shape = tuple(int(s) for s in img.shape)
    return enc.tobytes(), shape


def _encode_job(args):
    key, path, level = args
    try:
        value, shape = encode_png(path, level)
        return key, path, value, shape, None
    except Exception as e:  # noqa: BLE001 - reported with the file name by the caller
        return key, path, None, None, f'{e}'


def _check_keys_ascii(items: Iterable[Tuple[str, str]]) -> None:
    bad = []
    for key, path in items:
        try:
            key.encode('ascii')
        except UnicodeEncodeError:
            bad.append(path)
        if ' (' in key or '\n' in key:
            bad.append(path)
    if bad:
        raise ValueError('LMDB keys must be ASCII without newlines or " (" (BasicSR format); '
                         f'rename these files: {", ".join(bad[:20])}'
                         + (f' and {len(bad) - 20} more' if len(bad) > 20 else ''))


class _GrowingWriter:
    """Writes key/value pairs, doubling the map size whenever it fills up."""

    def __init__(self, path: str, map_size: int, commit_every: int = 5000,
                 commit_bytes: int = 256 << 20) -> None:
        import lmdb
        self._lmdb = lmdb
        self.env = lmdb.open(path, map_size=map_size, subdir=True, meminit=False)
        self.map_size = map_size
        self.commit_every = commit_every
        self.commit_bytes = commit_bytes
        self.pending: List[Tuple[bytes, bytes]] = []
        self.pending_bytes = 0

    def put(self, key: bytes, value: bytes) -> None:
        self.pending.append((key, value))
        self.pending_bytes += len(value)
        if len(self.pending) >= self.commit_every or self.pending_bytes >= self.commit_bytes:
            self.flush()

    def flush(self) -> None:
        while self.pending:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self.pending:
                        txn.put(k, v)
                self.pending, self.pending_bytes = [], 0
            except self._lmdb.MapFullError:  # the transaction was aborted: grow and replay
                self.map_size *= 2
                self.env.set_mapsize(self.map_size)

    def close(self) -> None:
        self.flush()
        self.env.sync()
        self.env.close()


def _iter_encoded(items, compress_level, workers):
    jobs = [(k, p, compress_level) for k, p in items]
    if workers and workers > 1:
        import multiprocessing as mp
        with mp.get_context('fork' if hasattr(os, 'fork') else 'spawn').Pool(workers) as pool:
            yield from pool.imap(_encode_job, jobs, chunksize=4)
    else:
        for job in jobs:
            yield _encode_job(job)


def _write_lmdb(items: List[Tuple[str, str]], tmp_dir: str, compress_level: int, workers: int,
                progress: bool, desc: str, map_size: Optional[int]) -> None:
    from tqdm import tqdm
    os.makedirs(tmp_dir)
    if map_size is None:
        # a start value only: the writer doubles it whenever it is full
        map_size = max(64 << 20, min(sum(os.path.getsize(p) for _, p in items) * 2, 1 << 34))
    writer = _GrowingWriter(tmp_dir, map_size)
    errors, lines = [], []
    try:
        bar = tqdm(_iter_encoded(items, compress_level, workers), total=len(items), desc=desc,
                   unit='img', disable=not progress)
        for key, path, value, shape, err in bar:
            if err is not None:
                errors.append(err)
                continue
            if errors:
                continue  # keep validating, write nothing more
            writer.put(key.encode('ascii'), value)
            lines.append(format_meta_line(key, shape, compress_level))
    finally:
        writer.close()
    if errors:
        raise ValueError(f'{len(errors)} of {len(items)} images could not be read; nothing was '
                         'written:\n  ' + '\n  '.join(errors[:50])
                         + (f'\n  ... and {len(errors) - 50} more' if len(errors) > 50 else ''))
    with open(os.path.join(tmp_dir, META_FILE), 'w', encoding='ascii') as f:
        f.writelines(line + '\n' for line in lines)


def _finalise(tmp_dir: str, dst: str, overwrite: bool) -> None:
    forget(dst)
    if os.path.exists(dst):
        if not overwrite:
            raise FileExistsError(f'{dst} exists; pass overwrite=True (--overwrite) to replace it')
        trash = os.path.join(os.path.dirname(dst), temp_name(os.path.basename(dst)))
        os.rename(dst, trash)
        os.rename(tmp_dir, dst)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp_dir, dst)


def _tmp_name(dst: str) -> str:
    head, tail = os.path.split(dst)
    return os.path.join(head, temp_name(tail))


def _check_dst(dst: str, overwrite: bool) -> str:
    dst = os.path.abspath(str(dst).rstrip('/\\'))
    if not dst.endswith('.lmdb'):
        raise ValueError(f"LMDB destination must end with '.lmdb': {dst}")
    if os.path.exists(dst) and not overwrite:
        raise FileExistsError(f'{dst} exists; pass overwrite=True (--overwrite) to replace it')
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    return dst


def make_lmdb(src, dst, compress_level: int = 1, workers: int = 0, overwrite: bool = False,
              recursive: bool = True, progress: bool = True, map_size: Optional[int] = None,
              items: Optional[List[Tuple[str, str]]] = None) -> List[str]:
    """Pack the images under ``src`` into a BasicSR-format LMDB at ``dst``.

    Every image is decoded first (a file that does not decode stops the run with
    a list of the bad files). The database is built in a hidden sibling folder and
    renamed to ``dst`` only when complete, so an interrupted run leaves nothing
    that looks like a finished LMDB. Returns the keys in write order.
    """
    dst = _check_dst(dst, overwrite)
    items = scan_images(src, recursive=recursive) if items is None else list(items)
    if not items:
        raise ValueError(f'no images found under {src} (extensions: {", ".join(IMG_EXTENSIONS)})')
    _check_keys_ascii(items)
    tmp = _tmp_name(dst)
    try:
        _write_lmdb(items, tmp, compress_level, workers, progress, os.path.basename(dst), map_size)
        _finalise(tmp, dst, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [k for k, _ in items]


def match_paired_keys(gt_items, lq_items, gt_root='GT', lq_root='LQ') -> None:
    """Raise naming the unmatched keys if GT and LQ key sets differ."""
    gt_keys, lq_keys = {k for k, _ in gt_items}, {k for k, _ in lq_items}
    only_gt, only_lq = sorted(gt_keys - lq_keys), sorted(lq_keys - gt_keys)
    if only_gt or only_lq:
        raise ValueError(unmatched_message(only_gt, only_lq, gt_root, lq_root))


def unmatched_message(only_gt, only_lq, gt_root, lq_root, limit: int = 20) -> str:
    def fmt(names):
        s = ', '.join(names[:limit])
        return s + (f' ... and {len(names) - limit} more' if len(names) > limit else '')
    parts = ['LQ/GT names do not match:']
    if only_gt:
        parts.append(f'  {len(only_gt)} in GT {gt_root} without LQ: {fmt(only_gt)}')
    if only_lq:
        parts.append(f'  {len(only_lq)} in LQ {lq_root} without GT: {fmt(only_lq)}')
    return '\n'.join(parts)


def make_paired_lmdb(gt_src, gt_dst, lq_src, lq_dst, compress_level: int = 1, workers: int = 0,
                     overwrite: bool = False, recursive: bool = True, progress: bool = True,
                     map_size: Optional[int] = None) -> List[str]:
    """Pack matching GT and LQ folders into two LMDBs with the same keys.

    The keys of both folders are compared before anything is written. Both databases
    are built completely in hidden sibling folders before either is renamed into place,
    so a failure in either (a bad LQ image, an interruption) leaves both destinations
    as they were, including existing LMDBs being replaced with ``overwrite``.
    """
    gt_dst, lq_dst = _check_dst(gt_dst, overwrite), _check_dst(lq_dst, overwrite)
    if gt_dst == lq_dst:
        raise ValueError(f'GT and LQ destinations are the same: {gt_dst}')
    gt_items, lq_items = scan_images(gt_src, recursive), scan_images(lq_src, recursive)
    match_paired_keys(gt_items, lq_items, gt_src, lq_src)
    if not gt_items:
        raise ValueError(f'no images found under {gt_src}')
    _check_keys_ascii(gt_items)
    jobs = [(gt_items, gt_dst), (lq_items, lq_dst)]
    tmps: List[str] = []
    try:
        for items, dst in jobs:
            tmps.append(_tmp_name(dst))
            _write_lmdb(items, tmps[-1], compress_level, workers, progress, os.path.basename(dst),
                        map_size)
        for tmp, (_, dst) in zip(tmps, jobs):
            _finalise(tmp, dst, overwrite)
    except BaseException:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [k for k, _ in gt_items]


def verify_lmdb(db_path, src=None, progress: bool = True) -> int:
    """Check an LMDB: every meta line has a value that decodes to the listed shape,
    and (with ``src``) the pixels equal the source images. Returns the image count."""
    reader = LmdbReader(db_path)
    try:
        return _verify(reader, src, progress)
    finally:
        forget(reader.db_path)  # a tool's check leaves no handle behind


def _verify(reader: 'LmdbReader', src, progress: bool) -> int:
    import cv2
    import numpy as np
    from tqdm import tqdm
    meta = reader.meta
    if not meta:
        raise LmdbError(f'{reader.meta_path} lists no images')
    problems = []
    n_entries = _open_env(reader.db_path).entries()
    src_map = dict(scan_images(src)) if src is not None else None
    for m in tqdm(meta, desc=f'verify {os.path.basename(reader.db_path)}', disable=not progress):
        try:
            value = reader.get(m.key)
        except (LmdbKeyError, LmdbError) as e:  # a missing key, a damaged page: listed, go on
            problems.append(str(e))
            continue
        try:
            check_pixel_limit(value, f"key '{m.key}'")
        except ValueError as e:
            problems.append(str(e))
            continue
        img = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            problems.append(f"key '{m.key}': value does not decode as an image")
            continue
        shape = (img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2])
        if m.shape is not None and shape != m.shape:
            problems.append(f"key '{m.key}': decoded shape {shape} != meta info {m.shape}")
        if src_map is not None:
            if m.key not in src_map:
                problems.append(f"key '{m.key}': no source image under {src}")
            else:
                ref = cv2.imread(src_map[m.key], cv2.IMREAD_UNCHANGED)
                if ref is None or ref.shape != img.shape or not np.array_equal(ref, img):
                    problems.append(f"key '{m.key}': pixels differ from {src_map[m.key]}")
    if n_entries != len(meta):
        problems.append(f'database holds {n_entries} entries but {META_FILE} lists {len(meta)}')
    if problems:
        raise LmdbError(f'LMDB {reader.db_path} failed verification:\n  ' + '\n  '.join(problems[:50]))
    return len(meta)
