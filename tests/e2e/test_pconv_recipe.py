"""Partial Convolutions configs through tools/train.py + tools/test.py on tiny data, and the released
MMagic checkpoint layout scored by tools/test.py (the recipe and one training step checked by hand:
tests/models/test_pconv_recipe.py)."""
import json
import os
import sys

import cv2
import numpy as np
import pytest
import torch

from tests.helpers import ROOT, cfg_option_args, run_tool, train_then_test
from tests.models.test_aotgan_recipe import write_data  # non-square images in the benchmark layouts
from tests.models.test_pconv_recipe import CONFIGS, options


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_trains_and_tools_test_scores_it(name, tmp_path):
    cfg_path = os.path.join(ROOT, 'configs', f'{name}.py')
    opts = cfg_option_args(options(write_data(tmp_path / 'data', CONFIGS[name])))
    opts.append('custom_imports.imports=[tests.models.mmagic_transform_standins]')
    metrics = train_then_test(name, opts, tmp_path, timeout=900)
    assert {'MAE', 'PSNR', 'SSIM'} <= set(metrics)
    # an MMagic checkpoint ({'meta', 'state_dict': generator.*, 'optimizer'}) is scored directly
    from irkit.archs.pconv import PConvEncoderDecoder
    torch.manual_seed(1)
    net = PConvEncoderDecoder(encoder=dict(type='PConvEncoder', num_layers=4), decoder=dict(type='PConvDecoder',
                                                                                          num_layers=4))
    mm = tmp_path / 'pconv_256x256_stage2_4x2_fake.pth'
    torch.save({'meta': {'mmedit_version': '0.14.0', 'iter': 500000},
                'state_dict': {f'generator.{k}': v for k, v in net.state_dict().items()},
                'optimizer': {'generator': {'state': {}, 'param_groups': [{'lr': 5e-5, 'params': []}]}}}, mm)
    out2 = tmp_path / 'metrics_mmagic.json'
    run_tool([sys.executable, 'tools/test.py', cfg_path, str(mm), '--work-dir', str(tmp_path / 'wd2'),
              '--out', str(out2), '--cfg-options', *opts], timeout=900)
    assert json.loads(out2.read_text())['metrics']['PSNR'] != metrics['PSNR']
    # tools/inpaint.py on a size that is not a multiple of 2 ** num_layers
    img, mask = tmp_path / 'img.png', tmp_path / 'mask.png'
    cv2.imwrite(str(img), (np.random.default_rng(0).random((37, 53, 3)) * 255).astype(np.uint8))
    m = np.zeros((37, 53), np.uint8)
    m[10:20, 15:40] = 255
    cv2.imwrite(str(mask), m)
    res = tmp_path / 'filled.png'
    run_tool([sys.executable, 'tools/inpaint.py', cfg_path, str(mm), '--img', str(img), '--mask', str(mask),
              '--out', str(res), '--cfg-options', *opts], timeout=600)
    filled, orig = cv2.imread(str(res)), cv2.imread(str(img))
    assert filled.shape == (37, 53, 3)
    keep = m == 0
    assert np.array_equal(filled[keep], orig[keep]) and not np.array_equal(filled[~keep], orig[~keep])
