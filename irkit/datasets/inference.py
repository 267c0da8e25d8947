"""The inference pipeline of a config: its test pipeline, adapted to the files a user gives.

Inference (``irkit.apis.restore``/``inpaint``, ``tools/restore.py``, ``tools/inpaint.py``,
the web demo) decodes and prepares images exactly as the config's test pipeline does
(alpha, grey, 16-bit, channel order, dual-pixel concatenation, ...), with four changes:

1. loaders of entries that are not inputs (the ground truth ``gt`` of a restoration
   config) are dropped, and so is every transform whose source entries are then
   missing (e.g. ``AddGaussianNoise(key='gt', out_key='lq')`` of synthetic test sets);
2. transforms that only make sense on a benchmark (crops, flips, paddings: the
   classes with ``at_inference = 'drop'``) are dropped — models run on any size;
3. mask sources (``LoadMask`` from a benchmark folder, mask generators: classes with
   ``at_inference = 'mask'``) are replaced by ``LoadMask(white_is_hole=...)`` of the
   user's mask;
4. an input the test pipeline synthesises instead of loading (the noisy ``lq`` of the
   demo) gets a ``LoadImageFromFile`` with the options of the pipeline's image loader.

Entries a transform lists (``keys=[...]``) are restricted to the ones present.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any, Dict, List, Optional, Sequence

from irkit.registry import TRANSFORMS

__all__ = ['config_test_pipeline', 'inference_pipeline_cfg', 'InferencePipeline']


def config_test_pipeline(cfg) -> List[dict]:
    """The pipeline of ``test_dataloader`` (else ``val_dataloader``), ``[]`` if none is given."""
    if cfg is None:
        return []
    for split in ('test_dataloader', 'val_dataloader'):
        dl = cfg.get(split)
        if isinstance(dl, dict) and isinstance(dl.get('dataset'), dict):
            ds = dl['dataset']
            while isinstance(ds.get('dataset'), dict) and not ds.get('pipeline'):
                ds = ds['dataset']  # wrappers (e.g. guidance datasets) around the image dataset
            if ds.get('pipeline'):
                return [dict(t) for t in ds['pipeline']]
    return []


def _arg(t: dict, cls: Any, name: str) -> Any:
    if name in t:
        return t[name]
    try:
        p = inspect.signature(cls).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return None if p is None or p.default is inspect.Parameter.empty else p.default


def _as_list(v: Any) -> Optional[List[str]]:
    if v is None:
        return None
    return [v] if isinstance(v, str) else list(v)


def inference_pipeline_cfg(pipeline: Sequence[dict], inputs: Sequence[str], mask_key: Optional[str] = None,
                           white_is_hole: bool = True) -> List[dict]:
    """Adapt a test pipeline for inference (see the module docstring).

    Args:
        pipeline: transform configs of the test pipeline.
        inputs: the entries the user provides files for (``['lq']``; ``['gt']`` for
            inpainting, whose model reads the image as ``gt``; ``['lq_l', 'lq_r']`` ...).
        mask_key: the mask entry of inpainting configs (``'mask'``), replaced by the user's mask.
        white_is_hole: convention of the user's mask files.
    """
    present: set = set()
    out: List[dict] = []
    loaders = [dict(t) for t in pipeline
               if getattr(TRANSFORMS.get(t['type']) if isinstance(t['type'], str) else t['type'],
                          'at_inference', 'keep') == 'load']
    loaded = {t.get('key', 'gt') for t in loaders}
    opts = {k: v for k, v in (loaders[0] if loaders else {}).items() if k not in ('type', 'key')}
    for k in inputs:  # inputs the test pipeline synthesises: load them like its images
        if k not in loaded:
            out.append(dict(type='LoadImageFromFile', key=k, **opts))
            present.add(k)
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        cls = TRANSFORMS.get(t['type']) if isinstance(t['type'], str) else t['type']
        if cls is None:
            raise KeyError(f"test pipeline: transform '{t['type']}' is not registered")
        role = getattr(cls, 'at_inference', 'keep')
        key = _arg(t, cls, 'key')
        if role == 'drop':
            continue
        if role == 'mask':
            if mask_key is not None and mask_key not in present:
                out.append(dict(type='LoadMask', key=mask_key, white_is_hole=white_is_hole))
                present.add(mask_key)
            continue
        if role == 'load':
            if key in inputs:
                out.append(t)
                present.add(key)
            continue
        keys = _as_list(_arg(t, cls, 'keys'))
        if keys is not None and 'keys' in inspect.signature(cls).parameters:
            if cls.__name__ == 'ConcatChannels':
                if not all(k in present for k in keys):
                    continue
            kept = [k for k in keys if k in present]
            if not kept:
                continue
            t['keys'] = kept
        elif key is not None and key not in present:
            continue  # its source entry is not there at inference (a ground truth, a synthetic input)
        out.append(t)
        out_key = _arg(t, cls, 'out_key')
        if out_key is not None:
            if cls.__name__ == 'ConcatChannels' and _arg(t, cls, 'remove_inputs'):
                present -= set(keys or [])
            present.add(out_key)
    if mask_key is not None and mask_key not in present:
        pack = [i for i, t in enumerate(out) if t['type'] == 'PackInputs']
        out.insert(pack[0] if pack else len(out), dict(type='LoadMask', key=mask_key, white_is_hole=white_is_hole))
        present.add(mask_key)
    packs = [t for t in out if t['type'] == 'PackInputs']
    if not packs:
        out.append(dict(type='PackInputs', keys=sorted(present)))
    else:
        for t in packs:
            keys = [k for k in _as_list(_arg(t, TRANSFORMS.get('PackInputs'), 'keys')) if k in present]
            if mask_key is not None and mask_key not in keys:
                keys.append(mask_key)
            t['keys'] = keys
    return out


class InferencePipeline:
    """Run a config's adapted test pipeline on user files (or already decoded arrays).

    ``pipeline({'lq': 'photo.png'})`` returns the packed sample (CHW tensors and ``key``),
    ready for ``model.data_preprocessor``; an ``H x W x C`` float32 array in [0, 1] (RGB)
    may stand for a file (its loader is skipped).
    """

    def __init__(self, cfg, inputs: Sequence[str], mask_key: Optional[str] = None,
                 white_is_hole: bool = True) -> None:
        from irkit.datasets.transforms import Compose
        self.inputs, self.mask_key = list(inputs), mask_key
        self.cfg = inference_pipeline_cfg(config_test_pipeline(cfg), self.inputs, mask_key, white_is_hole)
        self._compose = Compose(self.cfg)

    def __call__(self, files: Dict[str, Any], key: str = 'image') -> dict:
        import numpy as np
        results: Dict[str, Any] = {'key': key}
        skip = set()
        for k, v in files.items():
            if isinstance(v, np.ndarray):
                results[k] = v
                skip.add(k)
            else:
                results[f'{k}_path'] = str(v)
        for t in self._compose.transforms:
            if getattr(t, 'key', None) in skip and getattr(type(t), 'at_inference', '') in ('load', 'mask'):
                continue
            results = t(results)
        return results
