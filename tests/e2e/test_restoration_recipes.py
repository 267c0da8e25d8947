"""Every MPRNet / Restormer / PromptIR recipe trains and tests end to end on tiny data.

For each config, tiny synthetic images are written in the folder layout of the real
data set (names, sub-folders, file types and bit depths as the official releases ship
them), the config's ``data/...`` roots are pointed there, and only sizes are shrunk
through ``--cfg-options``: the model width/depth, 2 iterations, batch 2, no workers,
32 px crops and a 2-stage progressive-patch schedule. Losses, optimiser, schedulers,
hooks, pipelines and evaluators stay the recipe's. ``tools/train.py`` then trains (with
a validation at the end) and ``tools/test.py CONFIG WORK_DIR --out`` prints the metrics
table and writes the metrics JSON.
"""
import json
import math
import os
import re
import sys

import cv2
import numpy as np
import pytest
from mmengine import Config

from tests.helpers import ROOT, run_tool

H, W = 36, 44  # not a multiple of 8 or 16: test-time padding / cropping is exercised
CROP = 32

MPRNET_TINY = ['model.generator.n_feat=8', 'model.generator.scale_unetfeats=4',
               'model.generator.scale_orsnetfeats=4', 'model.generator.num_cab=1']
RESTORMER_TINY = ['model.generator.dim=8', 'model.generator.num_blocks=[1,1,1,1]',
                  'model.generator.num_refinement_blocks=1', 'model.generator.heads=[1,1,1,1]']
# PromptIR's prompt blocks hard-code the 48-channel widths: keep dim, cut the depth
PROMPTIR_TINY = ['model.generator.num_blocks=[1,1,1,1]', 'model.generator.num_refinement_blocks=1']


