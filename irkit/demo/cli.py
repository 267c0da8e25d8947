"""``tools/demo.py`` / ``irkit-demo``: start the web demo on one or more configs + checkpoints."""
from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import List, Optional, Sequence, Tuple

__all__ = ['main', 'parse_args', 'missing_extra']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from irkit.utils.config import DictAction
    p = argparse.ArgumentParser(
        usage='%(prog)s CONFIG [CHECKPOINT] [--config CONFIG [CHECKPOINT]] ... [options]',
        description='Web demo and REST API over irkit models (docs/demo.md)',
        epilog='example: tools/demo.py configs/demo_denoise.py work_dirs/demo_denoise/iter_800.pth '
               '--config configs/aotgan_places.py')
    p.add_argument('config', help='config file or model-zoo name')
    p.add_argument('checkpoint', nargs='?', help='checkpoint (omit: random initialisation, shown as such)')
    p.add_argument('--config', dest='more', nargs='+', action='append', default=[], metavar='CONFIG [CHECKPOINT]',
                   help='another model (repeatable)')
    p.add_argument('--host', default='127.0.0.1', help='address to listen on (default: this machine only)')
    p.add_argument('--port', type=int, default=7860)
    p.add_argument('--out', default='work_dirs/demo', help='the only folder the server writes to')
    p.add_argument('--save', action='store_true', help='also keep every result PNG under OUT/results')
    p.add_argument('--max-upload-mb', type=float, default=25.0, help='largest accepted request (MiB)')
    p.add_argument('--device', default=None, help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='overrides applied to every config')
    return p.parse_args(argv)


def model_specs(args: argparse.Namespace) -> List[Tuple[str, Optional[str]]]:
    specs = [(args.config, args.checkpoint)]
    for extra in args.more:
        if len(extra) > 2:
            raise ValueError(f'--config takes CONFIG [CHECKPOINT], got {len(extra)} values: {" ".join(extra)}')
        specs.append((extra[0], extra[1] if len(extra) > 1 else None))
    return specs


def missing_extra() -> Optional[str]:
    """The first package of the ``demo`` extra that is not installed, else ``None``."""
    from importlib.util import find_spec
    for names in (('fastapi',), ('uvicorn',), ('python_multipart', 'multipart')):
        if not any(find_spec(n) for n in names):
            return 'python-multipart' if names[0] == 'python_multipart' else names[0]
    return None


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    missing = missing_extra()
    if missing:
        raise SystemExit(f"the demo needs the optional extra: pip install -e '.[demo]' (missing: {missing})")
    import torch

    from irkit.demo.models import load_models
    from irkit.demo.server import serve
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == 'localhost'
    if not loopback:
        print(f'warning: the demo has no authentication; on {args.host} anyone who reaches this machine can '
              'use it', file=sys.stderr)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    models = load_models(model_specs(args), device=device, cfg_options=args.cfg_options)
    serve(models, host=args.host, port=args.port, out_dir=args.out, max_upload_mb=args.max_upload_mb,
          save_results=args.save)


def run() -> None:
    """Console entry point (errors as one line, see irkit.utils.cli)."""
    from irkit.utils.cli import run_cli
    run_cli(main)
