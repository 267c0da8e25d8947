"""Damaged LMDBs: irkit's page reader vs py-lmdb (BasicSR's reader) on the same damage.

    python benchmarks/bench_lmdb_damage.py [--mutations-per-page 12] [--seed 0]

Builds the database of ``tests/e2e/lmdb_damage.py`` (values on overflow pages and ~200
inline values over several leaf pages), damages ``data.mdb`` the same ways (truncated at
every page boundary and mid-page; 1-8 random bytes overwritten in every page) and reads every
key after each damage, once with each reader, each attempt in a forked child so that a crash
is counted instead of ending the script: "crash (SIGBUS)" = the child was killed by that
signal, "error" = a Python exception (irkit: ``LmdbError``/``LmdbKeyError``; py-lmdb:
``lmdb.Error``), "ok" = every read returned bytes. Prints a Markdown table.
"""
import argparse
import os
import os.path as osp
import shutil
import signal
import sys
import tempfile

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tests', 'e2e'))

import lmdb_damage  # noqa: E402

from irkit.fileio import lmdb as ilmdb  # noqa: E402


def read_irkit(db, keys):
    ilmdb.forget(db)
    reader = ilmdb.LmdbReader(db)
    for k in keys:
        reader.get(k)


def read_pylmdb(db, keys):
    import lmdb
    env = lmdb.open(db, readonly=True, lock=False, readahead=False, meminit=False)
    with env.begin() as txn:
        for k in keys:
            txn.get(k.encode())


def in_child(fn, *args) -> str:
    pid = os.fork()
    if pid == 0:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - any Python error: the reader reported the damage
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f'crash ({signal.Signals(os.WTERMSIG(status)).name})'
    return {0: 'ok', 3: 'error'}.get(os.WEXITSTATUS(status), f'exit {os.WEXITSTATUS(status)}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--mutations-per-page', type=int, default=12)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as work:
        ref = lmdb_damage.build(work, rng)
        keys = ilmdb.LmdbReader(ref).keys()
        data = open(osp.join(ref, 'data.mdb'), 'rb').read()
        db = osp.join(work, 'damaged.lmdb')
        shutil.copytree(ref, db)
        counts = {}
        for _, payload, kind in lmdb_damage.damages(data, 4096, rng, args.mutations_per_page):
            with open(osp.join(db, 'data.mdb'), 'wb') as f:
                f.write(payload)
            for reader, fn in (('irkit page reader', read_irkit), ('py-lmdb txn.get', read_pylmdb)):
                outcome = in_child(fn, db, keys)
                key = (kind, reader)
                counts.setdefault(key, {})
                counts[key][outcome] = counts[key].get(outcome, 0) + 1
    print(f'# {len(data) // 4096} pages, {len(keys)} keys; every key read after each damage')
    print('| damage | reader | outcomes (attempts) |')
    print('|---|---|---|')
    for (kind, reader), c in counts.items():
        print(f'| {kind} | {reader} | ' + ', '.join(f'{k}: {v}' for k, v in sorted(c.items())) + ' |')


if __name__ == '__main__':
    main()
