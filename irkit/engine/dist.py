"""Distributed set-up that also works on CPU-only machines (gloo)."""
from __future__ import annotations

import os
import subprocess

import torch
import torch.distributed as dist
import torch.nn as nn

from irkit.registry import MODEL_WRAPPERS


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
    model's own wrapper (e.g. ``irkit.GANDistributedWrapper``) is left as it is.
    """
    if torch.cuda.is_available():
        return
    import warnings
    # recent torch deprecates broadcast_buffers in favour of forward_sync_buffers, which still
    # syncs buffers at init; irkit wants no buffer sync at all, so it keeps the old argument
    warnings.filterwarnings('ignore', message='`broadcast_buffers` is deprecated', category=FutureWarning)
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


def world_size() -> int:
    """Number of processes of the job (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_grads(module: nn.Module) -> None:
    """Average the gradients of ``module``'s trainable parameters over all processes.

    Non-finite values are replaced after the average (NaN -> 0, +-inf -> +-1e5), as
    StyleGAN2-ADA's training loop does.
    """
    if world_size() == 1 or module is None:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
    dist.all_reduce(flat)
    flat /= world_size()
    flat = torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


@MODEL_WRAPPERS.register_module()
class GANDistributedWrapper(nn.Module):
    """Distributed wrapper for models that average their own gradients (GAN training).

    A model that steps several networks separately in one iteration (generator,
    discriminator, lazy regularisation: what one DDP wrapper around the whole model cannot
    express) calls :func:`all_reduce_grads` before each step; this wrapper broadcasts rank
    0's parameters and buffers once and forwards ``train_step``/``val_step``/``test_step``.
    Works with any backend, CPU (gloo) included. ``broadcast_buffers`` and
    ``find_unused_parameters`` are accepted for compatibility with DDP configs and have no effect.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False) -> None:
        super().__init__()
        self.module = module
        if world_size() > 1:
            with torch.no_grad():
                for t in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(t.data, src=0)

    def train_step(self, data, optim_wrapper):
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data):
        return self.module.val_step(data)

    def test_step(self, data):
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
