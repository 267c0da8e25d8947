"""Speed and memory of the inpainting networks beside their official implementations.

For each network this measures, on one device, the forward time (``eval``, ``no_grad``) and
the forward+backward time (``train``, loss = mean of the output) per batch -- wall time, and on
CPU also the process's CPU time (user + system, all threads), which a machine shared with other
jobs disturbs much less -- and the peak memory (CUDA: ``torch.cuda.max_memory_allocated``
over the step; CPU: the growth of the process's peak resident set size over the built model,
the peak reset through ``/proc/self/clear_refs`` first where Linux offers it, so that building
the model does not count).
Every (implementation, network, mode) case runs in a fresh subprocess; the official and irkit
cases alternate, round after round (``--rounds``), and each case reports the median of
``--repeat`` timed steps after ``--warmup`` untimed ones; the table gives the median over rounds.

The official code is not part of irkit: point the script at a checkout.

* AOT-GAN: ``--aot-src DIR`` = the ``src`` folder of researchmm/AOT-GAN-for-Inpainting
  (``model/aotgan.py``; only the networks are imported, no CUDA needed).
* Co-Mod-GAN: ``--comodgan-port DIR`` = a copy of zengxianyu/co-mod-gan-pytorch ``master``
  (``co_mod_gan.py``, ``stylegan2.py``, ``op/``). Its ``op/`` JIT-compiles CUDA code at import:
  on a machine without a CUDA toolchain delete the two ``load(...)`` calls (its CPU paths,
  ``upfirdn2d_native`` and the CPU branch of ``fused_leaky_relu``, need nothing). The generator
  only (no released discriminator), at ``--size`` (512 = the released models); irkit runs the
  port's forward (``skip_4x4=False, dropout_in_eval=False``, no training-mode mixing or
  truncation) so that both do the same work.
* LaMa: ``--lama-ref DIR`` = a checkout of advimman/lama (the folder holding ``saicinpainting/``);
  the big-lama generator (``FFCResNetGenerator``, 18 blocks) is measured. kornia and
  pytorch_lightning, imported by the official package but unused by the generator, are replaced
  by empty modules when they are not installed.
* MMagic's ports (GLCIC, DeepFill v1/v2): ``--mmagic-ref DIR`` = a folder holding an importable
  ``mmagic`` package with the files of open-mmlab/mmagic@0a560bb ``mmagic/models/archs/``
  (gated_conv_module, linear_module, multi_layer_disc, conv) and ``mmagic/models/editors/``
  (global_local, deepfillv1, deepfillv2) (MMagic itself does not import on a current stack) and a
  ``mmagic/registry.py`` defining ``MODELS = Registry('model', parent=mmengine.registry.MODELS,
  scope='mmagic')``. The released generators are measured (DeepFill: both stages, the backward
  through the sum of the two outputs); use ``--size 256``, their training size.
* PConv: the same ``--mmagic-ref`` folder, also holding ``mmagic/models/editors/pconv/``.

``--size`` defaults to each method's training size (``SIZES``: AOT-GAN, Co-Mod-GAN and LaMa 512;
GLCIC, DeepFill and PConv 256).

Usage::

    python benchmarks/bench_inpainting.py --methods aotgan --aot-src ~/AOT-GAN-for-Inpainting/src
    python benchmarks/bench_inpainting.py --methods aotgan --device cuda --batch 8 --rounds 3
    python benchmarks/bench_inpainting.py --methods comodgan --comodgan-port ~/co-mod-gan-pytorch
    python benchmarks/bench_inpainting.py --methods lama --lama-ref ~/lama --size 256 --threads 1
    python benchmarks/bench_inpainting.py --methods glcic deepfillv1 deepfillv2 --mmagic-ref ~/mmagic_ref --size 256
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


# ----------------------------------------------------------------------------------- Co-Mod-GAN

def comodgan_cases(args) -> list:
    """(method, net, impl) cases of Co-Mod-GAN: the generator at ``--size``."""
    return [('comodgan', 'G', impl) for impl in ['irkit'] + (['port'] if args.comodgan_port else [])]


def comodgan_build(net: str, impl: str, args):
    """``(model, inputs)``: the released generator (``resolution=--size``) called as
    ``G(image, mask, [z])``, and a random batch with ~50 % holes (1 = known)."""
    import torch
    import torch.nn as nn
    n, s = args.batch, args.size
    if impl == 'port':
        sys.path.insert(0, os.path.abspath(args.comodgan_port))
        from co_mod_gan import Generator
        g, kwargs = Generator(resolution=s), dict(truncation=None)  # the port's default 0.5 needs a mean
    else:
        from irkit.archs.comodgan import CoModGANGenerator
        g, kwargs = CoModGANGenerator(resolution=s, skip_4x4=False, dropout_in_eval=False,
                                      truncation_psi=None, style_mixing_prob=None), {}

    class WithLatent(nn.Module):  # G(image, mask, [z]) as model(image, mask, z)
        def __init__(self) -> None:
            super().__init__()
            self.g = g

        def forward(self, img, mask, z):
            return self.g(img, mask, [z], **kwargs)

    img = torch.rand(n, 3, s, s) * 2 - 1
    mask = (torch.rand(n, 1, s, s) > 0.5).float()
    return WithLatent(), (img, mask, torch.randn(n, 512))


# ---------------------------------------------------------------------------------------- LaMa

def lama_cases(args) -> list:
    """(method, net, impl) cases of LaMa: the big-lama generator at ``--size``."""
    impls = ['irkit'] + (['official'] if args.lama_ref else [])
    return [('lama', 'G', impl) for impl in impls]


def _stub_modules(names) -> None:
    """Empty stand-ins for modules the official package imports but the timed network never uses."""
    import importlib
    import types
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            parts = name.split('.')
            for i in range(1, len(parts) + 1):
                sys.modules.setdefault('.'.join(parts[:i]), types.ModuleType('.'.join(parts[:i])))


def lama_build(net: str, impl: str, args):
    """``(model, inputs)``: big-lama's generator and ``cat(image * (1 - mask), mask)`` at ``args.size``."""
    import torch
    from irkit.archs.lama import LAMA_CONFIGS
    if impl == 'official':
        sys.path.insert(0, os.path.abspath(args.lama_ref))
        _stub_modules(['kornia.geometry.transform', 'pytorch_lightning'])
        for mod, attr in (('kornia.geometry.transform', 'rotate'), ('pytorch_lightning', 'seed_everything')):
            if not hasattr(sys.modules[mod], attr):
                setattr(sys.modules[mod], attr, None)
        from saicinpainting.training.modules.ffc import FFCResNetGenerator
    else:
        from irkit.archs.lama import FFCResNetGenerator
    model = FFCResNetGenerator(**LAMA_CONFIGS['big-lama'])
    n, s = args.batch, args.size
    img = torch.rand(n, 3, s, s)
    mask = (torch.rand(n, 1, s, s) > 0.7).float()
    return model, (torch.cat([img * (1 - mask), mask], 1),)


