"""LaMa archs: released key layout, FourierUnit maths, LFU layout, any-size forward, the 'lama' reader."""
import json
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from irkit.archs.lama import (LAMA_CONFIGS, LAMA_DISCRIMINATOR, FFCResNetGenerator, FourierUnit,
                              NLayerDiscriminator, SpectralTransform)
from irkit.fileio.checkpoint import CheckpointMismatchError, load_state_dict
from irkit.fileio.weights import ConversionError, read_official
from irkit.registry import ARCHS

FIXTURE = json.loads((Path(__file__).parent / 'fixtures' / 'lama_big_lama_keys.json').read_text())


def _expected_generator(n_blocks: int) -> 'OrderedDict[str, list]':
    """big-lama's key -> shape table from the fixture, re-indexed for ``n_blocks`` blocks."""
    first, last = FIXTURE['generator_blocks']
    out = OrderedDict(FIXTURE['generator_head'])
    for i in range(first, first + n_blocks):
        out.update((f'model.{i}.{k}', s) for k, s in FIXTURE['generator_block'].items())
    shift = n_blocks - (last - first + 1)
    for k, s in FIXTURE['generator_tail_after_blocks'].items():
        _, idx, rest = k.split('.', 2)
        out[f'model.{int(idx) + shift}.{rest}'] = s
    return out


def _table(model: torch.nn.Module) -> 'OrderedDict[str, list]':
    return OrderedDict((k, list(v.shape)) for k, v in model.state_dict().items())


def _tiny_generator(**kw) -> FFCResNetGenerator:
    cfg = dict(LAMA_CONFIGS['big-lama'], ngf=8, n_blocks=2)
    cfg.update(kw)
    return FFCResNetGenerator(**cfg)


@pytest.mark.parametrize('name,n_blocks,params', [('big-lama', 18, 50_975_875), ('lama-fourier', 9, 27_048_835)])
def test_released_generator_keys_shapes_and_params(name, n_blocks, params):
    with torch.device('meta'):
        g = FFCResNetGenerator(**LAMA_CONFIGS[name])
    expected = _expected_generator(n_blocks)
    assert list(_table(g).items()) == list(expected.items())  # same keys, shapes and order
    assert len(expected) == (FIXTURE['generator_entries'] if name == 'big-lama' else 521)
    # parameter counts of the official classes (50.98 M / 27.05 M)
    assert sum(p.numel() for p in g.parameters()) == params


def test_released_discriminator_keys_shapes_and_params():
    with torch.device('meta'):
        d = NLayerDiscriminator(**LAMA_DISCRIMINATOR)
    assert list(_table(d).items()) == list(FIXTURE['discriminator'].items())
    assert sum(p.numel() for p in d.parameters()) == FIXTURE['discriminator_params']


