"""MAT's two-player training step (generator + two-headed discriminator) on mmengine.

Follows the official ``TwoStageLoss`` + StyleGAN2-ADA training loop of MAT
(Li et al., CVPR 2022) phase by phase, once per iteration:

1. **G**: ``softplus(-D(G(x)))`` + ``softplus(-D_stg1(G_stg1(x)))`` + MAT's
   perceptual loss (VGG19 conv4_4/conv5_4, weight 0.1), one Adam step;
2. **D**: ``softplus(D(fake)) + softplus(D_stg1(fake_stg1)) + softplus(-D(real))
   + softplus(-D_stg1(real))`` with a fresh z, one Adam step;
3. **D reg** (every ``d_reg_interval`` = 16 iterations, counting from 0): lazy R1,
   ``gamma / 2 * |grad_x D(x)|^2`` for both heads on the real image, multiplied by
   the interval, a separate Adam step;
4. **EMA** of G with ``beta = 0.5 ** (total_batch / (ema_kimg * 1000))``; buffers copied.

The generator's mapping uses ``truncation_psi`` (0.5) in training and style mixing
with probability ``style_mixing_prob`` (0.5).  Real images are x-flipped with
probability 0.5 (``xflip``).  Adam's lr/betas must be the lazy-regularisation
corrected values (G: ``lr * 4/5``, ``beta ** (4/5)``; D: ``lr * 16/17``,
``beta ** (16/17)``), which ``configs/mat_places.py`` computes.

Validation/test use the EMA generator with ``noise_mode='const'`` (``'random'``
when the input size differs from the training resolution), psi 1 and a seed
derived from ``val_seed`` and the sample keys, so evaluations are reproducible.

Gradients are averaged across processes by this model itself (no DDP wrapper
needed): use ``model_wrapper_cfg=dict(type='MATDistributedWrapper')``.
"""
from __future__ import annotations

import copy
import zlib
from typing import Dict, List, Optional, Union

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict

from irkit.registry import ARCHS, LOSSES, MODEL_WRAPPERS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['MATInpaintor', 'MATDistributedWrapper', 'PerModuleOptimWrapperConstructor']


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_grads(module: nn.Module) -> None:
    """Average the gradients of ``module``'s trainable parameters over all processes."""
    if _world_size() == 1:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
    dist.all_reduce(flat)
    flat /= _world_size()
    flat = torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5)  # as the official loop does
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


