"""Parameters, MACs and latency of a config's network at a given input size.

``python tools/complexity.py CONFIG --shape 256 256 [--runs 10] [--device cpu]``

The network is called the way its model calls it at inference:

- restoration models: ``generator(x)`` on a ``1 x C x H x W`` image;
- inpainting models (``GANInpaintor`` and its subclasses such as MAT's): the model's own
  ``generate_eval(generator, image, mask)`` on an image in the network's range and a
  mask with a centred square hole (a quarter of the area), so a generator gets what its
  ``inpaint_io`` declares (``G(cat([img, mask]))``, ``G(img, mask)``, ``G(img, mask, [z])``)
  and MAT its real signature ``G(images_in, masks_in, z, c)``; fixed-resolution networks
  (``inpaint_io.resize_to``) are measured at that size;
- any other generator that declares ``inpaint_io``: through :class:`irkit.models.inpaint_io.InpaintIO`.

MACs are counted by mmengine's ``FlopAnalyzer`` (fvcore-style: one fused multiply-add = 1)
over one traced forward; progress is printed as each stage starts.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def say(msg: str) -> None:
    print(msg, flush=True)


def hole_mask(h: int, w: int, device: str):
    """``1 x 1 x H x W``, 1 = known, with a centred hole of half the height and width."""
    import torch
    known = torch.ones(1, 1, h, w, device=device)
    known[..., h // 4:h // 4 + h // 2, w // 4:w // 4 + w // 2] = 0
    return known


def make_call(model, net, channels: int, shape, device: str):
    """``(module, inputs, description)``: ``module(*inputs)`` runs the network once as the model
    does at inference."""
    import torch
    import torch.nn as nn

    class Call(nn.Module):
        def __init__(self, fn, owner: nn.Module) -> None:
            super().__init__()
            self.owner = owner  # its parameters/buffers move and count with this module
            self.fn = fn

        def forward(self, *inputs):
            return self.fn(*inputs)

    h, w = shape
    if hasattr(model, 'generate_eval') and hasattr(model, 'io'):
        io = model.io
        if io.resize_to and (h, w) != (io.resize_to, io.resize_to):
            say(f'note: {type(net).__name__} runs at its fixed {io.resize_to}x{io.resize_to} '
                f'(inpaint_io.resize_to); --shape {h} {w} is resized to that at inference')
            h = w = io.resize_to
        img = io.to_net(torch.rand(1, 3, h, w, device=device))
        known = hole_mask(h, w, device)
        return (Call(lambda i, k: model.generate_eval(net, i, k), net), (img, known),
                f'image 1x3x{h}x{w} + mask 1x1x{h}x{w} (centred hole, 25% of the area), '
                f'as {type(model).__name__}.generate_eval calls it')
    if getattr(net, 'inpaint_io', None) is not None:
        from irkit.models.inpaint_io import InpaintIO
        io = InpaintIO.of(net)
        img = io.to_net(torch.rand(1, 3, h, w, device=device))
        known = hole_mask(h, w, device)
        return (Call(lambda i, k: io.call(net, i, k)['pred'], net), (img, known),
                f"image 1x3x{h}x{w} + mask (inpaint_io inputs='{io.inputs}')")
    x = torch.rand(1, channels, h, w, device=device)
    return net, (x,), f'1x{channels}x{h}x{w}'


def main(argv=None):
    p = argparse.ArgumentParser(description='Model complexity of an irkit config')
    p.add_argument('config')
    p.add_argument('--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'))
    p.add_argument('--channels', type=int, default=3, help='input channels of a restoration network')
    p.add_argument('--runs', type=int, default=5, help='timed forward passes (after one warm-up)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=__import__('irkit.utils.config', fromlist=['x']).DictAction)
    args = p.parse_args(argv)

    import torch
    from mmengine.analysis import FlopAnalyzer

    from irkit.apis import init_model

    say(f'building the model of {args.config} ...')
    t = time.perf_counter()
    model = init_model(args.config, None, device=args.device, cfg_options=args.cfg_options)
    net = getattr(model, 'generator', model)
    module, inputs, described = make_call(model, net, args.channels, args.shape, args.device)
    params = sum(p.numel() for p in net.parameters())
    say(f'  built {type(net).__name__} ({params / 1e6:.3f} M parameters) in {time.perf_counter() - t:.1f} s')

    def sync():
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()

    with torch.no_grad():
        say('counting MACs (one traced forward) ...')
        t = time.perf_counter()
        analyzer = FlopAnalyzer(module, inputs)
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        macs = analyzer.total()
        say(f'  done in {time.perf_counter() - t:.1f} s')
        say('warm-up forward ...')
        module(*inputs)
        sync()
        times = []
        for i in range(args.runs):
            t = time.perf_counter()
            module(*inputs)
            sync()
            times.append(time.perf_counter() - t)
            say(f'  timed forward {i + 1}/{args.runs}: {times[-1] * 1000:.1f} ms')
        latency = sum(times) / max(1, len(times))
    say(f'config:     {args.config}')
    say(f'network:    {type(net).__name__}')
    say(f'input:      {described} on {args.device}')
    say(f'parameters: {params:,} ({params / 1e6:.3f} M)')
    say(f'MACs:       {macs / 1e9:.3f} G')
    say(f'latency:    {latency * 1000:.1f} ms/forward (mean of {args.runs})')
    return dict(params=params, macs=macs, latency=latency)


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
