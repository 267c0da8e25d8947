"""Image size from the file header, and a limit on the pixels a file may decode to.

A 389 KB PNG can declare 20000 x 20000 pixels and decode to gigabytes. Every image irkit
decodes (datasets, ``tools/restore.py``, ``tools/inpaint.py``, ``tools/create_lmdb.py``)
is first measured from its header, without decoding, and refused when ``width x height``
exceeds the limit:

* ``IRKIT_MAX_IMAGE_PIXELS`` (environment variable; inherited by DataLoader workers
  and distributed ranks), default ``2**27`` = 134,217,728 pixels (e.g. 16384 x 8192;
  1.5 GiB as float32 RGB); ``0`` disables the check.

Headers read here: PNG, JPEG, BMP, TIFF (classic), WebP (VP8, VP8L, VP8X) and PNM/PAM,
i.e. every extension irkit lists. Other formats go to OpenCV unmeasured (OpenCV applies
its own limit, ``CV_IO_MAX_IMAGE_PIXELS``, default 2**30).
"""
from __future__ import annotations

import os
import re
import struct
from typing import Optional, Tuple

__all__ = ['image_size', 'check_pixel_limit', 'max_image_pixels', 'ImageTooLargeError',
           'MAX_PIXELS_ENV', 'DEFAULT_MAX_PIXELS']

MAX_PIXELS_ENV = 'IRKIT_MAX_IMAGE_PIXELS'
DEFAULT_MAX_PIXELS = 1 << 27


class ImageTooLargeError(ValueError):
    """An image declares more pixels than ``IRKIT_MAX_IMAGE_PIXELS`` allows."""


def max_image_pixels() -> int:
    """The limit in pixels (``0``: none), from ``IRKIT_MAX_IMAGE_PIXELS``."""
    raw = os.environ.get(MAX_PIXELS_ENV, '').strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        try:
            value = int(float(raw))  # 1e8
        except (ValueError, OverflowError):
            value = -1
    if value < 0:
        raise ValueError(f'{MAX_PIXELS_ENV}={raw!r}: expected a number of pixels (0 = no limit)')
    return value


def _png(d: bytes) -> Optional[Tuple[int, int]]:
    if d[12:16] != b'IHDR':
        return None
    return struct.unpack('>II', d[16:24])


def _jpeg(d: bytes) -> Optional[Tuple[int, int]]:
    i, n = 2, len(d)
    while i + 4 <= n:
        if d[i] != 0xFF:
            return None
        while i < n and d[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = d[i]
        i += 1
        if marker in (0x01, *range(0xD0, 0xDA)):  # no length: TEM, RSTn, SOI, EOI
            if marker == 0xD9:
                return None
            continue
        if i + 2 > n:
            return None
        length = struct.unpack('>H', d[i:i + 2])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            if i + 7 > n:
                return None
            h, w = struct.unpack('>HH', d[i + 3:i + 7])
            return w, h
        if length < 2:
            return None
        i += length
    return None


def _bmp(d: bytes) -> Optional[Tuple[int, int]]:
    if len(d) < 26:
        return None
    dib = struct.unpack('<I', d[14:18])[0]
    if dib == 12:
        return struct.unpack('<HH', d[18:22])
    w, h = struct.unpack('<ii', d[18:26])
    return abs(w), abs(h)


def _tiff(d: bytes) -> Optional[Tuple[int, int]]:
    end = '<' if d[:2] == b'II' else '>'
    if struct.unpack(end + 'H', d[2:4])[0] != 42:  # BigTIFF (43) not measured
        return None
    off = struct.unpack(end + 'I', d[4:8])[0]
    if off + 2 > len(d):
        return None
    count = struct.unpack(end + 'H', d[off:off + 2])[0]
    dims = {}
    for k in range(count):
        e = off + 2 + 12 * k
        if e + 12 > len(d):
            break
        tag, typ = struct.unpack(end + 'HH', d[e:e + 4])
        if tag in (256, 257):
            dims[tag] = struct.unpack(end + ('H' if typ == 3 else 'I'), d[e + 8:e + (10 if typ == 3 else 12)])[0]
    return (dims[256], dims[257]) if len(dims) == 2 else None


def _webp(d: bytes) -> Optional[Tuple[int, int]]:
    chunk = d[12:16]
    if chunk == b'VP8X' and len(d) >= 30:
        w = int.from_bytes(d[24:27], 'little') + 1
        h = int.from_bytes(d[27:30], 'little') + 1
        return w, h
    if chunk == b'VP8L' and len(d) >= 25 and d[20] == 0x2F:
        bits = int.from_bytes(d[21:25], 'little')
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b'VP8 ' and len(d) >= 30 and d[23:26] == b'\x9d\x01\x2a':
        w, h = struct.unpack('<HH', d[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _pnm(d: bytes) -> Optional[Tuple[int, int]]:
    head = d[:4096]
    if head[1:2] == b'7':  # PAM
        w = re.search(rb'\nWIDTH\s+(\d+)', head)
        h = re.search(rb'\nHEIGHT\s+(\d+)', head)
        return (int(w.group(1)), int(h.group(1))) if w and h else None
    text = re.sub(rb'#[^\n]*', b' ', head[2:])
    nums = re.findall(rb'\d+', text[:200])
    return (int(nums[0]), int(nums[1])) if len(nums) >= 2 else None


def image_size(data: bytes) -> Optional[Tuple[int, int]]:
    """``(width, height)`` declared by the header of encoded image bytes, or ``None`` for a
    format not read here (or a header too damaged to read: the decoder then reports it)."""
    d = bytes(data[:65536]) if len(data) > 65536 else bytes(data)
    try:
        if d.startswith(b'\x89PNG\r\n\x1a\n'):
            return _png(d)
        if d.startswith(b'\xff\xd8'):
            return _jpeg(d)
        if d.startswith(b'BM'):
            return _bmp(d)
        if d[:4] in (b'II*\x00', b'MM\x00*'):
            return _tiff(d)
        if d[:4] == b'RIFF' and d[8:12] == b'WEBP':
            return _webp(d)
        if len(d) > 2 and d[:1] == b'P' and d[1:2] in b'1234567' and d[2:3].isspace():
            return _pnm(d)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def check_pixel_limit(data: bytes, source: str) -> Optional[Tuple[int, int]]:
    """Raise :class:`ImageTooLargeError` if the header of ``data`` declares more pixels than
    the limit; returns the declared ``(width, height)`` (``None`` if not measured)."""
    size = image_size(data)
    limit = max_image_pixels()
    if size is not None and limit and size[0] * size[1] > limit:
        w, h = size
        raise ImageTooLargeError(
            f'{source}: {w} x {h} pixels ({w * h / 1e6:.1f} MP, {len(data)} bytes on disk) exceeds the '
            f'limit of {limit} pixels ({limit / 1e6:.1f} MP) set by {MAX_PIXELS_ENV}; raise it '
            f'(e.g. {MAX_PIXELS_ENV}={w * h}) if this image is meant to be decoded whole, or 0 for no limit')
    return size
