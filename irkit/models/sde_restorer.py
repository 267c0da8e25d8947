"""Universal-IR stage 2: IR-SDE restoration conditioned on a frozen DA-CLIP.

Luo et al., "Controlling Vision-Language Models for Multi-Task Image Restoration"
(ICLR 2024); IR-SDE (Luo et al., ICML 2023). Official recipe
(``universal-image-restoration/config/daclip-sde``):

* training: the LQ patch, bicubic-resized to 224 and normalised with the OpenAI CLIP
  mean/std, goes through the frozen DA-CLIP (``encode_image(control=True)``, no
  grad, *unnormalised* outputs); ``t ~ U{1..T}``; ``x_t = mu_bar(gt, t) +
  sigma_bar(t) * eps`` with ``mu = lq``; the U-Net predicts the noise; loss = L1
  matching loss between the predicted reverse-SDE mean and the closed-form optimum
  ``reverse_optimum_step(x_t, gt, t)``; EMA (``ema_pytorch.EMA(beta=0.995,
  update_every=10)`` with its defaults ``update_after_step=100``,
  ``inv_gamma=1``, ``power=2/3``);
* inference: ``x_T = lq + max_sigma * randn``, then ``T`` posterior-sampling steps
  (``sampling_mode='posterior'``; ``'sde'`` = Euler-Maruyama).
"""
from __future__ import annotations

import copy
from typing import Dict, Optional, Tuple

import torch
from mmengine.model import BaseModel


from irkit.archs.clip import clip_preprocess
from irkit.models.irsde import IRSDE, MatchingLoss
from irkit.models.data_preprocessor import unbatch
from irkit.models.ema import EMAPytorchSchedule
from irkit.registry import ARCHS, MODELS

__all__ = ['SDERestorer']


