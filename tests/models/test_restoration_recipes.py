"""The MPRNet / Restormer / PromptIR configs load and carry the published recipes."""
import os

import pytest
from mmengine import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESTORMER = ['restormer_rain13k', 'restormer_gopro', 'restormer_dpdd_single', 'restormer_dpdd_dual',
             'restormer_sidd', 'restormer_gaussian_color', 'restormer_gaussian_gray']
MPRNET = {'mprnet_gopro': (96, 48, 32, 256, 396000), 'mprnet_rain13k': (40, 20, 16, 256, 214250),
          'mprnet_sidd': (80, 48, 32, 128, 480000)}


def load(name):
    return Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))


@pytest.mark.parametrize('name', sorted(MPRNET))
def test_mprnet_recipes(name):
    cfg = load(name)
    n_feat, s_unet, s_ors, patch, iters = MPRNET[name]
    g = cfg.model.generator
    assert (g.type, g.n_feat, g.scale_unetfeats, g.scale_orsnetfeats) == ('MPRNet', n_feat, s_unet, s_ors)
    assert cfg.model.type == 'Restorer' and cfg.model.deep_supervision and cfg.model.pad_multiple == 8
    assert cfg.train_cfg.max_iters == iters and cfg.train_dataloader.batch_size == 16
    assert cfg.optim_wrapper.optimizer.type == 'Adam' and cfg.optim_wrapper.optimizer.lr == 2e-4
    crop = [t for t in cfg.train_pipeline if t.type == 'PairedRandomCrop'][0]
    assert crop.gt_patch_size == patch
    losses = {loss.type: loss.loss_weight for loss in cfg.model.losses}
    assert losses == ({'CharbonnierLoss': 1.0} if name == 'mprnet_sidd'
                      else {'CharbonnierLoss': 1.0, 'EdgeLoss': 0.05})
    # official Denoising train.py: Charbonnier(clamp(restored[j], 0, 1), target) per stage
    assert cfg.model.get('clamp_train_outputs', False) == (name == 'mprnet_sidd')
    warm, cos = cfg.param_scheduler
    assert warm.end == cos.begin == iters * 3 // {396000: 3000, 214250: 250, 480000: 80}[iters]
    assert cos.eta_min == 1e-6


@pytest.mark.parametrize('name', RESTORMER)
def test_restormer_recipes(name):
    cfg = load(name)
    g = cfg.model.generator
    assert g.type == 'Restormer' and g.dim == 48 and list(g.num_blocks) == [4, 6, 6, 8]
    denoise = 'sidd' in name or 'gaussian' in name
    assert g.LayerNorm_type == ('BiasFree' if denoise else 'WithBias')
    assert g.dual_pixel_task == ('dual' in name) and g.inp_channels == {
        'restormer_dpdd_dual': 6, 'restormer_gaussian_gray': 1}.get(name, 3)
    assert cfg.train_cfg.max_iters == 300000 and cfg.train_dataloader.batch_size == 8
    opt = cfg.optim_wrapper
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == ('AdamW', 3e-4, 1e-4)
    assert opt.clip_grad.max_norm == 0.01
    (cos,) = cfg.param_scheduler
    assert (cos.begin, cos.T_max, cos.eta_min) == (92000, 208000, 1e-6)
    hooks = {h.type: h for h in cfg.custom_hooks}
    prog = hooks['ProgressivePatchHook']
    assert list(prog.gt_sizes) == [128, 160, 192, 256, 320, 384]
    assert list(prog.mini_batch_sizes) == [8, 5, 4, 2, 1, 1] and sum(prog.iters) == 300000
    assert ('MixUpHook' in hooks) == denoise
    assert [loss.type for loss in cfg.model.losses] == ['L1Loss']


def test_promptir_recipe():
    cfg = load('promptir_allinone')
    assert cfg.model.generator.type == 'PromptIR' and cfg.model.generator.decoder is True
    assert cfg.model.pad_multiple == 16
    ds = cfg.train_dataloader.dataset
    assert list(ds.repeats) == [3, 3, 3, 120, 1]
    assert cfg.train_dataloader.batch_size == 8 and cfg.train_cfg.max_iters == 120 * 4450
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.01
    assert cfg.optim_wrapper.optimizer.lr == 2e-4


@pytest.mark.parametrize('name', ['mprnet_gopro', 'mprnet_rain13k', 'mprnet_sidd', 'restormer_rain13k',
                                  'restormer_gopro', 'restormer_sidd', 'restormer_dpdd_single',
                                  'restormer_dpdd_dual', 'restormer_gaussian_color',
                                  'restormer_gaussian_gray', 'promptir_allinone'])
def test_configs_validate(name):
    import irkit.engine.runner  # noqa: F401  (registers the runner's samplers/loops)
    from irkit.utils.config import load_config
    load_config(os.path.join(ROOT, 'configs', f'{name}.py'))


@pytest.mark.parametrize('name', ['restormer_dpdd_single', 'restormer_dpdd_dual'])
def test_dpdd_loaders_read_16bit_pngs_like_the_official_code(name, tmp_path):
    """DPDD ships 16-bit PNGs: the single-image recipe reads them as cv2.imread does (high
    byte / 255, BasicSR's loader and test_single_image_defocus_deblur.py), the dual-pixel one
    at full depth / 65535 (imfrombytesDP, test_dual_pixel_defocus_deblur.py)."""
    import cv2
    import numpy as np

    from irkit.registry import TRANSFORMS
    raw = np.array([[[0, 255, 256], [383, 511, 65535]], [[65280, 65407, 128], [1, 2, 40000]]],
                   np.uint16)
    path = str(tmp_path / 'x.png')
    assert cv2.imwrite(path, raw)
    bgr = raw.astype(np.float64)
    expected = (np.floor(bgr / 256) / 255 if name.endswith('single') else bgr / 65535)[..., ::-1]
    cfg = load(name)
    loaders = [t for p in (cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline)
               for t in p if t.type == 'LoadImageFromFile']
    assert len(loaders) == (6 if name.endswith('dual') else 4)
    for t in loaders:
        out = TRANSFORMS.build(dict(t)).transform({f'{t.key}_path': path})[t.key]
        np.testing.assert_allclose(out, expected, atol=1e-7, err_msg=str(t))
    if name.endswith('single'):  # the same numbers as the official loader
        np.testing.assert_allclose(expected, cv2.imread(path)[..., ::-1] / 255.0, atol=0)
