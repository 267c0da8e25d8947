"""PSNR + SSIM on 1920x1080 RGB pairs: irkit's vectorised path vs a straightforward
per-channel numpy/OpenCV implementation of the same formulas (BasicSR style).

Usage: python benchmarks/bench_metrics.py [--pairs 3] [--repeat 3] [--device cpu|cuda]
Prints a Markdown table row per setting; values of both paths are checked equal.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from irkit.metrics import psnr, ssim  # noqa: E402


def baseline_psnr_ssim(img, img2, y):
    """Per-channel loops, five full 11x11 cv2.filter2D passes per channel, float64."""
    img, img2 = img.astype(np.float64), img2.astype(np.float64)
    if y:
        w = np.array([65.481, 128.553, 24.966])
        img = (16 + img @ w / 255)[..., None]
        img2 = (16 + img2 @ w / 255)[..., None]
    mse = np.mean((img - img2) ** 2)
    p = 10 * np.log10(255 ** 2 / mse)
    k = cv2.getGaussianKernel(11, 1.5)
    win = np.outer(k, k)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for c in range(img.shape[2]):
        a, b = img[..., c], img2[..., c]
        mu1 = cv2.filter2D(a, -1, win)[5:-5, 5:-5]
        mu2 = cv2.filter2D(b, -1, win)[5:-5, 5:-5]
        s1 = cv2.filter2D(a * a, -1, win)[5:-5, 5:-5] - mu1 ** 2
        s2 = cv2.filter2D(b * b, -1, win)[5:-5, 5:-5] - mu2 ** 2
        s12 = cv2.filter2D(a * b, -1, win)[5:-5, 5:-5] - mu1 * mu2
        m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s1 + s2 + c2))
        vals.append(m.mean())
    return p, float(np.mean(vals))


def timeit(fn, repeat):
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pairs', type=int, default=3)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'none' (skip the torch path)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in range(args.pairs)]
    preds = [np.clip(g + rng.normal(0, 8, g.shape), 0, 255).astype(np.uint8) for g in gts]
    print(f'torch {torch.__version__}, opencv {cv2.__version__}, threads {torch.get_num_threads()}, '
          f'{args.pairs} pairs 1920x1080, best of {args.repeat}')
    print('| setting | baseline s/pair | irkit numpy s/pair | speed-up | irkit torch '
          f'({args.device}) s/pair | speed-up | max abs diff PSNR / SSIM |')
    print('|---|---|---|---|---|---|---|')
    for y in (False, True):
        tb, ref = timeit(lambda: [baseline_psnr_ssim(a, b, y) for a, b in zip(preds, gts)], args.repeat)
        tn, got = timeit(lambda: [(psnr(a, b, test_y_channel=y), ssim(a, b, test_y_channel=y))
                                  for a, b in zip(preds, gts)], args.repeat)
        if args.device == 'none':  # numpy paths only
            dp = max(abs(r[0] - o[0]) for r, o in zip(ref, got))
            ds = max(abs(r[1] - o[1]) for r, o in zip(ref, got))
            print(f"| {'Y' if y else 'RGB'} | {tb / args.pairs:.3f} | {tn / args.pairs:.3f} | "
                  f'{tb / tn:.1f}x | - | - | {dp:.1e} / {ds:.1e} |', flush=True)
            continue
        x = torch.from_numpy(np.stack(preds)).permute(0, 3, 1, 2).to(args.device).double() / 255
        g = torch.from_numpy(np.stack(gts)).permute(0, 3, 1, 2).to(args.device).double() / 255

        def run_t():
            out = (psnr(x, g, test_y_channel=y), ssim(x, g, test_y_channel=y))
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            return out
        run_t()
        tt, (pt, st) = timeit(run_t, args.repeat)
        dp = max(max(abs(r[0] - o[0]) for r, o in zip(ref, got)),
                 float((pt.cpu() - torch.tensor([r[0] for r in ref], dtype=torch.float64)).abs().max()))
        ds = max(max(abs(r[1] - o[1]) for r, o in zip(ref, got)),
                 float((st.cpu() - torch.tensor([r[1] for r in ref], dtype=torch.float64)).abs().max()))
        n = args.pairs
        print(f"| {'Y' if y else 'RGB'} | {tb / n:.3f} | {tn / n:.3f} | {tb / tn:.1f}x | {tt / n:.4f} | "
              f'{tb / tt:.1f}x | {dp:.1e} / {ds:.1e} |')


if __name__ == '__main__':
    main()