def _numpy_fourier_unit(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """LaMa's FourierUnit written with numpy's FFT: ortho rFFT, channels re0, im0, re1, im1, ...,
    1x1 conv ``w`` (2C' x 2C), identity BN, ReLU, inverse ortho rFFT to the input size."""
    n, c, h, width = x.shape
    spec = np.fft.rfft2(x, norm='ortho')                                   # n, c, h, width//2+1
    chans = np.stack([spec.real, spec.imag], axis=2).reshape(n, 2 * c, h, -1)
    out = np.maximum(np.einsum('oc,nchw->nohw', w, chans), 0)
    out = out.reshape(n, -1, 2, h, out.shape[-1])
    return np.fft.irfft2(out[:, :, 0] + 1j * out[:, :, 1], s=(h, width), norm='ortho')


@pytest.mark.parametrize('size', [(4, 4), (4, 5), (5, 7)])
def test_fourier_unit_matches_numpy_fft(size):
    rng = np.random.default_rng(0)
    fu = FourierUnit(2, 2).double().eval()
    w = rng.standard_normal((4, 4))
    with torch.no_grad():
        fu.conv_layer.weight.copy_(torch.from_numpy(w)[:, :, None, None])
    fu.bn.eps = 0.0   # running mean 0 / var 1, gamma 1 / beta 0: identity in eval mode
    x = rng.standard_normal((2, 2, *size))
    with torch.no_grad():
        y = fu(torch.from_numpy(x)).numpy()
    assert y.shape == x.shape   # odd widths survive thanks to irfftn(s=...)
    np.testing.assert_allclose(y, _numpy_fourier_unit(x, w), rtol=1e-12, atol=1e-12)


def test_fourier_unit_interleaves_real_and_imaginary_parts_per_channel():
    # a conv that copies input channel 1 (the imaginary part of channel 0) to output channel 0
    # (the real part of output 0): the output is the inverse FFT of i * Im(X0) -> real part only
    fu = FourierUnit(2, 1).double().eval()
    fu.bn.eps = 0.0
    with torch.no_grad():
        fu.conv_layer.weight.zero_()
        fu.conv_layer.weight[0, 1] = 1.0
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    spec = np.fft.rfft2(x[:, :1].numpy(), norm='ortho')
    expected = np.fft.irfft2(np.maximum(spec.imag, 0) + 0j, s=(6, 6), norm='ortho')
    with torch.no_grad():
        np.testing.assert_allclose(fu(x).numpy(), expected, atol=1e-12)


def test_local_fourier_unit_quadrant_layout():
    st = SpectralTransform(8, 8, enable_lfu=True).double().eval()
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        got = st._local_fourier(x)
        q = x[:, :1]   # first quarter of the channels
        stacked = torch.cat([q[..., :3, :3], q[..., 3:, :3], q[..., :3, 3:], q[..., 3:, 3:]], 1)
        expected = st.lfu(stacked).repeat(1, 1, 2, 2)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match='square feature maps'):
        st._local_fourier(torch.randn(1, 4, 6, 8, dtype=torch.float64))


@pytest.mark.parametrize('hw', [(24, 40), (40, 24), (16, 56), (32, 32)])
def test_any_multiple_of_8_forward(hw):
    torch.manual_seed(0)
    g = _tiny_generator().eval()
    x = torch.rand(2, 4, *hw)
    with torch.no_grad():
        y = g(x)
    assert y.shape == (2, 3, *hw)
    assert 0 <= y.min() and y.max() <= 1   # sigmoid output (LaMa's [0, 1] range)
    # the batch is processed independently in eval mode
    with torch.no_grad():
        torch.testing.assert_close(g(x[1:]), y[1:], rtol=1e-5, atol=1e-6)


def test_generator_rejects_sizes_that_are_not_multiples_of_8():
    g = _tiny_generator().eval()
    with pytest.raises(ValueError, match='multiples of 8'):
        g(torch.rand(1, 4, 30, 40))


def test_generator_needs_ffc_ratios_and_names_the_field():
    with pytest.raises(ValueError, match='resnet_conv_kwargs needs ratio_gin'):
        FFCResNetGenerator(4, 3, resnet_conv_kwargs={}, init_conv_kwargs=dict(ratio_gin=0, ratio_gout=0),
                           downsample_conv_kwargs=dict(ratio_gin=0, ratio_gout=0))


def test_norm_and_activation_from_strings():
    g = _tiny_generator(norm_layer='in', activation_layer='leaky_relu', up_norm_layer='bn', up_activation='relu')
    assert isinstance(g.model[1].bn_l, torch.nn.InstanceNorm2d)
    assert isinstance(g.model[1].act_l, torch.nn.LeakyReLU) and g.model[1].act_l.negative_slope == 0.2
    with pytest.raises(ValueError, match="unknown norm 'gn'"):
        _tiny_generator(norm_layer='gn')
    with pytest.raises(ValueError, match='add_out_act'):
        _tiny_generator(add_out_act='relu')
    # built from a config through the registry
    g = ARCHS.build(dict(type='FFCResNetGenerator', **dict(LAMA_CONFIGS['lama-fourier'], ngf=8, n_blocks=1)))
    assert isinstance(g.model[-1], torch.nn.Sigmoid)


