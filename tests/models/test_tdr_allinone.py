"""TDR stage 3 around all-in-one data, the DINOv2 reference matcher, the new configs
(the DINOv2 arch itself: tests/archs/test_dinov2.py)."""
import os

import cv2
import numpy as np
import pytest
import torch

from irkit.archs.dinov2 import DinoVisionTransformer
from irkit.models.tdr import select_ref_crops
from irkit.registry import DATASETS
from tests.archs.test_dinov2 import TINY_VIT, _vit
from tests.helpers import ROOT


# ---------------------------------------------------------------------------
# DINOv2 matcher
# ---------------------------------------------------------------------------


def test_dinov2_selects_the_crop_holding_the_lq_patch():
    """Reference 56x56, LQ = (noisy) crop at a known offset; stride 28 // 4 = 7."""
    vit = _vit()
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(2, 3, 56, 56, generator=g)
    offsets = [(14, 21), (28, 7)]
    lq = torch.stack([ref[i, :, y:y + 28, x:x + 28] for i, (y, x) in enumerate(offsets)])
    noisy = lq + 0.02 * torch.randn(lq.shape, generator=g)
    crops = select_ref_crops(noisy, ref, vit, multiple=14)
    torch.testing.assert_close(crops, lq)
    # 32-pixel patches are resized to 42 (a multiple of 14) before matching, as in the release
    lq32 = ref[:1, :, 16:48, 8:40]
    torch.testing.assert_close(select_ref_crops(lq32, ref[:1], vit, multiple=14), lq32)


# ---------------------------------------------------------------------------
# all-in-one data with guidance
# ---------------------------------------------------------------------------


def _write(path, size=40, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(str(path))) % 2 ** 32 + seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def _allinone_data(root):
    for name in ('a', 'b'):
        _write(root / 'Train/Denoise' / f'{name}.png')
        _write(root / 'Train/guidance/denoise' / f'{name}.png', 56)
    _write(root / 'Train/Derain/gt/norain-1.png')
    _write(root / 'Train/Derain/rainy/rain-1.png')
    _write(root / 'Train/guidance/derain/1.png', 56)
    _write(root / 'Train/Dehaze/original/0001.png')
    _write(root / 'Train/Dehaze/synthetic/0001_0.8_0.2.png')


def _load_cfg(name):
    import irkit.engine.runner  # noqa: F401  (registers the runner's loops/samplers)
    from irkit.utils.config import load_config
    return load_config(os.path.join(ROOT, 'configs', f'{name}.py'))


def _retarget(cfg_node, root):
    """Point the config's data roots at ``root`` and shrink the crops to 32."""
    if isinstance(cfg_node, dict):
        for k, v in list(cfg_node.items()):
            if isinstance(v, str) and v.startswith('data/PromptIR'):
                cfg_node[k] = v.replace('data/PromptIR', str(root))
            elif k in ('crop_size', 'gt_patch_size'):
                cfg_node[k] = 32
            else:
                _retarget(v, root)
    elif isinstance(cfg_node, list):
        for v in cfg_node:
            _retarget(v, root)


@pytest.mark.parametrize('name', ['tdr_promptir_allinone', 'tdr_restormer_gopro', 'tdr_nafnet_gopro'])
def test_configs_validate(name):
    cfg = _load_cfg(name)
    assert cfg.model.type == 'RefRestorer'
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['masa'].lr_mult == 0.5  # ref_lr 1e-4


