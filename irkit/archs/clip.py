"""CLIP image and text towers compatible with OpenCLIP checkpoints.

Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision" (ICML 2021); OpenCLIP (Ilharco et al., 2021; Cherti et al., CVPR 2023).

``open_clip_torch`` imports torchvision at import time, which is not usable on a
CPU-only torch, so irkit carries its own implementation of the towers. The
constructor config (``embed_dim``, ``vision_cfg``, ``text_cfg``, ``quick_gelu``)
and the state_dict key layout follow OpenCLIP's ``CLIP`` class (text tower at the
top level: ``token_embedding``, ``positional_embedding``, ``transformer``,
``ln_final``, ``text_projection``; image tower under ``visual``), so checkpoints such
as ViT-B-32 ``laion2b_s34b_b79k`` (``open_clip_pytorch_model.bin``) load strictly.

The vision transformer accepts ``control`` (a list of per-block residuals that are
popped from the end, as DA-CLIP's controller injects them) and ``output_hiddens``.

Tokenisation: :class:`SimpleTokenizer` implements CLIP's byte-level BPE and reads the
merges file (``bpe_simple_vocab_16e6.txt.gz``) from a local path. ``ftfy`` is used
for text repair when it is installed; otherwise only HTML unescaping and whitespace
cleaning are applied (identical for ordinary text).
"""
from __future__ import annotations

import gzip
import html
import math
import unicodedata
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from irkit.registry import ARCHS

__all__ = [
    'CLIPVisionCfg', 'CLIPTextCfg', 'CLIP', 'VisionTransformer', 'TextTransformer', 'Transformer',
    'ResidualAttentionBlock', 'LayerNorm', 'QuickGELU', 'CLIP_MODEL_CONFIGS', 'get_clip_config',
    'build_clip', 'SimpleTokenizer', 'tokenize', 'OPENAI_CLIP_MEAN', 'OPENAI_CLIP_STD', 'clip_preprocess',
    'BPE_FILENAME'
]

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BPE_FILENAME = 'bpe_simple_vocab_16e6.txt.gz'


# --------------------------------------------------------------------------- configs
@dataclass
class CLIPVisionCfg:
    """OpenCLIP's ``vision_cfg`` (ViT towers; timm/ResNet towers are not supported)."""
    layers: int = 12
    width: int = 768
    head_width: int = 64
    mlp_ratio: float = 4.0
    patch_size: int = 16
    image_size: Union[Tuple[int, int], int] = 224
    ls_init_value: Optional[float] = None
    patch_dropout: float = 0.
    input_patchnorm: bool = False
    global_average_pool: bool = False
    attentional_pool: bool = False
    n_queries: int = 256
    attn_pooler_heads: int = 8
    output_tokens: bool = False


@dataclass
class CLIPTextCfg:
    """OpenCLIP's ``text_cfg`` (the built-in causal transformer; no HF towers)."""
    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    ls_init_value: Optional[float] = None
    embed_cls: bool = False
    pad_id: int = 0
    output_tokens: bool = False


def _to_cfg(cfg, cls, what: str):
    if cfg is None:
        return cls()
    if isinstance(cfg, cls):
        return cfg
    cfg = dict(cfg)
    valid = {f.name for f in fields(cls)}
    unknown = [k for k in cfg if k not in valid]
    if unknown:
        from irkit.registry import closest
        raise KeyError(f'{what} has unknown key {unknown[0]!r}{closest(unknown[0], valid)}; '
                       f'valid keys: {", ".join(sorted(valid))}')
    return cls(**cfg)


