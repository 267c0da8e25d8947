"""``--cfg-options`` values: mmengine's scalars and lists, plus dict literals read without
running anything."""
import argparse

import pytest

from irkit.utils.config import ConfigError, DictAction


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
