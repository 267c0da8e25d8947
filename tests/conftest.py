import os
import sys

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
