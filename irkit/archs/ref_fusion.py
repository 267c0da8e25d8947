"""Reference-guided restoration networks of TDR (MASA-SR style matching + fusion).

Paper: Lin et al., "Improving Image Restoration through Removing Degradations in
Textual Representations", CVPR 2024 (arXiv 2312.17334); official code
https://github.com/mrluin/TextualDegRemoval (MIT). The matching follows MASA-SR
(Lu et al., CVPR 2021); the NAFNet backbone is Chen et al., ECCV 2022.

A restoration backbone receives, before each encoder level and before its middle
blocks, the guidance ("reference") features warped onto the input:

1. one residual-conv encoder (``masa_enc``) extracts an ``nf * 2^k`` pyramid from
   both the input and the reference;
2. at the deepest level the (replicate-padded) input features are cut into
   ``lr_block_size`` blocks; each block centre is matched against the reference
   with summed cosine correlations of dilated 3x3 patches (``dilations``), and a
   window of (diameter + 2)^2 reference positions around the best match is kept
   (``ref_down_block_size`` scales the window);
3. inside the window every 3x3 input patch finds its best reference patch (top-1,
   cosine), whose features are transferred with fold/unfold at every scale,
   weighted by the correlation (soft attention);
4. fusion blocks see ``concat(x, warped_ref)`` and only the first C channels are
   kept.

Inputs are zero-padded to a multiple of ``padder_size * lr_block_size`` and the
output is cropped back.

Deviations from the release (bug fixes only; every configuration the release can
run gives the same output for the same weights):

* ``NAFNetRefFusion`` reads the middle fusion depth from
  ``reffusion_n_blocks[len(enc_blk_nums)]``; the released config gives four
  entries, which raises IndexError at construction. When that entry is absent the
  otherwise unused ``reffusion_n_blocks_middle`` is used instead.
* The batch index of the finest warped level used ``diameter_y`` for both axes,
  which fails whenever the reference and the input differ in aspect (e.g. a 512x512
  guidance with a 1280x720 GoPro frame); it uses ``diameter_x`` for the x axis.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from irkit.registry import ARCHS

# ---------------------------------------------------------------------------
# NAFNet blocks (Chen et al. 2022), kept local to this module
# ---------------------------------------------------------------------------


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (NAFNet's, eps 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


class NAFBlock(nn.Module):
    """NAFNet block: LN -> 1x1 -> dw3x3 -> gate -> SCA -> 1x1 (+beta), LN -> FFN (+gamma)."""

    def __init__(self, c: int, DW_Expand: int = 2, FFN_Expand: int = 2,  # noqa: N803
                 drop_out_rate: float = 0.) -> None:
        super().__init__()
        dw = c * DW_Expand
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        ffn = FFN_Expand * c
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.dropout1 = nn.Dropout(drop_out_rate) if drop_out_rate > 0. else nn.Identity()
        self.dropout2 = nn.Dropout(drop_out_rate) if drop_out_rate > 0. else nn.Identity()
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(self.norm1(inp)))
        x = self.sg(x)
        x = self.conv3(x * self.sca(x))
        y = inp + self.dropout1(x) * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + self.dropout2(x) * self.gamma


class NAFResFuseBlock(NAFBlock):
    """Fusion block of NAFNetRefFusion: a NAFBlock applied to ``concat(x, ref)``."""


# ---------------------------------------------------------------------------
# MASA-SR multi-scale encoder and matching
# ---------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    """conv -> ReLU -> conv, plus identity."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.conv1(x))) + x


