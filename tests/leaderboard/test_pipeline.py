"""The whole leaderboard on tiny synthetic benchmark folders and checkpoints written here.

A tiny demo-family metafile (DnCNN from configs/demo_denoise.py, scored on a paired
folder) is written into tmp_path. The zero-weight residual DnCNN returns its input,
so the expected PSNR/SSIM are those of the (lq, gt) pairs, computed here with numpy
and skimage, independently of irkit's metrics.
"""
import csv
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml

from irkit.leaderboard.metafile import MetafileError, load_metafiles, parse_metafile
from irkit.leaderboard.report import REPRODUCED, judge, Row
from irkit.leaderboard.runner import Leaderboard, write_outputs
from tests.helpers import ROOT

TINY = {'model.generator.nc': 4, 'model.generator.nb': 2, 'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False}
PAIRED = {'test_dataloader.dataset': {
    '_delete_': True, 'type': 'PairedImageDataset', 'gt_root': '{data_root}/pairs/target',
    'lq_root': '{data_root}/pairs/input', 'test_mode': True,
    'pipeline': [{'type': 'LoadImageFromFile', 'key': 'gt'}, {'type': 'LoadImageFromFile', 'key': 'lq'},
                 {'type': 'PackInputs', 'keys': ['lq', 'gt']}]},
    'test_evaluator': [{'type': 'PSNR'}, {'type': 'SSIM'}]}


def _images(root):
    rng = np.random.default_rng(0)
    pairs = []
    for name in ('a', 'b'):
        gt = rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)
        lq = np.clip(gt.astype(int) + rng.integers(-12, 13, gt.shape), 0, 255).astype(np.uint8)
        for sub, img in (('target', gt), ('input', lq)):
            os.makedirs(root / 'pairs' / sub, exist_ok=True)
            cv2.imwrite(str(root / 'pairs' / sub / f'{name}.png'), img[..., ::-1])
        pairs.append((lq, gt))
    return pairs


def _expected(pairs):
    from skimage.metrics import structural_similarity
    psnr = np.mean([10 * np.log10(255.0 ** 2 / np.mean((lq.astype(np.float64) - gt) ** 2)) for lq, gt in pairs])
    ssim = np.mean([structural_similarity(lq.astype(np.float64), gt.astype(np.float64), data_range=255,
                                          gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          channel_axis=2) for lq, gt in pairs])
    return float(psnr), float(ssim)


def _dncnn_ckpt(path, scale=0.0, seed=0):
    from irkit.archs.dncnn import DnCNN
    net = DnCNN(in_nc=3, out_nc=3, nc=4, nb=2, use_bn=False, residual=True)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    torch.save({'state_dict': net.state_dict()}, path)


def _metafile(tmp, psnr, ssim):
    def model(name, weights, config='configs/demo_denoise.py'):
        return {'Name': name, 'Task': 'denoising', 'Config': config, 'Converter': 'irkit',
                'CfgOptions': TINY, 'Weights': {'File': weights, 'URL': 'https://example.org/' + weights,
                                                 'SHA256': None},
                'Results': [
                    {'Dataset': 'pairs', 'Metrics': {'PSNR': round(psnr + 0.03, 4), 'SSIM': round(ssim + 0.01, 4)},
                     'Protocol': 'RGB', 'Source': 'made up for the test', 'Verified': False,
                     'Eval': {'CfgOptions': PAIRED}},
                    {'Dataset': 'absent', 'Metrics': {'PSNR': 30.0}, 'Protocol': 'RGB', 'Source': 'test',
                     'Verified': True, 'Eval': {'CfgOptions': PAIRED}},
                    {'Dataset': 'mean', 'AverageOf': ['pairs'], 'Metrics': {'PSNR': round(psnr, 4)},
                     'Protocol': 'mean', 'Source': 'test', 'Verified': True}]}
    data = {'Collection': {'Name': 'Demo'},
            'Datasets': {'pairs': {'Folders': ['pairs/input', 'pairs/target'], 'Download': 'made by the test'},
                         'absent': {'Folders': ['absent/input'], 'Download': 'https://example.org/absent.zip'}},
            'Models': [model('demo_zero', 'zero.pth'), model('demo_zero2', 'zero2.pth'),
                       model('demo_nockpt', 'nowhere.pth'),
                       model('demo_noconfig', 'zero.pth', config='configs/not_a_config.py')]}
    d = tmp / 'metafiles'
    d.mkdir()
    (d / 'demo.yml').write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return str(d)


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('lb')
    data, ckpts = tmp / 'data', tmp / 'ckpts'
    pairs = _images(data)
    (ckpts / 'demo').mkdir(parents=True)
    _dncnn_ckpt(ckpts / 'demo' / 'zero.pth')
    _dncnn_ckpt(ckpts / 'zero2.pth')  # flat layout is accepted too
    psnr, ssim = _expected(pairs)
    return dict(tmp=tmp, data=str(data), ckpts=str(ckpts), metafiles=_metafile(tmp, psnr, ssim),
                psnr=psnr, ssim=ssim, cache=str(tmp / 'cache'))


