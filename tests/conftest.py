import os
import sys

import cv2
import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

torch.set_num_threads(1)


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


@pytest.fixture(autouse=True)
def _irkit_scope():
    """Tests build from irkit's registries as configs do (default scope 'irkit')."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('irkit'):
        if DefaultScope.get_current_instance() is None:
            DefaultScope.get_instance('irkit_tests', scope_name='irkit')
        yield


# data fixtures of the data-layer tests (tests/datasets, tests/fileio/test_lmdb.py; helpers in
# tests/datasets/data_fixtures.py)
@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def paired_folders(tmp_path, rng):
    """GT 24x32 and LQ (x2 down) with names including a dot and a sub-folder."""
    from tests.datasets.data_fixtures import write_images
    names = ['0001', 'img.v2', 'sub/0003']
    gt = write_images(str(tmp_path / 'gt'), names, rng, (24, 32))
    lq = {}
    for n, p in gt.items():
        q = str(tmp_path / 'lq' / (n + '.png'))
        os.makedirs(os.path.dirname(q), exist_ok=True)
        cv2.imwrite(q, cv2.resize(cv2.imread(p), (16, 12), interpolation=cv2.INTER_AREA))
        lq[n] = q
    return str(tmp_path / 'gt'), str(tmp_path / 'lq'), names


_EXIT_STATUS = {}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS['status'] = int(exitstatus)


def pytest_unconfigure(config):
    """Leave at once once pytest has reported: a lingering DataLoader worker or gloo thread from
    a test must never keep the process (and CI) alive after the summary is printed."""
    if 'status' in _EXIT_STATUS and not os.environ.get('IRKIT_TESTS_NO_HARD_EXIT'):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS['status'])
