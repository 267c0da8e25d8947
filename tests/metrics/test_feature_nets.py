"""Loaders of the pretrained feature networks, on small files written in the official formats."""
import copyreg
import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irkit.archs.common.alexnet import AlexNetFeatures
from irkit.archs.common.squeezenet import SqueezeNetFeatures
from irkit.archs.common.inception import (Conv2dLayer, FIDInceptionV3, _pytorch_fid_names,
                                          convert_pytorch_fid, load_torchscript_tensors)
from irkit.archs.common.vgg import CFGS, VGGFeatureExtractor
from irkit.metrics.lpips import LPIPSNet
from irkit.fileio.weights import MissingWeightsError


def torchvision_alexnet_state(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {0: (64, 3, 11, 11), 3: (192, 64, 5, 5), 6: (384, 192, 3, 3), 8: (256, 384, 3, 3),
              10: (256, 256, 3, 3)}
    sd = {}
    for i, s in shapes.items():
        sd[f'features.{i}.weight'] = torch.randn(s, generator=g) * (2 / np.prod(s[1:])) ** 0.5
        sd[f'features.{i}.bias'] = torch.randn(s[0], generator=g) * 0.01
    sd['classifier.1.weight'] = torch.zeros(4, 4)  # torchvision's head: present, unused
    return sd


def manual_alexnet(sd, x):
    outs = []
    for i, (stride, pad, pool) in zip([0, 3, 6, 8, 10], [(4, 2, 1), (1, 2, 1), (1, 1, 0), (1, 1, 0), (1, 1, 0)]):
        x = F.relu(F.conv2d(x, sd[f'features.{i}.weight'], sd[f'features.{i}.bias'], stride, pad))
        outs.append(x)
        if pool:
            x = F.max_pool2d(x, 3, 2)
    return outs


def test_lpips_loads_released_formats_and_matches_formula(tmp_path):
    sd = torchvision_alexnet_state()
    torch.save(sd, tmp_path / 'alexnet-owt-7be5be79.pth')
    g = torch.Generator().manual_seed(1)
    heads = {f'lin{i}.model.1.weight': torch.rand(1, c, 1, 1, generator=g)
             for i, c in enumerate((64, 192, 384, 256, 256))}
    (tmp_path / 'lpips' / 'v0.1').mkdir(parents=True)
    torch.save(heads, tmp_path / 'lpips' / 'v0.1' / 'alex.pth')
    net = LPIPSNet('alex', model_path=tmp_path, backbone_path=tmp_path)
    x = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    y = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    shift = torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1)
    scale = torch.tensor([.458, .448, .450]).view(1, 3, 1, 1)
    fx, fy = manual_alexnet(sd, (x - shift) / scale), manual_alexnet(sd, (y - shift) / scale)
    want = 0
    for i, (a, b) in enumerate(zip(fx, fy)):
        a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        want = want + ((a - b) ** 2 * heads[f'lin{i}.model.1.weight']).sum(1).mean(dim=(1, 2))
    torch.testing.assert_close(net(x, y), want, rtol=1e-5, atol=1e-7)
    assert net(x, x).abs().max() == 0


# torchvision.models.squeezenet1_1: (features index, in, squeeze, expand1x1, expand3x3)
SQUEEZE_FIRES = [(3, 64, 16, 64, 64), (4, 128, 16, 64, 64), (6, 128, 32, 128, 128),
                 (7, 256, 32, 128, 128), (9, 256, 48, 192, 192), (10, 384, 48, 192, 192),
                 (11, 384, 64, 256, 256), (12, 512, 64, 256, 256)]


def torchvision_squeezenet_state(seed=0):
    g = torch.Generator().manual_seed(seed)

    def conv(name, c_out, c_in, k):
        sd[f'{name}.weight'] = torch.randn(c_out, c_in, k, k, generator=g) * (2 / (c_in * k * k)) ** 0.5
        sd[f'{name}.bias'] = torch.randn(c_out, generator=g) * 0.01
    sd = {}
    conv('features.0', 64, 3, 3)
    for i, c_in, sq, e1, e3 in SQUEEZE_FIRES:
        conv(f'features.{i}.squeeze', sq, c_in, 1)
        conv(f'features.{i}.expand1x1', e1, sq, 1)
        conv(f'features.{i}.expand3x3', e3, sq, 3)
    sd['classifier.1.weight'] = torch.zeros(1000, 512, 1, 1)  # torchvision's head: present, unused
    sd['classifier.1.bias'] = torch.zeros(1000)
    return sd


