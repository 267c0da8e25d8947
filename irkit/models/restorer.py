"""The generic restoration model: an arch, weighted losses, and any-size inference."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel

from irkit.models.data_preprocessor import unbatch
from irkit.registry import ARCHS, LOSSES, MODELS


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = 'reflect') -> tuple:
    """Pad NCHW ``x`` on the bottom/right to a multiple; returns (padded, (h, w))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        if mode == 'reflect' and (ph >= h or pw >= w):
            mode = 'replicate'  # reflect needs pad < size (tiny inputs)
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def _starts(size: int, tile: int, stride: int) -> List[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


def _ramp(n: int, overlap: int, start_inside: bool, end_inside: bool, device, dtype) -> torch.Tensor:
    """1-D blending weights of a tile along one axis.

    At an edge inside the image the weight is 0 over the first quarter of the
    overlap (where the tile's own border effects live), rises linearly over the
    middle half and is 1 beyond; at the image border it is 1. Two neighbouring
    tiles' weights therefore never both vanish, and the result is exact as long
    as the arch's receptive-field radius is at most ``overlap / 4``.
    """
    w = torch.ones(n, device=device, dtype=dtype)
    if overlap <= 0:
        return w
    i = torch.arange(n, device=device, dtype=dtype)
    ramp = ((i - overlap / 4) / (overlap / 2)).clamp(1e-6, 1)
    if start_inside:
        w = torch.minimum(w, ramp)
    if end_inside:
        w = torch.minimum(w, ramp.flip(0))
    return w


def tile_grid(h: int, w: int, tile: int, overlap: int, multiple: int = 1) -> Tuple[int, List[int], List[int]]:
    """The tiling of an ``h x w`` image: ``(tile size, top starts, left starts)``.

    Tiles are ``tile`` pixels (rounded down to ``multiple``), step ``tile - overlap``.
    """
    tile = max(multiple, tile // multiple * multiple)
    if overlap >= tile:
        raise ValueError(f'tile_overlap ({overlap}) must be smaller than tile ({tile})')
    return tile, _starts(h, tile, tile - overlap), _starts(w, tile, tile - overlap)


def tiled_forward(fn, x: torch.Tensor, tile: int, overlap: int, multiple: int = 1) -> torch.Tensor:
    """Run ``fn`` on overlapping tiles of ``x`` (NCHW) and blend them.

    Tiles as :func:`tile_grid` lays them out; see :func:`_ramp` for the blending.
    Memory is bounded by the tile size.
    """
    n, _, h, w = x.shape
    tile, tops, lefts = tile_grid(h, w, tile, overlap, multiple)
    out = weight = None
    for top in tops:
        for left in lefts:
            patch = x[..., top:top + tile, left:left + tile]
            y = fn(patch)
            if out is None:
                out = x.new_zeros(n, y.shape[1], h, w)
                weight = x.new_zeros(1, 1, h, w)
            ph, pw = patch.shape[-2:]
            wy = _ramp(ph, overlap, top > 0, top + ph < h, x.device, x.dtype)
            wx = _ramp(pw, overlap, left > 0, left + pw < w, x.device, x.dtype)
            wt = (wy[:, None] * wx[None, :])[None, None]
            out[..., top:top + ph, left:left + pw] += y * wt
            weight[..., top:top + ph, left:left + pw] += wt
    return out / weight


_FLIPS = [(False, False, False), (True, False, False), (False, True, False), (True, True, False),
          (False, False, True), (True, False, True), (False, True, True), (True, True, True)]


def _dihedral(x: torch.Tensor, hflip: bool, vflip: bool, transpose: bool, inverse: bool = False):
    if not inverse:
        if hflip:
            x = x.flip(-1)
        if vflip:
            x = x.flip(-2)
        if transpose:
            x = x.transpose(-1, -2)
    else:
        if transpose:
            x = x.transpose(-1, -2)
        if vflip:
            x = x.flip(-2)
        if hflip:
            x = x.flip(-1)
    return x


@MODELS.register_module()
class Restorer(BaseModel):
    """Image-to-image restoration: ``generator`` + weighted ``losses``.

    Args:
        generator: arch config (built from ``ARCHS``).
        losses: list of loss configs (``LOSSES``); their values are summed.
        deep_supervision: for archs returning several images (MPRNet's stages,
            final first), apply every loss to every output and sum; otherwise only
            the first output is supervised.
        clamp_train_outputs: clamp every network output to [0, 1] before the
            losses (MPRNet's denoising recipe: ``Charbonnier(clamp(restored[j], 0, 1),
            target)`` per stage); pixels outside the range then get no gradient.
        pad_multiple: at inference, reflect-pad the input to this multiple and
            crop the output back (8 for MPRNet/Restormer, 16 for PromptIR).
        self_ensemble: average the 8 flips/transposes at inference (×8 cost).
        tile, tile_overlap: tiled inference for large images (bounded memory).
        input_key, gt_key: batch entries holding the input and the target.
    """

    def __init__(self, generator: dict, losses: Optional[Sequence[dict]] = None,
                 deep_supervision: bool = False, clamp_train_outputs: bool = False,
                 pad_multiple: int = 1, pad_mode: str = 'reflect',
                 self_ensemble: bool = False, tile: Optional[int] = None, tile_overlap: int = 32,
                 input_key: str = 'lq',
                 gt_key: str = 'gt', data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DataPreprocessor'),
                         init_cfg=init_cfg)
        self.generator = ARCHS.build(generator)
        self.losses = nn.ModuleList(LOSSES.build(c) for c in (losses or []))
        self.deep_supervision = deep_supervision
        self.clamp_train_outputs = clamp_train_outputs
        self.pad_multiple = int(pad_multiple)
        self.pad_mode = pad_mode
        self.self_ensemble = self_ensemble
        self.tile = tile
        self.tile_overlap = int(tile_overlap)
        self.input_key = input_key
        self.gt_key = gt_key

    # ------------------------------------------------------------------ train
    def compute_losses(self, outputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                       gt: torch.Tensor) -> Dict[str, torch.Tensor]:
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if not self.deep_supervision:
            outs = outs[:1]
        if self.clamp_train_outputs:
            outs = [o.clamp(0, 1) for o in outs]
        if not self.losses:
            raise ValueError('Restorer: no losses configured (set model.losses) but training was asked for')
        result: Dict[str, torch.Tensor] = {}
        for loss_fn in self.losses:
            name = 'loss_' + type(loss_fn).__name__.replace('Loss', '').lower()
            value = sum(loss_fn(o, gt) for o in outs)
            result[name] = result[name] + value if name in result else value
        return result

    def forward(self, batch: dict, mode: str = 'tensor'):
        if mode == 'loss':
            if self.gt_key not in batch:
                raise KeyError(f"training batch has no '{self.gt_key}' entry (has: {', '.join(batch)})")
            return self.compute_losses(self.generator(batch[self.input_key]), batch[self.gt_key])
        if mode == 'predict':
            return self.predict(batch)
        if mode == 'tensor':
            return self.generator(batch[self.input_key])
        raise ValueError(f"unknown mode '{mode}' (expected 'loss', 'predict' or 'tensor')")

    # -------------------------------------------------------------- inference
    def _net(self, x: torch.Tensor) -> torch.Tensor:
        out = self.generator(x)
        return out[0] if isinstance(out, (list, tuple)) else out

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        xp, (h, w) = pad_to_multiple(x, self.pad_multiple, self.pad_mode)
        return self._net(xp)[..., :h, :w]

    def _single(self, x: torch.Tensor) -> torch.Tensor:
        if self.tile:
            return tiled_forward(self._padded, x, self.tile, self.tile_overlap, self.pad_multiple)
        return self._padded(x)

    def num_passes(self, h: int, w: int) -> int:
        """Generator calls :meth:`inference` makes on an ``h x w`` input (tiles x self-ensemble)."""
        n = 1
        if self.tile:
            _, tops, lefts = tile_grid(h, w, self.tile, self.tile_overlap, self.pad_multiple)
            n = len(tops) * len(lefts)
        return n * (len(_FLIPS) if self.self_ensemble else 1)

    @torch.no_grad()
    def inference(self, x: torch.Tensor) -> torch.Tensor:
        """Restore an NCHW batch of any size (padding, tiling, self-ensemble)."""
        if not self.self_ensemble:
            return self._single(x)
        acc = 0
        for hf, vf, tr in _FLIPS:
            y = self._single(_dihedral(x, hf, vf, tr))
            acc = acc + _dihedral(y, hf, vf, tr, inverse=True)
        return acc / len(_FLIPS)

    def predict(self, batch: dict) -> List[dict]:
        pred = self.data_preprocessor.destruct(self.inference(batch[self.input_key])).clamp(0, 1).float().cpu()
        shown = {k: self.data_preprocessor.destruct(v) if k in (self.input_key, self.gt_key)
                 and k in self.data_preprocessor.norm_keys else v for k, v in batch.items()}
        return unbatch(shown, pred.shape[0], pred=pred)


__all__ = ['Restorer', 'tiled_forward', 'tile_grid', 'pad_to_multiple']
