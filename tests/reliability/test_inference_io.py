"""What the inference tools read and write: never an input overwritten, never two outputs on one
file, exactly what was written reported; float, 16-bit and NaN images and non-finite
checkpoints handled explicitly instead of giving black images or 'PSNR nan'."""
import importlib.util
import os

import cv2
import numpy as np
import pytest
import torch

from tests.helpers import ROOT

DEMO = os.path.join(ROOT, 'configs/demo_denoise.py')
TINY = ['--cfg-options', 'model.generator.nc=8', 'model.generator.nb=3']


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'irkit_tool_{name}', os.path.join(ROOT, 'tools', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ckpt(tmp_path, name='identity.pth', nan=False):
    """The tiny DnCNN with its last convolution zeroed: output = input (residual net)."""
    from irkit.registry import MODELS
    model = MODELS.build(dict(type='Restorer', generator=dict(type='DnCNN', nc=8, nb=3, use_bn=False),
                              losses=[dict(type='L1Loss')]))
    sd = model.state_dict()
    last = [k for k in sd if k.endswith('weight')][-1]
    for k in (last, last[:-len('weight')] + 'bias'):
        if k in sd:
            sd[k].zero_()
    if nan:
        sd[last][0, 0, 0, 0] = float('nan')
    path = tmp_path / name
    torch.save({'state_dict': sd}, path)
    return str(path), last


def _png(path, seed=0, h=24, w=20, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    img = (rng.random((h, w, 3)) * np.iinfo(dtype).max).astype(dtype)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return img


def _snapshot(folder):
    return {os.path.relpath(os.path.join(d, f), folder): open(os.path.join(d, f), 'rb').read()
            for d, _, files in os.walk(folder) for f in files}


# ----------------------------------------------------------------------------- outputs
def test_restore_never_overwrites_an_input(tmp_path):
    ck, _ = _ckpt(tmp_path)
    inp = tmp_path / 'in'
    _png(inp / 'a.png')
    _png(inp / 'sub' / 'b.png', seed=1)
    before = _snapshot(inp)
    restore = _tool('restore').main
    for args in ([str(inp), '--out', str(inp)],  # the input folder itself
                 [str(inp / 'a.png'), '--out', str(inp)],  # a file, written over itself
                 [str(inp), '--out', str(inp / 'restored')]):  # inside: read back as input next run
        with pytest.raises(ValueError, match='input') as e:
            restore([DEMO, ck, *args, *TINY])
        assert str(inp) in str(e.value)
        assert _snapshot(inp) == before  # nothing written, nothing overwritten


@pytest.mark.parametrize('layout', ['same stem', 'two folders'])
def test_restore_refuses_outputs_that_collide(tmp_path, layout):
    ck, _ = _ckpt(tmp_path)
    if layout == 'same stem':  # a.png and a.jpg would both become a.png
        _png(tmp_path / 'in' / 'a.png')
        _png(tmp_path / 'in' / 'a.jpg', seed=1)
        inputs = [str(tmp_path / 'in')]
        names = [str(tmp_path / 'in' / 'a.png'), str(tmp_path / 'in' / 'a.jpg')]
    else:  # img.png of two folders would both become img.png
        _png(tmp_path / 'x' / 'img.png')
        _png(tmp_path / 'y' / 'img.png', seed=1)
        inputs = [str(tmp_path / 'x'), str(tmp_path / 'y')]
        names = [str(tmp_path / 'x' / 'img.png'), str(tmp_path / 'y' / 'img.png')]
    with pytest.raises(ValueError, match='same output') as e:
        _tool('restore').main([DEMO, ck, *inputs, '--out', str(tmp_path / 'out'), *TINY])
    assert all(n in str(e.value) for n in names) and str(tmp_path / 'out') in str(e.value)
    assert not (tmp_path / 'out').exists()


def test_restore_reports_exactly_what_it_wrote(tmp_path, capsys):
    ck, _ = _ckpt(tmp_path)
    _png(tmp_path / 'in' / 'sub' / 'x.png')
    _png(tmp_path / 'in' / 'y.jpg', seed=1)
    _png(tmp_path / 'single.bmp', seed=2)
    out = tmp_path / 'out'
    _tool('restore').main([DEMO, ck, str(tmp_path / 'in'), str(tmp_path / 'single.bmp'), '--out', str(out),
                           *TINY])
    printed = capsys.readouterr().out
    written = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert written == ['single.png', 'sub/x.png', 'y.png']
    for rel, src in (('sub/x.png', 'in/sub/x.png'), ('y.png', 'in/y.jpg'), ('single.png', 'single.bmp')):
        assert f'{tmp_path / src} -> {out / rel}' in printed
    assert f'wrote 3 image(s) to {out}' in printed


def test_inpaint_py_never_overwrites_its_inputs(tmp_path):
    img = tmp_path / 'img.png'
    _png(img, h=16, w=16)
    cv2.imwrite(str(tmp_path / 'mask.png'), np.zeros((16, 16), np.uint8))
    before = _snapshot(tmp_path)
    for out in (img, tmp_path / 'mask.png'):
        with pytest.raises(ValueError, match='would overwrite'):
            _tool('inpaint').main([os.path.join(ROOT, 'configs/mat_places.py'), str(tmp_path / 'mask.png'),
                                   '--img', str(img), '--mask', str(tmp_path / 'mask.png'), '--out', str(out)])
    assert _snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- pixel values
def _restore_one(tmp_path, src, *extra):
    ck, _ = _ckpt(tmp_path)
    out = tmp_path / 'out'
    _tool('restore').main([DEMO, ck, str(src), '--out', str(out), *extra, *TINY])
    return cv2.imread(str(out / (os.path.splitext(os.path.basename(src))[0] + '.png')), cv2.IMREAD_UNCHANGED)


def test_float_tiff_restored_at_its_values(tmp_path):
    """A float32 TIFF in [0, 1] through the identity network comes back at its values (written
    as 16-bit PNG), not divided by 255 a second time (near-black before)."""
    rng = np.random.default_rng(0)
    img = rng.random((24, 20, 3)).astype(np.float32)
    assert cv2.imwrite(str(tmp_path / 'f.tif'), img)
    out = _restore_one(tmp_path, tmp_path / 'f.tif')
    assert out.dtype == np.uint16
    assert np.abs(out / 65535.0 - img).max() <= 0.5 / 65535 + 1e-6


def test_16bit_png_restored_at_16_bits(tmp_path):
    img = _png(tmp_path / 'deep.png', dtype=np.uint16)
    out = _restore_one(tmp_path, tmp_path / 'deep.png')
    assert out.dtype == np.uint16 and np.array_equal(out, img)


@pytest.mark.parametrize('bad', [np.nan, np.inf, 3.0])
def test_float_image_with_nan_or_out_of_range_values_is_refused(tmp_path, bad):
    img = np.full((24, 20, 3), 0.5, np.float32)
    img[3, 4, 1] = bad
    assert cv2.imwrite(str(tmp_path / 'f.tif'), img)
    with pytest.raises(ValueError, match='f.tif') as e:
        _restore_one(tmp_path, tmp_path / 'f.tif')
    assert ('non-finite' in str(e.value)) if not np.isfinite(bad) else '[0, 1]' in str(e.value)
    assert not (tmp_path / 'out').exists()


@pytest.mark.slow
def test_checkpoint_with_nan_weight_is_refused_unless_allowed(tmp_path):
    ck, last = _ckpt(tmp_path, 'nan.pth', nan=True)
    _png(tmp_path / 'in' / 'a.png')
    restore = _tool('restore').main
    with pytest.raises(ValueError, match='non-finite') as e:
        restore([DEMO, ck, str(tmp_path / 'in'), '--out', str(tmp_path / 'out'), *TINY])
    assert 'nan.pth' in str(e.value) and last.split('.', 1)[1] in str(e.value) and '--allow-nonfinite' in str(e.value)
    # allowed: the model runs, and its NaN output is refused instead of written as a black image
    with pytest.raises(ValueError, match=r'a\.png.*not finite'):
        restore([DEMO, ck, str(tmp_path / 'in'), '--out', str(tmp_path / 'out'), '--allow-nonfinite', *TINY])
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')
    test = _tool('test').main
    with pytest.raises(ValueError, match='non-finite') as e:
        test([DEMO, ck, '--work-dir', str(tmp_path / 'wd'), *TINY])
    assert 'nan.pth' in str(e.value)
    # allowed: the metrics refuse the NaN prediction and name the sample ('PSNR nan' before)
    with pytest.raises(Exception, match=r"PSNR: 'pred' of sample '\w+' has \d+ non-finite"):
        test([DEMO, ck, '--work-dir', str(tmp_path / 'wd'), '--allow-nonfinite', *TINY])


def test_metrics_refuse_nan_naming_the_sample():
    from irkit.metrics.image_metrics import MAE, PSNR, SSIM
    gt = torch.rand(3, 16, 16)
    pred = gt.clone()
    pred[0, 1, 2] = float('nan')
    for metric in (PSNR(), SSIM(), MAE()):
        with pytest.raises(ValueError, match=r"'pred' of sample 'img_7' has 1 non-finite"):
            metric.process({}, [{'pred': pred, 'gt': gt, 'key': 'img_7'}])
