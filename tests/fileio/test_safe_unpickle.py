"""Restricted loading of StyleGAN2-style MAT pickles and their conversion (format 'mat')."""
import pickle
import sys
import types

import pytest
import torch
import torch.nn as nn

from irkit.fileio.safe_unpickle import (Opaque, UnsupportedPickleError, class_name, extract_state_dicts,
                                        load_stylegan_pickle)

from tests.archs.tiny_mat import TINY_D, TINY_G, TINY_TABLE


class _Canary:
    """Unpickling this with the standard unpickler would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (eval, (f"open({self.path!r}, 'w').close()",))


def _write_release_like_pickle(path, nets, canary):
    """Mimic torch_utils.persistence: every irkit module pickles as
    _reconstruct_persistent_obj(meta) with its source and __dict__ (plain torch.nn
    containers pickle normally), in a dict {'G', 'D', 'G_ema', ...}."""
    mod_tu = types.ModuleType('torch_utils')
    mod_p = types.ModuleType('torch_utils.persistence')

    def _reconstruct_persistent_obj(meta):  # what the real file would run (exec of module_src)
        raise AssertionError('must never be called by the restricted loader')

    _reconstruct_persistent_obj.__module__ = 'torch_utils.persistence'
    _reconstruct_persistent_obj.__qualname__ = '_reconstruct_persistent_obj'
    mod_p._reconstruct_persistent_obj = _reconstruct_persistent_obj
    mod_tu.persistence = mod_p
    saved = {k: sys.modules.get(k) for k in ('torch_utils', 'torch_utils.persistence')}
    sys.modules['torch_utils'], sys.modules['torch_utils.persistence'] = mod_tu, mod_p
    patched = []
    try:
        for net in nets.values():
            for m in net.modules():
                if type(m).__module__.startswith('irkit.') and type(m) not in patched:
                    cls = type(m)

                    def __reduce__(self, _cls=cls):
                        meta = dict(type='class', version=6, module_src=f'# source of {_cls.__module__}\n',
                                    class_name=_cls.__name__, state=self.__dict__)
                        return (_reconstruct_persistent_obj, (meta,))

                    cls.__reduce__ = __reduce__
                    patched.append(cls)
        data = dict(nets, augment_pipe=None, training_set_kwargs=dict(resolution=128), canary=_Canary(canary))
        with open(path, 'wb') as f:
            pickle.dump(data, f, protocol=4)
    finally:
        for cls in patched:
            del cls.__reduce__
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


@pytest.fixture
def release_pickle(tmp_path, tiny_nets):
    g, d = tiny_nets
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    g_ema = type(g)(**{k: getattr(g, k) for k in ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels')},
                    channel_table=TINY_TABLE, stage1_dim=12)
    nets = dict(G=g, D=d, G_ema=g_ema)
    path = tmp_path / 'MAT_tiny.pkl'
    canary = tmp_path / 'canary'
    _write_release_like_pickle(path, nets, str(canary))
    return path, nets, canary


def test_restricted_loader_rebuilds_tensors_and_runs_no_code(release_pickle):
    path, nets, canary = release_pickle
    assert 'torch_utils' not in sys.modules
    data = load_stylegan_pickle(path)
    assert not canary.exists()  # the eval() in the pickle was not run
    assert isinstance(data['canary'], Opaque) and data['canary'].cls_name == 'builtins.eval'
    assert 'torch_utils' not in sys.modules  # nothing was imported
    assert class_name(data['G_ema']) == 'MATGenerator'
    sds = extract_state_dicts(data)
    for name, net in nets.items():
        ref = net.state_dict()
        assert list(sds[name]) == list(ref)  # same keys, same order as state_dict()
        for k, v in ref.items():
            assert sds[name][k].dtype == v.dtype and torch.equal(sds[name][k], v), k


def _tiny_mat_config(tmp_path, **g_changes):
    p = tmp_path / 'mat_tiny.py'
    p.write_text(f'model = dict(type="MATInpaintor", generator={dict(TINY_G, **g_changes)!r}, '
                 f'discriminator={TINY_D!r})\n')
    return str(p)


def test_converter_round_trip(release_pickle, tmp_path):
    from irkit.fileio.checkpoint import safe_load
    from irkit.fileio.weights import convert_checkpoint
    path, nets, _ = release_pickle
    dst = tmp_path / 'mat_tiny.pth'
    s = convert_checkpoint(path, dst, 'mat', _tiny_mat_config(tmp_path))
    assert s['networks'] == ['discriminator', 'generator', 'generator_ema'] and s['target'] == 'model'
    assert s['tensors'] == sum(len(n.state_dict()) for n in nets.values())
    sd = safe_load(dst)['state_dict']  # weights_only
    for prefix, name in (('generator.', 'G'), ('generator_ema.', 'G_ema'), ('discriminator.', 'D')):
        ref = nets[name].state_dict()
        sub = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        assert set(sub) == set(ref)
        assert all(torch.equal(sub[k], ref[k]) for k in ref)


def test_converter_rejects_wrong_architecture(release_pickle, tmp_path):
    from irkit.fileio.checkpoint import CheckpointMismatchError
    from irkit.fileio.weights import convert_checkpoint
    path, _, _ = release_pickle
    with pytest.raises(CheckpointMismatchError, match='shape mismatch|missing'):
        convert_checkpoint(path, tmp_path / 'x.pth', 'mat', _tiny_mat_config(tmp_path, stage1_dim=18))
    assert not (tmp_path / 'x.pth').exists()


def test_bad_files(tmp_path):
    p = tmp_path / 'zip.pkl'
    torch.save({'a': torch.zeros(1)}, p)
    with pytest.raises(UnsupportedPickleError, match='torch.save'):
        load_stylegan_pickle(p)
    t = tmp_path / 'trunc.pkl'
    t.write_bytes(pickle.dumps({'G': nn.Linear(2, 2)})[:20])
    with pytest.raises(UnsupportedPickleError, match='not a readable'):
        load_stylegan_pickle(t)
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        load_stylegan_pickle(tmp_path / 'nope.pkl')
    plain = tmp_path / 'plain.pkl'
    plain.write_bytes(pickle.dumps({'x': 1}))
    with pytest.raises(UnsupportedPickleError, match="none of"):
        extract_state_dicts(load_stylegan_pickle(plain))
