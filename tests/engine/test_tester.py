"""irkit.engine.tester: named test sets resolved from a config."""
import os

import pytest
from mmengine.config import Config

from tests.helpers import ROOT


def test_tools_test_unknown_test_set_names_the_available_ones():
    from irkit.engine.tester import TestSetError, resolve_test_sets as resolve
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'mprnet_rain13k.py'))
    assert [n for n, _ in resolve(cfg, ['all'])] == ['Test100', 'Rain100H', 'Rain100L', 'Test2800', 'Test1200']
    (name, ds), = resolve(cfg, ['RAIN100L'])
    assert name == 'RAIN100L' and ds['gt_root'].endswith('Rain100L/target')
    with pytest.raises(TestSetError, match='unknown test set.*Rain100X.*Test100, Rain100H, Rain100L'):
        resolve(cfg, ['Rain100X'])
    promptir = Config.fromfile(os.path.join(ROOT, 'configs', 'promptir_allinone.py'))
    assert [n for n, _ in resolve(promptir, ['all'])] == ['bsd68', 'rain100l', 'sots']
