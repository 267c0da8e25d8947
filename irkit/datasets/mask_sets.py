"""Fixed, versioned evaluation mask sets: the same masks for every method and every run.

Inpainting numbers are only comparable on the same images *and the same masks*; the
official generators of LaMa and MAT draw from unseeded global RNGs, so re-generated masks
differ between runs. A mask set here is defined by ``(name, version, size, count, seed)``:
mask ``i`` is drawn from ``numpy.random.default_rng([seed, crc32(name), i])`` with the
published generator and parameters, written as ``{i:06d}.png`` (**white = hole**, irkit's
file convention) with a ``manifest.json`` holding the definition, every file's SHA-256 and
hole ratio, and the SHA-256 of the whole set. :func:`verify_mask_set` re-checks a folder;
two generations of the same definition are byte-identical.

Sets (``MASK_SETS``):

* ``mat_small``, ``mat_large``: MAT's ``RandomMask`` (``mask_generator_512`` small/large),
  the masks behind MAT's and Co-ModGAN's Places/CelebA-HQ tables (MAT released fixed sets
  drawn with this generator);
* ``ratio_00_10`` ... ``ratio_50_60``: MAT's large-mask generator (its full distribution)
  with draws kept only when their hole ratio is in the bin (rejection), for the per-ratio
  tables of PConv, AOT-GAN and DeepFill v2 (their papers use NVIDIA's irregular mask set,
  which cannot be regenerated). Passing the bin as MAT's ``hole_range`` instead would also
  shrink the number of boxes and strokes (MAT scales them by ``lo + hi``), leaving no hole at
  all below 10 %;
* ``lama_thin``, ``lama_medium``, ``lama_thick``: LaMa's evaluation masks
  (``configs/data_gen/random_{thin,medium,thick}_{256,512}.yaml``, with the selection of its
  ``gen_mask_dataset.py``: 5 draws, at most 50 % holes, one kept), the variant of the set's size
  (256 or 512; :mod:`irkit.datasets.transforms.lama_masks`).

Bump ``MASK_SET_VERSION`` whenever a generator's output changes; manifests record it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional

import cv2
import numpy as np

__all__ = ['MASK_SET_VERSION', 'MASK_SETS', 'MASK_GENERATORS', 'MaskSetSpec', 'generate_mask_set',
           'verify_mask_set', 'mask_rng', 'register_mask_generator']

MASK_SET_VERSION = 2  # 2: ratio bins by rejection from the full large-mask distribution
# name -> fn(rng, height, width, **params) -> float32 H x W mask, 1 = known, 0 = hole
MASK_GENERATORS: Dict[str, Callable[..., np.ndarray]] = {}


def register_mask_generator(name: str):
    """Decorator: ``fn(rng, height, width, **params) -> H x W float32 (1 = known)``."""
    def deco(fn):
        MASK_GENERATORS[name] = fn
        return fn
    return deco


@register_mask_generator('mat')
def _mat(rng: np.random.Generator, height: int, width: int, variant: str = 'large',
         hole_range=(0.0, 1.0)) -> np.ndarray:
    from irkit.datasets.transforms.masks import mat_random_mask
    return mat_random_mask(height, width, variant, hole_range, rng)


@register_mask_generator('mat_bin')
def _mat_bin(rng: np.random.Generator, height: int, width: int, variant: str = 'large',
             hole_range=(0.0, 1.0), max_draws: int = 100000) -> np.ndarray:
    """The first draw of MAT's ``variant`` generator (``hole_range`` (0, 1)) whose hole
    ratio is strictly inside ``hole_range``."""
    from irkit.datasets.transforms.masks import mat_random_mask
    lo, hi = float(hole_range[0]), float(hole_range[1])
    for _ in range(max_draws):
        known = mat_random_mask(height, width, variant, (0.0, 1.0), rng)
        if lo < 1.0 - float(known.mean()) < hi:
            return known
    raise RuntimeError(f'no {variant} MAT mask with a hole ratio inside ({lo}, {hi}) in {max_draws} draws')


@register_mask_generator('lama')
def _lama(rng: np.random.Generator, height: int, width: int, kind: str = 'thick') -> np.ndarray:
    from irkit.datasets.transforms.lama_masks import GenerateLaMaMask
    if height != width or height not in (256, 512):
        raise ValueError(f"LaMa's {kind} masks are defined at 256 and 512 px (square), got {height}x{width}")
    hole = GenerateLaMaMask(variant=f'{kind}_{height}').draw(rng, height, width)
    return 1.0 - hole


@dataclass(frozen=True)
class MaskSetSpec:
    """A mask set: ``generator`` name and parameters, default size and count, what it is for."""
    generator: str
    params: dict = field(default_factory=dict)
    size: int = 512
    count: int = 1000
    description: str = ''


def _ratio_bins() -> Dict[str, MaskSetSpec]:
    out = {}
    for lo in range(0, 60, 10):
        out[f'ratio_{lo:02d}_{lo + 10:02d}'] = MaskSetSpec(
            'mat_bin', dict(variant='large', hole_range=(lo / 100, (lo + 10) / 100)),
            description=f'MAT large masks with a hole ratio in ({lo}%, {lo + 10}%) (per-ratio tables)')
    return out


MASK_SETS: Dict[str, MaskSetSpec] = {
    'mat_small': MaskSetSpec('mat', dict(variant='small'), description="MAT's small masks (RandomMask, small)"),
    'mat_large': MaskSetSpec('mat', dict(variant='large'), description="MAT's large masks (RandomMask, large)"),
    **_ratio_bins(),
    **{f'lama_{kind}': MaskSetSpec('lama', dict(kind=kind), description=f"LaMa's {kind} evaluation masks "
                                   f'(random_{kind}_{{256,512}}.yaml)') for kind in ('thin', 'medium', 'thick')},
}


def mask_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """The generator of mask ``index`` of set ``name`` (independent of order and count)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), int(index)])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec(name: str) -> MaskSetSpec:
    if name not in MASK_SETS:
        from irkit.registry import closest
        raise KeyError(f"unknown mask set '{name}'{closest(name, MASK_SETS)}; known: {', '.join(MASK_SETS)}")
    spec = MASK_SETS[name]
    if spec.generator not in MASK_GENERATORS:
        raise KeyError(f"mask set '{name}' needs the generator '{spec.generator}', which is not registered")
    return spec


