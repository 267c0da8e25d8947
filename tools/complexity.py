"""Parameters, MACs and latency of a config's network at a given input size.

``python tools/complexity.py CONFIG --shape 256 256 [--runs 10] [--device cpu]``
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description='Model complexity of an irkit config')
    p.add_argument('config')
    p.add_argument('--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'))
    p.add_argument('--channels', type=int, default=3)
    p.add_argument('--runs', type=int, default=5, help='timed forward passes (after one warm-up)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=__import__('irkit.utils.config', fromlist=['x']).DictAction)
    args = p.parse_args(argv)

    import torch
    from mmengine.analysis import FlopAnalyzer

    from irkit.apis import init_model

    model = init_model(args.config, None, device=args.device, cfg_options=args.cfg_options)
    net = getattr(model, 'generator', model)
    x = torch.rand(1, args.channels, *args.shape, device=args.device)
    params = sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        analyzer = FlopAnalyzer(net, (x,))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        macs = analyzer.total()  # fvcore-style counting: one fused multiply-add = 1
        net(x)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.runs):
            net(x)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        latency = (time.perf_counter() - t0) / max(1, args.runs)
    print(f'config:     {args.config}')
    print(f'network:    {type(net).__name__}')
    print(f'input:      1x{args.channels}x{args.shape[0]}x{args.shape[1]} on {args.device}')
    print(f'parameters: {params:,} ({params / 1e6:.3f} M)')
    print(f'MACs:       {macs / 1e9:.3f} G')
    print(f'latency:    {latency * 1000:.1f} ms/forward (mean of {args.runs})')
    return dict(params=params, macs=macs, latency=latency)


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