def test_ratio_split_of_the_last_downsampling_layer():
    g = _tiny_generator()
    last_down = g.model[4]
    # ratio_gout forced to resnet ratio_gin = 0.75: 64 channels -> 16 local + 48 global
    assert last_down.ffc.convl2l.out_channels == 16 and last_down.ffc.convl2g.out_channels == 48
    assert isinstance(last_down.ffc.convg2g, torch.nn.Identity)  # no global input yet


def test_discriminator_returns_logits_and_features():
    d = NLayerDiscriminator(3, ndf=8, n_layers=4).eval()
    logits, feats = d(torch.rand(2, 3, 64, 48))
    assert len(feats) == 5   # model0 .. model4
    assert [f.shape[1] for f in feats] == [8, 16, 32, 64, 128]
    # 4x4 convs with padding 2: stride-2 stages add 1 and halve, stride-1 stages add 1
    assert logits.shape == (2, 1, 7, 6) and feats[0].shape[-2:] == (33, 25)


def test_declared_conventions():
    io = FFCResNetGenerator.inpaint_io
    assert io['value_range'] == (0.0, 1.0) and io['mask'] == 'hole' and io['hole_fill'] == 0.0
    assert io['inputs'] == 'concat' and io['outputs'] == ('pred',)
    assert io['pad_multiple'] == 8 and io['pad_mode'] == 'symmetric' and io['channel_order'] == 'rgb'
    assert NLayerDiscriminator.disc_io == dict(inputs='image', local_size=None, returns='logits_features')


@pytest.fixture
def fake_lightning_ckpt(tmp_path, monkeypatch):
    """A LaMa best.ckpt as Lightning writes it: tensors under 'state_dict' next to the
    ResNetPL encoder, optimizer states and an OmegaConf object in 'hyper_parameters'."""
    mod = types.ModuleType('omegaconf.dictconfig')

    class DictConfig:  # stands in for omegaconf's class (the restricted unpickler never imports it)
        def __init__(self, content):
            self.content = content

    DictConfig.__module__, DictConfig.__qualname__ = 'omegaconf.dictconfig', 'DictConfig'
    mod.DictConfig = DictConfig
    monkeypatch.setitem(sys.modules, 'omegaconf', types.ModuleType('omegaconf'))
    monkeypatch.setitem(sys.modules, 'omegaconf.dictconfig', mod)
    torch.manual_seed(0)
    g = _tiny_generator()
    d = NLayerDiscriminator(3, ndf=8, n_layers=2)
    sd = OrderedDict()
    sd.update((f'generator.{k}', v) for k, v in g.state_dict().items())
    sd.update((f'discriminator.{k}', v) for k, v in d.state_dict().items())
    sd['loss_resnet_pl.impl.conv1.weight'] = torch.randn(64, 3, 3, 3)
    sd['val_evaluator.scores.ssim.weight'] = torch.ones(11, 11)
    ckpt = {'epoch': 39, 'global_step': 1_000_000, 'pytorch-lightning_version': '1.2.9', 'state_dict': sd,
            'callbacks': {'ModelCheckpoint': {'best_model_score': torch.tensor(0.9)}},
            'optimizer_states': [{'state': {0: {'exp_avg': torch.zeros(3)}}, 'param_groups': [{'lr': 1e-3}]}],
            'lr_schedulers': [], 'hparams_name': 'config',
            'hyper_parameters': DictConfig({'generator': {'kind': 'ffc_resnet'}})}
    path = tmp_path / 'best.ckpt'
    torch.save(ckpt, path)
    return path, g, d


