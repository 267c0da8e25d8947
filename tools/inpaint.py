"""Inpaint an image with any inpainting config (MAT, LaMa, AOT-GAN, DeepFill, ...).

    python tools/inpaint.py configs/mat_places.py CHECKPOINT --img IMG --mask MASK --out OUT [--seed 240]

MASK is a greyscale image of the same size as IMG: **white = hole** (to fill),
black = known (``--mask-white-known`` for MAT's released masks, where white =
known).  CHECKPOINT is an irkit/mmengine checkpoint of the config's model or the output of
``tools/convert_checkpoint.py``. OUT must not be IMG or MASK.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from irkit.utils.config import DictAction  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Inpaint an image (white mask pixels = holes)')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--img', required=True, help='input image')
    p.add_argument('--mask', required=True, help='mask image: white = hole, black = known')
    p.add_argument('--out', required=True, help='output image path')
    p.add_argument('--seed', type=int, default=240, help='seed of z and the style-manipulation draws')
    p.add_argument('--mask-white-known', action='store_true', help="mask convention of MAT's released masks")
    p.add_argument('--noise-mode', choices=['const', 'random', 'none'], default=None, help='MAT only')
    p.add_argument('--strategy', choices=['whole', 'crop', 'resize'], default='whole',
                   help='high-resolution strategy (docs/demo.md)')
    p.add_argument('--crop-margin', type=int, default=128, help='crop: context pixels around each hole')
    p.add_argument('--resize-limit', type=int, default=1280, help='resize: long side to shrink to')
    p.add_argument('--device', default='cpu')
    p.add_argument('--allow-nonfinite', action='store_true',
                   help='load a checkpoint whose weights hold NaN/Inf (refused by default)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # the checkpoint may be a bare file name looked up in $IRKIT_WEIGHTS: init_model resolves it
    # (before building the model)
    for what, path in (('image', args.img), ('mask', args.mask)):
        if not osp.isfile(path):
            raise SystemExit(f'{what} not found: {path}')
    for what, path in (('image', args.img), ('mask', args.mask)):
        if osp.realpath(args.out) == osp.realpath(path):
            raise ValueError(f'--out {args.out} would overwrite the input {what} {path}; choose another path')
    from irkit.apis.inpainting import inpaint, init_model, read_mask, save_rgb
    from irkit.apis.restoration import read_rgb
    from irkit.fileio.tempfiles import remove_stale_temps

    # decode and compare the inputs before building the model (which can take a minute);
    # inpaint() reads them again the way the config's test pipeline does
    image = read_rgb(args.img)
    known = read_mask(args.mask, white_is_hole=not args.mask_white_known)
    if known.shape[-2:] != image.shape[-2:]:
        raise SystemExit(f'inpaint: mask size {tuple(known.shape[-2:])} ({args.mask}) differs from the '
                         f'image size {tuple(image.shape[-2:])} ({args.img})')
    model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options,
                       allow_nonfinite=args.allow_nonfinite)
    try:
        out = inpaint(model, args.img, args.mask, seed=args.seed, white_is_hole=not args.mask_white_known,
                      noise_mode=args.noise_mode, strategy=args.strategy, crop_margin=args.crop_margin,
                      resize_limit=args.resize_limit)
    except (ValueError, TypeError) as e:
        raise SystemExit(f'inpaint: {e}')
    remove_stale_temps(osp.dirname(osp.abspath(args.out)))
    save_rgb(out, args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
