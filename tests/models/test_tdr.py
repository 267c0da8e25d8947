"""TDR stage-1/2 mapper training, stage-3 RefRestorer, GuidanceDataset, end to end."""
import cv2
import numpy as np
import pytest
import torch
from torch import nn

from irkit.models.tdr import RefRestorer, select_ref_crops
from irkit.registry import MODELS
from tests.archs.test_ref_fusion import TINY
from tests.models.conftest import TINY_CLEAN, TINY_MAPPER

TINY_GEN = dict(type='NAFNetRefFusion', **TINY)


def _restorer(**kw):
    return MODELS.build(dict(type='RefRestorer', generator=TINY_GEN,
                             losses=[dict(type='L1Loss', loss_weight=1.0)], **kw))


def _train(model, batch, params, steps=3, lr=1e-2):
    opt = torch.optim.AdamW(params, lr=lr)
    losses = []
    for _ in range(steps):
        data = model.data_preprocessor(batch, training=True)
        loss = sum(model(**data, mode='loss').values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_ref_restorer_trains_and_predicts():
    torch.manual_seed(0)
    model = _restorer()
    batch = dict(lq=[torch.rand(3, 40, 56) for _ in range(2)], gt=[torch.rand(3, 40, 56) for _ in range(2)],
                 ref=[torch.rand(3, 64, 64) for _ in range(2)], key=['a', 'b'])
    losses = _train(model, batch, model.parameters(), steps=4)
    assert losses[-1] < losses[0]
    model.eval()
    out = model(**model.data_preprocessor(batch), mode='predict')
    assert len(out) == 2 and out[0]['pred'].shape == (3, 40, 56) and out[1]['key'] == 'b'
    assert 0 <= out[0]['pred'].min() and out[0]['pred'].max() <= 1
    # predict == the generator on (lq, ref), clamped
    data = model.data_preprocessor(batch)['batch']
    with torch.no_grad():
        direct = model.generator(data['lq'], data['ref']).clamp(0, 1)
    torch.testing.assert_close(out[0]['pred'], direct[0])


def test_ref_restorer_self_ensemble_and_missing_ref():
    torch.manual_seed(0)
    model = _restorer(self_ensemble=True).eval()
    lq, ref = torch.rand(1, 3, 24, 40), torch.rand(1, 3, 32, 32)
    y = model.inference(lq, ref)
    # transposed input with transposed reference restores the transposed result
    yt = model.inference(lq.transpose(-1, -2), ref.transpose(-1, -2))
    torch.testing.assert_close(yt.transpose(-1, -2), y, atol=1e-5, rtol=1e-5)
    with pytest.raises(KeyError, match='ref'):
        model(batch=dict(lq=lq, gt=lq), mode='loss')


def test_select_ref_crops_finds_the_matching_crop():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 32, 32, generator=g)
    # stride = 16 // 4 = 4: crops start at multiples of 4
    lq = torch.stack([ref[0, :, 8:24, 4:20], ref[1, :, 16:32, 12:28]])
    crops = select_ref_crops(lq, ref, nn.Flatten(), multiple=2)
    torch.testing.assert_close(crops, lq)


def test_ref_matcher_selects_training_crop():
    torch.manual_seed(0)
    model = _restorer(ref_matcher=nn.Flatten(), ref_matcher_multiple=2)
    assert not any(isinstance(m, nn.Flatten) for m in model.modules())  # not saved
    ref = torch.rand(1, 3, 64, 64)
    lq, gt = ref[:, :, 16:48, 8:40].clone(), torch.rand(1, 3, 32, 32)
    loss = model(batch=dict(lq=lq, gt=gt, ref=ref), mode='loss')['loss_l1']
    expected = (model.generator(lq, lq) - gt).abs().mean()
    torch.testing.assert_close(loss, expected)


# ---------------------------------------------------------------------------
# with the diffusion extra
# ---------------------------------------------------------------------------


def _mapper_model(tiny_sd, stage, **kw):
    sd, clip = tiny_sd
    return MODELS.build(dict(type='TDRMapperModel', stage=stage, sd_path=str(sd), clip_path=str(clip),
                             mapper=dict(TINY_MAPPER), val_steps=1, resolution=16, **kw))


@pytest.mark.diffusion
def test_stage1_trains_mapper_and_kv(tiny_sd):
    pytest.importorskip('diffusers', reason="needs the 'diffusion' extra")
    torch.manual_seed(0)
    model = _mapper_model(tiny_sd, 'i2t')
    keys = list(model.state_dict())
    assert keys and all(k.startswith('mapper.') for k in keys)
    assert any(k.endswith('attn2_to_k.weight') for k in keys)
    unet_before = {k: v.clone() for k, v in model._comps.unet.state_dict().items()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = dict(gt=[torch.rand(3, 16, 16) for _ in range(2)])
    losses = _train(model, batch, [p for p in model.parameters() if p.requires_grad], steps=2, lr=1e-3)
    assert all(np.isfinite(losses))
    after = model.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before if 'mapping_0.0.weight' in k)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith('to_k.weight'))
    assert all(torch.equal(unet_before[k], v) for k, v in model._comps.unet.state_dict().items())
    out = model(batch=model.data_preprocessor(batch)['batch'], mode='predict')
    assert out[0]['pred'].shape == (3, 16, 16) and out[0]['gt'].shape == (3, 16, 16)


