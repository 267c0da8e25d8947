"""Find a value's bytes in an LMDB data file (format 0.9, as BasicSR's LMDBs) by reading pages.

Why: py-lmdb touches every page of a large value when it hands it out (its "preload",
one byte per page), and an environment opened without readahead, as BasicSR's reader
and irkit's do, turns each touch of a cold page into a separate 4 KiB read: a ~500 KB
PNG takes ~125 synchronous reads (~12 ms on the development VM). Reading the B-tree
pages here and then the value with one ``pread`` gets the same bytes with depth + 1
reads and still reads nothing but what was asked for.

Layout used (LMDB 0.9, native little-endian, 64-bit): page = 16-byte header
(``pgno`` u64, pad u16, flags u16, lower u16, upper u16) then u16 node offsets; meta
pages 0 and 1 (the one with the larger txnid is current) hold the page size
(``dbs[FREE].md_pad``) and the main database root; a branch node is (child pgno as
lo/hi/flags u16s, key size u16, key), its first key ignored; a leaf node is (data size
lo/hi u16, flags u16, key size u16, key, data) with ``F_BIGDATA`` meaning the data is
the u64 number of the overflow page whose bytes follow its 16-byte header. Keys are
compared as byte strings (memcmp, then length), LMDB's default. Anything that does
not fit this layout (sub-databases, DUPSORT, another format version) makes
:meth:`ValueLocator.locate` return ``None`` and the caller reads through LMDB.
"""
from __future__ import annotations

import os
import struct
from typing import Optional, Tuple

__all__ = ['ValueLocator']

_MAGIC = 0xBEEFC0DE
_DATA_VERSION = 1
_P_BRANCH, _P_LEAF, _P_LEAF2, _P_META = 0x01, 0x02, 0x20, 0x08
_F_BIGDATA, _F_SUBDATA, _F_DUPDATA = 0x01, 0x02, 0x04
_HDR = 16
_INVALID = 0xFFFFFFFFFFFFFFFF
_MAX_DEPTH = 64


class ValueLocator:
    """Locate values of the main database of ``data.mdb`` without LMDB (read-only files)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        if hasattr(os, 'posix_fadvise'):  # no readahead beyond what each pread asks for
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_RANDOM)
        self.psize, self.root = self._read_meta()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _read_meta(self) -> Tuple[int, int]:
        best = None
        psize = None
        for page in (0, 1):
            off = page * (psize or 0)
            if page == 1 and psize is None:
                break
            raw = os.pread(self.fd, _HDR + 136, off)
            if len(raw) < _HDR + 136:
                break
            flags = struct.unpack_from('<H', raw, 10)[0]
            magic, version = struct.unpack_from('<II', raw, _HDR)
            if not flags & _P_META or magic != _MAGIC or version != _DATA_VERSION:
                continue
            free_pad = struct.unpack_from('<I', raw, _HDR + 24)[0]
            main_flags = struct.unpack_from('<H', raw, _HDR + 72 + 4)[0]
            main_root = struct.unpack_from('<Q', raw, _HDR + 72 + 40)[0]
            txnid = struct.unpack_from('<Q', raw, _HDR + 128)[0]
            psize = psize or free_pad
            if main_flags & 0x04:  # MDB_DUPSORT: not BasicSR's layout
                continue
            if best is None or txnid > best[0]:
                best = (txnid, main_root)
        if best is None or not psize or psize & (psize - 1):
            raise ValueError(f'{self.path}: not an LMDB 0.9 data file this reader understands')
        return psize, best[1]

    def _page(self, pgno: int) -> bytes:
        raw = os.pread(self.fd, self.psize, pgno * self.psize)
        if len(raw) != self.psize or struct.unpack_from('<Q', raw, 0)[0] != pgno:
            raise ValueError(f'{self.path}: page {pgno} is not where it should be')
        return raw

    @staticmethod
    def _nodes(page: bytes):
        lower = struct.unpack_from('<H', page, 12)[0]
        n = (lower - _HDR) >> 1
        return [struct.unpack_from('<H', page, _HDR + 2 * i)[0] for i in range(n)]

    def locate(self, key: bytes) -> Optional[Tuple[int, int]]:
        """``(file offset, size)`` of ``key``'s value, or ``None`` if the key is absent or
        the layout is not one this reader handles (the caller then asks LMDB)."""
        if self.root == _INVALID:
            return None
        pgno = self.root
        for _ in range(_MAX_DEPTH):
            page = self._page(pgno)
            flags = struct.unpack_from('<H', page, 10)[0]
            offsets = self._nodes(page)
            if not offsets:
                return None
            if flags & _P_BRANCH:
                child = None
                for i, off in enumerate(offsets):  # last node whose key <= key (node 0: -inf)
                    lo, hi, fl, ks = struct.unpack_from('<HHHH', page, off)
                    if i and page[off + 8:off + 8 + ks] > key:
                        break
                    child = lo | (hi << 16) | (fl << 32)
                pgno = child
                continue
            if not flags & _P_LEAF or flags & _P_LEAF2:
                return None
            for off in offsets:
                lo, hi, fl, ks = struct.unpack_from('<HHHH', page, off)
                if page[off + 8:off + 8 + ks] != key:
                    continue
                size = lo | (hi << 16)
                if fl & (_F_SUBDATA | _F_DUPDATA):
                    return None
                data = off + 8 + ks
                if fl & _F_BIGDATA:
                    over = struct.unpack_from('<Q', page, data)[0]
                    return over * self.psize + _HDR, size
                return pgno * self.psize + data, size
            return None
        return None

    def read(self, key: bytes) -> Optional[bytes]:
        """The value of ``key`` read with one ``pread``, or ``None`` (see :meth:`locate`)."""
        where = self.locate(key)
        if where is None:
            return None
        off, size = where
        data = os.pread(self.fd, size, off)
        return data if len(data) == size else None
