"""The weights module: the one load rule, locating files, SHA-256, formats declared by the archs."""
import os

import pytest
import torch
import torch.nn as nn

from irkit.fileio.checkpoint import CheckpointMismatchError
from irkit.fileio.weights import (FORMATS, MissingWeightsError, WeightsIntegrityError, find_weights,
                                  load_format_registry, load_parts, load_weights, official_format,
                                  resolve_checkpoint, sha256_file, split_parts, verify_sha256)


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)


class Model(nn.Module):
    """What an irkit GAN model looks like to the loader: generator, EMA copy, discriminator."""

    def __init__(self, ema=True, disc=True):
        super().__init__()
        self.generator = G()
        self.generator_ema = G() if ema else None
        self.discriminator = D() if disc else None


def rand_sd(net, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) for k, v in net.state_dict().items()}


def same(net, sd):
    return all(torch.equal(net.state_dict()[k], v) for k, v in sd.items())


def test_whole_model_file_splits_by_submodule_and_is_strict(tmp_path):
    g, e, d = rand_sd(G(), 1), rand_sd(G(), 2), rand_sd(D(), 3)
    whole = {**{f'generator.{k}': v for k, v in g.items()}, **{f'generator_ema.{k}': v for k, v in e.items()},
             **{f'discriminator.{k}': v for k, v in d.items()}}
    torch.save({'state_dict': whole, 'meta': {}}, tmp_path / 'iter_1.pth')
    m = Model()
    load_weights(m, str(tmp_path / 'iter_1.pth'))
    assert same(m.generator, g) and same(m.generator_ema, e) and same(m.discriminator, d)
    # a whole-model file without the discriminator's weights does not silently leave it random
    torch.save({'state_dict': {k: v for k, v in whole.items() if not k.startswith('disc')}}, tmp_path / 'nod.pth')
    with pytest.raises(CheckpointMismatchError, match='no weights for discriminator'):
        load_weights(Model(), str(tmp_path / 'nod.pth'))


def test_official_generator_fills_generator_and_ema_and_bare_networks_take_their_part():
    g, d = rand_sd(G(), 4), rand_sd(D(), 5)
    m = Model()
    assert load_parts(m, {'': g}) == ['generator', 'generator_ema']   # an official single-network file
    assert same(m.generator, g) and same(m.generator_ema, g)
    m = Model(ema=False, disc=False)   # inference model: the file's discriminator is skipped
    assert load_parts(m, {'generator': g, 'discriminator': d}) == ['generator']
    bare = G()
    load_parts(bare, {'generator': g, 'discriminator': d})
    assert same(bare, g)
    with pytest.raises(CheckpointMismatchError, match='missing from the checkpoint: conv.bias'):
        load_parts(Model(), {'generator': {'conv.weight': g['conv.weight']}})


def test_split_parts():
    sd = {'generator.a': 1, 'discriminator.b': 2}
    assert split_parts(sd) == {'generator': {'a': 1}, 'discriminator': {'b': 2}}
    assert split_parts({'a.b': 1}) == {'': {'a.b': 1}}


def test_find_and_resolve_name_every_place_and_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path))
    with pytest.raises(MissingWeightsError) as e:
        find_weights('vgg.pth', source='https://example.org/vgg.pth', config_key='model.pretrained')
    msg = str(e.value)
    assert str(tmp_path / 'vgg.pth') in msg and 'https://example.org/vgg.pth' in msg and 'model.pretrained' in msg
    (tmp_path / 'mprnet').mkdir()
    (tmp_path / 'mprnet' / 'model_deblurring.pth').write_bytes(b'x')
    assert resolve_checkpoint('model_deblurring.pth', 'mprnet_gopro') == tmp_path / 'mprnet' / 'model_deblurring.pth'
    with pytest.raises(MissingWeightsError, match='docs/model_zoo.md'):
        resolve_checkpoint('some/dir/missing.pth')
    with pytest.raises(MissingWeightsError, match='Deraining/README.md'):  # the zoo's download page
        resolve_checkpoint('model_deraining.pth', 'mprnet_rain13k')


def test_sha256(tmp_path):
    p = tmp_path / 'f.bin'
    p.write_bytes(b'abc')
    digest = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'  # FIPS 180-2 example
    assert sha256_file(p) == digest and verify_sha256(p, digest.upper()) == digest
    with pytest.raises(WeightsIntegrityError, match='download it again from https://x'):
        verify_sha256(p, '0' * 64, 'https://x')


def test_formats_are_declared_by_the_archs_and_names_are_unique():
    formats = load_format_registry()
    for name, module in (('mprnet', 'irkit.archs.mprnet'), ('restormer', 'irkit.archs.restormer'),
                         ('promptir', 'irkit.archs.promptir'), ('mat', 'irkit.archs.mat'),
                         ('daclip', 'irkit.archs.daclip'), ('irsde', 'irkit.archs.irsde_unet')):
        assert formats[name].reader.__module__ == module
    with pytest.raises(KeyError, match="'mprnet' is registered twice"):
        official_format('mprnet')(lambda obj, path: {})
    assert FORMATS['mprnet'].reader.__module__ == 'irkit.archs.mprnet'


def test_init_model_by_zoo_name_with_pretrained(tmp_path, monkeypatch):
    from irkit.apis import init_model
    from irkit.fileio.weights import MissingWeightsError
    tiny = {'model.generator.n_feat': 8, 'model.generator.scale_unetfeats': 4,
            'model.generator.scale_orsnetfeats': 4, 'model.generator.num_cab': 1}
    monkeypatch.setenv('IRKIT_WEIGHTS', str(tmp_path))
    with pytest.raises(MissingWeightsError, match='model_deblurring.pth.*Deblurring/README.md'):
        init_model('mprnet_gopro', pretrained=True, cfg_options=tiny)
    ref = init_model('mprnet_gopro', cfg_options=tiny)  # random weights
    sd = {f'module.{k}': v + 1 for k, v in ref.generator.state_dict().items()}
    torch.save({'state_dict': sd}, tmp_path / 'model_deblurring.pth')  # the release layout
    model = init_model('mprnet_gopro', pretrained=True, cfg_options=tiny)
    assert all(torch.equal(v, sd[f'module.{k}']) for k, v in model.generator.state_dict().items())
    with pytest.raises(FileNotFoundError, match='nor is it a model name'):
        init_model('no_such_model')
    assert os.path.basename(model.cfg.filename) == 'mprnet_gopro.py'
