"""Speed and memory of the inpainting networks beside their official implementations.

For each network this measures, on one device, the forward time (``eval``, ``no_grad``) and
the forward+backward time (``train``, loss = mean of the output) per batch, and the peak
memory (CUDA: ``torch.cuda.max_memory_allocated`` over the step; CPU: the growth of the
process's peak resident set size over the built model, the peak reset through
``/proc/self/clear_refs`` first where Linux offers it, so that building the model does not count). Every (implementation, network,
mode) case runs in a fresh subprocess; the official and irkit cases alternate, round after
round (``--rounds``), and each case reports the median of ``--repeat`` timed steps after
``--warmup`` untimed ones; the table gives the median over rounds.

The official code is not part of irkit: point the script at a checkout.

* AOT-GAN: ``--aot-src DIR`` = the ``src`` folder of researchmm/AOT-GAN-for-Inpainting
  (``model/aotgan.py``; only the networks are imported, no CUDA needed).
* PConv: ``--mmagic-ref DIR`` = a folder holding an importable ``mmagic`` package with the
  files of open-mmlab/mmagic@0a560bb ``mmagic/models/editors/pconv/`` (MMagic itself does not
  import on a current stack) and a ``mmagic/registry.py`` defining
  ``MODELS = Registry('model', parent=mmengine.registry.MODELS, scope='mmagic')``.

``--size`` defaults to each method's training size (AOT-GAN 512, PConv 256).

Usage::

    python benchmarks/bench_inpainting.py --methods aotgan --aot-src ~/AOT-GAN-for-Inpainting/src
    python benchmarks/bench_inpainting.py --methods aotgan --device cuda --batch 8 --rounds 3
    python benchmarks/bench_inpainting.py --methods pconv --mmagic-ref ~/mmagic_ref --rounds 3

Prints a Markdown table (the format of docs/benchmarks.md, "Inpainting networks").
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


def _peak_rss_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _reset_peak_rss():
    """Reset the process's peak RSS to the current RSS ('5' > /proc/self/clear_refs, Linux >= 4.0)
    so that building the model does not count; the current RSS in MiB, or None if unsupported."""
    try:
        with open('/proc/self/clear_refs', 'w') as fh:
            fh.write('5')
        with open('/proc/self/status') as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith('VmRSS:')) / 1024.0
    except (OSError, StopIteration):
        return None


def _peak_since_reset_mib() -> float:
    with open('/proc/self/status') as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith('VmHWM:')) / 1024.0


# ------------------------------------------------------------------------------------- AOT-GAN

def aotgan_cases(args) -> list:
    """(method, net, impl) cases of AOT-GAN: generator and discriminator at ``--size``."""
    impls = ['irkit'] + (['official'] if args.aot_src else [])
    return [('aotgan', net, impl) for net in ('G', 'D') for impl in impls]


def aotgan_build(net: str, impl: str, args):
    """``(model, inputs)``: the released configuration and a random batch at ``args.size``."""
    import torch
    n, s = args.batch, args.size
    if impl == 'official':
        import types
        sys.path.insert(0, os.path.abspath(args.aot_src))
        from model.aotgan import Discriminator, InpaintGenerator
        model = (InpaintGenerator(types.SimpleNamespace(block_num=8, rates=[1, 2, 4, 8]))
                 if net == 'G' else Discriminator())
    else:
        from irkit.archs.aotgan import AOTDiscriminator, AOTGenerator
        model = AOTGenerator() if net == 'G' else AOTDiscriminator()
    img = torch.rand(n, 3, s, s) * 2 - 1
    if net == 'D':
        return model, (img,)
    mask = (torch.rand(n, 1, s, s) > 0.5).float()
    return model, (img * (1 - mask) + mask, mask)


# --------------------------------------------------------------------------------------- PConv

PCONV_RELEASED = dict(  # MMagic pconv_stage2_4xb2_{places,celeba}-256x256 generator
    encoder=dict(type='PConvEncoder', norm_cfg=dict(type='SyncBN', requires_grad=False), norm_eval=True),
    decoder=dict(type='PConvDecoder', norm_cfg=dict(type='SyncBN')))


def pconv_cases(args) -> list:
    """(method, net, impl) cases of the PConv U-Net (released 7-level configuration)."""
    return [('pconv', 'G', impl) for impl in ['irkit'] + (['mmagic'] if args.mmagic_ref else [])]


def pconv_build(net: str, impl: str, args):
    """``(model, inputs)``: MMagic's released PConv U-Net, a masked image and its 3-channel mask."""
    import torch
    cfg = dict(type='PConvEncoderDecoder', **PCONV_RELEASED)
    if impl == 'mmagic':
        sys.path.insert(0, os.path.abspath(args.mmagic_ref))
        from mmengine.registry import DefaultScope
        import mmagic.models.editors.pconv  # noqa: F401  (registers MMagic's modules)
        from mmagic.registry import MODELS
        with DefaultScope.overwrite_default_scope('mmagic'):
            model = MODELS.build(cfg)
    else:
        from irkit.registry import ARCHS
        model = ARCHS.build(cfg)
    n, s = args.batch, args.size
    known = (torch.rand(n, 1, s, s) > 0.35).float().repeat(1, 3, 1, 1)
    return model, ((torch.rand(n, 3, s, s) * 2 - 1) * known, known)


