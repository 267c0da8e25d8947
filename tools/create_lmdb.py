"""Pack an image folder into a BasicSR-format LMDB, or verify one.

    python tools/create_lmdb.py SRC_DIR DST.lmdb [--compress-level 1] [--workers N] [--overwrite]
    python tools/create_lmdb.py GT_DIR GT.lmdb --lq LQ_DIR LQ.lmdb        # paired, same keys
    python tools/create_lmdb.py --verify DST.lmdb [--src SRC_DIR]

The output is what BasicSR's ``make_lmdb_from_imgs`` writes (keys = relative path
without extension, values = PNG bytes from OpenCV at the compression level,
``meta_info.txt`` lines ``{key}.png ({h},{w},{c}) {level}``), so BasicSR, MMagic
and irkit read it. Every image is decoded before it is written; the database is
built in a hidden temporary folder and renamed when complete; the map size grows
as needed.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Create or verify a BasicSR-format LMDB')
    p.add_argument('src', nargs='?', help='source image folder (scanned recursively)')
    p.add_argument('dst', nargs='?', help='destination folder, must end with .lmdb')
    p.add_argument('--lq', nargs=2, metavar=('LQ_DIR', 'LQ_LMDB'),
                   help='paired mode: also pack LQ_DIR into LQ_LMDB; the keys must match SRC')
    p.add_argument('--compress-level', type=int, default=1, choices=range(10), metavar='0-9',
                   help='PNG compression level (default 1, as BasicSR)')
    p.add_argument('--workers', type=int, default=0, help='processes reading/encoding images')
    p.add_argument('--overwrite', action='store_true', help='replace an existing destination')
    p.add_argument('--no-recursive', action='store_true', help='only the top folder')
    p.add_argument('--verify', metavar='LMDB', help='verify an existing LMDB and exit')
    p.add_argument('--src', dest='verify_src', metavar='DIR',
                   help='with --verify: also compare the pixels with this folder')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from irkit.fileio.lmdb import make_lmdb, make_paired_lmdb, verify_lmdb
    try:
        if args.verify:
            n = verify_lmdb(args.verify, src=args.verify_src, progress=not args.quiet)
            print(f'{args.verify}: OK, {n} images')
            return 0
        if not args.src or not args.dst:
            print('error: give SRC_DIR and DST.lmdb (or --verify LMDB)', file=sys.stderr)
            return 2
        from irkit.fileio.tempfiles import remove_stale_temps
        for dst in [args.dst] + ([args.lq[1]] if args.lq else []):
            for p in remove_stale_temps(osp.dirname(osp.abspath(dst))):
                print(f'removed {p}: left by a write that was killed')
        common = dict(compress_level=args.compress_level, workers=args.workers,
                      overwrite=args.overwrite, recursive=not args.no_recursive,
                      progress=not args.quiet)
        if args.lq:
            keys = make_paired_lmdb(args.src, args.dst, args.lq[0], args.lq[1], **common)
            print(f'wrote {len(keys)} pairs to {args.dst} and {args.lq[1]}')
        else:
            keys = make_lmdb(args.src, args.dst, **common)
            print(f'wrote {len(keys)} images to {args.dst}')
        return 0
    except (OSError, ValueError, RuntimeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
