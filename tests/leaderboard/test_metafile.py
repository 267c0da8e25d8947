"""The repository's metafiles: every row's evaluation config validates, reads only the folders
its dataset declares, and rows of one benchmark are scored the same way in every metafile.

The inpainting rows are also built on tiny data written here (images, MAT-style masks and
irkit mask sets in the declared folders): each sample's mask must be a file of the declared
mask folder, read with that folder's polarity.
"""
import json
import os
import re
from collections import defaultdict

import cv2
import numpy as np
import pytest

from irkit.leaderboard.metafile import MetafileError, load_metafiles, parse_metafile, substitute
from irkit.leaderboard.runner import benchmark_key
from tests.helpers import ROOT

METAFILES = load_metafiles(os.path.join(ROOT, 'configs', 'metafiles'))
INPAINTING = {'MAT', 'LaMa', 'AOT-GAN', 'Co-Mod-GAN', 'DeepFill v1', 'DeepFill v2', 'GLCIC', 'PConv'}


def _options(model, res=None, data_root='DATA'):
    """The options the leaderboard applies (model's, then the row's), '{data_root}' filled in."""
    opts = substitute(dict(model.cfg_options), data_root=data_root, checkpoints='CKPTS')
    if res is not None:
        opts.update(substitute(dict(res.cfg_options or {}), data_root=data_root, checkpoints='CKPTS'))
    return opts


def _scored_rows(methods=None):
    for mf in METAFILES:
        if methods is not None and mf.method not in methods:
            continue
        for m in mf.models:
            for r in m.results:
                if r.cfg_options is not None:
                    yield mf, m, r


@pytest.mark.parametrize('mf', METAFILES, ids=lambda mf: os.path.basename(mf.path))
def test_every_row_config_validates(mf):
    from irkit.utils.config import load_config
    for m in mf.models:
        assert os.path.isfile(os.path.join(ROOT, m.config)), f'{mf.path}: {m.name}: no {m.config}'
        load_config(os.path.join(ROOT, m.config), _options(m))
        for r in m.results:
            assert r.protocol.strip() and r.source.strip(), (m.name, r.dataset)
            if r.cfg_options is not None:
                load_config(os.path.join(ROOT, m.config), _options(m, r))