@MODELS.register_module()
class SDERestorer(BaseModel):
    """IR-SDE restoration model with optional DA-CLIP conditioning.

    Args:
        generator: the noise network config (``ConditionalUNet``), called as
            ``generator(x_t, lq, t, text_context=..., image_context=...)``.
        sde: :class:`~irkit.models.irsde.IRSDE` arguments.
        daclip: a ``DaCLIP`` config (frozen; ``pretrained=`` the released
            ``daclip_ViT-B-32.pt``) or ``None`` for an unconditioned IR-SDE.
        loss_type, loss_weight: the matching loss (official: ``'l1'``, 1.0).
        sampling_mode: ``'posterior'`` (released test setting) or ``'sde'``.
        ema_decay, ema_update_every, ema_update_after_step: the EMA
            (0 disables it). ``test_with_ema``: sample with the EMA weights.
        clip_size: the CLIP input size.
        pretrained: a generator checkpoint (``universal-ir.pth``) loaded strictly.
        predict_clamp: clamp predictions to [0, 1].
    """

    def __init__(self, generator: dict, sde: Optional[dict] = None, daclip: Optional[dict] = None,
                 loss_type: str = 'l1', loss_weight: float = 1.0,
                 sampling_mode: str = 'posterior', ema_decay: float = 0.995,
                 ema_update_every: int = 10, ema_update_after_step: int = 100,
                 test_with_ema: bool = True, clip_size: int = 224,
                 pretrained: Optional[str] = None, predict_clamp: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DataPreprocessor'),
                         init_cfg=init_cfg)
        if sampling_mode not in ('posterior', 'sde'):
            raise ValueError(f"sampling_mode must be 'posterior' or 'sde', got {sampling_mode!r}")
        self.generator = ARCHS.build(generator)
        if pretrained is not None:
            self.load_generator(pretrained)
        sde = dict(max_sigma=50, T=100, schedule='cosine', eps=0.005) if sde is None else dict(sde)
        self.sde = IRSDE(**sde)
        self.daclip = None
        if daclip is not None:
            self.daclip = ARCHS.build(daclip)
            self.daclip.eval()
            for p in self.daclip.parameters():
                p.requires_grad = False
        self.loss_fn = MatchingLoss(loss_type)
        self.loss_weight = loss_weight
        self.sampling_mode = sampling_mode
        self.clip_size = clip_size
        self.test_with_ema = test_with_ema
        self.predict_clamp = predict_clamp
        self.generator_ema = None
        if ema_decay > 0:
            self.generator_ema = copy.deepcopy(self.generator)
            for p in self.generator_ema.parameters():
                p.requires_grad = False
            self._ema = EMAPytorchSchedule(ema_decay, ema_update_every, ema_update_after_step)
            self.register_buffer('ema_step', torch.zeros((), dtype=torch.long))
            self.register_buffer('ema_initted', torch.zeros((), dtype=torch.bool))

    # ------------------------------------------------------------------ helpers
    def load_generator(self, path: str) -> None:
        from irkit.fileio.weights import locate_weights, read_state_dict
        path = locate_weights(path, 'model.pretrained',
                              'https://huggingface.co/weblzw/daclip-uir-ViT-B-32-irsde')
        state = read_state_dict(path)
        missing, unexpected = self.generator.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f'{path} does not match the generator: missing {missing[:5]}, '
                               f'unexpected {unexpected[:5]}')

    def train(self, mode: bool = True):
        super().train(mode)
        if self.daclip is not None:
            self.daclip.eval()  # always frozen
        return self

    def _sde(self, device) -> IRSDE:
        if self.sde.thetas.device != torch.device(device):
            self.sde.to(device)
        return self.sde

    @torch.no_grad()
    def daclip_context(self, lq: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """``(image_context, text_context)`` = DA-CLIP (content, degradation) embeddings
        of the LQ image, unnormalised, float32; ``(None, None)`` without DA-CLIP."""
        if self.daclip is None:
            return None, None
        content, degra = self.daclip.encode_image(clip_preprocess(lq, self.clip_size, quantize=True), control=True)
        return content.float(), degra.float()

    # ------------------------------------------------------------------ steps
    def loss(self, lq: torch.Tensor, gt: torch.Tensor) -> Dict[str, torch.Tensor]:
        sde = self._sde(lq.device)
        image_context, text_context = self.daclip_context(lq)
        timesteps, states = sde.generate_random_states(x0=gt, mu=lq)
        noise = self.generator(states, lq, timesteps.reshape(-1), text_context=text_context,
                               image_context=image_context)
        score = sde.get_score_from_noise(noise, timesteps)
        xt_1_expectation = sde.reverse_sde_step_mean(states, score, timesteps)
        xt_1_optimum = sde.reverse_optimum_step(states, gt, timesteps)
        return dict(loss_matching=self.loss_weight * self.loss_fn(xt_1_expectation, xt_1_optimum))

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, use_ema: Optional[bool] = None) -> torch.Tensor:
        """Sample the restored image from ``lq`` (NCHW in [0, 1])."""
        use_ema = self.test_with_ema if use_ema is None else use_ema
        net = self.generator_ema if (use_ema and self.generator_ema is not None) else self.generator
        sde = self._sde(lq.device)
        image_context, text_context = self.daclip_context(lq)
        sde.set_mu(lq)
        sde.set_model(net)
        state = sde.noise_state(lq)
        kwargs = dict(text_context=text_context, image_context=image_context)
        was_training = net.training
        net.eval()
        try:
            if self.sampling_mode == 'posterior':
                out = sde.reverse_posterior(state, **kwargs)
            else:
                out = sde.reverse_sde(state, **kwargs)
        finally:
            net.train(was_training)
            sde.set_model(None)
        return out

    def forward(self, batch: dict, mode: str = 'tensor'):
        if 'lq' not in batch:
            raise KeyError(f"SDERestorer: the batch has no 'lq' (keys: {sorted(batch)})")
        lq = batch['lq']
        if mode == 'loss':
            if 'gt' not in batch:
                raise KeyError("SDERestorer: training needs 'gt' in the batch")
            return self.loss(lq, batch['gt'])
        out = self.restore(lq)
        if mode == 'tensor':
            return out
        if mode != 'predict':
            raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
        if self.predict_clamp:
            out = out.clamp(0, 1)
        return unbatch(batch, out.shape[0], keys=('gt', 'key', 'degradation', 'task', 'lq_path', 'gt_path'),
                       pred=out, lq=lq)

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        if self.generator_ema is not None:
            self._ema.update(self.generator_ema, self.generator, self.ema_step, self.ema_initted)
        return log_vars
