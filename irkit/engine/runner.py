"""irkit's mmengine Runner: safe loading, atomic checkpoints, exact resume."""
from __future__ import annotations

import os
import random
from collections import OrderedDict
from typing import Any, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from irkit.fileio.checkpoint import add_checksums, safe_load
from irkit.fileio.tempfiles import temp_name
from irkit.fileio.weights import load_weights
from irkit.registry import RUNNERS


def _plain(x: Any) -> Any:
    """Recursively turn numpy values into plain Python so checkpoints need no pickled classes."""
    if isinstance(x, dict):  # ConfigDict and other dict subclasses become plain dicts
        items = ((k, _plain(v)) for k, v in x.items())
        return OrderedDict(items) if type(x) is OrderedDict else dict(items)
    if isinstance(x, (list, tuple)):
        return (list if isinstance(x, list) else tuple)(_plain(v) for v in x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def plain_message_hub(state: dict) -> dict:
    scalars = {}
    for k, buf in state.get('log_scalars', {}).items():
        scalars[k] = {'__history_buffer__': True, 'max_length': int(buf.max_length),
                      'log_history': np.asarray(buf._log_history, dtype=np.float64).tolist(),
                      'count_history': np.asarray(buf._count_history, dtype=np.float64).tolist()}
    return {'log_scalars': scalars, 'runtime_info': _plain(dict(state.get('runtime_info', {}))),
            'resumed_keys': dict(state.get('resumed_keys', {}))}


def restore_message_hub(state: dict) -> dict:
    scalars = {}
    for k, v in state.get('log_scalars', {}).items():
        if isinstance(v, dict) and v.get('__history_buffer__'):
            v = HistoryBuffer(v['log_history'], v['count_history'], v['max_length'])
        scalars[k] = v
    return {**state, 'log_scalars': scalars}


def get_rng_state() -> dict:
    py = random.getstate()
    npy = np.random.get_state()
    return {'python': [py[0], list(py[1]), py[2]],
            'numpy': [npy[0], npy[1].tolist(), int(npy[2]), int(npy[3]), float(npy[4])],
            'torch': torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    npy = state['numpy']
    np.random.set_state((npy[0], np.asarray(npy[1], dtype=np.uint32), npy[2], npy[3], npy[4]))
    torch.set_rng_state(state['torch'])


@RUNNERS.register_module()
class IrkitRunner(Runner):
    """mmengine's Runner with irkit's guarantees.

    - checkpoints hold plain data only (message hub and RNG states converted), so
      they load with ``weights_only=True``; every load goes through
      :func:`irkit.fileio.checkpoint.safe_load`;
    - checkpoints are written to a temporary file and renamed;
    - the Python/numpy/torch RNG states are saved and restored on resume (the
      training loop restores them once the data loader has been fast-forwarded);
    - ``load_from`` accepts official release layouts (``params``, ``net.``, ...);
    - checkpoints carry a CRC-32 of every tensor, verified when loaded; weights holding
      NaN/Inf are refused unless ``allow_nonfinite`` is set (``--allow-nonfinite``).
    """

    _resume_rng_state: Optional[dict] = None
    allow_nonfinite: bool = False

    # -- concise console (irkit.engine.console) ------------------------------------
    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        from irkit.engine.console import quiet_console
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        quiet_console(logger)
        return logger

    def _log_env(self, env_cfg: dict) -> None:
        from irkit.engine.console import run_summary
        super()._log_env(env_cfg)
        self.logger.info(run_summary(self))

    def call_hook(self, fn_name: str, **kwargs) -> None:
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'before_save_checkpoint':
            ckpt = kwargs['checkpoint']
            ckpt['message_hub'] = plain_message_hub(ckpt['message_hub'])
            ckpt['meta'] = _plain(ckpt['meta'])
            states = getattr(self, '_rank_rng_states', None)
            ckpt['rng_state'] = states[0] if states else get_rng_state()
            if states and len(states) > 1:
                ckpt['rng_states'] = states  # one per rank, for an exact multi-process resume
            add_checksums(ckpt)  # last: covers whatever the hooks added

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        # Every rank reaches this (the checkpoint hook calls it everywhere; mmengine's own
        # save_checkpoint then runs on rank 0 only), so the ranks' RNG states can be
        # gathered here for rank 0 to write.
        from mmengine.dist import all_gather_object, get_world_size
        self._rank_rng_states = (all_gather_object(get_rng_state()) if get_world_size() > 1
                                 else None)
        tmp_name = temp_name(filename)
        super().save_checkpoint(out_dir, tmp_name, *args, **kwargs)
        tmp = os.path.join(out_dir, tmp_name)
        if os.path.exists(tmp):  # only the main process writes
            with open(tmp, 'rb') as f:
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(out_dir, filename))

    def load_checkpoint(self, filename: str, map_location: Any = 'cpu', strict: bool = True,
                        revise_keys: list = None):
        """Load weights (always strict, with a readable key/shape report)."""
        checkpoint = safe_load(filename, map_location=map_location)
        if not isinstance(checkpoint, dict):
            raise RuntimeError(f'{filename} is not a checkpoint dict')
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = restore_message_hub(checkpoint['message_hub'])
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_weights(model, checkpoint, strict=True, source=str(filename), allow_nonfinite=self.allow_nonfinite)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(self, filename: str, resume_optimizer: bool = True, resume_param_scheduler: bool = True,
               map_location: Any = 'default') -> None:
        super().resume(filename, resume_optimizer, resume_param_scheduler,
                       map_location='cpu' if map_location == 'default' else map_location)
        self._resume_rng_state = None
        # safe_load again is cheap compared to training; keeps resume() untouched upstream
        ckpt = safe_load(filename, map_location='cpu')
        from mmengine.dist import get_world_size
        states = ckpt.get('rng_states')
        if states is not None and len(states) == get_world_size():
            self._resume_rng_state = states[self.rank]
        elif 'rng_state' in ckpt and self.rank == 0:
            # single-process checkpoint, or a different world size: only rank 0's stream
            # continues exactly
            self._resume_rng_state = ckpt['rng_state']

    @property
    def rank(self) -> int:
        return self._rank


__all__ = ['IrkitRunner', 'get_rng_state', 'set_rng_state', 'plain_message_hub', 'restore_message_hub']
