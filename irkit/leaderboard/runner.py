"""Plan, run and tabulate the leaderboard (what ``tools/leaderboard.py`` calls)."""
from __future__ import annotations

import os
import os.path as osp
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from irkit.leaderboard.metafile import (METAFILE_DIR, DatasetSpec, Metafile, ModelEntry, Result,
                                        load_metafiles, repo_path, substitute)
from irkit.leaderboard.report import Row, judge, tolerance_for


@dataclass
class Job:
    """One (model, dataset) evaluation; ``missing`` lists why it cannot run."""
    metafile: Metafile
    model: ModelEntry
    result: Result
    missing: List[str] = field(default_factory=list)
    todo: List[str] = field(default_factory=list)  # what to download/where, for the summary
    short: List[str] = field(default_factory=list)  # the same, briefly, for the table
    checkpoint: Optional[str] = None
    extra: Dict[str, str] = field(default_factory=dict)
    metrics: Optional[Dict[str, float]] = None
    status: str = 'not run'
    error: str = ''


def checkpoint_candidates(ckpt_dir: str, method: str, file: str) -> List[str]:
    """Where a released file is looked for: ``<dir>/<method>/<file>``, then ``<dir>/<file>``."""
    return [osp.join(ckpt_dir, method.lower(), file), osp.join(ckpt_dir, file)]


def folder_ok(path: str) -> bool:
    if not osp.isdir(path):
        return False
    for _, _, files in os.walk(path):
        if files:
            return True
    return False


