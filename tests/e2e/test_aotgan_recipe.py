"""AOT-GAN configs through tools/train.py + tools/test.py on tiny generated data (the recipe and one
training step checked by hand: tests/models/test_aotgan_recipe.py)."""
import json
import os
import sys

import pytest
import torch

from tests.helpers import ROOT, cfg_option_args, run_tool, train_then_test
from tests.models.test_aotgan_recipe import CONFIGS, options, write_data


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_trains_and_tools_test_scores_it(name, tmp_path):
    cfg_path = os.path.join(ROOT, 'configs', f'{name}.py')
    opts = cfg_option_args(options(write_data(tmp_path / 'data', CONFIGS[name])))
    metrics = train_then_test(name, opts, tmp_path, timeout=600)
    assert {'MAE', 'PSNR', 'SSIM', 'MSE'} <= set(metrics)
    # an official G*.pt (plain generator state_dict) is scored directly
    torch.manual_seed(1)
    from irkit.archs.aotgan import AOTGenerator
    torch.save(AOTGenerator(block_num=1).state_dict(), tmp_path / 'G0000000.pt')
    out2 = tmp_path / 'metrics_official.json'
    run_tool([sys.executable, 'tools/test.py', cfg_path, str(tmp_path / 'G0000000.pt'), '--work-dir',
              str(tmp_path / 'wd2'), '--out', str(out2), '--cfg-options', *opts], timeout=600)
    assert json.loads(out2.read_text())['metrics']['PSNR'] != metrics['PSNR']
