"""The one test runner: a config's test loop on a checkpoint, on one or several named test sets.

``tools/test.py`` and the leaderboard both call :func:`run_test`.

A config names its test sets explicitly::

    test_sets = dict(Test100=test100_dataset, Rain100H=rain100h_dataset)

``test_sets=['Rain100H']`` (case-insensitive) or ``['all']`` scores those sets one after
the other instead of ``test_dataloader.dataset``; the metrics are then named
``<set>/<metric>`` plus their mean ``mean/<metric>``.
"""
from __future__ import annotations

import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['run_test', 'resolve_test_sets', 'TestSetError']


class TestSetError(KeyError):
    """A requested test set is not named in the config's ``test_sets``."""

    __test__ = False  # not a pytest test class

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def resolve_test_sets(cfg, names: Sequence[str]) -> List[Tuple[str, dict]]:
    """``[(name as given, dataset config)]`` for the requested names (case-insensitive; ``'all'``)."""
    sets = cfg.get('test_sets') or {}
    if not sets:
        raise TestSetError('the config names no test sets (add test_sets = dict(NAME=dataset_cfg, ...))')
    if [n.lower() for n in names] == ['all']:
        return [(n, sets[n]) for n in sets]
    by_lower = {n.lower(): n for n in sets}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise TestSetError(f"unknown test set(s) {', '.join(unknown)}; this config has: "
                           f"{', '.join(sets)} (or 'all')")
    return [(n, sets[by_lower[n.lower()]]) for n in dict.fromkeys(names)]


def run_test(cfg, checkpoint: str, test_sets: Optional[Sequence[str]] = None,
             save_images: Optional[str] = None, work_dir: Optional[str] = None, launcher: str = 'none',
             experiment_name: Optional[str] = None, quiet: bool = False,
             allow_nonfinite: bool = False) -> Tuple[Dict[str, float], int]:
    """Run the test loop of ``cfg`` (a loaded ``Config``) on ``checkpoint``.

    With ``launcher != 'none'`` the distributed process group must already exist and every
    rank must call this. ``save_images`` writes every output (and a side-by-side grid of
    what the config's ``VisualizationHook`` shows) under that folder (per set when several).
    A checkpoint whose weights hold NaN/Inf is refused unless ``allow_nonfinite``.
    Returns ``(metrics, rank)``.
    """
    from irkit.engine.dist import adapt_model_wrapper
    from irkit.engine.runner import IrkitRunner
    if cfg.get('test_dataloader') is None:
        raise RuntimeError('the config defines no test_dataloader/test_evaluator to test with')
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(cfg.filename or 'test'))[0])
    cfg.load_from, cfg.resume = checkpoint, False
    cfg.launcher = launcher
    if quiet:
        cfg.log_level = 'WARNING'
    if launcher != 'none':
        adapt_model_wrapper(cfg)
    sets: List[Tuple[Optional[str], Optional[dict]]] = resolve_test_sets(cfg, test_sets) if test_sets \
        else [(None, None)]
    several = len(sets) > 1
    exp = experiment_name or cfg.get('experiment_name') or osp.splitext(osp.basename(cfg.filename or 'test'))[0]
    metrics: Dict[str, float] = {}
    per_set = []
    rank = 0
    for name, dataset in sets:
        c = copy.deepcopy(cfg) if several else cfg
        if dataset is not None:
            c.test_dataloader.dataset = copy.deepcopy(dataset)
        c.experiment_name = f'{exp}_{name}' if several else exp  # distinct mmengine instances
        if save_images:
            out_dir = osp.join(save_images, name) if several else save_images
            hook = dict(type='SaveImagesHook', out_dir=out_dir, side_by_side=True)
            vis = [h for h in c.get('custom_hooks') or [] if h.get('type') == 'VisualizationHook']
            if vis and vis[0].get('keys'):  # grids show what the validation grids show
                hook['keys'] = list(vis[0]['keys'])
            c.custom_hooks = list(c.get('custom_hooks') or []) + [hook]
        runner = IrkitRunner.from_cfg(c)
        runner.allow_nonfinite = allow_nonfinite
        rank = runner.rank
        set_metrics = {k: (float(v) if isinstance(v, (int, float)) or hasattr(v, '__float__') else v)
                       for k, v in runner.test().items()}
        per_set.append(set_metrics)
        metrics.update({f'{name}/{k}': v for k, v in set_metrics.items()} if several else set_metrics)
    if several:
        for k in per_set[0]:
            values = [m[k] for m in per_set if isinstance(m.get(k), (int, float))]
            if len(values) == len(per_set):
                metrics[f'mean/{k}'] = sum(values) / len(values)
    return metrics, rank
