"""MAT's training and inference on the shared GAN inpainting model.

Follows the official ``TwoStageLoss`` + StyleGAN2-ADA training loop of MAT
(Li et al., CVPR 2022) phase by phase, once per iteration, through
:class:`~irkit.models.gan_inpaintor.GANInpaintor` (``step_order='g_then_d'``,
``disc_fake='recompute'``, lazy R1):

1. **G**: ``softplus(-D(G(x)))`` + ``softplus(-D_stg1(G_stg1(x)))`` + MAT's
   perceptual loss (VGG19 conv4_4/conv5_4, weight 0.1), one Adam step;
2. **D**: ``softplus(D(fake)) + softplus(D_stg1(fake_stg1)) + softplus(-D(real))
   + softplus(-D_stg1(real))`` with a fresh z, one Adam step;
3. **D reg** (every ``d_reg_interval`` = 16 iterations, counting from 0): lazy R1,
   ``gamma / 2 * |grad_x D(x)|^2`` for both heads on the real image, multiplied by
   the interval, a separate Adam step;
4. **EMA** of G with ``beta = 0.5 ** (total_batch / (ema_kimg * 1000))``; buffers copied.

What is MAT's own: the generator is called with a mapped latent (training: truncation
``truncation_psi`` = 0.5 and style mixing with probability 0.5), returns the stage-1
image too, and the discriminator has a head for each stage. Real images are x-flipped
with probability 0.5 (``xflip``). Adam's lr/betas must be the lazy-regularisation
corrected values (G: ``lr * 4/5``, ``beta ** (4/5)``; D: ``lr * 16/17``,
``beta ** (16/17)``), which ``configs/mat_places.py`` computes.

Validation/test use the EMA generator with ``noise_mode='const'``, psi 1 and a seed
derived from ``val_seed`` and the sample keys, so evaluations are reproducible; other
image sizes are resized to the training resolution and back.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn as nn

from irkit.models.gan_inpaintor import GANInpaintor
from irkit.registry import MODELS

__all__ = ['MATInpaintor']


@MODELS.register_module()
class MATInpaintor(GANInpaintor):
    """MAT training/inference model.

    Args:
        generator: ``MATGenerator`` config.
        discriminator: ``MATDiscriminator`` config.
        perceptual_loss: loss config called as ``loss(fake, real)`` on [-1, 1]
            images (default ``MATPerceptualLoss`` with weight 0.1); ``None`` to
            train without it. Built on the first training step and kept out of
            the state_dict (its VGG weights are not saved in checkpoints).
        r1_gamma: R1 weight (10).
        d_reg_interval: lazy R1 interval (16).
        style_mixing_prob: style mixing probability in training (0.5).
        truncation_psi: truncation of the training mapping (0.5).
        ema_kimg: EMA half-life in thousands of images (10).
        ema_rampup: optional StyleGAN2 EMA ramp-up (None, as MAT).
        xflip: x-flip real images with probability 0.5 (MAT's ``--mirror``).
        val_noise_mode: noise mode of validation/test (``'const'``).
        val_truncation_psi: truncation at test time (1).
        val_seed: base seed of the style-manipulation draws and z at test time.
        batch_gpu: images per forward (StyleGAN2-ADA's ``--batch-gpu``, 4 in MAT):
            a larger per-process batch is processed in rounds whose gradients add up
            before each step; ``None`` = the whole per-process batch at once.
        data_preprocessor: a ``DataPreprocessor`` without mean/std (images stay in
            [0, 1]; the model maps them to MAT's [-1, 1]).
    """

    def __init__(self, generator: dict, discriminator: dict,
                 perceptual_loss: Optional[dict] = dict(type='MATPerceptualLoss', loss_weight=0.1),
                 r1_gamma: float = 10.0, d_reg_interval: int = 16, style_mixing_prob: float = 0.5,
                 truncation_psi: float = 0.5, ema_kimg: float = 10.0, ema_rampup: Optional[float] = None,
                 xflip: bool = True, val_noise_mode: str = 'const', val_truncation_psi: float = 1.0,
                 val_seed: int = 240, batch_gpu: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        if val_noise_mode not in ('random', 'const', 'none'):
            raise ValueError(f"val_noise_mode must be 'random', 'const' or 'none', got {val_noise_mode!r}")
        if d_reg_interval is not None and d_reg_interval < 1:
            raise ValueError(f'd_reg_interval must be >= 1 or None, got {d_reg_interval}')
        losses = [] if perceptual_loss is None else [dict(perceptual_loss, name='loss_pcp')]
        lazy_r1 = bool(d_reg_interval) and r1_gamma != 0
        super().__init__(
            generator=generator, discriminator=discriminator, losses=losses,
            gan_loss=dict(type='GANLoss', gan_type='logistic'),
            disc_losses=[dict(type='R1Penalty', gamma=r1_gamma)] if lazy_r1 else [],
            disc_input='pred', step_order='g_then_d', disc_fake='recompute',
            r1_interval=d_reg_interval if lazy_r1 else None,
            ema=dict(half_life_kimg=ema_kimg, rampup=ema_rampup), xflip=xflip, batch_gpu=batch_gpu,
            val_seed=val_seed, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.r1_gamma = float(r1_gamma)
        self.d_reg_interval = d_reg_interval
        self.style_mixing_prob = float(style_mixing_prob)
        self.truncation_psi = float(truncation_psi)
        self.val_noise_mode = val_noise_mode
        self.val_truncation_psi = float(val_truncation_psi)

    # ------------------------------------------------------------ MAT's calls
    def _z(self, n: int, device, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return torch.randn([n, self.generator.z_dim], device=device, generator=generator)

    def _c(self, n: int, device) -> Optional[torch.Tensor]:
        c_dim = self.generator.c_dim
        return torch.zeros([n, c_dim], device=device) if c_dim > 0 else None

    def run_mapping(self, z: torch.Tensor, c: Optional[torch.Tensor]) -> torch.Tensor:
        """Training mapping: truncation ``truncation_psi`` and style mixing, as MAT's loss does."""
        mapping = self.generator.mapping
        ws = mapping(z, c, truncation_psi=self.truncation_psi)
        if self.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = torch.empty([], dtype=torch.int64, device=ws.device).random_(1, num_ws)
            cutoff = torch.where(torch.rand([], device=ws.device) < self.style_mixing_prob, cutoff,
                                 torch.full_like(cutoff, num_ws))
            mixed = mapping(torch.randn_like(z), c, truncation_psi=self.truncation_psi, skip_w_avg_update=True)
            keep = (torch.arange(num_ws, device=ws.device) < cutoff).view(1, -1, 1)
            ws = torch.where(keep, ws, mixed)
        return ws

    def generate(self, net: nn.Module, img_net: torch.Tensor, known: torch.Tensor,
                 training: bool) -> Dict[str, torch.Tensor]:
        z = self._z(img_net.shape[0], img_net.device)
        ws = self.run_mapping(z, self._c(z.shape[0], z.device))
        pred, stage1 = net.synthesis(img_net, known, ws, return_stg1=True)
        return dict(pred=pred, stage1=stage1)

    def discriminate(self, images, known, bbox=None):
        logits, logits_stg1 = self.discriminator(images['pred'], known, images['stage1'],
                                                 self._c(known.shape[0], known.device))
        return {'': (logits, []), '_stg1': (logits_stg1, [])}

    def r1_regularisation(self, gt: torch.Tensor, known: torch.Tensor, bbox, add) -> torch.Tensor:
        """Both heads' R1 on their own copy of the real image, as MAT's loss computes it."""
        c = self._c(gt.shape[0], gt.device)
        real = gt.detach().requires_grad_(True)
        real_stg1 = gt.detach().requires_grad_(True)
        logits, logits_stg1 = self.discriminator(real, known, real_stg1, c)
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        (grad_stg1,) = torch.autograd.grad(logits_stg1.sum(), real_stg1, create_graph=True)
        r1 = grad.square().sum([1, 2, 3]) * (self.r1_gamma / 2)
        r1_stg1 = grad_stg1.square().sum([1, 2, 3]) * (self.r1_gamma / 2)
        add('loss_r1', r1.mean())
        add('loss_r1_stg1', r1_stg1.mean())
        return ((logits + logits_stg1).squeeze(1) * 0 + r1 + r1_stg1).mean()

    # ------------------------------------------------------------ inference
    def generate_eval(self, net: nn.Module, img_net: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        noise_mode = self._noise_mode or self.val_noise_mode
        if noise_mode == 'const' and img_net.shape[-1] != net.img_resolution:
            noise_mode = 'random'  # noise_const exists at the training resolution only
        psi = self.val_truncation_psi if self._psi is None else self._psi
        n = img_net.shape[0]
        z = self._z(n, img_net.device)
        return net(img_net, known, z, self._c(n, img_net.device), truncation_psi=psi, noise_mode=noise_mode)

    _noise_mode: Optional[str] = None
    _psi: Optional[float] = None

    @torch.no_grad()
    def inpaint(self, images: torch.Tensor, known: torch.Tensor, seed: Optional[int] = None,
                noise_mode: Optional[str] = None, truncation_psi: Optional[float] = None) -> torch.Tensor:
        """Inpaint [0, 1] images (1 = known in ``known``); ``noise_mode``/``truncation_psi``
        override the validation settings for this call. Returns the [0, 1] composite."""
        self._noise_mode, self._psi = noise_mode, truncation_psi
        try:
            return super().inpaint(images, known, seed=seed)
        finally:
            self._noise_mode = self._psi = None

    def update_ema(self, total_batch: int) -> float:
        """One EMA step over ``total_batch`` images; returns beta."""
        return self._ema.update(self.generator_ema, self.generator, total_batch)
