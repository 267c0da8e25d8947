"""tools/batch_inpaint.py: folders of images + a mask folder or one mask; outputs never collide or overwrite."""
import importlib.util
import os

import cv2
import numpy as np
import pytest
import torch

from irkit.apis.inpainting import inpaint, init_model

from tests.demo.conftest import INPAINT_CFG, decode_rgb, png_bytes


@pytest.fixture(scope='module')
def tool(repo_root):
    spec = importlib.util.spec_from_file_location('batch_inpaint', os.path.join(repo_root, 'tools/batch_inpaint.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def setup(tmp_path):
    cfg = tmp_path / 'toy_inpaint.py'
    cfg.write_text(INPAINT_CFG)
    torch.manual_seed(1)
    model = init_model(str(cfg))
    ckpt = tmp_path / 'toy.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    rng = np.random.default_rng(0)
    imgs, masks = tmp_path / 'imgs', tmp_path / 'masks'
    (imgs / 'sub').mkdir(parents=True)
    (masks / 'sub').mkdir(parents=True)
    files = {'a.png': (24, 32), 'sub/b.jpg': (20, 28)}
    for name, (h, w) in files.items():
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(imgs / name), img[..., ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    m = np.zeros((24, 32), np.uint8)
    m[5:12, 8:20] = 255
    (masks / 'a.png').write_bytes(png_bytes(m))
    (masks / 'sub' / 'b.bmp').write_bytes(png_bytes(m[:20, :28]))
    return dict(cfg=str(cfg), ckpt=str(ckpt), imgs=imgs, masks=masks, model=model, tmp=tmp_path)


def test_mask_folder_run_matches_the_api_and_never_collides(tool, setup):
    s, out = setup, setup['tmp'] / 'out'
    base = [s['cfg'], s['ckpt'], '--img-dir', str(s['imgs']), '--out', str(out), '--strategy', 'crop',
            '--crop-margin', '4', '--seed', '3']
    (s['imgs'] / 'sub' / 'b.png').write_bytes((s['masks'] / 'a.png').read_bytes())
    with pytest.raises(ValueError, match=r'2 inputs would be written to the same output file .*sub.b.png'):
        tool.main(base + ['--mask-dir', str(s['masks'])])                 # sub/b.jpg and sub/b.png
    os.remove(s['imgs'] / 'sub' / 'b.png')
    (s['masks'] / 'sub' / 'b.png').write_bytes(b'x')
    with pytest.raises(ValueError, match=r'1 image.s. have several masks .* in .*: sub.b.jpg'):
        tool.main(base + ['--mask-dir', str(s['masks'])])                 # masks sub/b.bmp and sub/b.png
    os.remove(s['masks'] / 'sub' / 'b.png')
    assert not out.exists()                                               # nothing written so far
    assert tool.main(base + ['--mask-dir', str(s['masks'])]) == 0
    written = sorted(os.path.relpath(os.path.join(r, f), out) for r, _, fs in os.walk(out) for f in fs)
    assert written == ['a.png', 'sub/b.png']
    for name, mask, result in (('a.png', 'a.png', 'a.png'), ('sub/b.jpg', 'sub/b.bmp', 'sub/b.png')):
        expected = inpaint(s['model'], str(s['imgs'] / name), str(s['masks'] / mask), seed=3, strategy='crop',
                           crop_margin=4)
        got = decode_rgb((out / result).read_bytes())
        assert np.array_equal(got, (expected.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    # a second run keeps what exists unless asked
    with pytest.raises(SystemExit, match='2 output.s. exist already'):
        tool.main(base + ['--mask-dir', str(s['masks'])])
    assert tool.main(base + ['--mask-dir', str(s['masks']), '--skip-existing']) == 0


def test_one_mask_for_all_and_failures_are_reported(tool, setup, capsys):
    s, out = setup, setup['tmp'] / 'out1'
    rc = tool.main([s['cfg'], s['ckpt'], '--img-dir', str(s['imgs']), '--mask', str(s['masks'] / 'a.png'),
                    '--out', str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and os.path.isfile(out / 'a.png')                   # a.png matches the mask's size
    assert err.count('failed: ') == 1 and 'differs from the image size (20, 28)' in err


def test_plan_refuses_to_overwrite_inputs_or_mix_folders(tool, setup):
    s = setup
    with pytest.raises(ValueError, match='is the input folder .* or inside it'):
        tool.plan(str(s['imgs']), str(s['imgs'] / 'sub'), mask=str(s['masks'] / 'a.png'))
    with pytest.raises(ValueError, match='inside --mask-dir'):
        tool.plan(str(s['imgs']), str(s['masks'] / 'out'), mask_dir=str(s['masks']))
    with pytest.raises(ValueError, match='overlap: keep the masks in a folder of their own'):
        tool.plan(str(s['imgs']), str(s['tmp'] / 'o'), mask_dir=str(s['imgs'] / 'sub'))
    os.remove(s['masks'] / 'a.png')
    with pytest.raises(ValueError, match=r'1 image\(s\) have no mask in .*: a.png'):
        tool.plan(str(s['imgs']), str(s['tmp'] / 'o'), mask_dir=str(s['masks']))


def test_single_image_tool_takes_the_strategy(setup, repo_root):
    s = setup
    spec = importlib.util.spec_from_file_location('inpaint_tool', os.path.join(repo_root, 'tools/inpaint.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = s['tmp'] / 'one.png'
    mod.main([s['cfg'], s['ckpt'], '--img', str(s['imgs'] / 'a.png'), '--mask', str(s['masks'] / 'a.png'),
              '--out', str(out), '--strategy', 'resize', '--resize-limit', '16'])
    expected = inpaint(s['model'], str(s['imgs'] / 'a.png'), str(s['masks'] / 'a.png'), strategy='resize',
                       resize_limit=16)
    assert not torch.equal(expected, inpaint(s['model'], str(s['imgs'] / 'a.png'), str(s['masks'] / 'a.png')))
    got = decode_rgb(out.read_bytes())
    assert np.array_equal(got, (expected.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
