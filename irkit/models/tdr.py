"""TDR training models: the two mapper stages and the reference-guided restorer.

Paper: Lin et al., "Improving Image Restoration through Removing Degradations in
Textual Representations", CVPR 2024 (official code mrluin/TextualDegRemoval).

* :class:`TDRMapperModel` - stage 1 (``stage='i2t'``: train the ``Mapper`` and its
  cross-attention k/v copies on clean images) and stage 2 (``stage='tr'``: train
  the ``CleanMapper`` on degraded images with the Mapper frozen). Loss: noise-
  prediction MSE of the frozen SD UNet. The release's stage-2 script optimises the
  frozen Mapper (so nothing trains) and saves the Mapper; here stage 2 optimises
  and saves the CleanMapper, as the paper describes.
  Only the trained mapper is a registered sub-module, so checkpoints hold only
  ``mapper.*`` (stage 1) or ``clean_mapper.*`` (stage 2); the frozen SD/CLIP models
  are loaded from local folders and kept outside the state_dict.
* :class:`RefRestorer` - the generic :class:`~irkit.models.restorer.Restorer` whose
  generator takes ``(lq, ref)``; the guidance image is ``batch['ref']``. During
  training an optional frozen feature extractor (the release uses DINOv2 ViT-B/14)
  picks the reference crop that best matches each LQ patch.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from irkit.models.restorer import _FLIPS, Restorer, _dihedral
from irkit.registry import ARCHS, MODELS


# ---------------------------------------------------------------------------
# stages 1 and 2
# ---------------------------------------------------------------------------


@MODELS.register_module()
class TDRMapperModel(BaseModel):
    """Train TDR's ``Mapper`` (stage 1) or ``CleanMapper`` (stage 2).

    Args:
        stage: ``'i2t'`` (stage 1, image-to-text Mapper) or ``'tr'`` (stage 2,
            textual restoration CleanMapper).
        sd_path: local Stable Diffusion 2.x-base folder (diffusers layout).
        clip_path: local CLIP ViT-H/14 image encoder folder (transformers layout).
        mapper: Mapper config (release: ``input_dim=1280, output_dim=1024, num_words=20``).
        clean_mapper: CleanMapper config (stage 2).
        mapper_path: trained stage-1 Mapper (release ``mapper.pt`` or an irkit
            checkpoint); required for stage 2, optional to resume stage 1 from it.
        clean_mapper_path: optional CleanMapper initialisation (stage 2).
        gt_key: batch entry whose latents are noised (the clean image).
        clip_key: batch entry CLIP sees: ``'gt'`` in stage 1 (same clean image),
            ``'lq'`` in stage 2 (the degraded image).
        val_steps, guidance_scale, seed, resolution: rendering used by ``predict``.
    """

    def __init__(self, stage: str, sd_path: str, clip_path: str, mapper: Optional[dict] = None,
                 clean_mapper: Optional[dict] = None, mapper_path: Optional[str] = None,
                 clean_mapper_path: Optional[str] = None, gt_key: str = 'gt',
                 clip_key: Optional[str] = None, val_steps: int = 100, guidance_scale: float = 5.0,
                 seed: int = 42, resolution: int = 512, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DataPreprocessor'),
                         init_cfg=init_cfg)
        if stage not in ('i2t', 'tr'):
            raise ValueError(f"stage must be 'i2t' (Mapper) or 'tr' (CleanMapper), got {stage!r}")
        if stage == 'tr' and mapper_path is None:
            raise ValueError("stage 'tr' trains the CleanMapper on top of a trained Mapper: "
                             'set mapper_path to the stage-1 mapper checkpoint')
        from irkit.models.tdr_guidance import load_tdr_components
        self.stage = stage
        self.gt_key = gt_key
        self.clip_key = clip_key or ('gt' if stage == 'i2t' else 'lq')
        self.val_steps, self.guidance_scale = val_steps, guidance_scale
        self.seed, self.resolution = seed, resolution
        comps = load_tdr_components(sd_path, clip_path, mapper=mapper, mapper_path=mapper_path,
                                    clean_mapper=(clean_mapper or {}) if stage == 'tr' else None,
                                    clean_mapper_path=clean_mapper_path)
        if stage == 'i2t':
            self.mapper = comps.mapper
            comps.mapper.requires_grad_(True)
        else:
            comps.mapper.requires_grad_(False)
            comps.mapper.eval()
            self.clean_mapper = comps.clean_mapper
            comps.clean_mapper.requires_grad_(True)
        # frozen parts live outside the module tree (not saved, not optimised)
        self._comps = comps

    @property
    def trained(self) -> nn.Module:
        return self.mapper if self.stage == 'i2t' else self.clean_mapper

    def _sync_frozen(self) -> None:
        p = next(self.trained.parameters())
        dev = p.device
        for m in self._comps.frozen_modules() + [self._comps.mapper]:
            q = next(m.parameters())
            if q.device != dev:
                m.to(dev)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self._comps.frozen_modules():
            m.eval()  # frozen models always in eval mode
        if self.stage == 'tr':
            self._comps.mapper.eval()
        return self

    def forward(self, batch: dict, mode: str = 'tensor'):
        from irkit.models.tdr_guidance import diffusion_loss, generate_guidance, words_from_images
        self._sync_frozen()
        for k in (self.gt_key, self.clip_key) if mode == 'loss' else (self.clip_key,):
            if k not in batch:
                raise KeyError(f"TDRMapperModel: batch has no '{k}' entry (has: {', '.join(batch)})")
        if mode == 'loss':
            loss = diffusion_loss(self._comps, batch[self.gt_key], batch[self.clip_key],
                                  use_clean_mapper=self.stage == 'tr')
            return {'loss_mse': loss}
        if mode == 'tensor':
            return words_from_images(self._comps, batch[self.clip_key],
                                     use_clean_mapper=self.stage == 'tr', center_crop=False)
        if mode == 'predict':
            imgs = generate_guidance(self._comps, batch[self.clip_key], self.val_steps,
                                     self.guidance_scale, self.seed, self.resolution,
                                     use_clean_mapper=self.stage == 'tr').cpu()
            results = []
            for i in range(imgs.shape[0]):
                item = {'pred': imgs[i]}
                gt = batch.get(self.gt_key)
                if isinstance(gt, torch.Tensor):
                    g = F.interpolate(gt[i:i + 1].float(), size=imgs.shape[-2:], mode='bicubic',
                                      align_corners=False, antialias=True).clamp(0, 1)
                    item['gt'] = g[0].cpu()
                if isinstance(batch.get('key'), (list, tuple)):
                    item['key'] = batch['key'][i]
                results.append(item)
            return results
        raise ValueError(f"unknown mode '{mode}' (expected 'loss', 'predict' or 'tensor')")

    def release_state_dict(self) -> Dict[str, torch.Tensor]:
        """The trained mapper's state_dict in the release's ``mapper.pt`` layout."""
        return {k: v.detach().cpu() for k, v in self.trained.state_dict().items()}


# ---------------------------------------------------------------------------
# stage 3: reference-guided restoration
# ---------------------------------------------------------------------------


def select_ref_crops(lq: torch.Tensor, ref: torch.Tensor, extractor: nn.Module,
                     multiple: int = 14) -> torch.Tensor:
    """Pick, for each LQ patch, the reference crop whose features match best.

    The reference is unfolded into crops of the LQ patch size with stride
    ``h // 4``; LQ and crops are resized (bilinear) to a multiple of ``multiple``
    (the ViT patch size), encoded by ``extractor`` and compared by cosine similarity
    of the flattened features; the top-1 crop is returned (the release's DINOv2
    selection).
    """
    b, c, h, w = lq.shape
    if ref.shape[-2] < h or ref.shape[-1] < w:
        raise ValueError(f'reference {tuple(ref.shape[-2:])} is smaller than the LQ patch {(h, w)}')
    stride = max(1, h // 4)
    crops = F.unfold(ref, kernel_size=(h, w), stride=(stride, stride))  # (B, C*h*w, N)
    n = crops.shape[-1]
    crops = crops.transpose(1, 2).reshape(b * n, c, h, w)
    size = (int(math.ceil(h / multiple) * multiple), int(math.ceil(w / multiple) * multiple))
    with torch.no_grad():
        f_lq = extractor(F.interpolate(lq, size=size, mode='bilinear', align_corners=False))
        f_ref = extractor(F.interpolate(crops, size=size, mode='bilinear', align_corners=False))
    f_lq = F.normalize(f_lq.reshape(b, 1, -1), dim=-1)
    f_ref = F.normalize(f_ref.reshape(b, n, -1), dim=-1)
    best = torch.matmul(f_lq, f_ref.transpose(1, 2))[:, 0].argmax(dim=-1)  # (B,)
    return crops.view(b, n, c, h, w)[torch.arange(b, device=lq.device), best]


@MODELS.register_module()
class RefRestorer(Restorer):
    """:class:`Restorer` for reference-guided archs: ``generator(lq, ref)``.

    Extra args:
        ref_key: batch entry holding the guidance image (default ``'ref'``).
        ref_matcher: optional frozen feature extractor (ARCHS config or module) used in
            training to select the reference crop matching each LQ patch
            (:func:`select_ref_crops`); without it the whole reference is used.
        ref_matcher_multiple: input-size multiple of the matcher (14 for ViT-B/14).

    Inference pads only the input when ``pad_multiple > 1`` (the TDR archs pad
    internally; the release evaluates without padding, so the configs keep
    ``pad_multiple=1``); tiling passes the whole reference to every tile;
    self-ensemble transforms the reference with the input.
    """

    def __init__(self, generator: dict, losses: Optional[Sequence[dict]] = None,
                 deep_supervision: bool = False, pad_multiple: int = 1, pad_mode: str = 'reflect',
                 self_ensemble: bool = False, tile: Optional[int] = None, tile_overlap: int = 32,
                 input_key: str = 'lq',
                 gt_key: str = 'gt', ref_key: str = 'ref',
                 ref_matcher: Optional[Union[dict, nn.Module]] = None,
                 ref_matcher_multiple: int = 14, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(generator=generator, losses=losses, deep_supervision=deep_supervision,
                         pad_multiple=pad_multiple, pad_mode=pad_mode, self_ensemble=self_ensemble,
                         tile=tile, tile_overlap=tile_overlap,
                         input_key=input_key, gt_key=gt_key, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.ref_key = ref_key
        self.ref_matcher_multiple = ref_matcher_multiple
        matcher = ARCHS.build(ref_matcher) if isinstance(ref_matcher, dict) else ref_matcher
        if matcher is not None:
            matcher.requires_grad_(False)
            matcher.eval()
        self._matcher = [matcher]  # kept out of the state_dict and the optimiser
        self._ref: Optional[torch.Tensor] = None

    def _get_ref(self, batch: dict) -> torch.Tensor:
        if self.ref_key not in batch:
            raise KeyError(f"RefRestorer: batch has no '{self.ref_key}' (guidance) entry "
                           f"(has: {', '.join(batch)})")
        ref = batch[self.ref_key]
        if not isinstance(ref, torch.Tensor):
            raise TypeError(f"RefRestorer: batch['{self.ref_key}'] must be a stacked NCHW tensor "
                            f'(guidance images of one size), got {type(ref).__name__}')
        return ref

    def forward(self, batch: dict, mode: str = 'tensor'):
        if mode == 'loss':
            if self.gt_key not in batch:
                raise KeyError(f"training batch has no '{self.gt_key}' entry (has: {', '.join(batch)})")
            lq, ref = batch[self.input_key], self._get_ref(batch)
            matcher = self._matcher[0]
            if matcher is not None:
                matcher.to(lq.device).eval()
                ref = select_ref_crops(lq, ref, matcher, self.ref_matcher_multiple)
            return self.compute_losses(self.generator(lq, ref), batch[self.gt_key])
        if mode == 'predict':
            self._ref = self._get_ref(batch)
            try:
                return self.predict(batch)
            finally:
                self._ref = None
        if mode == 'tensor':
            return self.generator(batch[self.input_key], self._get_ref(batch))
        raise ValueError(f"unknown mode '{mode}' (expected 'loss', 'predict' or 'tensor')")

    def _net(self, x: torch.Tensor) -> torch.Tensor:
        if self._ref is None:
            raise RuntimeError('RefRestorer.inference needs the reference: call inference(x, ref)')
        out = self.generator(x, self._ref)
        return out[0] if isinstance(out, (list, tuple)) else out

    @torch.no_grad()
    def inference(self, x: torch.Tensor, ref: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Restore ``x`` guided by ``ref`` (any sizes; padding, tiling, self-ensemble)."""
        ref = self._ref if ref is None else ref
        if ref is None:
            raise ValueError('RefRestorer.inference: no reference given')
        saved = self._ref
        try:
            if not self.self_ensemble:
                self._ref = ref
                return self._single(x)
            acc = 0
            for hf, vf, tr in _FLIPS:
                self._ref = _dihedral(ref, hf, vf, tr)
                y = self._single(_dihedral(x, hf, vf, tr))
                acc = acc + _dihedral(y, hf, vf, tr, inverse=True)
            return acc / len(_FLIPS)
        finally:
            self._ref = saved


__all__ = ['TDRMapperModel', 'RefRestorer', 'select_ref_crops']
