"""Restore images: ``python tools/restore.py CONFIG CHECKPOINT INPUT [INPUT ...] --out DIR [--tile N]``."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from irkit.utils.config import DictAction  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='Restore images with an irkit model')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('inputs', nargs='+', help='image files and/or folders')
    p.add_argument('--out', required=True, help='output folder (PNG files, same relative names)')
    p.add_argument('--tile', type=int, help='tile size for large images (bounded memory)')
    p.add_argument('--tile-overlap', type=int, default=None)
    p.add_argument('--device', default='cuda' if __import__('torch').cuda.is_available() else 'cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)

    from tqdm import tqdm

    from irkit.apis import init_model, list_images, restore
    from irkit.hooks.visualization import to_uint8_bgr, write_image

    paths = list_images(args.inputs)
    if not paths:
        raise SystemExit(f'no images found in {", ".join(args.inputs)}')
    model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    for path in tqdm(paths, desc='restoring', unit='img'):
        base = next((i for i in args.inputs if osp.isdir(i) and osp.abspath(path).startswith(osp.abspath(i))), None)
        rel = osp.relpath(path, base) if base else osp.basename(path)
        out = restore(model, path, tile=args.tile, tile_overlap=args.tile_overlap)
        write_image(osp.join(args.out, osp.splitext(rel)[0] + '.png'), to_uint8_bgr(out))
    print(f'wrote {len(paths)} image(s) to {args.out}')


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
