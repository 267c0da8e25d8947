"""Guard against NaN/Inf losses and gradients."""
from __future__ import annotations

import math
from typing import Dict, List

import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict

from irkit.registry import HOOKS


class NonFiniteError(RuntimeError):
    """Training produced a NaN/Inf loss, gradient or weight."""


def any_rank(flag: bool) -> bool:
    """``flag`` OR-ed over all distributed ranks (just ``flag`` in a single process).

    Every rank must call this at the same point: the skip/stop decisions are taken
    together, so no rank runs a backward (and its gradient all-reduce) or a step that
    another rank skips, and a stop stops every rank.
    """
    from mmengine.dist import all_reduce, get_world_size
    if get_world_size() <= 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    all_reduce(t, op='max')  # mmengine moves it to the backend's device and back
    return bool(t.item() > 0)


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Skip (or stop at) updates whose loss or gradients are not finite.

    The hook wraps each optimizer wrapper's ``backward`` and ``step``: a
    non-finite loss is not back-propagated, and a step with a non-finite gradient
    is replaced by ``zero_grad``. After the iteration it logs the iteration and the
    loss terms; with ``action='stop'`` it raises :class:`NonFiniteError` instead.
    Checkpoints are never written with non-finite weights.

    In a distributed run the three decisions (skip the backward, skip the step, skip or
    stop after the iteration) are taken collectively with one all-reduce each: a NaN on
    one rank skips the update on every rank (or stops every rank), instead of leaving
    the other ranks waiting in the gradient all-reduce.

    Args:
        action: ``'skip'`` (default) or ``'stop'``.
        max_skips: stop anyway after this many skipped updates in a row.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'skip', max_skips: int = 100) -> None:
        if action not in ('skip', 'stop'):
            raise ValueError(f"NonFiniteGuardHook: action must be 'skip' or 'stop', got '{action}'")
        self.action = action
        self.max_skips = max_skips
        self.skipped_iters: List[int] = []
        self._bad: List[str] = []
        self._in_a_row = 0

    def _wrap(self, wrapper, name: str) -> None:
        if getattr(wrapper, '_irkit_guarded', False):
            return
        orig_backward, orig_step = wrapper.backward, wrapper.step

        def backward(loss: torch.Tensor, **kwargs):
            local = not bool(torch.isfinite(loss.detach()).all())
            if any_rank(local):
                self._bad.append(f'{name}: loss {loss.detach().float().sum().item()}' if local
                                 else f'{name}: non-finite loss on another rank')
                return
            orig_backward(loss, **kwargs)

        def step(**kwargs):
            bad = [i for g in wrapper.optimizer.param_groups for i, p in enumerate(g['params'])
                   if p.grad is not None and not torch.isfinite(p.grad).all()]
            if bad:
                self._bad.append(f'{name}: non-finite gradient in {len(bad)} parameter tensor(s)')
            if any_rank(bool(self._bad)):
                wrapper.optimizer.zero_grad()
                return
            orig_step(**kwargs)

        if hasattr(orig_step, '_with_counter'):
            step._with_counter = True  # mmengine's scheduler checks this mark; orig_step still counts
        wrapper.backward, wrapper.step = backward, step
        wrapper._irkit_guarded = True

    def before_train(self, runner) -> None:
        ow = runner.optim_wrapper
        if isinstance(ow, OptimWrapperDict):
            for name, w in ow.items():
                self._wrap(w, name)
        else:
            self._wrap(ow, 'optim_wrapper')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._bad = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        terms: Dict[str, float] = {k: float(torch.as_tensor(v).detach()) for k, v in (outputs or {}).items()
                                   if isinstance(v, (int, float, torch.Tensor)) and torch.as_tensor(v).numel() == 1}
        nonfinite = [k for k, v in terms.items() if not math.isfinite(v)]
        if not any_rank(bool(self._bad or nonfinite)):
            self._in_a_row = 0
            return
        it = runner.iter  # mmengine increments it after this hook
        detail = ('; '.join(self._bad) or (nonfinite and f'non-finite terms: {", ".join(nonfinite)}')
                  or 'non-finite values on another rank')
        msg = (f'non-finite values at iteration {it + 1}: {detail}; loss terms: '
               + ', '.join(f'{k}={v:.4g}' for k, v in terms.items()))
        if self.action == 'stop':
            raise NonFiniteError(msg + ' (NonFiniteGuardHook action=stop)')
        self.skipped_iters.append(it + 1)
        self._in_a_row += 1
        runner.logger.warning(msg + ' — update skipped')
        if self._in_a_row >= self.max_skips:
            raise NonFiniteError(f'{self._in_a_row} updates in a row were non-finite; stopping. Last: {msg}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = [k for k, v in checkpoint.get('state_dict', {}).items()
               if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise NonFiniteError(f'refusing to write a checkpoint with non-finite weights: {", ".join(bad[:5])}')


__all__ = ['NonFiniteGuardHook', 'NonFiniteError']