class Leaderboard:
    """Rebuild the papers' tables from metafiles, benchmark folders and checkpoints.

    Args:
        data_root: folder holding the benchmark folders named in the metafiles.
        checkpoints: folder holding the released files (``<method>/<file>`` or ``<file>``).
        metafile_dir: where the ``*.yml`` metafiles are.
        methods, datasets, models: optional selections (case-insensitive names).
        cache_dir: result cache and converted checkpoints.
        tolerances: per-metric overrides of the default tolerances.
        launcher: ``'none'`` or a distributed launcher (process group initialised by the caller).
        force: ignore cached results.
        repo_root: the root that metafile config paths are relative to.
    """

    def __init__(self, data_root: str, checkpoints: str, metafile_dir: str = METAFILE_DIR,
                 methods: Optional[Sequence[str]] = None, datasets: Optional[Sequence[str]] = None,
                 models: Optional[Sequence[str]] = None, cache_dir: str = 'work_dirs/leaderboard',
                 tolerances: Optional[Dict[str, float]] = None, launcher: str = 'none',
                 force: bool = False, repo_root: Optional[str] = None, verbose: bool = False,
                 rank: int = 0) -> None:
        from irkit.leaderboard.evaluate import ResultCache
        self.data_root = str(data_root)
        self.ckpt_dir = str(checkpoints)
        self.metafiles = load_metafiles(metafile_dir, methods)
        self.datasets = {d.lower() for d in datasets} if datasets else None
        self.models = {m.lower() for m in models} if models else None
        self.cache = ResultCache(cache_dir)
        self.cache_dir = cache_dir
        self.tolerances = dict(tolerances or {})
        self.launcher = launcher
        self.force = force
        self.repo_root = repo_root
        self.verbose = verbose
        self.rank = rank
        self.evaluated: List[str] = []  # (model/dataset) actually run in this session

    # ----------------------------------------------------------------- planning
    def plan(self) -> List[Job]:
        jobs = []
        for mf in self.metafiles:
            for model in mf.models:
                if self.models and model.name.lower() not in self.models:
                    continue
                for res in model.results:
                    if res.average_of is not None:
                        continue
                    if self.datasets and res.dataset.lower() not in self.datasets:
                        continue
                    jobs.append(self._check(mf, model, res))
        return jobs

    def _check(self, mf: Metafile, model: ModelEntry, res: Result) -> Job:
        job = Job(mf, model, res)
        if res.online is not None:
            job.missing.append(f'{res.dataset} is scored online ({res.online})')
            job.short.append(f'online benchmark ({res.online})')
            return job
        if res.unavailable is not None:
            job.missing.append(f'irkit cannot score {res.dataset}: {res.unavailable}')
            job.short.append(f'not scorable in irkit ({res.unavailable})')
            return job
        if res.dataset not in mf.datasets:
            job.missing.append(f'{res.dataset} has no benchmark folders under Datasets in {mf.path}')
            job.short.append(f'no benchmark folders described for {res.dataset}')
            return job
        cfg_path = repo_path(model.config, self.repo_root)
        if not osp.isfile(cfg_path):
            job.missing.append(f'config missing: {model.config} is not in this checkout')
            job.short.append(f'config {model.config} missing')
        spec: DatasetSpec = mf.datasets[res.dataset]
        absent = [f for f in spec.folders if not folder_ok(osp.join(self.data_root, f))]
        if absent:
            where = ', '.join(osp.join(self.data_root, f) for f in absent)
            msg = f'dataset {spec.name} missing: put it at {where} (get it from: {spec.download})'
            job.missing.append(msg)
            job.todo.append(msg)
            job.short.append(f'dataset {spec.name} missing ({where})')
        for w, is_main in [(model.weights, True)] + [(w, False) for w in model.extra_weights]:
            cands = checkpoint_candidates(self.ckpt_dir, mf.method, w.file)
            found = next((c for c in cands if osp.isfile(c)), None)
            if found is None:
                msg = f'checkpoint {w.file} missing: download it from {w.url} and put it at {cands[0]}'
                job.missing.append(msg)
                job.todo.append(msg)
                job.short.append(f'checkpoint {w.file} missing (put it at {cands[0]})')
                continue
            if w.sha256:
                got = self.cache.file_sha256(found)
                if got != w.sha256:
                    msg = (f'checkpoint {found} has SHA-256 {got[:12]}..., the release has '
                           f'{w.sha256[:12]}...: download it again from {w.url}')
                    job.missing.append(msg)
                    job.todo.append(msg)
                    job.short.append(f'checkpoint {found} fails its SHA-256 check')
                    continue
            if is_main:
                job.checkpoint = found
            else:
                job.extra[w.cfg_key or w.file] = found
        return job

    # ---------------------------------------------------------------- evaluation
    def _options(self, job: Job) -> dict:
        fields = {'data_root': self.data_root.rstrip('/'), 'checkpoints': self.ckpt_dir.rstrip('/')}
        opts = substitute(dict(job.model.cfg_options), **fields)
        opts.update(substitute(dict(job.result.cfg_options or {}), **fields))
        for key, path in job.extra.items():
            if '.' in key:  # a config key the extra file goes to
                opts[key] = path
        return opts

    def _loadable_checkpoint(self, job: Job) -> str:
        """The official file, or its conversion (cached) when tools/test.py cannot read it."""
        from irkit.fileio.weights import convert_checkpoint, get_format
        fmt = job.model.converter
        if get_format(fmt).direct:
            return job.checkpoint
        sha = self.cache.file_sha256(job.checkpoint)
        out = Path(self.cache_dir) / 'converted' / f'{job.model.name}-{sha[:12]}.pth'
        if not out.is_file():
            convert_checkpoint(job.checkpoint, out, fmt, repo_path(job.model.config, self.repo_root),
                               cfg_options=substitute(dict(job.model.cfg_options),
                                                      data_root=self.data_root, checkpoints=self.ckpt_dir),
                               safetensors=False)
        return str(out)

    def _cache_key(self, job: Job) -> str:
        from irkit.leaderboard.evaluate import config_signature, folder_signature
        spec = job.metafile.datasets[job.result.dataset]
        return self.cache.key(
            config=config_signature(repo_path(job.model.config, self.repo_root)),
            options={**job.model.cfg_options, **(job.result.cfg_options or {})},
            checkpoint=self.cache.file_sha256(job.checkpoint),
            extra={k: self.cache.file_sha256(v) for k, v in sorted(job.extra.items())},
            data=folder_signature(osp.join(self.data_root, f) for f in spec.folders),
            model=job.model.name, dataset=job.result.dataset)

    def run(self, progress: bool = True, evaluate_fn: Optional[Callable] = None) -> List[Row]:
        """Evaluate what can run (cached results reused) and return the table rows."""
        from irkit.leaderboard.evaluate import evaluate
        evaluate_fn = evaluate_fn or evaluate
        jobs = self.plan()
        runnable = [j for j in jobs if not j.missing]
        pending = []
        for j in runnable:
            key = self._cache_key(j)
            hit = None if self.force else self.cache.get(j.model.name, j.result.dataset, key)
            if hit is not None:
                j.metrics, j.status = hit, 'cached'
            else:
                pending.append((j, key))
        bar = None
        if progress and pending and self.rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=len(pending), unit='eval', desc='leaderboard', file=sys.stderr,
                       dynamic_ncols=True)
        for i, (j, key) in enumerate(pending):
            tag = f'{j.model.name}/{j.result.dataset}'
            if bar is not None:
                bar.set_postfix_str(tag)
            t0 = time.time()
            try:
                ckpt = self._loadable_checkpoint(j)
                work = osp.join(self.cache_dir, 'work', j.model.name, j.result.dataset)
                j.metrics = evaluate_fn(repo_path(j.model.config, self.repo_root), ckpt,
                                        cfg_options=self._options(j), work_dir=work,
                                        launcher=self.launcher,
                                        experiment_name=f'leaderboard_{j.model.name}_{j.result.dataset}_{i}',
                                        verbose=self.verbose)
                j.status = 'evaluated'
                self.evaluated.append(tag)
                if self.rank == 0:
                    self.cache.put(j.model.name, j.result.dataset, key, j.metrics,
                                   seconds=round(time.time() - t0, 2), config=j.model.config,
                                   checkpoint=j.checkpoint)
            except Exception as e:  # noqa: BLE001 - reported in the row, the others still run
                j.error = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'[:300]
                j.status = 'failed'
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return self.rows(jobs)

    # -------------------------------------------------------------------- rows
    def rows(self, jobs: List[Job]) -> List[Row]:
        by_model: Dict[str, Dict[str, Job]] = {}
        for j in jobs:
            by_model.setdefault(j.model.name, {})[j.result.dataset] = j
        rows: List[Row] = []
        for mf in self.metafiles:
            for model in mf.models:
                if model.name not in by_model and not any(r.average_of for r in model.results):
                    continue
                if self.models and model.name.lower() not in self.models:
                    continue
                mj = by_model.get(model.name, {})
                for res in model.results:
                    if res.average_of is None and res.dataset not in mj:
                        continue  # filtered out by --datasets
                    if res.average_of is not None and self.datasets and \
                            res.dataset.lower() not in self.datasets and \
                            not any(a.lower() in self.datasets for a in res.average_of):
                        continue
                    rows += self._result_rows(mf, model, res, mj)
        return rows

    def _result_rows(self, mf: Metafile, model: ModelEntry, res: Result, mj: Dict[str, Job]) -> List[Row]:
        out = []
        for metric, published in res.metrics.items():
            row = Row(method=mf.method, model=model.name, dataset=res.dataset, metric=metric,
                      published=published, protocol=res.protocol, source=res.source,
                      verified=res.verified, note=res.note, config=model.config,
                      benchmark=benchmark_key(mf, res))
            tol = tolerance_for(metric, self.tolerances, res.tolerance)
            if res.average_of is not None:
                vals, lacking = [], []
                for d in res.average_of:
                    j = mj.get(d)
                    v = self._measured(j, metric, j.result.scale.get(metric, 1.0)) if j else None
                    (vals.append(v) if v is not None else lacking.append(d))
                if lacking:
                    row.reason = f'average of {", ".join(res.average_of)} needs {", ".join(lacking)}'
                else:
                    row.status = 'average'
                    judge(row, sum(vals) / len(vals), tol)
                out.append(row)
                continue
            j = mj[res.dataset]
            row.checkpoint = j.checkpoint or ''
            if j.missing:
                row.reason = '; '.join(j.missing)
                row.short_reason = '; '.join(j.short)
                row.missing = list(j.todo)
            elif j.status == 'failed':
                row.reason = f'evaluation failed: {j.error}'
            else:
                v = self._measured(j, metric, res.scale.get(metric, 1.0))
                if v is None:
                    row.reason = (f'the evaluation reported no {metric!r} (it reported: '
                                  f'{", ".join(map(str, j.metrics))}); check the config\'s test_evaluator')
                else:
                    row.status = j.status
                    judge(row, v, tol)
            out.append(row)
        return out

    @staticmethod
    def _measured(job: Optional[Job], metric: str, scale: float) -> Optional[float]:
        if job is None or not job.metrics or job.missing:
            return None
        v = job.metrics.get(metric)
        if v is None:
            return None
        return float(v) * float(scale)