def manual_squeezenet(sd, x):
    """SqueezeNet 1.1 written with F.conv2d from torchvision's definition; LPIPS's 7 outputs."""
    def fire(x, i):
        x = F.relu(F.conv2d(x, sd[f'features.{i}.squeeze.weight'], sd[f'features.{i}.squeeze.bias']))
        a = F.relu(F.conv2d(x, sd[f'features.{i}.expand1x1.weight'], sd[f'features.{i}.expand1x1.bias']))
        b = F.relu(F.conv2d(x, sd[f'features.{i}.expand3x3.weight'], sd[f'features.{i}.expand3x3.bias'],
                            padding=1))
        return torch.cat([a, b], 1)

    def pool(x):
        return F.max_pool2d(x, 3, 2, ceil_mode=True)
    h1 = F.relu(F.conv2d(x, sd['features.0.weight'], sd['features.0.bias'], stride=2))
    h2 = fire(fire(pool(h1), 3), 4)
    h3 = fire(fire(pool(h2), 6), 7)
    h4 = fire(pool(h3), 9)
    h5 = fire(h4, 10)
    h6 = fire(h5, 11)
    return [h1, h2, h3, h4, h5, h6, fire(h6, 12)]


def test_squeezenet_loads_torchvision_layout_and_matches_definition(tmp_path):
    sd = torchvision_squeezenet_state()
    torch.save(sd, tmp_path / 'squeezenet1_1-b8a52dc0.pth')
    net = SqueezeNetFeatures(pretrained=tmp_path)
    own = net.state_dict()
    assert {k: tuple(v.shape) for k, v in own.items()} == \
        {k: tuple(v.shape) for k, v in sd.items() if k.startswith('features.')}
    assert len(own) == 50
    x = torch.randn(2, 3, 67, 61, generator=torch.Generator().manual_seed(1))  # odd: ceil pools
    got, want = net(x), manual_squeezenet(sd, x)
    assert [t.shape[1] for t in got] == [64, 128, 256, 384, 384, 512, 512]
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_lpips_squeeze_matches_formula(tmp_path):
    sd = torchvision_squeezenet_state(2)
    torch.save(sd, tmp_path / 'squeezenet1_1-b8a52dc0.pth')
    g = torch.Generator().manual_seed(3)
    heads = {f'lin{i}.model.1.weight': torch.rand(1, c, 1, 1, generator=g)
             for i, c in enumerate((64, 128, 256, 384, 384, 512, 512))}
    (tmp_path / 'lpips' / 'v0.1').mkdir(parents=True)
    torch.save(heads, tmp_path / 'lpips' / 'v0.1' / 'squeeze.pth')
    net = LPIPSNet('squeeze', model_path=tmp_path, backbone_path=tmp_path)
    x = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    y = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    shift = torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1)
    scale = torch.tensor([.458, .448, .450]).view(1, 3, 1, 1)
    fx, fy = manual_squeezenet(sd, (x - shift) / scale), manual_squeezenet(sd, (y - shift) / scale)
    want = 0
    for i, (a, b) in enumerate(zip(fx, fy)):
        a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        want = want + ((a - b) ** 2 * heads[f'lin{i}.model.1.weight']).sum(1).mean(dim=(1, 2))
    torch.testing.assert_close(net(x, y), want, rtol=1e-5, atol=1e-7)
    # heads of another variant are refused with the file named
    torch.save({k: v for k, v in heads.items() if k < 'lin5'}, tmp_path / 'five.pth')
    with pytest.raises(KeyError, match='five.pth.*lin5'):
        LPIPSNet('squeeze', model_path=tmp_path / 'five.pth', backbone_path=tmp_path)


def test_missing_weights_message(tmp_path, monkeypatch):
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path))
    with pytest.raises(MissingWeightsError, match='alexnet-owt-7be5be79.pth.*IRKIT_WEIGHTS'):
        AlexNetFeatures()
    with pytest.raises(MissingWeightsError, match="inception-2015-12-05.pt.*'inception_path'"):
        FIDInceptionV3()
    with pytest.raises(MissingWeightsError, match='vgg19-dcbb9e9d.pth'):
        VGGFeatureExtractor(['conv4_4'])
    with pytest.raises(MissingWeightsError, match='squeezenet1_1-b8a52dc0.pth'):
        SqueezeNetFeatures()
    # LPIPS names its own arguments and the file's real download address
    with pytest.raises(MissingWeightsError, match=r"lpips/v0\.1/squeeze\.pth.*raw\.githubusercontent"
                       r"\.com/richzhang/PerceptualSimilarity/master/lpips/weights/v0\.1/squeeze\.pth"
                       r".*'model_path'"):
        LPIPSNet('squeeze', backbone_path=False)
    with pytest.raises(MissingWeightsError, match="alexnet-owt-7be5be79.pth.*'backbone_path'"):
        LPIPSNet('alex', model_path=False)


