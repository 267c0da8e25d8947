"""Verdicts and writers: Markdown table, CSV, JSON and a measured-vs-published plot."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# default tolerances, in the metric's published unit
DEFAULT_TOLERANCES = {'PSNR': 0.05, 'SSIM': 0.002, 'LPIPS': 0.002, 'FID': 0.1, 'P-IDS': 0.5,
                      'U-IDS': 0.5, 'MAE': 0.05, 'MSE': 1e-4, 'Accuracy': 0.5}
LOWER_IS_BETTER = {'FID', 'LPIPS', 'MAE', 'MSE', 'NIQE', 'KID'}

REPRODUCED, DIFFERS, NOT_RUN = 'reproduced', 'differs', 'not run'


@dataclass
class Row:
    method: str
    model: str
    dataset: str
    metric: str
    published: Optional[float]
    measured: Optional[float] = None
    delta: Optional[float] = None
    tolerance: Optional[float] = None
    verdict: str = NOT_RUN
    reason: str = ''
    status: str = 'not run'  # 'evaluated', 'cached', 'average', 'not run'
    protocol: str = ''
    source: str = ''
    verified: bool = False
    note: str = ''
    config: str = ''
    checkpoint: str = ''
    missing: List[str] = field(default_factory=list)
    short_reason: str = ''
    benchmark: str = ''  # rows with the same key are comparable across methods ('' = not)

    @property
    def text_verdict(self) -> str:
        return f'not run: {self.reason}' if self.verdict == NOT_RUN else self.verdict


def tolerance_for(metric: str, overrides: Optional[Dict[str, float]] = None,
                  row_tolerance: Optional[Dict[str, float]] = None) -> float:
    for table in (row_tolerance or {}, overrides or {}, DEFAULT_TOLERANCES):
        if metric in table:
            return float(table[metric])
    return 0.01  # unknown metric: an absolute 0.01


def judge(row: Row, measured: float, tol: float) -> Row:
    """Fill measured/delta/verdict: reproduced when ``|measured - published| <= tol``."""
    row.measured, row.tolerance = float(measured), float(tol)
    if row.published is None or not math.isfinite(measured):
        row.verdict = 'measured' if math.isfinite(measured) else DIFFERS
        return row
    row.delta = row.measured - row.published
    # round to the published precision noise: 1e-9 absorbs float error at the boundary
    row.verdict = REPRODUCED if abs(row.delta) <= tol + 1e-9 else DIFFERS
    if row.verdict == DIFFERS:
        better = row.delta < 0 if row.metric in LOWER_IS_BETTER else row.delta > 0
        row.verdict = f'{DIFFERS} ({"better" if better else "worse"})'
    return row


def _fmt(v: Optional[float], metric: str = '') -> str:
    if v is None:
        return '—'
    if metric == 'SSIM' or abs(v) < 1:
        return f'{v:.4f}'
    return f'{v:.2f}'


def _fmt_delta(v: Optional[float], metric: str) -> str:
    if v is None:
        return '—'
    return f'{v:+.4f}' if metric == 'SSIM' or abs(v) < 0.01 else f'{v:+.3f}'


def _cell(parts: List[str]) -> str:
    return '<br>'.join(parts).replace('|', '\\|')


def markdown(rows: Sequence[Row], title: str = 'Leaderboard reproduction', header: str = '') -> str:
    """One table row per (model, dataset), its metrics stacked in the cells; the
    "not run" reasons name what is missing and where it goes, and a closing section
    lists every file/folder to download with its source."""
    lines = [f'# {title}', '']
    if header:
        lines += [header.rstrip(), '']
    groups: Dict[tuple, List[Row]] = {}
    for r in rows:
        groups.setdefault((r.method, r.model, r.dataset), []).append(r)
    counts: Dict[str, int] = {}
    for g in groups.values():
        k = _group_verdict(g).split(' ')[0].rstrip(':')
        k = 'not run' if k == 'not' else k
        counts[k] = counts.get(k, 0) + 1
    lines += ['(model, dataset) rows: ' + ', '.join(f'{v} {k}' for k, v in sorted(counts.items()))
              + f' (of {len(groups)}; {len(rows)} metric values in the CSV/JSON).', '']
    lines += comparison_markdown(rows)
    methods: List[str] = []
    for r in rows:
        if r.method not in methods:
            methods.append(r.method)
    for m in methods:
        lines += [f'## {m}', '',
                  '| model | dataset | published | measured | Δ | verdict | protocol | source |',
                  '|---|---|---|---|---|---|---|---|']
        for (meth, model, dataset), g in groups.items():
            if meth != m:
                continue
            pub = _cell([f'{r.metric} {_fmt(r.published, r.metric)}' for r in g])
            meas = _cell([f'{r.metric} {_fmt(r.measured, r.metric)}' for r in g]) \
                if any(r.measured is not None for r in g) else '—'
            delta = _cell([f'{r.metric} {_fmt_delta(r.delta, r.metric)}' for r in g]) \
                if any(r.delta is not None for r in g) else '—'
            verdict = _group_verdict(g)
            if g[0].note:
                verdict += f' ({g[0].note})'
            src = g[0].source + ('' if g[0].verified else ' †')
            lines.append(f'| {model} | {dataset} | {pub} | {meas} | {delta} | {_cell([verdict])} | '
                         f'{_cell([g[0].protocol])} | {_cell([src])} |')
        lines.append('')
    lines += ['† not yet verified against the paper/README (`Verified: false` in the metafile).', '']
    todo: List[str] = []
    for r in rows:
        for item in r.missing:
            if item not in todo:
                todo.append(item)
    if todo:
        lines += ['## What to download and where to put it', '']
        lines += [f'- {t}' for t in todo]
        lines.append('')
    return '\n'.join(lines)


def _best(values: List[Optional[float]], metric: str) -> Optional[float]:
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return None
    return min(present) if metric in LOWER_IS_BETTER else max(present)


def comparison_markdown(rows: Sequence[Row]) -> List[str]:
    """Lines of a "same benchmark, several methods" section: for every benchmark (rows
    with the same :attr:`Row.benchmark`, i.e. the same dataset name and folders) on
    which two or more methods have published numbers, one table of those numbers side
    by side, best first by the first metric, the best published value of each column in
    bold. Returns ``[]`` when no benchmark is shared."""
    bench: Dict[str, Dict[tuple, List[Row]]] = {}
    for r in rows:
        if r.benchmark:
            bench.setdefault(r.benchmark, {}).setdefault((r.method, r.model), []).append(r)
    shared = {k: v for k, v in bench.items() if len({m for m, _ in v}) >= 2}
    if not shared:
        return []
    names: Dict[str, int] = {}
    for k, v in shared.items():
        d = next(iter(v.values()))[0].dataset
        names[d] = names.get(d, 0) + 1
    out = ['## Same benchmark, several methods', '',
           'Published numbers of different methods on the same test images, masks or degradations and '
           'the same metric code (one benchmark = one dataset name with the same benchmark folders in the '
           'metafiles), side by side; rows are ordered by the first metric, best first, and the best '
           'published value of each column is in bold. Each number keeps its source; the sections '
           'further down give every row\'s verdict and caveats.', '']
    for key, models in shared.items():
        first = next(iter(models.values()))[0]
        metrics: List[str] = []
        for g in models.values():
            for r in g:
                if r.metric not in metrics:
                    metrics.append(r.metric)
        lead = metrics[0]
        sign = 1.0 if lead in LOWER_IS_BETTER else -1.0

        def order(item, lead=lead, sign=sign):
            v = next((r.published for r in item[1] if r.metric == lead and r.published is not None), None)
            return (v is None, sign * v if v is not None else 0.0)
        ordered = sorted(models.items(), key=order)
        value = {(mk, r.metric): r for mk, g in ordered for r in g}
        best = {m: _best([value[(mk, m)].published if (mk, m) in value else None for mk, _ in ordered], m)
                for m in metrics}
        heading = first.dataset if names[first.dataset] == 1 else key
        out += [f'### {heading}', '']
        protocols: List[str] = []
        for _, g in ordered:
            if g[0].protocol not in protocols:
                protocols.append(g[0].protocol)
        if len(protocols) == 1:
            out += [f'Protocol: {protocols[0]}', '']
        arrows = ['↓' if m in LOWER_IS_BETTER else '↑' for m in metrics]
        out += ['| method | model | ' + ' | '.join(f'{m} {a}' for m, a in zip(metrics, arrows))
                + ' | measured here | source |' + (' protocol |' if len(protocols) > 1 else ''),
                '|---|---|' + '---|' * len(metrics) + '---|---|' + ('---|' if len(protocols) > 1 else '')]
        for (method, model), g in ordered:
            cells = []
            for m in metrics:
                r = value.get(((method, model), m))
                if r is None or r.published is None:
                    cells.append('—')
                    continue
                txt = f'{r.published:g}'  # as published (no padding to a fixed precision)
                cells.append(f'**{txt}**' if best[m] is not None and r.published == best[m] else txt)
            measured = [f'{r.metric} {_fmt(r.measured, r.metric)}' for r in g if r.measured is not None]
            src = g[0].source + ('' if g[0].verified else ' †')
            line = (f'| {method} | {model} | ' + ' | '.join(cells) + f' | {_cell(measured) if measured else "not run"} | '
                    f'{_cell([src])} |')
            if len(protocols) > 1:
                line += f' {_cell([g[0].protocol])} |'
            out.append(line)
        out.append('')
    return out


def _group_verdict(g: Sequence[Row]) -> str:
    if all(r.verdict == NOT_RUN for r in g):
        reasons: List[str] = []
        for r in g:
            rr = r.short_reason or r.reason
            if rr not in reasons:
                reasons.append(rr)
        return 'not run: ' + '; '.join(reasons)
    bad = [r for r in g if r.verdict != REPRODUCED]
    if not bad:
        return REPRODUCED
    return '; '.join(f'{r.metric} {r.verdict if r.verdict != NOT_RUN else "not run: " + r.reason}'
                     for r in bad)


CSV_FIELDS = ['method', 'model', 'dataset', 'metric', 'published', 'measured', 'delta', 'tolerance',
              'verdict', 'reason', 'status', 'protocol', 'source', 'verified', 'note', 'config', 'checkpoint']


def to_csv(rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator='\n')
    w.writeheader()
    for r in rows:
        d = asdict(r)
        w.writerow({k: ('' if d[k] is None else d[k]) for k in CSV_FIELDS})
    return buf.getvalue()


def to_json(rows: Sequence[Row], **meta) -> str:
    return json.dumps({**meta, 'rows': [asdict(r) for r in rows]}, indent=2, default=str)


def plot(rows: Sequence[Row], path: str) -> Optional[Path]:
    """Measured vs published, one panel per metric, with the y = x line (PNG).

    Returns ``None`` and writes nothing when no row has both a measured and a published
    value (an empty plot says nothing the table does not).
    """
    done = [r for r in rows if r.measured is not None and r.published is not None]
    if not done:
        return None
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    metrics = sorted({r.metric for r in done})
    n = len(metrics)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.0), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        pts = [r for r in done if r.metric == metric]
        xs, ys = [r.published for r in pts], [r.measured for r in pts]
        colors = ['tab:green' if r.verdict == REPRODUCED else 'tab:red' for r in pts]
        ax.scatter(xs, ys, c=colors, s=24, zorder=3)
        lo, hi = min(xs + ys), max(xs + ys)
        pad = (hi - lo) * 0.05 or max(abs(hi) * 0.01, 1e-3)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], 'k--', lw=0.8, zorder=2)
        for r in pts:
            ax.annotate(f'{r.model}/{r.dataset}', (r.published, r.measured), fontsize=6,
                        xytext=(3, 3), textcoords='offset points')
        ax.set_xlabel(f'published {metric}')
        ax.set_ylabel(f'measured {metric}')
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    fig.suptitle('irkit leaderboard: measured vs published (green = within tolerance)', fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp.png')
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


__all__ = ['Row', 'judge', 'tolerance_for', 'markdown', 'comparison_markdown', 'to_csv', 'to_json', 'plot',
           'DEFAULT_TOLERANCES', 'LOWER_IS_BETTER', 'REPRODUCED', 'DIFFERS', 'NOT_RUN']
