"""Distributed set-up that also works on CPU-only machines (gloo)."""
from __future__ import annotations

import os
import subprocess

import torch
import torch.distributed as dist


def default_backend() -> str:
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def init_distributed(launcher: str, backend: str | None = None) -> None:
    """Create the process group for ``launcher`` ('pytorch' = torchrun, 'slurm').

    mmengine's own ``init_dist`` calls ``torch.cuda.set_device`` unconditionally,
    which fails on CPU-only torch; irkit creates the group itself (nccl with a
    GPU, gloo without) before the Runner is built, and the Runner then uses it.
    """
    if dist.is_available() and dist.is_initialized():
        return
    backend = backend or default_backend()
    if launcher == 'slurm':
        proc_id = int(os.environ['SLURM_PROCID'])
        ntasks = int(os.environ['SLURM_NTASKS'])
        node_list = os.environ['SLURM_NODELIST']
        if 'MASTER_ADDR' not in os.environ:
            addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
            os.environ['MASTER_ADDR'] = addr
        os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', '29500'))
        os.environ['WORLD_SIZE'] = str(ntasks)
        os.environ['RANK'] = str(proc_id)
        os.environ['LOCAL_RANK'] = str(int(os.environ.get('SLURM_LOCALID', proc_id % max(1, torch.cuda.device_count()))))
    elif launcher != 'pytorch':
        raise ValueError(f"unsupported launcher '{launcher}' (use none, pytorch or slurm)")
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if var not in os.environ:
            raise RuntimeError(f'--launcher {launcher} needs the environment variable {var} '
                               '(start the job with tools/dist_train.sh, torchrun or srun)')
    if backend == 'nccl':
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
    dist.init_process_group(backend=backend)


def shutdown_distributed() -> None:
    """Wait for every rank, then tear the process group down before the process exits.

    Exiting with a live gloo group can abort at interpreter shutdown ("terminate called
    without an active exception") while its background threads are destroyed.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def adapt_model_wrapper(cfg) -> None:
    """On CPU, DDP must get ``device_ids=None`` (mmengine passes the local rank otherwise).

    Only wrappers that are ``DistributedDataParallel`` subclasses are touched; a
    model's own wrapper (e.g. ``irkit.MATDistributedWrapper``) is left as it is.
    """
    if torch.cuda.is_available():
        return
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel

    import mmengine.model  # noqa: F401  (registers mmengine's wrappers)
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                     device_ids=None)
        return
    cls = MODEL_WRAPPERS.get(wrapper.get('type', 'MMDistributedDataParallel'))
    if isinstance(cls, type) and issubclass(cls, DistributedDataParallel):
        wrapper['device_ids'] = None
        wrapper.setdefault('broadcast_buffers', False)