def _write(path, channels=3, bits=8, seed=0, like=None):
    """A smooth random image (``like``: a degraded copy of that array)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if like is None:
        base = cv2.resize(rng.random((5, 6, channels)).astype(np.float32), (W, H))
        img = base.reshape(H, W, channels)
    else:
        img = np.clip(like + rng.normal(0, 0.08, like.shape), 0, 1).astype(np.float32)
    peak = 65535 if bits == 16 else 255
    data = np.round(img * peak).astype(np.uint16 if bits == 16 else np.uint8)
    assert cv2.imwrite(str(path), data if channels > 1 else data[..., 0]), path
    return img


def _pairs(data, lq_dir, gt_dir, names, lq_name=None, gt_name=None, bits=8, seed=0):
    """GT images and degraded LQ copies; ``lq_name``/``gt_name`` map the id to file names."""
    for i, n in enumerate(names):
        gt = _write(data / gt_dir / (gt_name(n) if gt_name else n), bits=bits, seed=seed + i)
        _write(data / lq_dir / (lq_name(n) if lq_name else n), bits=bits, seed=seed + 100 + i, like=gt)


def _clean(data, folder, names, channels=3):
    for i, n in enumerate(names):
        _write(data / folder / n, channels=channels, seed=i)


GOPRO = ['GOPR0372_07_00-000047.png', 'GOPR0384_11_01-001234.png']


def _gopro(data, crops):
    sfx = '_crops' if crops else ''  # Restormer trains on generate_patches_gopro.py's crops
    _pairs(data, f'GoPro/train/input{sfx}', f'GoPro/train/target{sfx}', GOPRO)
    _pairs(data, 'GoPro/test/input', 'GoPro/test/target', GOPRO, seed=7)


def _rain13k(data):
    _pairs(data, 'Rain13K/train/input', 'Rain13K/train/target', ['1.png', '10.png'])
    for i, s in enumerate(('Test100', 'Rain100H', 'Rain100L', 'Test2800', 'Test1200')):
        _pairs(data, f'Rain13K/test/{s}/input', f'Rain13K/test/{s}/target', ['1.png', '2.png'],
               seed=3 + 10 * i)


def _sidd(data, crops):
    sfx = '_crops' if crops else ''  # MPRNet: generate_patches_SIDD.py output (renamed target/)
    _pairs(data, f'SIDD/train/input{sfx}', f'SIDD/train/target{sfx}', ['0_0.png', '0_1.png'])
    _pairs(data, 'SIDD/val/input', 'SIDD/val/target', ['0000_00.png', '0000_01.png'], seed=5)


def _dpdd(data, dual):
    # 16-bit PNGs everywhere; crops named <image>-<patch>.png by generate_patches_dpdd.py
    for split, sfx, names in (('train', '_crops', ['1P0A1059-0.png', '1P0A1071-3.png']),
                              ('test', '', ['1P0A1059.png', '1P0A1071.png'])):
        for i, n in enumerate(names):
            gt = _write(data / f'DPDD/{split}/target{sfx}' / n, bits=16, seed=i)
            if dual:  # left/right sub-aperture views
                _write(data / f'DPDD/{split}/inputL{sfx}' / n, bits=16, seed=20 + i, like=gt)
                _write(data / f'DPDD/{split}/inputR{sfx}' / n, bits=16, seed=40 + i, like=gt)
            else:  # the centre view
                _write(data / f'DPDD/{split}/inputC{sfx}' / n, bits=16, seed=60 + i, like=gt)


def _gaussian(data, gray):
    _clean(data, 'DFWB', ['0001_s001.png', '0002_s004.png'])  # colour patches, read as grey too
    if gray:
        _clean(data, 'BSD68', ['test001.png', 'test002.png'], channels=1)
    else:
        _clean(data, 'CBSD68', ['0000.png', '0001.png'])


def _promptir(data):
    d = data / 'PromptIR'
    _clean(d, 'Train/Denoise', ['2092.jpg', '00001.bmp'])  # BSD400 jpg + WED bmp
    _pairs(d, 'Train/Derain/rainy', 'Train/Derain/gt', ['1.png', '2.png'],
           lq_name=lambda n: f'rain-{n}', gt_name=lambda n: f'norain-{n}')
    # RESIDE OTS: several hazy renderings synthetic/partN/XXXX_A_B.jpg per clear original/XXXX.jpg
    gt = _write(d / 'Train/Dehaze/original/0001.jpg', seed=1)
    gt2 = _write(d / 'Train/Dehaze/original/0025.jpg', seed=2)
    _write(d / 'Train/Dehaze/synthetic/part1/0001_0.8_0.2.jpg', like=gt, seed=3)
    _write(d / 'Train/Dehaze/synthetic/part1/0001_1_0.16.jpg', like=gt, seed=4)
    _write(d / 'Train/Dehaze/synthetic/part2/0025_0.9_0.12.jpg', like=gt2, seed=5)
    _clean(d, 'test/denoise/bsd68', ['3096.png', '12084.png'])
    _pairs(d, 'test/derain/Rain100L/input', 'test/derain/Rain100L/target', ['rain-001.png', 'rain-002.png'])
    # SOTS outdoor: hazy 0001_0.8_0.2.jpg <-> clear 0001.png
    gt = _write(d / 'test/dehaze/target/0001.png', seed=6)
    _write(d / 'test/dehaze/input/0001_0.8_0.2.jpg', like=gt, seed=7)


# config -> (layout writer, model shrink, evaluator metric names)
RGB = ['PSNR', 'SSIM']
RECIPES = {
    'mprnet_gopro': (lambda d: _gopro(d, False), MPRNET_TINY, RGB),
    'mprnet_rain13k': (_rain13k, MPRNET_TINY, RGB),
    'mprnet_sidd': (lambda d: _sidd(d, False), MPRNET_TINY, RGB),
    'restormer_rain13k': (_rain13k, RESTORMER_TINY, RGB),
    'restormer_gopro': (lambda d: _gopro(d, True), RESTORMER_TINY, RGB),
    'restormer_dpdd_single': (lambda d: _dpdd(d, False), RESTORMER_TINY, RGB + ['MAE']),
    'restormer_dpdd_dual': (lambda d: _dpdd(d, True), RESTORMER_TINY, RGB + ['MAE']),
    'restormer_sidd': (lambda d: _sidd(d, True), RESTORMER_TINY, RGB),
    'restormer_gaussian_color': (lambda d: _gaussian(d, False), RESTORMER_TINY, RGB),
    'restormer_gaussian_gray': (lambda d: _gaussian(d, True), RESTORMER_TINY, RGB),
    'promptir_allinone': (_promptir, PROMPTIR_TINY, RGB),
}


def _walk(node, key):
    """Yield (dotted key, value) of every leaf of a config dict/list."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        sub = f'{key}.{k}'
        if isinstance(v, (dict, list)):
            yield from _walk(v, sub)
        else:
            yield sub, v


