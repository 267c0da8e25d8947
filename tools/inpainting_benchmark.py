"""Score inpainting models on the same images and the same fixed masks; one comparison table.

    python tools/inpainting_benchmark.py --images data/places365/val_large \\
        --mask-sets masks/mat_large masks/ratio_10_20 \\
        --model lama=configs/lama_places.py:checkpoints/big-lama.pth \\
        --model mat=configs/mat_places.py:checkpoints/mat_places_512.pth \\
        --model aot=configs/aotgan_places.py          (no checkpoint: seeded random weights, labelled)
        --out work_dirs/inpainting_benchmark [--metrics PSNR SSIM L1_hole LPIPS FID PIDS]
        [--cfg-options NAME:key=value ...] [--grid 4]

Mask sets come from tools/make_mask_sets.py (verified against their manifests before use).
Writes results.json, results.csv, table.md, plot.png and grid.png to --out (see
irkit/leaderboard/inpainting.py for the protocol). Two runs give the same numbers.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Inpainting benchmark on fixed mask sets')
    p.add_argument('--images', required=True, help='image folder (sorted; image i pairs with mask i)')
    p.add_argument('--mask-sets', nargs='+', required=True, help='mask set folders (tools/make_mask_sets.py)')
    p.add_argument('--model', action='append', required=True, metavar='NAME=CONFIG[:CHECKPOINT]')
    p.add_argument('--out', required=True)
    p.add_argument('--metrics', nargs='+', default=['PSNR', 'SSIM', 'L1_hole', 'LPIPS', 'FID', 'PIDS'])
    p.add_argument('--bins', nargs='+', type=float, default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0],
                   help='hole-ratio bin edges (fractions)')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='NAME:KEY=VALUE',
                   help='config overrides of one model, e.g. aot:model.generator.block_num=1')
    p.add_argument('--grid', type=int, default=4, help='images in the side-by-side grid (0: none)')
    return p.parse_args(argv)


def _models(args):
    from mmengine.config import DictAction

    from irkit.leaderboard.inpainting import BenchModel
    models = []
    for spec in args.model:
        if '=' not in spec:
            raise SystemExit(f'--model {spec!r}: expected NAME=CONFIG[:CHECKPOINT]')
        name, rest = spec.split('=', 1)
        config, _, ckpt = rest.partition(':')
        if not osp.isfile(config):
            raise SystemExit(f'--model {name}: config not found: {config}')
        if ckpt and not osp.isfile(ckpt):
            raise SystemExit(f'--model {name}: checkpoint not found: {ckpt}')
        models.append(BenchModel(name, config, ckpt or None))
    by_name = {m.name: m for m in models}
    for opt in args.cfg_options:
        name, _, kv = opt.partition(':')
        if name not in by_name or '=' not in kv:
            raise SystemExit(f"--cfg-options {opt!r}: expected NAME:KEY=VALUE with NAME one of {', '.join(by_name)}")
        key, value = kv.split('=', 1)
        by_name[name].cfg_options[key] = DictAction._parse_iterable(value)
    return models


def main(argv=None):
    args = parse_args(argv)
    from irkit.leaderboard.inpainting import run_benchmark
    results = run_benchmark(_models(args), args.images, args.mask_sets, args.out, metrics=args.metrics,
                            bins=args.bins, grid_samples=args.grid)
    print(open(osp.join(args.out, 'table.md')).read())
    return results


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
