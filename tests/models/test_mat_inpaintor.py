"""MATInpaintor: the official two-player step on a tiny MAT, EMA, inference API."""
import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict

from tests.archs.tiny_mat import TINY_D, TINY_G


def _model(**kw):
    from irkit.registry import MODELS
    torch.manual_seed(0)
    cfg = dict(type='MATInpaintor', generator=dict(TINY_G), discriminator=dict(TINY_D),
               perceptual_loss=dict(type='MATPerceptualLoss', loss_weight=0.1, pretrained=False))
    cfg.update(kw)
    return MODELS.build(cfg)


def _batch(n=2, size=128):
    g = torch.Generator().manual_seed(1)
    masks = []
    for i in range(n):
        m = torch.ones(1, size, size)
        m[:, 20 + 10 * i:90, 30:100] = 0
        masks.append(m)
    return dict(gt=[torch.rand(3, size, size, generator=g) for _ in range(n)], mask=masks,
                key=[f'img{i}' for i in range(n)])


def test_train_step_updates_g_d_and_ema():
    m = _model(d_reg_interval=1, ema_kimg=0.001)
    ow = OptimWrapperDict(
        generator=OptimWrapper(torch.optim.Adam(m.generator.parameters(), lr=1e-3 * 4 / 5, betas=(0.0, 0.99 ** 0.8))),
        discriminator=OptimWrapper(torch.optim.Adam(m.discriminator.parameters(), lr=1e-3 * 16 / 17,
                                                    betas=(0.0, 0.99 ** (16 / 17)))))
    g0 = {k: v.clone() for k, v in m.generator.state_dict().items()}
    d0 = {k: v.clone() for k, v in m.discriminator.state_dict().items()}
    e0 = {k: v.clone() for k, v in m.generator_ema.named_parameters()}
    m.train()
    log = m.train_step(_batch(), ow)
    for k in ('loss_g', 'loss_g_stg1', 'loss_pcp', 'loss_d_fake', 'loss_d_fake_stg1', 'loss_d_real',
              'loss_d_real_stg1', 'loss_r1', 'loss_r1_stg1', 'l1'):
        assert k in log and torch.isfinite(log[k]), k
    # non-saturating logistic losses are softplus values: > 0
    assert all(float(log[k]) > 0 for k in ('loss_g', 'loss_d_fake', 'loss_d_real'))
    gsd, dsd = m.generator.state_dict(), m.discriminator.state_dict()
    assert not torch.equal(gsd['synthesis.first_stage.conv_first.conv.weight'],
                           g0['synthesis.first_stage.conv_first.conv.weight'])
    assert not torch.equal(dsd['fc1_stg1.weight'], d0['fc1_stg1.weight'])
    assert not torch.equal(gsd['mapping.w_avg'], g0['mapping.w_avg'])  # tracked in training
    # EMA: p_ema = lerp(p, p_ema_old, 0.5 ** (batch / (ema_kimg * 1000)))
    beta = 0.5 ** (2 / 1.0)
    for k, p in m.generator.named_parameters():
        assert torch.allclose(dict(m.generator_ema.named_parameters())[k], p.detach().lerp(e0[k], beta),
                              atol=1e-6), k
    assert torch.equal(m.generator_ema.state_dict()['mapping.w_avg'], gsd['mapping.w_avg'])
    assert all(not p.requires_grad for p in m.generator_ema.parameters())
    # the perceptual loss (VGG) is not part of the checkpoint
    assert not any(k.startswith('perceptual') for k in m.state_dict())


def test_style_mixing_and_training_truncation():
    m = _model(style_mixing_prob=1.0, truncation_psi=0.5)
    m.train()
    with torch.no_grad():
        m.generator.mapping.w_avg.normal_()
    z = torch.randn(2, 32)
    torch.manual_seed(5)
    ws = m.run_mapping(z, None)
    torch.manual_seed(5)
    cutoff = int(torch.empty([], dtype=torch.int64).random_(1, ws.shape[1]))
    torch.rand([])
    z2 = torch.randn_like(z)
    mp = m.generator.mapping
    mp.eval()
    ref1 = mp(z, None, truncation_psi=0.5)
    ref2 = mp(z2, None, truncation_psi=0.5)
    assert torch.allclose(ws[:, :cutoff], ref1[:, :cutoff], atol=1e-6)
    assert torch.allclose(ws[:, cutoff:], ref2[:, cutoff:], atol=1e-6)