class MASAEncoder(nn.Module):
    """Residual conv pyramid: level 1 at full size, each further level halves the size.

    Level ``k`` (1-based) has ``nf * 2^(k-1)`` channels and ``n_blks[min(k-1, 2)]``
    residual blocks (the release reuses the third count for levels 4 and 5).
    State-dict keys: ``conv_L{k}``, ``blk_L{k}.{i}.conv{1,2}``.
    """

    def __init__(self, in_chl: int, nf: int, n_blks: Sequence[int], num_levels: int = 5) -> None:
        super().__init__()
        if len(n_blks) < 3:
            raise ValueError(f'ext_n_blocks needs at least 3 entries, got {list(n_blks)}')
        self.num_levels = num_levels
        ch_in = in_chl
        for k in range(1, num_levels + 1):
            ch = nf * 2 ** (k - 1)
            stride = 1 if k == 1 else 2
            setattr(self, f'conv_L{k}', nn.Conv2d(ch_in, ch, 3, stride, 1))
            setattr(self, f'blk_L{k}',
                    nn.Sequential(*[ResidualBlock(ch) for _ in range(n_blks[min(k - 1, 2)])]))
            ch_in = ch
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = []
        for k in range(1, self.num_levels + 1):
            x = getattr(self, f'blk_L{k}')(self.act(getattr(self, f'conv_L{k}')(x)))
            feats.append(x)
        return feats


