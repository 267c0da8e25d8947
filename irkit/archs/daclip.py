"""DA-CLIP: degradation-aware CLIP.

Luo et al., "Controlling Vision-Language Models for Multi-Task Image Restoration"
(ICLR 2024), https://github.com/Algolzw/daclip-uir (MIT licence).

A frozen CLIP (:class:`irkit.archs.clip.CLIP`) plus a trainable copy of its image
tower (the *controller*) whose transformer is wrapped in :class:`ControlTransformer`:
after every controller block a zero-initialised ``nn.Linear(width, width)`` maps the
block output to a control residual. The controller's own pooled and projected output
is the *degradation embedding*; the frozen image tower, with the control residuals
added after its blocks **in reversed order** (main block ``i`` receives the residual
of controller block ``L - 1 - i``), gives the *content embedding*.

State dict layout as in the released ``daclip_ViT-B-32.pt``: ``clip.*`` (the whole
CLIP), ``visual.*`` (the same tensors as ``clip.visual.*``), ``visual_control.*``
(``visual_control.transformer.transformer.resblocks.*`` and
``visual_control.transformer.zero_modules.*``) and ``logit_scale``.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from irkit.archs.clip import CLIP, Transformer, build_clip
from irkit.fileio.weights import locate_weights, read_state_dict
from irkit.fileio.weights import official_format, pick_state, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['ControlTransformer', 'DaCLIP', 'DEGRADATIONS']

#: The ten degradation words of the Universal-IR data, in the official order.
DEGRADATIONS = ('motion-blurry', 'hazy', 'jpeg-compressed', 'low-light', 'noisy', 'raindrop',
                'rainy', 'shadowed', 'snowy', 'uncompleted')

DACLIP_WEIGHTS_URL = 'https://huggingface.co/weblzw/daclip-uir-ViT-B-32-irsde'
OPENCLIP_WEIGHTS_URL = 'https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K'


class ControlTransformer(nn.Module):
    """Wraps a :class:`~irkit.archs.clip.Transformer`; adds one zero-initialised
    ``nn.Linear(width, width)`` per block (``zero_modules``).

    ``forward(x, output_hiddens=True)`` returns ``(x, hiddens)`` where ``x`` is the
    plain transformer output and ``hiddens[i] = zero_modules[i](block_i(...))``.
    """

    def __init__(self, transformer: Transformer) -> None:
        super().__init__()
        self.transformer = transformer
        self.layers = transformer.layers
        self.width = transformer.width
        self.zero_modules = nn.ModuleList(
            [nn.Linear(self.width, self.width, bias=True) for _ in range(self.layers)])
        for p in self.zero_modules.parameters():
            nn.init.zeros_(p)

    @property
    def grad_checkpointing(self) -> bool:
        return self.transformer.grad_checkpointing

    @grad_checkpointing.setter
    def grad_checkpointing(self, value: bool) -> None:
        self.transformer.grad_checkpointing = value

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
                output_hiddens: bool = False, control: Optional[List[torch.Tensor]] = None):
        hiddens = []
        for z, block in zip(self.zero_modules, self.transformer.resblocks):
            x = self.transformer._run(block, x, attn_mask)
            if output_hiddens:
                hiddens.append(z(x))
            if control is not None:
                x = x + control.pop()
        return (x, hiddens) if output_hiddens else x


@ARCHS.register_module()
class DaCLIP(nn.Module):
    """Degradation-aware CLIP (controller + frozen CLIP).

    Args:
        clip_model: an already built :class:`~irkit.archs.clip.CLIP` (the official
            ``DaCLIP(clip_model)`` signature). Or build one from:
        clip_cfg: an OpenCLIP config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``,
            optional ``quick_gelu``), or
        model_name: an OpenCLIP model name (``'ViT-B-32'``; a ``daclip_`` prefix is
            accepted).
        pretrained: a released DA-CLIP checkpoint (``daclip_ViT-B-32.pt``), loaded
            strictly into the whole model. Missing files raise
            :class:`~irkit.fileio.weights.MissingWeightsError` naming the file.
        clip_pretrained: base OpenCLIP weights (e.g. ViT-B-32 ``laion2b_s34b_b79k``,
            ``open_clip_pytorch_model.bin``) loaded strictly into ``clip``; the
            controller is then initialised from them (``initial_controller``) — the
            start of stage-1 training.
        lock_clip: freeze ``clip`` (stage 1 trains only the controller and the
            logit scale).
        controller_init: how ``clip_pretrained`` initialises the controller:
            ``'official'`` (bit-exact with the released code, including its quirk,
            see :meth:`initial_controller`) or ``'copy'``.
    """

    def __init__(self, clip_model: Optional[CLIP] = None, clip_cfg: Optional[dict] = None,
                 model_name: Optional[str] = None, pretrained: Optional[str] = None,
                 clip_pretrained: Optional[str] = None, lock_clip: bool = True,
                 controller_init: str = 'official') -> None:
        super().__init__()
        if controller_init not in ('official', 'copy'):
            raise ValueError(f"controller_init must be 'official' or 'copy', got {controller_init!r}")
        self.controller_init = controller_init
        given = sum(x is not None for x in (clip_model, clip_cfg, model_name))
        if given != 1:
            raise ValueError('DaCLIP: give exactly one of clip_model, clip_cfg and model_name '
                             f'(got {given})')
        if clip_model is None:
            if model_name is not None and model_name.startswith('daclip_'):
                model_name = model_name[len('daclip_'):]
            clip_model = build_clip(model_name=model_name, clip_cfg=clip_cfg)
        self.clip = clip_model
        self.visual = clip_model.visual
        self.visual_control = copy.deepcopy(clip_model.visual)
        self.visual_control.transformer = ControlTransformer(self.visual_control.transformer)
        self.logit_scale = copy.deepcopy(clip_model.logit_scale)

        if clip_pretrained is not None:
            path = locate_weights(clip_pretrained, 'clip_pretrained', OPENCLIP_WEIGHTS_URL)
            self.clip.load_state_dict(read_state_dict(path), strict=True)
            self.initial_controller()
        if pretrained is not None:
            self.load_pretrained(pretrained)
        if lock_clip:
            self.lock_clip()

    def load_pretrained(self, path: Union[str, Path]) -> None:
        """Strictly load a DA-CLIP checkpoint (raw or ``{'state_dict': ...}``)."""
        path = locate_weights(path, 'pretrained', DACLIP_WEIGHTS_URL)
        state = read_state_dict(path)
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(
                f'{path} does not match DaCLIP: {len(missing)} missing keys '
                f'(e.g. {missing[:3]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:3]})')

    def initial_controller(self, mode: Optional[str] = None) -> None:
        """Initialise the controller from the CLIP image tower and ``logit_scale`` from
        the CLIP logit scale.

        ``mode='official'`` reproduces the released code exactly: it pairs the two
        towers' parameter lists position by position, and because the controller
        lists its ``zero_modules`` before ``ln_post``, CLIP's ``ln_post`` weight/bias
        are broadcast into ``zero_modules[0]`` (so that connection is *not* zero
        after initialisation) while the controller's ``ln_post`` keeps its value.
        ``mode='copy'`` copies every tower parameter to its namesake and sets all
        zero connections to zero (a fresh ControlNet-style start). Default: the ``controller_init`` given at
        construction.
        """
        mode = self.controller_init if mode is None else mode
        if mode not in ('official', 'copy'):
            raise ValueError(f"controller_init must be 'official' or 'copy', got {mode!r}")
        with torch.no_grad():
            if mode == 'copy':
                src = dict(self.clip.visual.named_parameters())
                for name, p in self.visual_control.named_parameters():
                    if 'zero_modules' in name:
                        p.zero_()
                    else:
                        p.copy_(src[name.replace('transformer.transformer.', 'transformer.')])
            else:
                pairs = zip(self.clip.visual.named_parameters(),
                            self.visual_control.named_parameters())
                for (name_v, p_v), (_, p_c) in pairs:
                    if 'transformer' not in name_v:
                        p_c.copy_(p_v)  # broadcasts ln_post into zero_modules[0]
                for p_v, p_c in zip(self.clip.visual.transformer.parameters(),
                                    self.visual_control.transformer.parameters()):
                    p_c.copy_(p_v)
            self.logit_scale.copy_(self.clip.logit_scale)

    def lock_clip(self) -> None:
        for p in self.clip.parameters():
            p.requires_grad = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.clip.set_grad_checkpointing(enable)
        self.visual_control.set_grad_checkpointing(enable)

    def encode_image(self, image: torch.Tensor, control: bool = False,
                     normalize: bool = False):
        """``control=True``: the ``(content, degradation)`` embeddings; else the plain
        CLIP image embedding."""
        if control:
            degra_features, hiddens = self.visual_control(image, output_hiddens=True)
            image_features = self.clip.visual(image, control=hiddens)
            if normalize:
                image_features = F.normalize(image_features, dim=-1)
                degra_features = F.normalize(degra_features, dim=-1)
            return image_features, degra_features
        return self.clip.encode_image(image, normalize)

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        return self.clip.encode_text(text, normalize)

    def forward(self, image: Optional[torch.Tensor] = None,
                text: Optional[torch.Tensor] = None) -> Dict[str, Optional[torch.Tensor]]:
        """``text``: caption ids and degradation ids concatenated on the last dim."""
        caption, degradation = text.chunk(2, dim=-1) if text is not None else (None, None)
        image_features = image_degra_features = None
        if image is not None:
            image_features, image_degra_features = self.encode_image(image, control=True,
                                                                     normalize=True)
        text_features = self.encode_text(caption, normalize=True) if caption is not None else None
        text_degra_features = (self.encode_text(degradation, normalize=True)
                               if degradation is not None else None)
        return dict(image_features=image_features, text_features=text_features,
                    image_degra_features=image_degra_features,
                    text_degra_features=text_degra_features, logit_scale=self.logit_scale.exp())


@official_format('daclip', description='DA-CLIP release daclip_ViT-B-32.pt: the whole DaCLIP state dict')
def daclip_parts(ckpt, path: str) -> dict:
    sd = pick_state(ckpt, ('state_dict', 'params', 'model'), path, 'daclip')
    return {'daclip': unwrap(tensor_dict(sd, path, 'the state dict'))}
