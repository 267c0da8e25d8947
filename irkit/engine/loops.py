"""Training loop with exact resume and RNG-neutral validation."""
from __future__ import annotations

import logging
import random
from contextlib import contextmanager

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from irkit.engine.runner import get_rng_state, set_rng_state
from irkit.registry import LOOPS


@contextmanager
def preserved_rng():
    """Run a block without changing the Python/numpy/torch RNG streams."""
    state = get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        set_rng_state(state)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@LOOPS.register_module()
class IterTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` made exactly resumable.

    After a resume the data loader is fast-forwarded (as mmengine does) and then
    the RNG states saved in the checkpoint are restored, so the next batch and
    the next update are those of the uninterrupted run. Validation runs inside
    :func:`preserved_rng`, so whether (and when) it runs never changes training.
    """

    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already been trained',
                      logger='current', level=logging.INFO)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            state = getattr(self.runner, '_resume_rng_state', None)
            if state is not None:
                set_rng_state(state)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                with preserved_rng():
                    self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


__all__ = ['IterTrainLoop', 'preserved_rng']