def generate_mask_set(name: str, out_dir: str, count: Optional[int] = None, size: Optional[int] = None,
                      seed: int = 0, overwrite: bool = False) -> dict:
    """Write mask set ``name`` to ``out_dir`` (PNGs, white = hole, + ``manifest.json``).

    The folder is written under a temporary name and renamed when complete, so an
    interrupted run leaves no half set. Returns the manifest.
    """
    spec = _spec(name)
    count = spec.count if count is None else int(count)
    size = spec.size if size is None else int(size)
    if count < 1 or size < 8:
        raise ValueError(f'count must be >= 1 and size >= 8, got count={count}, size={size}')
    out = Path(out_dir)
    if out.exists():
        if not overwrite:
            raise FileExistsError(f'{out} exists (pass overwrite=True / --overwrite to replace it)')
    tmp = out.with_name(f'.{out.name}.partial{os.getpid()}')
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        files = []
        gen = MASK_GENERATORS[spec.generator]
        for i in range(count):
            known = gen(mask_rng(seed, name, i), size, size, **spec.params)
            png = cv2.imencode('.png', np.where(known < 0.5, 255, 0).astype(np.uint8))[1].tobytes()
            fname = f'{i:06d}.png'
            (tmp / fname).write_bytes(png)
            files.append({'file': fname, 'sha256': _sha256(png), 'hole_ratio': round(float((known < 0.5).mean()), 6)})
        manifest = {'name': name, 'version': MASK_SET_VERSION, 'generator': spec.generator,
                    'params': {k: list(v) if isinstance(v, tuple) else v for k, v in spec.params.items()},
                    'size': size, 'count': count, 'seed': seed, 'convention': 'white = hole (255), black = known (0)',
                    'description': spec.description, 'files': files,
                    'sha256': _sha256(''.join(f['sha256'] for f in files).encode())}
        (tmp / 'manifest.json').write_text(json.dumps(manifest, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # no half-written set is left behind
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return manifest


def verify_mask_set(folder: str) -> dict:
    """Check every file of a mask set against its manifest; returns the manifest.

    Raises ``ValueError`` naming the first file that is missing or differs.
    """
    folder = Path(folder)
    mf = folder / 'manifest.json'
    if not mf.is_file():
        raise FileNotFoundError(f'{folder}: no manifest.json (not a mask set written by tools/make_mask_sets.py)')
    manifest = json.loads(mf.read_text())
    for f in manifest['files']:
        p = folder / f['file']
        if not p.is_file():
            raise ValueError(f'{folder}: {f["file"]} listed in the manifest is missing')
        if _sha256(p.read_bytes()) != f['sha256']:
            raise ValueError(f'{folder}: {f["file"]} differs from the manifest (SHA-256); regenerate the set')
    whole = _sha256(''.join(f['sha256'] for f in manifest['files']).encode())
    if whole != manifest['sha256']:
        raise ValueError(f'{folder}: manifest checksum mismatch')
    return manifest


def spec_dict(name: str) -> dict:
    return asdict(_spec(name))
