"""Inputs that would reach outside what was asked for: meta files naming files outside the data
root, and images whose header promises more pixels than a run should decode."""
import os
import struct

import cv2
import numpy as np
import pytest

from irkit.registry import DATASETS


def _img(path, h=16, w=16):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 7, np.uint8))


# ----------------------------------------------------------------------------- data roots
@pytest.mark.parametrize('entry', ['../secret/private.png', '{secret}/private.png', 'sub/../../secret/private.png'])
@pytest.mark.parametrize('dataset', ['ImageFolderDataset', 'PairedImageDataset'])
def test_meta_file_cannot_reach_outside_the_data_root(tmp_path, entry, dataset):
    _img(tmp_path / 'secret' / 'private.png')
    _img(tmp_path / 'data' / 'gt' / 'a.png')
    _img(tmp_path / 'data' / 'lq' / 'a.png')
    _img(tmp_path / 'data' / 'lq' / 'private.png')
    meta = tmp_path / 'meta.txt'
    meta.write_text('a.png (16,16,3)\n' + entry.format(secret=tmp_path / 'secret') + ' (16,16,3)\n')
    root = str(tmp_path / 'data' / 'gt')
    cfg = (dict(type='ImageFolderDataset', data_root=root, meta_file=str(meta)) if dataset == 'ImageFolderDataset'
           else dict(type='PairedImageDataset', gt_root=root, lq_root=str(tmp_path / 'data' / 'lq'),
                     meta_file=str(meta)))
    with pytest.raises(ValueError, match='outside the data root') as e:
        DATASETS.build(cfg)
    assert str(meta) in str(e.value) and 'private' in str(e.value) and root in str(e.value)


def test_meta_file_inside_the_root_still_works(tmp_path):
    _img(tmp_path / 'gt' / 'sub' / 'a.png')
    _img(tmp_path / 'gt' / 'b.png')
    meta = tmp_path / 'meta.txt'
    meta.write_text('sub/a.png (16,16,3)\n./sub/../b.png (16,16,3)\n')
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'gt'), meta_file=str(meta)))
    assert sorted(d['key'] for d in ds.data_list) == ['b', 'sub/a']
    assert ds[0]['gt'].shape == (3, 16, 16)


# ----------------------------------------------------------------------------- decoded pixels


@pytest.mark.parametrize('ext,flags', [('.png', []), ('.jpg', []), ('.bmp', []), ('.tif', []),
                                       ('.webp', [cv2.IMWRITE_WEBP_QUALITY, 80]),
                                       ('.webp', [cv2.IMWRITE_WEBP_QUALITY, 101]),  # lossless
                                       ('.ppm', []), ('.pgm', [])])
def test_header_sizes_match_what_opencv_decodes(tmp_path, ext, flags):
    from irkit.fileio.image_header import image_size
    img = (np.random.default_rng(0).random((23, 37, 1 if ext == '.pgm' else 3)) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(ext, img, flags)
    assert ok
    data = buf.tobytes()
    dec = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image_size(data) == (dec.shape[1], dec.shape[0]) == (37, 23)


def test_header_sizes_of_hand_made_headers():
    from irkit.fileio.image_header import image_size
    tiff_be = (b'MM\x00*' + struct.pack('>I', 8) + struct.pack('>H', 2)
               + struct.pack('>HHIHH', 256, 3, 1, 700, 0) + struct.pack('>HHII', 257, 4, 1, 90000))
    assert image_size(tiff_be) == (700, 90000)
    assert image_size(b'P6\n# made by hand\n640 480\n255\n') == (640, 480)
    assert image_size(b'not an image') is None and image_size(b'\x89PNG\r\n\x1a\n') is None
