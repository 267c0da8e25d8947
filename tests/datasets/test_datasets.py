"""Datasets: listing, pairing, bad input, all-in-one mixing, inpainting masks."""
import os

import cv2
import numpy as np
import pytest
import torch
from tests.datasets.data_fixtures import read_rgb_float, write_images

from irkit.datasets import (AllInOneDataset, ImageFolderDataset, InpaintingDataset,
                            PairedImageDataset, SampleError)
from irkit.registry import DATASETS, ConfigKeyError


def test_paired_folder_default_pipeline(paired_folders):
    gt, lq, names = paired_folders
    ds = DATASETS.build(dict(type='PairedImageDataset', gt_root=gt, lq_root=lq, scale=2))
    assert [d['key'] for d in ds.data_list] == sorted(names)
    s = ds[1]
    assert set(s) >= {'gt', 'lq', 'key'} and s['key'] == 'img.v2'
    assert s['gt'].dtype == torch.float32 and s['gt'].shape == (3, 24, 32) and s['lq'].shape == (3, 12, 16)
    np.testing.assert_array_equal(s['gt'].numpy(), read_rgb_float(os.path.join(gt, 'img.v2.png')))
    assert s['gt_path'] == os.path.join(gt, 'img.v2.png')


def test_rgb_channel_order(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 10  # blue
    bgr[..., 2] = 200  # red
    (tmp_path / 'g').mkdir()
    cv2.imwrite(str(tmp_path / 'g' / 'a.png'), bgr)
    s = ImageFolderDataset(str(tmp_path / 'g'))[0]
    assert s['gt'][0, 0, 0].item() == pytest.approx(200 / 255) and s['gt'][2, 0, 0].item() == pytest.approx(10 / 255)


def test_filename_templates(tmp_path, rng):
    write_images(str(tmp_path / 'gt'), ['0801', '0802'], rng, (16, 16))
    write_images(str(tmp_path / 'lq'), ['0801x4', '0802x4'], rng, (4, 4))
    ds = PairedImageDataset(str(tmp_path / 'gt'), str(tmp_path / 'lq'), filename_tmpl='{}x4', scale=4)
    assert [d['key'] for d in ds.data_list] == ['0801', '0802']
    assert ds[0]['lq_path'].endswith('0801x4.png')
    # Rain100L-style: gt/norain-1.png <-> rainy/rain-1.png
    write_images(str(tmp_path / 'norain'), ['norain-1', 'norain-2'], rng)
    write_images(str(tmp_path / 'rainy'), ['rain-1', 'rain-2'], rng)
    ds = PairedImageDataset(str(tmp_path / 'norain'), str(tmp_path / 'rainy'), filename_tmpl='rain-{}',
                            gt_filename_tmpl='norain-{}')
    assert [d['key'] for d in ds.data_list] == ['1', '2']


def test_many_to_one_pairing(tmp_path, rng):
    write_images(str(tmp_path / 'clear'), ['0001', '0002'], rng)
    write_images(str(tmp_path / 'hazy'), ['0001_0.8_0.2', '0001_1_0.16', '0002_0.9_0.1'], rng)
    ds = PairedImageDataset(str(tmp_path / 'clear'), str(tmp_path / 'hazy'), lq_suffix_sep='_')
    assert len(ds) == 3
    assert [os.path.basename(d['gt_path']) for d in ds.data_list] == ['0001.png', '0001.png', '0002.png']
    write_images(str(tmp_path / 'synthetic'), ['part1/0001_0.8_0.2', 'part2/0002_1_0.1'], rng)
    ds = PairedImageDataset(str(tmp_path / 'clear'), str(tmp_path / 'synthetic'), lq_suffix_sep='_')
    assert [(d['key'], os.path.basename(d['gt_path'])) for d in ds.data_list] == [
        ('part1/0001_0.8_0.2', '0001.png'), ('part2/0002_1_0.1', '0002.png')]
    write_images(str(tmp_path / 'hazy'), ['0009_1_1'], rng)
    with pytest.raises(ValueError, match=r'without GT: 0009_1_1'):
        PairedImageDataset(str(tmp_path / 'clear'), str(tmp_path / 'hazy'), lq_suffix_sep='_')


def test_meta_file_subset(paired_folders, tmp_path):
    gt, lq, _ = paired_folders
    meta = tmp_path / 'meta.txt'
    meta.write_text('img.v2.png (24,32,3)\nsub/0003.png (24,32,3)\n')
    ds = PairedImageDataset(gt, lq, meta_file=str(meta), scale=2)
    assert [d['key'] for d in ds.data_list] == ['img.v2', 'sub/0003']
    meta.write_text('nope.png (24,32,3)\n')
    with pytest.raises(FileNotFoundError, match="'nope' listed in .*meta.txt has no image file"):
        PairedImageDataset(gt, lq, meta_file=str(meta), scale=2)


def test_unmatched_names_are_listed(paired_folders, rng):
    gt, lq, _ = paired_folders
    os.remove(os.path.join(lq, '0001.png'))
    write_images(lq, ['extra_a', 'extra_b'], rng, (12, 16))
    with pytest.raises(ValueError) as e:
        PairedImageDataset(gt, lq, scale=2)
    msg = str(e.value)
    assert 'without LQ: 0001' in msg and 'without GT: extra_a, extra_b' in msg
    assert gt in msg and lq in msg


def test_size_mismatch_names_files(paired_folders):
    gt, lq, _ = paired_folders
    ds = PairedImageDataset(gt, lq, scale=4)  # folders: checked when a sample is read
    with pytest.raises(SampleError) as e:
        ds[0]
    msg = str(e.value)
    assert 'LQ/GT size mismatch' in msg and 'GT 24x32' in msg and 'LQ 12x16' in msg
    assert os.path.join(gt, '0001.png') in msg and os.path.join(lq, '0001.png') in msg
    # with the right scale all is well, and the crop checks too
    ds = PairedImageDataset(gt, lq, scale=4, pipeline=[
        dict(type='LoadImageFromFile', key='gt'), dict(type='LoadImageFromFile', key='lq'),
        dict(type='PairedRandomCrop', gt_patch_size=8), dict(type='PackInputs')])
    with pytest.raises(SampleError, match=r'LQ/GT size mismatch: GT is 24x32, LQ is 12x16, expected GT = 4 x LQ'):
        ds[0]


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'text'])
def test_bad_files_are_named(paired_folders, damage):
    gt, lq, _ = paired_folders
    bad = os.path.join(gt, 'sub', '0003.png')
    if damage == 'truncated':
        data = open(bad, 'rb').read()
        open(bad, 'wb').write(data[:len(data) // 2])
    elif damage == 'empty':
        open(bad, 'wb').close()
    else:
        open(bad, 'w').write('this is not an image\n')
    ds = PairedImageDataset(gt, lq, scale=2)
    ds[0]
    with pytest.raises(SampleError) as e:
        ds[2]
    msg = str(e.value)
    assert bad in msg and "key 'sub/0003'" in msg
    assert ('0 bytes' in msg) if damage == 'empty' else ('cannot decode' in msg)


def test_empty_dataset(tmp_path):
    (tmp_path / 'none').mkdir()
    (tmp_path / 'none' / 'readme.txt').write_text('no images')
    with pytest.raises(ValueError, match=r'empty dataset, no images in .*none'):
        PairedImageDataset(str(tmp_path / 'none'), str(tmp_path / 'none'))
    with pytest.raises(ValueError, match=r'ImageFolderDataset: empty dataset.*none'):
        ImageFolderDataset(str(tmp_path / 'none'))
    with pytest.raises(FileNotFoundError, match='missing'):
        ImageFolderDataset(str(tmp_path / 'missing'))


def test_grey_rgba_16bit(tmp_path, rng):
    d = tmp_path / 'x'
    d.mkdir()
    grey = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    opaque = np.dstack([rng.integers(0, 256, (5, 6, 3), dtype=np.uint8), np.full((5, 6), 255, np.uint8)])
    clear = opaque.copy()
    clear[0, 0, 3] = 0
    deep = rng.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    for name, img in dict(grey=grey, opaque=opaque, clear=clear, deep=deep).items():
        cv2.imwrite(str(d / f'{name}.png'), img)
    ds = ImageFolderDataset(str(d))
    s = {ds.data_list[i]['key']: i for i in range(len(ds))}
    np.testing.assert_array_equal(ds[s['grey']]['gt'].numpy(), np.repeat(grey[None] / np.float32(255), 3, 0))
    np.testing.assert_array_equal(ds[s['opaque']]['gt'].numpy(),
                                  (opaque[:, :, 2::-1] / np.float32(255)).transpose(2, 0, 1))
    np.testing.assert_array_equal(ds[s['deep']]['gt'].numpy(),
                                  (deep[:, :, ::-1] / np.float32(65535)).transpose(2, 0, 1))
    with pytest.raises(SampleError, match=r'clear\.png: image has a transparent alpha channel'):
        ds[s['clear']]
    # single-channel reading on request
    ds1 = ImageFolderDataset(str(d), pipeline=[
        dict(type='LoadImageFromFile', key='gt', color_type='grayscale'), dict(type='PackInputs', keys='gt')])
    assert ds1[s['grey']]['gt'].shape == (1, 5, 6)


def test_strict_arguments():
    with pytest.raises(ConfigKeyError, match="did you mean 'gt_root'"):
        DATASETS.build(dict(type='PairedImageDataset', gt_rot='a', lq_root='b'))


def test_denoising_pipeline_from_clean_folder(tmp_path, rng):
    write_images(str(tmp_path / 'clean'), ['a', 'b', 'c'], rng, (40, 40))
    train = ImageFolderDataset(str(tmp_path / 'clean'), pipeline=[
        dict(type='LoadImageFromFile', key='gt'),
        dict(type='RandomCrop', keys=['gt'], crop_size=32),
        dict(type='RandomFlip', keys=['gt']),
        dict(type='RandomTranspose', keys=['gt']),
        dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25),
        dict(type='PackInputs', keys=['lq', 'gt'])])
    s = train[0]
    assert s['lq'].shape == s['gt'].shape == (3, 32, 32)
    assert 20 / 255 < (s['lq'] - s['gt']).std().item() < 30 / 255
    test_pipeline = [dict(type='LoadImageFromFile', key='gt'),
                     dict(type='AddGaussianNoise', key='gt', out_key='lq', sigma=25, seed=0),
                     dict(type='PackInputs', keys=['lq', 'gt'])]
    a = ImageFolderDataset(str(tmp_path / 'clean'), pipeline=test_pipeline, test_mode=True)
    b = ImageFolderDataset(str(tmp_path / 'clean'), pipeline=test_pipeline, test_mode=True)
    assert torch.equal(a[2]['lq'], b[2]['lq'])  # fixed per image
    assert not torch.equal(a[0]['lq'] - a[0]['gt'], a[1]['lq'] - a[1]['gt'])
    batch = next(iter(torch.utils.data.DataLoader(a, batch_size=3, num_workers=2)))
    assert torch.equal(batch['lq'][2], b[2]['lq'])


def test_all_in_one_mixing(tmp_path, rng):
    write_images(str(tmp_path / 'clean'), ['a', 'b'], rng, (16, 16))
    write_images(str(tmp_path / 'rain' / 'gt'), ['1', '2', '3'], rng, (16, 16))
    write_images(str(tmp_path / 'rain' / 'lq'), ['1', '2', '3'], rng, (16, 16))

    def noisy(sigma):
        return dict(type='ImageFolderDataset', data_root=str(tmp_path / 'clean'), pipeline=[
            dict(type='LoadImageFromFile', key='gt'),
            dict(type='AddGaussianNoise', sigma=sigma), dict(type='PackInputs')])

    ds = DATASETS.build(dict(
        type='AllInOneDataset',
        datasets=[noisy(15), noisy(25), noisy(50),
                  dict(type='PairedImageDataset', gt_root=str(tmp_path / 'rain' / 'gt'),
                       lq_root=str(tmp_path / 'rain' / 'lq'))],
        tasks=['denoise_15', 'denoise_25', 'denoise_50', 'derain'], repeats=[3, 3, 3, 120]))
    assert len(ds) == 2 * 3 * 3 + 3 * 120
    assert ds.task_names == ['denoise_15', 'denoise_25', 'denoise_50', 'derain']
    tasks = [ds.locate(i)[0] for i in range(len(ds))]
    assert [tasks.count(i) for i in range(4)] == [6, 6, 6, 360]
    s = ds[7]  # second dataset, repeat 1 of 3, image 'b'
    assert s['task'] == 'denoise_25' and s['task_id'] == 1 and s['key'] == 'b'
    assert ds[len(ds) - 1]['task'] == 'derain' and ds[len(ds) - 1]['key'] == '3'
    std = (s['lq'] - s['gt']).std().item() * 255
    assert 18 < std < 32
    with pytest.raises(ValueError, match='repeats must be 2 positive integers'):
        AllInOneDataset([noisy(15), noisy(25)], tasks=['a', 'b'], repeats=[1, 0])


def test_inpainting_generated_masks(tmp_path, rng):
    write_images(str(tmp_path / 'img'), ['a', 'b'], rng, (64, 64))
    ev = InpaintingDataset(str(tmp_path / 'img'), test_mode=True)
    m1, m2 = ev[0]['mask'], InpaintingDataset(str(tmp_path / 'img'), test_mode=True)[0]['mask']
    assert m1.shape == (1, 64, 64) and set(m1.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(m1, m2)  # fixed evaluation mask per image
    assert not torch.equal(ev[0]['mask'], ev[1]['mask'])
    tr = InpaintingDataset(str(tmp_path / 'img'))
    assert not all(torch.equal(tr[0]['mask'], tr[0]['mask']) for _ in range(3))


def test_inpainting_mask_files(tmp_path, rng):
    write_images(str(tmp_path / 'img'), ['a', 'b'], rng, (8, 8))
    (tmp_path / 'masks').mkdir()
    hole = np.zeros((8, 8), np.uint8)
    hole[2:5, 3:6] = 255  # white = hole
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), hole)
    cv2.imwrite(str(tmp_path / 'masks' / 'b.png'), 255 - hole)
    ds = InpaintingDataset(str(tmp_path / 'img'), mask_root=str(tmp_path / 'masks'))
    m = ds[0]['mask'][0].numpy()
    assert m.sum() == 64 - 9 and (m[2:5, 3:6] == 0).all()
    mat = InpaintingDataset(str(tmp_path / 'img'), mask_root=str(tmp_path / 'masks'),
                            mask_white_is_hole=False, mask_match='index')
    np.testing.assert_array_equal(mat[0]['mask'][0].numpy(), 1 - m)  # MAT files: white = known
    os.remove(tmp_path / 'masks' / 'b.png')
    with pytest.raises(ValueError, match=r'1 images in .* have no mask .*: b'):
        InpaintingDataset(str(tmp_path / 'img'), mask_root=str(tmp_path / 'masks'))
    with pytest.raises(ValueError, match=r"mask_match='index' needs as many masks as images: 1 masks"):
        InpaintingDataset(str(tmp_path / 'img'), mask_root=str(tmp_path / 'masks'), mask_match='index')