@MODELS.register_module()
class MATInpaintor(BaseModel):
    """MAT training/inference model.

    Args:
        generator: ``MATGenerator`` config.
        discriminator: ``MATDiscriminator`` config.
        perceptual_loss: loss config called as ``loss(fake, real)`` on [-1, 1]
            images (default ``MATPerceptualLoss`` with weight 0.1); ``None`` to
            train without it.  Built on the first training step and kept out of
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
        data_preprocessor: must map [0, 1] images to [-1, 1]
            (``mean=[0.5]*3, std=[0.5]*3``).
    """

    def __init__(self, generator: dict, discriminator: dict,
                 perceptual_loss: Optional[dict] = dict(type='MATPerceptualLoss', loss_weight=0.1),
                 r1_gamma: float = 10.0, d_reg_interval: int = 16, style_mixing_prob: float = 0.5,
                 truncation_psi: float = 0.5, ema_kimg: float = 10.0, ema_rampup: Optional[float] = None,
                 xflip: bool = True, val_noise_mode: str = 'const', val_truncation_psi: float = 1.0,
                 val_seed: int = 240, batch_gpu: Optional[int] = None,
                 data_preprocessor: Optional[dict] = dict(type='DataPreprocessor', mean=[0.5] * 3,
                                                          std=[0.5] * 3),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if val_noise_mode not in ('random', 'const', 'none'):
            raise ValueError(f"val_noise_mode must be 'random', 'const' or 'none', got {val_noise_mode!r}")
        if d_reg_interval is not None and d_reg_interval < 1:
            raise ValueError(f'd_reg_interval must be >= 1 or None, got {d_reg_interval}')
        self.generator = ARCHS.build(generator)
        self.discriminator = ARCHS.build(discriminator)
        self.generator_ema = copy.deepcopy(self.generator).eval()
        _set_requires_grad(self.generator_ema, False)
        self._pcp_cfg = copy.deepcopy(perceptual_loss)
        self.__dict__['_pcp'] = None  # built lazily, not a registered submodule
        self.r1_gamma = float(r1_gamma)
        self.d_reg_interval = d_reg_interval
        self.style_mixing_prob = float(style_mixing_prob)
        self.truncation_psi = float(truncation_psi)
        self.ema_kimg = float(ema_kimg)
        self.ema_rampup = ema_rampup
        self.xflip = bool(xflip)
        self.val_noise_mode = val_noise_mode
        self.val_truncation_psi = float(val_truncation_psi)
        self.val_seed = int(val_seed)
        self.batch_gpu = batch_gpu
        self._local_iter = 0
        self._seen_nimg = 0

    # ------------------------------------------------------------------ utils
    def train(self, mode: bool = True) -> 'MATInpaintor':
        super().train(mode)
        self.generator_ema.eval()  # the EMA copy never updates its own w_avg
        return self

    @property
    def perceptual_loss(self) -> Optional[nn.Module]:
        if self._pcp is None and self._pcp_cfg is not None:
            loss = LOSSES.build(self._pcp_cfg)
            _set_requires_grad(loss, False)
            self.__dict__['_pcp'] = loss.eval().to(next(self.generator.parameters()).device)
        return self._pcp

    def _current_iter(self) -> int:
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter') if hub is not None else None
        return int(it) if it is not None else self._local_iter

    def _unpack(self, batch: dict):
        images = batch.get('gt')
        if images is None:
            images = batch.get('lq')
        if images is None:
            raise KeyError(f"MATInpaintor needs 'gt' (or 'lq') images in the batch; got keys {sorted(batch)}")
        mask = batch.get('mask')
        if mask is None:
            raise KeyError(f"MATInpaintor needs a 'mask' (1 = known, 0 = hole) in the batch; got {sorted(batch)}")
        if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != images.shape[-2:]:
            raise ValueError(f'mask must be N x 1 x H x W matching the images {tuple(images.shape)}, '
                             f'got {tuple(mask.shape)}')
        return images, mask.to(images.dtype)

    def _z(self, n: int, device, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        z_dim = self.generator.z_dim
        return torch.randn([n, z_dim], device=device, generator=generator)

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

    def run_generator(self, images: torch.Tensor, mask: torch.Tensor, z: torch.Tensor):
        ws = self.run_mapping(z, self._c(z.shape[0], z.device))
        return self.generator.synthesis(images, mask, ws, return_stg1=True)

    # ------------------------------------------------------------- training
    def _chunks(self, *tensors):
        n = tensors[0].shape[0]
        size = n if not self.batch_gpu else min(self.batch_gpu, n)
        if n % size:
            raise ValueError(f'batch size {n} per process is not a multiple of batch_gpu={self.batch_gpu}')
        return list(zip(*[t.split(size) for t in tensors]))

    def train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        """One official iteration: G phase, D phase, lazy R1 (every ``d_reg_interval``), EMA.

        The per-process batch is processed in rounds of ``batch_gpu`` images whose
        gradients add up before each optimizer step, as in StyleGAN2-ADA's loop.
        """
        batch = self.data_preprocessor(data, True)['batch']
        real, mask = self._unpack(batch)
        n = real.shape[0]
        if self.xflip:
            flip = (torch.rand([n], device=real.device) < 0.5).view(-1, 1, 1, 1)
            real = torch.where(flip, real.flip(-1), real)
        chunks = self._chunks(real, mask)
        it = self._current_iter()
        g_optim, d_optim = optim_wrapper['generator'], optim_wrapper['discriminator']
        G, D = self.generator, self.discriminator
        sums: Dict[str, float] = {}

        def add(name: str, value: torch.Tensor) -> None:
            sums[name] = sums.get(name, 0.0) + float(value.detach()) / len(chunks)

        # --- G phase: maximise both heads' logits for the inpainted images (+ perceptual loss)
        _set_requires_grad(G, True)
        _set_requires_grad(D, False)
        for r, m in chunks:
            fake, fake_stg1 = self.run_generator(r, m, self._z(r.shape[0], r.device))
            logits, logits_stg1 = D(fake, m, fake_stg1, self._c(r.shape[0], r.device))
            losses = dict(loss_g=F.softplus(-logits).mean(), loss_g_stg1=F.softplus(-logits_stg1).mean())
            if self.perceptual_loss is not None:
                losses['loss_pcp'] = self.perceptual_loss(fake, r)
            total = sum(losses.values())
            g_optim.backward(total)
            for k, v in losses.items():
                add(k, v)
            add('l1', (fake.detach() - r).abs().mean())  # logged only, as in MAT
        all_reduce_grads(G)
        g_optim.step()
        g_optim.zero_grad()
        _set_requires_grad(G, False)

        # --- D phase: fresh z; fake -> softplus(D), real -> softplus(-D), both heads
        _set_requires_grad(D, True)
        for r, m in chunks:
            c = self._c(r.shape[0], r.device)
            with torch.no_grad():
                fake, fake_stg1 = self.run_generator(r, m, self._z(r.shape[0], r.device))
            gen_logits, gen_logits_stg1 = D(fake, m, fake_stg1, c)
            loss_fake = F.softplus(gen_logits).mean() + F.softplus(gen_logits_stg1).mean()
            d_optim.backward(loss_fake)
            real_logits, real_logits_stg1 = D(r, m, r, c)
            loss_real = F.softplus(-real_logits).mean() + F.softplus(-real_logits_stg1).mean()
            d_optim.backward(loss_real)
            add('loss_d_fake', F.softplus(gen_logits).mean())
            add('loss_d_fake_stg1', F.softplus(gen_logits_stg1).mean())
            add('loss_d_real', F.softplus(-real_logits).mean())
            add('loss_d_real_stg1', F.softplus(-real_logits_stg1).mean())
            add('score_real', real_logits.mean())
            add('score_fake', gen_logits.mean())
        all_reduce_grads(D)
        d_optim.step()
        d_optim.zero_grad()

        # --- lazy R1 on both heads (gradient w.r.t. the image only), scaled by the interval
        if self.d_reg_interval and self.r1_gamma != 0 and it % self.d_reg_interval == 0:
            for r, m in chunks:
                c = self._c(r.shape[0], r.device)
                real_tmp = r.detach().requires_grad_(True)
                real_tmp_stg1 = r.detach().requires_grad_(True)
                r_logits, r_logits_stg1 = D(real_tmp, m, real_tmp_stg1, c)
                (grad,) = torch.autograd.grad(r_logits.sum(), real_tmp, create_graph=True)
                (grad_stg1,) = torch.autograd.grad(r_logits_stg1.sum(), real_tmp_stg1, create_graph=True)
                r1 = grad.square().sum([1, 2, 3]) * (self.r1_gamma / 2)
                r1_stg1 = grad_stg1.square().sum([1, 2, 3]) * (self.r1_gamma / 2)
                reg = ((r_logits + r_logits_stg1).squeeze(1) * 0 + r1 + r1_stg1).mean()
                d_optim.backward(reg * self.d_reg_interval)
                add('loss_r1', r1.mean())
                add('loss_r1_stg1', r1_stg1.mean())
            all_reduce_grads(D)
            d_optim.step()
            d_optim.zero_grad()
        _set_requires_grad(D, False)

        # --- EMA of G over the total batch of this iteration
        self.update_ema(n * _world_size())
        self._local_iter = it + 1
        log = {k: torch.tensor(v) for k, v in sums.items()}
        log['loss'] = sum(v for k, v in log.items() if k.startswith('loss'))
        return log

    @torch.no_grad()
    def update_ema(self, total_batch: int) -> float:
        """``p_ema = lerp(p, p_ema, 0.5 ** (total_batch / ema_nimg))``; buffers copied. Returns beta."""
        ema_nimg = self.ema_kimg * 1000
        self._seen_nimg += total_batch
        if self.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self._seen_nimg * self.ema_rampup)
        beta = 0.5 ** (total_batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)
        return beta

    # ------------------------------------------------------------ inference
    def _seed_for(self, batch: dict) -> int:
        keys = batch.get('key')
        tag = '|'.join(map(str, keys)) if isinstance(keys, (list, tuple)) else str(keys)
        return (self.val_seed * 1000003 + zlib.crc32(tag.encode())) % (2 ** 63)

    @torch.no_grad()
    def inpaint(self, images: torch.Tensor, mask: torch.Tensor, seed: Optional[int] = None,
                noise_mode: Optional[str] = None, truncation_psi: Optional[float] = None,
                return_stg1: bool = False):
        """Inpaint [-1, 1] images with the EMA generator; the global RNG is left untouched."""
        net = self.generator_ema
        noise_mode = noise_mode or self.val_noise_mode
        if noise_mode == 'const' and images.shape[-1] != net.img_resolution:
            noise_mode = 'random'  # noise_const exists at the training resolution only
        psi = self.val_truncation_psi if truncation_psi is None else truncation_psi
        devices = [images.device] if images.device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            if seed is not None:
                torch.manual_seed(seed)
            z = self._z(images.shape[0], images.device)
            return net(images, mask, z, self._c(images.shape[0], images.device), truncation_psi=psi,
                       noise_mode=noise_mode, return_stg1=return_stg1)

    def forward(self, batch: dict, mode: str = 'tensor'):
        if mode == 'loss':
            raise ValueError("MATInpaintor trains through train_step() (two optimizers: 'generator' and "
                             "'discriminator'); forward(mode='loss') is not defined")
        images, mask = self._unpack(batch)
        out = self.inpaint(images, mask, seed=self._seed_for(batch))
        if mode == 'tensor':
            return out
        if mode != 'predict':
            raise ValueError(f"mode must be 'tensor', 'predict' or 'loss', got {mode!r}")
        destruct = getattr(self.data_preprocessor, 'destruct', lambda x: x)
        pred = destruct(out).clamp(0, 1).float().cpu()
        results: List[dict] = []
        for i in range(pred.shape[0]):
            item = dict(pred=pred[i], mask=mask[i].float().cpu())
            for k in ('gt', 'lq'):
                if isinstance(batch.get(k), torch.Tensor):
                    item[k] = destruct(batch[k][i]).float().cpu()
            for k, v in batch.items():
                if k not in item and not isinstance(v, torch.Tensor) and isinstance(v, (list, tuple)) \
                        and len(v) == pred.shape[0]:
                    item[k] = v[i]
            results.append(item)
        return results

    def val_step(self, data: Union[dict, tuple, list]) -> list:
        batch = self.data_preprocessor(data, False)
        return self(**batch, mode='predict')

    def test_step(self, data: Union[dict, tuple, list]) -> list:
        return self.val_step(data)


@MODEL_WRAPPERS.register_module()
class MATDistributedWrapper(nn.Module):
    """Distributed wrapper for :class:`MATInpaintor` (any backend, CPU included).

    Broadcasts rank 0's parameters and buffers once, then forwards
    ``train_step``/``val_step``/``test_step`` to the model, which averages its
    gradients over the processes itself (the official StyleGAN2-ADA phases step
    G and D separately, which one DDP wrapper around both cannot express).

    ``broadcast_buffers`` / ``find_unused_parameters`` are accepted for
    compatibility with the DDP wrapper configs and have no effect.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False) -> None:
        super().__init__()
        self.module = module
        if _world_size() > 1:
            with torch.no_grad():
                for t in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(t.data, src=0)

    def train_step(self, data, optim_wrapper):
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data):
        return self.module.val_step(data)

    def test_step(self, data):
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PerModuleOptimWrapperConstructor:
    """One optimizer wrapper per named submodule (GAN training), returned as an ``OptimWrapperDict``.

    ``optim_wrapper = dict(constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=...), discriminator=dict(...))``;
    each key must name a submodule of the model (e.g. ``generator``, ``discriminator``).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError('PerModuleOptimWrapperConstructor: give paramwise_cfg inside each submodule entry')
        if not isinstance(optim_wrapper_cfg, dict) or not optim_wrapper_cfg:
            raise ValueError('PerModuleOptimWrapperConstructor needs one optim wrapper config per submodule')
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        from mmengine.optim import DefaultOptimWrapperConstructor
        model = getattr(model, 'module', model)
        wrappers = {}
        for name, cfg in self.optim_wrapper_cfg.items():
            sub = getattr(model, name, None)
            if not isinstance(sub, nn.Module):
                children = ', '.join(n for n, _ in model.named_children())
                raise KeyError(f"optim_wrapper.{name}: the model has no submodule '{name}' (it has: {children})")
            cfg = dict(cfg)
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(cfg, paramwise)(sub)
        return OptimWrapperDict(**wrappers)
