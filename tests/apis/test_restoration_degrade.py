"""irkit.apis.restoration.degrade / restore(model, {'gt': clean}): the test pipeline's synthesised input."""
import pytest
import torch
from mmengine.config import Config

from irkit.apis import init_model, restore
from irkit.apis.restoration import degrade
from irkit.registry import DATASETS

PAIRED = """
model = dict(type='Restorer', generator=dict(type='DnCNN', in_nc=3, out_nc=3, nc=4, nb=2))
test_pipeline = [dict(type='LoadImageFromFile', key='lq'), dict(type='LoadImageFromFile', key='gt'),
                 dict(type='PackInputs', keys=['lq', 'gt'])]
test_dataloader = dict(dataset=dict(type='ImageFolderDataset', data_root='x', pipeline=test_pipeline))
"""


def test_degrade_is_the_test_sets_input(repo_root):
    torch.manual_seed(0)
    cfg = f'{repo_root}/configs/demo_denoise.py'
    model = init_model(cfg, cfg_options={'model.generator.nc': 4, 'model.generator.nb': 2})
    c = Config.fromfile(cfg)
    ds = DATASETS.build({**c.test_dataloader.dataset, 'data_root': f'{repo_root}/data/demo/test'})
    sample = next(ds[i] for i in range(len(ds)) if ds[i]['key'] == 'coffee')
    path = f'{repo_root}/data/demo/test/coffee.png'
    assert torch.equal(degrade(model, path), sample['lq'])
    batch = model.data_preprocessor({k: [v] for k, v in sample.items()})['batch']
    assert torch.equal(restore(model, {'gt': path}), model.predict(batch)[0]['pred'])


def test_configs_reading_degraded_files_say_so(tmp_path, repo_root):
    cfg = tmp_path / 'paired.py'
    cfg.write_text(PAIRED)
    model = init_model(str(cfg))
    with pytest.raises(ValueError, match="reads its input 'lq' from files instead of synthesising it from 'gt': "
                                         'pass the degraded image itself'):
        degrade(model, f'{repo_root}/data/demo/test/coffee.png')