BUILDERS = {'aotgan': aotgan_build, 'pconv': pconv_build}
CASE_LISTS = {'aotgan': aotgan_cases, 'pconv': pconv_cases}
SIZES = {'aotgan': 512, 'pconv': 256}  # training sizes (the default --size)


# ---------------------------------------------------------------------------------- machinery

def run_case(method: str, net: str, impl: str, mode: str, args) -> dict:
    """Measure one case in this process."""
    import torch
    sys.path.insert(0, ROOT)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.size = args.size or SIZES[method]
    model, inputs = BUILDERS[method](net, impl, args)
    model = model.to(args.device).train(mode == 'fwdbwd')
    inputs = tuple(x.to(args.device) for x in inputs)
    cuda = args.device.startswith('cuda')
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def step():
        if mode == 'fwd':
            with torch.no_grad():
                model(*inputs)
        else:
            out = model(*inputs)
            (out[0] if isinstance(out, (tuple, list)) else out).mean().backward()  # PConv: (image, mask)
            model.zero_grad(set_to_none=True)

    reset = _reset_peak_rss()
    base = reset if reset is not None else _peak_rss_mib()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    for _ in range(args.warmup):
        step()
        sync()
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    peak = ((torch.cuda.max_memory_allocated() - base_alloc) / 2 ** 20 if cuda
            else (_peak_since_reset_mib() if reset is not None else _peak_rss_mib()) - base)
    return dict(method=method, net=net, impl=impl, mode=mode, seconds=statistics.median(times),
                peak_mib=peak, params=sum(p.numel() for p in model.parameters()),
                load=os.getloadavg()[0])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--methods', nargs='+', default=sorted(BUILDERS), choices=sorted(BUILDERS))
    ap.add_argument('--aot-src', default=os.environ.get('AOT_GAN_SRC'),
                    help='src/ folder of researchmm/AOT-GAN-for-Inpainting (official AOT-GAN)')
    ap.add_argument('--mmagic-ref', default=os.environ.get('MMAGIC_REF'),
                    help="folder with an importable copy of MMagic's PConv modules (see above)")
    ap.add_argument('--size', type=int, default=None, help="image side (default: the method's training size)")
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeat', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=1, help='untimed steps before the timed ones')
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--modes', nargs='+', default=['fwd', 'fwdbwd'], choices=['fwd', 'fwdbwd'])
    ap.add_argument('--json')
    ap.add_argument('--case', nargs=4, metavar=('METHOD', 'NET', 'IMPL', 'MODE'), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(*args.case, args)))
        return
    cases = [c for m in args.methods for c in CASE_LISTS[m](args)]
    passthrough = ['--batch', str(args.batch), '--device', args.device,
                   '--threads', str(args.threads), '--repeat', str(args.repeat), '--warmup', str(args.warmup)]
    if args.size:
        passthrough += ['--size', str(args.size)]
    if args.aot_src:
        passthrough += ['--aot-src', args.aot_src]
    if args.mmagic_ref:
        passthrough += ['--mmagic-ref', args.mmagic_ref]
    runs = {}
    for r in range(args.rounds):
        for mode in args.modes:
            for method, net, impl in cases:
                cmd = [sys.executable, os.path.abspath(__file__), '--case', method, net, impl, mode] + passthrough
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    raise RuntimeError(f'{method} {net} {impl} {mode} failed:\n{proc.stderr[-3000:]}')
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                runs.setdefault((method, net, impl, mode), []).append(res)
                print(f"# round {r}: {method} {net} {impl} {mode}: {res['seconds']:.2f} s, "
                      f"peak +{res['peak_mib']:.0f} MiB, load {res['load']:.2f}", file=sys.stderr, flush=True)
    mem = 'peak alloc MiB' if args.device.startswith('cuda') else 'peak RSS growth MiB'
    print(f'| network | input | impl | params | fwd s | fwd {mem} | fwd+bwd s | fwd+bwd {mem} |')
    print('|---|---|---|---|---|---|---|---|')
    rows = []
    for method, net, impl in cases:
        row = dict(method=method, net=net, impl=impl)
        cells = []
        for mode in ('fwd', 'fwdbwd'):
            rs = runs.get((method, net, impl, mode))
            if not rs:
                cells += ['-', '-']
                continue
            row[mode] = dict(seconds=statistics.median(r['seconds'] for r in rs),
                             peak_mib=statistics.median(r['peak_mib'] for r in rs),
                             all_seconds=[r['seconds'] for r in rs])
            row['params'] = rs[0]['params']
            cells += [f"{row[mode]['seconds']:.2f}", f"{row[mode]['peak_mib']:.0f}"]
        rows.append(row)
        size = args.size or SIZES[method]
        print(f"| {method} {net} | {args.batch}x{size}x{size} | {impl} | "
              f"{row.get('params', 0) / 1e6:.2f} M | " + ' | '.join(cells) + ' |')
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(dict(args=vars(args), rows=rows), fh, indent=1)


if __name__ == '__main__':
    main()
