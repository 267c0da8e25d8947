"""Training loop with exact resume and RNG-neutral validation."""
from __future__ import annotations

import logging
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

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

    After a resume the sampler continues where the checkpoint left the data stream
    (:meth:`_skip_trained_batches`) and then the RNG states saved in the checkpoint are
    restored, so the next batch and the next update are those of the uninterrupted run.
    Validation runs inside :func:`preserved_rng`, so whether (and when) it runs never
    changes training.
    """

    def _skip_trained_batches(self) -> None:
        """Continue the data stream after the ``self._iter`` batches already trained.

        With irkit's :class:`~irkit.datasets.samplers.InfiniteSampler` the sampler is moved
        there directly and nothing is loaded; with any other sampler (or a custom batch
        sampler) the skipped batches are loaded and dropped, as mmengine does.
        """
        dl = self.dataloader
        sampler = getattr(dl, 'sampler', None)
        if hasattr(sampler, 'set_position') and dl.batch_size:
            old = self.dataloader_iterator._iterator
            if hasattr(old, '_shutdown_workers') and not dl.persistent_workers:
                old._shutdown_workers()  # it may have prefetched from the start of the stream
            sampler.set_position(self._iter * dl.batch_size)
            self.dataloader_iterator = _InfiniteDataloaderIterator(dl)
            print_log(f'Resumed at iteration {self._iter}: the sampler continues at sample '
                      f'{sampler.position} of this process (nothing loaded to skip the trained data)',
                      logger='current', level=logging.INFO)
            return
        print_log(f'Advance dataloader {self._iter} steps to skip data that has already been trained '
                  f'({type(sampler).__name__} cannot be positioned; irkit\'s InfiniteSampler can)',
                  logger='current', level=logging.INFO)
        for _ in range(self._iter):
            next(self.dataloader_iterator)

    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._skip_trained_batches()
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