def test_vgg_torchvision_layout(tmp_path):
    g = torch.Generator().manual_seed(0)
    sd, convs, c_in = {}, [], 3
    i = 0
    for v in CFGS['vgg16']:
        if v == 'M':
            i += 1
            continue
        sd[f'features.{i}.weight'] = torch.randn(v, c_in, 3, 3, generator=g) * (2 / (9 * c_in)) ** 0.5
        sd[f'features.{i}.bias'] = torch.randn(v, generator=g) * 0.01
        convs.append(i)
        c_in, i = v, i + 2
    sd['classifier.0.weight'] = torch.zeros(2, 2)
    torch.save(sd, tmp_path / 'vgg16-397923af.pth')
    net = VGGFeatureExtractor(['conv2_2', 'relu3_3', 'pool4'], vgg_type='vgg16', pretrained=tmp_path)
    x = torch.rand(1, 3, 32, 32, generator=g)
    h = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    feats = {}
    for j, idx in enumerate(convs[:10]):  # conv1_1 .. conv4_3
        h = F.conv2d(h, sd[f'features.{idx}.weight'], sd[f'features.{idx}.bias'], padding=1)
        if idx == 7:
            feats['conv2_2'] = h
        h = F.relu(h)
        if idx == 14:
            feats['relu3_3'] = h
        if idx in (2, 7, 14, 21):
            h = F.max_pool2d(h, 2)
    feats['pool4'] = h
    out = net(x)
    assert list(out) == ['conv2_2', 'relu3_3', 'pool4']
    for k in out:
        torch.testing.assert_close(out[k], feats[k], rtol=1e-5, atol=1e-6)


def test_torchscript_reader_reads_tensors_without_running_code(tmp_path):
    torch.manual_seed(0)
    layer = Conv2dLayer(3, 4, 3)
    for p in layer.state_dict().values():
        p.copy_(torch.rand_like(p))
    wrapper = torch.nn.Sequential()
    wrapper.add_module('conv', layer)
    # nn.Conv2d keeps stride/padding as int lists: torch.jit._pickle.build_intlist in data.pkl
    wrapper.add_module('proj', torch.nn.Conv2d(4, 2, 1))
    torch.jit.save(torch.jit.script(wrapper), tmp_path / 'small.pt')
    got = load_torchscript_tensors(tmp_path / 'small.pt')
    assert list(got) == ['conv.weight', 'conv.beta', 'conv.mean', 'conv.var', 'proj.weight', 'proj.bias']
    for k, v in wrapper.state_dict().items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v)
    (tmp_path / 'nope.pt').write_bytes(b'not a zip')
    with pytest.raises(ValueError, match='nope.pt is not a TorchScript archive'):
        load_torchscript_tensors(tmp_path / 'nope.pt')
    with zipfile.ZipFile(tmp_path / 'empty.pt', 'w') as zf:
        zf.writestr('empty/code/__torch__.py', '')
    with pytest.raises(ValueError, match='empty.pt: no data.pkl'):
        load_torchscript_tensors(tmp_path / 'empty.pt')
    torch.save({'w': torch.ones(2)}, tmp_path / 'plain.pt')  # a torch.save zip, no module
    with pytest.raises(ValueError, match='plain.pt: .*not a TorchScript module'):
        load_torchscript_tensors(tmp_path / 'plain.pt')


def _write_torchscript_like(path, root):
    """A zip laid out like torch.jit.save's (<name>/data.pkl, <name>/data/<key>, <name>/code/)
    whose data.pkl pickles ``root`` with storages as persistent ids, as TorchScript does."""
    storages = {}

    class ArchivePickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, torch.storage.TypedStorage):
                key = str(len(storages))
                storages[key] = torch.empty(0, dtype=torch.uint8).set_(obj.untyped()).numpy().tobytes()
                return ('storage', torch.FloatStorage, key, 'cpu', obj.size())
            return None

    buf = io.BytesIO()
    ArchivePickler(buf, protocol=2).dump(root)
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('evil/data.pkl', buf.getvalue())
        for key, raw in storages.items():
            zf.writestr(f'evil/data/{key}', raw)
        zf.writestr('evil/code/__torch__/evil.py', 'def forward(self, x):\n  return x\n')


