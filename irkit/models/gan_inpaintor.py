"""The one inpainting model: any generator (+ optional discriminator) trained with weighted losses.

At the boundary every inpainting model in irkit speaks irkit's convention: ``gt`` RGB
images in [0, 1] and ``mask`` ``N x 1 x H x W`` with 1 = known pixel, 0 = hole (mask
*files* are white = hole, see ``LoadMask``). Inside, :class:`~irkit.models.inpaint_io.InpaintIO`
converts to what the generator's reference code expects (range, BGR/RGB, mask polarity,
hole fill, how ``forward`` is called), from the arch's ``inpaint_io`` declaration
overridden by ``io=``; the discriminator likewise through ``disc_io``.

Training (``train_step``), once per iteration, in the order ``step_order`` chooses:

* ``'d_then_g'`` (MMagic's inpaintors): one generator forward; the discriminator step
  on the detached fake; then the generator step against the updated discriminator;
* ``'g_then_d'`` (LaMa, StyleGAN2-style MAT/Co-ModGAN): the generator step first; the
  discriminator step on the detached fake (``disc_fake='detach'``) or on a fresh
  forward of the updated generator without gradient (``disc_fake='recompute'``).

The generator step minimises the adversarial loss (``gan_loss`` with
``target_is_real=True`` on ``D(disc_input)``) plus every entry of ``losses``. Each loss
entry is a ``LOSSES`` config plus where its inputs come from::

    losses=[dict(type='L1Loss', loss_weight=10., pred='pred', target='gt', region='known',
                 normalize='all'),
            dict(type='PerceptualLoss', loss_weight=0.05, pred='comp'),
            dict(type='FeatureMatchingLoss', loss_weight=100.)]   # D features: fake vs real

``pred``/``target`` name entries of the step's namespace, all in the *network's* range
and channel order (so loss weights mean what the reference recipes mean): ``pred`` (raw
generator output), ``comp`` (``pred`` in the holes, ``gt`` elsewhere), ``gt``, ``input``
(the masked image the generator received), every other named generator output (e.g.
``stage1``) and its composite (``stage1_comp``), and ``fake_features`` /
``real_features`` (discriminator feature maps of ``disc_input`` and ``gt``). ``target``
may be ``None`` for single-input losses (TV). ``region`` (``'hole'`` / ``'known'``)
restricts a pixel loss: ``normalize='region'`` passes the region as the loss's
``weight`` (mean over the region's pixels, MMagic's ``mask_reduce_loss``),
``normalize='all'`` zeroes the other pixels and averages over all (LaMa's
``masked_l1_loss``). ``name`` sets the log name (default ``loss_<type>[_<pred>]``).
A loss class may declare ``inpaint_inputs = (pred, target)`` defaults (feature matching
does). Loss networks with pretrained weights (VGG, ResNet-PL) are built on the first
training step and are not part of the checkpoint.

The discriminator step: ``gan_loss(D(fake), False, is_disc=True)`` +
``gan_loss(D(gt), True, is_disc=True)`` (each backward on its own, fake first), plus
``disc_losses``: ``R1Penalty`` on the real images (every step, or lazily every
``r1_interval`` steps in a separate optimiser step scaled by the interval, as StyleGAN2),
``GradientPenaltyLoss`` on interpolates (``mask=True``: weighted by the hole; with a pair of
critics, each critic on its own input, the hole weighting on the full-size one), and
``DiscShiftLoss`` on the real and the fake loss values, halved (MMagic's ``0.5 * w * loss ** 2``). ``disc_steps=k`` updates D every
iteration and G every k-th (MMagic's ``disc_step``); ``disc_start_iter``,
``adv_start_iter`` and ``generator_pause=(a, b)`` express GLCIC's schedule (G alone, then
D alone, then both).

``batch_gpu`` processes the per-process batch in rounds whose gradients add up before
each step (StyleGAN2-ADA's ``--batch-gpu``). Gradients are averaged over processes by
the model (use ``model_wrapper_cfg=dict(type='irkit.GANDistributedWrapper')``), with
non-finite values replaced as StyleGAN2-ADA does. ``ema`` keeps an exponential moving
average of the generator (:mod:`irkit.models.ema`) used for validation and testing.

Inference (``val_step``/``test_step``/:meth:`inpaint`) pads to the generator's
``pad_multiple`` (or resizes fixed-resolution networks), runs the EMA generator if any,
composites, and returns ``pred`` in [0, 1] with the known pixels of the input kept
exactly. Random draws at inference (latents, dropout, noise) are seeded from ``val_seed``
and the sample keys, so evaluations are reproducible.
"""
from __future__ import annotations