# OpenCLIP model configs (embed_dim / vision_cfg / text_cfg) for the towers DA-CLIP uses.
CLIP_MODEL_CONFIGS: Dict[str, dict] = {
    'ViT-B-32': dict(embed_dim=512,
                     vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=32),
                     text_cfg=dict(context_length=77, vocab_size=49408, width=512, heads=8,
                                   layers=12)),
    'ViT-B-16': dict(embed_dim=512,
                     vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=16),
                     text_cfg=dict(context_length=77, vocab_size=49408, width=512, heads=8,
                                   layers=12)),
    'ViT-L-14': dict(embed_dim=768,
                     vision_cfg=dict(image_size=224, layers=24, width=1024, patch_size=14),
                     text_cfg=dict(context_length=77, vocab_size=49408, width=768, heads=12,
                                   layers=12)),
}
CLIP_MODEL_CONFIGS['daclip_ViT-B-32'] = CLIP_MODEL_CONFIGS['ViT-B-32']
CLIP_MODEL_CONFIGS['daclip_ViT-L-14'] = CLIP_MODEL_CONFIGS['ViT-L-14']


def get_clip_config(model_name: str) -> dict:
    """A copy of the OpenCLIP config for ``model_name`` (``/`` may replace ``-``)."""
    name = model_name.replace('/', '-')
    if name not in CLIP_MODEL_CONFIGS:
        from irkit.registry import closest
        raise KeyError(f'unknown CLIP model {model_name!r}{closest(name, CLIP_MODEL_CONFIGS)}; '
                       f'known: {", ".join(CLIP_MODEL_CONFIGS)}')
    cfg = CLIP_MODEL_CONFIGS[name]
    return dict(embed_dim=cfg['embed_dim'], vision_cfg=dict(cfg['vision_cfg']),
                text_cfg=dict(cfg['text_cfg']))


# --------------------------------------------------------------------------- layers
class LayerNorm(nn.LayerNorm):
    """LayerNorm that casts its output back to the input dtype (OpenCLIP)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        orig_type = x.dtype
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.to(orig_type)


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)`` (OpenAI CLIP weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class LayerScale(nn.Module):

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class PatchDropout(nn.Module):
    """Randomly keep a subset of patch tokens during training (CLS kept)."""

    def __init__(self, prob: float, exclude_first_token: bool = True) -> None:
        super().__init__()
        if not 0 <= prob < 1:
            raise ValueError(f'patch_dropout must be in [0, 1), got {prob}')
        self.prob = prob
        self.exclude_first_token = exclude_first_token

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.prob == 0.:
            return x
        if self.exclude_first_token:
            cls_tokens, x = x[:, :1], x[:, 1:]
        batch, num_tokens = x.shape[:2]
        keep = max(1, int(num_tokens * (1 - self.prob)))
        idx = torch.randn(batch, num_tokens, device=x.device).topk(keep, dim=-1).indices
        x = x[torch.arange(batch, device=x.device)[:, None], idx]
        if self.exclude_first_token:
            x = torch.cat((cls_tokens, x), dim=1)
        return x


class AttentionalPooler(nn.Module):
    """Learned queries attending over the image tokens (OpenCLIP/CoCa)."""

    def __init__(self, d_model: int, context_dim: int, n_head: int = 8, n_queries: int = 256,
                 norm_layer: Callable = LayerNorm) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(n_queries, d_model))
        self.attn = nn.MultiheadAttention(d_model, n_head, kdim=context_dim, vdim=context_dim)
        self.ln_q = norm_layer(d_model)
        self.ln_k = norm_layer(context_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln_k(x).permute(1, 0, 2)  # NLD -> LND
        q = self.ln_q(self.query).unsqueeze(1).repeat(1, x.shape[1], 1)
        out = self.attn(q, x, x, need_weights=False)[0]
        return out.permute(1, 0, 2)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, d_model: int, n_head: int, mlp_ratio: float = 4.0,
                 ls_init_value: Optional[float] = None, act_layer: Callable = nn.GELU,
                 norm_layer: Callable = LayerNorm) -> None:
        super().__init__()
        self.ln_1 = norm_layer(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ls_1 = LayerScale(d_model, ls_init_value) if ls_init_value is not None else nn.Identity()
        self.ln_2 = norm_layer(d_model)
        mlp_width = int(d_model * mlp_ratio)
        self.mlp = nn.Sequential(OrderedDict([
            ('c_fc', nn.Linear(d_model, mlp_width)),
            ('gelu', act_layer()),
            ('c_proj', nn.Linear(mlp_width, d_model)),
        ]))
        self.ls_2 = LayerScale(d_model, ls_init_value) if ls_init_value is not None else nn.Identity()

    def attention(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        attn_mask = attn_mask.to(x.dtype) if attn_mask is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=attn_mask)[0]

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = x + self.ls_1(self.attention(self.ln_1(x), attn_mask=attn_mask))
        x = x + self.ls_2(self.mlp(self.ln_2(x)))
        return x


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` in LND layout.

    ``control``: a list of tensors; after block ``i`` the *last* remaining entry is
    popped and added (so block ``i`` receives entry ``L - 1 - i``), exactly as
    DA-CLIP injects its controller's outputs. The list is consumed.
    """

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float = 4.0,
                 ls_init_value: Optional[float] = None, act_layer: Callable = nn.GELU,
                 norm_layer: Callable = LayerNorm) -> None:
        super().__init__()
        self.width = width
        self.layers = layers
        self.grad_checkpointing = False
        self.resblocks = nn.ModuleList([
            ResidualAttentionBlock(width, heads, mlp_ratio, ls_init_value=ls_init_value,
                                   act_layer=act_layer, norm_layer=norm_layer)
            for _ in range(layers)
        ])

    def get_cast_dtype(self) -> torch.dtype:
        return self.resblocks[0].mlp.c_fc.weight.dtype

    def _run(self, block: nn.Module, x: torch.Tensor, attn_mask: Optional[torch.Tensor]):
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(block, x, attn_mask, use_reentrant=False)
        return block(x, attn_mask=attn_mask)

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
                output_hiddens: bool = False, control: Optional[List[torch.Tensor]] = None):
        if control is not None and len(control) != len(self.resblocks):
            raise ValueError(f'control has {len(control)} entries, the transformer has '
                             f'{len(self.resblocks)} blocks')
        hiddens = []
        for block in self.resblocks:
            x = self._run(block, x, attn_mask)
            if output_hiddens:
                hiddens.append(x)
            if control is not None:
                x = x + control.pop()
        return (x, hiddens) if output_hiddens else x


