"""Read values from an LMDB data file (format 0.9, as BasicSR's LMDBs) with ``pread``, never mmap.

Why: py-lmdb maps ``data.mdb`` into memory. On a truncated file, touching a page past the
end kills the process with SIGBUS (no message; in a DataLoader worker the error blames
shared memory), and on a damaged file a corrupted node size or page number makes it read
outside the mapping. It also touches every page of a large value when it hands it out,
which on an environment opened without readahead (BasicSR's and irkit's setting) turns
a cold ~500 KB PNG into ~125 separate 4 KiB reads. Here every read is a ``pread``
(a short read past the end of the file is an error, not a signal), every offset, size
and page number is checked against the page and the file before it is used, and a value
is read with one ``pread``: depth + 2 reads per value.

Layout used (LMDB 0.9, native little-endian, 64-bit): page = 16-byte header (``pgno``
u64, pad u16, flags u16, lower u16, upper u16 -- an overflow page has ``pages`` u32 in
place of lower/upper) then u16 node offsets; meta pages 0 and 1 (the valid one with the
larger txnid is current) hold the page size (``dbs[FREE].md_pad``), the main database
(``dbs[MAIN]``: flags, depth, entries, root) and ``last_pg``, the highest page in use;
a branch node is (child pgno as lo/hi/flags u16s, key size u16, key), its first key
ignored; a leaf node is (data size lo/hi u16, flags u16, key size u16, key, data) with
``F_BIGDATA`` meaning the data is the u64 number of the overflow page whose bytes follow
its 16-byte header. Keys compare as byte strings (memcmp, then length), LMDB's default.

Errors: :class:`DamagedFileError` when the file is truncated or a page does not make
sense (the message says what and where); :class:`UnsupportedLayoutError` for a valid
layout this reader does not handle (sub-databases, DUPSORT, another format version), in
which case the caller may read through LMDB (the file has been checked to be complete).
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ['ValueLocator', 'DataFileInfo', 'DamagedFileError', 'UnsupportedLayoutError',
           'read_data_file_info']

_MAGIC = 0xBEEFC0DE
_DATA_VERSION = 1
_P_BRANCH, _P_LEAF, _P_OVERFLOW, _P_META, _P_LEAF2, _P_SUBP = 0x01, 0x02, 0x04, 0x08, 0x20, 0x40
_F_BIGDATA, _F_SUBDATA, _F_DUPDATA = 0x01, 0x02, 0x04
_KEY_ORDER_FLAGS = 0x7E  # REVERSEKEY, DUPSORT, INTEGERKEY, DUPFIXED, INTEGERDUP, REVERSEDUP
_HDR = 16
_META_SIZE = 136  # MDB_meta on a 64-bit build
_NODE = 8
_INVALID = 0xFFFFFFFFFFFFFFFF
_MAX_DEPTH = 64
_MIN_PSIZE, _MAX_PSIZE = 512, 1 << 16


class DamagedFileError(ValueError):
    """The data file is truncated or its pages are inconsistent."""


class UnsupportedLayoutError(ValueError):
    """A valid LMDB layout this reader does not handle (read it through LMDB)."""


@dataclass(frozen=True)
class DataFileInfo:
    """What the current meta page of ``data.mdb`` says."""
    psize: int
    root: int  # page number of the main database's root (_INVALID: empty)
    last_pg: int
    entries: int
    depth: int
    flags: int
    file_size: int

    @property
    def needed_size(self) -> int:
        """Bytes the file must have: every page up to ``last_pg``."""
        return (self.last_pg + 1) * self.psize


def _pread(fd: int, size: int, offset: int) -> bytes:
    return os.pread(fd, size, offset) if size > 0 else b''


def read_data_file_info(fd: int, path: str) -> DataFileInfo:
    """Parse the two meta pages of an open ``data.mdb`` and check the file is complete.

    Raises:
        DamagedFileError: no valid meta page, or the file is shorter than its last page.
        UnsupportedLayoutError: another format version / byte order, or a DUPSORT database.
    """
    file_size = os.fstat(fd).st_size
    if file_size < _HDR + _META_SIZE:
        raise DamagedFileError(f'{path}: truncated: {file_size} bytes, not even a meta page')
    head = _pread(fd, _HDR + _META_SIZE, 0)
    magic, version = struct.unpack_from('<II', head, _HDR)
    if magic != _MAGIC:
        if struct.unpack_from('>I', head, _HDR)[0] == _MAGIC:
            raise UnsupportedLayoutError(f'{path}: a big-endian LMDB file')
        raise DamagedFileError(f'{path}: not an LMDB data file (no LMDB magic number in page 0)')
    if version != _DATA_VERSION:
        raise UnsupportedLayoutError(f'{path}: LMDB data format version {version}')
    psize = struct.unpack_from('<I', head, _HDR + 24)[0]
    if not (_MIN_PSIZE <= psize <= _MAX_PSIZE) or psize & (psize - 1):
        raise DamagedFileError(f'{path}: meta page 0 gives an impossible page size {psize}')
    metas = []
    for page in (0, 1):
        raw = _pread(fd, _HDR + _META_SIZE, page * psize)
        if len(raw) < _HDR + _META_SIZE:
            continue
        flags = struct.unpack_from('<H', raw, 10)[0]
        magic, version = struct.unpack_from('<II', raw, _HDR)
        if not flags & _P_META or magic != _MAGIC or version != _DATA_VERSION:
            continue
        main = _HDR + 72
        m_flags, m_depth = struct.unpack_from('<HH', raw, main + 4)
        m_entries, m_root = struct.unpack_from('<QQ', raw, main + 32)
        last_pg, txnid = struct.unpack_from('<QQ', raw, _HDR + 120)
        metas.append((txnid, DataFileInfo(psize, m_root, last_pg, m_entries, m_depth, m_flags,
                                          file_size)))
    if not metas:
        raise DamagedFileError(f'{path}: neither meta page (0, 1) is valid')
    info = max(metas, key=lambda t: t[0])[1]
    if info.last_pg < 1:
        raise DamagedFileError(f'{path}: the meta page gives an impossible last page {info.last_pg}')
    if file_size < info.needed_size:
        raise DamagedFileError(
            f'{path}: truncated: the file has {file_size} bytes, but the database uses pages up '
            f'to {info.last_pg} of {psize} bytes ({info.needed_size} bytes)')
    if info.flags & _KEY_ORDER_FLAGS:
        raise UnsupportedLayoutError(f'{path}: a main database with flags 0x{info.flags:x} '
                                     '(DUPSORT, reverse or integer keys)')
    if info.root != _INVALID and not 2 <= info.root <= info.last_pg:
        raise DamagedFileError(f'{path}: the meta page gives an impossible root page {info.root}')
    return info


class ValueLocator:
    """Locate and read values of the main database of ``data.mdb`` (read-only files).

    The constructor checks the meta pages and that the file holds every page the
    database uses (:func:`read_data_file_info`).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: Optional[int] = os.open(path, os.O_RDONLY)
        try:
            if hasattr(os, 'posix_fadvise'):  # no readahead beyond what each pread asks for
                os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_RANDOM)
            self.info = read_data_file_info(self.fd, path)
        except BaseException:
            self.close()
            raise
        self.psize, self.root = self.info.psize, self.info.root

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _damaged(self, what: str) -> DamagedFileError:
        return DamagedFileError(f'{self.path}: {what}')

    def _page(self, pgno: int) -> bytes:
        if not 2 <= pgno <= self.info.last_pg:
            raise self._damaged(f'a node points to page {pgno}, outside the database '
                                f'(pages 2..{self.info.last_pg})')
        raw = _pread(self.fd, self.psize, pgno * self.psize)
        if len(raw) != self.psize:
            raise self._damaged(f'truncated: page {pgno} is past the end of the file')
        if struct.unpack_from('<Q', raw, 0)[0] != pgno:
            raise self._damaged(f'page {pgno} does not carry its own number')
        return raw

    def _nodes(self, page: bytes, pgno: int) -> list:
        lower, upper = struct.unpack_from('<HH', page, 12)
        if lower < _HDR or lower > upper or upper > self.psize or (lower - _HDR) & 1:
            raise self._damaged(f'page {pgno} has an impossible free space ({lower}..{upper})')
        offsets = struct.unpack_from(f'<{(lower - _HDR) >> 1}H', page, _HDR)
        for off in offsets:
            if off < upper or off + _NODE > self.psize:
                raise self._damaged(f'page {pgno} has a node at an impossible offset {off}')
        return list(offsets)

    def _node(self, page: bytes, pgno: int, off: int) -> Tuple[int, int, int, bytes]:
        lo, hi, fl, ks = struct.unpack_from('<HHHH', page, off)
        if off + _NODE + ks > self.psize:
            raise self._damaged(f'page {pgno} has a key running past the page end')
        return lo, hi, fl, page[off + _NODE:off + _NODE + ks]

    def locate(self, key: bytes) -> Optional[Tuple[int, int]]:
        """``(file offset, size)`` of ``key``'s value, or ``None`` if the key is absent.

        Raises:
            DamagedFileError: a page on the way is inconsistent (named).
            UnsupportedLayoutError: the value is a sub-database or has duplicates.
        """
        if self.root == _INVALID:
            return None
        pgno = self.root
        for _ in range(_MAX_DEPTH):
            page = self._page(pgno)
            flags = struct.unpack_from('<H', page, 10)[0]
            offsets = self._nodes(page, pgno)
            if not offsets:
                raise self._damaged(f'page {pgno} of the B-tree is empty')
            if flags & _P_BRANCH and not flags & (_P_LEAF | _P_OVERFLOW | _P_META):
                child = None
                for i, off in enumerate(offsets):  # last node whose key <= key (node 0: -inf)
                    lo, hi, fl, k = self._node(page, pgno, off)
                    if i and k > key:
                        break
                    child = lo | (hi << 16) | (fl << 32)
                pgno = child
                continue
            if not flags & _P_LEAF or flags & (_P_BRANCH | _P_OVERFLOW | _P_META):
                raise self._damaged(f'page {pgno} is neither a branch nor a leaf page '
                                    f'(flags 0x{flags:x})')
            if flags & (_P_LEAF2 | _P_SUBP):
                raise UnsupportedLayoutError(f'{self.path}: page {pgno} is a DUPFIXED leaf')
            for off in offsets:
                lo, hi, fl, k = self._node(page, pgno, off)
                if k != key:
                    continue
                size = lo | (hi << 16)
                if fl & (_F_SUBDATA | _F_DUPDATA):
                    raise UnsupportedLayoutError(f'{self.path}: key {key!r} holds a sub-database')
                data = off + _NODE + len(k)
                if fl & _F_BIGDATA:
                    if data + 8 > self.psize:
                        raise self._damaged(f'page {pgno} has an overflow pointer past the page end')
                    return self._overflow(struct.unpack_from('<Q', page, data)[0], size, pgno), size
                if data + size > self.psize:
                    raise self._damaged(f'page {pgno} has a value of {size} bytes running past '
                                        'the page end')
                return pgno * self.psize + data, size
            return None
        raise self._damaged(f'the B-tree is deeper than {_MAX_DEPTH} levels (a cycle?)')

    def _overflow(self, over: int, size: int, parent: int) -> int:
        """File offset of a value stored on overflow pages, after checking their header."""
        pages = (_HDR + size + self.psize - 1) // self.psize
        if not 2 <= over or over + pages - 1 > self.info.last_pg:
            raise self._damaged(f'page {parent} points to overflow pages {over}..{over + pages - 1}, '
                                f'outside the database (pages 2..{self.info.last_pg})')
        head = _pread(self.fd, _HDR, over * self.psize)
        if len(head) != _HDR:
            raise self._damaged(f'truncated: overflow page {over} is past the end of the file')
        pg, _, flags, n = struct.unpack_from('<QHHI', head, 0)
        if pg != over or not flags & _P_OVERFLOW or n != pages:
            raise self._damaged(f'overflow page {over} (from page {parent}) does not hold a value of '
                                f'{size} bytes (page number {pg}, flags 0x{flags:x}, {n} pages)')
        return over * self.psize + _HDR

    def read(self, key: bytes) -> Optional[bytes]:
        """The value of ``key`` (one ``pread``), or ``None`` if the key is absent."""
        where = self.locate(key)
        if where is None:
            return None
        off, size = where
        data = _pread(self.fd, size, off)
        if len(data) != size:
            raise self._damaged(f'truncated: the value of {key!r} runs past the end of the file')
        return data
