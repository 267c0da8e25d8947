"""Full-reference image metrics for mmengine evaluators: PSNR, SSIM, MAE, MSE.

Each metric reads the dicts a model returns with ``mode='predict'``: ``pred`` and
``gt`` (3xHxW float tensors, RGB, [0, 1]) and, for ``mask_region``, ``mask``
(1xHxW, 1 = known pixel, 0 = hole). Per-image values are averaged over the dataset.
Results are gathered across processes by :class:`mmengine.evaluator.BaseMetric`,
which drops the samples a distributed sampler repeats to pad the last batch, so 1
and N processes give the same value.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from irkit.metrics.functional import (_check_ssim_size, _masked_mean, _prepare_np,
                                      _psnr_from_mse, ssim_channel_means, ssim_map_np)
from irkit.registry import METRICS

MASK_REGIONS = (None, 'hole', 'known')


def quantize_uint8(x: torch.Tensor) -> torch.Tensor:
    """BasicSR's ``tensor2img``: clamp to [0, 1], scale by 255, round half to even."""
    return (x.detach().float().clamp(0, 1) * 255.0).round()


def check_finite_sample(x: Any, key: str, sample: dict, metric: str) -> None:
    """Raise ``ValueError`` naming the metric, the entry and the sample if ``x`` holds NaN/Inf
    (the metric would be nan, or quietly clamped)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise ValueError(f"{metric}: '{key}' of sample '{sample.get('key', '?')}' has {bad} non-finite "
                             'values (NaN/Inf); a model that outputs NaN (check the checkpoint and the '
                             'input), not a score')


def to_hwc_255(x: torch.Tensor, quantize: bool, key: str) -> np.ndarray:
    """A CHW tensor in [0, 1] as an HxWxC float64 array on the 0..255 scale."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError(f"'{key}' must be a CxHxW tensor in [0, 1], got "
                         f'{type(x).__name__} {tuple(getattr(x, "shape", ()))}')
    x = x.detach().cpu()
    x = quantize_uint8(x) if quantize else x.double() * 255.0
    return x.permute(1, 2, 0).numpy().astype(np.float64)


class _ImageMetric(BaseMetric):
    """Shared plumbing: read ``pred``/``gt``/``mask``, score each image, average."""

    metric: str = ''
    default_prefix: Optional[str] = ''  # keys are plain 'PSNR', 'SSIM', ... unless prefix is set

    def __init__(self, crop_border: int = 0, test_y_channel: bool = False, round_y: bool = False,
                 quantize: bool = True, mask_region: Optional[str] = None, pred_key: str = 'pred',
                 gt_key: str = 'gt', mask_key: str = 'mask', collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mask_region not in MASK_REGIONS:
            raise ValueError(f"{type(self).__name__}: mask_region must be one of {MASK_REGIONS}, "
                             f'got {mask_region!r}')
        self.crop_border = int(crop_border)
        self.test_y_channel = test_y_channel
        self.round_y = round_y
        self.quantize = quantize
        self.mask_region = mask_region
        self.pred_key, self.gt_key, self.mask_key = pred_key, gt_key, mask_key

    def _region(self, sample: dict) -> Optional[np.ndarray]:
        if self.mask_region is None:
            return None
        if self.mask_key not in sample:
            raise KeyError(f"{type(self).__name__}(mask_region={self.mask_region!r}) needs "
                           f"'{self.mask_key}' in the predictions; got keys {sorted(sample)}")
        m = sample[self.mask_key]
        m = m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
        m = m.reshape(m.shape[-2], m.shape[-1]) > 0.5
        region = m if self.mask_region == 'known' else ~m
        if self.crop_border:
            c = self.crop_border
            region = region[c:-c, c:-c]
        return region

    def _images(self, sample: dict) -> tuple:
        for k in (self.pred_key, self.gt_key):
            if k not in sample:
                raise KeyError(f"{type(self).__name__} needs '{k}' in the predictions; got keys "
                               f'{sorted(sample)}')
        for k in (self.pred_key, self.gt_key):
            check_finite_sample(sample[k], k, sample, type(self).__name__)
        pred = to_hwc_255(sample[self.pred_key], self.quantize, self.pred_key)
        gt = to_hwc_255(sample[self.gt_key], self.quantize, self.gt_key)
        return _prepare_np(pred, gt, self.crop_border, self.test_y_channel, self.round_y)

    @abstractmethod
    def score(self, sample: dict) -> float:
        """The metric of one prediction dict."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(self.score(sample))

    def compute_metrics(self, results: List[float]) -> dict:
        values = np.asarray(results, dtype=np.float64)
        if self.mask_region is not None:
            values = values[~np.isnan(values)]  # images without pixels in the region
        return {self.metric: float(values.mean()) if values.size else float('nan')}


@METRICS.register_module()
class PSNR(_ImageMetric):
    """PSNR in dB on the 0..255 scale (peak 255), BasicSR conventions.

    Args:
        crop_border: pixels removed from each side before colour conversion.
        test_y_channel: score BT.601 Y (unrounded) instead of RGB.
        round_y: round Y like MATLAB's uint8 ``rgb2ycbcr`` (deraining protocol).
        quantize: round ``pred`` and ``gt`` to uint8 levels first, as BasicSR's
            validation does through ``tensor2img`` (default on).
        mask_region: ``'hole'`` or ``'known'`` restricts the MSE to those pixels.
    """
    metric = 'PSNR'

    def score(self, sample: dict) -> float:
        a, b = self._images(sample)
        region = self._region(sample)
        d = np.moveaxis((a - b) ** 2, 2, 0)
        mse = _masked_mean(d, region)
        return mse if np.isnan(mse) else _psnr_from_mse(mse)


@METRICS.register_module()
class SSIM(_ImageMetric):
    """SSIM (Gaussian 11x11, sigma 1.5, 0..255 scale), BasicSR conventions.

    Same arguments as :class:`PSNR`; with ``mask_region`` the SSIM map is averaged
    over the pixels of the region (map positions are the window centres).
    """
    metric = 'SSIM'

    def score(self, sample: dict) -> float:
        a, b = self._images(sample)
        _check_ssim_size(a.shape[0], a.shape[1])
        region = self._region(sample)
        if region is None:
            return float(ssim_channel_means(a, b).mean())
        return _masked_mean(ssim_map_np(a, b), region[5:-5, 5:-5])


class _ErrorMetric(_ImageMetric):
    power = 1

    def __init__(self, crop_border: int = 0, quantize: bool = False,
                 mask_region: Optional[str] = None, pred_key: str = 'pred', gt_key: str = 'gt',
                 mask_key: str = 'mask', collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(crop_border=crop_border, test_y_channel=False, quantize=quantize,
                         mask_region=mask_region, pred_key=pred_key, gt_key=gt_key,
                         mask_key=mask_key, collect_device=collect_device, prefix=prefix)

    def score(self, sample: dict) -> float:
        a, b = self._images(sample)
        d = np.abs(a - b) / 255.0
        if self.power == 2:
            d = d * d
        return _masked_mean(np.moveaxis(d, 2, 0), self._region(sample))


@METRICS.register_module()
class MAE(_ErrorMetric):
    """Mean absolute error on the [0, 1] scale, per image, averaged over images.

    ``mask_region='hole'`` gives the hole-only L1 of inpainting papers (MMagic
    reports it x100). ``quantize`` (default off) rounds to uint8 levels first.
    """
    metric = 'MAE'
    power = 1


@METRICS.register_module()
class MSE(_ErrorMetric):
    """Mean squared error on the [0, 1] scale, per image, averaged over images."""
    metric = 'MSE'
    power = 2