def _pair(x) -> Tuple[int, int]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x, x)


class VisionTransformer(nn.Module):
    """OpenCLIP's ViT image tower: patch conv, class token, ``ln_pre``, blocks,
    ``ln_post`` on the pooled token and the ``proj`` matrix (optionally an
    attentional pooler, global average pooling, dual patch-norm)."""

    def __init__(self, image_size: Union[int, Tuple[int, int]], patch_size: int, width: int,
                 layers: int, heads: int, mlp_ratio: float, ls_init_value: Optional[float] = None,
                 global_average_pool: bool = False, attentional_pool: bool = False,
                 n_queries: int = 256, attn_pooler_heads: int = 8, output_dim: int = 512,
                 patch_dropout: float = 0., input_patchnorm: bool = False,
                 act_layer: Callable = nn.GELU, norm_layer: Callable = LayerNorm,
                 output_tokens: bool = False) -> None:
        super().__init__()
        self.output_tokens = output_tokens
        self.image_size = _pair(image_size)
        self.patch_size = _pair(patch_size)
        self.grid_size = (self.image_size[0] // self.patch_size[0],
                          self.image_size[1] // self.patch_size[1])
        self.output_dim = output_dim
        self.input_patchnorm = input_patchnorm
        if input_patchnorm:
            patch_input_dim = self.patch_size[0] * self.patch_size[1] * 3
            self.patchnorm_pre_ln = LayerNorm(patch_input_dim)
            self.conv1 = nn.Linear(patch_input_dim, width)
        else:
            self.patchnorm_pre_ln = nn.Identity()
            self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)

        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn(self.grid_size[0] * self.grid_size[1] + 1, width))
        self.patch_dropout = PatchDropout(patch_dropout) if patch_dropout > 0. else nn.Identity()
        self.ln_pre = norm_layer(width)
        self.transformer = Transformer(width, layers, heads, mlp_ratio, ls_init_value=ls_init_value,
                                       act_layer=act_layer, norm_layer=norm_layer)
        self.global_average_pool = global_average_pool
        if attentional_pool:
            self.attn_pool = AttentionalPooler(output_dim, width, n_head=attn_pooler_heads,
                                               n_queries=n_queries)
            self.ln_post = norm_layer(output_dim)
            self.proj = nn.Parameter(scale * torch.randn(output_dim, output_dim))
        else:
            self.attn_pool = None
            self.ln_post = norm_layer(width)
            self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.transformer.grad_checkpointing = enable

    def lock(self) -> None:
        for p in self.parameters():
            p.requires_grad = False

    def _global_pool(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.global_average_pool:
            return x.mean(dim=1), x
        return x[:, 0], x[:, 1:]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch + class + positional embedding, patch dropout and ``ln_pre`` (NLD)."""
        if x.shape[-2:] != self.image_size:
            raise ValueError(f'the CLIP image tower expects {self.image_size[0]}x'
                             f'{self.image_size[1]} inputs, got {tuple(x.shape[-2:])}')
        if self.input_patchnorm:
            gh, gw = self.grid_size
            ph, pw = self.patch_size
            x = x.reshape(x.shape[0], x.shape[1], gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5)
            x = self.conv1(self.patchnorm_pre_ln(x.reshape(x.shape[0], gh * gw, -1)))
        else:
            x = self.conv1(x)
            x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1],
                                                             dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.patch_dropout(x)
        return self.ln_pre(x)

    def head(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pooling, ``ln_post`` and projection of the final tokens (NLD)."""
        if self.attn_pool is not None:
            x = self.ln_post(self.attn_pool(x))
            pooled, tokens = self._global_pool(x)
        else:
            pooled, tokens = self._global_pool(x)
            pooled = self.ln_post(pooled)
        if self.proj is not None:
            pooled = pooled @ self.proj
        return pooled, tokens

    def forward(self, x: torch.Tensor, output_hiddens: bool = False,
                control: Optional[List[torch.Tensor]] = None):
        x = self.embed(x).permute(1, 0, 2)  # NLD -> LND
        x = self.transformer(x, output_hiddens=output_hiddens, control=control)
        hiddens = None
        if output_hiddens:
            x, hiddens = x
        pooled, tokens = self.head(x.permute(1, 0, 2))
        if self.output_tokens:
            return pooled, tokens
        if output_hiddens:
            return pooled, hiddens
        return pooled


class TextTransformer(nn.Module):
    """Causal text transformer (used to build :class:`CLIP`'s top-level text modules)."""

    def __init__(self, context_length: int = 77, vocab_size: int = 49408, width: int = 512,
                 heads: int = 8, layers: int = 12, ls_init_value: Optional[float] = None,
                 output_dim: int = 512, act_layer: Callable = nn.GELU,
                 norm_layer: Callable = LayerNorm) -> None:
        super().__init__()
        self.context_length = context_length
        self.vocab_size = vocab_size
        self.width = width
        self.text_projection = nn.Parameter(torch.empty(width, output_dim))
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = Transformer(width=width, layers=layers, heads=heads,
                                       ls_init_value=ls_init_value, act_layer=act_layer,
                                       norm_layer=norm_layer)
        self.ln_final = norm_layer(width)
        mask = torch.full((context_length, context_length), float('-inf')).triu_(1)
        self.register_buffer('attn_mask', mask, persistent=False)
        self.init_parameters()

    def init_parameters(self) -> None:
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (self.width ** -0.5) * ((2 * self.transformer.layers) ** -0.5)
        attn_std = self.width ** -0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=self.width ** -0.5)


