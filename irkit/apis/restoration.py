"""Python API: build a model from a config + checkpoint and restore images of any size."""
from __future__ import annotations

import os
import os.path as osp
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

if TYPE_CHECKING:
    from mmengine.config import Config

IMG_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def init_model(config: Union[str, 'Config'], checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None, pretrained: bool = False,
               fmt: Optional[str] = None, allow_nonfinite: bool = False) -> torch.nn.Module:
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
        allow_nonfinite: load weights holding NaN/Inf (refused by default, naming them).
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
        load_weights(model, str(path), strict=True, fmt=fmt, allow_nonfinite=allow_nonfinite)
    model.cfg = cfg
    return model.to(device).eval()


def read_rgb(path: str) -> torch.Tensor:
    """Read an image file as a 1x3xHxW float tensor in [0,1] (RGB), as ``LoadImageFromFile`` does."""
    from irkit.datasets.transforms import LoadImageFromFile
    img = LoadImageFromFile(key='img')({'img_path': path})['img']
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def inference_inputs(model: torch.nn.Module) -> List[str]:
    """The entries a user gives files for: the test pipeline's loaded images that are not the
    ground truth (``['lq']``, ``['lq_l', 'lq_r']`` for dual-pixel input), else the model's input."""
    from irkit.datasets.inference import config_test_pipeline
    gt_key = getattr(model, 'gt_key', 'gt')
    cfg = getattr(model, 'cfg', None)
    keys = [t.get('key', 'gt') for t in (config_test_pipeline(cfg) if cfg is not None else [])
            if t.get('type') == 'LoadImageFromFile']
    keys = [k for k in keys if k != gt_key]
    return keys or [getattr(model, 'input_key', 'lq')]


def inference_pipeline(model: torch.nn.Module, inputs: Sequence[str], mask_key: Optional[str] = None,
                       white_is_hole: bool = True):
    """The model's config test pipeline adapted to user files (cached on the model)."""
    from irkit.datasets.inference import InferencePipeline
    cache = model.__dict__.setdefault('_inference_pipelines', {})
    k = (tuple(inputs), mask_key, white_is_hole)
    if k not in cache:
        cache[k] = InferencePipeline(getattr(model, 'cfg', None), inputs, mask_key, white_is_hole)
    return cache[k]


def to_batch(model: torch.nn.Module, sample: dict) -> dict:
    """One packed sample -> the model's preprocessed batch (on its device)."""
    return model.data_preprocessor({k: [v] for k, v in sample.items()})['batch']


def _as_input(img: Union[str, os.PathLike, np.ndarray, torch.Tensor], name: str) -> Union[str, np.ndarray]:
    """A path as is; arrays/tensors as the H x W x C float32 [0, 1] RGB arrays loaders produce."""
    if isinstance(img, (str, os.PathLike)):
        return str(img)
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.dtype != np.uint8:
            raise ValueError(f'{name}: expected an HxWxC uint8 RGB array, got {img.shape} {img.dtype}')
        return img.astype(np.float32) / 255.0
    t = img.detach().float().cpu()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3:
        raise ValueError(f'{name}: expected a CxHxW or 1xCxHxW tensor in [0,1], got {tuple(img.shape)}')
    return np.ascontiguousarray(t.permute(1, 2, 0).numpy())


def _key(img: Union[str, np.ndarray]) -> str:
    """The sample key of a user file (its name without extension), as datasets key test images."""
    return osp.splitext(osp.basename(img))[0] if isinstance(img, str) else 'image'


def _synthesised(model: torch.nn.Module, clean: Union[str, np.ndarray, torch.Tensor]) -> dict:
    gt_key = getattr(model, 'gt_key', 'gt')
    files = {gt_key: _as_input(clean, gt_key)}
    sample = inference_pipeline(model, [gt_key])(files, key=_key(files[gt_key]))
    missing = [k for k in inference_inputs(model) if k not in sample]
    if missing:
        raise ValueError(f"this config's test pipeline reads its input {missing[0]!r} from files instead of "
                         f"synthesising it from '{gt_key}': pass the degraded image itself")
    return sample


def degrade(model: torch.nn.Module, clean: Union[str, np.ndarray, torch.Tensor]) -> torch.Tensor:
    """The input a config's test pipeline synthesises from a clean image (its benchmark degradation).

    E.g. the demo's Gaussian noise (sigma 25), fixed per image by the config's seed and the
    file name, as ``tools/test.py`` makes it. Returns the (first) input, CxHxW in [0, 1];
    a ``ValueError`` for configs whose test pipeline reads degraded files.
    """
    sample = _synthesised(model, clean)
    return sample[inference_inputs(model)[0]].float()


