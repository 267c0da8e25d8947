import ast
import glob
import os

import pytest
from mmengine.config import Config

from irkit.registry import ConfigKeyError
from irkit.utils.config import load_config, validate_config

from tests.helpers import ROOT

CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_every_config_loads_and_validates(path):
    cfg = Config.fromfile(path)
    assert 'model' in cfg
    validate_config(cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_inheritance_at_most_two_deep(path):
    def bases(p):
        for node in ast.parse(open(p).read()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == '_base_' for t in node.targets):
                value = ast.literal_eval(node.value)
                return [value] if isinstance(value, str) else list(value)
        return []

    def depth(p):
        bs = bases(p)
        return 0 if not bs else 1 + max(depth(os.path.join(os.path.dirname(p), b)) for b in bs)
    assert depth(path) <= 2


def test_unknown_top_level_key_is_rejected(tmp_path):
    p = tmp_path / 'typo.py'
    p.write_text("_base_ = ['%s']\ntrian_cfg = dict(max_iters=3)\nmodel = dict(type='Restorer', "
                 "generator=dict(type='DnCNN'))\n" % os.path.join(ROOT, 'configs/_base_/default_runtime.py'))
    with pytest.raises(ConfigKeyError, match=r"'trian_cfg'.*did you mean 'train_cfg'"):
        load_config(str(p))


def test_unknown_argument_in_nested_types_is_rejected():
    demo = os.path.join(ROOT, 'configs/demo_denoise.py')
    with pytest.raises(ConfigKeyError, match=r"max_iter.*did you mean 'max_iters'"):
        load_config(demo, {'train_cfg.max_iter': 5})
    with pytest.raises(ConfigKeyError, match=r"Restorer got an unexpected argument 'los'.*'losses'"):
        load_config(demo, {'model.los': []})
    with pytest.raises(ConfigKeyError, match=r"unexpected argument 'intervall'.*'interval'"):
        load_config(demo, {'default_hooks.logger.intervall': 5})
    with pytest.raises(ConfigKeyError, match=r"batch_sise.*'batch_size'"):
        load_config(demo, {'train_dataloader.batch_sise': 5})


def test_cfg_options_override():
    cfg = load_config(os.path.join(ROOT, 'configs/demo_denoise.py'), {'train_cfg.max_iters': 7})
    assert cfg.train_cfg.max_iters == 7
    assert cfg.default_scope == 'irkit'
