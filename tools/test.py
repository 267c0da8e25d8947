"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE] [--save-images DIR]``.

``--test-set NAME [NAME ...]`` evaluates the config's named test sets (its ``test_sets``
mapping, e.g. Rain100H and Test100 in the Rain13K configs, bsd68/rain100l/sots in PromptIR's)
instead of ``test_dataloader.dataset``; ``all`` picks every one. Several sets are scored one
after the other with metrics named ``<NAME>/<metric>`` plus their mean ``mean/<metric>``.
The work is done by :func:`irkit.engine.tester.run_test`, which the leaderboard uses too.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from irkit.utils.config import DictAction  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Test an irkit model')
    p.add_argument('config')
    p.add_argument('checkpoint', help='irkit or official checkpoint (.pth/.safetensors), or a work dir '
                   '(its newest iter_N.pth is used)')
    p.add_argument('--work-dir')
    p.add_argument('--out', help='write the metrics as JSON to this file')
    p.add_argument('--save-images', metavar='DIR', help='save every restored image (PNG) in DIR')
    p.add_argument('--test-set', nargs='+', metavar='NAME',
                   help="score these named test sets of the config (its test_sets) instead of "
                   "test_dataloader.dataset; 'all' for every one")
    p.add_argument('--allow-nonfinite', action='store_true',
                   help='load a checkpoint whose weights hold NaN/Inf (refused by default)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--verbose', action='store_true',
                   help='also print the environment, the full config and the hook order (always in the log file)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def format_table(metrics: dict) -> str:
    rows = [(str(k), f'{v:.4f}' if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    w = max([len(r[0]) for r in rows] + [6])
    lines = [f"{'metric':<{w}} | value", f"{'-' * w}-+-{'-' * 10}"]
    lines += [f'{k:<{w}} | {v}' for k, v in rows]
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.verbose:
        os.environ['IRKIT_VERBOSE'] = '1'
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    from irkit.engine.dist import init_distributed, shutdown_distributed
    from irkit.engine.tester import TestSetError, run_test
    from irkit.fileio.checkpoint import atomic_write_bytes
    from irkit.utils.config import load_config

    cfg = load_config(args.config, args.cfg_options)
    if osp.isdir(args.checkpoint):
        from irkit.fileio.checkpoint import latest_checkpoint
        found = latest_checkpoint(args.checkpoint)
        if found is None:
            raise SystemExit(f'no iter_N.pth checkpoint in {args.checkpoint}')
        args.checkpoint = str(found)
    if not osp.isfile(args.checkpoint):
        from irkit.fileio.weights import MissingWeightsError, resolve_checkpoint
        try:
            args.checkpoint = str(resolve_checkpoint(args.checkpoint))
        except MissingWeightsError as e:
            raise SystemExit(str(e)) from None
    if cfg.get('test_dataloader') is None:
        raise SystemExit(f'{args.config} defines no test_dataloader/test_evaluator to test with')
    if args.launcher != 'none':
        init_distributed(args.launcher)
    try:
        metrics, rank = run_test(cfg, args.checkpoint, test_sets=args.test_set, save_images=args.save_images,
                                 work_dir=args.work_dir, launcher=args.launcher,
                                 allow_nonfinite=args.allow_nonfinite)
    except TestSetError as e:
        raise SystemExit(f'--test-set: {e}') from None
    if rank == 0:
        print(format_table(metrics))
        if args.out:
            names = [n for n in (args.test_set or [])]
            if [n.lower() for n in names] == ['all']:
                names = list(cfg.get('test_sets') or {})
            data = json.dumps({'config': args.config, 'checkpoint': args.checkpoint, 'test_sets': names,
                               'metrics': metrics}, indent=2).encode()
            atomic_write_bytes(data, args.out)
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
