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
