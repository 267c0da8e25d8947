import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn

from irkit.fileio.checkpoint import (CheckpointMismatchError, UnsafeCheckpointError, atomic_save,
                                     latest_checkpoint, safe_load)
from irkit.fileio.weights import load_weights


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4, 2)


class _Wrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = _Net()


def _sd(seed=0):
    torch.manual_seed(seed)
    return _Net().state_dict()


@pytest.mark.parametrize('layout', ['bare', 'state_dict', 'params', 'params_ema', 'lightning', 'dataparallel'])
def test_official_layouts_load_strictly(tmp_path, layout):
    sd = _sd()
    obj = {'bare': sd, 'state_dict': {'state_dict': sd, 'epoch': 3},
           'params': {'params': sd}, 'params_ema': {'params_ema': sd},
           'lightning': {'state_dict': {f'net.{k}': v for k, v in sd.items()}, 'epoch': 1, 'global_step': 10},
           'dataparallel': {'state_dict': {f'module.{k}': v for k, v in sd.items()}}}[layout]
    path = tmp_path / 'ck.pth'
    torch.save(obj, path)
    net = _Net()
    load_weights(net, str(path))
    for k, v in sd.items():
        assert torch.equal(net.state_dict()[k], v)


def test_arch_checkpoint_loads_into_model_generator_and_back(tmp_path):
    sd = _sd(1)
    torch.save({'params': sd}, tmp_path / 'arch.pth')
    w = _Wrapper()
    load_weights(w, str(tmp_path / 'arch.pth'))
    assert torch.equal(w.generator.conv.weight, sd['conv.weight'])
    torch.save({'state_dict': w.state_dict()}, tmp_path / 'model.pth')
    net = _Net()
    load_weights(net, str(tmp_path / 'model.pth'))  # 'generator.' prefix stripped
    assert torch.equal(net.head.bias, sd['head.bias'])


def test_mismatch_report_names_keys_and_shapes(tmp_path):
    sd = _sd()
    sd['extra.weight'] = torch.zeros(1)
    sd['head.weight'] = torch.zeros(5, 4)
    del sd['conv.bias']
    torch.save(sd, tmp_path / 'bad.pth')
    with pytest.raises(CheckpointMismatchError) as e:
        load_weights(_Net(), str(tmp_path / 'bad.pth'))
    msg = str(e.value)
    assert 'bad.pth' in msg and 'conv.bias' in msg and 'extra.weight' in msg
    assert 'head.weight: checkpoint (5, 4) vs model (2, 4)' in msg


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_code_in_pickle_is_never_executed(tmp_path):
    marker = tmp_path / 'PWNED'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': _sd(), 'payload': _Evil(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        safe_load(path)
    assert not marker.exists()
    # a plain pickle (not torch zip format) with the same payload
    with open(tmp_path / 'evil2.pth', 'wb') as f:
        pickle.dump(_Evil(marker), f)
    with pytest.raises((UnsafeCheckpointError, RuntimeError)):
        safe_load(tmp_path / 'evil2.pth')
    assert not marker.exists()


def test_numpy_values_in_meta_are_allowed(tmp_path):
    import numpy as np
    torch.save({'state_dict': _sd(), 'meta': {'best': np.float64(31.5), 'arr': np.arange(3)}}, tmp_path / 'n.pth')
    ck = safe_load(tmp_path / 'n.pth')
    assert float(ck['meta']['best']) == 31.5


def test_safetensors_and_missing_and_empty(tmp_path):
    from safetensors.torch import save_file
    sd = _sd()
    save_file(sd, str(tmp_path / 'w.safetensors'))
    net = _Net()
    load_weights(net, str(tmp_path / 'w.safetensors'))
    assert torch.equal(net.conv.weight, sd['conv.weight'])
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_load(tmp_path / 'nope.pth')
    (tmp_path / 'empty.pth').write_bytes(b'')
    with pytest.raises(RuntimeError, match='empty'):
        safe_load(tmp_path / 'empty.pth')
    (tmp_path / 'trunc.pth').write_bytes(open(tmp_path / 'w.safetensors', 'rb').read()[:50])
    with pytest.raises(RuntimeError, match='trunc.pth'):
        safe_load(tmp_path / 'trunc.pth')


def test_atomic_save_and_latest(tmp_path):
    atomic_save({'a': torch.ones(1)}, tmp_path / 'iter_2.pth')
    atomic_save({'a': torch.ones(1)}, tmp_path / 'iter_10.pth')
    (tmp_path / '.iter_20.pth.irkit-tmp.123@host.abcd').write_bytes(b'partial')
    (tmp_path / 'iter_30.pth.tmp').write_bytes(b'partial')
    assert latest_checkpoint(tmp_path).name == 'iter_10.pth'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        '.iter_20.pth.irkit-tmp.123@host.abcd', 'iter_10.pth', 'iter_2.pth', 'iter_30.pth.tmp']


