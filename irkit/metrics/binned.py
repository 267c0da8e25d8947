"""Metrics per hole-area bin (the per-mask-ratio tables of inpainting papers).

``HoleRatioBinned(metrics=[dict(type='PSNR'), dict(type='FID')], bins=(0, .1, .2, .3, .4, .5, .6))``
routes every prediction to the bin of its hole ratio (the fraction of mask pixels that are
holes, ``mask`` 1 = known) and computes each wrapped metric on the samples of each bin.
Results are named ``<metric>@<lo>-<hi>%`` (``PSNR@10-20%``); a bin with no sample is
omitted. The wrapped metrics are unchanged (a per-image metric averages over the bin,
a set-level one such as FID is computed on the bin's features), so the numbers of a bin
equal those of the metric run on that bin's images alone. Works with several processes
(the per-sample records are gathered by mmengine like any metric's).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from irkit.registry import METRICS

__all__ = ['HoleRatioBinned', 'hole_ratio', 'bin_label']


def hole_ratio(mask: Any) -> float:
    """Fraction of hole pixels of a mask with 1 = known, 0 = hole."""
    m = mask.detach().cpu().float().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask, np.float32)
    return float((m < 0.5).mean())


def bin_label(lo: float, hi: float) -> str:
    return f'{round(lo * 100):d}-{round(hi * 100):d}%'


@METRICS.register_module()
class HoleRatioBinned(BaseMetric):
    """Wrapped metrics computed per hole-ratio bin; see the module docstring.

    Args:
        metrics: metric configs (``METRICS``) to compute in every bin.
        bins: increasing bin edges in [0, 1]; a sample with ratio ``r`` falls in
            ``[edge_i, edge_{i+1})`` (the last bin includes its upper edge).
        mask_key: the prediction entry holding the mask (1 = known).
    """
    default_prefix: Optional[str] = ''

    def __init__(self, metrics: Sequence[dict], bins: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                 mask_key: str = 'mask', collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        edges = [float(b) for b in bins]
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0 or edges[-1] > 1:
            raise ValueError(f'HoleRatioBinned: bins must be increasing edges in [0, 1], got {list(bins)}')
        if not metrics:
            raise ValueError('HoleRatioBinned needs at least one metric config')
        self.edges = edges
        self.mask_key = mask_key
        self.inner = [METRICS.build(dict(m)) for m in metrics]

    def _bin(self, ratio: float) -> Optional[int]:
        for i, (lo, hi) in enumerate(zip(self.edges, self.edges[1:])):
            if lo <= ratio < hi or (i == len(self.edges) - 2 and ratio == hi):
                return i
        return None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.mask_key not in sample:
                raise KeyError(f"HoleRatioBinned needs '{self.mask_key}' (1 = known) in the predictions; "
                               f'got keys {sorted(sample)}')
            b = self._bin(hole_ratio(sample[self.mask_key]))
            if b is None:
                continue  # outside the binned range
            records = []
            for m in self.inner:
                m.process(data_batch, [sample])
                records.append(list(m.results))
                m.results.clear()
            self.results.append((b, records))

    def compute_metrics(self, results: List[tuple]) -> dict:
        out = {}
        for b, (lo, hi) in enumerate(zip(self.edges, self.edges[1:])):
            mine = [recs for bb, recs in results if bb == b]
            if not mine:
                continue
            for i, m in enumerate(self.inner):
                per = [r for recs in mine for r in recs[i]]
                for k, v in m.compute_metrics(per).items():
                    out[f'{k}@{bin_label(lo, hi)}'] = v
                    out.setdefault(f'count@{bin_label(lo, hi)}', len(mine))
        return out
