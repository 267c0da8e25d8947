"""Write fixed, versioned evaluation mask sets (PNG folders, white = hole, with a manifest).

    python tools/make_mask_sets.py OUT_DIR [--sets mat_large ratio_10_20 ...|all] [--count 1000]
        [--size 512] [--seed 0] [--overwrite]
    python tools/make_mask_sets.py --verify OUT_DIR/mat_large
    python tools/make_mask_sets.py --list

Each set goes to OUT_DIR/<name>/ with manifest.json (definition, per-file SHA-256 and hole
ratio, set SHA-256). The same name, version, size, count and seed always give the same bytes.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Write fixed evaluation mask sets')
    p.add_argument('out_dir', nargs='?')
    p.add_argument('--sets', nargs='+', default=['all'], help="set names (see --list) or 'all'")
    p.add_argument('--count', type=int, help='masks per set (default: the set\'s own, 1000)')
    p.add_argument('--size', type=int, help='mask side in pixels (default 512)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--overwrite', action='store_true')
    p.add_argument('--verify', metavar='SET_DIR', help='check a written set against its manifest and exit')
    p.add_argument('--list', action='store_true', help='print the mask sets and exit')
    args = p.parse_args(argv)
    if not (args.list or args.verify or args.out_dir):
        p.error('give OUT_DIR (or --list / --verify)')
    return args


def main(argv=None):
    args = parse_args(argv)
    from irkit.datasets.mask_sets import MASK_SET_VERSION, MASK_SETS, generate_mask_set, verify_mask_set
    if args.list:
        for name, spec in MASK_SETS.items():
            print(f'{name:<14} {spec.description} (generator {spec.generator}, {spec.params})')
        print(f'mask set version {MASK_SET_VERSION}')
        return MASK_SETS
    if args.verify:
        m = verify_mask_set(args.verify)
        print(f"{args.verify}: {m['name']} v{m['version']}, {m['count']} masks of {m['size']} px, "
              f"seed {m['seed']}: all files match (sha256 {m['sha256']})")
        return m
    names = list(MASK_SETS) if [s.lower() for s in args.sets] == ['all'] else args.sets
    out = {}
    for name in names:
        m = generate_mask_set(name, osp.join(args.out_dir, name), count=args.count, size=args.size,
                              seed=args.seed, overwrite=args.overwrite)
        ratios = [f['hole_ratio'] for f in m['files']]
        print(f"{name}: {m['count']} masks, mean hole ratio {sum(ratios) / len(ratios):.3f}, sha256 {m['sha256']}")
        out[name] = m
    return out


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