@ARCHS.register_module()
class CLIP(nn.Module):
    """OpenCLIP ``CLIP``: ViT image tower (``visual``) and causal text tower.

    Args:
        embed_dim: joint embedding size.
        vision_cfg: OpenCLIP ``vision_cfg`` dict (see :class:`CLIPVisionCfg`).
        text_cfg: OpenCLIP ``text_cfg`` dict (see :class:`CLIPTextCfg`).
        quick_gelu: QuickGELU activations (OpenAI weights) instead of ``nn.GELU``.
        output_dict: ``forward`` returns a dict instead of a tuple.
    """

    def __init__(self, embed_dim: int, vision_cfg: Optional[dict] = None,
                 text_cfg: Optional[dict] = None, quick_gelu: bool = False,
                 output_dict: bool = False) -> None:
        super().__init__()
        vcfg = _to_cfg(vision_cfg, CLIPVisionCfg, 'vision_cfg')
        tcfg = _to_cfg(text_cfg, CLIPTextCfg, 'text_cfg')
        if tcfg.embed_cls:
            raise ValueError('text_cfg.embed_cls=True (CoCa text towers) is not supported by CLIP')
        self.embed_dim = embed_dim
        self.vision_cfg = asdict(vcfg)
        self.text_cfg = asdict(tcfg)
        self.output_dict = output_dict
        act_layer = QuickGELU if quick_gelu else nn.GELU
        if isinstance(vcfg.layers, (tuple, list)):
            raise ValueError('ResNet image towers (vision_cfg.layers as a list) are not supported')
        self.visual = VisionTransformer(
            image_size=vcfg.image_size, patch_size=vcfg.patch_size, width=vcfg.width,
            layers=vcfg.layers, heads=vcfg.width // vcfg.head_width, mlp_ratio=vcfg.mlp_ratio,
            ls_init_value=vcfg.ls_init_value, patch_dropout=vcfg.patch_dropout,
            input_patchnorm=vcfg.input_patchnorm, global_average_pool=vcfg.global_average_pool,
            attentional_pool=vcfg.attentional_pool, n_queries=vcfg.n_queries,
            attn_pooler_heads=vcfg.attn_pooler_heads, output_tokens=vcfg.output_tokens,
            output_dim=embed_dim, act_layer=act_layer)
        text = TextTransformer(context_length=tcfg.context_length, vocab_size=tcfg.vocab_size,
                               width=tcfg.width, heads=tcfg.heads, layers=tcfg.layers,
                               ls_init_value=tcfg.ls_init_value, output_dim=embed_dim,
                               act_layer=act_layer)
        self.transformer = text.transformer
        self.context_length = text.context_length
        self.vocab_size = text.vocab_size
        self.token_embedding = text.token_embedding
        self.positional_embedding = text.positional_embedding
        self.ln_final = text.ln_final
        self.text_projection = text.text_projection
        self.register_buffer('attn_mask', text.attn_mask, persistent=False)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)
        self.transformer.grad_checkpointing = enable

    def encode_image(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.visual(image)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``text``: token ids ``(B, L)`` with ``L <= context_length``; the feature is
        taken at the end-of-text token (the largest id in each row)."""
        if text.dim() != 2 or text.shape[1] > self.context_length:
            raise ValueError(f'text ids must be (batch, <= {self.context_length}), got '
                             f'{tuple(text.shape)}')
        cast_dtype = self.transformer.get_cast_dtype()
        seq_len = text.shape[1]
        x = self.token_embedding(text).to(cast_dtype)
        x = x + self.positional_embedding[:seq_len].to(cast_dtype)
        x = x.permute(1, 0, 2)
        x = self.transformer(x, attn_mask=self.attn_mask[:seq_len, :seq_len])
        x = self.ln_final(x.permute(1, 0, 2))
        x = x[torch.arange(x.shape[0], device=x.device), text.argmax(dim=-1)] @ self.text_projection
        return F.normalize(x, dim=-1) if normalize else x

    def forward(self, image: Optional[torch.Tensor] = None, text: Optional[torch.Tensor] = None):
        image_features = self.encode_image(image, normalize=True) if image is not None else None
        text_features = self.encode_text(text, normalize=True) if text is not None else None
        if self.output_dict:
            return dict(image_features=image_features, text_features=text_features,
                        logit_scale=self.logit_scale.exp())
        return image_features, text_features, self.logit_scale.exp()


def clip_preprocess(img: torch.Tensor, size: int = 224, resize: str = 'short_side',
                    quantize: bool = False) -> torch.Tensor:
    """[0, 1] RGB ``N x 3 x H x W`` -> a CLIP image input (OpenAI mean/std normalised).

    ``resize``:

    * ``'short_side'`` (open_clip's transform, as DA-CLIP uses it): short side resized to
      ``size`` (bicubic, antialiased like PIL), then the centre ``size x size`` crop;
    * ``'center_square'`` (TDR's mapper input): the centre square crop, then resized to
      ``size x size`` and clamped to [0, 1];
    * ``'stretch'``: resized to ``size x size`` and clamped.

    ``quantize`` reproduces a uint8 round trip (DA-CLIP's ``astype(np.uint8)`` truncation
    before, PIL's rounding after the resize).
    """
    import torch.nn.functional as F
    if img.dim() != 4 or img.shape[1] != 3:
        raise ValueError(f'expected an N x 3 x H x W RGB batch in [0, 1], got {tuple(img.shape)}')
    if resize not in ('short_side', 'center_square', 'stretch'):
        raise ValueError(f"resize must be 'short_side', 'center_square' or 'stretch', got {resize!r}")
    if quantize:
        img = torch.floor((img * 255).clamp(0, 255)) / 255
    h, w = img.shape[-2:]
    if resize == 'short_side':
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        if (nh, nw) != (h, w):
            img = F.interpolate(img, size=(nh, nw), mode='bicubic', align_corners=False, antialias=True)
            if quantize:
                img = torch.round(img.clamp(0, 1) * 255) / 255
        top, left = (nh - size) // 2, (nw - size) // 2
        img = img[..., top:top + size, left:left + size]
    else:
        if resize == 'center_square':
            s = min(h, w)
            top, left = (h - s) // 2, (w - s) // 2
            img = img[..., top:top + s, left:left + s]
        img = F.interpolate(img, size=(size, size), mode='bicubic', align_corners=False, antialias=True).clamp(0, 1)
        if quantize:
            img = torch.round(img * 255) / 255
    mean = img.new_tensor(OPENAI_CLIP_MEAN).view(1, 3, 1, 1)
    std = img.new_tensor(OPENAI_CLIP_STD).view(1, 3, 1, 1)
    return (img - mean) / std


def build_clip(model_name: Optional[str] = None, clip_cfg: Optional[dict] = None) -> CLIP:
    """Build a :class:`CLIP` from an OpenCLIP model name or an explicit config."""
    if (model_name is None) == (clip_cfg is None):
        raise ValueError('give exactly one of model_name and clip_cfg')
    cfg = get_clip_config(model_name) if model_name is not None else dict(clip_cfg)
    cfg.pop('type', None)
    return CLIP(**cfg)


# --------------------------------------------------------------------------- tokenizer
@lru_cache()
def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2/CLIP reversible byte -> printable unicode character table."""
    bs = (list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1))
          + list(range(ord('®'), ord('ÿ') + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _get_pairs(word: Tuple[str, ...]) -> set:
    return {(a, b) for a, b in zip(word[:-1], word[1:])}


def _basic_clean(text: str) -> str:
    try:  # optional, as in CLIP: repairs mojibake
        import ftfy
        text = ftfy.fix_text(text)
    except ImportError:
        pass
    return html.unescape(html.unescape(text)).strip()


def _whitespace_clean(text: str) -> str:
    return ' '.join(text.split())


def _is_letter(c: str) -> bool:
    return unicodedata.category(c).startswith('L')


def _is_number(c: str) -> bool:
    return unicodedata.category(c).startswith('N')


_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _pre_tokenize(text: str, specials: Sequence[str]) -> List[str]:
    """CLIP's pre-tokenisation pattern ``specials|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|
    [^\\s\\p{L}\\p{N}]+`` (case-insensitive) written as a scanner (no ``regex`` needed)."""
    out, i, n = [], 0, len(text)
    low = text.lower()
    while i < n:
        c = text[i]
        hit = next((s for s in specials if low.startswith(s.lower(), i)), None)
        if hit is None and c == "'":
            hit = next((s for s in _CONTRACTIONS if low.startswith(s, i)), None)
        if hit is not None:
            out.append(text[i:i + len(hit)])
            i += len(hit)
        elif _is_letter(c):
            j = i + 1
            while j < n and _is_letter(text[j]):
                j += 1
            out.append(text[i:j])
            i = j
        elif _is_number(c):
            out.append(c)
            i += 1
        elif c.isspace():
            i += 1
        else:
            j = i + 1
            while j < n and not (text[j].isspace() or _is_letter(text[j]) or _is_number(text[j])):
                j += 1
            out.append(text[i:j])
            i = j
    return out


class SimpleTokenizer:
    """CLIP's byte-level BPE tokenizer reading a local merges file.

    Args:
        bpe_path: the ``bpe_simple_vocab_16e6.txt.gz`` merges file (gzip or plain text;
            the first line is a header). Smaller files give smaller vocabularies
            (256 bytes x 2 + merges + 2 special tokens).
        context_length: length of the id rows :meth:`__call__` returns.
        num_merges: merges read (CLIP: 48,894 = 49,152 - 256 - 2).
    """

    def __init__(self, bpe_path: Union[str, Path], context_length: int = 77,
                 num_merges: int = 49152 - 256 - 2) -> None:
        path = Path(bpe_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"BPE vocabulary '{path}' not found. Use OpenCLIP's {BPE_FILENAME} (shipped in "
                'the open_clip_torch package / github.com/mlfoundations/open_clip, '
                'src/open_clip/) and point the tokenizer config key bpe_path at it.')
        raw = path.read_bytes()
        if raw[:2] == b'\x1f\x8b':
            raw = gzip.decompress(raw)
        lines = raw.decode('utf-8').split('\n')
        merges = [tuple(m.split()) for m in lines[1:num_merges + 1] if m.strip()]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + '</w>' for v in vocab]
        vocab += [''.join(m) for m in merges]
        self.special_tokens = ['<start_of_text>', '<end_of_text>']
        vocab += self.special_tokens
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {t: t for t in self.special_tokens}
        self.vocab_size = len(self.encoder)
        self.sot_token = self.encoder['<start_of_text>']
        self.eot_token = self.encoder['<end_of_text>']
        self.context_length = context_length

    def bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + '</w>', )
        pairs = _get_pairs(word)
        if not pairs:
            return token + '</w>'
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = _get_pairs(word)
        out = ' '.join(word)
        self.cache[token] = out
        return out

    def encode(self, text: str) -> List[int]:
        ids = []
        text = _whitespace_clean(_basic_clean(text)).lower()
        for token in _pre_tokenize(text, self.special_tokens):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(' '))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        text = ''.join(self.decoder[int(i)] for i in ids)
        return bytearray(self.byte_decoder[c] for c in text).decode(
            'utf-8', errors='replace').replace('</w>', ' ')

    def __call__(self, texts: Union[str, Sequence[str]],
                 context_length: Optional[int] = None) -> torch.LongTensor:
        """Token ids ``(len(texts), context_length)``: SOT, BPE ids, EOT, zero padding;
        too long rows are truncated with EOT kept last (as CLIP does)."""
        if isinstance(texts, str):
            texts = [texts]
        context_length = context_length or self.context_length
        result = torch.zeros(len(texts), context_length, dtype=torch.long)
        for i, text in enumerate(texts):
            tokens = [self.sot_token] + self.encode(str(text)) + [self.eot_token]
            if len(tokens) > context_length:
                tokens = tokens[:context_length]
                tokens[-1] = self.eot_token
            result[i, :len(tokens)] = torch.tensor(tokens)
        return result


def tokenize(texts: Union[str, Sequence[str], torch.Tensor], tokenizer: Optional[SimpleTokenizer],
             context_length: int = 77) -> torch.LongTensor:
    """Token ids for ``texts``; a tensor of ids is passed through (pre-tokenised input)."""
    if isinstance(texts, torch.Tensor):
        if texts.dtype not in (torch.int64, torch.int32):
            raise TypeError(f'pre-tokenised text must be integer ids, got {texts.dtype}')
        return texts.long()
    if tokenizer is None:
        raise ValueError('text given as strings but no tokenizer configured (set bpe_path), '
                         'or pass token ids')
    return tokenizer(texts, context_length)
