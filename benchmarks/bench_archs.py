"""Speed and memory of the MPRNet / Restormer / PromptIR archs at their training patch size.

For every arch (released widths) this measures, on one device:

* forward time (``eval``, ``no_grad``) and forward+backward time (``train``, loss = mean of
  the outputs, every output for MPRNet) per batch, median over ``--repeat`` runs after
  ``--warmup`` untimed runs;
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` of the step; on CPU the growth
  of the process's peak resident set size (``ru_maxrss``) over the size after the model
  was built, measured in a fresh subprocess per arch and mode so that one case does not
  hide another.

Usage::

    python benchmarks/bench_archs.py                      # all archs, CPU, batch 1
    python benchmarks/bench_archs.py --device cuda --batch 8 --repeat 10
    python benchmarks/bench_archs.py --archs restormer --threads 2 --json out.json

Prints a Markdown table (the format of docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (arch config, training patch size, what the patch is)
CASES = {
    'mprnet_deblur': (dict(type='MPRNet'), 256, 'GoPro recipe'),
    'mprnet_denoise': (dict(type='MPRNet', n_feat=80), 128, 'SIDD recipe'),
    'mprnet_derain': (dict(type='MPRNet', n_feat=40, scale_unetfeats=20, scale_orsnetfeats=16),
                      256, 'Rain13K recipe'),
    'restormer': (dict(type='Restormer'), 128, 'first progressive stage'),
    'restormer_384': (dict(type='Restormer'), 384, 'last progressive stage'),
    'promptir': (dict(type='PromptIR', decoder=True), 128, 'all-in-one recipe'),
}
DEFAULT = ['mprnet_deblur', 'mprnet_denoise', 'mprnet_derain', 'restormer', 'promptir']


def _peak_rss_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def run_case(name: str, mode: str, device: str, batch: int, repeat: int, threads: int,
             warmup: int = 1) -> dict:
    """Measure one arch in one mode ('fwd' or 'fwdbwd') in this process."""
    import torch
    sys.path.insert(0, ROOT)
    from irkit.registry import ARCHS
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg, size, _ = CASES[name]
    model = ARCHS.build(dict(cfg)).to(device)
    x = torch.rand(batch, 3, size, size, device=device)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)

    def step():
        if mode == 'fwd':
            with torch.no_grad():
                model(x)
        else:
            out = model(x)
            outs = out if isinstance(out, (list, tuple)) else [out]
            sum(o.mean() for o in outs).backward()
            model.zero_grad(set_to_none=True)

    model.train(mode == 'fwdbwd')
    base = _peak_rss_mib()
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    for _ in range(warmup):
        step()
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    if device.startswith('cuda'):
        peak = (torch.cuda.max_memory_allocated() - base_alloc) / 2 ** 20
    else:
        peak = _peak_rss_mib() - base
    return dict(name=name, mode=mode, size=size, batch=batch, device=device, threads=threads,
                params=sum(p.numel() for p in model.parameters()),
                seconds=statistics.median(times), peak_mib=peak)


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--archs', nargs='+', default=DEFAULT, choices=sorted(CASES))
    p.add_argument('--device', default='cpu')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--repeat', type=int, default=2)
    p.add_argument('--warmup', type=int, default=1, help='untimed runs before timing')
    p.add_argument('--threads', type=int, default=max(1, min(4, os.cpu_count() or 1)))
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--case', nargs=2, metavar=('NAME', 'MODE'), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.case:  # child process: one measurement, JSON on stdout
        res = run_case(args.case[0], args.case[1], args.device, args.batch, args.repeat,
                       args.threads, args.warmup)
        print(json.dumps(res))
        return [res]

    results = []
    for name in args.archs:
        for mode in ('fwd', 'fwdbwd'):
            cmd = [sys.executable, os.path.abspath(__file__), '--case', name, mode, '--device',
                   args.device, '--batch', str(args.batch), '--repeat', str(args.repeat),
                   '--threads', str(args.threads), '--warmup', str(args.warmup)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                raise RuntimeError(f'{name} {mode} failed:\n{proc.stderr[-3000:]}')
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f'# {name} {mode}: {results[-1]["seconds"]:.2f} s', file=sys.stderr, flush=True)

    rows = {}
    for r in results:
        rows.setdefault(r['name'], {})[r['mode']] = r
    mem = 'peak alloc MiB' if args.device.startswith('cuda') else 'peak RSS +MiB'
    print(f'| arch | params | input | forward s | fwd {mem} | fwd+bwd s | fwd+bwd {mem} |')
    print('|---|---|---|---|---|---|---|')
    for name, m in rows.items():
        f, b = m['fwd'], m['fwdbwd']
        print(f"| {name} ({CASES[name][2]}) | {f['params'] / 1e6:.2f} M | {f['batch']}x3x{f['size']}x{f['size']} "
              f"| {f['seconds']:.2f} | {f['peak_mib']:.0f} | {b['seconds']:.2f} | {b['peak_mib']:.0f} |")
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == '__main__':
    main()
