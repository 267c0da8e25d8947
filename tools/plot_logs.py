"""Plot training losses and validation metrics of a work dir.

    python tools/plot_logs.py WORK_DIR [--keys loss PSNR ...] [--out plot.png]

Reads every ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (one per run; a resumed run
adds one) in time order; where runs overlap (a resume repeats the iterations after its
checkpoint) the later run's values win. Training records (they carry ``iter``) and
validation records (metrics, logged at the iteration they were computed) are drawn in
separate panels against the iteration. Default keys: every loss term (``loss*``) and
every validation metric; ``--keys`` picks any logged key (e.g. ``lr``). Needs matplotlib
(``pip install -e '.[dev]'`` or ``'.[leaderboard]'``).
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

# bookkeeping keys that are not curves
SKIP = {'step', 'iter', 'epoch', 'time', 'data_time', 'memory', 'eta'}


def scalar_files(work_dir: str) -> List[str]:
    """The runs' ``scalars.json`` files, oldest first (timestamp folder names sort by time)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no <timestamp>/vis_data/scalars.json under {work_dir} '
                                '(is it the work dir of a training run?)')
    return files


def read_scalars(work_dir: str) -> Dict[str, Dict[str, Dict[int, float]]]:
    """``{'train': {key: {iter: value}}, 'val': {key: {iter: value}}}`` over all runs."""
    out = {'train': {}, 'val': {}}
    for path in scalar_files(work_dir):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{path} line {n}: not JSON ({e})') from None
                split = 'train' if 'iter' in rec else 'val'
                step = int(rec.get('iter', rec.get('step', 0)))
                for k, v in rec.items():
                    if k not in SKIP and isinstance(v, (int, float)):
                        out[split].setdefault(k, {})[step] = float(v)
    return out


def default_keys(scalars: dict) -> List[str]:
    return [k for k in scalars['train'] if k.startswith('loss')] + list(scalars['val'])


def plot(scalars: dict, keys: Optional[List[str]], out: str) -> List[str]:
    """Draw one panel per key; returns the keys drawn."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise SystemExit("error: tools/plot_logs.py needs matplotlib: pip install -e '.[dev]' "
                         "(or pip install matplotlib)") from None
    keys = keys or default_keys(scalars)
    series = []
    for k in keys:
        found = [(split, scalars[split][k]) for split in ('train', 'val') if k in scalars[split]]
        if not found:
            known = sorted(set(scalars['train']) | set(scalars['val']))
            raise SystemExit(f"error: key '{k}' was never logged; logged keys: {', '.join(known)}")
        series += [(k, split, d) for split, d in found]
    if not series:
        raise SystemExit('error: nothing to plot (no loss or metric logged yet)')
    n = len(series)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, (k, split, d) in zip(axes.flat, series):
        xs = sorted(d)
        ax.plot(xs, [d[x] for x in xs], marker='o' if split == 'val' or len(xs) < 30 else None,
                markersize=3)
        ax.set_title(f'{k} ({split})')
        ax.set_xlabel('iteration')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis('off')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return [k for k, _, _ in series]


def main(argv=None):
    p = argparse.ArgumentParser(description='Plot losses and validation metrics of a work dir')
    p.add_argument('work_dir')
    p.add_argument('--keys', nargs='+', help='logged keys to draw (default: loss terms and metrics)')
    p.add_argument('--out', help='image file (default WORK_DIR/plot.png)')
    args = p.parse_args(argv)
    if not osp.isdir(args.work_dir):
        raise SystemExit(f'error: work dir not found: {args.work_dir}')
    out = args.out or osp.join(args.work_dir, 'plot.png')
    drawn = plot(read_scalars(args.work_dir), args.keys, out)
    print(f"wrote {out} ({', '.join(drawn)})")
    return out


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
