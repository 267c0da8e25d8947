"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE] [--save-images DIR]``."""
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
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
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
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    from irkit.engine.dist import adapt_model_wrapper, init_distributed
    from irkit.engine.runner import IrkitRunner
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
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    if cfg.get('test_dataloader') is None:
        raise SystemExit(f'{args.config} defines no test_dataloader/test_evaluator to test with')
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from, cfg.resume = args.checkpoint, False
    cfg.launcher = args.launcher
    if args.launcher != 'none':
        init_distributed(args.launcher)
        adapt_model_wrapper(cfg)
    if args.save_images:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='SaveImagesHook', out_dir=args.save_images, side_by_side=True)]
    runner = IrkitRunner.from_cfg(cfg)
    metrics = runner.test()
    if runner.rank == 0:
        print(format_table(metrics))
        if args.out:
            data = json.dumps({'config': args.config, 'checkpoint': args.checkpoint,
                               'metrics': metrics}, indent=2).encode()
            atomic_write_bytes(data, args.out)
    return metrics


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
