"""Speed and memory of the MPRNet / Restormer / PromptIR archs at their training patch size.

For every arch (released widths) this measures, on one device:

* forward time (``eval``, ``no_grad``) and forward+backward time (``train``, loss = mean of
  the outputs, every output for MPRNet) per batch, median over ``--repeat`` runs after
  ``--warmup`` untimed runs;
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` of the step; on CPU the growth
  of the process's peak resident set size (``ru_maxrss``) over the size after the model
  was built, measured in a fresh subprocess per arch and mode so that one case does not
  hide another.

With ``--tiled``, it instead restores one random 2276x1280 RGB image through ``Restorer``
(test-time padding to the arch's multiple) for each arch, tiled (``--tile``, default 256
and 128, ``--tile-overlap`` 32) and, with ``--whole``, in one piece: peak memory (CUDA: max
allocated; CPU: the process's peak RSS, absolute and over the built model) and wall time,
each case in a fresh subprocess. ``--max-tiles K`` runs the network on the first K tiles
only (the rest are blended as zeros): every tile has the same size, so the peak is the
full run's, and the time is extrapolated as the K-tile time plus the median time of the
timed tiles after the first (warm-up) for each skipped tile.

Usage::

    python benchmarks/bench_archs.py                      # all archs, CPU, batch 1
    python benchmarks/bench_archs.py --device cuda --batch 8 --repeat 10
    python benchmarks/bench_archs.py --archs restormer --threads 2 --json out.json
    python benchmarks/bench_archs.py --tiled --archs mprnet_deblur restormer promptir \\
        --tile 256 128 --max-tiles 2                      # tiled 2276x1280, 2 tiles timed
    python benchmarks/bench_archs.py --tiled --archs mprnet_derain --tile 256 --whole

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
PAD_MULTIPLE = {'MPRNet': 8, 'Restormer': 8, 'PromptIR': 16}
TILED_DEFAULT = ['mprnet_deblur', 'restormer', 'promptir']
TILED_SIZE = (1280, 2276)  # H x W


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


def run_tiled_case(name: str, tile: int, overlap: int, max_tiles: int, device: str,
                   threads: int, size=TILED_SIZE) -> dict:
    """Restore one random ``size`` image with ``Restorer`` (``tile=0``: whole image)."""
    import torch
    sys.path.insert(0, ROOT)
    from mmengine.registry import DefaultScope

    from irkit.models.restorer import _starts
    from irkit.registry import MODELS
    DefaultScope.get_instance('bench_archs', scope_name='irkit')  # for the data preprocessor
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = CASES[name][0]
    multiple = PAD_MULTIPLE[cfg['type']]
    model = MODELS.build(dict(type='Restorer', generator=dict(cfg), pad_multiple=multiple,
                              tile=tile or None, tile_overlap=overlap)).to(device).eval()
    h, w = size
    x = torch.rand(1, 3, h, w, device=device)
    if tile:
        t = max(multiple, tile // multiple * multiple)
        n_tiles = len(_starts(h, t, t - overlap)) * len(_starts(w, t, t - overlap))
    else:
        n_tiles = 1
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    real, ran = model._padded, []  # seconds of each tile the network ran on

    def limited(patch):  # the network on the first max_tiles tiles, zeros on the rest
        if max_tiles and len(ran) >= max_tiles:
            return patch.new_zeros(patch.shape[0], 3, *patch.shape[-2:])
        t = time.perf_counter()
        y = real(patch)
        sync()
        ran.append(time.perf_counter() - t)
        return y

    model._padded = limited
    base = _peak_rss_mib()
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    y = model.inference(x)
    sync()
    seconds = time.perf_counter() - t0
    assert y.shape == x.shape and torch.isfinite(y).all()
    # skipped tiles would each cost the median of the timed ones after the first (warm-up)
    per_tile = statistics.median(ran[1:] or ran)
    res = dict(name=name, tile=tile, overlap=overlap, size=list(size), device=device,
               threads=threads, n_tiles=n_tiles, tiles_run=len(ran), seconds=seconds,
               tile_seconds=ran, seconds_full=seconds + (n_tiles - len(ran)) * per_tile,
               load=[load0, os.getloadavg()[0]])
    if device.startswith('cuda'):
        res['peak_mib'] = (torch.cuda.max_memory_allocated() - base_alloc) / 2 ** 20
    else:
        res['peak_mib'] = _peak_rss_mib() - base
        res['peak_rss_mib'] = _peak_rss_mib()
    return res


def tiled_main(args) -> list:
    results = []
    cases = [(n, t) for n in args.archs for t in args.tile] + (
        [(n, 0) for n in args.archs] if args.whole else [])
    for name, tile in cases:
        cmd = [sys.executable, os.path.abspath(__file__), '--tiled-case', name, str(tile),
               '--tile-overlap', str(args.tile_overlap), '--max-tiles', str(args.max_tiles if tile else 0),
               '--device', args.device, '--threads', str(args.threads),
               '--size', str(args.size[0]), str(args.size[1])]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f'{name} tile={tile} failed:\n{proc.stderr[-3000:]}')
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"# {name} tile={tile}: {r['seconds']:.1f} s for {r['tiles_run']}/{r['n_tiles']} tiles, "
              f"peak +{r['peak_mib']:.0f} MiB, load {r['load'][0]:.2f}", file=sys.stderr, flush=True)
    mem = 'peak alloc MiB' if args.device.startswith('cuda') else 'peak RSS MiB (+ over model)'
    print(f'| arch | image | tile / overlap | tiles | {mem} | time s |')
    print('|---|---|---|---|---|---|')
    for r in results:
        h, w = r['size']
        tiling = f"{r['tile']} / {r['overlap']}" if r['tile'] else 'whole image'
        m = (f"{r['peak_rss_mib']:.0f} (+{r['peak_mib']:.0f})" if 'peak_rss_mib' in r
             else f"{r['peak_mib']:.0f}")
        t = (f"{r['seconds']:.1f}" if r['tiles_run'] == r['n_tiles']
             else f"{r['seconds_full']:.0f} (from {r['tiles_run']} tiles)")
        print(f"| {r['name']} | {w}x{h} | {tiling} | {r['n_tiles']} | {m} | {t} |")
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(results, fh, indent=1)
    return results


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
    p.add_argument('--tiled', action='store_true',
                   help='restore a 2276x1280 image through Restorer, tiled (see --tile)')
    p.add_argument('--tile', nargs='+', type=int, default=[256, 128], help='tile sizes (--tiled)')
    p.add_argument('--tile-overlap', type=int, default=32)
    p.add_argument('--max-tiles', type=int, default=0,
                   help='run the network on this many tiles only, extrapolate the time (0: all)')
    p.add_argument('--whole', action='store_true', help='also restore the image in one piece')
    p.add_argument('--size', nargs=2, type=int, default=list(TILED_SIZE), metavar=('H', 'W'))
    p.add_argument('--tiled-case', nargs=2, metavar=('NAME', 'TILE'), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.tiled_case:  # child process: one tiled (or whole-image) restoration
        res = run_tiled_case(args.tiled_case[0], int(args.tiled_case[1]), args.tile_overlap,
                             args.max_tiles, args.device, args.threads, tuple(args.size))
        print(json.dumps(res))
        return [res]
    if args.tiled:
        if args.archs == DEFAULT:
            args.archs = TILED_DEFAULT
        return tiled_main(args)

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