def test_torchscript_reader_never_runs_globals_from_data_pkl(tmp_path, monkeypatch):
    marker = tmp_path / 'PWNED'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    # a scripted module class as TorchScript names it: __torch__.<module>.<Class>
    fake = types.ModuleType('__torch__.evil')

    class Layer:
        def __init__(self, attrs):
            self.attrs = attrs

        def __reduce__(self):
            return (copyreg.__newobj__, (Layer,), self.attrs)  # NEWOBJ + BUILD, as TorchScript

    Layer.__module__, Layer.__qualname__ = '__torch__.evil', 'Layer'
    fake.Layer = Layer
    monkeypatch.setitem(sys.modules, '__torch__', types.ModuleType('__torch__'))
    monkeypatch.setitem(sys.modules, '__torch__.evil', fake)

    pickle.loads(pickle.dumps(Evil()))  # the payload is live for a normal unpickler ...
    assert marker.exists()
    marker.unlink()

    w, b = torch.arange(6, dtype=torch.float32).reshape(2, 3), torch.tensor([0.5, -1.0])
    root = Layer({'training': False, 'weight': w, 'payload': Evil(),
                  'sub': Layer({'bias': b, 'hook': Evil()})})
    _write_torchscript_like(tmp_path / 'evil.pt', root)
    got = load_torchscript_tensors(tmp_path / 'evil.pt')  # ... and inert here
    assert not marker.exists()
    assert list(got) == ['weight', 'sub.bias']
    assert torch.equal(got['weight'], w) and torch.equal(got['sub.bias'], b)

    _write_torchscript_like(tmp_path / 'evil_root.pt', Evil())
    with pytest.raises(ValueError, match='evil_root.pt: .*not a TorchScript module'):
        load_torchscript_tensors(tmp_path / 'evil_root.pt')
    assert not marker.exists()


def test_fid_inception_names_match_stylegan_export():
    sd = FIDInceptionV3(pretrained=False).state_dict()
    # names and shapes of NVIDIA's TorchScript inception-2015-12-05.pt
    assert sd['layers.conv.weight'].shape == (32, 3, 3, 3)
    assert sd['layers.conv.beta'].shape == (32,) and 'layers.conv.mean' in sd and 'layers.conv.var' in sd
    assert sd['layers.mixed.tower_2.conv.weight'].shape == (32, 192, 1, 1)
    assert sd['layers.mixed_4.tower_1.conv_4.weight'].shape == (192, 128, 1, 7)
    assert sd['layers.mixed_10.tower_1_mixed_conv_1.weight'].shape == (384, 384, 3, 1)
    assert sd['output.weight'].shape == (1008, 2048)
    assert len(sd) == 4 * 94 + 2
    assert len(_pytorch_fid_names()) == 94


def test_pytorch_fid_conversion_folds_gamma():
    g = torch.Generator().manual_seed(0)
    own = FIDInceptionV3(pretrained=False).state_dict()
    src = {}
    for s, d in _pytorch_fid_names().items():
        c = own[f'{d}.weight'].shape[0]
        src[f'{s}.conv.weight'] = torch.randn(own[f'{d}.weight'].shape, generator=g)
        src[f'{s}.bn.weight'] = torch.rand(c, generator=g) + 0.5
        src[f'{s}.bn.bias'] = torch.randn(c, generator=g)
        src[f'{s}.bn.running_mean'] = torch.randn(c, generator=g)
        src[f'{s}.bn.running_var'] = torch.rand(c, generator=g) + 0.5
    src['fc.weight'], src['fc.bias'] = torch.zeros(1008, 2048), torch.zeros(1008)
    conv = Conv2dLayer(3, 32, 3, stride=2)
    conv.load_state_dict({k[len('layers.conv.'):]: v for k, v in convert_pytorch_fid(src).items()
                          if k.startswith('layers.conv.')})
    x = torch.randn(1, 3, 17, 17, generator=g)
    bn = torch.nn.BatchNorm2d(32, eps=1e-3).eval()
    bn.weight.data, bn.bias.data = src['Conv2d_1a_3x3.bn.weight'], src['Conv2d_1a_3x3.bn.bias']
    bn.running_mean.data, bn.running_var.data = src['Conv2d_1a_3x3.bn.running_mean'], src['Conv2d_1a_3x3.bn.running_var']
    want = F.relu(bn(F.conv2d(x, src['Conv2d_1a_3x3.conv.weight'], stride=2)))
    torch.testing.assert_close(conv(x), want, rtol=1e-5, atol=1e-5)


def test_inception_resize_is_tf_legacy_bilinear():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 1, 7, 9, generator=g, dtype=torch.float64)
    out = FIDInceptionV3.resize(img, size=5)[0, 0].numpy()
    a = img[0, 0].numpy()

    def interp_axis(n_in, n_out):  # TF resize_bilinear, align_corners=False, no half pixel
        src = np.arange(n_out) * n_in / n_out
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo
    ly, hy, fy = interp_axis(7, 5)
    lx, hx, fx = interp_axis(9, 5)
    top = a[ly][:, lx] * (1 - fx) + a[ly][:, hx] * fx
    bot = a[hy][:, lx] * (1 - fx) + a[hy][:, hx] * fx
    want = top * (1 - fy[:, None]) + bot * fy[:, None]
    np.testing.assert_allclose(out, want, atol=1e-12)