def _data_paths(value):
    if isinstance(value, str):
        yield from re.findall(r'\{data_root\}/([^\s\'",]+)', value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _data_paths(v)
    elif isinstance(value, list):
        for v in value:
            yield from _data_paths(v)


def test_evaluations_read_only_declared_folders():
    """The runner checks the declared folders before it runs; a path an evaluation reads that is
    not declared would fail late and would be missing from the download list."""
    for mf, m, r in _scored_rows():
        folders = mf.datasets[r.dataset].folders
        for p in _data_paths({**m.cfg_options, **r.cfg_options}):
            assert any(p == f or p.startswith(f + '/') for f in folders), (mf.path, m.name, r.dataset, p, folders)


def _scoring(mf, m, r):
    """What must be equal for numbers of one benchmark to be comparable: the test data
    (dataset with its pipeline) and the metrics."""
    from irkit.utils.config import load_config
    cfg = load_config(os.path.join(ROOT, m.config), _options(m, r))
    ds = cfg.test_dataloader.dataset.to_dict()
    if ds.get('mask_root') is None:  # then the dataset reads no mask files: these two are unused
        ds.pop('mask_match', None)
        ds.pop('mask_white_is_hole', None)
    # values, not containers: a metafile's YAML list is the config's tuple
    return json.loads(json.dumps([ds, [dict(e) for e in cfg.test_evaluator]]))


def test_inpainting_benchmarks_are_scored_alike_in_every_metafile():
    groups = defaultdict(list)
    for mf, m, r in _scored_rows(INPAINTING):
        groups[benchmark_key(mf, r)].append((mf, m, r))
    shared = {k: v for k, v in groups.items() if len({mf.method for mf, _, _ in v}) > 1}
    # the benchmarks MAT, Co-Mod-GAN, LaMa and AOT-GAN share (published numbers of several methods)
    assert {k.split(' [')[0] for k in shared} >= {'Places365 small masks', 'Places365 large masks',
                                                  'Places365 LaMa narrow masks', 'Places365 LaMa wide masks',
                                                  'CelebA-HQ LaMa narrow masks', 'CelebA-HQ LaMa wide masks'}
    for key, rows in shared.items():
        ref_mf, ref_m, ref_r = rows[0]
        ref = _scoring(ref_mf, ref_m, ref_r)
        for mf, m, r in rows[1:]:
            got = _scoring(mf, m, r)
            assert got[0] == ref[0], f'{key}: {m.name} reads other test data than {ref_m.name}'
            assert got[1] == ref[1], f'{key}: {m.name} is scored with {got[1]}, {ref_m.name} with {ref[1]}'


def test_same_dataset_name_means_same_folders_within_inpainting():
    seen = {}
    for mf in METAFILES:
        if mf.method not in INPAINTING:
            continue
        for name, spec in mf.datasets.items():
            if name in seen:
                assert spec.folders == seen[name][1], (name, mf.path, seen[name][0])
            else:
                seen[name] = (mf.path, spec.folders)


# --------------------------------------------------------------- tiny data
def _write_images(folder, size, n=2):
    rng = np.random.default_rng(len(folder))
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        cv2.imwrite(os.path.join(folder, f'img_{i:03d}.png'), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def _write_mat_masks(folder, size, n=2):
    """MAT's released evaluation masks: white = known, black = hole, paired by sorted index."""
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        m = np.full((size, size), 255, np.uint8)
        m[10 + 20 * i:200 + 20 * i, 30:300] = 0
        cv2.imwrite(os.path.join(folder, f'{i:06d}.png'), m)


def _known_maps(folder, white_is_hole):
    maps = {}
    for f in sorted(os.listdir(folder)):
        if f.endswith('.png'):
            white = cv2.imread(os.path.join(folder, f), cv2.IMREAD_GRAYSCALE) > 127
            maps[f] = (~white if white_is_hole else white).astype(np.float32)
    return maps


@pytest.fixture(scope='module')
def tiny_data_root(tmp_path_factory):
    """Every folder the inpainting rows declare, with tiny content of the right kind."""
    from irkit.datasets.mask_sets import MASK_SETS, generate_mask_set
    root = tmp_path_factory.mktemp('inpainting_data')
    kinds = {}
    for mf, m, r in _scored_rows(INPAINTING):
        for f in mf.datasets[r.dataset].folders:
            path = os.path.join(root, f)
            if f in kinds:
                continue
            size = 256 if '256' in f else 512
            last = os.path.basename(f)
            if last in MASK_SETS:
                generate_mask_set(last, path, count=3, size=size)
                kinds[f] = 'set'
            elif 'masks_val' in last:
                _write_mat_masks(path, size)
                kinds[f] = 'mat'
            else:
                _write_images(path, size)
                kinds[f] = 'images'
    return str(root), kinds


def test_inpainting_rows_read_their_declared_masks(tiny_data_root):
    from irkit.registry import DATASETS
    from irkit.utils.config import load_config
    root, kinds = tiny_data_root
    checked = 0
    for mf, m, r in _scored_rows(INPAINTING):
        cfg = load_config(os.path.join(ROOT, m.config), _options(m, r, data_root=root))
        ds = DATASETS.build(cfg.test_dataloader.dataset)
        folders = mf.datasets[r.dataset].folders
        mask_dirs = [f for f in folders if kinds[f] != 'images']
        assert len(mask_dirs) <= 1, (m.name, r.dataset, folders)
        expected = _known_maps(os.path.join(root, mask_dirs[0]), white_is_hole=kinds[mask_dirs[0]] == 'set') \
            if mask_dirs else None  # no mask folder: the config draws the masks itself
        for i in range(len(ds)):
            sample = ds[i]
            mask = sample['mask'].numpy()[0]
            assert mask.shape == sample['gt'].shape[1:], (m.name, r.dataset)
            if expected is not None:
                assert os.path.dirname(sample['mask_path']) == os.path.join(root, mask_dirs[0]), (m.name, r.dataset)
                want = expected[os.path.basename(sample['mask_path'])]
                assert mask.shape == want.shape and np.array_equal(mask, want), (m.name, r.dataset, i)
            assert 0 < (mask == 0).mean() < 1
            assert np.array_equal(ds[i]['mask'].numpy()[0], mask)  # fixed per image
        checked += 1
    assert checked >= 30


# ------------------------------------------------------------- format rules
def _row(**ev):
    return {'Collection': {'Name': 'X'}, 'Datasets': {'d': {'Folders': ['d'], 'Download': 'u'}},
            'Models': [{'Name': 'm', 'Config': 'c.py', 'Converter': 'irkit',
                        'Weights': {'File': 'f', 'URL': 'u', 'SHA256': None},
                        'Results': [{'Dataset': 'segm', 'Metrics': {'FID': 5.0}, 'Protocol': 'p', 'Source': 's',
                                     'Verified': True, 'Eval': ev}]}]}


def test_unavailable_rows_parse_without_folders_and_need_a_reason():
    mf = parse_metafile(_row(Unavailable='needs a segmentation model'))
    r = mf.models[0].results[0]
    assert r.unavailable == 'needs a segmentation model' and r.cfg_options is None
    assert benchmark_key(mf, r) == 'segm [not scorable in irkit]'
    with pytest.raises(MetafileError, match=r'Eval\.Unavailable: expected a reason'):
        parse_metafile(_row(Unavailable=''))
    with pytest.raises(MetafileError, match='exactly one of CfgOptions.*got Online, Unavailable'):
        parse_metafile(_row(Online='a server', Unavailable='no data'))
    with pytest.raises(MetafileError, match="'segm' is not described"):
        parse_metafile(_row(CfgOptions={}))


def test_a_row_without_folders_or_reason_is_a_not_run_row(tmp_path):
    import yaml
    from irkit.leaderboard.runner import Leaderboard
    data = _row(Unavailable='needs a segmentation model')
    data['Models'][0]['Config'] = 'configs/demo_denoise.py'
    data['Models'][0]['Results'].append({'Dataset': 'nowhere', 'Metrics': {'PSNR': 1.0}, 'Protocol': 'p',
                                         'Source': 's', 'Verified': False})
    (tmp_path / 'm').mkdir()
    (tmp_path / 'm' / 'x.yml').write_text(yaml.safe_dump(data))
    rows = Leaderboard(str(tmp_path / 'd'), str(tmp_path / 'c'), metafile_dir=str(tmp_path / 'm'),
                       cache_dir=str(tmp_path / 'cache'), repo_root=ROOT).run(progress=False)
    by = {r.dataset: r for r in rows}
    assert by['segm'].reason == 'irkit cannot score segm: needs a segmentation model'
    assert by['nowhere'].verdict == 'not run' and 'nowhere has no benchmark folders under Datasets' in by['nowhere'].reason
