"""Training-batch throughput: PNG folder vs LMDB, 0 and 2 DataLoader workers.

    python benchmarks/bench_data.py [--num-images 64] [--size 480] [--crop 256] [--batch 8]

Writes ``--num-images`` paired ~480x480 images (smooth random content plus noise,
so PNGs compress like photos; LQ = GT + Gaussian noise) as PNG folders
(OpenCV's default PNG settings) and as LMDBs (tools/create_lmdb.py format), then
times one pass of random 256x256 paired crops (``PairedRandomCrop`` + flip +
``PackInputs``) through ``torch.utils.data.DataLoader``.

"cold": before the pass every file's pages are dropped from the OS page cache
with ``posix_fadvise(DONTNEED)`` (no root needed; on file systems that ignore it,
cold equals warm and the script says so). "warm": the same pass again.
Prints a Markdown table.
"""
import argparse
import os
import os.path as osp
import platform
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def make_data(root, n, size, rng):
    for sub in ('gt', 'lq'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for i in range(n):
        h = size + int(rng.integers(-16, 17))
        w = size + int(rng.integers(-16, 17))
        base = rng.random((h // 16, w // 16, 3)).astype(np.float32)
        img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
        img += 0.03 * rng.standard_normal(img.shape).astype(np.float32)
        gt = np.clip(img * 255, 0, 255).astype(np.uint8)
        lq = np.clip(gt + rng.normal(0, 15, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(osp.join(root, 'gt', f'{i:04d}.png'), gt)
        cv2.imwrite(osp.join(root, 'lq', f'{i:04d}.png'), lq)


def drop_cache(paths):
    """Ask the kernel to drop the cached pages of these files; True if supported.

    Dirty pages (files just written) cannot be dropped, hence the sync first; pages
    mapped by a process (an open LMDB environment) are not dropped either, so callers
    close this process's LMDB handles first (``irkit.fileio.lmdb.forget``).
    """
    os.sync()
    ok = hasattr(os, 'posix_fadvise')
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            if ok:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return ok


def forget_all(*roots):
    from irkit.fileio.lmdb import forget
    for r in roots:
        forget(r)


def all_files(root):
    out = []
    for d, _, files in os.walk(root):
        out += [osp.join(d, f) for f in files]
    return out


def one_pass(gt_root, lq_root, crop, batch, workers):
    from irkit.datasets import PairedImageDataset
    pipeline = [dict(type='LoadImageFromFile', key='gt'), dict(type='LoadImageFromFile', key='lq'),
                dict(type='PairedRandomCrop', gt_patch_size=crop),
                dict(type='RandomFlip', keys=['gt', 'lq']),
                dict(type='PackInputs', keys=['lq', 'gt'])]
    ds = PairedImageDataset(gt_root, lq_root, pipeline=pipeline)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                         drop_last=True)
    start = time.perf_counter()
    n = 0
    for b in loader:
        n += b['gt'].shape[0]
    return n / (time.perf_counter() - start)


def io_pass(kind, root, keys):
    """Seconds to read every value once (no decoding): file reads or LMDB gets."""
    from irkit.fileio.lmdb import forget, get_reader
    start = time.perf_counter()
    total = 0
    if kind == 'LMDB':
        forget(root)
        reader = get_reader(root)
        for k in keys:
            total += len(reader.get(k))
        forget(root)
    elif kind.startswith('LMDB via'):  # BasicSR's way: txn.get on a no-readahead environment
        import lmdb
        env = lmdb.open(root, readonly=True, lock=False, readahead=False, meminit=False)
        with env.begin(write=False) as txn:
            for k in keys:
                total += len(txn.get(k.encode('ascii')))
        env.close()
    else:
        for k in keys:
            with open(osp.join(root, k + '.png'), 'rb') as f:
                total += len(f.read())
    return time.perf_counter() - start, total


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--num-images', type=int, default=32)
    p.add_argument('--size', type=int, default=480)
    p.add_argument('--crop', type=int, default=256)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--workers', type=int, nargs='*', default=[0, 2])
    p.add_argument('--repeats', type=int, default=1, help='passes per setting (the best is kept)')
    p.add_argument('--tmp', default=None, help='where to write the data (default: a temp dir)')
    args = p.parse_args()
    from irkit.fileio.lmdb import make_lmdb
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=args.tmp) as root:
        root_dir = root
        make_data(root, args.num_images, args.size, rng)
        for sub in ('gt', 'lq'):
            make_lmdb(osp.join(root, sub), osp.join(root, f'{sub}.lmdb'), progress=False)
        folder_mb = sum(osp.getsize(f) for f in all_files(osp.join(root, 'gt'))) / 2 ** 20
        lmdb_mb = osp.getsize(osp.join(root, 'gt.lmdb', 'data.mdb')) / 2 ** 20
        sources = {'PNG folder': (osp.join(root, 'gt'), osp.join(root, 'lq')),
                   'LMDB': (osp.join(root, 'gt.lmdb'), osp.join(root, 'lq.lmdb'))}
        print(f'# {args.num_images} pairs ~{args.size}x{args.size}, crops {args.crop}, batch '
              f'{args.batch}; GT folder {folder_mb:.1f} MiB, GT LMDB {lmdb_mb:.1f} MiB; '
              f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start, '
              f'{platform.platform()}, torch {torch.__version__}', flush=True)
        print('| source | workers | cold (pairs/s) | warm (pairs/s) | CPU ms/pair (main, cold) |')
        print('|---|---|---|---|---|', flush=True)
        rows = []
        for workers in args.workers:
            for name, (g, q) in sources.items():
                files = all_files(g) + all_files(q)
                cold, warm, cpu = [], [], []
                for _ in range(args.repeats):
                    forget_all(g, q)
                    drop_cache(files)
                    t0 = time.process_time()
                    cold.append(one_pass(g, q, args.crop, args.batch, workers))
                    cpu.append((time.process_time() - t0) * 1e3 / args.num_images)
                    warm.append(one_pass(g, q, args.crop, args.batch, workers))
                rows.append((name, workers, max(cold), max(warm)))
                print(f'| {name} | {workers} | {max(cold):.1f} | {max(warm):.1f} | {min(cpu):.1f} |',
                      flush=True)
        print()
        print('| raw reads (random order), no decoding | cold (MiB/s) | warm (MiB/s) |')
        print('|---|---|---|')
        keys = [f'{i:04d}' for i in range(args.num_images)]
        np.random.default_rng(1).shuffle(keys)  # random order, as training reads
        lmdb_root = osp.join(root_dir, 'gt.lmdb')
        for name, root in (('PNG folder', osp.join(root_dir, 'gt')), ('LMDB', lmdb_root),
                           ('LMDB via py-lmdb txn.get (BasicSR)', lmdb_root)):
            cold, warm = [], []
            for _ in range(3):
                drop_cache(all_files(root))
                t, nbytes = io_pass(name, root, keys)
                cold.append(nbytes / t / 2 ** 20)
                t, nbytes = io_pass(name, root, keys)
                warm.append(nbytes / t / 2 ** 20)
            print(f'| {name} | {max(cold):.0f} | {max(warm):.0f} |', flush=True)
        print(f'load average at the end: {os.getloadavg()[0]:.1f}')
        by = {(n, wk): (c, w) for n, wk, c, w in rows}
        for wk in args.workers:
            c = by[('LMDB', wk)][0] / by[('PNG folder', wk)][0]
            w = by[('LMDB', wk)][1] / by[('PNG folder', wk)][1]
            print(f'LMDB / folder, {wk} workers: cold x{c:.2f}, warm x{w:.2f}')


if __name__ == '__main__':
    main()
