"""HoleRatioBinned: each bin's value equals the wrapped metric run on that bin's samples alone."""
import pytest
import torch
import torch.nn as nn

from irkit.registry import METRICS


class Pool(nn.Module):
    """A fixed 'feature network' (uint8-range images -> 3-d features) for FID."""

    def forward(self, x):
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1)


def samples():
    g = torch.Generator().manual_seed(0)
    out = []
    for i, ratio_rows in enumerate([1, 2, 5, 6, 9, 12, 14]):  # of 16 rows: 6 %, 12 %, 31 %, ...
        mask = torch.ones(1, 16, 16)
        mask[:, :ratio_rows] = 0
        gt = torch.rand(3, 16, 16, generator=g)
        out.append(dict(gt=gt, pred=(gt + 0.05 * (i + 1) * torch.randn(3, 16, 16, generator=g)).clamp(0, 1),
                        mask=mask))
    return out


def run(metric, data):
    metric.process(None, data)
    return metric.compute_metrics(metric.results)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # 2-3 samples per bin
def test_bins_equal_the_metric_on_the_bin_alone():
    data = samples()
    binned = METRICS.build(dict(type='HoleRatioBinned', metrics=[dict(type='PSNR'), dict(type='MAE', mask_region='hole'),
                                                                 dict(type='FID', network=Pool())],
                                bins=[0.0, 0.2, 0.5, 1.0]))
    out = run(binned, data)
    ratios = [float((s['mask'] == 0).float().mean()) for s in data]
    for lo, hi, label in ((0.0, 0.2, '0-20%'), (0.2, 0.5, '20-50%'), (0.5, 1.0, '50-100%')):
        subset = [s for s, r in zip(data, ratios) if lo <= r < hi or (hi == 1.0 and r == 1.0)]
        assert out[f'count@{label}'] == len(subset)
        assert out[f'PSNR@{label}'] == pytest.approx(run(METRICS.build(dict(type='PSNR')), subset)['PSNR'])
        assert out[f'MAE@{label}'] == pytest.approx(
            run(METRICS.build(dict(type='MAE', mask_region='hole')), subset)['MAE'])
        if len(subset) > 1:
            assert out[f'FID@{label}'] == pytest.approx(run(METRICS.build(dict(type='FID', network=Pool())), subset)['FID'])
    with pytest.raises(ValueError, match='increasing'):
        METRICS.build(dict(type='HoleRatioBinned', metrics=[dict(type='PSNR')], bins=[0.5, 0.2]))
