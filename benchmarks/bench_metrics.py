"""Metric benchmarks, each side by side with the reference in one run.

PSNR + SSIM on 1920x1080 RGB pairs: irkit's vectorised path vs a straightforward
per-channel numpy/OpenCV implementation of the same formulas (BasicSR style):
    python benchmarks/bench_metrics.py [--pairs 3] [--repeat 3] [--device cpu|cuda]

P-IDS / U-IDS + FID at MAT's protocol scale (36,500 real + 36,500 inpainted 2048-d
features): MAT's ``cal_fid_pids_uids.py`` calls (scikit-learn ``LinearSVC(dual=False)``
on the float32 features, FeatureStats mean/covariance) vs irkit's ``pids_uids`` and
``fid_from_features``, interleaved, with wall and CPU time and peak memory of each:
    nice -n 10 python benchmarks/bench_metrics.py --pids [--n 36500] [--dim 2048] [--repeat 1]
The features are seeded stand-ins for Inception pool features (non-negative, correlated,
each inpainted feature its real one plus noise; SVM accuracy ~55 %, as in MAT's tables).
Prints a Markdown table row per run; P-IDS/U-IDS must be equal, FID equal to 1e-9.
"""
from __future__ import annotations

import argparse
import os
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


def seeded_inception_like(n, dim, seed=0, rank=256, pert=0.15, noise=0.2):
    """(real, fake) float32 (n, dim): ReLU of a rank-``rank`` Gaussian with a decaying
    spectrum plus isotropic noise; fake_i = real_i's latent and noise perturbed."""
    rng = np.random.default_rng(seed)
    spectrum = (1 + np.arange(rank)) ** -0.5
    mix = (rng.standard_normal((rank, dim)) * (0.6 * spectrum / np.sqrt((spectrum ** 2).sum()))[:, None]
           ).astype(np.float32)
    mean = rng.uniform(-0.1, 0.5, dim).astype(np.float32)
    real, fake = np.empty((n, dim), np.float32), np.empty((n, dim), np.float32)
    for a in range(0, n, 8192):
        m = min(n, a + 8192) - a
        z = rng.standard_normal((m, rank), dtype=np.float32)
        e = rng.standard_normal((m, dim), dtype=np.float32)
        real[a:a + m] = np.maximum(z @ mix + mean + noise * e, 0)
        z += pert * rng.standard_normal((m, rank), dtype=np.float32)
        e += pert * rng.standard_normal((m, dim), dtype=np.float32)
        fake[a:a + m] = np.maximum(z @ mix + mean + noise * e, 0)
    return real, fake


def mat_reference(real, fake):
    """MAT's evaluatoin/cal_fid_pids_uids.py after feature extraction: FeatureStats
    (float32 features, float64 sums in batches of 64 as metrics/metric_utils.py), the
    sqrtm formula, and the scikit-learn calls."""
    import scipy.linalg
    from sklearn.svm import LinearSVC

    def mean_cov(x):
        raw_mean, raw_cov = np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
        for a in range(0, len(x), 64):
            x64 = x[a:a + 64].astype(np.float64)
            raw_mean += x64.sum(axis=0)
            raw_cov += x64.T @ x64
        mean = raw_mean / len(x)
        return mean, raw_cov / len(x) - np.outer(mean, mean)
    t0, c0 = time.perf_counter(), time.process_time()
    mu1, sigma1 = mean_cov(fake)
    mu2, sigma2 = mean_cov(real)
    s = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    s = s[0] if isinstance(s, tuple) else s
    fid = float(np.real(np.square(mu1 - mu2).sum() + np.trace(sigma1 + sigma2 - s * 2)))
    t1, c1 = time.perf_counter(), time.process_time()
    svm = LinearSVC(dual=False)
    svm_inputs = np.concatenate([real, fake])
    svm_targets = np.array([1] * real.shape[0] + [0] * fake.shape[0])
    svm.fit(svm_inputs, svm_targets)
    uids = 1 - svm.score(svm_inputs, svm_targets)
    pids = np.mean(svm.decision_function(fake) > svm.decision_function(real))
    t2, c2 = time.perf_counter(), time.process_time()
    return dict(fid=fid, pids=float(pids), uids=float(uids), fid_s=(t1 - t0, c1 - c0),
                svm_s=(t2 - t1, c2 - c1), n_iter=int(svm.n_iter_))