class count_passes:
    """Context manager calling ``progress(done, total)`` after each call of the model's networks.

    Counts forward calls of ``model.generator`` and ``model.generator_ema`` (the networks
    every irkit model runs at inference: one call per tile, per self-ensemble flip, per
    diffusion step); ``total`` is the expected count where the model knows it
    (``Restorer.num_passes``), else ``None``.
    """

    def __init__(self, model: torch.nn.Module, progress: Optional[Callable[[int, Optional[int]], None]],
                 total: Optional[int] = None) -> None:
        self.model, self.progress, self.total, self.done, self._handles = model, progress, total, 0, []

    def _hook(self, *_) -> None:
        self.done += 1
        self.progress(self.done, self.total)

    def __enter__(self) -> 'count_passes':
        if self.progress is not None:
            for name in ('generator', 'generator_ema'):
                net = getattr(self.model, name, None)
                if isinstance(net, torch.nn.Module):
                    self._handles.append(net.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


@torch.no_grad()
def restore(model: torch.nn.Module, img: Union[str, np.ndarray, torch.Tensor, Dict[str, Any]],
            tile: Optional[int] = None, tile_overlap: Optional[int] = None,
            progress: Optional[Callable[[int, Optional[int]], None]] = None) -> torch.Tensor:
    """Restore one image with the config's test pipeline and the model's inference.

    ``img``: a path, an HxWx3 uint8 RGB array or a (1x)3xHxW tensor in [0,1]; for configs
    with several inputs (dual-pixel: ``lq_l``, ``lq_r``) a dict ``{entry: path or array}``;
    ``{'gt': clean image}`` restores the input the test pipeline synthesises from it
    (:func:`degrade`).
    Files are decoded as the config's test pipeline decodes them (grey, alpha, 16-bit,
    channel order). Returns a 3xHxW float tensor in [0,1] on the CPU. ``tile`` overrides the
    model's tiling for this call (bounded memory on large images). ``progress(done, total)``
    is called after each network pass (:class:`count_passes`).
    """
    inputs = inference_inputs(model)
    gt_key = getattr(model, 'gt_key', 'gt')
    if isinstance(img, dict) and list(img) == [gt_key]:
        sample = _synthesised(model, img[gt_key])
    else:
        if isinstance(img, dict):
            unknown = [k for k in img if k not in inputs]
            if unknown:
                raise KeyError(f"restore(): this config takes the inputs {inputs} (or the ground truth "
                               f"'{gt_key}' alone, degraded by its test pipeline), not {unknown}")
            files = {k: _as_input(v, k) for k, v in img.items()}
        elif len(inputs) > 1:
            raise ValueError(f'this config takes {len(inputs)} input images ({", ".join(inputs)}): pass a dict '
                             f'{{{", ".join(repr(k) + ": path" for k in inputs)}}}')
        else:
            files = {inputs[0]: _as_input(img, 'img')}
        sample = inference_pipeline(model, inputs)(files, key=_key(next(iter(files.values()))))
    batch = to_batch(model, sample)
    old = (getattr(model, 'tile', None), getattr(model, 'tile_overlap', None))
    if tile is not None:
        model.tile = tile
    if tile_overlap is not None:
        model.tile_overlap = tile_overlap
    try:
        x = batch.get(getattr(model, 'input_key', 'lq'))
        total = model.num_passes(*x.shape[-2:]) if hasattr(model, 'num_passes') and torch.is_tensor(x) else None
        with count_passes(model, progress, total):
            out = model.predict(batch)
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
            if not p.lower().endswith(IMG_EXTS):
                raise ValueError(f"input {p} is not an image file (extensions: {', '.join(IMG_EXTS)})")
            out.append(p)
        else:
            raise FileNotFoundError(f'input not found: {p}')
    return sorted(out)


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def plan_outputs(inputs: Iterable[str], out_dir: str, ext: str = '.png') -> List[Tuple[str, str]]:
    """``(input image, output file)`` for every image of ``inputs`` written under ``out_dir``.

    An image found in a folder keeps its path relative to that folder, a file given
    directly keeps its name; the extension becomes ``ext``.

    Raises:
        ValueError: ``out_dir`` is an input folder or inside one (outputs would be
            read back as inputs), an output would replace an input file, or two inputs
            would be written to the same output (``a.png`` and ``a.jpg``; ``img.png``
            of two folders). Nothing has been written then.
    """
    inputs = list(inputs)
    folders = [i for i in inputs if osp.isdir(i)]
    for folder in folders:
        if _inside(out_dir, folder):
            raise ValueError(f'the output folder {out_dir} is the input folder {folder} or inside it: '
                             'outputs would overwrite inputs or be read as inputs next time; write '
                             'them to another folder')
    plan = []
    for path in list_images(inputs):
        base = next((f for f in folders if _inside(path, f)), None)
        rel = osp.relpath(path, base) if base else osp.basename(path)
        plan.append((path, osp.join(out_dir, osp.splitext(rel)[0] + ext)))
    sources = {osp.realpath(p) for p, _ in plan}
    for src, dst in plan:
        if osp.realpath(dst) in sources:
            raise ValueError(f'{dst} would overwrite the input image of that name; write the '
                             'outputs to another folder')
    by_dst: Dict[str, List[str]] = {}
    for src, dst in plan:
        by_dst.setdefault(osp.realpath(dst), []).append(src)
    clashes = [(dst, srcs) for dst, srcs in by_dst.items() if len(srcs) > 1]
    if clashes:
        listed = '; '.join(f'{" and ".join(srcs)} -> {dst}' for dst, srcs in clashes[:10])
        raise ValueError(f'{sum(len(s) for _, s in clashes)} inputs would be written to the same output '
                         f'file under {out_dir}: {listed}; rename them or restore them separately')
    return plan


__all__ = ['init_model', 'restore', 'read_rgb', 'list_images', 'plan_outputs', 'inference_inputs',
           'inference_pipeline', 'to_batch', 'count_passes', 'degrade']
