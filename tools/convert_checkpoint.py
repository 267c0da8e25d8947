"""Convert an official release to an irkit checkpoint (+ .safetensors), verified strictly.

    python tools/convert_checkpoint.py SRC OUT --model mprnet_gopro
    python tools/convert_checkpoint.py SRC OUT --format mprnet --config configs/mprnet_gopro.py
        [--cfg-options k=v ...] [--no-safetensors] [--no-verify]
    python tools/convert_checkpoint.py --list-formats

The formats are the ones the archs declare next to their code (``--list-formats``; e.g.
mprnet, restormer, promptir (Lightning .ckpt), mat (StyleGAN2 .pkl), daclip, irsde, lama,
mmagic, irkit). The file is read without executing code from it (weights_only, else a
tensors-only unpickler); OUT (.pth, ``{'state_dict', 'meta'}``) and OUT with the
.safetensors suffix are written, then both are loaded with strict=True into the network
the config builds. ``--model NAME`` takes the format, config and SHA-256 from the model
zoo (configs/metafiles).
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from irkit.utils.config import DictAction  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Convert an official checkpoint for irkit')
    p.add_argument('src', nargs='?', help='the official file')
    p.add_argument('out', nargs='?', help='output .pth (the .safetensors is written beside it)')
    p.add_argument('--model', help='a model name from configs/metafiles (sets --format and --config)')
    p.add_argument('--format', help='official format (see --list-formats)')
    p.add_argument('--config')
    p.add_argument('--list-formats', action='store_true', help='print the official formats and exit')
    p.add_argument('--metafiles', default=osp.join(ROOT, 'configs', 'metafiles'))
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--no-safetensors', action='store_true')
    p.add_argument('--no-verify', action='store_true', help='skip the strict load (not recommended)')
    args = p.parse_args(argv)
    if args.list_formats:
        return args
    if args.src is None or args.out is None:
        p.error('give SRC and OUT (or --list-formats)')
    if args.model is None and (args.format is None or (args.config is None and not args.no_verify)):
        p.error('give --model NAME, or --format and --config')
    return args


def main(argv=None):
    args = parse_args(argv)
    from irkit.fileio.weights import load_format_registry
    formats = load_format_registry()
    if args.list_formats:
        for name in sorted(formats):
            print(f'{name:<10} {formats[name].description}')
        return formats
    from irkit.fileio.checkpoint import CheckpointMismatchError
    from irkit.fileio.weights import (ConversionError, WeightsIntegrityError, convert_checkpoint, verify_sha256,
                                      zoo_entry)
    from irkit.leaderboard.metafile import repo_path
    fmt, config, opts = args.format, args.config, dict(args.cfg_options or {})
    if args.model:
        hit = zoo_entry(args.model, args.metafiles)
        if hit is None:
            from irkit.leaderboard.metafile import load_metafiles
            known = sorted(m.name for mf in load_metafiles(args.metafiles) for m in mf.models)
            raise SystemExit(f'unknown model {args.model!r}; known: {", ".join(known)}')
        m = hit[1]
        fmt = fmt or m.converter
        config = config or repo_path(m.config, ROOT)
        opts = {**m.cfg_options, **opts}
        try:
            verify_sha256(args.src, m.weights.sha256, m.weights.url)
        except (WeightsIntegrityError, FileNotFoundError) as e:
            raise SystemExit(str(e)) from None
    if fmt not in formats:
        raise SystemExit(f'unknown format {fmt!r}; known: {", ".join(sorted(formats))}')
    if config and not osp.isfile(config):
        raise SystemExit(f'config not found: {config}')
    try:
        summary = convert_checkpoint(args.src, args.out, fmt, config, cfg_options=opts or None,
                                     verify=not args.no_verify, safetensors=not args.no_safetensors)
    except (FileNotFoundError, ConversionError, CheckpointMismatchError) as e:
        raise SystemExit(f'conversion failed: {e}') from None
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
