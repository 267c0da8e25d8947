"""benchmarks/demo_inpainting.py (the README's inpainting table) read in-process: every method's
options load and validate against its config, and the loss terms it drops are exactly those whose
networks need pretrained weights. Its run on the demo data: tests/e2e/test_demo_inpainting.py."""
import importlib.util
import os

import pytest

from tests.helpers import ROOT


def _script():
    spec = importlib.util.spec_from_file_location('demo_inpainting',
                                                  os.path.join(ROOT, 'benchmarks', 'demo_inpainting.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_all_eight_methods_validate_with_their_options(tmp_path):
    mod = _script()
    specs = mod.methods(300, str(tmp_path / 'masks'))
    assert sorted(specs) == sorted(['mat', 'comodgan', 'lama', 'aotgan', 'deepfillv1', 'deepfillv2',
                                    'glcic', 'pconv'])
    cfgs = mod.check(specs, 300, 2, str(tmp_path / 'configs'))
    for name, cfg in cfgs.items():
        assert cfg.train_cfg.max_iters == 300 and cfg.train_dataloader.batch_size == 2, name
        assert cfg.train_dataloader.dataset.data_root == 'data/demo/train' and cfg.val_dataloader is None
        loss_types = {loss['type'] for loss in cfg.model.get('losses') or []}
        assert not loss_types & set(mod.NO_WEIGHT_LOSSES), name
    # GLCIC's schedule, MMagic's 90k / 100k of 500k, scaled to 300 iterations
    glcic = cfgs['glcic'].model
    assert (glcic.disc_start_iter, tuple(glcic.generator_pause), glcic.adv_start_iter) == (55, (55, 61), 61)
    assert cfgs['aotgan'].train_dataloader.dataset.pipeline[4].mask_root == str(tmp_path / 'masks')
    assert cfgs['mat'].model.perceptual_loss is None


@pytest.mark.parametrize('config,dropped', [('configs/lama_places.py', {'ResNetPL'}),
                                            ('configs/aotgan_places.py', {'PerceptualLoss', 'StyleLoss'}),
                                            ('configs/deepfillv2_places.py', set())])
def test_training_config_drops_only_the_pretrained_loss_terms(tmp_path, config, dropped):
    from mmengine.config import Config
    mod = _script()
    path = mod.training_config(config, str(tmp_path))
    before = [loss.to_dict() for loss in Config.fromfile(os.path.join(ROOT, config)).model.get('losses') or []]
    if not dropped:
        assert path == config
        return
    after = [loss.to_dict() for loss in Config.fromfile(path).model.losses]
    assert after == [loss for loss in before if loss['type'] not in dropped]
    assert {loss['type'] for loss in before} - {loss['type'] for loss in after} == dropped
