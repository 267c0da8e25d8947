"""Degradation-classification accuracy of DA-CLIP (stage-1 validation).

Reads the dicts :class:`irkit.models.daclip_model.DaCLIPModel` returns with
``mode='predict'``: ``degradation_pred`` and ``degradation_label`` (ints). Reports the
overall accuracy and, with ``degradations`` given, the accuracy per degradation
(as the official ``da-clip/src/evaluate.py`` prints it).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from irkit.registry import METRICS

__all__ = ['DegradationAccuracy']


@METRICS.register_module()
class DegradationAccuracy(BaseMetric):
    """Fraction of samples whose predicted degradation equals the label.

    Args:
        degradations: names of the labels (adds ``acc/<name>`` entries per class).
    """

    default_prefix: Optional[str] = ''

    def __init__(self, degradations: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.degradations = list(degradations) if degradations is not None else None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            for k in ('degradation_pred', 'degradation_label'):
                if k not in s:
                    raise KeyError(f"DegradationAccuracy: a prediction has no '{k}' "
                                   f'(keys: {sorted(s)}); use DaCLIPModel predictions with '
                                   "'degradation_label' in the data")
            self.results.append((int(s['degradation_pred']), int(s['degradation_label'])))

    def compute_metrics(self, results: List[tuple]) -> dict:
        if not results:
            raise ValueError('DegradationAccuracy: no predictions to score')
        out = dict(degradation_acc=sum(p == t for p, t in results) / len(results))
        if self.degradations is not None:
            for i, name in enumerate(self.degradations):
                rows = [p == t for p, t in results if t == i]
                if rows:
                    out[f'degradation_acc/{name}'] = sum(rows) / len(rows)
        return out
