"""MPRNet (Zamir et al., "Multi-Stage Progressive Image Restoration", CVPR 2021,
arXiv:2102.02808).

A faithful re-implementation of the official ``MPRNet`` (swz30/MPRNet,
``{Deblurring,Denoising,Deraining}/MPRNet.py``): same constructor arguments and
defaults (those of the deblurring file), same state_dict keys and shapes, same
outputs for the same weights.  The released checkpoints (``{'state_dict': ...}``)
load with ``strict=True``.

The three released models differ only in their widths:

==========  ======  ===============  =================  ===========
task        n_feat  scale_unetfeats  scale_orsnetfeats  parameters
==========  ======  ===============  =================  ===========
deblurring  96      48               32                 20,127,073
denoising   80      48               32                 15,741,025
deraining   40      20               16                 3,637,249
==========  ======  ===============  =================  ===========

Details that matter for parity:

* One ``nn.PReLU`` (a single parameter) is shared by every CAB, so the
  state_dict lists the same tensor under 55 keys (``parameters()`` counts it once).
* The 1x1 convs of the down/up-sampling modules and the last conv of every ORB are
  always bias-free; every other conv follows ``bias``.
* Resampling is bilinear with ``align_corners=False`` (no antialiasing).
* SAM's image conv always outputs 3 channels.
* ``forward`` returns ``[stage3 + input, stage2, stage1]``: the final image first.
* H and W must be multiples of 8 (the 4-patch split followed by two halvings).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from irkit.fileio.weights import official_format, pick_state, tensor_dict, unwrap
from irkit.registry import ARCHS

__all__ = ['MPRNet']


def conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool = False,
         stride: int = 1) -> nn.Conv2d:
    """'Same' convolution; bias-free unless asked (the official factory's default)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                     bias=bias, stride=stride)


class CALayer(nn.Module):
    """Channel attention: x * sigmoid(conv(relu(conv(avgpool(x)))))."""

    def __init__(self, channel: int, reduction: int = 16, bias: bool = False) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(channel // reduction, channel, 1, bias=bias),
            nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(self.avg_pool(x))


class CAB(nn.Module):
    """Channel attention block: conv -> act -> conv -> CA, plus the input.

    ``act`` is the network-wide shared PReLU instance.
    """

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, bias: bool,
                 act: nn.Module) -> None:
        super().__init__()
        self.CA = CALayer(n_feat, reduction, bias=bias)
        self.body = nn.Sequential(
            conv(n_feat, n_feat, kernel_size, bias=bias), act,
            conv(n_feat, n_feat, kernel_size, bias=bias))

    def forward(self, x: Tensor) -> Tensor:
        return self.CA(self.body(x)) + x


def cab_stack(num: int, n_feat: int, kernel_size: int, reduction: int, bias: bool,
              act: nn.Module) -> nn.Sequential:
    return nn.Sequential(*[CAB(n_feat, kernel_size, reduction, bias, act) for _ in range(num)])


class SAM(nn.Module):
    """Supervised attention module: emits a 3-channel image and gated features."""

    def __init__(self, n_feat: int, kernel_size: int, bias: bool) -> None:
        super().__init__()
        self.conv1 = conv(n_feat, n_feat, kernel_size, bias=bias)
        self.conv2 = conv(n_feat, 3, kernel_size, bias=bias)
        self.conv3 = conv(3, n_feat, kernel_size, bias=bias)

    def forward(self, x: Tensor, x_img: Tensor):
        img = self.conv2(x) + x_img
        feats = self.conv1(x) * torch.sigmoid(self.conv3(img)) + x
        return feats, img


class DownSample(nn.Module):
    """Bilinear x0.5 then a bias-free 1x1 conv ``C -> C + s``."""

    def __init__(self, in_channels: int, s_factor: int) -> None:
        super().__init__()
        self.down = nn.Sequential(
            nn.Upsample(scale_factor=0.5, mode='bilinear', align_corners=False),
            nn.Conv2d(in_channels, in_channels + s_factor, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.down(x)


class UpSample(nn.Module):
    """Bilinear x2 then a bias-free 1x1 conv ``C + s -> C``."""

    def __init__(self, in_channels: int, s_factor: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
            nn.Conv2d(in_channels + s_factor, in_channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.up(x)


class SkipUpSample(UpSample):
    """:class:`UpSample` followed by adding the skip features."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        return self.up(x) + y


class Encoder(nn.Module):
    """3-level CAB encoder; with ``csff`` it fuses the previous stage's features."""

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module,
                 bias: bool, scale_unetfeats: int, csff: bool) -> None:
        super().__init__()
        widths = [n_feat + i * scale_unetfeats for i in range(3)]
        self.encoder_level1 = cab_stack(2, widths[0], kernel_size, reduction, bias, act)
        self.encoder_level2 = cab_stack(2, widths[1], kernel_size, reduction, bias, act)
        self.encoder_level3 = cab_stack(2, widths[2], kernel_size, reduction, bias, act)
        self.down12 = DownSample(widths[0], scale_unetfeats)
        self.down23 = DownSample(widths[1], scale_unetfeats)
        if csff:  # cross-stage feature fusion
            for i, c in enumerate(widths, start=1):
                setattr(self, f'csff_enc{i}', nn.Conv2d(c, c, kernel_size=1, bias=bias))
            for i, c in enumerate(widths, start=1):
                setattr(self, f'csff_dec{i}', nn.Conv2d(c, c, kernel_size=1, bias=bias))

    def forward(self, x: Tensor, encoder_outs: Optional[Sequence[Tensor]] = None,
                decoder_outs: Optional[Sequence[Tensor]] = None) -> List[Tensor]:
        fuse = encoder_outs is not None and decoder_outs is not None
        outs = []
        for i, level in enumerate((self.encoder_level1, self.encoder_level2,
                                   self.encoder_level3)):
            if i == 1:
                x = self.down12(x)
            elif i == 2:
                x = self.down23(x)
            x = level(x)
            if fuse:
                x = (x + getattr(self, f'csff_enc{i + 1}')(encoder_outs[i])
                     + getattr(self, f'csff_dec{i + 1}')(decoder_outs[i]))
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """3-level CAB decoder with CAB-attended skips; returns ``[dec1, dec2, dec3]``."""

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module,
                 bias: bool, scale_unetfeats: int) -> None:
        super().__init__()
        widths = [n_feat + i * scale_unetfeats for i in range(3)]
        self.decoder_level1 = cab_stack(2, widths[0], kernel_size, reduction, bias, act)
        self.decoder_level2 = cab_stack(2, widths[1], kernel_size, reduction, bias, act)
        self.decoder_level3 = cab_stack(2, widths[2], kernel_size, reduction, bias, act)
        self.skip_attn1 = CAB(widths[0], kernel_size, reduction, bias, act)
        self.skip_attn2 = CAB(widths[1], kernel_size, reduction, bias, act)
        self.up21 = SkipUpSample(widths[0], scale_unetfeats)
        self.up32 = SkipUpSample(widths[1], scale_unetfeats)

    def forward(self, outs: Sequence[Tensor]) -> List[Tensor]:
        enc1, enc2, enc3 = outs
        dec3 = self.decoder_level3(enc3)
        dec2 = self.decoder_level2(self.up32(dec3, self.skip_attn2(enc2)))
        dec1 = self.decoder_level1(self.up21(dec2, self.skip_attn1(enc1)))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    """Original-resolution block: ``num_cab`` CABs and a bias-free conv, plus the input."""

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module,
                 bias: bool, num_cab: int) -> None:
        super().__init__()
        body = [CAB(n_feat, kernel_size, reduction, bias, act) for _ in range(num_cab)]
        body.append(conv(n_feat, n_feat, kernel_size))  # bias never forwarded (official)
        self.body = nn.Sequential(*body)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + x


class ORSNet(nn.Module):
    """Stage 3: three ORBs at full resolution fed with stage-2 U-Net features."""

    def __init__(self, n_feat: int, scale_orsnetfeats: int, kernel_size: int, reduction: int,
                 act: nn.Module, bias: bool, scale_unetfeats: int, num_cab: int) -> None:
        super().__init__()
        width = n_feat + scale_orsnetfeats
        self.orb1 = ORB(width, kernel_size, reduction, act, bias, num_cab)
        self.orb2 = ORB(width, kernel_size, reduction, act, bias, num_cab)
        self.orb3 = ORB(width, kernel_size, reduction, act, bias, num_cab)
        self.up_enc1 = UpSample(n_feat, scale_unetfeats)
        self.up_dec1 = UpSample(n_feat, scale_unetfeats)
        self.up_enc2 = nn.Sequential(UpSample(n_feat + scale_unetfeats, scale_unetfeats),
                                     UpSample(n_feat, scale_unetfeats))
        self.up_dec2 = nn.Sequential(UpSample(n_feat + scale_unetfeats, scale_unetfeats),
                                     UpSample(n_feat, scale_unetfeats))
        for i in (1, 2, 3):
            setattr(self, f'conv_enc{i}', nn.Conv2d(n_feat, width, kernel_size=1, bias=bias))
        for i in (1, 2, 3):
            setattr(self, f'conv_dec{i}', nn.Conv2d(n_feat, width, kernel_size=1, bias=bias))

    def forward(self, x: Tensor, encoder_outs: Sequence[Tensor],
                decoder_outs: Sequence[Tensor]) -> Tensor:
        x = self.orb1(x)
        x = x + self.conv_enc1(encoder_outs[0]) + self.conv_dec1(decoder_outs[0])
        x = self.orb2(x)
        x = (x + self.conv_enc2(self.up_enc1(encoder_outs[1]))
             + self.conv_dec2(self.up_dec1(decoder_outs[1])))
        x = self.orb3(x)
        x = (x + self.conv_enc3(self.up_enc2(encoder_outs[2]))
             + self.conv_dec3(self.up_dec2(decoder_outs[2])))
        return x


@ARCHS.register_module()
class MPRNet(nn.Module):
    """MPRNet: two multi-patch U-Net stages and an original-resolution stage.

    Args:
        in_c: input channels.
        out_c: output channels of the final stage (the stage-1/2 images have 3).
        n_feat: base width of the U-Nets.
        scale_unetfeats: width added per U-Net level.
        scale_orsnetfeats: width added in ORSNet.
        num_cab: CABs per ORB.
        kernel_size: conv kernel size.
        reduction: channel-attention reduction (floor division).
        bias: biases in the convs that honour it.

    ``forward`` returns ``[final, stage2, stage1]`` images (B x 3 x H x W each).
    """

    def __init__(self, in_c: int = 3, out_c: int = 3, n_feat: int = 96,
                 scale_unetfeats: int = 48, scale_orsnetfeats: int = 32, num_cab: int = 8,
                 kernel_size: int = 3, reduction: int = 4, bias: bool = False) -> None:
        super().__init__()
        if n_feat // reduction < 1:
            raise ValueError(f'MPRNet: n_feat // reduction must be >= 1, got {n_feat} // '
                             f'{reduction}')
        act = nn.PReLU()  # one parameter shared by every CAB (55 state_dict keys)
        common = dict(kernel_size=kernel_size, reduction=reduction, bias=bias, act=act)
        self.shallow_feat1 = nn.Sequential(conv(in_c, n_feat, kernel_size, bias=bias),
                                           CAB(n_feat, **common))
        self.shallow_feat2 = nn.Sequential(conv(in_c, n_feat, kernel_size, bias=bias),
                                           CAB(n_feat, **common))
        self.shallow_feat3 = nn.Sequential(conv(in_c, n_feat, kernel_size, bias=bias),
                                           CAB(n_feat, **common))
        unet = dict(kernel_size=kernel_size, reduction=reduction, act=act, bias=bias,
                    scale_unetfeats=scale_unetfeats)
        self.stage1_encoder = Encoder(n_feat, csff=False, **unet)
        self.stage1_decoder = Decoder(n_feat, **unet)
        self.stage2_encoder = Encoder(n_feat, csff=True, **unet)
        self.stage2_decoder = Decoder(n_feat, **unet)
        self.stage3_orsnet = ORSNet(n_feat, scale_orsnetfeats, num_cab=num_cab, **unet)
        self.sam12 = SAM(n_feat, kernel_size=1, bias=bias)
        self.sam23 = SAM(n_feat, kernel_size=1, bias=bias)
        self.concat12 = conv(n_feat * 2, n_feat, kernel_size, bias=bias)
        self.concat23 = conv(n_feat * 2, n_feat + scale_orsnetfeats, kernel_size, bias=bias)
        self.tail = conv(n_feat + scale_orsnetfeats, out_c, kernel_size, bias=bias)

    def forward(self, x3_img: Tensor) -> List[Tensor]:
        """Restore ``x3_img``; returns ``[stage3 + x3_img, stage2_img, stage1_img]``."""
        h, w = x3_img.shape[-2:]
        if h % 8 or w % 8:
            raise ValueError(
                f'MPRNet needs H and W divisible by 8, got {h}x{w}; pad the input (reflect, '
                'right/bottom) and crop the outputs, e.g. with Restorer(pad_multiple=8)')
        hh, hw = h // 2, w // 2
        # Stage 2 works on the top/bottom halves, stage 1 on their left/right quarters.
        halves = (x3_img[:, :, :hh], x3_img[:, :, hh:])

        # ---- stage 1: 4 patches through one encoder; decoder per half ----
        feat1, res1, sam1_feats, stage1_imgs = [], [], [], []
        for half in halves:
            feats_l = self.stage1_encoder(self.shallow_feat1(half[..., :hw]))
            feats_r = self.stage1_encoder(self.shallow_feat1(half[..., hw:]))
            feats = [torch.cat([a, b], dim=3) for a, b in zip(feats_l, feats_r)]
            res = self.stage1_decoder(feats)
            sam_feats, img = self.sam12(res[0], half)
            feat1.append(feats)
            res1.append(res)
            sam1_feats.append(sam_feats)
            stage1_imgs.append(img)
        stage1_img = torch.cat(stage1_imgs, dim=2)

        # ---- stage 2: 2 halves with cross-stage feature fusion ----
        feat2_halves = []
        for half, sam_feats, feats, res in zip(halves, sam1_feats, feat1, res1):
            x = self.concat12(torch.cat([self.shallow_feat2(half), sam_feats], dim=1))
            feat2_halves.append(self.stage2_encoder(x, feats, res))
        feat2 = [torch.cat([a, b], dim=2) for a, b in zip(*feat2_halves)]
        res2 = self.stage2_decoder(feat2)
        sam2_feats, stage2_img = self.sam23(res2[0], x3_img)

        # ---- stage 3: original resolution ----
        x = self.concat23(torch.cat([self.shallow_feat3(x3_img), sam2_feats], dim=1))
        x = self.stage3_orsnet(x, feat2, res2)
        return [self.tail(x) + x3_img, stage2_img, stage1_img]


@official_format('mprnet', description="MPRNet release model_{deblurring,denoising,deraining}.pth: "
                 "['state_dict'] ('module.' stripped; the shared-PReLU duplicates are kept)", direct=True)
def mprnet_parts(ckpt, path: str) -> dict:
    return {'generator': unwrap(tensor_dict(pick_state(ckpt, ('state_dict',), path, 'mprnet'), path,
                                            "['state_dict']"))}
