import argparse
import ast
import glob
import importlib
import os
import subprocess

import pytest
from mmengine.config import Config

from irkit.registry import ConfigKeyError
from irkit.utils.config import ConfigError, DictAction, load_config, validate_config

from tests.helpers import ROOT



def shipped_configs():
    """The repository's configs: those git tracks (a user's own configs in configs/, e.g. the
    README's mynet_demo.py, are not irkit's to check); every configs/*.py outside a git
    checkout."""
    try:
        out = subprocess.run(['git', 'ls-files', 'configs/*.py'], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return sorted(os.path.join(ROOT, p) for p in out.stdout.split() if p.count('/') == 1)
    return sorted(glob.glob(os.path.join(ROOT, 'configs', '*.py')))


CONFIGS = shipped_configs()


def load_for_test(path):
    """``Config.fromfile`` for the configs in configs/. A config with ``custom_imports`` is a
    user's plugin config (irkit's own configs need none, e.g. the README's
    ``configs/mynet_demo.py``): it is skipped when its module is not importable here, so a
    plugin that is only on PYTHONPATH for training does not fail the suite."""
    cfg = Config.fromfile(path, import_custom_modules=False)
    imports = (cfg.get('custom_imports') or {}).get('imports') or []
    for mod in [imports] if isinstance(imports, str) else imports:
        try:
            importlib.import_module(mod)
        except ImportError as e:
            if mod.split('.')[0] in ('irkit', 'tests'):
                raise  # irkit's own modules must import
            pytest.skip(f'{os.path.basename(path)}: plugin config, its module {mod!r} is not importable ({e})')
    return cfg


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_every_config_loads_and_validates(path):
    cfg = load_for_test(path)
    assert 'model' in cfg
    validate_config(cfg)


def test_plugin_config_with_unimportable_module_is_skipped(tmp_path):
    p = tmp_path / 'plugin.py'
    p.write_text(f"_base_ = ['{ROOT}/configs/demo_denoise.py']\n"
                 "custom_imports = dict(imports=['not_installed_pkg.net'], allow_failed_imports=False)\n")
    with pytest.raises(pytest.skip.Exception, match="plugin config.*'not_installed_pkg.net'"):
        load_for_test(str(p))


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


# --cfg-options values: mmengine's scalars and lists, plus dict literals read without running anything
def _parse(*items):
    p = argparse.ArgumentParser()
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(['--cfg-options', *items]).cfg_options


def test_scalars_and_lists_as_mmengine_reads_them():
    got = _parse('a=1', 'b=0.5', 'c=None', 'd=[1,2]', 'e=(3,4)', 'f=x', 'g=[a,b]', 'h=True')
    assert got == {'a': 1, 'b': 0.5, 'c': None, 'd': [1, 2], 'e': (3, 4), 'f': 'x', 'g': ['a', 'b'],
                   'h': True}


def test_dict_literals_become_dicts():
    got = _parse("val_evaluator=[{'type':'PSNR','crop_border':4},{'type':'SSIM'}]",
                 "model.loss={'type':'L1Loss','loss_weight':1.0}")
    assert got == {'val_evaluator': [{'type': 'PSNR', 'crop_border': 4}, {'type': 'SSIM'}],
                   'model.loss': {'type': 'L1Loss', 'loss_weight': 1.0}}


@pytest.mark.parametrize('val', ["{'type':PSNR}", "{__import__('os').system('true'):1}", "{'a':1"])
def test_a_bad_or_executable_dict_is_a_config_error(val):
    with pytest.raises(ConfigError, match=r"--cfg-options x=.*cannot read the value of 'x' as a Python literal"):
        _parse(f'x={val}')


def test_repeated_options_accumulate():
    p = argparse.ArgumentParser()
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(['--cfg-options', 'a=1', '--cfg-options', 'b={"k":2}'])
    assert args.cfg_options == {'a': 1, 'b': {'k': 2}}
