"""Malformed inputs through irkit's public entry points: each gets a clear message naming the
file, key or config field (or is handled as documented), and nothing is written half-way."""
import importlib.util
import os

import cv2
import numpy as np
import pytest
import torch

from irkit.registry import DATASETS, TRANSFORMS, ConfigKeyError
from tests.helpers import ROOT

DEMO = os.path.join(ROOT, 'configs/demo_denoise.py')


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'irkit_tool_{name}', os.path.join(ROOT, 'tools', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _img(path, h=40, w=48, c=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    hi = np.iinfo(dtype).max
    img = (rng.random((h, w, c) if c > 1 else (h, w)) * hi).astype(dtype)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return str(path)


def _paired(tmp_path, gt_shape=(40, 48), lq_shape=(40, 48), names=('a', 'b')):
    for n in names:
        _img(tmp_path / 'gt' / f'{n}.png', *gt_shape)
        _img(tmp_path / 'lq' / f'{n}.png', *lq_shape, seed=1)
    return dict(type='PairedImageDataset', gt_root=str(tmp_path / 'gt'), lq_root=str(tmp_path / 'lq'))


def _first_item(cfg):
    return DATASETS.build(cfg)[0]


# ----------------------------------------------------------------------------- image files
@pytest.mark.parametrize('content,word', [(b'', 'empty'), (b'not an image at all', 'a.png'),
                                           ('truncated', 'a.png')])
def test_bad_image_files_name_the_file(tmp_path, content, word):
    cfg = _paired(tmp_path)
    bad = tmp_path / 'gt' / 'a.png'
    if content == 'truncated':
        data = bad.read_bytes()
        bad.write_bytes(data[:len(data) // 3])
    else:
        bad.write_bytes(content)
    with pytest.raises(Exception) as e:
        _first_item(cfg)
    assert str(bad) in str(e.value) and word in str(e.value)


def test_grey_rgba_and_16bit_are_converted_as_documented(tmp_path):
    _img(tmp_path / 'gt' / 'g.png', c=1)
    rgba = np.full((40, 48, 4), 255, np.uint8)
    rgba[..., :3] = 7
    cv2.imwrite(str(tmp_path / 'gt' / 'r.png'), rgba)  # opaque alpha: dropped
    _img(tmp_path / 'gt' / 's.png', dtype=np.uint16)
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'gt')))
    for i in range(3):
        gt = ds[i]['gt']
        assert gt.shape == (3, 40, 48) and gt.dtype == torch.float32
        assert 0 <= gt.min() and gt.max() <= 1
    rgba[0, 0, 3] = 0  # a transparent pixel: refused, file named
    cv2.imwrite(str(tmp_path / 'gt' / 'r.png'), rgba)
    with pytest.raises(Exception, match='r.png.*transparent'):
        ds[[ds.get_data_info(i)['key'] for i in range(3)].index('r')]


def test_lq_gt_size_mismatch_names_both_files(tmp_path):
    cfg = _paired(tmp_path, gt_shape=(40, 48), lq_shape=(20, 30), names=('a',))
    with pytest.raises(Exception, match='size mismatch') as e:
        _first_item(cfg)
    assert 'a.png' in str(e.value)


def test_missing_gt_lists_unmatched_names(tmp_path):
    cfg = _paired(tmp_path, names=('a', 'b'))
    os.remove(tmp_path / 'gt' / 'b.png')
    with pytest.raises(ValueError) as e:
        DATASETS.build(cfg)
    assert "b" in str(e.value) and 'lq' in str(e.value).lower()


def test_empty_dataset_names_the_folder(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty') as e:
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'empty')))
    assert str(tmp_path / 'empty') in str(e.value)


def test_image_smaller_than_crop_names_the_sample(tmp_path):
    cfg = _paired(tmp_path, gt_shape=(16, 16), lq_shape=(16, 16), names=('small',))
    cfg['pipeline'] = [dict(type='LoadImageFromFile', key='gt'), dict(type='LoadImageFromFile', key='lq'),
                       dict(type='PairedRandomCrop', gt_patch_size=64),
                       dict(type='PackInputs', keys=['lq', 'gt'])]
    with pytest.raises(Exception) as e:
        _first_item(cfg)
    assert 'small' in str(e.value) and '64' in str(e.value)


def test_one_pixel_image_is_padded_by_random_crop(tmp_path):
    _img(tmp_path / 'one' / 'px.png', 1, 1)
    t = TRANSFORMS.build(dict(type='RandomCrop', keys=['gt'], crop_size=8, pad_mode='reflect'))
    load = TRANSFORMS.build(dict(type='LoadImageFromFile', key='gt'))
    try:
        out = t(load({'gt_path': str(tmp_path / 'one' / 'px.png'), 'key': 'px'}))
        assert out['gt'].shape[:2] == (8, 8)  # documented: padded up to the crop
    except Exception as e:  # or refused with the sample named
        assert 'px' in str(e)


# ----------------------------------------------------------------------------- LMDB
def _lmdb(tmp_path):
    src = tmp_path / 'src'
    for n in ('x', 'y'):
        _img(src / f'{n}.png')
    create = _tool('create_lmdb')
    assert create.main([str(src), str(tmp_path / 'db.lmdb'), '--quiet']) == 0
    return tmp_path / 'db.lmdb'


def test_lmdb_without_meta_info_names_the_folder(tmp_path):
    db = _lmdb(tmp_path)
    os.remove(db / 'meta_info.txt')
    with pytest.raises(Exception) as e:
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(db)))
    assert 'meta_info.txt' in str(e.value) and str(db) in str(e.value)


