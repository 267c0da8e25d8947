"""Inpaint a folder of images with any inpainting config: a mask folder (same relative names) or one mask.

    python tools/batch_inpaint.py CONFIG CHECKPOINT --img-dir photos/ --mask-dir masks/ --out results/
    python tools/batch_inpaint.py CONFIG CHECKPOINT --img-dir photos/ --mask logo_mask.png --out results/ \\
        [--strategy whole|crop|resize] [--crop-margin 128] [--resize-limit 1280] [--seed 240]

Images are found recursively; ``photos/a/b.jpg`` takes ``masks/a/b.<any image extension>``
(white = hole; ``--mask-white-known`` for MAT's released masks) and is written to
``results/a/b.png``. Everything is checked before the model is loaded: every image has
exactly one mask, the outputs follow ``tools/restore.py``'s rules (no output folder inside an
input folder, no output replacing an input, no two inputs written to one file), and existing
outputs are kept unless ``--overwrite`` (or skipped with ``--skip-existing``). An image that
fails is reported and the others go on; the exit status is 1 if any failed.
"""
import argparse
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from irkit.utils.config import DictAction  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Inpaint a folder of images (white mask pixels = holes)')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--img-dir', required=True, help='folder of images (searched recursively)')
    masks = p.add_mutually_exclusive_group(required=True)
    masks.add_argument('--mask-dir', help='folder of masks with the images\' relative names (any extension)')
    masks.add_argument('--mask', help='one mask for every image')
    p.add_argument('--out', required=True, help='output folder (PNG files, the images\' relative names)')
    p.add_argument('--strategy', choices=['whole', 'crop', 'resize'], default='whole',
                   help='high-resolution strategy (docs/demo.md)')
    p.add_argument('--crop-margin', type=int, default=128, help='crop: context pixels around each hole')
    p.add_argument('--resize-limit', type=int, default=1280, help='resize: long side to shrink to')
    p.add_argument('--seed', type=int, default=240)
    p.add_argument('--mask-white-known', action='store_true', help="mask convention of MAT's released masks")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument('--overwrite', action='store_true', help='replace existing outputs (never inputs)')
    existing.add_argument('--skip-existing', action='store_true', help='leave images with an output alone')
    p.add_argument('--device', default=None)
    p.add_argument('--allow-nonfinite', action='store_true',
                   help='load a checkpoint whose weights hold NaN/Inf (refused by default)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def _overlap(a: str, b: str) -> bool:
    a, b = osp.realpath(a), osp.realpath(b)
    return osp.commonpath([a, b]) in (a, b)


def plan(img_dir: str, out_dir: str, mask_dir: Optional[str] = None,
         mask: Optional[str] = None) -> List[Tuple[str, str, str]]:
    """``(image, mask, output)`` for every image, or an error saying what is wrong.

    Outputs follow :func:`irkit.apis.plan_outputs` (the rules of ``tools/restore.py``).
    """
    from irkit.apis import list_images, plan_outputs
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'--img-dir not found: {img_dir}')
    if mask_dir is not None:
        if not osp.isdir(mask_dir):
            raise FileNotFoundError(f'--mask-dir not found: {mask_dir}')
        if _overlap(mask_dir, img_dir):
            raise ValueError(f'--mask-dir {mask_dir} and --img-dir {img_dir} overlap: keep the masks in a '
                             'folder of their own')
    elif not osp.isfile(mask):
        raise FileNotFoundError(f'--mask not found: {mask}')
    jobs = plan_outputs([img_dir], out_dir)
    if not jobs:
        raise ValueError(f'no images in {img_dir}')
    if mask_dir is None:
        if any(osp.realpath(dst) == osp.realpath(mask) for _, dst in jobs):
            raise ValueError(f'an output would overwrite the mask {mask}; choose another --out')
        return [(src, mask, dst) for src, dst in jobs]
    by_stem = defaultdict(list)
    for m in list_images([mask_dir]):
        by_stem[osp.splitext(osp.relpath(m, mask_dir))[0]].append(m)
    masks: Dict[str, str] = {}
    missing, ambiguous = [], []
    for src, _ in jobs:
        rel = osp.relpath(src, img_dir)
        found = by_stem.get(osp.splitext(rel)[0], [])
        if len(found) == 1:
            masks[src] = found[0]
        else:
            (missing if not found else ambiguous).append(rel)
    for what, names in (('no mask', missing), ('several masks (same name, other extensions)', ambiguous)):
        if names:
            raise ValueError(f'{len(names)} image(s) have {what} in {mask_dir}: {", ".join(names[:5])}'
                             + (' ...' if len(names) > 5 else ''))
    if any(_overlap(dst, mask_dir) for _, dst in jobs):
        raise ValueError(f'--out {out_dir} is inside --mask-dir {mask_dir}; choose another folder')
    return [(src, masks[src], dst) for src, dst in jobs]


def main(argv=None) -> int:
    args = parse_args(argv)
    jobs = plan(args.img_dir, args.out, args.mask_dir, args.mask)
    existing = [o for _, _, o in jobs if osp.exists(o)]
    if existing and not (args.overwrite or args.skip_existing):
        raise SystemExit(f'{len(existing)} output(s) exist already (e.g. {existing[0]}): pass --overwrite or '
                         '--skip-existing')
    if args.skip_existing:
        jobs = [j for j in jobs if not osp.exists(j[2])]

    import torch
    from tqdm import tqdm

    from irkit.apis.inpainting import init_model, inpaint, save_rgb
    if not osp.isfile(args.config):
        raise SystemExit(f'config not found: {args.config}')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = init_model(args.config, args.checkpoint, device=device, cfg_options=args.cfg_options)
    failed = []
    for img, mask, out in tqdm(jobs, desc='inpainting', unit='img'):
        try:
            result = inpaint(model, img, mask, seed=args.seed, white_is_hole=not args.mask_white_known,
                             strategy=args.strategy, crop_margin=args.crop_margin, resize_limit=args.resize_limit)
        except (ValueError, TypeError, KeyError, FileNotFoundError) as e:
            failed.append(str(e) if img in str(e) else f'{img}: {e}')
            continue
        save_rgb(result, out)
        tqdm.write(f'{img} -> {out}')
    print(f'wrote {len(jobs) - len(failed)} image(s) to {args.out}'
          + (f' ({len(existing)} existing skipped)' if args.skip_existing and existing else ''))
    for line in failed:
        print(f'failed: {line}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(lambda: sys.exit(main()))
