"""Image-to-text ``Mapper`` and text-restoration ``CleanMapper`` of TDR.

Paper: Lin et al., "Improving Image Restoration through Removing Degradations in
Textual Representations", CVPR 2024 (arXiv 2312.17334). Official code:
https://github.com/mrluin/TextualDegRemoval (MIT licence); the structure below
follows its ``Mapper`` / ``CleanMapper`` (ELITE-style per-word MLPs) so that the
released ``mapper*.pt`` state_dicts load unchanged.

* ``Mapper(input_dim=1280, output_dim=1024, num_words=20)`` turns the CLIP
  ViT-H/14 image tokens (last hidden state before the post-LayerNorm,
  ``(B, 257, 1280)``) into ``num_words`` word embeddings of the SD 2.x text
  encoder: ``word_i = mapping_i(CLS) + mean_patches(mapping_patch_i(patch))``.
* ``CleanMapper(input_dim=1024, output_dim=1024, num_words=20)`` maps each
  word independently (``word_i -> mapping_i(word_i)``), removing the
  degradation in text space.

The Mapper also owns the trained copies of the UNet cross-attention key/value
projections (modules named ``<unet module path with '.' -> '_'>_to_k`` /
``_to_v``, bias-free Linear); :meth:`Mapper.add_global_kv` creates them for a
given UNet, exactly as the release saves them.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from irkit.registry import ARCHS


def _word_mlp(input_dim: int, hidden_dim: int, output_dim: int) -> nn.Sequential:
    """Linear -> [LayerNorm, LeakyReLU, Linear] x 3 (last Linear to output_dim).

    Indices 0..9 match the release's ``nn.Sequential`` (state_dict keys
    ``mapping_i.{0,1,3,4,6,7,9}.{weight,bias}``).
    """
    return nn.Sequential(
        nn.Linear(input_dim, hidden_dim),
        nn.LayerNorm(hidden_dim), nn.LeakyReLU(), nn.Linear(hidden_dim, hidden_dim),
        nn.LayerNorm(hidden_dim), nn.LeakyReLU(), nn.Linear(hidden_dim, hidden_dim),
        nn.LayerNorm(hidden_dim), nn.LeakyReLU(), nn.Linear(hidden_dim, output_dim))


def _image_tokens(embs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
    # The release passes ``[last_hidden_state]`` and indexes ``embs[0]``; accept both.
    if isinstance(embs, torch.Tensor):
        tokens = embs
    elif isinstance(embs, (list, tuple)) and embs and isinstance(embs[0], torch.Tensor):
        tokens = embs[0]
    else:
        raise TypeError('Mapper expects image tokens (B, 1 + num_patches, input_dim) '
                        f'or a list holding them, got {type(embs).__name__}')
    if tokens.dim() != 3 or tokens.shape[1] < 2:
        raise ValueError('Mapper expects image tokens of shape (B, 1 + num_patches, input_dim) '
                         f'(CLS first), got {tuple(tokens.shape)}')
    return tokens


@ARCHS.register_module()
class Mapper(nn.Module):
    """TDR image-to-text mapper (stage 1).

    Args:
        input_dim: width of the CLIP image tokens (1280 for ViT-H/14).
        output_dim: width of the text-encoder token embeddings (1024 for SD 2.x).
        num_words: number of word embeddings produced (20 in the paper).
        hidden_dim: width of the hidden MLP layers; the release hard-codes 1280
            (keep it for released weights; smaller values are for tests).
    """

    def __init__(self, input_dim: int = 1280, output_dim: int = 1024, num_words: int = 20,
                 hidden_dim: int = 1280) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.num_words = num_words
        self.hidden_dim = hidden_dim
        for i in range(num_words):
            setattr(self, f'mapping_{i}', _word_mlp(input_dim, hidden_dim, output_dim))
            setattr(self, f'mapping_patch_{i}', _word_mlp(input_dim, hidden_dim, output_dim))

    def forward(self, embs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """``(B, 1 + P, input_dim)`` image tokens -> ``(B, num_words, output_dim)`` words."""
        tokens = _image_tokens(embs)
        if tokens.shape[-1] != self.input_dim:
            raise ValueError(f'Mapper(input_dim={self.input_dim}) got image tokens of width '
                             f'{tokens.shape[-1]}')
        cls, patches = tokens[:, :1], tokens[:, 1:]
        words = [getattr(self, f'mapping_{i}')(cls)
                 + getattr(self, f'mapping_patch_{i}')(patches).mean(dim=1, keepdim=True)
                 for i in range(self.num_words)]
        return torch.cat(words, dim=1)

    # -- the UNet cross-attention key/value copies ---------------------------
    @staticmethod
    def kv_module_names(attn_name: str) -> Tuple[str, str]:
        """Names under which the release stores the k/v copies of ``attn_name``."""
        base = attn_name.replace('.', '_')
        return f'{base}_to_k', f'{base}_to_v'

    def add_global_kv(self, cross_attentions: Union[Dict[str, nn.Module],
                                                    Iterable[Tuple[str, nn.Module]]],
                      copy_weights: bool = True) -> Dict[str, Tuple[nn.Linear, nn.Linear]]:
        """Create the bias-free ``to_k``/``to_v`` copies for each cross-attention.

        Args:
            cross_attentions: ``{module path: attention module}`` of the UNet's
                cross-attention layers (``attn2``), each with ``to_k``/``to_v``.
            copy_weights: initialise the copies from the UNet's projections (stage-1
                initialisation); otherwise leave them to be loaded from a checkpoint.

        Returns:
            ``{module path: (to_k copy, to_v copy)}`` (the modules live in this Mapper,
            so they are trained and saved with it). Existing copies are reused.
        """
        items = cross_attentions.items() if isinstance(cross_attentions, dict) else cross_attentions
        out = {}
        for name, attn in items:
            k_name, v_name = self.kv_module_names(name)
            pair = []
            for mod_name, src in ((k_name, attn.to_k), (v_name, attn.to_v)):
                existing = getattr(self, mod_name, None)
                if existing is None:
                    layer = nn.Linear(src.in_features, src.out_features, bias=False)
                    layer.to(device=src.weight.device, dtype=src.weight.dtype)
                    if copy_weights:
                        with torch.no_grad():
                            layer.weight.copy_(src.weight)
                    self.add_module(mod_name, layer)
                    existing = layer
                pair.append(existing)
            out[name] = (pair[0], pair[1])
        return out

    def word_parameters(self):
        """Parameters of the per-word MLPs only (not the k/v copies)."""
        for i in range(self.num_words):
            yield from getattr(self, f'mapping_{i}').parameters()
            yield from getattr(self, f'mapping_patch_{i}').parameters()


@ARCHS.register_module()
class CleanMapper(nn.Module):
    """TDR textual restoration mapper (stage 2): one MLP per word.

    Args:
        input_dim: width of the input word embeddings (1024).
        output_dim: width of the restored word embeddings (1024).
        num_words: number of words (20).
        hidden_dim: hidden width; 1280 in the release (smaller for tests).
    """

    def __init__(self, input_dim: int = 1024, output_dim: int = 1024, num_words: int = 20,
                 hidden_dim: int = 1280) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.num_words = num_words
        self.hidden_dim = hidden_dim
        for i in range(num_words):
            setattr(self, f'mapping_{i}', _word_mlp(input_dim, hidden_dim, output_dim))

    def forward(self, embs: torch.Tensor) -> torch.Tensor:
        """``(B, num_words, input_dim)`` -> ``(B, num_words, output_dim)``."""
        if embs.dim() != 3 or embs.shape[1] < self.num_words or embs.shape[2] != self.input_dim:
            raise ValueError(f'CleanMapper(input_dim={self.input_dim}, num_words={self.num_words}) '
                             f'expects (B, {self.num_words}, {self.input_dim}), '
                             f'got {tuple(embs.shape)}')
        words = [getattr(self, f'mapping_{i}')(embs[:, i:i + 1]) for i in range(self.num_words)]
        return torch.cat(words, dim=1)


def build_tdr_mapper(cfg: Optional[dict]) -> Optional[nn.Module]:
    """Build a Mapper/CleanMapper from a config dict (``None`` passes through)."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return ARCHS.build(cfg)