def test_checkpoint_meta_is_plain_data(tmp_path):
    """Config objects that reach a checkpoint's meta (e.g. a dataset's metainfo built from a
    config) are stored as plain dicts, so the weights-only loader reads the file."""
    from mmengine.config import ConfigDict

    from irkit.engine.runner import _plain
    from irkit.fileio.checkpoint import safe_load
    meta = {'dataset_meta': ConfigDict(tasks=[ConfigDict(name='derain', repeat=np.int64(3))],
                                       sizes=(np.float32(0.5), 2))}
    plain = _plain(meta)
    assert type(plain['dataset_meta']) is dict and type(plain['dataset_meta']['tasks'][0]) is dict
    assert plain['dataset_meta']['tasks'][0]['repeat'] == 3 and plain['dataset_meta']['sizes'] == (0.5, 2)
    torch.save({'meta': plain}, tmp_path / 'c.pth')
    assert safe_load(tmp_path / 'c.pth')['meta'] == plain
    torch.save({'meta': meta}, tmp_path / 'raw.pth')
    with pytest.raises(Exception, match='ConfigDict'):
        safe_load(tmp_path / 'raw.pth')


# ----------------------------------------------------------------------------- integrity
def _flip_inside(path, tensor):
    """Change one byte inside ``tensor``'s data as stored in ``path`` (a torch zip archive)."""
    data = bytearray(path.read_bytes())
    pos = bytes(data).find(tensor.numpy().tobytes())
    assert pos > 0 and bytes(data).find(tensor.numpy().tobytes(), pos + 1) < 0
    data[pos + 5] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_tensor_corrupted_on_disk_is_detected(tmp_path):
    from irkit.fileio.checkpoint import CorruptCheckpointError, add_checksums
    sd = _sd()
    ck = add_checksums({'state_dict': sd, 'optimizer': {'state': {0: {'exp_avg': torch.ones(5)}}}})
    atomic_save(ck, tmp_path / 'c.pth')
    assert torch.equal(safe_load(tmp_path / 'c.pth')['state_dict']['head.weight'], sd['head.weight'])
    _flip_inside(tmp_path / 'c.pth', sd['head.weight'])
    with pytest.raises(CorruptCheckpointError, match=r'c\.pth is corrupted: tensors whose bytes changed: '
                                                     r'state_dict/head\.weight \('):
        safe_load(tmp_path / 'c.pth')


def test_not_a_checkpoint_is_not_called_unsafe(tmp_path):
    from irkit.fileio.checkpoint import CorruptCheckpointError
    rng = np.random.default_rng(0)
    (tmp_path / 'rand.pth').write_bytes(rng.bytes(5000))
    (tmp_path / 'text.pth').write_text('hello\n')
    (tmp_path / 'pickle_like.pth').write_bytes(b'\x80\x02' + rng.bytes(5000))
    for name in ('rand.pth', 'text.pth', 'pickle_like.pth'):
        with pytest.raises(CorruptCheckpointError) as e:
            safe_load(tmp_path / name)
        msg = str(e.value)
        assert name in msg and 'run code' not in msg and 'weights_only' not in msg
        assert ('not a checkpoint' in msg) if name != 'pickle_like.pth' else 'damaged' in msg
    torch.save(_sd(), tmp_path / 'ok.pth')
    (tmp_path / 'half.pth').write_bytes((tmp_path / 'ok.pth').read_bytes()[:400])
    with pytest.raises(CorruptCheckpointError, match=r'half\.pth: it is truncated or damaged'):
        safe_load(tmp_path / 'half.pth')


def test_safetensors_with_an_absurd_header_is_one_clear_error(tmp_path):
    from irkit.fileio.checkpoint import CorruptCheckpointError
    (tmp_path / 'huge.safetensors').write_bytes((1 << 60).to_bytes(8, 'little') + b'{}' * 10)
    with pytest.raises(CorruptCheckpointError, match=r'huge\.safetensors is not a readable safetensors '
                                                     r'file: its header claims 1152921504606846976 bytes'):
        safe_load(tmp_path / 'huge.safetensors')


def test_atomic_save_uses_the_umask_and_leaves_no_temporary(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_save({'a': torch.ones(1)}, tmp_path / 'x.pth')
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / 'x.pth').st_mode & 0o777) == 0o640  # as open() would; 0600 before
    assert os.listdir(tmp_path) == ['x.pth']


def test_nonfinite_weights_are_refused_unless_allowed(tmp_path):
    from irkit.fileio.checkpoint import NonFiniteCheckpointError
    sd = _sd()
    sd['conv.bias'][1] = float('inf')
    torch.save({'state_dict': sd}, tmp_path / 'inf.pth')
    with pytest.raises(NonFiniteCheckpointError, match=r'inf\.pth: 1 weight tensor\(s\) .*conv\.bias'):
        load_weights(_Net(), str(tmp_path / 'inf.pth'))
    net = _Net()
    load_weights(net, str(tmp_path / 'inf.pth'), allow_nonfinite=True)
    assert torch.isinf(net.conv.bias[1])
