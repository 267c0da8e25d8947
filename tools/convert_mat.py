"""Convert a released MAT ``.pkl`` (StyleGAN2-ADA training snapshot) to an irkit checkpoint.

    python tools/convert_mat.py Places_512.pkl work_dirs/mat_places512.pth [--resolution 512]

The pickle is read with a restricted unpickler (no code from the file is
imported or executed, see ``irkit/fileio/safe_unpickle.py``).  The output is a
``torch.save`` dict loadable with ``weights_only=True``::

    {'meta': {...}, 'state_dict': {'generator.*', 'generator_ema.*', 'discriminator.*'}}

i.e. the layout of a ``MATInpaintor`` checkpoint (``load_from`` / ``tools/inpaint.py``
accept it).  Each network is strict-loaded into ``MATGenerator`` /
``MATDiscriminator`` built with the official arguments before anything is written.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

PREFIXES = (('G', 'generator.'), ('G_ema', 'generator_ema.'), ('D', 'discriminator.'))


def build_networks(resolution: int, channel_table=None, stage1_dim: int = 180, z_dim: int = 512,
                   w_dim: int = 512):
    from irkit.archs.mat import MATDiscriminator, MATGenerator
    g = MATGenerator(z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=resolution, img_channels=3,
                     channel_table=channel_table, stage1_dim=stage1_dim)
    d = MATDiscriminator(c_dim=0, img_resolution=resolution, img_channels=3, channel_table=channel_table)
    return g, d


def convert(src: str, dst: str, resolution: Optional[int] = None, channel_table=None, stage1_dim: int = 180,
            z_dim: int = 512, w_dim: int = 512) -> Dict[str, int]:
    """Convert ``src`` to ``dst``; returns the number of tensors written per network."""
    import torch

    from irkit.fileio.checkpoint import atomic_save, load_state_dict
    from irkit.fileio.safe_unpickle import extract_state_dicts, load_stylegan_pickle

    data = load_stylegan_pickle(src)
    sds = extract_state_dicts(data, [k for k, _ in PREFIXES])
    if 'G_ema' not in sds:
        raise SystemExit(f"{src}: no 'G_ema' network (found {sorted(sds)}); is this a MAT snapshot?")
    if resolution is None:  # noise_const of the last decoder block is [res, res]
        res_keys = [v.shape[-1] for k, v in sds['G_ema'].items() if k.endswith('noise_const')]
        if not res_keys:
            raise SystemExit(f'{src}: cannot infer the resolution (no noise_const buffers); pass --resolution')
        resolution = max(res_keys)
    g, d = build_networks(resolution, channel_table, stage1_dim, z_dim, w_dim)
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    counts = {}
    for name, prefix in PREFIXES:
        if name not in sds:
            continue
        net = d if name == 'D' else g
        load_state_dict(net, sds[name], strict=True, source=f'{src} [{name}]')  # raises on any mismatch
        for k, v in sds[name].items():
            out[prefix + k] = v.contiguous()
        counts[name] = len(sds[name])
    if 'G' not in sds:  # inference-only pickles: train from the EMA weights
        for k, v in sds['G_ema'].items():
            out['generator.' + k] = v.clone()
    meta = dict(source=osp.basename(src), converter='tools/convert_mat.py', img_resolution=int(resolution),
                networks=sorted(sds), arch='MATGenerator/MATDiscriminator')
    atomic_save({'meta': meta, 'state_dict': out}, dst)
    return counts


def parse_args(argv: Optional[Sequence[str]] = None):
    p = argparse.ArgumentParser(description='Convert a released MAT .pkl to an irkit checkpoint')
    p.add_argument('src', help='MAT pickle, e.g. Places_512.pkl or CelebA-HQ_512.pkl')
    p.add_argument('dst', help='output .pth')
    p.add_argument('--resolution', type=int, default=None, help='img_resolution (default: inferred)')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.src):
        raise SystemExit(f'pickle not found: {args.src} (download the MAT release, see docs/methods/mat.md)')
    counts = convert(args.src, args.dst, args.resolution)
    print(f'wrote {args.dst}: ' + ', '.join(f'{k} {v} tensors' for k, v in counts.items()))


if __name__ == '__main__':
    main()
