"""Metric classes: values from predict dicts, masks, quantisation, and 1 vs 2 processes."""
import os
import socket
import tempfile

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from irkit.metrics import psnr, ssim
from irkit.registry import METRICS
from tests.metrics import bsr_reference as ref

N_SAMPLES = 7  # not divisible by the world size


def make_samples(n=N_SAMPLES, size=(3, 64, 68)):
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        gt = torch.rand(size, generator=g)
        pred = (gt * (0.5 + 0.1 * i) + 0.1 * torch.randn(size, generator=g)).clamp(0, 1)
        mask = (torch.rand((1,) + size[1:], generator=g) > 0.4).float()
        out.append(dict(pred=pred, gt=gt, mask=mask, key=f'{i:03d}'))
    return out


class TinyFeatures(torch.nn.Module):
    """A small seeded feature network standing in for Inception (uint8 NCHW -> N x 6)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv = torch.nn.Conv2d(3, 6, 3)

    def forward(self, x):
        return self.conv(x / 255.0).mean(dim=(2, 3))


def tiny_lpips():
    from irkit.metrics.lpips import LPIPSNet
    torch.manual_seed(4)
    net = LPIPSNet('alex', model_path=False, backbone_path=False)
    for i in range(5):
        getattr(net, f'lin{i}').model[1].weight.data.uniform_(0, 1)
    return net


def build_metrics():
    return [
        METRICS.build(dict(type='PSNR')),
        METRICS.build(dict(type='PSNR', crop_border=2, test_y_channel=True)),
        METRICS.build(dict(type='SSIM', crop_border=2)),
        METRICS.build(dict(type='SSIM', mask_region='hole')),
        METRICS.build(dict(type='MAE', mask_region='hole')),
        METRICS.build(dict(type='MSE')),
        METRICS.build(dict(type='LPIPS', network=tiny_lpips())),
        METRICS.build(dict(type='FID', network=TinyFeatures())),
        METRICS.build(dict(type='PIDS', network=TinyFeatures(), with_fid=True)),
        METRICS.build(dict(type='NIQE', block_size=16, pris_params=dict(
            mu_pris_param=np.linspace(0.1, 1.0, 36), cov_pris_param=np.eye(36)))),
    ]


def run_metrics(rank, world):
    samples = make_samples()
    # mmengine's DefaultSampler(shuffle=False): pad to a multiple of world, take every world-th
    idx = list(range(N_SAMPLES))
    total = -(-N_SAMPLES // world) * world
    idx = (idx + idx[:total - N_SAMPLES])[rank:total:world]
    metrics = build_metrics()
    for m in metrics:
        for j in range(0, len(idx), 2):  # batches of 2
            m.process({}, [samples[k] for k in idx[j:j + 2]])
    return [m.evaluate(N_SAMPLES) for m in metrics]


def _worker(rank, world, port, out_dir):
    import cv2
    import torch.distributed as dist
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        res = run_metrics(rank, world)
        torch.save(res, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: avoid oversubscription with the workers
    yield
    torch.set_num_threads(n)


def test_one_and_two_processes_agree(one_thread):
    single = run_metrics(0, 1)
    with tempfile.TemporaryDirectory() as d:
        mp.spawn(_worker, args=(2, _free_port(), d), nprocs=2, join=True)
        results = [torch.load(os.path.join(d, f'rank{r}.pt'), weights_only=False) for r in range(2)]
    for r in results:
        assert len(r) == len(single)
        for a, b in zip(single, r):
            assert a.keys() == b.keys()
            for k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9), k
    names = [k for r in single for k in r]
    assert names == ['PSNR', 'PSNR', 'SSIM', 'SSIM', 'MAE', 'MSE', 'LPIPS', 'FID', 'P-IDS', 'U-IDS', 'FID', 'NIQE']


def _q(x):
    return (x.clamp(0, 1) * 255).round().permute(1, 2, 0).double().numpy()


def test_psnr_ssim_classes_equal_basicsr_validation():
    samples = make_samples(3)
    for cfg, fn, ref_fn in [(dict(type='PSNR', crop_border=3, test_y_channel=True), psnr, ref.calculate_psnr),
                            (dict(type='SSIM', crop_border=3, test_y_channel=True), ssim, ref.calculate_ssim)]:
        m = METRICS.build(cfg)
        m.process({}, samples)
        got = m.evaluate(3)[cfg['type']]
        # BasicSR: tensor2img (clamp, x255, round) to BGR uint8, then calculate_*
        want = np.mean([ref_fn(_q(s['pred'])[..., ::-1], _q(s['gt'])[..., ::-1], 3, True) for s in samples])
        assert abs(got - want) < 1e-5
    m = METRICS.build(dict(type='PSNR', quantize=False))
    m.process({}, samples[:1])
    raw = float(psnr(samples[0]['pred'][None].double(), samples[0]['gt'][None].double())[0])
    assert m.evaluate(1)['PSNR'] == pytest.approx(raw, abs=1e-9)


def test_masked_metrics_by_hand():
    gt = torch.zeros(3, 12, 12)
    pred = torch.zeros(3, 12, 12)
    mask = torch.ones(1, 12, 12)
    mask[:, :4, :6] = 0  # 24 hole pixels
    pred[:, :4, :6] = 0.5  # error only in the hole
    pred[:, 10:, 10:] = 0.25  # and 4 known pixels
    s = dict(pred=pred, gt=gt, mask=mask)
    for region, mae, mse in [('hole', 0.5, 0.25), ('known', 0.25 * 4 / 120, 0.0625 * 4 / 120),
                             (None, (0.5 * 24 + 0.25 * 4) / 144, (0.25 * 24 + 0.0625 * 4) / 144)]:
        m1 = METRICS.build(dict(type='MAE', mask_region=region))
        m2 = METRICS.build(dict(type='MSE', mask_region=region))
        m1.process({}, [s])
        m2.process({}, [s])
        assert m1.evaluate(1)['MAE'] == pytest.approx(mae, abs=1e-12)
        assert m2.evaluate(1)['MSE'] == pytest.approx(mse, abs=1e-12)
    p = METRICS.build(dict(type='PSNR', mask_region='hole', quantize=False))
    p.process({}, [s])
    assert p.evaluate(1)['PSNR'] == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-9)


def test_missing_keys_and_bad_options():
    with pytest.raises(ValueError, match='mask_region'):
        METRICS.build(dict(type='MAE', mask_region='holes'))
    m = METRICS.build(dict(type='MAE', mask_region='hole'))
    with pytest.raises(KeyError, match="'mask'"):
        m.process({}, [dict(pred=torch.zeros(3, 4, 4), gt=torch.zeros(3, 4, 4))])
    with pytest.raises(Exception, match='crop_borders'):
        METRICS.build(dict(type='PSNR', crop_borders=4))
