"""Convert an official release to an irkit checkpoint (+ .safetensors), verified strictly.

    python tools/convert_checkpoint.py SRC OUT --model mprnet_gopro
    python tools/convert_checkpoint.py SRC OUT --format mprnet --config configs/mprnet_gopro.py
        [--cfg-options k=v ...] [--no-safetensors] [--no-verify]

Formats: mprnet, restormer, promptir (Lightning .ckpt), mat (StyleGAN2 .pkl), daclip,
irsde (Universal-IR U-Net), irkit. Reads the file without executing code from it
(weights_only, else a tensors-only unpickler), writes OUT (.pth, {'state_dict', 'meta'})
and OUT with the .safetensors suffix, then loads both with strict=True into the network
the config builds.
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
    p.add_argument('src', help='the official file')
    p.add_argument('out', help='output .pth (the .safetensors is written beside it)')
    p.add_argument('--model', help='a model name from configs/metafiles (sets --format and --config)')
    p.add_argument('--format', choices=['mprnet', 'restormer', 'promptir', 'mat', 'daclip', 'irsde', 'irkit'])
    p.add_argument('--config')
    p.add_argument('--metafiles', default=osp.join(ROOT, 'configs', 'metafiles'))
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--no-safetensors', action='store_true')
    p.add_argument('--no-verify', action='store_true', help='skip the strict load (not recommended)')
    args = p.parse_args(argv)
    if args.model is None and (args.format is None or (args.config is None and not args.no_verify)):
        p.error('give --model NAME, or --format and --config')
    return args


def main(argv=None):
    args = parse_args(argv)
    from irkit.leaderboard.convert import ConversionError, convert_checkpoint
    from irkit.leaderboard.metafile import load_metafiles, repo_path
    fmt, config, opts = args.format, args.config, dict(args.cfg_options or {})
    if args.model:
        entries = {m.name: m for mf in load_metafiles(args.metafiles) for m in mf.models}
        if args.model not in entries:
            raise SystemExit(f'unknown model {args.model!r}; known: {", ".join(sorted(entries))}')
        m = entries[args.model]
        fmt = fmt or m.converter
        config = config or repo_path(m.config, ROOT)
        opts = {**m.cfg_options, **opts}
        if m.weights.sha256:
            from irkit.leaderboard.convert import sha256_file
            got = sha256_file(args.src)
            if got != m.weights.sha256:
                raise SystemExit(f'{args.src}: SHA-256 {got} differs from the release '
                                 f'({m.weights.sha256}); download it again from {m.weights.url}')
    if config and not osp.isfile(config):
        raise SystemExit(f'config not found: {config}')
    from irkit.fileio.checkpoint import CheckpointMismatchError
    try:
        summary = convert_checkpoint(args.src, args.out, fmt, config, cfg_options=opts or None,
                                     verify=not args.no_verify, safetensors=not args.no_safetensors)
    except (FileNotFoundError, ConversionError, CheckpointMismatchError) as e:
        raise SystemExit(f'conversion failed: {e}') from None
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == '__main__':
    main()
