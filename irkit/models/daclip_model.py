"""DA-CLIP stage 1: train the controller of a frozen CLIP.

Luo et al., "Controlling Vision-Language Models for Multi-Task Image Restoration"
(ICLR 2024). Official training (``da-clip/src/training``, ``--da``): CLIP frozen,
the controller (and DA-CLIP's own logit scale) trained with

    loss = CLIP(content image features, caption features)
         + CLIP(degradation image features, degradation-word features)

both symmetric InfoNCE with the same learnable logit scale and labels ``arange(B)``
(even when degradation words repeat inside a batch, as in the official code).

Validation (``mode='predict'``) classifies the degradation: the controller's
normalised degradation embedding against the text embeddings of the degradation
words; :class:`irkit.metrics.daclip.DegradationAccuracy` scores it.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModel

from irkit.archs.clip import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, SimpleTokenizer, tokenize
from irkit.archs.daclip import DEGRADATIONS
from irkit.models.data_preprocessor import unbatch
from irkit.registry import ARCHS, LOSSES, MODELS

__all__ = ['DaCLIPModel']


@MODELS.register_module()
class DaCLIPModel(BaseModel):
    """Stage-1 DA-CLIP training/validation.

    Args:
        daclip: the ``DaCLIP`` arch config (``clip_pretrained`` = the OpenCLIP base
            weights to start from; ``lock_clip=True``).
        bpe_path: CLIP's ``bpe_simple_vocab_16e6.txt.gz`` (needed when captions come
            as strings; batches may instead carry ``caption_ids``/``degradation_ids``).
        degradations: the degradation words (label = index) used for classification.
        loss: the contrastive loss config (``ContrastiveLoss``); it is given the
            model's exponentiated logit scale, so its own scale is unused.
        normalize_input: apply the OpenAI CLIP mean/std to ``lq`` (images in [0, 1]).
        clamp_logit_scale: after each step clamp ``logit_scale`` to [0, log(100)]
            (OpenCLIP's training loop does this).
    Batch: ``lq`` (B x 3 x 224 x 224), ``caption`` and ``degradation`` (lists of str) or
    ``caption_ids``/``degradation_ids`` (B x 77), ``degradation_label`` for validation.
    """

    def __init__(self, daclip: dict, bpe_path: Optional[str] = None,
                 degradations: Sequence[str] = DEGRADATIONS,
                 loss: Optional[dict] = None, normalize_input: bool = True,
                 clamp_logit_scale: bool = True, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DataPreprocessor'),
                         init_cfg=init_cfg)
        self.daclip = ARCHS.build(daclip)
        self.context_length = self.daclip.clip.context_length
        self.tokenizer = None
        if bpe_path is not None:
            from irkit.fileio.weights import locate_weights
            path = locate_weights(bpe_path, 'model.bpe_path',
                                  'https://github.com/mlfoundations/open_clip '
                                  '(src/open_clip/bpe_simple_vocab_16e6.txt.gz)')
            self.tokenizer = SimpleTokenizer(path, context_length=self.context_length)
        self.degradations = tuple(degradations)
        loss = dict(type='ContrastiveLoss', normalize=False) if loss is None else loss
        self.loss_fn = LOSSES.build(loss)
        for p in self.loss_fn.parameters():  # the model's logit scale is used instead
            p.requires_grad = False
        self.normalize_input = normalize_input
        self.clamp_logit_scale = clamp_logit_scale
        self.register_buffer('clip_mean', torch.tensor(OPENAI_CLIP_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer('clip_std', torch.tensor(OPENAI_CLIP_STD).view(1, 3, 1, 1), False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.daclip.clip.eval()  # frozen tower: no dropout / patch dropout
        return self

    def _image(self, batch: dict) -> torch.Tensor:
        if 'lq' not in batch:
            raise KeyError(f"DaCLIPModel: the batch has no 'lq' image (keys: {sorted(batch)})")
        img = batch['lq']
        return (img - self.clip_mean) / self.clip_std if self.normalize_input else img

    def _ids(self, batch: dict, name: str) -> torch.Tensor:
        if f'{name}_ids' in batch:
            ids = batch[f'{name}_ids']
        elif name in batch:
            ids = tokenize(list(batch[name]), self.tokenizer, self.context_length)
        else:
            raise KeyError(f"DaCLIPModel: the batch needs '{name}' (strings) or '{name}_ids'")
        return ids.to(self.clip_mean.device)

    def degradation_text_features(self) -> torch.Tensor:
        """Normalised text embeddings of the degradation words."""
        ids = tokenize(list(self.degradations), self.tokenizer, self.context_length)
        return self.daclip.encode_text(ids.to(self.clip_mean.device), normalize=True)

    def forward(self, batch: dict, mode: str = 'tensor'):
        image = self._image(batch)
        if mode == 'loss':
            text = torch.cat([self._ids(batch, 'caption'), self._ids(batch, 'degradation')], -1)
            out = self.daclip(image, text)
            scale = out['logit_scale']
            loss_content = self.loss_fn(out['image_features'], out['text_features'], scale)
            loss_degra = self.loss_fn(out['image_degra_features'], out['text_degra_features'],
                                      scale)
            return dict(loss_contrastive=loss_content, loss_degra=loss_degra)
        content, degra = self.daclip.encode_image(image, control=True, normalize=True)
        if mode == 'tensor':
            return dict(image_features=content, image_degra_features=degra)
        if mode != 'predict':
            raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
        logits = degra @ self.degradation_text_features().t()
        pred = logits.argmax(dim=-1).cpu()
        label = batch.get('degradation_label')
        first = dict(degradation_pred=pred.tolist(), degradation_logits=logits)
        if label is not None:
            first['degradation_label'] = [int(v) for v in label]
        return unbatch(batch, image.shape[0], keys=('key', 'degradation', 'caption', 'lq_path'), **first)

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        log_vars = super().train_step(data, optim_wrapper)
        if self.clamp_logit_scale:
            with torch.no_grad():
                self.daclip.logit_scale.clamp_(0, math.log(100))
        log_vars['logit_scale'] = self.daclip.logit_scale.detach().exp()
        return log_vars
