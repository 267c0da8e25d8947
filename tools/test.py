"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE] [--save-images DIR]``.

``--test-set NAME [NAME ...]`` evaluates the config's named test sets (its top-level
``<name>_dataset`` entries with ``test_mode=True``, e.g. Rain100H and Test100 in the Rain13K
configs, bsd68/rain100l/sots in PromptIR's) instead of ``test_dataloader.dataset``; ``all``
picks every one. Several sets are scored one after the other with metrics named
``<NAME>/<metric>`` plus their mean ``mean/<metric>``.
"""
import argparse
import copy
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
                   help="score these named test sets of the config (its '<name>_dataset' "
                   "entries) instead of test_dataloader.dataset; 'all' for every one")
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


def named_test_sets(cfg) -> dict:
    """The config's named test sets: ``{name: key}`` for top-level ``<name>_dataset`` dicts
    with ``test_mode=True``."""
    return {k[:-len('_dataset')]: k for k, v in cfg.items()
            if k.endswith('_dataset') and isinstance(v, dict) and v.get('test_mode')}


def resolve_test_sets(cfg, names) -> list:
    """``[(name as given, config key)]`` for ``--test-set`` (case-insensitive; 'all')."""
    sets = named_test_sets(cfg)
    if not sets:
        raise SystemExit('--test-set: the config defines no named test sets (top-level '
                         "'<name>_dataset' entries with test_mode=True)")
    if [n.lower() for n in names] == ['all']:
        return list(sets.items())
    by_lower = {n.lower(): (n, k) for n, k in sets.items()}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise SystemExit(f"--test-set: unknown test set(s) {', '.join(unknown)}; this config has: "
                         f"{', '.join(sets)} (or 'all')")
    return [(n, by_lower[n.lower()][1]) for n in dict.fromkeys(names)]


def main(argv=None):
    args = parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    from irkit.engine.dist import adapt_model_wrapper, init_distributed, shutdown_distributed
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
    test_sets = resolve_test_sets(cfg, args.test_set) if args.test_set else [(None, None)]
    several = len(test_sets) > 1
    exp = cfg.get('experiment_name') or osp.splitext(osp.basename(args.config))[0]
    metrics, per_set = {}, []
    for name, key in test_sets:
        c = copy.deepcopy(cfg) if several else cfg
        if key is not None:
            c.test_dataloader.dataset = copy.deepcopy(cfg[key])
        if several:  # one runner per set: distinct names for mmengine's global instances
            c.experiment_name = f'{exp}_{name}'  # mmengine appends the time stamp
        if args.save_images:
            out_dir = osp.join(args.save_images, name) if several else args.save_images
            hook = dict(type='SaveImagesHook', out_dir=out_dir, side_by_side=True)
            # grids show what the config's validation grids show (e.g. no 6-channel input)
            vis = [h for h in c.get('custom_hooks') or [] if h.get('type') == 'VisualizationHook']
            if vis and vis[0].get('keys'):
                hook['keys'] = list(vis[0]['keys'])
            c.custom_hooks = list(c.get('custom_hooks') or []) + [hook]
        runner = IrkitRunner.from_cfg(c)
        set_metrics = runner.test()
        per_set.append(set_metrics)
        metrics.update({f'{name}/{k}': v for k, v in set_metrics.items()} if several else set_metrics)
    if several:
        for k in per_set[0]:
            values = [m[k] for m in per_set if isinstance(m.get(k), (int, float))]
            if len(values) == len(per_set):
                metrics[f'mean/{k}'] = sum(values) / len(values)
    if runner.rank == 0:
        print(format_table(metrics))
        if args.out:
            data = json.dumps({'config': args.config, 'checkpoint': args.checkpoint,
                               'test_sets': [n for n, _ in test_sets if n is not None],
                               'metrics': metrics}, indent=2).encode()
            atomic_write_bytes(data, args.out)
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