def benchmark_key(mf: Metafile, res: Result) -> str:
    """What makes published numbers comparable across methods: the dataset name plus its
    benchmark folders (or how it is scored when irkit has none). Averages get ``''``: an
    average of one paper's sets is not comparable with another paper's."""
    if res.average_of is not None:
        return ''
    spec = mf.datasets.get(res.dataset)
    if spec is not None and res.online is None and res.unavailable is None:
        return f"{res.dataset} [{', '.join(spec.folders)}]"
    return f"{res.dataset} [{'online' if res.online is not None else 'not scorable in irkit'}]"


def write_outputs(rows: List[Row], out_md: str, header: str = '', **meta) -> Dict[str, str]:
    """``out_md`` plus its ``.csv``, ``.json`` and ``.png`` siblings (the plot only when some
    row was measured). Returns the paths written."""
    from irkit.fileio.checkpoint import atomic_write_bytes
    from irkit.leaderboard.report import markdown, plot, to_csv, to_json
    base = Path(out_md)
    paths = {'markdown': str(base), 'csv': str(base.with_suffix('.csv')),
             'json': str(base.with_suffix('.json')), 'plot': str(base.with_suffix('.png'))}
    atomic_write_bytes(markdown(rows, header=header).encode(), paths['markdown'])
    atomic_write_bytes(to_csv(rows).encode(), paths['csv'])
    atomic_write_bytes(to_json(rows, **meta).encode(), paths['json'])
    if plot(rows, paths['plot']) is None:
        del paths['plot']
    return paths


__all__ = ['Leaderboard', 'Job', 'write_outputs', 'checkpoint_candidates', 'benchmark_key']