def _options(cfg, data, tiny):
    """--cfg-options: data roots -> ``data``, the model, loaders and schedule shrunk."""
    opts = list(tiny)
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    # the loaders and the named test sets (`test_sets`, for tools/test.py --test-set)
    for top in loaders + (('test_sets',) if cfg.get('test_sets') else ()):
        for key, value in _walk(cfg[top].to_dict(), top):
            if isinstance(value, str) and value.startswith('data/'):
                opts.append(f'{key}={data / value[5:]}')
            elif key.endswith('.crop_size') or key.endswith('.gt_patch_size'):
                opts.append(f'{key}={CROP}')
    for loader in loaders:
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    opts += ['train_dataloader.batch_size=2', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
             'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']
    for i, hook in enumerate(cfg.custom_hooks):
        if hook.type == 'ProgressivePatchHook':  # iteration 1: 16 px x 2, iteration 2: 32 px x 1
            opts += [f'custom_hooks.{i}.iters=[1,1]', f'custom_hooks.{i}.gt_sizes=[16,{CROP}]',
                     f'custom_hooks.{i}.mini_batch_sizes=[2,1]']
        elif hook.type == 'MixUpHook' and hook.get('start_iter', 0) > 1:
            opts.append(f'custom_hooks.{i}.start_iter=1')  # MPRNet mixes after epoch 5: mix iteration 2
    return opts


def _driver(jobs_file):
    """Run every job's tools/train.py then tools/test.py in this one process (saves ~5 s of
    imports per tool run); each run's stdout/stderr go to its own log, failures are recorded."""
    import contextlib
    import runpy
    import traceback
    jobs = json.loads(open(jobs_file).read())
    for phase in ('train', 'test', 'test_sets'):
        for job in jobs:
            log = job.get(f'{phase}_log')
            if not log or phase != 'train' and not os.path.isfile(job['train_log'] + '.ok'):
                continue
            sys.argv = job[f'{phase}_argv']
            tool = 'train' if phase == 'train' else 'test'
            with open(log, 'w') as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                try:
                    runpy.run_path(os.path.join(ROOT, 'tools', f'{tool}.py'), run_name='__main__')
                    ok = True
                except BaseException:  # noqa: B902 (SystemExit included: record and go on)
                    traceback.print_exc()
                    ok = False
            if ok:
                open(log + '.ok', 'w').close()


@pytest.fixture(scope='module')
def smoke_runs(request, tmp_path_factory):
    """Write the data of every selected recipe, then train and test them all in one subprocess."""
    items = request.session.items
    selected = {item.callspec.params['name'] for item in items
                if getattr(item, 'originalname', '') == 'test_recipe_trains_and_tests_on_tiny_data'}
    selected |= {item.callspec.params['name'] for item in items
                 if getattr(item, 'originalname', '') == 'test_tools_test_named_test_sets'}
    base = tmp_path_factory.mktemp('recipes')
    jobs = {}
    for name in sorted(selected):
        layout, tiny, _ = RECIPES[name]
        config = os.path.join(ROOT, 'configs', f'{name}.py')
        cfg = Config.fromfile(config)
        tmp = base / name
        data = tmp / 'data'
        layout(data)
        opts = _options(cfg, data, tiny)
        wd = tmp / 'wd'
        jobs[name] = dict(
            name=name, data=str(data), opts=opts,
            same_val_test=cfg.val_dataloader.dataset == cfg.test_dataloader.dataset,
            wd=str(wd), out=str(tmp / 'metrics.json'),
            train_log=str(tmp / 'train.log'), test_log=str(tmp / 'test.log'),
            train_argv=['tools/train.py', config, '--work-dir', str(wd), '--cfg-options', *opts,
                        f'experiment_name={name}_smoke_train'],
            test_argv=['tools/test.py', config, str(wd), '--work-dir', str(wd), '--out',
                       str(tmp / 'metrics.json'), '--save-images', str(tmp / 'restored'),
                       '--cfg-options', *opts, f'experiment_name={name}_smoke_test'])
        if name in TEST_SETS:  # named test sets in one tools/test.py run
            jobs[name].update(
                test_sets_log=str(tmp / 'test_sets.log'), test_sets_out=str(tmp / 'test_sets.json'),
                test_sets_argv=['tools/test.py', config, str(wd), '--work-dir', str(wd), '--out',
                                str(tmp / 'test_sets.json'), '--test-set', *TEST_SETS[name][0],
                                '--cfg-options', *opts, f'experiment_name={name}_smoke'])
    jobs_file = base / 'jobs.json'
    jobs_file.write_text(json.dumps(list(jobs.values())))
    run_tool([sys.executable, os.path.abspath(__file__), str(jobs_file)], env={'IRKIT_DEBUG': '1'},
             timeout=900)
    return jobs