def irkit_metrics(real, fake):
    """What ``PIDS(with_fid=True)`` computes from its collected features (FID on a second
    thread while the SVM trains)."""
    from irkit.metrics.fid import pids_uids
    t0, c0 = time.perf_counter(), time.process_time()
    out = pids_uids(real, fake, fid_protocol='mat')
    t1, c1 = time.perf_counter(), time.process_time()
    return dict(fid=out['FID'], pids=out['P-IDS'], uids=out['U-IDS'], fid_s=(0.0, 0.0),
                svm_s=(t1 - t0, c1 - c0))


def _reset_peak_rss():
    with open('/proc/self/clear_refs', 'w') as f:  # Linux: resets VmHWM
        f.write('5')


def _peak_rss_gb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM'):
                return int(line.split()[1]) / 2 ** 20
    return float('nan')


def bench_pids(args):
    t = time.perf_counter()
    real, fake = seeded_inception_like(args.n, args.dim)
    print(f'{args.n} + {args.n} features x {args.dim} (seeded, {time.perf_counter() - t:.0f} s to make), '
          f'{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start, numpy {np.__version__}')
    print('| run | implementation | FID wall / CPU s | SVM (fit, score, decisions) wall / CPU s | '
          'total wall / CPU s | peak RSS GB | FID | P-IDS | U-IDS |')
    print('|---|---|---|---|---|---|---|---|---|')
    rows = {}
    for r in range(args.repeat):
        for name in (('mat', 'irkit') if r % 2 == 0 else ('irkit', 'mat')):
            _reset_peak_rss()
            out = mat_reference(real, fake) if name == 'mat' else irkit_metrics(real, fake)
            peak = _peak_rss_gb()
            rows.setdefault(name, []).append(out)
            if name == 'mat':
                label, fid_t = 'MAT (FeatureStats + sklearn as MAT calls it)', \
                    f"{out['fid_s'][0]:.1f} / {out['fid_s'][1]:.1f}"
                svm_t = f"{out['svm_s'][0]:.1f} / {out['svm_s'][1]:.1f}"
            else:
                label, fid_t, svm_t = 'irkit `pids_uids(fid_protocol=\'mat\')`', 'concurrent', 'concurrent'
            total = (out['fid_s'][0] + out['svm_s'][0], out['fid_s'][1] + out['svm_s'][1])
            print(f"| {r + 1} | {label} | {fid_t} | {svm_t} | {total[0]:.1f} / {total[1]:.1f} | "
                  f"{peak:.2f} | {out['fid']:.9f} | {out['pids']:.6f} | {out['uids']:.6f} |", flush=True)
    m, k = rows['mat'][0], rows['irkit'][0]
    print(f"load {os.getloadavg()[0]:.1f} at the end; liblinear iterations {m['n_iter']}; "
          f"P-IDS/U-IDS equal: {m['pids'] == k['pids'] and m['uids'] == k['uids']}; "
          f"FID |rel diff| {abs(m['fid'] - k['fid']) / abs(m['fid']):.1e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pairs', type=int, default=3)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'none' (skip the torch path)")
    ap.add_argument('--pids', action='store_true', help='benchmark P-IDS/U-IDS + FID instead')
    ap.add_argument('--n', type=int, default=36500, help='--pids: images per set')
    ap.add_argument('--dim', type=int, default=2048, help='--pids: feature size')
    args = ap.parse_args()
    if args.pids:
        return bench_pids(args)
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