def test_guidance_dataset_around_allinone(tmp_path):
    cfg = _load_cfg('tdr_promptir_allinone')
    _allinone_data(tmp_path)
    _write(tmp_path / 'Train/guidance/dehaze/0001_0.8_0.2.png', 56)
    _retarget(cfg.train_dataloader, tmp_path)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(ds) == 2 * 14 * 3 + 360 + 1
    by_task = {}
    for i in (0, 1, 28, 57, 84, 84 + 359, 84 + 360):
        s = ds[i]
        by_task[s['task']] = s
        assert s['ref'].shape == (3, 56, 56) and s['lq'].shape == (3, 32, 32)
        assert sorted(s) == ['gt', 'gt_path', 'key', 'lq', 'ref', 'ref_path', 'task', 'task_id']
    assert set(by_task) == {'denoise_15', 'denoise_25', 'denoise_50', 'derain', 'dehaze'}
    assert by_task['derain']['ref_path'].endswith(os.path.join('guidance', 'derain', '1.png'))
    assert by_task['dehaze']['ref_path'].endswith(os.path.join('dehaze', '0001_0.8_0.2.png'))
    assert by_task['denoise_50']['task_id'] == 2
    os.remove(tmp_path / 'Train/guidance/dehaze/0001_0.8_0.2.png')
    with pytest.raises(FileNotFoundError, match='1 of 445 samples.*0001_0.8_0.2'):
        DATASETS.build(cfg.train_dataloader.dataset)


def test_tiny_promptir_allinone_training_run(tmp_path):
    """Two iterations of the all-in-one config (tiny PromptIR-RF, tiny DINOv2 matcher) on CPU."""
    from irkit.engine.runner import IrkitRunner
    cfg = _load_cfg('tdr_promptir_allinone')
    _allinone_data(tmp_path)
    _write(tmp_path / 'Train/guidance/dehaze/0001_0.8_0.2.png', 56)
    _retarget(cfg.train_dataloader, tmp_path)
    cfg.model.generator.update(num_blocks=[1, 0, 0, 1], num_refinement_blocks=0, ffn_expansion_factor=1.0,
                               ext_n_blocks=[1, 1, 1, 1], reffusion_n_blocks=[1, 1, 1, 0], lr_block_size=6)
    cfg.model.ref_matcher = dict(type='DinoVisionTransformer', **TINY_VIT)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='IterTrainLoop', max_iters=2, val_interval=100)
    for k in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[k] = None
    cfg.default_hooks.checkpoint.update(interval=2, save_best=None)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'wd')
    runner = IrkitRunner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / 'wd' / 'iter_2.pth').is_file()
    model = runner.model
    assert not any(isinstance(m, DinoVisionTransformer) for m in model.modules())  # not saved
    # two AdamW groups: the `masa*` parameters at half the backbone's lr (1e-4 vs 2e-4)
    groups = runner.optim_wrapper.optimizer.param_groups
    masa = {id(p) for n, p in model.named_parameters() if 'masa' in n}
    lrs = {('masa' if id(g['params'][0]) in masa else 'backbone'): g['lr'] for g in groups}
    assert lrs['masa'] == pytest.approx(0.5 * lrs['backbone'])
    sd = model.state_dict()
    assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())
    assert sd['generator.masa_blk_enc_level1.0.alpha'].abs().item() > 0  # the fusion trained


def test_guidance_names_per_task(tmp_path):
    """Rain100L keys are the numbers ('1' from rain-1.png); guidance rendered straight from the
    rainy folder is named rain-1.png, which a per-task ref_name finds."""
    cfg = _load_cfg('tdr_promptir_allinone')
    _allinone_data(tmp_path)
    _write(tmp_path / 'Train/guidance/dehaze/0001_0.8_0.2.png', 56)
    os.rename(tmp_path / 'Train/guidance/derain/1.png', tmp_path / 'Train/guidance/derain/rain-1.png')
    _retarget(cfg.train_dataloader, tmp_path)
    with pytest.raises(FileNotFoundError, match="ref_name='{key}'.*: 1"):
        DATASETS.build(cfg.train_dataloader.dataset)
    cfg.train_dataloader.dataset.ref_name = {'derain': '{lq_stem}'}
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    s = ds[84]
    assert s['task'] == 'derain' and s['ref_path'].endswith(os.path.join('derain', 'rain-1.png'))
    assert ds[0]['ref_path'].endswith(os.path.join('denoise', ds[0]['key'] + '.png'))