def test_lmdb_missing_key_names_the_key(tmp_path):
    db = _lmdb(tmp_path)
    with open(db / 'meta_info.txt', 'a') as f:
        f.write('ghost.png (40,48,3) 1\n')
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(db)))
    idx = [i for i in range(len(ds)) if 'ghost' in str(ds.get_data_info(i))][0]
    with pytest.raises(Exception, match='ghost'):
        ds[idx]


def test_create_lmdb_with_corrupt_image_writes_nothing(tmp_path, capsys):
    src = tmp_path / 'src'
    _img(src / 'good.png')
    (src / 'bad.png').write_bytes(b'\x89PNG\r\n garbage')
    rc = _tool('create_lmdb').main([str(src), str(tmp_path / 'out.lmdb'), '--quiet'])
    assert rc != 0 and 'bad.png' in capsys.readouterr().err
    assert not (tmp_path / 'out.lmdb').exists()


def test_create_lmdb_refuses_to_overwrite(tmp_path, capsys):
    db = _lmdb(tmp_path)
    before = (db / 'data.mdb').read_bytes()
    rc = _tool('create_lmdb').main([str(tmp_path / 'src'), str(db), '--quiet'])
    assert rc != 0 and 'db.lmdb' in capsys.readouterr().err
    assert (db / 'data.mdb').read_bytes() == before


# ----------------------------------------------------------------------------- configs, checkpoints, tools
def test_config_key_typo_stops_train_py(tmp_path):
    with pytest.raises(ConfigKeyError, match=r"'max_iter'.*did you mean 'max_iters'"):
        _tool('train').main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_iter=3'])
    assert not os.listdir(tmp_path)


def _tiny_ckpt(tmp_path, nc):
    from irkit.registry import MODELS
    model = MODELS.build(dict(type='Restorer', generator=dict(type='DnCNN', nc=nc, nb=3, use_bn=False),
                              losses=[dict(type='L1Loss')]))
    path = tmp_path / f'dncnn{nc}.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


def test_wrong_checkpoint_for_the_arch_names_file_and_keys(tmp_path):
    from irkit.fileio.checkpoint import CheckpointMismatchError
    ck = _tiny_ckpt(tmp_path, nc=8)  # the config's model is nc=16
    with pytest.raises(CheckpointMismatchError) as e:
        _tool('test').main([DEMO, ck, '--work-dir', str(tmp_path / 'wd'),
                            '--cfg-options', 'model.generator.nc=16', 'model.generator.nb=3'])
    assert 'dncnn8.pth' in str(e.value) and 'shape mismatch' in str(e.value)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(SystemExit, match='nope.pth'):
        _tool('test').main([DEMO, str(tmp_path / 'nope.pth')])


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_checkpoint_that_runs_code_is_refused(tmp_path):
    from irkit.fileio.checkpoint import UnsafeCheckpointError
    torch.save({'state_dict': {}, 'x': _Evil(tmp_path / 'PWNED_BY_CHECKPOINT')}, tmp_path / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        _tool('test').main([DEMO, str(tmp_path / 'evil.pth'), '--work-dir', str(tmp_path / 'wd')])
    assert not (tmp_path / 'PWNED_BY_CHECKPOINT').exists()


def test_restore_py_non_image_input_names_it_and_writes_nothing(tmp_path):
    ck = _tiny_ckpt(tmp_path, nc=8)
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'notes.png').write_text('hello')
    with pytest.raises(ValueError, match='notes.png'):
        _tool('restore').main([DEMO, ck, str(tmp_path / 'in'), '--out', str(tmp_path / 'out'),
                               '--cfg-options', 'model.generator.nc=8', 'model.generator.nb=3'])
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


def test_size_not_multiple_of_arch_factor_is_padded_and_cropped(tmp_path):
    from irkit.apis import init_model, restore
    model = init_model(DEMO, _tiny_ckpt(tmp_path, nc=8),
                       cfg_options={'model.generator.nc': 8, 'model.generator.nb': 3, 'model.pad_multiple': 8})
    out = restore(model, np.zeros((37, 53, 3), np.uint8))
    assert out.shape == (3, 37, 53)


# ----------------------------------------------------------------------------- inpainting masks
TINY_MAT = {'model.generator.z_dim': 32, 'model.generator.w_dim': 32, 'model.generator.img_resolution': 128,
            'model.generator.stage1_dim': 12, 'model.generator.channel_table': [16, 32, 32, 32, 32, 32],
            'model.discriminator.img_resolution': 128,
            'model.discriminator.channel_table': [16, 32, 32, 32, 32, 32],
            'model.perceptual_loss.pretrained': False}


@pytest.fixture(scope='module')
def tiny_mat():
    from irkit.apis import init_model
    torch.manual_seed(0)
    return init_model(os.path.join(ROOT, 'configs/mat_places.py'), None, cfg_options=TINY_MAT)


def test_mask_with_no_hole_returns_the_input(tiny_mat):
    from irkit.apis.inpainting import inpaint
    img = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    out = inpaint(tiny_mat, img, np.ones((128, 128), np.float32))
    assert torch.allclose(out, torch.from_numpy(img).permute(2, 0, 1).float() / 255, atol=1 / 255)


def test_all_hole_mask_is_filled(tiny_mat):
    from irkit.apis.inpainting import inpaint
    img = np.zeros((128, 128, 3), np.uint8)
    out = inpaint(tiny_mat, img, np.zeros((128, 128), np.float32))
    assert out.shape == (3, 128, 128) and torch.isfinite(out).all()


def test_mask_size_differing_from_image_is_named(tmp_path, tiny_mat):
    from irkit.apis.inpainting import inpaint
    mask = _img(tmp_path / 'm.png', 64, 64, c=1)
    with pytest.raises(ValueError, match=r'mask size .*64, 64.*differs'):
        inpaint(tiny_mat, np.zeros((128, 128, 3), np.uint8), mask)
