"""Fixtures of the data-layer tests (helpers in data_fixtures.py)."""
import os
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data_fixtures import write_images  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def paired_folders(tmp_path, rng):
    """GT 24x32 and LQ (x2 down) with names including a dot and a sub-folder."""
    names = ['0001', 'img.v2', 'sub/0003']
    gt = write_images(str(tmp_path / 'gt'), names, rng, (24, 32))
    lq = {}
    for n, p in gt.items():
        q = str(tmp_path / 'lq' / (n + '.png'))
        os.makedirs(os.path.dirname(q), exist_ok=True)
        cv2.imwrite(q, cv2.resize(cv2.imread(p), (16, 12), interpolation=cv2.INTER_AREA))
        lq[n] = q
    return str(tmp_path / 'gt'), str(tmp_path / 'lq'), names
