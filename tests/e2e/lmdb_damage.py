"""Damage an LMDB every way a disk, a copy or a crash can and read it back through irkit.

    python tests/e2e/lmdb_damage.py WORK_DIR [--mutations-per-page 12] [--seed 0]

Run as a separate process by ``tests/e2e/test_lmdb_damage.py`` (a reader that crashed the
process would take a test session down with it). It packs a database with values on
overflow pages and ~200 small inline values (several leaf pages under a branch page),
then

* truncates ``data.mdb`` at every page boundary and in the middle of every page, and
* overwrites 1-8 random bytes at random places of every page (half of them in the
  page header and node offsets, where sizes and page numbers live), one damage at a time,

and reads every key after each damage with :class:`irkit.fileio.lmdb.LmdbReader`. Each
read must return bytes or raise :class:`LmdbError`/:class:`LmdbKeyError`; anything else
(another exception, a crash, a hang) is a failure. Prints a JSON summary.
"""
import argparse
import json
import os
import shutil
import sys
import traceback

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from irkit.fileio import lmdb as ilmdb  # noqa: E402


def build(root: str, rng) -> str:
    src = os.path.join(root, 'src')
    os.makedirs(src)
    for i in range(6):  # ~15 KB PNGs: overflow pages
        cv2.imwrite(os.path.join(src, f'big{i}.png'), (rng.random((64, 80, 3)) * 255).astype(np.uint8))
    for i in range(200):  # ~100 B PNGs: inline values, several leaves
        cv2.imwrite(os.path.join(src, f's{i:03d}.png'), (rng.random((3, 3, 3)) * 255).astype(np.uint8))
    db = os.path.join(root, 'ref.lmdb')
    ilmdb.make_lmdb(src, db, progress=False)
    return db


def damages(data: bytes, psize: int, rng, per_page: int):
    """``(description, damaged bytes, 'truncation'|'mutation')``: ``data`` cut at every page
    boundary and mid-page, then 1-8 random bytes overwritten ``per_page`` times in every page
    (half of them within the first 64 bytes: page header and node offsets)."""
    n_pages = len(data) // psize
    for size in sorted({i * psize for i in range(n_pages)} | {i * psize + psize // 2 for i in range(n_pages)}):
        yield f'truncated to {size} bytes', data[:size], 'truncation'
    for page in range(n_pages):
        for _ in range(per_page):
            buf = bytearray(data)
            n = int(rng.integers(1, 9))
            off = page * psize + int(rng.integers(0, 64 if rng.random() < 0.5 else psize - n))
            buf[off:off + n] = rng.bytes(n)
            yield f'{n} bytes at {off} (page {page})', bytes(buf), 'mutation'


def read_all(db: str, keys) -> dict:
    """Outcome counts of reading every key: 'same', 'other bytes', 'LmdbError', 'LmdbKeyError'."""
    out = {}
    ilmdb.forget(db)
    try:
        reader = ilmdb.LmdbReader(db)
        ref = read_all.reference
        for k in keys:
            try:
                v = reader.get(k)
                kind = 'same' if v == ref[k] else 'other bytes'
            except ilmdb.LmdbKeyError:
                kind = 'LmdbKeyError'
            except ilmdb.LmdbError as e:
                assert db in str(e), str(e)  # the database is named
                kind = 'LmdbError'
            out[kind] = out.get(kind, 0) + 1
    finally:
        ilmdb.forget(db)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument('work_dir')
    p.add_argument('--mutations-per-page', type=int, default=12)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    ref_db = build(args.work_dir, rng)
    reader = ilmdb.LmdbReader(ref_db)
    keys = reader.keys()
    read_all.reference = {k: reader.get(k) for k in keys}
    ilmdb.forget(ref_db)
    data = open(os.path.join(ref_db, 'data.mdb'), 'rb').read()
    psize = 4096
    n_pages = len(data) // psize
    db = os.path.join(args.work_dir, 'damaged.lmdb')
    shutil.copytree(ref_db, db)
    target = os.path.join(db, 'data.mdb')
    summary = {'pages': n_pages, 'keys': len(keys), 'truncations': 0, 'mutations': 0,
               'truncation_outcomes': {}, 'mutation_outcomes': {}, 'failures': []}

    def attempt(what, payload, outcomes):
        with open(target, 'wb') as f:
            f.write(payload)
        try:
            counts = read_all(db, keys)
        except ilmdb.LmdbError as e:  # refused when opened
            assert db in str(e), str(e)
            counts = {'LmdbError (open)': 1}
        except Exception:  # noqa: BLE001 - any other error is what this script looks for
            summary['failures'].append(f'{what}: {traceback.format_exc(limit=3)}')
            return
        for k, v in counts.items():
            outcomes[k] = outcomes.get(k, 0) + v

    for what, payload, kind in damages(data, psize, rng, args.mutations_per_page):
        summary['truncations' if kind == 'truncation' else 'mutations'] += 1
        attempt(what, payload, summary[f'{kind}_outcomes'])
    print(json.dumps(summary))
    return 1 if summary['failures'] else 0


if __name__ == '__main__':
    sys.exit(main())
