"""TDR guidance generation: degraded image -> words -> clean Stable Diffusion render.

Paper: Lin et al., "Improving Image Restoration through Removing Degradations in
Textual Representations", CVPR 2024; official code mrluin/TextualDegRemoval.

Pipeline (as the release, on diffusers + transformers, the optional extra
``irkit[diffusion]``; both are imported only inside this module's functions):

1. CLIP ViT-H/14 image tokens: the image is centre-cropped to a square, resized to
   the CLIP size (224, bicubic), normalised with the OpenAI CLIP mean/std and
   encoded; the *last hidden state before the post-LayerNorm* is used.
2. ``Mapper`` -> 20 word embeddings; ``CleanMapper`` removes the degradation.
3. The words replace the placeholder token of ``"a photo of a S"`` in the token
   embeddings of the SD 2.x text encoder (later tokens shift right, truncated at
   the maximum length), then position embeddings, the causal encoder and the final
   LayerNorm run unchanged.
4. The SD 2.x-base UNet runs with every cross-attention's key/value projections
   replaced by the Mapper's trained copies (for the conditional *and* the
   unconditional branch, as in the release); DDIM, 100 steps, classifier-free
   guidance scale 5 with the empty prompt, seed 42, 512x512.

All weights come from local folders/files; nothing is downloaded.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from irkit.archs.clip import clip_preprocess
from irkit.archs.tdr_mapper import CleanMapper, Mapper
from irkit.fileio.weights import MissingWeightsError

DEFAULT_TEMPLATE = 'a photo of a {}'
DEFAULT_PLACEHOLDER = 'S'
SD_SUBFOLDERS = ('unet', 'vae', 'text_encoder', 'tokenizer', 'scheduler')
INSTALL_HINT = ("TDR guidance needs the optional extra 'diffusion': "
                "pip install 'irkit[diffusion]' (diffusers and transformers)")


def require_diffusion() -> Tuple[Any, Any]:
    """Import and return ``(diffusers, transformers)`` or fail with the install hint."""
    try:
        import diffusers
        import transformers
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f'{INSTALL_HINT} ({e})') from e
    return diffusers, transformers


# ---------------------------------------------------------------------------
# image / prompt preparation
# ---------------------------------------------------------------------------


def placeholder_index(text: str, placeholder: str = DEFAULT_PLACEHOLDER) -> int:
    """Token position of the placeholder: its word index + 1 (for BOS), as the release.

    The prompt's words must each be one token (true for the default template).
    """
    words = text.strip().split(' ')
    idx = [i for i, w in enumerate(words) if w == placeholder]
    if not idx:
        raise ValueError(f"placeholder '{placeholder}' is not a word of the prompt {text!r}")
    return idx[-1] + 1


def tokenize_prompt(tokenizer, text: str, batch_size: int) -> torch.Tensor:
    ids = tokenizer([text] * batch_size, padding='max_length', max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors='pt').input_ids
    return ids


def _text_core(text_encoder: nn.Module) -> nn.Module:
    core = getattr(text_encoder, 'text_model', text_encoder)
    if not hasattr(core, 'embeddings') or not hasattr(core.embeddings, 'token_embedding'):
        raise TypeError(f'{type(text_encoder).__name__} has no embeddings.token_embedding; '
                        'expected a transformers CLIPTextModel')
    return core


def inject_words(token_embeds: torch.Tensor, words: torch.Tensor,
                 index: Union[int, torch.Tensor]) -> torch.Tensor:
    """Replace the token at ``index`` by ``words`` and shift later tokens right.

    ``token_embeds`` (B, T, D), ``words`` (B, L, D); the sequence keeps length T
    (the tail is truncated), exactly as the release's text-encoder override.
    """
    b, t, _ = token_embeds.shape
    n = words.shape[1]
    idx = index.tolist() if isinstance(index, torch.Tensor) else [int(index)] * b
    if isinstance(idx, int):
        idx = [idx] * b
    out = token_embeds.clone()
    for i, p in enumerate(idx):
        if not 0 < p < t:
            raise ValueError(f'placeholder index {p} outside the {t}-token prompt')
        keep = max(0, t - (p + n))
        if keep:
            out[i, p + n:] = token_embeds[i, p + 1:p + 1 + keep]
        out[i, p:min(p + n, t)] = words[i, :t - p].to(out.dtype)
    return out


@contextlib.contextmanager
def _injected(text_encoder: nn.Module, words: torch.Tensor, index) -> Iterator[None]:
    emb = _text_core(text_encoder).embeddings.token_embedding
    handle = emb.register_forward_hook(lambda m, i, out: inject_words(out, words, index))
    try:
        yield
    finally:
        handle.remove()


def encode_prompt(text_encoder: nn.Module, input_ids: torch.Tensor,
                  words: Optional[torch.Tensor] = None, index=None) -> torch.Tensor:
    """Text-encoder last hidden state (after the final LayerNorm), words injected."""
    if words is None:
        return text_encoder(input_ids=input_ids)[0]
    with _injected(text_encoder, words, index):
        return text_encoder(input_ids=input_ids)[0]


def image_tokens(image_encoder: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """CLIP vision tokens: last hidden state before the post-LayerNorm, (B, 1 + P, D)."""
    return image_encoder(pixel_values=pixel_values)[0]


# ---------------------------------------------------------------------------
# UNet cross-attention with the Mapper's key/value copies
# ---------------------------------------------------------------------------


def cross_attentions(unet: nn.Module) -> Dict[str, nn.Module]:
    """``{module path: Attention}`` of the UNet's cross-attention layers (``attn2``)."""
    return {name: m for name, m in unet.named_modules()
            if name.split('.')[-1] == 'attn2' and hasattr(m, 'to_k') and hasattr(m, 'to_v')}