def test_lama_reader_round_trip(fake_lightning_ckpt):
    path, g, d = fake_lightning_ckpt
    parts = read_official(path, 'lama')
    assert sorted(parts) == ['discriminator', 'generator']
    assert list(parts['generator']) == list(g.state_dict())   # 'model.*' kept: the generator's own attribute
    g2, d2 = _tiny_generator(), NLayerDiscriminator(3, ndf=8, n_layers=2)
    g2.load_state_dict(parts['generator'], strict=True)
    d2.load_state_dict(parts['discriminator'], strict=True)
    for a, b in zip(g.state_dict().values(), g2.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.rand(1, 4, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(g.eval()(x), g2.eval()(x), rtol=0, atol=0)


def test_lama_reader_errors_name_what_is_wrong(tmp_path, fake_lightning_ckpt):
    path, g, _ = fake_lightning_ckpt
    parts = read_official(path, 'lama')
    gen = parts['generator']
    del gen['model.1.ffc.convl2l.weight']
    with pytest.raises(CheckpointMismatchError, match=r'missing from the checkpoint: model\.1\.ffc\.convl2l\.weight'):
        load_state_dict(_tiny_generator(), gen, source=str(path))
    # a deeper generator's weights into a shallower config (LaMa issue #308) name the extra blocks
    deep = _tiny_generator(n_blocks=3).state_dict()
    with pytest.raises(CheckpointMismatchError, match=r'unexpected in the checkpoint: model\.7\.'):
        load_state_dict(_tiny_generator(n_blocks=2), deep)
    bad = tmp_path / 'plain.ckpt'
    torch.save({'state_dict': {'net.weight': torch.zeros(1)}}, bad)
    with pytest.raises(ConversionError, match=r"no 'generator\.\*' weights .*top-level names: net"):
        read_official(bad, 'lama')
    torch.save({'model': torch.zeros(1)}, bad)
    with pytest.raises(ConversionError, match=r"no \['state_dict'\] dict"):
        read_official(bad, 'lama')


def test_convert_and_load_into_the_lama_config(tmp_path, fake_lightning_ckpt):
    from irkit.fileio.weights import convert_checkpoint, load_weights
    from irkit.registry import MODELS
    from irkit.utils.config import load_config
    path, g, d = fake_lightning_ckpt
    root = Path(__file__).resolve().parents[2]
    tiny = {'model.generator.ngf': 8, 'model.generator.n_blocks': 2, 'model.discriminator.ndf': 8,
            'model.discriminator.n_layers': 2}
    summary = convert_checkpoint(path, tmp_path / 'lama.pth', 'lama', str(root / 'configs' / 'lama_places.py'),
                                 cfg_options=tiny)
    assert summary['verified'] and summary['networks'] == ['discriminator', 'generator']
    assert summary['read_with'] == 'restricted'   # Lightning's hyper-parameters are not plain data
    model = MODELS.build(load_config(str(root / 'configs' / 'lama_places.py'), tiny).model)
    load_weights(model, path, fmt='lama')           # the official file directly (init_model(..., fmt='lama'))
    for k, v in g.state_dict().items():
        assert torch.equal(model.generator.state_dict()[k], v), k
    load_weights(model, str(tmp_path / 'lama.pth'))  # the converted irkit checkpoint
    for k, v in d.state_dict().items():
        assert torch.equal(model.discriminator.state_dict()[k], v), k


# LaMa's learnable rotation (LearnableSpatialTransformWrapper; unused by the released models)

@pytest.mark.parametrize('shape,angle,expected', [
    ((1, 2, 7, 7), 90.0, lambda x: torch.rot90(x, 1, (2, 3))),       # positive = counter-clockwise
    ((1, 2, 6, 10), 180.0, lambda x: torch.flip(x, (2, 3))),         # about ((W-1)/2, (H-1)/2)
    ((2, 3, 5, 9), 0.0, lambda x: x),
])
def test_rotation_against_exact_pixel_permutations(shape, angle, expected):
    from irkit.archs.lama import _rotate
    x = torch.randn(*shape, dtype=torch.float64)
    got = _rotate(x, torch.tensor([angle], dtype=torch.float64))
    # pi is float32 as in kornia, so multiples of 90 degrees land within ~1e-6 of the pixel grid
    torch.testing.assert_close(got, expected(x), rtol=0, atol=1e-5 * x.abs().max().item())


def test_rotation_fills_zeros_outside_and_keeps_the_centre():
    from irkit.archs.lama import _rotate
    x = torch.ones(1, 1, 9, 9, dtype=torch.float64)
    y = _rotate(x, torch.tensor([45.0], dtype=torch.float64))
    assert y[0, 0, 4, 4] == pytest.approx(1.0) and y[0, 0, 0, 0] == 0   # corners leave the image


def test_spatial_transform_wrapper_pads_rotates_and_undoes_it():
    from irkit.archs.lama import LearnableSpatialTransformWrapper
    torch.manual_seed(0)
    w = LearnableSpatialTransformWrapper(torch.nn.Identity(), pad_coef=0.5, angle_init_range=80)
    assert w.angle.requires_grad and 0 <= w.angle.item() < 80
    x = torch.randn(2, 3, 12, 16, dtype=torch.float64)
    with torch.no_grad():
        w.angle.fill_(90.0)
        t = w.transform(x)
    assert t.shape == (2, 3, 24, 32)     # reflect-padded by half of each side, then rotated in place
    with torch.no_grad():
        w.angle.fill_(180.0)             # a half turn and back: the input again (float32 pi: ~1e-6 off grid)
        torch.testing.assert_close(w(x), x, rtol=0, atol=2e-5 * x.abs().max().item())
        # a tuple (the FFC local/global parts) goes through element by element
        a, b = w((x, 2 * x))
    torch.testing.assert_close(b, 2 * a, rtol=0, atol=1e-12)
    # the angle learns: the loss depends on it through both rotations
    conv = torch.nn.Conv2d(3, 3, 3, padding=1).double()
    w2 = LearnableSpatialTransformWrapper(conv)
    w2(x).square().sum().backward()
    assert w2.angle.grad is not None and torch.isfinite(w2.angle.grad).all() and w2.angle.grad.abs() > 0
    fixed = LearnableSpatialTransformWrapper(torch.nn.Identity(), train_angle=False)
    assert list(fixed.state_dict()) == [] and not isinstance(fixed.angle, torch.nn.Parameter)


def test_spatial_transform_layers_keep_the_reference_key_layout():
    """The reference wraps whole residual blocks (``model.<i>.impl.*`` + ``model.<i>.angle``) or,
    through ``resnet_conv_kwargs.spatial_transform_kwargs``, each block's two convs."""
    base = dict(input_nc=4, output_nc=3, ngf=8, n_blocks=3, add_out_act='sigmoid',
                init_conv_kwargs=dict(ratio_gin=0, ratio_gout=0), downsample_conv_kwargs=dict(ratio_gin=0, ratio_gout=0))
    res = dict(ratio_gin=0.75, ratio_gout=0.75, enable_lfu=False)
    plain = FFCResNetGenerator(**base, resnet_conv_kwargs=res).state_dict()
    blocks = FFCResNetGenerator(**base, resnet_conv_kwargs=res, spatial_transform_layers=[1, 2]).state_dict()
    convs = FFCResNetGenerator(**base, resnet_conv_kwargs=dict(res, spatial_transform_kwargs={})).state_dict()
    first = min(int(k.split('.')[1]) for k in plain if '.conv1.' in k)     # index of residual block 0
    wrapped = {f'model.{first + 1}.', f'model.{first + 2}.'}

    def blocks_key(k):
        p = next((p for p in wrapped if k.startswith(p)), None)
        return k if p is None else p + 'impl.' + k[len(p):]
    assert set(blocks) == {blocks_key(k) for k in plain} | {p + 'angle' for p in wrapped}
    import re
    conv_keys = {re.sub(r'^(model\.\d+\.conv[12])\.', r'\1.impl.', k) for k in plain}
    angles = {f'model.{first + i}.conv{j}.angle' for i in range(3) for j in (1, 2)}
    assert set(convs) == conv_keys | angles
    g = FFCResNetGenerator(**base, resnet_conv_kwargs=res, spatial_transform_layers=[1]).eval()
    with torch.no_grad():
        y = g(torch.rand(1, 4, 32, 40))
    assert y.shape == (1, 3, 32, 40) and torch.isfinite(y).all()
