"""Python API: build a model from a config + checkpoint and restore images of any size."""
from __future__ import annotations

import os
import os.path as osp
from typing import TYPE_CHECKING, Iterable, List, Optional, Union

import cv2
import numpy as np
import torch

if TYPE_CHECKING:
    from mmengine.config import Config

IMG_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def init_model(config: Union[str, 'Config'], checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None, pretrained: bool = False,
               fmt: Optional[str] = None) -> torch.nn.Module:
    """Build a model, load its weights strictly, put it in eval mode on ``device``.

    Args:
        config: a config file, a loaded ``Config``, or a model-zoo name from
            ``configs/metafiles`` (e.g. ``'restormer_rain13k'``; ``docs/model_zoo.md`` lists them).
        checkpoint: a file path, or a bare file name looked up in ``$IRKIT_WEIGHTS`` and
            ``~/.cache/irkit/weights`` (see :mod:`irkit.fileio.weights`).
        pretrained: with a zoo name and no ``checkpoint``, load the released file
            (looked up as above, SHA-256 checked when the metafile records it, read in its
            official format); a missing file raises an error naming it and its download page.
        fmt: the official format of ``checkpoint`` (``tools/convert_checkpoint.py --list-formats``)
            to load it without converting it first.
    """
    import os.path as osp

    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from irkit.fileio.weights import load_weights, resolve_checkpoint, verify_sha256, zoo_entry
    from irkit.registry import MODELS
    from irkit.utils.config import load_config

    zoo_name = None
    if isinstance(config, str) and not osp.isfile(config):
        hit = zoo_entry(config)
        if hit is None:
            raise FileNotFoundError(f"config not found: {config} (nor is it a model name of "
                                    'configs/metafiles, see docs/model_zoo.md)')
        from irkit.leaderboard.metafile import repo_path
        zoo_name, entry = config, hit[1]
        config = repo_path(entry.config, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
        cfg_options = {**entry.cfg_options, **(cfg_options or {})}
        if pretrained and checkpoint is None:
            checkpoint, fmt = entry.weights.file, fmt or entry.converter
    elif pretrained and checkpoint is None:
        raise ValueError('init_model(pretrained=True) needs a model-zoo name (or give checkpoint=)')
    cfg = load_config(config, cfg_options) if isinstance(config, str) else config
    if not isinstance(cfg, Config):
        cfg = Config(cfg)
    path = None
    if checkpoint is not None:
        path = resolve_checkpoint(checkpoint, zoo_name)
        if zoo_name is not None and pretrained:
            verify_sha256(path, entry.weights.sha256, entry.weights.url)
    scope = DefaultScope.get_current_instance()
    if scope is None or scope.scope_name != 'irkit':
        DefaultScope.get_instance(f'irkit_api_{id(cfg)}', scope_name='irkit')
    model = MODELS.build(cfg.model)
    if path is not None:
        load_weights(model, str(path), strict=True, fmt=fmt)
    model.cfg = cfg
    return model.to(device).eval()


def read_rgb(path: str) -> torch.Tensor:
    """Read an image file as a 1x3xHxW float tensor in [0,1] (RGB)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path}')
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ValueError(f'cannot decode image {path} (empty, truncated or not an image)')
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = img[..., :3]  # alpha dropped (documented)
    img = img[..., ::-1].astype(np.float32) / scale
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


@torch.no_grad()
def restore(model: torch.nn.Module, img: Union[str, np.ndarray, torch.Tensor],
            tile: Optional[int] = None, tile_overlap: Optional[int] = None) -> torch.Tensor:
    """Restore one image: a path, an HxWx3 uint8 RGB array or a (1x)3xHxW tensor in [0,1].

    Returns a 3xHxW float tensor in [0,1] on the CPU. ``tile`` overrides the
    model's tiling for this call (bounded memory on large images).
    """
    if isinstance(img, str):
        x = read_rgb(img)
    elif isinstance(img, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()[None] / 255.0
    else:
        x = img[None] if img.dim() == 3 else img
    device = next(model.parameters()).device
    old = (getattr(model, 'tile', None), getattr(model, 'tile_overlap', None))
    if tile is not None:
        model.tile = tile
    if tile_overlap is not None:
        model.tile_overlap = tile_overlap
    try:
        out = model.predict(model.data_preprocessor({'lq': x.to(device)})['batch'])
    finally:
        if hasattr(model, 'tile'):
            model.tile, model.tile_overlap = old
    return out[0]['pred']


def list_images(inputs: Iterable[str]) -> List[str]:
    """Expand files and folders (recursively) into a sorted list of image paths."""
    out = []
    for p in inputs:
        if osp.isdir(p):
            for root, _, files in os.walk(p):
                out += [osp.join(root, f) for f in files if f.lower().endswith(IMG_EXTS)]
        elif osp.isfile(p):
            out.append(p)
        else:
            raise FileNotFoundError(f'input not found: {p}')
    return sorted(out)


__all__ = ['init_model', 'restore', 'read_rgb', 'list_images']