def _batch_index_select(inp: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``inp`` (N, D, L), ``index`` (N, ...) -> (N, D, prod(...)) gathered along L."""
    index = index.reshape(index.size(0), 1, -1).expand(-1, inp.size(1), -1)
    return torch.gather(inp, 2, index)


def _search_block_centres(lr: torch.Tensor, reflr: torch.Tensor, dilations: Sequence[int],
                          num_nbr: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Match the centre of every LR block against all Ref positions.

    lr: (N, P, C, ky, kx) padded LR blocks; reflr: (N, C, Hr, Wr).
    Returns top-``num_nbr`` summed cosine correlations and indices, (N, P, num_nbr).
    """
    n, c = reflr.shape[:2]
    ky, kx = lr.shape[-2:]
    cy, cx = ky // 2, kx // 2
    corr_sum = 0
    for d in dilations:
        ref_p = F.unfold(reflr, kernel_size=3, padding=d, dilation=d)  # (N, C*9, Hr*Wr)
        lr_p = lr[:, :, :, cy - d:cy + d + 1:d, cx - d:cx + d + 1:d].reshape(n, -1, c * 9)
        corr_sum = corr_sum + torch.bmm(F.normalize(lr_p, dim=2), F.normalize(ref_p, dim=1))
    return torch.topk(corr_sum, num_nbr, dim=-1, largest=True, sorted=True)


def _search_patches(lr: torch.Tensor, reflr: torch.Tensor, ks: int,
                    num_nbr: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Dense ``ks`` x ``ks`` patch matching of ``lr`` (N, C, H, W) inside ``reflr``."""
    n, _, h, w = lr.shape
    hr, wr = reflr.shape[-2:]
    ref_u = F.normalize(F.unfold(reflr, kernel_size=ks), dim=1)
    lr_u = F.normalize(F.unfold(lr, kernel_size=ks).permute(0, 2, 1), dim=2)
    corr = torch.bmm(lr_u, ref_u).view(n, h - ks + 1, w - ks + 1, (hr - ks + 1) * (wr - ks + 1))
    return torch.topk(corr, num_nbr, dim=-1, largest=True, sorted=True)


def _transfer(fea: torch.Tensor, index: torch.Tensor, soft_att: torch.Tensor, ks: int, pd: int,
              stride: int) -> torch.Tensor:
    """Move the matched (ks x ks, stride) patches of ``fea`` to the LR grid and fold."""
    _, hi, wi = index.shape
    out_size = (hi * stride, wi * stride)
    out_unfold = _batch_index_select(F.unfold(fea, kernel_size=ks, stride=stride), index)
    out = F.fold(out_unfold, output_size=out_size, kernel_size=ks, padding=pd, stride=stride)
    divisor = F.fold(torch.ones_like(out_unfold), output_size=out_size, kernel_size=ks, padding=pd,
                     stride=stride)
    att = F.interpolate(soft_att, size=out_size, mode='bilinear', align_corners=False)
    return out / divisor * att


def _window_grid(y1: torch.Tensor, x1: torch.Tensor, dy: int, dx: int,
                 s: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Flattened (row-major per window) y/x indices of (dy*s, dx*s) windows at scale s."""
    ar_y = torch.arange(dy * s, device=y1.device)
    ar_x = torch.arange(dx * s, device=x1.device)
    ys = (y1.reshape(-1, 1, 1) * s + ar_y.view(1, -1, 1)).expand(-1, dy * s, dx * s)
    xs = (x1.reshape(-1, 1, 1) * s + ar_x.view(1, 1, -1)).expand(-1, dy * s, dx * s)
    return ys.reshape(-1), xs.reshape(-1)


def masa_warp(feat_lq: Sequence[torch.Tensor], feat_ref: Sequence[torch.Tensor], px: int, py: int,
              diameter_x: int, diameter_y: int, psize: int, dilations: Sequence[int],
              num_nbr: int) -> List[torch.Tensor]:
    """Warp the reference pyramid onto the LR pyramid (finest level first).

    ``feat_lq`` / ``feat_ref``: feature pyramids, finest first, each level halving
    the size and doubling the channels. ``px``/``py``: number of LR blocks along
    x/y at the deepest level. Returns warped reference features with the shapes of
    ``feat_lq``.
    """
    deep_lq, deep_ref = feat_lq[-1], feat_ref[-1]
    n, c, h, w = deep_lq.shape
    hr, wr = deep_ref.shape[-2:]
    k_y, k_x = h // py, w // px
    dy, dx = diameter_y + 2, diameter_x + 2

    lr_blocks = F.pad(deep_lq, (1, 1, 1, 1), mode='replicate')
    lr_blocks = F.unfold(lr_blocks, kernel_size=(k_y + 2, k_x + 2), stride=(k_y, k_x))
    lr_blocks = lr_blocks.view(n, c, k_y + 2, k_x + 2, py * px).permute(0, 4, 1, 2, 3)

    _, ind = _search_block_centres(lr_blocks, deep_ref, dilations, num_nbr)
    index = ind[:, :, 0]
    idx_x, idx_y = index % wr, index // wr
    # window [x1, x1 + dx) around the match, shifted to stay inside the reference
    x1 = idx_x - diameter_x // 2 - 1
    x2 = idx_x + diameter_x // 2 + 1
    y1 = idx_y - diameter_y // 2 - 1
    y2 = idx_y + diameter_y // 2 + 1
    m = (x1 < 0).long()
    x1, x2 = x1 * (1 - m), x2 * (1 - m) + (diameter_x + 1) * m
    m = (x2 > wr - 1).long()
    x2 = x2 * (1 - m) + (wr - 1) * m
    x1 = x1 * (1 - m) + (x2 - (diameter_x + 1)) * m
    m = (y1 < 0).long()
    y1, y2 = y1 * (1 - m), y2 * (1 - m) + (diameter_y + 1) * m
    m = (y2 > hr - 1).long()
    y2 = y2 * (1 - m) + (hr - 1) * m
    y1 = y1 * (1 - m) + (y2 - (diameter_y + 1)) * m
    # (when the reference is smaller than the window, x1/y1 go negative and the
    # indices wrap around, as in the release)

    num_levels = len(feat_lq)
    nb = n * py * px
    windows = []
    for lvl in range(num_levels):
        s = 2 ** (num_levels - 1 - lvl)
        ys, xs = _window_grid(y1, x1, dy, dx, s)
        bs = torch.repeat_interleave(torch.arange(n, device=ys.device), py * px * dy * s * dx * s)
        ref_lvl = feat_ref[lvl]
        win = ref_lvl[bs, :, ys, xs].view(nb, dy * s, dx * s, ref_lvl.size(1))
        windows.append(win.permute(0, 3, 1, 2).contiguous())

    corr, idx = _search_patches(lr_blocks.reshape(nb, c, k_y + 2, k_x + 2), windows[-1], psize,
                                num_nbr)
    index_all = idx[:, :, :, 0]
    soft_att = corr[:, :, :, 0:1].permute(0, 3, 1, 2)

    warped = []
    for lvl in range(num_levels):
        s = 2 ** (num_levels - 1 - lvl)
        out = _transfer(windows[lvl], index_all, soft_att, ks=psize * s, pd=psize // 2 * s, stride=s)
        cl = out.size(1)
        out = out.view(n, py, px, cl, k_y * s, k_x * s).permute(0, 3, 1, 4, 2, 5)
        warped.append(out.reshape(n, cl, h * s, w * s))
    return warped


class _RefMatchMixin:
    """Block geometry, padding and the matching call shared by the RefFusion nets."""

    padder_size: int
    lr_block_size: int
    ref_down_block_size: float
    dilations: Sequence[int]
    psize: int
    num_nbr: int

    def _set_match_args(self, name: str, scale: int, num_nbr: int, psize: int, lr_block_size: int,
                        ref_down_block_size: float, dilations: Sequence[int]) -> None:
        """Store and check the matching arguments every RefFusion net takes."""
        if scale != 1:
            raise ValueError(f'{name} restores at the input size: scale must be 1, got {scale}')
        self.scale = scale
        self.num_nbr = num_nbr
        self.psize = psize
        self.lr_block_size = lr_block_size
        self.ref_down_block_size = ref_down_block_size
        self.dilations = list(dilations)
        self._check_match_args()

    def _check_match_args(self) -> None:
        if self.psize != 3:
            raise ValueError(f'psize must be 3 (the block windows add one position per side), '
                             f'got {self.psize}')
        k, d = self.lr_block_size, max(self.dilations)
        c = (k + 2) // 2  # centre of the replicate-padded block
        if c - d < 0 or c + d + 1 > k + 2:
            raise ValueError(f'lr_block_size={k} is too small for dilations {list(self.dilations)}: '
                             'the dilated 3x3 patch around the block centre leaves the block')

    def check_image_size(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad bottom/right to a multiple of ``padder_size * lr_block_size``."""
        _, _, h, w = x.size()
        m = self.padder_size * self.lr_block_size
        return F.pad(x, (0, (m - w % m) % m, 0, (m - h % m) % m))

    def _block_geometry(self, inp: torch.Tensor, ref: torch.Tensor) -> Tuple[int, int, int, int]:
        _, _, h, w = inp.shape
        px = w // self.padder_size // self.lr_block_size
        py = h // self.padder_size // self.lr_block_size
        _, _, hr, wr = ref.shape
        diameter_x = 2 * int(wr // self.padder_size // (2 * px) * self.ref_down_block_size) + 1
        diameter_y = 2 * int(hr // self.padder_size // (2 * py) * self.ref_down_block_size) + 1
        return px, py, diameter_x, diameter_y

    def _warp(self, inp: torch.Tensor, ref: torch.Tensor) -> List[torch.Tensor]:
        px, py, dx, dy = self._block_geometry(inp, ref)
        feat_lq = self.masa_enc(inp)
        feat_ref = self.masa_enc(ref)
        return masa_warp(feat_lq, feat_ref, px, py, dx, dy, self.psize, self.dilations, self.num_nbr)

    @staticmethod
    def _check_inputs(inp: torch.Tensor, ref: torch.Tensor) -> None:
        if inp.dim() != 4 or ref.dim() != 4:
            raise ValueError(f'expected NCHW input and reference, got {tuple(inp.shape)} and '
                             f'{tuple(ref.shape)}')
        if inp.shape[:2] != ref.shape[:2]:
            raise ValueError(f'input {tuple(inp.shape)} and reference {tuple(ref.shape)} must '
                             'agree in batch size and channels')


# ---------------------------------------------------------------------------
# NAFNet + reference fusion
# ---------------------------------------------------------------------------


@ARCHS.register_module()
class NAFNetRefFusion(_RefMatchMixin, nn.Module):
    """NAFNet with TDR reference fusion (GoPro deblurring in the paper).

    ``forward(inp, ref)``: ``inp`` the degraded image, ``ref`` the guidance image
    (any size; the same size as ``inp`` or the 512x512 SD render).

    Args (official names): NAFNet's ``img_channel, width, middle_blk_num,
    enc_blk_nums, dec_blk_nums`` (four encoder levels: the matching pyramid has
    five levels), and the fusion arguments ``nf`` (must equal ``width``),
    ``ext_n_blocks``, ``reffusion_n_blocks`` (per encoder level; an optional fifth
    entry sets the middle depth as in the release), ``reffusion_n_blocks_middle``
    (middle depth when ``reffusion_n_blocks`` has no fifth entry), ``scale``
    (kept for config compatibility, must be 1), ``num_nbr``, ``psize``,
    ``lr_block_size``, ``ref_down_block_size``, ``dilations``.
    """

    def __init__(self, img_channel: int = 3, width: int = 16, middle_blk_num: int = 1,
                 enc_blk_nums: Sequence[int] = (1, 1, 1, 28), dec_blk_nums: Sequence[int] = (1, 1, 1, 1),
                 nf: int = 64, ext_n_blocks: Sequence[int] = (4, 4, 4, 4),
                 reffusion_n_blocks: Sequence[int] = (1, 1, 1, 1), reffusion_n_blocks_middle: int = 1,
                 scale: int = 1, num_nbr: int = 1, psize: int = 3, lr_block_size: int = 8,
                 ref_down_block_size: float = 1.5, dilations: Sequence[int] = (1, 2, 3)) -> None:
        super().__init__()
        enc_blk_nums, dec_blk_nums = list(enc_blk_nums), list(dec_blk_nums)
        reffusion_n_blocks = list(reffusion_n_blocks)
        if len(enc_blk_nums) != 4 or len(dec_blk_nums) != 4:
            raise ValueError('NAFNetRefFusion needs 4 encoder and 4 decoder levels (the matching '
                             f'pyramid has 5), got enc_blk_nums={enc_blk_nums}, '
                             f'dec_blk_nums={dec_blk_nums}')
        if nf != width:
            raise ValueError(f'NAFNetRefFusion fuses reference features of nf={nf} channels into '
                             f'width={width} channels: set nf equal to width')
        if len(reffusion_n_blocks) < len(enc_blk_nums):
            raise ValueError(f'reffusion_n_blocks needs one entry per encoder level '
                             f'({len(enc_blk_nums)}), got {reffusion_n_blocks}')
        self._set_match_args('NAFNetRefFusion', scale, num_nbr, psize, lr_block_size,
                             ref_down_block_size, dilations)

        self.masa_enc = MASAEncoder(img_channel, nf, list(ext_n_blocks), num_levels=5)
        self.masa_blk_enc = nn.ModuleList()
        self.masa_blk_middle = nn.ModuleList()
        self.masa_blk_dec = nn.ModuleList()

        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()

        chan = width
        for index, num in enumerate(enc_blk_nums):
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            self.masa_blk_enc.append(
                nn.Sequential(*[NAFResFuseBlock(chan * 2) for _ in range(reffusion_n_blocks[index])]))
            chan *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blk_num)])
        n_mid = (reffusion_n_blocks[len(enc_blk_nums)] if len(reffusion_n_blocks) > len(enc_blk_nums)
                 else reffusion_n_blocks_middle)
        self.masa_blk_middle.append(nn.Sequential(*[NAFResFuseBlock(chan * 2) for _ in range(n_mid)]))
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
        self.padder_size = 2 ** len(self.encoders)

    def forward(self, inp: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        self._check_inputs(inp, ref)
        _, _, ori_h, ori_w = inp.shape
        inp = self.check_image_size(inp)
        ref = self.check_image_size(ref)
        warp_ref = self._warp(inp, ref)  # finest first, 5 levels

        x = self.intro(inp)
        chan = x.shape[1]
        encs = []
        for i, (encoder, down, fuse) in enumerate(zip(self.encoders, self.downs, self.masa_blk_enc)):
            x = fuse(torch.cat([x, warp_ref[i]], dim=1))[:, :chan]
            x = encoder(x)
            encs.append(x)
            x = down(x)
            chan *= 2
        x = self.masa_blk_middle[0](torch.cat([x, warp_ref[-1]], dim=1))[:, :chan]
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, encs[::-1]):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[:, :, :ori_h, :ori_w]

    def ref_parameters(self):
        """The ``masa*`` parameters (the release trains them with ``ref_lr``)."""
        return [p for n, p in self.named_parameters() if 'masa' in n]
