"""LaMa's ResNetPL and the ADE20k ResNet50-dilated encoder: structure, formula, weights file, BN mode."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.archs.common.resnet_dilated import ADE20K_ENCODER_FILE, ADE20K_ENCODER_URL, Bottleneck, ResnetDilated
from irkit.losses import ResNetPL
from irkit.registry import LOSSES
from irkit.fileio.weights import MissingWeightsError


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith('running_mean') or name.endswith('bias'):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif t.dtype.is_floating_point and t.ndim == 1:
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=g))
            elif t.dtype.is_floating_point:
                t.copy_(torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5)


def test_encoder_stages_strides_and_dilations():
    enc = ResnetDilated().eval()
    with torch.no_grad():
        feats = enc(torch.rand(1, 3, 64, 96))
    # output stride 4 after layer1, then 8 for layers 2-4 (layer3/4 strides replaced by dilation)
    assert [tuple(f.shape[1:]) for f in feats] == [(256, 16, 24), (512, 8, 12), (1024, 8, 12), (2048, 8, 12)]
    dil = {name: m.dilation[0] for name, m in enc.named_modules()
           if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)}
    assert dil['layer3.0.conv2'] == 1 and dil['layer3.1.conv2'] == 2 and dil['layer3.5.conv2'] == 2
    assert dil['layer4.0.conv2'] == 2 and dil['layer4.1.conv2'] == 4
    assert enc.layer3[0].downsample[0].stride == (1, 1) and enc.layer2[0].conv2.stride == (2, 2)
    assert sum(p.numel() for p in enc.parameters()) == 23_631_808   # CSAILVision's resnet50dilated encoder


def test_dilated_bottleneck_by_hand():
    blk = Bottleneck(256, 64, stride=1, dilation=4).double().eval()   # a layer4-style block, 1/8 width
    _randomise(blk, 1)
    x = torch.randn(1, 256, 6, 7, dtype=torch.float64)

    def bn(y, m):
        return F.batch_norm(y, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    y = F.relu(bn(F.conv2d(x, blk.conv1.weight), blk.bn1))
    y = F.relu(bn(F.conv2d(y, blk.conv2.weight, padding=4, dilation=4), blk.bn2))
    y = F.relu(bn(F.conv2d(y, blk.conv3.weight), blk.bn3) + x)
    with torch.no_grad():
        torch.testing.assert_close(blk(x), y, rtol=1e-12, atol=1e-12)


def test_loss_is_weighted_sum_of_stage_mses():
    torch.manual_seed(0)
    pl = ResNetPL(loss_weight=30, pretrained=False).double().eval()
    _randomise(pl.impl, 2)
    pred = torch.rand(2, 3, 24, 40, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 3, 24, 40, dtype=torch.float64)
    loss = pl(pred, target)
    # ImageNet statistics as float32 constants, like LaMa's IMAGENET_MEAN / IMAGENET_STD
    mean = torch.tensor([0.485, 0.456, 0.406]).double().view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).double().view(1, 3, 1, 1)
    with torch.no_grad():
        fp = [f.numpy() for f in pl.impl((pred - mean) / std)]
        ft = [f.numpy() for f in pl.impl((target - mean) / std)]
    expected = 30 * sum(np.mean((a - b) ** 2) for a, b in zip(fp, ft))
    assert len(fp) == 4
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in pl.parameters())   # encoder frozen
    assert pl(target, target).item() == 0.0


def test_batchnorm_modes():
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    pl = ResNetPL(pretrained=False)
    _randomise(pl.impl, 3)
    assert not pl.impl.training            # built in eval mode, as LaMa's ResNetPL
    pl.train()
    assert pl.impl.training                # ... and switched by train(), as Lightning's model.train() does
    before = pl.impl.bn1.running_mean.clone()
    train_loss = pl(x, y)
    assert not torch.equal(before, pl.impl.bn1.running_mean)   # batch statistics, running stats updated
    pl.eval()
    assert not pl.impl.training
    assert train_loss.item() != pytest.approx(pl(x, y).item(), rel=1e-3)
    # batch_stats=True: LaMa's training behaviour even when the owner keeps the loss in eval mode
    always = ResNetPL(pretrained=False, batch_stats=True)
    assert always.eval().impl.training
    never = ResNetPL(pretrained=False, batch_stats=False)
    assert not never.train().impl.training
    enc = ResnetDilated()
    _randomise(enc, 3)
    for m in (pl, always):
        m.impl.load_state_dict(enc.state_dict())
    pl.train()
    torch.testing.assert_close(always(x, y), pl(x, y), rtol=1e-6, atol=0)


def _write_encoder_file(path, enc, extras=True, drop_tracked=True):
    sd = {}
    for k, v in enc.state_dict().items():
        if drop_tracked and k.endswith('num_batches_tracked'):
            continue   # files written by old torch have no num_batches_tracked
        sd[k] = v.clone()
        if extras and k.endswith('running_mean'):   # CSAILVision's SynchronizedBatchNorm2d buffers
            base = k[:-len('running_mean')]
            sd[base + '_tmp_running_mean'] = v.clone()
            sd[base + '_tmp_running_var'] = torch.ones_like(v)
            sd[base + '_running_iter'] = torch.ones(1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(sd, path)


def test_loads_the_released_encoder_layout(tmp_path, monkeypatch):
    enc = ResnetDilated()
    _randomise(enc, 4)
    # LaMa's $TORCH_HOME layout: <dir>/ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth
    _write_encoder_file(tmp_path / 'torch_home' / 'ade20k' / ADE20K_ENCODER_FILE, enc)
    pl = ResNetPL(pretrained=str(tmp_path / 'torch_home'))
    for k, v in enc.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            assert torch.equal(pl.impl.state_dict()[k], v), k
    # irkit's weights folder ($IRKIT_WEIGHTS/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth)
    _write_encoder_file(tmp_path / 'weights' / ADE20K_ENCODER_FILE, enc, extras=False, drop_tracked=False)
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path / 'weights'))
    built = LOSSES.build(dict(type='ResNetPL', loss_weight=30))
    assert torch.equal(built.impl.layer4[2].conv3.weight, enc.layer4[2].conv3.weight)


def test_missing_and_wrong_encoder_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path / 'nowhere'))
    monkeypatch.setenv('HOME', str(tmp_path))
    with pytest.raises(MissingWeightsError) as e:
        ResNetPL()
    assert ADE20K_ENCODER_FILE in str(e.value) and ADE20K_ENCODER_URL in str(e.value)
    enc = ResnetDilated()
    bad = tmp_path / 'bad.pth'
    sd = enc.state_dict()
    del sd['layer2.0.conv1.weight']
    torch.save(sd, bad)
    with pytest.raises(KeyError, match=r'missing \[.layer2\.0\.conv1\.weight.\]'):
        ResNetPL(pretrained=str(bad))
