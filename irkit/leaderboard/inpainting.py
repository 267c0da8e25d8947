"""One reproducible inpainting benchmark: every method on the same images and the same masks.

:func:`run_benchmark` scores inpainting models (config + checkpoint, or random initial
weights, labelled so) on an image folder and one or more fixed mask sets
(:mod:`irkit.datasets.mask_sets`), through the one test runner
(:func:`irkit.engine.tester.run_test`), and writes

* ``results.json`` / ``results.csv``: every metric per model and mask set, overall and per
  hole-ratio bin, with the protocol, the mask sets' SHA-256 and the checkpoints' SHA-256;
* ``table.md``: the comparison table;
* ``plot.png``: each metric against the hole-ratio bin, one line per model;
* ``grid.png``: the same images and masks, every method side by side.

The protocol: image ``i`` (sorted file names) is resized (bicubic) so its short side is the
mask size, centre-cropped to a square and paired with mask ``i``; holes are where the mask
file is white. PSNR/SSIM on the whole RGB image (uint8, BasicSR conventions), L1 on the hole
(reported as ``MAE``: mean absolute error over the hole pixels, [0, 1] scale), LPIPS (AlexNet v0.1), FID and
P-IDS/U-IDS (StyleGAN2-ADA Inception pool features; P-IDS/U-IDS need >= 2 images), and
per hole-ratio bin PSNR/SSIM/L1 (and LPIPS when on). Metrics whose weights are missing are
skipped with a note naming the file. Inference is seeded per image, so two runs give the same
numbers.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

__all__ = ['BenchModel', 'run_benchmark', 'available_metrics', 'DEFAULT_BINS']

DEFAULT_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0)
ALL_METRICS = ('PSNR', 'SSIM', 'L1_hole', 'LPIPS', 'FID', 'PIDS')


@dataclass
class BenchModel:
    """A model of the benchmark: ``name``, ``config``, ``checkpoint`` (an irkit checkpoint or a
    release irkit reads directly; ``None``: seeded random initial weights, reported as such) and
    extra ``cfg_options``."""
    name: str
    config: str
    checkpoint: Optional[str] = None
    cfg_options: Dict = field(default_factory=dict)


def available_metrics(requested: Sequence[str]) -> tuple:
    """``(metric configs, notes)``: the requested metrics whose weight files are present."""
    from irkit.fileio.weights import MissingWeightsError, find_weights
    cfgs: Dict[str, dict] = {}
    notes: List[str] = []
    for name in requested:
        if name not in ALL_METRICS:
            raise KeyError(f"unknown benchmark metric '{name}'; choose from {', '.join(ALL_METRICS)}")
        try:
            if name == 'LPIPS':
                from irkit.metrics.lpips import LPIPS_URL
                find_weights('lpips/v0.1/alex.pth', source=f'{LPIPS_URL}/alex.pth', config_key='model_path')
                find_weights('alexnet-owt-7be5be79.pth', config_key='backbone_path',
                             source='https://download.pytorch.org/models/alexnet-owt-7be5be79.pth')
            elif name in ('FID', 'PIDS'):
                from irkit.archs.common.inception import TORCHSCRIPT_FILE, TORCHSCRIPT_URL
                find_weights(TORCHSCRIPT_FILE, source=TORCHSCRIPT_URL, config_key='inception_path')
                if name == 'PIDS':
                    from irkit.metrics.fid import require_sklearn
                    require_sklearn()
        except (MissingWeightsError, ImportError) as e:
            notes.append(f'{name} not computed: {e}')
            continue
        cfgs[name] = {'PSNR': dict(type='PSNR'), 'SSIM': dict(type='SSIM'),
                      'L1_hole': dict(type='MAE', mask_region='hole'),
                      'LPIPS': dict(type='LPIPS', net='alex'),
                      'FID': dict(type='FID'), 'PIDS': dict(type='PIDS')}[name]
    return cfgs, notes


def _dataset(images: str, mask_set: str, size: int, count: int, meta_file: str) -> dict:
    pipeline = [dict(type='LoadImageFromFile', key='gt'),
                dict(type='Resize', keys='gt', size=size, interpolation='bicubic'),
                dict(type='CenterCrop', keys='gt', crop_size=size),
                dict(type='LoadMask', key='mask', white_is_hole=True),
                dict(type='PackInputs', keys=['gt', 'mask'])]
    return dict(type='InpaintingDataset', data_root=images, mask_root=mask_set, meta_file=meta_file,
                mask_match='index', pipeline=pipeline, test_mode=True)


def _image_list(images: str, n: int, out_dir: str) -> str:
    """A meta file of the first ``n`` images (sorted), so image i pairs with mask i."""
    from irkit.fileio.lmdb import scan_images
    found = sorted(scan_images(images, recursive=True))
    if len(found) < n:
        raise ValueError(f'{images} holds {len(found)} images; the mask set has {n} masks (give at least as '
                         'many images, or a smaller mask set / --count)')
    path = osp.join(out_dir, 'images.txt')
    with open(path, 'w') as f:
        for key, p in found[:n]:
            f.write(osp.relpath(p, images) + '\n')
    return path


def _random_checkpoint(model: BenchModel, out_dir: str) -> str:
    """Seeded random initial weights of the model, saved once (the 'random init' rows)."""
    import torch
    from mmengine.registry import DefaultScope

    from irkit.fileio.checkpoint import atomic_save
    from irkit.registry import MODELS
    from irkit.utils.config import load_config
    path = osp.join(out_dir, 'checkpoints', f'{model.name}_random_init.pth')
    if not osp.isfile(path):
        cfg = load_config(model.config, model.cfg_options or None)
        if DefaultScope.get_current_instance() is None:
            DefaultScope.get_instance(f'irkit_bench_{os.getpid()}', scope_name='irkit')
        with torch.random.fork_rng():
            torch.manual_seed(0)
            net = MODELS.build(cfg.model)
        atomic_save({'state_dict': net.state_dict(), 'meta': {'random_init_seed': 0}}, path)
    return path


def run_benchmark(models: Sequence[BenchModel], images: str, mask_sets: Sequence[str], out_dir: str,
                  metrics: Sequence[str] = ALL_METRICS, bins: Sequence[float] = DEFAULT_BINS,
                  metric_cfgs: Optional[Dict[str, dict]] = None, grid_samples: int = 4,
                  launcher: str = 'none') -> dict:
    """Score ``models`` on ``images`` x ``mask_sets`` (folders written by tools/make_mask_sets.py).

    ``metric_cfgs`` replaces the metric configs chosen by name (e.g. a FID with other
    weights). Returns the results dict written to ``results.json``.
    """
    from irkit.datasets.mask_sets import verify_mask_set
    from irkit.engine.tester import run_test
    from irkit.fileio.weights import sha256_file
    from irkit.utils.config import load_config
    os.makedirs(out_dir, exist_ok=True)
    if metric_cfgs is None:
        chosen, notes = available_metrics(metrics)
    else:
        chosen, notes = dict(metric_cfgs), []
    if not chosen:
        raise ValueError('no metric can be computed (see the notes above)')
    per_image = [v for k, v in chosen.items() if k in ('PSNR', 'SSIM', 'L1_hole', 'LPIPS')]
    evaluator = list(chosen.values())
    if per_image and bins:
        evaluator.append(dict(type='HoleRatioBinned', metrics=per_image, bins=list(bins)))
    sets = []
    for folder in mask_sets:
        manifest = verify_mask_set(folder)
        sets.append((folder, manifest))
    results = {'protocol': __doc__.split('The protocol: ', 1)[1].split('\n\n')[0].replace('\n', ' '),
               'images': osp.abspath(images), 'notes': notes, 'bins': list(bins), 'mask_sets': {}, 'models': {},
               'scores': {}}
    for folder, manifest in sets:
        results['mask_sets'][manifest['name']] = {k: manifest[k] for k in ('version', 'size', 'count', 'seed',
                                                                             'sha256', 'generator', 'params')}
    for m in models:
        ckpt = m.checkpoint or _random_checkpoint(m, out_dir)
        results['models'][m.name] = {'config': m.config, 'checkpoint': m.checkpoint or 'random init (seed 0)',
                                     'sha256': sha256_file(ckpt) if m.checkpoint else None,
                                     'cfg_options': m.cfg_options}
        for folder, manifest in sets:
            meta = _image_list(images, manifest['count'], out_dir)
            cfg = load_config(m.config, m.cfg_options or None)
            ds = _dataset(images, folder, manifest['size'], manifest['count'], meta)
            cfg.test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                                       collate_fn=dict(type='default_collate'), dataset=ds)
            cfg.test_evaluator = copy.deepcopy(evaluator)
            cfg.test_cfg = dict(type='TestLoop')
            cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or [] if h.get('type') != 'VisualizationHook']
            scores, rank = run_test(cfg, ckpt, work_dir=osp.join(out_dir, 'work', m.name, manifest['name']),
                                    launcher=launcher, experiment_name=f'bench_{m.name}_{manifest["name"]}',
                                    quiet=True)
            results['scores'].setdefault(m.name, {})[manifest['name']] = scores
    if launcher == 'none' or _rank() == 0:
        _write(results, out_dir)
        if grid_samples:
            _grid(models, images, sets[0], out_dir, grid_samples)
    return results


def _rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _fmt(v) -> str:
    return f'{v:.4f}' if isinstance(v, float) else str(v)


# column labels of table.md (the benchmark's MAE is taken over the hole pixels only)
LABELS = {'MAE': 'MAE (hole)'}


def _write(results: dict, out_dir: str) -> None:
    from irkit.fileio.checkpoint import atomic_write_bytes
    atomic_write_bytes(json.dumps(results, indent=1, sort_keys=True).encode(), osp.join(out_dir, 'results.json'))
    keys = sorted({k for per_set in results['scores'].values() for s in per_set.values() for k in s})
    main = [k for k in keys if '@' not in k]
    rows = [(model, mset, s) for model, per_set in results['scores'].items() for mset, s in per_set.items()]
    with open(osp.join(out_dir, 'results.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['model', 'mask_set'] + keys)
        for model, mset, s in rows:
            w.writerow([model, mset] + [s.get(k, '') for k in keys])
    lines = ['| model | checkpoint | mask set | ' + ' | '.join(LABELS.get(k, k) for k in main) + ' |',
             '|---|---|---|' + '---|' * len(main)]
    for model, mset, s in rows:
        ck = results['models'][model]['checkpoint']
        lines.append(f'| {model} | {osp.basename(str(ck))} | {mset} | ' + ' | '.join(_fmt(s.get(k, '')) for k in main)
                     + ' |')
    binned = sorted({k.split('@')[0] for k in keys if '@' in k and not k.startswith('count')})
    if binned:
        labels = sorted({k.split('@')[1] for k in keys if '@' in k}, key=lambda b: float(b.split('-')[0]))
        for metric in binned:
            lines += ['', f'{LABELS.get(metric, metric)} by hole ratio:', '', '| model | mask set | ' + ' | '.join(labels) + ' |',
                      '|---|---|' + '---|' * len(labels)]
            for model, mset, s in rows:
                lines.append(f'| {model} | {mset} | ' + ' | '.join(_fmt(s.get(f'{metric}@{b}', '')) for b in labels)
                             + ' |')
    if results['notes']:
        lines += ['', *[f'- {n}' for n in results['notes']]]
    with open(osp.join(out_dir, 'table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    _plot(results, binned, osp.join(out_dir, 'plot.png'))


def _plot(results: dict, binned: List[str], path: str) -> None:
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return  # the table and CSV carry the numbers; the plot needs matplotlib (.[leaderboard])
    if not binned:
        return
    fig, axes = plt.subplots(1, len(binned), figsize=(4.5 * len(binned), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], binned):
        for model, per_set in results['scores'].items():
            for mset, s in per_set.items():
                pts = sorted(((float(k.split('@')[1].split('-')[0]), v) for k, v in s.items()
                              if k.startswith(metric + '@')))
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='o', label=f'{model} ({mset})')
        ax.set_xlabel('hole ratio bin start (%)')
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _grid(models: Sequence[BenchModel], images: str, mask_set: tuple, out_dir: str, n: int) -> None:
    """The first ``n`` image/mask pairs: masked input | each model | ground truth."""
    import cv2
    import numpy as np
    import torch
    from mmengine.dataset import default_collate

    from irkit.apis import init_model
    from irkit.registry import DATASETS
    folder, manifest = mask_set
    meta = _image_list(images, manifest['count'], out_dir)
    ds = DATASETS.build(_dataset(images, folder, manifest['size'], manifest['count'], meta))
    n = min(n, len(ds))
    samples = [ds[i] for i in range(n)]
    batch = default_collate(samples)
    cols = [[(s['gt'] * s['mask']).numpy() for s in samples]]
    for m in models:
        ckpt = m.checkpoint or _random_checkpoint(m, out_dir)
        model = init_model(m.config, ckpt, cfg_options=m.cfg_options or None)
        with torch.no_grad():
            out = model.val_step(copy.deepcopy(batch))
        cols.append([o['pred'].numpy() for o in out])
    cols.append([s['gt'].numpy() for s in samples])
    rows = [np.concatenate([c[i] for c in cols], axis=2) for i in range(n)]
    grid = np.concatenate(rows, axis=1).transpose(1, 2, 0)
    cv2.imwrite(osp.join(out_dir, 'grid.png'), (grid[..., ::-1].clip(0, 1) * 255).round().astype(np.uint8))
    with open(osp.join(out_dir, 'grid.txt'), 'w') as f:
        f.write('columns: masked input | ' + ' | '.join(m.name for m in models) + ' | ground truth\n')