import copy
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict

from irkit.engine.dist import all_reduce_grads, world_size
from irkit.losses.gan_loss import DiscShiftLoss, GradientPenaltyLoss, R1Penalty
from irkit.models.data_preprocessor import unbatch
from irkit.models.ema import build_ema, ema_copy_
from irkit.models.inpaint_io import DiscIO, InpaintIO, pad_bottom_right
from irkit.registry import ARCHS, LOSSES, MODELS

__all__ = ['GANInpaintor', 'set_requires_grad']

LOSS_KEYS = ('pred', 'target', 'region', 'normalize', 'name')


def set_requires_grad(module: Optional[nn.Module], flag: bool, frozen: Optional[set] = None) -> None:
    """Switch gradients of ``module``'s parameters; ids in ``frozen`` always stay off."""
    if module is not None:
        for p in module.parameters():
            p.requires_grad_(flag and (frozen is None or id(p) not in frozen))


class _LossSpec:
    def __init__(self, cfg: dict) -> None:
        cfg = dict(cfg)
        opts = {k: cfg.pop(k) for k in LOSS_KEYS if k in cfg}
        self.cfg = cfg
        loss_cls = LOSSES.get(cfg.get('type')) if isinstance(cfg.get('type'), str) else cfg.get('type')
        defaults = getattr(loss_cls, 'inpaint_inputs', ('pred', 'gt'))
        self.pred = opts.get('pred', defaults[0])
        self.target = opts.get('target', defaults[1] if len(defaults) > 1 else None)
        self.region = opts.get('region')
        self.normalize = opts.get('normalize', 'region')
        if self.region not in (None, 'hole', 'known'):
            raise ValueError(f"loss {cfg.get('type')}: region must be None, 'hole' or 'known', got {self.region!r}")
        if self.normalize not in ('region', 'all'):
            raise ValueError(f"loss {cfg.get('type')}: normalize must be 'region' or 'all', got {self.normalize!r}")
        tname = cfg['type'] if isinstance(cfg['type'], str) else cfg['type'].__name__
        base = tname[:-4] if tname.endswith('Loss') else tname
        self.name = opts.get('name') or ('loss_' + base.lower() + ('' if self.pred == defaults[0] else f'_{self.pred}'))
        self.module: Optional[nn.Module] = None


class _Namespace(dict):
    """The images a loss may ask for; ``<output>_comp`` and discriminator features on demand."""

    def __init__(self, model: 'GANInpaintor', known: torch.Tensor, bbox=None, **items) -> None:
        super().__init__(**items)
        self.model, self.known, self.bbox = model, known, bbox

    def __missing__(self, key: str):
        if key.endswith('_comp') and key[:-5] in self:
            value = self[key[:-5]] * (1 - self.known) + self['gt'] * self.known
        elif key in ('fake_features', 'real_features'):
            self.model._features_for(self)
            return self[key]
        else:
            raise KeyError(f"a loss asks for '{key}', which this step does not produce; available: "
                           f"{', '.join(sorted(self))}, <output>_comp, fake_features, real_features")
        self[key] = value
        return value