def test_predict_uses_ema_const_noise_and_is_reproducible():
    m = _model()
    m.eval()
    with torch.no_grad():  # make EMA differ from G so we can tell which one predicts
        for p in m.generator_ema.parameters():
            p.add_(0.05)
    data = _batch()
    out1 = m.val_step(data)
    out2 = m.val_step(data)
    assert len(out1) == 2 and out1[0]['key'] == 'img0'
    for a, b, gt, mask in zip(out1, out2, data['gt'], data['mask']):
        assert a['pred'].shape == (3, 128, 128) and 0 <= a['pred'].min() and a['pred'].max() <= 1
        assert torch.equal(a['pred'], b['pred'])  # seeded from val_seed and the keys
        known = mask.bool().expand_as(gt)
        assert torch.allclose(a['pred'][known], gt[known], atol=1e-6)
        assert torch.allclose(a['gt'], gt, atol=1e-6)
    torch.manual_seed(240)
    batch = m.data_preprocessor(data, False)['batch']
    ema_out = m.inpaint(batch['gt'], batch['mask'], seed=m.seed_for(batch))  # [0, 1] in and out
    assert torch.allclose(ema_out, torch.stack([o['pred'] for o in out1]), atol=1e-6)
    with pytest.raises(ValueError, match='train_step'):
        m(batch, mode='loss')


def test_inpaint_api_reads_white_as_hole(tmp_path):
    import cv2
    from irkit.apis.inpainting import inpaint, read_mask
    m = _model().eval()
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)  # not the model size: resized and back
    mask = np.zeros((96, 160), np.uint8)
    mask[20:60, 40:120] = 255  # white = hole
    cv2.imwrite(str(tmp_path / 'img.png'), img[..., ::-1])
    cv2.imwrite(str(tmp_path / 'mask.png'), mask)
    known = read_mask(str(tmp_path / 'mask.png'))
    assert known.shape == (1, 1, 96, 160) and known[0, 0, 30, 50] == 0 and known[0, 0, 0, 0] == 1
    out = inpaint(m, str(tmp_path / 'img.png'), str(tmp_path / 'mask.png'), seed=3)
    again = inpaint(m, str(tmp_path / 'img.png'), str(tmp_path / 'mask.png'), seed=3)
    assert out.shape == (3, 96, 160) and torch.equal(out, again)
    ref = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    keep = known[0].bool().expand_as(ref)
    assert torch.allclose(out[keep], ref[keep], atol=1e-6)
    bad = np.zeros((50, 50), np.uint8)
    cv2.imwrite(str(tmp_path / 'small.png'), bad)
    with pytest.raises(ValueError, match='differs from the image size'):
        inpaint(m, str(tmp_path / 'img.png'), str(tmp_path / 'small.png'))


def test_places_config_without_data_names_the_layout(tmp_path):
    from irkit.registry import DATASETS
    from irkit.utils.config import load_config
    cfg = load_config('configs/mat_places.py')
    assert cfg.total_batch_size == 32 and cfg.train_dataloader.batch_size == 4
    g_opt, d_opt = cfg.optim_wrapper.generator.optimizer, cfg.optim_wrapper.discriminator.optimizer
    assert g_opt.lr == pytest.approx(8e-4) and g_opt.betas[1] == pytest.approx(0.991992, abs=1e-6)
    assert d_opt.lr == pytest.approx(9.4118e-4, abs=1e-8) and d_opt.betas[1] == pytest.approx(0.990585, abs=1e-6)
    assert cfg.train_cfg.max_iters == 1_562_500
    ds = dict(cfg.train_dataloader.dataset, data_root=str(tmp_path / 'missing' / 'data_large'))
    with pytest.raises(FileNotFoundError, match='Places365-Standard') as e:
        DATASETS.build(ds)
    assert 'data_large/' in str(e.value) and 'val_large/' in str(e.value)
    celeb = load_config('configs/mat_celebahq.py')
    assert celeb.train_dataloader.dataset.benchmark == 'celeba-hq' and celeb.train_cfg.max_iters == 781_250