class GlobalKVAttnProcessor:
    """Attention with the key/value projections taken from the Mapper.

    The query and output projections stay the UNet's; ``to_k``/``to_v`` are the
    Mapper's bias-free copies (trained in stage 1). No attention mask, as the
    release.
    """

    def __init__(self, to_k: nn.Linear, to_v: nn.Linear) -> None:
        self.to_k = to_k
        self.to_v = to_v

    def __call__(self, attn, hidden_states: torch.Tensor,
                 encoder_hidden_states: Optional[torch.Tensor] = None,
                 attention_mask: Optional[torch.Tensor] = None, temb=None, *args, **kwargs):
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        b = hidden_states.shape[0]
        q = attn.to_q(hidden_states)
        k = self.to_k(context.to(self.to_k.weight.dtype)).to(q.dtype)
        v = self.to_v(context.to(self.to_v.weight.dtype)).to(q.dtype)
        hd = k.shape[-1] // attn.heads
        q, k, v = (x.view(b, -1, attn.heads, hd).transpose(1, 2) for x in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)
        out = out.transpose(1, 2).reshape(b, -1, attn.heads * hd).to(q.dtype)
        return attn.to_out[1](attn.to_out[0](out))


def install_global_kv(unet: nn.Module, mapper: Mapper, copy_weights: bool = False) -> int:
    """Route every UNet cross-attention through the Mapper's k/v copies.

    Creates the copies in ``mapper`` when missing (initialised from the UNet when
    ``copy_weights``). Returns the number of cross-attention layers routed.
    """
    attns = cross_attentions(unet)
    if not attns:
        raise ValueError('the UNet has no cross-attention (attn2) layers')
    pairs = mapper.add_global_kv(attns, copy_weights=copy_weights)
    procs = dict(unet.attn_processors)
    for key in procs:
        name = key[:-len('.processor')] if key.endswith('.processor') else key
        if name in pairs:
            procs[key] = GlobalKVAttnProcessor(*pairs[name])
    unet.set_attn_processor(procs)
    return len(pairs)


# ---------------------------------------------------------------------------
# loading (local files only)
# ---------------------------------------------------------------------------


