"""Train a model from a config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from irkit.utils.config import DictAction  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train an irkit model')
    p.add_argument('config', help='config file, e.g. configs/demo_denoise.py')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='auto|PATH',
                   help="resume: 'auto' (the newest complete checkpoint in the work dir) or a file")
    p.add_argument('--amp', action='store_true',
                   help='mixed precision (fp16 with loss scaling on GPU, bf16 autocast on CPU)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys: key=value')
    p.add_argument('--verbose', action='store_true',
                   help='also print the environment, the full config and the hook order (always in the log file)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def set_amp(cfg) -> None:
    import torch
    amp_type = 'AmpOptimWrapper' if torch.cuda.is_available() else 'CPUAmpOptimWrapper'
    ow = cfg.optim_wrapper
    wrappers = [ow] if 'constructor' not in ow else [v for v in ow.values() if isinstance(v, dict)]
    for w in wrappers:
        if w.get('type', 'OptimWrapper') not in ('OptimWrapper', amp_type):
            raise ValueError(f"--amp: optim_wrapper type {w.get('type')} is not an OptimWrapper")
        w['type'] = amp_type
        if amp_type == 'AmpOptimWrapper':
            w.setdefault('loss_scale', 'dynamic')


def main(argv=None):
    args = parse_args(argv)
    if args.verbose:
        os.environ['IRKIT_VERBOSE'] = '1'
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    from irkit.engine.dist import adapt_model_wrapper, init_distributed, shutdown_distributed
    from irkit.engine.runner import IrkitRunner
    from irkit.engine.workdir import lock_work_dir
    from irkit.fileio.checkpoint import resumable_checkpoint
    from irkit.fileio.tempfiles import remove_stale_temps
    from irkit.utils.config import load_config

    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.launcher = args.launcher
    if args.launcher != 'none':
        init_distributed(args.launcher)
        adapt_model_wrapper(cfg)
    if args.amp:
        set_amp(cfg)
    main_process = int(os.environ.get('RANK', 0)) == 0
    say = print if main_process else (lambda *a, **k: None)
    lock = lock_work_dir(cfg.work_dir, log=say)  # one training per work dir
    try:
        if main_process:
            for p in remove_stale_temps(cfg.work_dir):
                say(f'removed {p}: left by a write that was killed')
        if args.resume == 'auto':
            ckpt, skipped = resumable_checkpoint(cfg.work_dir)
            for path, why in skipped:
                say(f'--resume auto: skipping {path.name}: {why}')
            if ckpt is not None:
                say(f'--resume auto: resuming from {ckpt}')
                cfg.resume, cfg.load_from = True, str(ckpt)
            elif skipped:
                raise RuntimeError(f'--resume auto: none of the {len(skipped)} checkpoints in {cfg.work_dir} '
                                   'loads (see above); move them away to start from scratch')
            else:
                say(f'--resume auto: no checkpoint in {cfg.work_dir} yet, starting from scratch')
        elif args.resume:
            if not osp.isfile(args.resume):
                raise SystemExit(f'--resume: checkpoint not found: {args.resume}')
            cfg.resume, cfg.load_from = True, args.resume
        runner = IrkitRunner.from_cfg(cfg)
        runner.train()
    finally:
        lock.release()
    shutdown_distributed()
    return runner


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
