"""Inputs that would reach outside what was asked for: meta files naming files outside the data
root, and images whose header promises more pixels than a run should decode."""
import os
import struct
import sys
import zlib

import cv2
import numpy as np
import pytest

from irkit.registry import DATASETS
from tests.helpers import ROOT, run_tool


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
def _huge_png(path, w=20000, h=20000):
    """A valid 1-bit greyscale PNG of w x h black pixels: ~50 KB on disk, w*h pixels decoded."""
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
    z = zlib.compressobj(9)
    row = b'\x00' * (1 + (w + 7) // 8)
    idat = b''.join(z.compress(row) for _ in range(h)) + z.flush()
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 1, 0, 0, 0, 0))
                     + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
    return path


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


@pytest.mark.slow
def test_oversized_image_is_refused_before_decoding(tmp_path):
    """A 20000 x 20000 PNG of ~50 KB (1.2 GB as 8-bit RGB, 4.8 GB as float): datasets (train
    and test), the restore and inpainting readers and create_lmdb refuse it from its header,
    naming the file, its size and the setting. Run under a 3 GB address-space limit, so a
    decode fails the test instead of the machine."""
    big = _huge_png(tmp_path / 'big.png')
    (tmp_path / 'src').mkdir()
    os.link(big, tmp_path / 'src' / 'big.png')
    code = f'''
import traceback
from irkit.datasets import ImageFolderDataset
from irkit.apis.restoration import read_rgb
from irkit.apis.inpainting import read_mask
from irkit.fileio.lmdb import make_lmdb
for name, call in [('dataset', lambda: ImageFolderDataset({str(tmp_path / 'src')!r})[0]),
                   ('restore', lambda: read_rgb({str(big)!r})),
                   ('mask', lambda: read_mask({str(big)!r})),
                   ('lmdb', lambda: make_lmdb({str(tmp_path / 'src')!r}, {str(tmp_path / 'x.lmdb')!r}, progress=False))]:
    try:
        call()
        print(name, 'DECODED')
    except Exception as e:
        print(name, type(e).__name__, str(e).replace(chr(10), ' '))
'''
    proc = run_tool(['bash', '-c', f'ulimit -v 3000000; exec "{sys.executable}" -c "$0"', code],
                    check=False, timeout=120)
    lines = proc.stdout.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ['dataset', 'restore', 'mask', 'lmdb'], proc.stdout + proc.stderr
    for line in lines:
        assert str(big).replace('/src', '') in line.replace('/src', '')
        assert '20000 x 20000 pixels' in line and 'IRKIT_MAX_IMAGE_PIXELS' in line, line
    assert not (tmp_path / 'x.lmdb').exists()


@pytest.mark.slow
def test_pixel_limit_is_configurable_and_tiling_serves_large_images(tmp_path):
    """IRKIT_MAX_IMAGE_PIXELS lowers (or, at 0, lifts) the limit; a 2400 x 1600 photo-sized
    image (under the default limit) is restored whole in tiles by tools/restore.py."""
    import torch

    from irkit.datasets.transforms.loading import decode_image
    from irkit.fileio.image_header import ImageTooLargeError
    from irkit.registry import MODELS
    png = cv2.imencode('.png', np.zeros((40, 50, 3), np.uint8))[1].tobytes()
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv('IRKIT_MAX_IMAGE_PIXELS', '1999')
        with pytest.raises(ImageTooLargeError, match=r'x\.png: 50 x 40 pixels .* limit of 1999 pixels'):
            decode_image(png, 'x.png')
        mp.setenv('IRKIT_MAX_IMAGE_PIXELS', '0')
        assert decode_image(png, 'x.png').shape == (40, 50, 3)
        mp.setenv('IRKIT_MAX_IMAGE_PIXELS', 'lots')
        with pytest.raises(ValueError, match="IRKIT_MAX_IMAGE_PIXELS='lots': expected a number"):
            decode_image(png, 'x.png')
    finally:
        mp.undo()
    model = MODELS.build(dict(type='Restorer', generator=dict(type='DnCNN', nc=8, nb=3, use_bn=False),
                              losses=[dict(type='L1Loss')]))
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'w.pth')
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / 'photo.jpg'), (rng.random((1200, 1600, 3)) * 255).astype(np.uint8))
    run_tool([sys.executable, 'tools/restore.py', os.path.join(ROOT, 'configs/demo_denoise.py'),
              str(tmp_path / 'w.pth'), str(tmp_path / 'photo.jpg'), '--out', str(tmp_path / 'out'), '--tile', '256',
              '--cfg-options', 'model.generator.nc=8', 'model.generator.nb=3'], timeout=240)
    assert cv2.imread(str(tmp_path / 'out' / 'photo.png')).shape == (1200, 1600, 3)