def _check_dir(path: Union[str, Path, None], what: str, key: str, subfolders=()) -> Path:
    if path is None:
        raise MissingWeightsError(f'{what}: no local path given (set {key})')
    p = Path(path).expanduser()
    missing = [s for s in subfolders if not (p / s).is_dir()]
    if not p.is_dir() or missing:
        where = f"'{p}' does not exist" if not p.is_dir() else f"'{p}' lacks {', '.join(missing)}/"
        raise MissingWeightsError(
            f'{what} not found: {where}. Download it yourself (diffusers layout with '
            f"{', '.join(subfolders) or 'config.json + weights'}) and point {key} at the folder; "
            'irkit never downloads weights.')
    return p


def _load_state(path: Union[str, Path], what: str, key: str) -> Dict[str, torch.Tensor]:
    from irkit.fileio.weights import read_state_dict
    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingWeightsError(f"{what} '{p}' not found (set {key} to the trained .pt file)")
    return read_state_dict(p)


def load_mapper_state(module: nn.Module, path: Union[str, Path], what: str, key: str,
                      prefix: str = '') -> None:
    """Load a release ``mapper*.pt`` (plain state_dict) or an irkit checkpoint into ``module``.

    irkit training checkpoints hold ``prefix.<name>`` keys (``mapper.`` /
    ``clean_mapper.``); they are stripped.
    """
    state = _load_state(path, what, key)
    if prefix and any(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise KeyError(f'{what} {path} does not match {type(module).__name__}: missing '
                       f'{result.missing_keys[:5]}{"..." if len(result.missing_keys) > 5 else ""}, '
                       f'unexpected {result.unexpected_keys[:5]}'
                       f'{"..." if len(result.unexpected_keys) > 5 else ""}')


@dataclass
class TDRComponents:
    """Everything the guidance pipeline and the mapper training need."""
    vae: nn.Module
    unet: nn.Module
    text_encoder: nn.Module
    tokenizer: Any
    image_encoder: nn.Module
    scheduler: Any
    mapper: Mapper
    clean_mapper: Optional[CleanMapper] = None

    def frozen_modules(self) -> List[nn.Module]:
        return [self.vae, self.unet, self.text_encoder, self.image_encoder]

    def to(self, device=None, dtype=None) -> 'TDRComponents':
        for m in self.frozen_modules() + [self.mapper, self.clean_mapper]:
            if m is not None:
                m.to(device=device, dtype=dtype)
        return self


def load_tdr_components(sd_path: Union[str, Path], clip_path: Union[str, Path],
                        mapper: Union[dict, Mapper, None] = None,
                        mapper_path: Union[str, Path, None] = None,
                        clean_mapper: Union[dict, CleanMapper, None] = None,
                        clean_mapper_path: Union[str, Path, None] = None,
                        init_kv_from_unet: bool = True) -> TDRComponents:
    """Load SD 2.x (``unet, vae, text_encoder, tokenizer, scheduler`` sub-folders), the
    CLIP image encoder folder and the mappers, all from local paths; frozen in eval mode.

    ``mapper`` / ``clean_mapper``: Mapper configs or modules (default: the release
    sizes). ``mapper_path``: release ``mapper.pt`` (or irkit checkpoint) holding the
    words MLPs and the k/v copies; without it the k/v copies start from the UNet's
    projections (stage-1 initialisation) when ``init_kv_from_unet``.
    ``clean_mapper``/``clean_mapper_path``: omit both to render without the text
    restoration (the stage-1 reconstruction).
    """
    diffusers, transformers = require_diffusion()
    sd = _check_dir(sd_path, 'Stable Diffusion 2.x-base folder', 'sd_path', SD_SUBFOLDERS)
    clip = _check_dir(clip_path, 'CLIP ViT-H/14 image encoder folder', 'clip_path')
    kw = dict(local_files_only=True)
    unet = diffusers.UNet2DConditionModel.from_pretrained(str(sd), subfolder='unet', **kw)
    vae = diffusers.AutoencoderKL.from_pretrained(str(sd), subfolder='vae', **kw)
    text_encoder = transformers.CLIPTextModel.from_pretrained(str(sd), subfolder='text_encoder', **kw)
    tokenizer = transformers.CLIPTokenizer.from_pretrained(str(sd), subfolder='tokenizer', **kw)
    scheduler = diffusers.DDIMScheduler.from_pretrained(str(sd), subfolder='scheduler', **kw)
    image_encoder = transformers.CLIPVisionModel.from_pretrained(str(clip), **kw)

    if mapper is None or isinstance(mapper, dict):
        cfg = dict(mapper or {})
        cfg.pop('type', None)
        cfg.setdefault('input_dim', image_encoder.config.hidden_size)
        cfg.setdefault('output_dim', text_encoder.config.hidden_size)
        mapper = Mapper(**cfg)
    if mapper_path is not None:
        mapper.add_global_kv(cross_attentions(unet), copy_weights=False)
        load_mapper_state(mapper, mapper_path, 'Mapper weights', 'mapper_path', prefix='mapper.')
    install_global_kv(unet, mapper, copy_weights=init_kv_from_unet and mapper_path is None)

    if clean_mapper is None and clean_mapper_path is not None:
        clean_mapper = {}
    if isinstance(clean_mapper, dict):
        cfg = dict(clean_mapper)
        cfg.pop('type', None)
        cfg.setdefault('input_dim', mapper.output_dim)
        cfg.setdefault('output_dim', mapper.output_dim)
        cfg.setdefault('num_words', mapper.num_words)
        clean_mapper = CleanMapper(**cfg)
    if clean_mapper is not None and clean_mapper_path is not None:
        load_mapper_state(clean_mapper, clean_mapper_path, 'CleanMapper weights', 'clean_mapper_path',
                          prefix='clean_mapper.')
    comps = TDRComponents(vae, unet, text_encoder, tokenizer, image_encoder, scheduler, mapper,
                          clean_mapper)
    for m in comps.frozen_modules():
        m.requires_grad_(False)
        m.eval()
    return comps


# ---------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------


def words_from_images(comps: TDRComponents, images: torch.Tensor, use_clean_mapper: bool = True,
                      center_crop: bool = True) -> torch.Tensor:
    """[0,1] RGB images -> word embeddings (Mapper, then CleanMapper when present)."""
    size = int(comps.image_encoder.config.image_size)
    enc_dtype = next(comps.image_encoder.parameters()).dtype
    px = clip_preprocess(images.float(), size, 'center_square' if center_crop else 'stretch').to(enc_dtype)
    tokens = image_tokens(comps.image_encoder, px)
    mp = comps.mapper
    words = mp(tokens.to(next(mp.parameters()).dtype))
    if use_clean_mapper and comps.clean_mapper is not None:
        words = comps.clean_mapper(words.to(next(comps.clean_mapper.parameters()).dtype))
    return words


def conditioning(comps: TDRComponents, words: torch.Tensor, template: str = DEFAULT_TEMPLATE,
                 placeholder: str = DEFAULT_PLACEHOLDER) -> torch.Tensor:
    """Prompt embeddings with ``words`` in place of the placeholder."""
    text = template.format(placeholder)
    device = words.device
    ids = tokenize_prompt(comps.tokenizer, text, words.shape[0]).to(device)
    te_dtype = next(comps.text_encoder.parameters()).dtype
    return encode_prompt(comps.text_encoder, ids, words.to(te_dtype), placeholder_index(text, placeholder))


def initial_latents(comps: TDRComponents, batch: int, resolution: int, seed: Optional[int],
                    device, dtype) -> torch.Tensor:
    """Seeded CPU Gaussian latents (one generator per call, as the release's batch-1 runs)."""
    factor = 2 ** (len(comps.vae.config.block_out_channels) - 1)
    if resolution % factor:
        raise ValueError(f'resolution {resolution} is not a multiple of the VAE factor {factor}')
    shape = (batch, comps.unet.config.in_channels, resolution // factor, resolution // factor)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(shape, generator=gen).to(device=device, dtype=dtype)


@torch.no_grad()
def generate_guidance(comps: TDRComponents, images: torch.Tensor, num_inference_steps: int = 100,
                      guidance_scale: float = 5.0, seed: Optional[int] = 42, resolution: int = 512,
                      template: str = DEFAULT_TEMPLATE, placeholder: str = DEFAULT_PLACEHOLDER,
                      use_clean_mapper: bool = True, progress: bool = False) -> torch.Tensor:
    """Render TDR guidance images for a batch of [0,1] RGB images (N, 3, H, W).

    Returns (N, 3, resolution, resolution) float images in [0, 1]. Each image uses
    its own generator seeded with ``seed`` (the release renders batch size 1 with
    ``torch.manual_seed(42)``), so results do not depend on the batch size.
    """
    unet = comps.unet
    device = next(unet.parameters()).device
    dtype = next(unet.parameters()).dtype
    images = images.to(device)
    words = words_from_images(comps, images, use_clean_mapper)
    cond = conditioning(comps, words, template, placeholder).to(dtype)
    uncond_ids = tokenize_prompt(comps.tokenizer, '', images.shape[0]).to(device)
    uncond = encode_prompt(comps.text_encoder, uncond_ids).to(dtype)

    latents = torch.cat([initial_latents(comps, 1, resolution, seed, device, dtype)
                         for _ in range(images.shape[0])])
    sched = comps.scheduler
    sched.set_timesteps(num_inference_steps)
    latents = latents * sched.init_noise_sigma
    steps = sched.timesteps
    if progress:
        from tqdm import tqdm
        steps = tqdm(steps, desc='DDIM', leave=False)
    for t in steps:
        inp = sched.scale_model_input(latents, t)
        eps = unet(torch.cat([inp, inp]), t, encoder_hidden_states=torch.cat([cond, uncond])).sample
        eps_c, eps_u = eps.chunk(2)
        latents = sched.step(eps_u + guidance_scale * (eps_c - eps_u), t, latents).prev_sample
    vae_dtype = next(comps.vae.parameters()).dtype
    scaling = float(getattr(comps.vae.config, 'scaling_factor', 0.18215))
    img = comps.vae.decode((latents / scaling).to(vae_dtype)).sample
    return (img.float() / 2 + 0.5).clamp(0, 1)


def diffusion_loss(comps: TDRComponents, target: torch.Tensor, clip_images: torch.Tensor,
                   use_clean_mapper: bool, noise_scheduler=None,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Noise-prediction MSE of the frozen UNet conditioned on the mapped words.

    ``target``: [0,1] images whose latents are noised (the HQ image); ``clip_images``:
    what CLIP sees (the same image in stage 1, the degraded one in stage 2).
    """
    sched = noise_scheduler or comps.scheduler
    vae_dtype = next(comps.vae.parameters()).dtype
    scaling = float(getattr(comps.vae.config, 'scaling_factor', 0.18215))
    with torch.no_grad():
        dist = comps.vae.encode((target * 2 - 1).to(vae_dtype)).latent_dist
        latents = dist.sample(generator=generator) * scaling
    noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
    t = torch.randint(0, sched.config.num_train_timesteps, (latents.shape[0],), generator=generator,
                      device=latents.device).long()
    noisy = sched.add_noise(latents, noise, t)
    with torch.no_grad():
        size = int(comps.image_encoder.config.image_size)
        px = clip_preprocess(clip_images.float(), size, 'stretch')
        tokens = image_tokens(comps.image_encoder, px.to(next(comps.image_encoder.parameters()).dtype))
    words = comps.mapper(tokens.float())
    if use_clean_mapper:
        words = comps.clean_mapper(words)
    cond = conditioning(comps, words)
    unet_dtype = next(comps.unet.parameters()).dtype
    pred = comps.unet(noisy.to(unet_dtype), t, encoder_hidden_states=cond.to(unet_dtype)).sample
    return F.mse_loss(pred.float(), noise.float())


__all__ = ['TDRComponents', 'load_tdr_components', 'generate_guidance', 'diffusion_loss',
           'install_global_kv', 'GlobalKVAttnProcessor', 'cross_attentions', 'inject_words',
           'encode_prompt', 'placeholder_index', 'words_from_images',
           'conditioning', 'require_diffusion', 'load_mapper_state']
