"""Shared helpers for tests that run irkit's tools in a subprocess."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the demo config shrunk to seconds: a 3-layer DnCNN, 32 px crops, 2 iterations
TINY_DEMO = ['model.generator.nc=8', 'model.generator.nb=3', 'train_dataloader.batch_size=2',
             'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
             'train_pipeline.1.crop_size=32', 'train_dataloader.dataset.pipeline.1.crop_size=32',
             'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=1',
             'param_scheduler.0.T_max=2', 'default_hooks.logger.interval=1']


def run_tool(args, cwd=ROOT, env=None, timeout=300, check=True):
    e = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    e.update(env or {})
    proc = subprocess.run(args, cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, args))} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}')
    return proc


def free_port() -> str:
    """A TCP port nobody listens on now (for torchrun's rendezvous)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])
