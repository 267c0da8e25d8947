"""Shared helpers for tests that run irkit's tools in a subprocess."""
import math
import os
import signal
import subprocess
import sys
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the demo config shrunk to seconds: a 3-layer DnCNN, 32 px crops, 2 iterations
TINY_DEMO = ['model.generator.nc=8', 'model.generator.nb=3', 'train_dataloader.batch_size=2',
             'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
             'train_pipeline.1.crop_size=32', 'train_dataloader.dataset.pipeline.1.crop_size=32',
             'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=1',
             'param_scheduler.0.T_max=2', 'default_hooks.logger.interval=1']

# the override set that shrinks configs/mat_places.py to a CPU-sized MAT (also in docs/methods/mat.md)
TINY_MAT = [
    'model.generator.z_dim=32', 'model.generator.w_dim=32', 'model.generator.img_resolution=128',
    'model.generator.stage1_dim=12', 'model.generator.channel_table=[16,32,32,32,32,32]',
    'model.discriminator.img_resolution=128', 'model.discriminator.channel_table=[16,32,32,32,32,32]',
    'model.perceptual_loss.pretrained=False', 'model.batch_gpu=1', 'model.d_reg_interval=2',
    'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.pipeline.1.crop_size=128',
    'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None',
    'test_dataloader=None', 'test_cfg=None', 'test_evaluator=None',
    'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.save_best=None',
    'default_hooks.logger.interval=1',
]


def _tagged_processes(tag: str) -> list:
    """Pids of the live processes whose environment carries ``IRKIT_TEST_RUN=tag``."""
    needle = f'IRKIT_TEST_RUN={tag}'.encode()
    pids = []
    for d in os.listdir('/proc') if os.path.isdir('/proc') else []:
        if d.isdigit():
            try:
                with open(f'/proc/{d}/environ', 'rb') as f:
                    if needle in f.read().split(b'\0'):
                        pids.append(int(d))
            except OSError:
                continue
    return pids


def _kill_all(proc: subprocess.Popen, tag: str) -> None:
    """SIGKILL the tool and everything it started: its process group, and every process that
    inherited this run's tag (torchrun starts its workers in sessions of their own)."""
    for pid in _tagged_processes(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_tool(args, cwd=ROOT, env=None, timeout=300, check=True):
    """Run a tool in its own session; whatever it started is killed when it ends or times
    out (``subprocess.TimeoutExpired``), so no test leaves orphan processes behind."""
    tag = uuid.uuid4().hex
    e = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PYTHON=sys.executable,
             IRKIT_TEST_RUN=tag)
    e.update(env or {})
    proc = subprocess.Popen(args, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        _kill_all(proc, tag)
        if proc.poll() is None:
            proc.wait()
    result = subprocess.CompletedProcess(args, proc.returncode, out, err)
    if check and result.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, args))} failed ({result.returncode}):\n'
                             f'{out[-3000:]}\n{err[-6000:]}')
    return result


def cfg_option_args(options: dict) -> list:
    """``{key: value}`` as ``--cfg-options`` items (``key=repr(value)``, the form the CLI reads
    back: ``None``, numbers, strings, lists and dicts)."""
    return [f'{k}={v}' if isinstance(v, str) else f'{k}={v!r}' for k, v in options.items()]


def train_then_test(config: str, opts: list, tmp_path, timeout: int = 900) -> dict:
    """``tools/train.py`` for 2 iterations (the options must say so), then ``tools/test.py`` on the
    work dir, saving images to ``tmp_path/results``; returns the metrics, checked finite."""
    import json
    cfg_path = os.path.join(ROOT, 'configs', f'{config}.py')
    wd = tmp_path / 'wd'
    run_tool([sys.executable, 'tools/train.py', cfg_path, '--work-dir', str(wd), '--cfg-options', *opts],
             timeout=timeout)
    assert (wd / 'iter_2.pth').is_file()
    out = tmp_path / 'metrics.json'
    run_tool([sys.executable, 'tools/test.py', cfg_path, str(wd), '--work-dir', str(wd), '--out', str(out),
              '--save-images', str(tmp_path / 'results'), '--cfg-options', *opts], timeout=timeout)
    metrics = json.loads(out.read_text())['metrics']
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    assert len(os.listdir(tmp_path / 'results')) >= 2
    return metrics


def free_port() -> str:
    """A TCP port nobody listens on now (for torchrun's rendezvous)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])