# recipe -> (--test-set arguments, the sets scored, the config's default test set)
TEST_SETS = {'restormer_rain13k': (['Rain100H', 'test100'], ['Rain100H', 'test100'], 'test100'),
             'promptir_allinone': (['all'], ['bsd68', 'rain100l', 'sots'], 'bsd68')}


def _y_psnr(job):
    """Mean PSNR of MATLAB's rgb2ycbcr Y (rounded to uint8) of the restored PNGs vs Test100."""
    def y(path):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR).astype(np.float64)
        return np.round(16 + bgr @ np.array([24.966, 128.553, 65.481]) / 255)

    values = []
    for n in ('1', '2'):
        diff = y(os.path.join(job['wd'], '..', 'restored', f'{n}.png')) - y(
            os.path.join(job['data'], 'Rain13K', 'test', 'Test100', 'target', f'{n}.png'))
        values.append(10 * np.log10(255 ** 2 / np.mean(diff ** 2)))
    return float(np.mean(values))


def _read(path):
    return open(path).read() if os.path.isfile(path) else ''


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_recipe_trains_and_tests_on_tiny_data(name, smoke_runs):
    job = smoke_runs[name]
    data = job['data']
    # every root the recipe reads exists in the layout written for it
    roots = [o.split('=', 1)[1] for o in job['opts'] if o.split('=', 1)[1].startswith(data)]
    assert roots and all(os.path.isdir(r) for r in roots), [r for r in roots if not os.path.isdir(r)]

    log = _read(job['train_log'])
    assert os.path.isfile(job['train_log'] + '.ok'), f'tools/train.py failed:\n{log[-6000:]}'
    assert 'Iter(train) [2/2]' in log
    assert os.path.isfile(os.path.join(job['wd'], 'iter_2.pth'))
    assert 'Iter(val) [' in log  # the validation at iteration 2 ran

    table = _read(job['test_log'])
    assert os.path.isfile(job['test_log'] + '.ok'), f'tools/test.py failed:\n{table[-6000:]}'
    metrics = json.loads(open(job['out']).read())['metrics']
    assert sorted(metrics) == sorted(RECIPES[name][2])
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    assert 'metric' in table and all(f'\n{m} ' in table for m in metrics), table[-2000:]
    if 'rain13k' in name:  # scored as evaluate_PSNR_SSIM.m: rounded Y of the saved uint8 images
        assert metrics['PSNR'] == pytest.approx(_y_psnr(job), abs=1e-6)
    if job['same_val_test']:  # the reloaded checkpoint scores what the run validated at iteration 2
        val = re.findall(r'Iter\(val\) \[2/2\]\s+(.*)', log)[-1]  # the metrics line
        for m, v in metrics.items():
            logged = float(re.search(rf'\b{m}: ([-\d.]+)', val).group(1))
            assert logged == pytest.approx(v, abs=1e-4), (m, val)


@pytest.mark.parametrize('name', sorted(TEST_SETS))
def test_tools_test_named_test_sets(name, smoke_runs):
    """tools/test.py --test-set scores the named sets one after the other, prefixed
    (PromptIR: one score per task), plus their mean."""
    _, sets, default = TEST_SETS[name]
    job = smoke_runs[name]
    log = _read(job['test_sets_log'])
    assert os.path.isfile(job['test_sets_log'] + '.ok'), f'tools/test.py --test-set failed:\n{log[-6000:]}'
    result = json.loads(open(job['test_sets_out']).read())
    metrics = result['metrics']
    assert result['test_sets'] == sets
    assert sorted(metrics) == sorted(f'{s}/{m}' for s in sets + ['mean'] for m in RGB)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    plain = json.loads(open(job['out']).read())['metrics']
    for m in RGB:
        # the config's default test set gives the same numbers as the plain run
        assert metrics[f'{default}/{m}'] == pytest.approx(plain[m], abs=1e-9)
        assert metrics[f'mean/{m}'] == pytest.approx(np.mean([metrics[f'{s}/{m}'] for s in sets]))
    others = [s for s in sets if s != default]
    assert all(metrics[f'{s}/PSNR'] != pytest.approx(plain['PSNR'], abs=1e-3) for s in others)
    assert all(f'\n{s}/PSNR ' in log for s in sets) and '\nmean/SSIM ' in log


if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    _driver(sys.argv[1])
