"""Caption CSV parsing, the CSV tool, the mixed-degradation dataset, the configs."""
import os

import cv2
import numpy as np
import pytest

from irkit.datasets.daclip import (DaCLIPCaptionDataset, MixedDegradationDataset, parse_title,
                                   read_caption_csv)


def _img(path, value, size=(40, 48)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full(size + (3, ), value, np.uint8))


def test_parse_title_last_separator():
    assert parse_title('a cat: dog: on a mat: hazy') == ('a cat: dog: on a mat', 'hazy')
    with pytest.raises(ValueError, match='no'):
        parse_title('no separator here')


def test_caption_csv_and_dataset(tmp_path):
    _img(tmp_path / 'a.png', 10)
    _img(tmp_path / 'b.png', 200)
    (tmp_path / 'c.csv').write_text('filepath\ttitle\n'
                                    'a.png\ttime: 12:30: a clock on a wall: noisy\n'
                                    f'{tmp_path / "b.png"}\t"a ""quoted"" caption: hazy"\n')
    rows = read_caption_csv(str(tmp_path / 'c.csv'))
    assert rows[0]['caption'] == 'time: 12:30: a clock on a wall' and rows[0]['degradation'] == 'noisy'
    assert rows[1]['caption'] == 'a "quoted" caption'
    ds = DaCLIPCaptionDataset(str(tmp_path / 'c.csv'), test_mode=True)
    s = ds[0]
    assert s['lq'].shape == (3, 224, 224) and s['degradation_label'] == 4
    assert abs(float(s['lq'].mean()) - 10 / 255) < 1e-3
    assert ds[1]['degradation_label'] == 1 and ds[1]['caption'] == 'a "quoted" caption'
    (tmp_path / 'bad.csv').write_text('filepath\ttitle\na.png\tcaption: foggy\n')
    with pytest.raises(ValueError, match='foggy'):
        DaCLIPCaptionDataset(str(tmp_path / 'bad.csv'))
    (tmp_path / 'cols.csv').write_text('path\ttitle\na.png\tx: hazy\n')
    with pytest.raises(KeyError, match='filepath'):
        read_caption_csv(str(tmp_path / 'cols.csv'))


def _layout(root, degs=('hazy', 'noisy'), counts=(2, 1)):
    for d, n in zip(degs, counts):
        for i in range(n):
            _img(root / d / 'LQ' / f'{i}.png', 20 * i + 5, (64, 64))
            _img(root / d / 'GT' / f'{i}.png', 20 * i + 100, (64, 64))


def test_mixed_degradation_dataset(tmp_path):
    _layout(tmp_path)
    ds = MixedDegradationDataset(str(tmp_path), degradations=['hazy', 'noisy'], patch_size=32, seed=0)
    assert len(ds) == 3
    for i in range(3):
        s = ds[i]
        assert s['lq'].shape == (3, 32, 32) and s['degradation'] == ['hazy', 'noisy'][i % 2]
        assert s['degradation_label'] == i % 2 and s['task'] == s['degradation']
    test = MixedDegradationDataset(str(tmp_path), degradations=['hazy', 'noisy'], test_mode=True)
    keys = [test[i]['key'] for i in range(len(test))]
    assert keys == ['hazy/0', 'hazy/1', 'noisy/0'] and test[0]['gt'].shape == (3, 64, 64)
    with pytest.raises(FileNotFoundError, match='snowy'):
        MixedDegradationDataset(str(tmp_path), degradations=['snowy'])


def test_make_csv_tool_round_trip(tmp_path, repo_root):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'daclip_make_csv', os.path.join(repo_root, 'tools', 'daclip_make_csv.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    main = tool.main
    _layout(tmp_path / 'train')
    (tmp_path / 'caps.tsv').write_text('gt_path\tcaption\nhazy/GT/0.png\ta: b\n'
                                       'hazy/GT/1.png\tsky\n'
                                       f'{tmp_path / "train/noisy/GT/0.png"}\tdog\n')
    assert main(['--data-root', str(tmp_path), '--mode', 'train', '--captions',
                 str(tmp_path / 'caps.tsv'), '--degradations', 'hazy', 'noisy']) == 0
    rows = read_caption_csv(str(tmp_path / 'daclip_train.csv'))
    assert [(r['caption'], r['degradation']) for r in rows] == [('a: b', 'hazy'), ('sky', 'hazy'),
                                                                ('dog', 'noisy')]
    assert rows[0]['path'].endswith(os.path.join('hazy', 'LQ', '0.png'))
    ds = MixedDegradationDataset(str(tmp_path / 'train'), degradations=['hazy', 'noisy'],
                                 captions=str(tmp_path / 'daclip_train.csv'), test_mode=True)
    assert ds[0]['caption'] == 'a: b'


@pytest.mark.parametrize('name', ['daclip_vitb32', 'daclip_irsde_universal', 'daclip_irsde_snowy'])
def test_configs_load(repo_root, name):
    from irkit.utils.config import load_config
    cfg = load_config(os.path.join(repo_root, 'configs', f'{name}.py'))
    if name != 'daclip_vitb32':
        assert cfg.model.generator.ch_mult == [1, 2, 4, 8]
        assert cfg.train_dataloader.batch_size == 16
        exp = ['snowy'] if name.endswith('snowy') else 10
        got = cfg.train_dataloader.dataset.degradations
        assert (len(got) == exp) if isinstance(exp, int) else (list(got) == exp)
        assert list(cfg.test_dataloader.dataset.degradations) == list(got)
