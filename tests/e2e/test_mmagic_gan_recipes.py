"""GLCIC, DeepFill v1 and DeepFill v2 configs through tools/train.py + tools/test.py on tiny data (the
recipes and one training step checked by hand: tests/models/test_mmagic_gan_recipes.py)."""
import json
import os
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, run_tool
from tests.models.test_mmagic_gan_recipes import CONFIGS, options, write_data


@pytest.mark.slow
@pytest.mark.parametrize('name', ['glcic_places', 'deepfillv2_celebahq'])
def test_config_trains_and_tools_test_scores_it(name, tmp_path):
    cfg_path = os.path.join(ROOT, 'configs', f'{name}.py')
    opts = []
    for k, v in options(name, write_data(tmp_path / 'data', CONFIGS[name])).items():
        if isinstance(v, dict):
            opts += [f'{k}.{kk}={vv}' for kk, vv in v.items()]
            continue
        v = 'None' if v is None else (f'[{v[0]},{v[1]}]' if isinstance(v, tuple) else v)
        opts.append(f'{k}={v}')
    if name.startswith('glcic'):  # all three phases within the 2 iterations: D alone at 0, both at 1
        opts += ['model.disc_start_iter=0', 'model.generator_pause=[0,1]', 'model.adv_start_iter=1']
    wd = tmp_path / 'wd'
    run_tool([sys.executable, 'tools/train.py', cfg_path, '--work-dir', str(wd), '--cfg-options', *opts],
             timeout=900)
    assert (wd / 'iter_2.pth').is_file()
    out = tmp_path / 'metrics.json'
    run_tool([sys.executable, 'tools/test.py', cfg_path, str(wd), '--work-dir', str(wd), '--out', str(out),
              '--save-images', str(tmp_path / 'results'), '--cfg-options', *opts], timeout=900)
    metrics = json.loads(out.read_text())['metrics']
    assert {'MAE', 'PSNR', 'SSIM'} <= set(metrics) and all(np.isfinite(v) for v in metrics.values())
    assert len(os.listdir(tmp_path / 'results')) >= 2
