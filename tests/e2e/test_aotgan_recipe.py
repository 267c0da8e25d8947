"""AOT-GAN configs through tools/train.py + tools/test.py on tiny generated data (the recipe and one
training step checked by hand: tests/models/test_aotgan_recipe.py)."""
import json
import os
import sys

import numpy as np
import pytest
import torch

from tests.helpers import ROOT, cfg_option_args, run_tool
from tests.models.test_aotgan_recipe import CONFIGS, options, write_data


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_trains_and_tools_test_scores_it(name, tmp_path):
    cfg_path = os.path.join(ROOT, 'configs', f'{name}.py')
    opts = cfg_option_args(options(write_data(tmp_path / 'data', CONFIGS[name])))
    wd = tmp_path / 'wd'
    run_tool([sys.executable, 'tools/train.py', cfg_path, '--work-dir', str(wd), '--cfg-options', *opts],
             timeout=600)
    assert (wd / 'iter_2.pth').is_file()
    out = tmp_path / 'metrics.json'
    run_tool([sys.executable, 'tools/test.py', cfg_path, str(wd), '--work-dir', str(wd), '--out', str(out),
              '--save-images', str(tmp_path / 'results'), '--cfg-options', *opts], timeout=600)
    metrics = json.loads(out.read_text())['metrics']
    assert {'MAE', 'PSNR', 'SSIM', 'MSE'} <= set(metrics) and all(np.isfinite(v) for v in metrics.values())
    assert len(os.listdir(tmp_path / 'results')) >= 2
    # an official G*.pt (plain generator state_dict) is scored directly
    torch.manual_seed(1)
    from irkit.archs.aotgan import AOTGenerator
    torch.save(AOTGenerator(block_num=1).state_dict(), tmp_path / 'G0000000.pt')
    out2 = tmp_path / 'metrics_official.json'
    run_tool([sys.executable, 'tools/test.py', cfg_path, str(tmp_path / 'G0000000.pt'), '--work-dir',
              str(tmp_path / 'wd2'), '--out', str(out2), '--cfg-options', *opts], timeout=600)
    assert json.loads(out2.read_text())['metrics']['PSNR'] != metrics['PSNR']