# ---------------------------------------------------------------------- GLCIC, DeepFill v1 / v2

def _sum_stages_module():
    import torch.nn as nn

    class SumStages(nn.Module):
        """DeepFill's two stages summed into one output, so that fwd+bwd runs through both."""

        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x):
            stage1, stage2 = self.net(x)
            return stage1 + stage2
    return SumStages


def _SumStages(net):  # noqa: N802  (torch is imported in the case processes only)
    return _sum_stages_module()(net)


def _mmagic_family_cases(method: str):
    def cases(args) -> list:
        return [(method, 'G', impl) for impl in ['irkit'] + (['mmagic'] if args.mmagic_ref else [])]
    return cases


def _mmagic_family_build(method: str):
    def build(net: str, impl: str, args):
        """``(model, inputs)``: MMagic's released generator (config dicts of base_gl / base_deepfillv1 /
        base_deepfillv2) and a masked image with a centred square hole, MMagic's input layout."""
        import copy

        import torch
        from tests.archs import mmagic_released_configs as fx
        cfg = copy.deepcopy(dict(glcic=fx.GL_GENERATOR, deepfillv1=fx.DEEPFILLV1_GENERATOR,
                                 deepfillv2=fx.DEEPFILLV2_GENERATOR)[method])
        if impl == 'mmagic':
            sys.path.insert(0, os.path.abspath(args.mmagic_ref))
            from mmengine.registry import DefaultScope
            import mmagic.models.archs  # noqa: F401  (registers MMagic's modules)
            import mmagic.models.editors.deepfillv1  # noqa: F401
            import mmagic.models.editors.deepfillv2  # noqa: F401
            import mmagic.models.editors.global_local  # noqa: F401
            from mmagic.registry import MODELS
            with DefaultScope.overwrite_default_scope('mmagic'):
                model = MODELS.build(cfg)
        else:
            from irkit.registry import ARCHS
            model = ARCHS.build(cfg)
        n, s = args.batch, args.size
        hole = torch.zeros(n, 1, s, s)
        hole[..., s // 4:3 * s // 4, s // 4:3 * s // 4] = 1
        img = (torch.rand(n, 3, s, s) * 2 - 1) * (1 - hole)
        x = torch.cat([img, hole] if method == 'glcic' else [img, torch.ones_like(hole), hole], 1)
        return (model if method == 'glcic' else _SumStages(model)), (x,)
    return build



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




BUILDERS = {'aotgan': aotgan_build, 'comodgan': comodgan_build, 'lama': lama_build, 'pconv': pconv_build,
            **{m: _mmagic_family_build(m) for m in ('glcic', 'deepfillv1', 'deepfillv2')}}
CASE_LISTS = {'aotgan': aotgan_cases, 'comodgan': comodgan_cases, 'lama': lama_cases, 'pconv': pconv_cases,
              **{m: _mmagic_family_cases(m) for m in ('glcic', 'deepfillv1', 'deepfillv2')}}
SIZES = {'aotgan': 512, 'comodgan': 512, 'lama': 512, 'glcic': 256, 'deepfillv1': 256, 'deepfillv2': 256,
         'pconv': 256}  # training sizes (the default --size)


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
    times, cpu_times = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak = ((torch.cuda.max_memory_allocated() - base_alloc) / 2 ** 20 if cuda
            else (_peak_since_reset_mib() if reset is not None else _peak_rss_mib()) - base)
    return dict(method=method, net=net, impl=impl, mode=mode, seconds=statistics.median(times),
                cpu_seconds=statistics.median(cpu_times), peak_mib=peak,
                params=sum(p.numel() for p in model.parameters()), load=os.getloadavg()[0])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--methods', nargs='+', default=sorted(BUILDERS), choices=sorted(BUILDERS))
    ap.add_argument('--aot-src', default=os.environ.get('AOT_GAN_SRC'),
                    help='src/ folder of researchmm/AOT-GAN-for-Inpainting (official AOT-GAN)')
    ap.add_argument('--comodgan-port', default=os.environ.get('COMODGAN_PORT'),
                    help='copy of zengxianyu/co-mod-gan-pytorch master (Co-Mod-GAN port, CUDA loads removed)')
    ap.add_argument('--lama-ref', default=os.environ.get('LAMA_SRC'),
                    help='checkout of advimman/lama (the folder holding saicinpainting/; official LaMa)')
    ap.add_argument('--mmagic-ref', default=os.environ.get('MMAGIC_REF'),
                    help="folder with an importable copy of MMagic's modules (GLCIC, DeepFill, PConv)")
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
    if args.comodgan_port:
        passthrough += ['--comodgan-port', args.comodgan_port]
    if args.lama_ref:
        passthrough += ['--lama-ref', args.lama_ref]
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
                print(f"# round {r}: {method} {net} {impl} {mode}: {res['seconds']:.2f} s "
                      f"(CPU {res['cpu_seconds']:.2f} s), "
                      f"peak +{res['peak_mib']:.0f} MiB, load {res['load']:.2f}", file=sys.stderr, flush=True)
    mem = 'peak alloc MiB' if args.device.startswith('cuda') else 'peak RSS growth MiB'
    print(f'| network | input | impl | params | fwd s | fwd CPU s | fwd {mem} | fwd+bwd s | fwd+bwd CPU s '
          f'| fwd+bwd {mem} |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    rows = []
    for method, net, impl in cases:
        row = dict(method=method, net=net, impl=impl)
        cells = []
        for mode in ('fwd', 'fwdbwd'):
            rs = runs.get((method, net, impl, mode))
            if not rs:
                cells += ['-', '-', '-']
                continue
            row[mode] = dict(seconds=statistics.median(r['seconds'] for r in rs),
                             cpu_seconds=statistics.median(r['cpu_seconds'] for r in rs),
                             peak_mib=statistics.median(r['peak_mib'] for r in rs),
                             all_seconds=[r['seconds'] for r in rs])
            row['params'] = rs[0]['params']
            cells += [f"{row[mode]['seconds']:.2f}", f"{row[mode]['cpu_seconds']:.2f}", f"{row[mode]['peak_mib']:.0f}"]
        rows.append(row)
        size = args.size or SIZES[method]
        print(f"| {method} {net} | {args.batch}x{size}x{size} | {impl} | "
              f"{row.get('params', 0) / 1e6:.2f} M | " + ' | '.join(cells) + ' |')
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(dict(args=vars(args), rows=rows), fh, indent=1)


if __name__ == '__main__':
    main()
