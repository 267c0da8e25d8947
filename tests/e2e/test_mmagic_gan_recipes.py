"""GLCIC, DeepFill v1 and DeepFill v2 configs through tools/train.py + tools/test.py on tiny data (the
recipes and one training step checked by hand: tests/models/test_mmagic_gan_recipes.py)."""
import pytest

from tests.helpers import cfg_option_args, train_then_test
from tests.models.test_mmagic_gan_recipes import CONFIGS, options, write_data


@pytest.mark.slow
@pytest.mark.parametrize('name', ['glcic_places', 'deepfillv2_celebahq'])
def test_config_trains_and_tools_test_scores_it(name, tmp_path):
    opts = cfg_option_args(options(name, write_data(tmp_path / 'data', CONFIGS[name])))
    if name.startswith('glcic'):  # all three phases within the 2 iterations: D alone at 0, both at 1
        opts += ['model.disc_start_iter=0', 'model.generator_pause=[0,1]', 'model.adv_start_iter=1']
    metrics = train_then_test(name, opts, tmp_path, timeout=900)
    assert {'MAE', 'PSNR', 'SSIM'} <= set(metrics)
