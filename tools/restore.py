"""Restore images: ``python tools/restore.py CONFIG CHECKPOINT INPUT [INPUT ...] --out DIR [--tile N]``.

Each image found in an input folder is written under ``--out`` with its path relative to
that folder, a file given directly with its name; the extension becomes ``.png``
(16-bit when the input is 16-bit or float, 8-bit otherwise). Before anything is written
the tool refuses an output folder that is (or is inside) an input folder, an output that
would replace an input, and two inputs that would be written to the same file. Every
file written is printed (``INPUT -> OUTPUT``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from irkit.utils.config import DictAction  # noqa: E402


def stored_as_deep(path: str) -> bool:
    """Whether the file holds more than 8 bits per sample (16-bit or float)."""
    import cv2
    import numpy as np
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    return img is not None and img.dtype != np.uint8


def main(argv=None):
    p = argparse.ArgumentParser(description='Restore images with an irkit model')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('inputs', nargs='+', help='image files and/or folders')
    p.add_argument('--out', required=True, help='output folder (PNG files, same relative names)')
    p.add_argument('--tile', type=int, help='tile size for large images (bounded memory)')
    p.add_argument('--tile-overlap', type=int, default=None)
    p.add_argument('--device', default='cuda' if __import__('torch').cuda.is_available() else 'cpu')
    p.add_argument('--allow-nonfinite', action='store_true',
                   help='load a checkpoint whose weights hold NaN/Inf (refused by default)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)

    import numpy as np
    from tqdm import tqdm

    from irkit.apis import init_model, plan_outputs, restore
    from irkit.fileio.tempfiles import remove_stale_temps
    from irkit.hooks.visualization import to_bgr, write_image

    plan = plan_outputs(args.inputs, args.out)
    if not plan:
        raise SystemExit(f'no images found in {", ".join(args.inputs)}')
    model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options,
                       allow_nonfinite=args.allow_nonfinite)
    for folder in sorted({osp.dirname(dst) for _, dst in plan}):
        for left in remove_stale_temps(folder):
            print(f'removed {left}: left by a write that was killed')
    written = 0
    for src, dst in tqdm(plan, desc='restoring', unit='img'):
        out = restore(model, src, tile=args.tile, tile_overlap=args.tile_overlap)
        bad = int((~out.isfinite()).sum())
        if bad:
            raise ValueError(f'{src}: {bad} output values are not finite (NaN/Inf), nothing written for '
                             f'it ({written} image(s) written before it)')
        write_image(dst, to_bgr(out, np.uint16 if stored_as_deep(src) else np.uint8))
        written += 1
        tqdm.write(f'{src} -> {dst}')
    print(f'wrote {written} image(s) to {args.out}')


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
