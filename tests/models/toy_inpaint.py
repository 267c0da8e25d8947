"""Tiny generator/discriminator pair for testing the inpainting model (registered as test archs)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from irkit.registry import ARCHS


@ARCHS.register_module(force=True)
class ToyInpaintG(nn.Module):
    """Two 'stages': stage1 = tanh(conv(x)), pred = tanh(conv(cat(stage1, x)))."""
    inpaint_io = dict(value_range=(-1.0, 1.0), mask='hole', hole_fill=0.0, inputs='concat',
                      outputs=('stage1', 'pred'), pad_multiple=4, pad_mode='reflect')

    def __init__(self, in_channels: int = 4, width: int = 4, freeze_first: bool = False) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 3, 3, padding=1)
        self.c2 = nn.Sequential(nn.Conv2d(3 + in_channels, width, 3, padding=1), nn.ReLU(),
                                nn.Conv2d(width, 3, 3, padding=1))
        if freeze_first:  # as an arch that freezes part of itself (PConv's frozen encoder BN)
            self.c1.weight.requires_grad_(False)

    def forward(self, x):
        s1 = torch.tanh(self.c1(x))
        return s1, torch.tanh(self.c2(torch.cat([s1, x], 1)))


@ARCHS.register_module(force=True)
class ToyPatchD(nn.Module):
    """Patch critic returning (logits, [features])."""
    disc_io = dict(inputs='image', returns='logits_features')

    def __init__(self, in_channels: int = 3, width: int = 4) -> None:
        super().__init__()
        self.f = nn.Conv2d(in_channels, width, 3, stride=2, padding=1)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, x):
        f = F.leaky_relu(self.f(x), 0.2)
        return self.out(f), [f]


@ARCHS.register_module(force=True)
class RecordingG(nn.Module):
    """Records what it is called with; returns its image input's first 3 channels unchanged."""
    inpaint_io = dict(value_range=(0.0, 1.0), mask='hole', hole_fill=0.0, inputs='concat')

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.calls = []

    def forward(self, *args):
        self.calls.append([a.clone() if isinstance(a, torch.Tensor) else [t.clone() for t in a] for a in args])
        return args[0][:, :3] + self.w