@pytest.mark.diffusion
def test_stage2_trains_clean_mapper_only(tiny_sd, tmp_path):
    pytest.importorskip('diffusers', reason="needs the 'diffusion' extra")
    torch.manual_seed(0)
    with pytest.raises(ValueError, match='mapper_path'):
        _mapper_model(tiny_sd, 'tr')
    stage1 = _mapper_model(tiny_sd, 'i2t')
    torch.save(stage1.release_state_dict(), tmp_path / 'mapper.pt')
    model = _mapper_model(tiny_sd, 'tr', clean_mapper=dict(TINY_CLEAN),
                          mapper_path=str(tmp_path / 'mapper.pt'))
    assert all(k.startswith('clean_mapper.') for k in model.state_dict())
    frozen = {k: v.clone() for k, v in model._comps.mapper.state_dict().items()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = dict(gt=[torch.rand(3, 16, 16) for _ in range(2)], lq=[torch.rand(3, 16, 16) for _ in range(2)])
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and len(params) == len(list(model.clean_mapper.parameters()))
    _train(model, batch, params, steps=2, lr=1e-3)
    assert all(torch.equal(frozen[k], v) for k, v in model._comps.mapper.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.clip_key == 'lq' and stage1.clip_key == 'gt'


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))


@pytest.mark.diffusion
def test_end_to_end_guidance_to_restoration(tiny_sd, tmp_path):
    """tiny SD: render guidance with the tool (resumable) -> GuidanceDataset -> RefRestorer."""
    pytest.importorskip('diffusers', reason="needs the 'diffusion' extra")
    from irkit.registry import DATASETS
    from tools.tdr_generate_guidance import main as generate
    sd, clip = tiny_sd
    rng = np.random.default_rng(0)
    for name in ('x1', 'x2'):
        _write(tmp_path / 'lq' / f'{name}.png', rng.integers(0, 255, (30, 44, 3), dtype=np.uint8))
        _write(tmp_path / 'gt' / f'{name}.png', rng.integers(0, 255, (30, 44, 3), dtype=np.uint8))
    torch.manual_seed(0)
    stage1 = _mapper_model(tiny_sd, 'i2t')
    torch.save(stage1.release_state_dict(), tmp_path / 'mapper.pt')
    torch.save(nn.Module.state_dict(
        __import__('irkit.archs.tdr_mapper', fromlist=['CleanMapper']).CleanMapper(16, 16, 2, hidden_dim=8)),
        tmp_path / 'clean.pt')
    args = [str(tmp_path / 'lq'), str(tmp_path / 'ref'), '--sd-path', str(sd), '--clip-path', str(clip),
            '--mapper', str(tmp_path / 'mapper.pt'), '--clean-mapper', str(tmp_path / 'clean.pt'),
            '--num-words', '2', '--mapper-hidden-dim', '8', '--steps', '2', '--resolution', '16',
            '--device', 'cpu', '--end', '1']
    assert generate(args) == 0
    assert sorted(p.name for p in (tmp_path / 'ref').iterdir()) == ['x1.png']
    first = (tmp_path / 'ref' / 'x1.png').read_bytes()
    assert generate(args[:-2]) == 0  # resumes: renders x2 only, keeps x1
    assert (tmp_path / 'ref' / 'x1.png').read_bytes() == first
    assert sorted(p.name for p in (tmp_path / 'ref').iterdir()) == ['x1.png', 'x2.png']

    ds = DATASETS.build(dict(type='GuidanceDataset', ref_root=str(tmp_path / 'ref'),
                             dataset=dict(type='PairedImageDataset', gt_root=str(tmp_path / 'gt'),
                                          lq_root=str(tmp_path / 'lq'))))
    s = ds[1]
    assert s['ref'].shape == (3, 16, 16) and s['lq'].shape == (3, 30, 44) and s['key'] == 'x2'
    assert s['ref_path'].endswith('x2.png')
    torch.manual_seed(0)
    model = _restorer()
    batch = {k: [ds[i][k] for i in range(2)] for k in ('lq', 'gt', 'ref', 'key')}
    losses = _train(model, batch, model.parameters(), steps=2)
    assert all(np.isfinite(losses))
    out = model.eval()(**model.data_preprocessor(batch), mode='predict')
    assert out[0]['pred'].shape == (3, 30, 44)


def test_guidance_dataset_reports_missing(tmp_path):
    from irkit.registry import DATASETS
    rng = np.random.default_rng(0)
    for name in ('a', 'b'):
        for d in ('lq', 'gt'):
            _write(tmp_path / d / f'{name}.png', rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
    _write(tmp_path / 'ref' / 'g_a.png', rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
    inner = dict(type='PairedImageDataset', gt_root=str(tmp_path / 'gt'), lq_root=str(tmp_path / 'lq'))
    with pytest.raises(FileNotFoundError, match="1 of 2 samples.*g_b"):
        DATASETS.build(dict(type='GuidanceDataset', dataset=inner, ref_root=str(tmp_path / 'ref'),
                            ref_name='g_{lq_stem}'))
    ds = DATASETS.build(dict(type='GuidanceDataset', dataset=inner, ref_root=str(tmp_path / 'ref'),
                             ref_name='g_{lq_stem}', strict=False))
    assert ds[0]['ref'].shape == (3, 8, 8)
    with pytest.raises(FileNotFoundError, match='no guidance image'):
        ds[1]
    with pytest.raises(FileNotFoundError, match='guidance folder not found'):
        DATASETS.build(dict(type='GuidanceDataset', dataset=inner, ref_root=str(tmp_path / 'none')))
