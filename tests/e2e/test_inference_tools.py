"""tools/restore.py and tools/inpaint.py check their input files before building the model
(which takes up to a minute for the released networks)."""
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, run_tool


@pytest.fixture
def never_built(tmp_path):
    """A config whose generator raises when built, and an (unused) checkpoint file."""
    cfg = tmp_path / 'never_built.py'
    cfg.write_text(f"_base_ = ['{ROOT}/configs/demo_denoise.py']\n"
                   "custom_imports = dict(imports=['tests.plugins.irkit_plugins'], allow_failed_imports=False)\n"
                   "model = dict(generator=dict(_delete_=True, type='FailsToBuild'))\n")
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    return str(cfg), str(ckpt)


def _fails_before_building(args, message):
    proc = run_tool([sys.executable, *args], check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert 'FailsToBuild was built' not in proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr


def test_restore_checks_inputs_first(tmp_path, never_built):
    cfg, ckpt = never_built
    _fails_before_building(['tools/restore.py', cfg, ckpt, str(tmp_path / 'missing.png'), '--out',
                            str(tmp_path / 'out')], f"input not found: {tmp_path / 'missing.png'}")
    notes = tmp_path / 'notes.txt'
    notes.write_text('not an image')
    _fails_before_building(['tools/restore.py', cfg, ckpt, str(notes), '--out', str(tmp_path / 'out')],
                           f'input {notes} is not an image file')


def test_inpaint_checks_inputs_first(tmp_path, never_built):
    cfg, ckpt = never_built
    img, mask = tmp_path / 'img.png', tmp_path / 'mask.png'
    cv2.imwrite(str(img), np.zeros((32, 48, 3), np.uint8))
    cv2.imwrite(str(mask), np.zeros((32, 40), np.uint8))
    out = ['--out', str(tmp_path / 'out.png')]
    _fails_before_building(['tools/inpaint.py', cfg, ckpt, '--img', str(img), '--mask', str(mask), *out],
                           'mask size (32, 40)')
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'\x89PNG truncated')
    _fails_before_building(['tools/inpaint.py', cfg, ckpt, '--img', str(bad), '--mask', str(mask), *out],
                           f'{bad}: cannot decode image')