@MODELS.register_module()
class GANInpaintor(BaseModel):
    """Inpainting with a generator, an optional discriminator and weighted losses.

    See the module docstring for the training step and the loss entries.

    Args:
        generator, discriminator: ``ARCHS`` configs (no discriminator: reconstruction-only
            training, e.g. Partial Convolutions).
        io, disc_io: overrides of the archs' ``inpaint_io`` / ``disc_io`` declarations.
        losses: generator loss entries.
        gan_loss: ``GANLoss`` config (``None``: no adversarial term).
        disc_losses: ``R1Penalty`` / ``GradientPenaltyLoss`` (+ ``mask=True``) /
            ``DiscShiftLoss`` configs.
        disc_input: what the discriminator sees as fake: ``'comp'`` or ``'pred'``.
        step_order: ``'d_then_g'`` or ``'g_then_d'``; ``disc_fake``: ``'detach'`` or
            ``'recompute'`` (``g_then_d`` only).
        disc_steps, disc_start_iter, adv_start_iter, generator_pause: the schedule.
        r1_interval: lazy R1 every ``r1_interval`` iterations (``None``: every step, in
            the main discriminator loss).
        disc_grad_from_generator: ``g_then_d`` only: the generator's adversarial loss also
            back-propagates into the discriminator, whose next step then uses those
            gradients plus its own (what the official AOT-GAN trainer does by not freezing D).
        ema: ``dict(half_life_kimg=10, rampup=None)`` or ``dict(decay=0.999)``;
            ``test_with_ema``: validate/test with the EMA generator.
        xflip: flip each real image left-right with probability 1/2 (mask unchanged).
        batch_gpu: images per forward in training (gradients accumulate over rounds).
        val_seed: base seed of the random draws at inference.
        data_preprocessor: must not normalise images (the model converts ranges itself).
    """

    def __init__(self, generator: dict, discriminator: Optional[dict] = None,
                 io: Optional[dict] = None, disc_io: Optional[dict] = None,
                 losses: Sequence[dict] = (), gan_loss: Optional[dict] = None,
                 disc_losses: Sequence[dict] = (), disc_input: str = 'comp',
                 step_order: str = 'd_then_g', disc_fake: str = 'detach', disc_steps: int = 1,
                 disc_start_iter: int = 0, adv_start_iter: int = 0,
                 generator_pause: Optional[Sequence[int]] = None, r1_interval: Optional[int] = None,
                 disc_grad_from_generator: bool = False, ema: Optional[dict] = None, test_with_ema: bool = True, xflip: bool = False,
                 batch_gpu: Optional[int] = None, val_seed: int = 240,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DataPreprocessor'),
                         init_cfg=init_cfg)
        if getattr(self.data_preprocessor, '_normalise', False):
            raise ValueError(f'{type(self).__name__}: data_preprocessor must not normalise images (no '
                             'mean/std): the model maps [0, 1] images to the network range itself (io.value_range)')
        self._check_choice('disc_input', disc_input, ('comp', 'pred'))
        self._check_choice('step_order', step_order, ('d_then_g', 'g_then_d'))
        self._check_choice('disc_fake', disc_fake, ('detach', 'recompute'))
        if disc_steps < 1:
            raise ValueError(f'disc_steps must be >= 1, got {disc_steps}')
        if r1_interval is not None and r1_interval < 1:
            raise ValueError(f'r1_interval must be >= 1 or None, got {r1_interval}')
        self.generator = ARCHS.build(generator)
        self.discriminator = ARCHS.build(discriminator) if discriminator is not None else None
        # parameters the archs freeze themselves (e.g. PConv's stage-2 encoder BatchNorm) stay frozen
        self._frozen = {id(p) for net in (self.generator, self.discriminator) if net is not None
                        for p in net.parameters() if not p.requires_grad}
        self.io = InpaintIO.of(self.generator, io)
        self.disc_io = DiscIO.of(self.discriminator, disc_io) if self.discriminator is not None else None
        self._ema = build_ema(ema)
        self.generator_ema = copy.deepcopy(self.generator).eval() if self._ema is not None else None
        set_requires_grad(self.generator_ema, False)
        self.loss_specs = [_LossSpec(c) for c in losses]
        names = [s.name for s in self.loss_specs]
        if len(set(names)) != len(names):
            raise ValueError(f'two losses log under the same name ({names}); give one of them name=')
        self.gan_loss = LOSSES.build(gan_loss) if gan_loss is not None else None
        self._gp_masked = [bool(dict(c).get('mask', False)) for c in disc_losses]
        self.disc_losses = nn.ModuleList(LOSSES.build({k: v for k, v in dict(c).items() if k != 'mask'})
                                         for c in disc_losses)
        for d in self.disc_losses:
            if not isinstance(d, (R1Penalty, GradientPenaltyLoss, DiscShiftLoss)):
                raise TypeError(f'disc_losses: {type(d).__name__} is not one of R1Penalty, '
                                'GradientPenaltyLoss, DiscShiftLoss')
        for d, masked in zip(self.disc_losses, self._gp_masked):
            if masked and not isinstance(d, GradientPenaltyLoss):
                raise ValueError(f'disc_losses: mask=True applies to GradientPenaltyLoss only, not {type(d).__name__}')
        if (self.gan_loss is None) != (self.discriminator is None):
            raise ValueError('give both discriminator and gan_loss, or neither')
        self.disc_input, self.step_order, self.disc_fake = disc_input, step_order, disc_fake
        self.disc_steps, self.disc_start_iter, self.adv_start_iter = int(disc_steps), int(disc_start_iter), \
            int(adv_start_iter)
        self.generator_pause = tuple(generator_pause) if generator_pause else None
        self.r1_interval = r1_interval
        if disc_grad_from_generator and step_order != 'g_then_d':
            raise ValueError("disc_grad_from_generator needs step_order='g_then_d'")
        self.disc_grad_from_generator = bool(disc_grad_from_generator)
        self.test_with_ema, self.xflip, self.batch_gpu = test_with_ema, bool(xflip), batch_gpu
        self.val_seed = int(val_seed)
        self._local_iter = 0

    @staticmethod
    def _check_choice(name: str, value: str, allowed: Tuple[str, ...]) -> None:
        if value not in allowed:
            raise ValueError(f'{name} must be one of {allowed}, got {value!r}')

    # ------------------------------------------------------------------ utils
    def init_weights(self) -> None:
        """The archs' own initialisation (called by the runner), then the EMA copy starts equal to G."""
        super().init_weights()
        if self.generator_ema is not None:
            ema_copy_(self.generator_ema, self.generator)

    def train(self, mode: bool = True) -> 'GANInpaintor':
        super().train(mode)
        if self.generator_ema is not None:
            self.generator_ema.eval()
        return self

    def _current_iter(self) -> int:
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter') if hub is not None else None
        return int(it) if it is not None else self._local_iter

    def _device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def _loss(self, spec: _LossSpec) -> nn.Module:
        if spec.module is None:  # built on first use, kept out of the state_dict
            loss = LOSSES.build(spec.cfg)
            set_requires_grad(loss, False)
            spec.module = loss.eval().to(self._device())
        return spec.module

    def unpack(self, batch: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(gt, known)`` from a batch, checked: RGB [0, 1] and a binary ``N x 1 x H x W`` mask."""
        images = batch.get('gt')
        if images is None:
            images = batch.get('lq')
        name = type(self).__name__
        if not isinstance(images, torch.Tensor):
            raise KeyError(f"{name} needs 'gt' (or 'lq') images in the batch; got keys {sorted(batch)}")
        mask = batch.get('mask')
        if not isinstance(mask, torch.Tensor):
            raise KeyError(f"{name} needs a 'mask' (1 = known, 0 = hole) in the batch; got {sorted(batch)}")
        if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != images.shape[-2:] \
                or mask.shape[0] != images.shape[0]:
            raise ValueError(f'mask must be N x 1 x H x W matching the images {tuple(images.shape)}, '
                             f'got {tuple(mask.shape)}')
        mask = mask.to(images.dtype)
        if not bool(((mask == 0) | (mask == 1)).all()):
            keys = batch.get('key')
            raise ValueError(f'mask must be binary (1 = known, 0 = hole), got values in '
                             f'[{float(mask.min()):g}, {float(mask.max()):g}]'
                             + (f' for {keys}' if keys is not None else ''))
        return images, mask

    # ----------------------------------------------------- generator/discriminator
    def generate(self, net: nn.Module, img_net: torch.Tensor, known: torch.Tensor,
                 training: bool) -> Dict[str, torch.Tensor]:
        """Named outputs of ``net`` (network range) for a network-range image."""
        return self.io.call(net, img_net, known)

    def discriminate(self, images: Dict[str, torch.Tensor], known: torch.Tensor,
                     bbox: Optional[torch.Tensor] = None) -> Dict[str, Tuple[torch.Tensor, List]]:
        """``{head: (logits, features)}`` of the discriminator on ``images['pred']``."""
        return self.disc_io.call(self.discriminator, images['pred'], self.io.net_mask(known), bbox)

    def _features_for(self, ns: _Namespace) -> None:
        fake = self.discriminate(self._fake_images(ns), ns.known, ns.bbox)
        real = self.discriminate(self._real_images(ns['gt']), ns.known, ns.bbox)
        ns['fake_features'] = [f for _, (_, fs) in fake.items() for f in fs]
        ns['real_features'] = [f for _, (_, fs) in real.items() for f in fs]
        ns['_fake_heads'] = fake

    def _fake_images(self, ns: Dict[str, torch.Tensor], detach: bool = False) -> Dict[str, torch.Tensor]:
        imgs = {'pred': ns[self.disc_input]}
        imgs.update({k: v for k, v in ns.items() if k in self.io.outputs and k != 'pred'})
        return {k: v.detach() for k, v in imgs.items()} if detach else imgs

    def _real_images(self, gt: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {k: gt for k in self.io.outputs}

    # ------------------------------------------------------------- training
    def _namespace(self, gt01: torch.Tensor, known: torch.Tensor, bbox=None) -> _Namespace:
        gt = self.io.to_net(gt01)
        outs = self.generate(self.generator, gt, known, training=True)
        ns = _Namespace(self, known, bbox, gt=gt, input=self.io.masked_input(gt, known), **outs)
        ns['comp'] = ns['pred'] * (1 - known) + gt * known
        return ns

    def _chunks(self, *tensors):
        n = tensors[0].shape[0]
        size = n if not self.batch_gpu else min(self.batch_gpu, n)
        if n % size:
            raise ValueError(f'batch size {n} per process is not a multiple of batch_gpu={self.batch_gpu}')
        return list(zip(*[t.split(size) if isinstance(t, torch.Tensor) else [t] * (n // size)
                          for t in tensors]))

    def generator_losses(self, ns: _Namespace, it: int) -> Dict[str, torch.Tensor]:
        losses: Dict[str, torch.Tensor] = {}
        if self.discriminator is not None and it >= self.adv_start_iter:
            heads = ns.get('_fake_heads') or self.discriminate(self._fake_images(ns), ns.known, ns.bbox)
            hole = 1 - ns.known
            for h, (logits, _) in heads.items():
                losses[f'loss_g{h}'] = self.gan_loss(logits, True, is_disc=False, mask=hole)
        for spec in self.loss_specs:
            losses[spec.name] = self._apply_loss(spec, ns)
        return losses

    def _apply_loss(self, spec: _LossSpec, ns: _Namespace) -> torch.Tensor:
        fn = self._loss(spec)
        pred = ns[spec.pred]
        target = ns[spec.target] if spec.target is not None else None
        args = [pred] if target is None else [pred, target]
        if spec.region is None:
            return fn(*args)
        w = 1 - ns.known if spec.region == 'hole' else ns.known
        if spec.normalize == 'all':
            return fn(*[a * w for a in args])
        return fn(*args, weight=w)

    def _disc_side(self, heads, target_is_real: bool, hole: torch.Tensor, add,
                   r1_images: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The discriminator loss of one side (fake or real) over every head, with the disc-shift
        and (on real images, when given) inline R1 terms."""
        tag = 'real' if target_is_real else 'fake'
        total = 0
        for h, (logits, _) in heads.items():
            v = self.gan_loss(logits, target_is_real, is_disc=True, mask=hole)
            add(f'loss_d_{tag}{h}', v)
            add(f'score_{tag}{h}', logits.mean())
            total = total + v
            for d in self.disc_losses:
                if isinstance(d, DiscShiftLoss):  # MMagic: on the loss value, halved (real and fake)
                    s = 0.5 * d(v)
                    add(f'loss_disc_shift_{tag}{h}', s)
                    total = total + s
                elif isinstance(d, R1Penalty) and r1_images is not None:
                    r1 = d(logits, r1_images)
                    add(f'loss_r1{h}', r1)
                    total = total + r1
        return total

    def discriminator_losses(self, fake: Dict[str, torch.Tensor], gt: torch.Tensor, known: torch.Tensor,
                             bbox, backward: Callable[[torch.Tensor], None], add) -> None:
        hole = 1 - known
        backward(self._disc_side(self.discriminate(fake, known, bbox), False, hole, add))
        r1_now = self.r1_interval is None and any(isinstance(d, R1Penalty) for d in self.disc_losses)
        real_imgs = self._real_images(gt.detach().requires_grad_(r1_now) if r1_now else gt)
        backward(self._disc_side(self.discriminate(real_imgs, known, bbox), True, hole, add,
                                 real_imgs['pred'] if r1_now else None))
        for d, masked in zip(self.disc_losses, self._gp_masked):
            if not isinstance(d, GradientPenaltyLoss):
                continue
            if self.disc_io.returns == 'logits_pair':  # each critic on its own input (MMagic's DeepFill v1)
                mask_net = self.io.net_mask(known)
                reals = self.disc_io.critic_inputs(self.discriminator, gt, mask_net, bbox)
                fakes = self.disc_io.critic_inputs(self.discriminator, fake['pred'], mask_net, bbox)
                for h, (critic, real_x, full) in reals.items():
                    gp = d(critic, real_x, fakes[h][1], mask=hole if masked and full else None)
                    add(f'loss_gp{h}', gp)
                    backward(gp)
                continue

            def critic(x: torch.Tensor) -> torch.Tensor:
                heads = self.discriminate({**fake, 'pred': x}, known, bbox)
                return sum(lg for lg, _ in heads.values())
            gp = d(critic, gt, fake['pred'], mask=hole if masked else None)
            add('loss_gp', gp)
            backward(gp)

    def r1_regularisation(self, gt: torch.Tensor, known: torch.Tensor, bbox, add) -> torch.Tensor:
        """Lazy R1 (``r1_interval``): the penalty of every head on the real images."""
        r1s = [d for d in self.disc_losses if isinstance(d, R1Penalty)]
        real = gt.detach().requires_grad_(True)
        heads = self.discriminate(self._real_images(real), known, bbox)
        total = 0
        for h, (logits, _) in heads.items():
            for d in r1s:
                v = d(logits, real)
                add(f'loss_r1{h}', v)
                total = total + v
        return total

    def _phases(self, it: int) -> Tuple[bool, bool]:
        d_on = self.discriminator is not None and it >= self.disc_start_iter
        g_on = not (self.generator_pause and self.generator_pause[0] <= it < self.generator_pause[1])
        if d_on and self.disc_steps > 1:
            g_on = g_on and (it - self.disc_start_iter) % self.disc_steps == self.disc_steps - 1
        return g_on, d_on

    def train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        batch = self.data_preprocessor(data, True)['batch']
        real, known = self.unpack(batch)
        bbox = batch.get('mask_bbox')
        n = real.shape[0]
        if self.xflip:
            flip = (torch.rand([n], device=real.device) < 0.5).view(-1, 1, 1, 1)
            real = torch.where(flip, real.flip(-1), real)
        chunks = self._chunks(real, known, bbox)
        it = self._current_iter()
        g_on, d_on = self._phases(it)
        if isinstance(optim_wrapper, OptimWrapperDict) or isinstance(optim_wrapper, dict):
            g_optim = optim_wrapper['generator']
            d_optim = optim_wrapper['discriminator'] if self.discriminator is not None else None
        else:
            g_optim, d_optim = optim_wrapper, None
        sums: Dict[str, float] = {}

        def add(name: str, value: torch.Tensor) -> None:
            sums[name] = sums.get(name, 0.0) + float(value.detach()) / len(chunks)

        saved: List[Optional[_Namespace]] = [None] * len(chunks)
        if self.step_order == 'd_then_g':
            if d_on:
                set_requires_grad(self.generator, g_on, self._frozen)
                for i, (r, m, b) in enumerate(chunks):
                    with g_optim.optim_context(self.generator):
                        saved[i] = self._namespace(r, m, b) if g_on else self._no_grad_namespace(r, m, b)
                self._d_step(chunks, saved, d_optim, add)
            if g_on:
                self._g_step(chunks, saved, g_optim, it, add)
        else:
            if g_on:
                self._g_step(chunks, saved, g_optim, it, add)
            if d_on:
                if self.disc_fake == 'recompute' or not g_on:
                    saved = [self._no_grad_namespace(r, m, b) for r, m, b in chunks]
                self._d_step(chunks, saved, d_optim, add)
        if d_on and self.r1_interval and it % self.r1_interval == 0 and \
                any(isinstance(d, R1Penalty) for d in self.disc_losses):
            set_requires_grad(self.discriminator, True, self._frozen)
            for r, m, b in chunks:
                with d_optim.optim_context(self.discriminator):
                    reg = self.r1_regularisation(self.io.to_net(r), m, b, add)
                d_optim.backward(reg * self.r1_interval)
            self._step(d_optim, self.discriminator)
            set_requires_grad(self.discriminator, False, self._frozen)
        if self.disc_grad_from_generator and not d_on and self.discriminator is not None:
            self.discriminator.zero_grad(set_to_none=True)  # no D step this iteration to use them
        if self._ema is not None and g_on:
            self._ema.update(self.generator_ema, self.generator, n * world_size())
        self._local_iter = it + 1
        log = {k: torch.tensor(v) for k, v in sums.items()}
        log['loss'] = sum((v for k, v in log.items() if k.startswith('loss')), torch.tensor(0.0))
        return log

    def _no_grad_namespace(self, r, m, b) -> _Namespace:
        with torch.no_grad():
            return self._namespace(r, m, b)

    @staticmethod
    def _step(optim, module: nn.Module) -> None:
        all_reduce_grads(module)
        optim.step()
        optim.zero_grad()

    def _g_step(self, chunks, saved, g_optim, it, add) -> None:
        set_requires_grad(self.generator, True, self._frozen)
        set_requires_grad(self.discriminator, self.disc_grad_from_generator, self._frozen)
        for i, (r, m, b) in enumerate(chunks):
            with g_optim.optim_context(self.generator):
                ns = saved[i]
                if ns is None:
                    ns = saved[i] = self._namespace(r, m, b)
                losses = self.generator_losses(ns, it)
            g_optim.backward(sum(losses.values()))
            for k, v in losses.items():
                add(k, v)
            add('l1', (ns['pred'].detach() - ns['gt']).abs().mean())  # logged only
            for k in ('fake_features', 'real_features', '_fake_heads'):
                ns.pop(k, None)
        self._step(g_optim, self.generator)
        set_requires_grad(self.generator, False, self._frozen)
        set_requires_grad(self.discriminator, False, self._frozen)

    def _d_step(self, chunks, saved, d_optim, add) -> None:
        set_requires_grad(self.discriminator, True, self._frozen)
        for i, (r, m, b) in enumerate(chunks):
            ns = saved[i]
            with d_optim.optim_context(self.discriminator):
                self.discriminator_losses(self._fake_images(ns, detach=True), ns['gt'], m, b,
                                          d_optim.backward, add)
        self._step(d_optim, self.discriminator)
        set_requires_grad(self.discriminator, False, self._frozen)

    # ------------------------------------------------------------ inference
    def seed_for(self, batch: dict) -> int:
        """The inference seed of a batch: ``val_seed`` and the sample keys."""
        keys = batch.get('key')
        tag = '|'.join(map(str, keys)) if isinstance(keys, (list, tuple)) else str(keys)
        return (self.val_seed * 1000003 + zlib.crc32(tag.encode())) % (2 ** 63)

    def inference_net(self) -> nn.Module:
        return self.generator_ema if (self.generator_ema is not None and self.test_with_ema) else self.generator

    def generate_eval(self, net: nn.Module, img_net: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The final image (network range) of ``net`` at inference; sizes already adapted."""
        return self.generate(net, img_net, known, training=False)['pred']

    @torch.no_grad()
    def inpaint(self, images: torch.Tensor, known: torch.Tensor, seed: Optional[int] = None) -> torch.Tensor:
        """Inpaint [0, 1] RGB ``images`` (N x 3 x H x W, any size) where ``known`` is 0.

        Returns the composite in [0, 1]: the known pixels are the input's exactly. The
        global RNG is left untouched; ``seed`` seeds the network's random draws.
        """
        net = self.inference_net()
        h, w = images.shape[-2:]
        x, m = images, known.to(images.dtype)
        size = self.io.resize_to
        if size and (h, w) != (size, size):
            x = F.interpolate(x, size=(size, size), mode='bicubic', align_corners=False).clamp(0, 1)
            m = F.interpolate(m, size=(size, size), mode='nearest')
        elif self.io.pad_multiple > 1 or self.io.min_size > 1:
            x = pad_bottom_right(x, self.io.pad_multiple, self.io.pad_mode, self.io.min_size)
            m = pad_bottom_right(m, self.io.pad_multiple, self.io.pad_mode, self.io.min_size)
        devices = [images.device] if images.device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            if seed is not None:
                torch.manual_seed(seed)
            out = self.io.from_net(self.generate_eval(net, self.io.to_net(x), m)).clamp(0, 1)
        if size and (h, w) != (size, size):
            out = F.interpolate(out, size=(h, w), mode='bicubic', align_corners=False).clamp(0, 1)
        out = out[..., :h, :w]
        return out * (1 - known) + images * known

    def forward(self, batch: dict, mode: str = 'tensor'):
        if mode == 'loss':
            raise ValueError(f"{type(self).__name__} trains through train_step() (one optimizer per "
                             "network: 'generator' and 'discriminator'); forward(mode='loss') is not defined")
        images, known = self.unpack(batch)
        out = self.inpaint(images, known, seed=self.seed_for(batch))
        if mode == 'tensor':
            return out
        if mode != 'predict':
            raise ValueError(f"mode must be 'tensor', 'predict' or 'loss', got {mode!r}")
        return unbatch(batch, out.shape[0], pred=out, mask=known)

    def val_step(self, data: Union[dict, tuple, list]) -> list:
        batch = self.data_preprocessor(data, False)
        return self(**batch, mode='predict')

    def test_step(self, data: Union[dict, tuple, list]) -> list:
        return self.val_step(data)
