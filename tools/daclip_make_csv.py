"""Write DA-CLIP's caption CSV from the Universal-IR folder layout and a captions file.

The released data layout is ``<data-root>/<mode>/<degradation>/{LQ,GT}/*`` (LQ and GT
paired by sorted order). DA-CLIP trains on one row per LQ image,
``filepath<TAB>title`` with ``title = "<caption of the GT image>: <degradation>"``,
written to ``<data-root>/daclip_<mode>.csv`` (as the official
``scripts/generate_captions.py`` does). Captioning models are not bundled: produce
the GT captions with any captioner (the paper used clip-interrogator 0.6.0 with
ViT-L-14/openai, ``generate_caption``) and give them as a tab-separated file with the
header ``gt_path<TAB>caption``, ``gt_path`` absolute or relative to
``<data-root>/<mode>`` (e.g. ``hazy/GT/0001.png``).

Example::

    python tools/daclip_make_csv.py --data-root datasets/universal --mode train \\
        --captions datasets/universal/captions_train.tsv
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..')))

DEGRADATIONS = ('motion-blurry', 'hazy', 'jpeg-compressed', 'low-light', 'noisy', 'raindrop',
                'rainy', 'shadowed', 'snowy', 'uncompleted')
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff', '.webp')


def list_images(folder: str) -> List[str]:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'folder not found: {folder}')
    out = []
    for dirpath, _, names in sorted(os.walk(folder)):
        for n in sorted(names):
            if n.lower().endswith(IMG_EXTENSIONS):
                out.append(os.path.join(dirpath, n))
    if not out:
        raise ValueError(f'no images in {folder}')
    return out


def read_captions(path: str, base: str) -> Dict[str, str]:
    """``{normalised absolute GT path: caption}`` from a ``gt_path<TAB>caption`` file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'captions file not found: {path}')
    caps = {}
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f, delimiter='\t')
        if reader.fieldnames is None or not {'gt_path', 'caption'} <= set(reader.fieldnames):
            raise KeyError(f"{path}: needs a header 'gt_path<TAB>caption', got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            p, cap = row['gt_path'], (row['caption'] or '').strip()
            if not p or not cap:
                raise ValueError(f'{path}:{line}: empty gt_path or caption')
            if '\t' in cap or '\n' in cap:
                raise ValueError(f'{path}:{line}: caption contains a tab or newline')
            full = p if os.path.isabs(p) else os.path.join(base, p)
            caps[os.path.normpath(os.path.abspath(full))] = cap
    return caps


def make_rows(data_root: str, mode: str, captions: Dict[str, str],
              degradations: Sequence[str] = DEGRADATIONS) -> List[Dict[str, str]]:
    rows = []
    for deg in degradations:
        gts = list_images(os.path.join(data_root, mode, deg, 'GT'))
        lqs = list_images(os.path.join(data_root, mode, deg, 'LQ'))
        if len(gts) != len(lqs):
            raise ValueError(f"'{deg}': {len(lqs)} LQ but {len(gts)} GT images")
        for gt, lq in zip(gts, lqs):
            key = os.path.normpath(os.path.abspath(gt))
            if key not in captions:
                raise KeyError(f'no caption for GT image {gt}')
            rows.append(dict(filepath=lq, title=f'{captions[key]}: {deg}'))
    return rows


def write_csv(rows: List[Dict[str, str]], out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    with open(tmp, 'w', newline='', encoding='utf-8') as f:
        w = csv.DictWriter(f, fieldnames=['filepath', 'title'], delimiter='\t',
                           quoting=csv.QUOTE_MINIMAL, lineterminator='\n')
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data-root', required=True, help='folder holding <mode>/<degradation>/{LQ,GT}')
    ap.add_argument('--mode', default='train', help='sub-folder: train or val')
    ap.add_argument('--captions', required=True, help='tab-separated gt_path<TAB>caption file')
    ap.add_argument('--degradations', nargs='+', default=list(DEGRADATIONS))
    ap.add_argument('--out', default=None, help='default: <data-root>/daclip_<mode>.csv')
    args = ap.parse_args(argv)
    caps = read_captions(args.captions, os.path.join(args.data_root, args.mode))
    rows = make_rows(args.data_root, args.mode, caps, args.degradations)
    out = args.out or os.path.join(args.data_root, f'daclip_{args.mode}.csv')
    write_csv(rows, out)
    print(f'wrote {len(rows)} rows to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
