"""Oversized images refused from their header, in a process under a memory limit, and tiled
restoration of a photo-sized image through tools/restore.py (the in-process checks:
tests/reliability/test_input_limits.py)."""
import os
import struct
import sys
import zlib

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, run_tool


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
