"""Render TDR guidance images for a folder of (degraded) images.

    python tools/tdr_generate_guidance.py INPUT_DIR OUT_DIR \
        --sd-path stable-diffusion-2-1-base --clip-path clip-vit-h-14 \
        --mapper work_dirs/tdr_mapper_stage1/mapper.pt \
        --clean-mapper work_dirs/tdr_cleanmapper_stage2/clean_mapper.pt

One ``OUT_DIR/<key>.png`` per input, ``<key>`` being the input's path relative to
INPUT_DIR without extension (the name ``GuidanceDataset`` looks up by default).
Resumable: images whose output exists are skipped; each PNG is written to a
temporary name and renamed, so an interrupted run never leaves a partial file.
Defaults follow the release: DDIM 100 steps, guidance scale 5, seed 42, 512x512.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Render TDR guidance (reference) images')
    p.add_argument('input', help='folder of input images (scanned recursively)')
    p.add_argument('out', help='output folder')
    p.add_argument('--sd-path', required=True, help='local Stable Diffusion 2.x-base folder')
    p.add_argument('--clip-path', required=True, help='local CLIP ViT-H/14 vision model folder')
    p.add_argument('--mapper', required=True, help='stage-1 Mapper weights (release mapper.pt '
                   'or irkit checkpoint)')
    p.add_argument('--clean-mapper', help='stage-2 CleanMapper weights; omit to render without '
                   'textual restoration')
    p.add_argument('--num-words', type=int, default=20)
    p.add_argument('--steps', type=int, default=100)
    p.add_argument('--guidance-scale', type=float, default=5.0)
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--resolution', type=int, default=512)
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--start', type=int, default=None, help='first image index (sorted order)')
    p.add_argument('--end', type=int, default=None, help='one past the last image index')
    p.add_argument('--fp16', action='store_true', help='half precision (GPU), as the release')
    p.add_argument('--device', default=None, help="default: 'cuda' when available, else 'cpu'")
    p.add_argument('--mapper-hidden-dim', type=int, default=1280, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2
    import numpy as np
    import torch
    from tqdm import tqdm

    from irkit.models.tdr_guidance import generate_guidance, load_tdr_components
    from irkit.fileio.lmdb import scan_images

    items = scan_images(args.input)
    items = items[args.start:args.end]
    if not items:
        raise SystemExit(f'no images found in {args.input}')
    todo = [(k, p) for k, p in items if not osp.isfile(osp.join(args.out, k + '.png'))]
    print(f'{len(items)} images, {len(items) - len(todo)} already rendered, {len(todo)} to go')
    if not todo:
        return 0

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    mapper_cfg = dict(num_words=args.num_words, hidden_dim=args.mapper_hidden_dim)
    clean_cfg = dict(num_words=args.num_words, hidden_dim=args.mapper_hidden_dim)
    comps = load_tdr_components(args.sd_path, args.clip_path, mapper=mapper_cfg,
                                mapper_path=args.mapper,
                                clean_mapper=clean_cfg if args.clean_mapper else None,
                                clean_mapper_path=args.clean_mapper)
    comps.to(device=device, dtype=torch.float16 if args.fp16 else torch.float32)
    if comps.clean_mapper is not None:
        comps.clean_mapper.eval()
    comps.mapper.eval()

    bar = tqdm(total=len(todo), unit='img')
    for i in range(0, len(todo), args.batch_size):
        chunk = todo[i:i + args.batch_size]
        imgs = []
        for _, path in chunk:
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            if bgr is None:
                raise SystemExit(f'cannot read image {path}')
            imgs.append(torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)
                        .float() / 255.)
        shapes = {tuple(t.shape) for t in imgs}
        groups = [[j] for j in range(len(imgs))] if len(shapes) > 1 else [list(range(len(imgs)))]
        for group in groups:
            batch = torch.stack([imgs[j] for j in group])
            out = generate_guidance(comps, batch, num_inference_steps=args.steps,
                                    guidance_scale=args.guidance_scale, seed=args.seed,
                                    resolution=args.resolution)
            for j, img in zip(group, out):
                key = chunk[j][0]
                dst = osp.join(args.out, key + '.png')
                os.makedirs(osp.dirname(dst), exist_ok=True)
                arr = (img.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
                tmp = dst + '.tmp.png'
                if not cv2.imwrite(tmp, cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)):
                    raise SystemExit(f'cannot write {tmp}')
                os.replace(tmp, dst)
                bar.update(1)
    bar.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