def _board(w, **kw):
    return Leaderboard(w['data'], w['ckpts'], metafile_dir=w['metafiles'], cache_dir=w['cache'],
                       repo_root=ROOT, **kw)


def _by(rows, model, dataset, metric):
    return next(r for r in rows if (r.model, r.dataset, r.metric) == (model, dataset, metric))


def test_pipeline_verdicts_not_run_rows_cache_and_outputs(world):
    w = world
    lb = _board(w)
    rows = lb.run(progress=True)
    assert sorted(lb.evaluated) == ['demo_zero/pairs', 'demo_zero2/pairs']

    psnr = _by(rows, 'demo_zero', 'pairs', 'PSNR')
    assert psnr.measured == pytest.approx(w['psnr'], abs=1e-6)  # identity network: PSNR of the pairs
    assert psnr.delta == pytest.approx(-0.03, abs=1e-3) and psnr.verdict == REPRODUCED
    ssim = _by(rows, 'demo_zero', 'pairs', 'SSIM')
    assert ssim.measured == pytest.approx(w['ssim'], abs=1e-6)
    assert ssim.verdict == 'differs (worse)'  # 0.01 below the published value, tolerance 0.002
    avg = _by(rows, 'demo_zero', 'mean', 'PSNR')
    assert avg.status == 'average' and avg.measured == pytest.approx(w['psnr'], abs=1e-6)

    # "not run" rows, never dropped: missing dataset, checkpoint, config
    absent = _by(rows, 'demo_zero', 'absent', 'PSNR')
    assert absent.verdict == 'not run' and absent.measured is None
    assert os.path.join(w['data'], 'absent/input') in absent.reason
    assert 'https://example.org/absent.zip' in absent.reason
    nockpt = _by(rows, 'demo_nockpt', 'pairs', 'PSNR')
    assert 'checkpoint nowhere.pth missing' in nockpt.reason
    assert os.path.join(w['ckpts'], 'demo', 'nowhere.pth') in nockpt.reason
    assert 'https://example.org/nowhere.pth' in nockpt.reason
    assert 'configs/not_a_config.py' in _by(rows, 'demo_noconfig', 'pairs', 'PSNR').reason
    assert 'needs pairs' in _by(rows, 'demo_nockpt', 'mean', 'PSNR').reason
    assert len(rows) == 4 * 4  # 4 models x (pairs PSNR+SSIM, absent, mean)

    # outputs: markdown, CSV, JSON, PNG
    paths = write_outputs(rows, str(w['tmp'] / 'out' / 'board.md'), header='test')
    md = open(paths['markdown']).read()
    assert '| demo_zero | pairs |' in md and 'not run: dataset absent missing' in md
    assert 'What to download and where to put it' in md and 'https://example.org/nowhere.pth' in md
    with open(paths['csv']) as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows)
    row = next(r for r in table if r['model'] == 'demo_zero' and r['dataset'] == 'pairs' and r['metric'] == 'PSNR')
    assert float(row['measured']) == pytest.approx(w['psnr'], abs=1e-6) and row['verdict'] == REPRODUCED
    js = json.load(open(paths['json']))
    assert len(js['rows']) == len(rows)
    png = open(paths['plot'], 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 2000

    # second run: everything from the cache
    lb2 = _board(w)
    rows2 = lb2.run(progress=False)
    assert lb2.evaluated == []
    assert _by(rows2, 'demo_zero', 'pairs', 'PSNR').status == 'cached'
    assert _by(rows2, 'demo_zero', 'pairs', 'PSNR').measured == psnr.measured

    # a changed checkpoint re-runs only that model, and its numbers change
    _dncnn_ckpt(os.path.join(w['ckpts'], 'zero2.pth'), scale=0.3, seed=1)
    lb3 = _board(w)
    rows3 = lb3.run(progress=False)
    assert lb3.evaluated == ['demo_zero2/pairs']
    assert _by(rows3, 'demo_zero2', 'pairs', 'PSNR').measured != pytest.approx(w['psnr'], abs=1e-3)
    assert _by(rows3, 'demo_zero', 'pairs', 'PSNR').status == 'cached'

    # filters: one model, one dataset (served from the cache)
    lb4 = _board(w, models=['demo_zero'], datasets=['pairs'])
    rows4 = lb4.run(progress=False)
    assert lb4.evaluated == []
    assert {(r.model, r.dataset) for r in rows4} == {('demo_zero', 'pairs'), ('demo_zero', 'mean')}


def test_sha256_mismatch_is_a_not_run_row(world, tmp_path):
    w = world
    meta = tmp_path / 'm'
    shutil.copytree(w['metafiles'], meta)
    text = (meta / 'demo.yml').read_text().replace('SHA256: null', 'SHA256: ' + 'a' * 64, 1)
    (meta / 'demo.yml').write_text(text)
    lb = Leaderboard(w['data'], w['ckpts'], metafile_dir=str(meta), models=['demo_zero'],
                     cache_dir=str(tmp_path / 'c'), repo_root=ROOT)
    rows = lb.run(progress=False)
    assert lb.evaluated == []
    assert 'SHA-256' in _by(rows, 'demo_zero', 'pairs', 'PSNR').reason


def test_judge_tolerances_and_direction():
    r = judge(Row('m', 'x', 'd', 'PSNR', 30.0), 30.05, 0.05)
    assert r.verdict == REPRODUCED and r.delta == pytest.approx(0.05)
    assert judge(Row('m', 'x', 'd', 'PSNR', 30.0), 30.06, 0.05).verdict == 'differs (better)'
    assert judge(Row('m', 'x', 'd', 'FID', 2.0), 2.5, 0.1).verdict == 'differs (worse)'  # lower is better
    assert judge(Row('m', 'x', 'd', 'FID', 2.0), 1.5, 0.1).verdict == 'differs (better)'


def test_metafile_validation_names_the_field():
    good = {'Collection': {'Name': 'X'}, 'Datasets': {'d': {'Folders': ['d'], 'Download': 'u'}},
            'Models': [{'Name': 'm', 'Config': 'c.py', 'Converter': 'irkit',
                        'Weights': {'File': 'f', 'URL': 'u', 'SHA256': None},
                        'Results': [{'Dataset': 'd', 'Metrics': {'PSNR': 1.0}, 'Protocol': 'p', 'Source': 's',
                                     'Verified': False, 'Eval': {'CfgOptions': {}}}]}]}
    parse_metafile(good)
    import copy
    cases = [
        (('Models', 0, 'Converter'), 'matlab', 'Converter'),
        (('Models', 0, 'Weights', 'SHA256'), 'abc', 'SHA256'),
        (('Models', 0, 'Results', 0, 'Metrics', 'PSNR'), 'high', 'Metrics.PSNR'),
        (('Models', 0, 'Results', 0, 'Dataset'), 'nope', "'nope' is not described"),
        (('Models', 0, 'Resluts'), [], "did you mean 'Results'"),
        (('Datasets', 'd', 'Folders'), ['/abs'], 'Folders'),
    ]
    for path, value, msg in cases:
        bad = copy.deepcopy(good)
        node = bad
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        with pytest.raises(MetafileError, match=msg):
            parse_metafile(bad, 'x.yml')


def test_repository_metafiles_cover_the_zoo():
    mfs = {mf.method: mf for mf in load_metafiles(os.path.join(ROOT, 'configs', 'metafiles'))}
    assert {'MPRNet', 'Restormer', 'PromptIR', 'MAT', 'DA-CLIP', 'LaMa', 'AOT-GAN', 'Co-Mod-GAN', 'GLCIC',
            'DeepFill v1', 'DeepFill v2', 'PConv'} <= set(mfs)
    files = {m.weights.file for mf in mfs.values() for m in mf.models}
    # every released model of the four methods (their official release pages and READMEs)
    assert {'model_deblurring.pth', 'model_denoising.pth', 'model_deraining.pth'} <= files
    restormer = {'deraining.pth', 'motion_deblurring.pth', 'single_image_defocus_deblurring.pth',
                 'dual_pixel_defocus_deblurring.pth', 'real_denoising.pth'}
    restormer |= {f'gaussian_{c}_denoising_{v}.pth' for c in ('color', 'gray')
                  for v in ('blind', 'sigma15', 'sigma25', 'sigma50')}
    assert restormer <= files
    assert {'model.ckpt', 'Places_512.pkl', 'Places_512_FullData.pkl', 'CelebA-HQ_512.pkl',
            'CelebA-HQ_256.pkl', 'FFHQ_512.pkl', 'universal-ir.pth', 'daclip_ViT-B-32.pt'} <= files
    # inpainting releases: LaMa's experiment folders, AOT-GAN's generators and MMagic's AOT-GAN, Co-Mod-GAN's port
    assert {'big-lama/models/best.ckpt', 'big-lama-with-discr/models/best.ckpt',
            'lama-places/lama-fourier/models/best.ckpt', 'lama-celeba-hq/lama-fourier/models/best.ckpt',
            'places2/G0000000.pt', 'celebahq/G0000000.pt', 'AOT-GAN_512x512_4x12_places_20220509-6641441b.pth',
            'co-mod-gan-places2-050000_net_G_ema.pth'} <= files
    big = next(m for m in mfs['LaMa'].models if m.name == 'lama_big_places')
    assert {r.dataset: r.metrics for r in big.results} == {
        'Places365 small masks': {'FID': 0.99, 'P-IDS': 22.79, 'U-IDS': 40.58},   # MAT README, LaMa-Big
        'Places365 large masks': {'FID': 2.97, 'P-IDS': 13.09, 'U-IDS': 32.39}}
    aot = {m.name: m for m in mfs['AOT-GAN'].models}
    assert next(r for r in aot['aotgan_places512'].results if r.dataset == 'Places365 PConv masks 50-60%').metrics == \
        {'MAE': 7.07, 'PSNR': 19.01, 'SSIM': 0.682}                               # MMagic README, paper column
    assert next(r for r in aot['aotgan_places512_mmagic'].results
                if r.dataset == 'Places365 PConv masks 50-60%').metrics == {'MAE': 10.16, 'PSNR': 20.05, 'SSIM': 0.739}
    assert {m.converter for m in aot.values()} == {'aotgan', 'mmagic_aotgan'}
    for mf in mfs.values():
        for m in mf.models:
            for r in m.results:
                assert r.source and r.protocol
    gopro = next(m for m in mfs['MPRNet'].models if m.weights.file == 'model_deblurring.pth')
    assert next(r for r in gopro.results if r.dataset == 'GoPro').metrics == {'PSNR': 32.66, 'SSIM': 0.959}
    pi = mfs['PromptIR'].models[0]
    assert next(r for r in pi.results if r.dataset == 'BSD68 σ25').metrics == {'PSNR': 31.31, 'SSIM': 0.888}
    for mf in mfs.values():  # every config named exists
        for m in mf.models:
            assert os.path.isfile(os.path.join(ROOT, m.config)), m.config
