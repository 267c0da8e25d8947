"""Every config/option/file error through the command-line tools is one line naming the file (and
line), the key and what was expected; a bug in a network keeps its traceback.

The tools are called in-process through ``run_cli`` exactly as their ``__main__`` does."""
import importlib.util
import os

import cv2
import numpy as np
import pytest

from irkit.utils.cli import run_cli
from tests.helpers import ROOT

DEMO = os.path.join(ROOT, 'configs/demo_denoise.py')
TINY = ['model.generator.nc=8', 'model.generator.nb=3', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_iters=1']


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'irkit_tool_{name}', os.path.join(ROOT, 'tools', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cli(capsys, tool, argv):
    """Run ``tool``'s main under run_cli: (exit status, the 'error: ...' line)."""
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: _tool(tool).main(argv))
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and 'Warning' not in ln
           and not ln.startswith('  ')]
    assert err[-1] == '(set IRKIT_DEBUG=1 for the full traceback)', err
    assert len([ln for ln in err if ln.startswith('error: ')]) == 1 and err[-2].startswith('error: '), err
    return e.value.code, err[-2]


def _cfg(tmp_path, text, name='c.py'):
    p = tmp_path / name
    p.write_text(f"_base_ = ['{DEMO}']\n" + text)
    return str(p)


def test_config_syntax_error_names_the_file_and_line(tmp_path, capsys):
    bad = _cfg(tmp_path, 'model = dict(generator=dict(nc=8, nb=3)\ntrain_cfg = dict(max_iters=2)\n')
    code, line = _cli(capsys, 'train', [bad, '--work-dir', str(tmp_path / 'wd')])
    assert code == 1 and f'{bad}:2:' in line and 'invalid config syntax' in line and 'never closed' in line
    # in a _base_ file: that file is named
    base = tmp_path / 'base.py'
    base.write_text('x = [1, 2\n')
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base.py']\n")
    code, line = _cli(capsys, 'train', [str(child), '--work-dir', str(tmp_path / 'wd')])
    assert f'{base}:1:' in line and 'invalid config syntax' in line


@pytest.mark.parametrize('text,opts,want', [
    ("model = dict(generator=dict(nc='32', nb=3))\n", [],
     r"c\.py: model\.generator\.nc: DnCNN expects int, got str '32'$"),
    ('', ['optim_wrapper.optimizer.lr=fast'],
     r"c\.py: optim_wrapper\.optimizer\.lr: Adam expects float, got str 'fast' "
     r"\(from --cfg-options optim_wrapper\.optimizer\.lr='fast'\)"),
    ('', ['train_cfg.max_iters=abc'],
     r"c\.py: train_cfg\.max_iters: IterTrainLoop expects int, got str 'abc' \(from --cfg-options"),
    ('', ['train_dataloader.dataset.pipeline.1.crop_size=0'],
     r"c\.py: train_dataloader\.dataset\.pipeline\[1\] \(RandomCrop\): crop_size must be a positive int"),
    ('', ['train_cfg.max_iters'], r"--cfg-options train_cfg\.max_iters: expected KEY=VALUE"),
    ('', ['x=[1,'], r"--cfg-options x=\[1,: cannot parse the value '\[1,' of 'x'"),
])
def test_bad_values_and_options_name_file_key_and_expectation(tmp_path, capsys, text, opts, want):
    import re
    cfg = _cfg(tmp_path, text)
    extra = ['--cfg-options', *opts] if opts else []
    code, line = _cli(capsys, 'train', [cfg, '--work-dir', str(tmp_path / 'wd'), *extra])
    assert code == 1 and line.startswith('error: ConfigError: ') and re.search(want, line), line
    assert not (tmp_path / 'wd').exists()  # stopped before anything was written


def test_dataloader_worker_error_is_one_line_naming_the_sample(tmp_path, capsys):
    data = tmp_path / 'data'
    data.mkdir()
    for n in ('a', 'b', 'c'):
        cv2.imwrite(str(data / f'{n}.png'), np.full((48, 48, 3), 9, np.uint8))
    (data / 'b.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    cfg = _cfg(tmp_path, f"train_dataloader = dict(dataset=dict(data_root='{data}'))\n")
    opts = [o for o in TINY if 'num_workers' not in o and 'persistent' not in o] + [
        'train_dataloader.num_workers=2', 'train_cfg.max_iters=3', 'train_dataloader.batch_size=1']
    code, line = _cli(capsys, 'train', [cfg, '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *opts])
    assert line.startswith("error: SampleError: ImageFolderDataset sample 1 (key 'b'")
    assert str(data / 'b.png') in line and 'cannot decode' in line and 'Traceback' not in line


@pytest.mark.slow
def test_a_bug_in_the_users_network_keeps_its_traceback(tmp_path, capsys):
    cfg = _cfg(tmp_path, "custom_imports = dict(imports=['tests.plugins.irkit_plugins'], "
                         "allow_failed_imports=False)\nmodel = dict(generator=dict(_delete_=True, type='BrokenForward'))\n")
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: _tool('train').main([cfg, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
                                             *[o for o in TINY if 'generator' not in o]]))
    err = capsys.readouterr().err
    assert e.value.code == 1 and 'error: RuntimeError' not in err  # not reduced to one line
    assert 'Traceback (most recent call last)' in err and 'irkit_plugins.py' in err
    assert err.rstrip().splitlines()[-1].startswith('RuntimeError: ') and 'cannot be multiplied' in err


def test_inpaint_py_and_converters_print_one_line(tmp_path, capsys):
    (tmp_path / 'huge.safetensors').write_bytes((1 << 60).to_bytes(8, 'little') + b'{}')
    code, line = _cli(capsys, 'convert_checkpoint', [str(tmp_path / 'huge.safetensors'), str(tmp_path / 'o.pth'),
                                                     '--format', 'irkit', '--no-verify'])
    assert code == 1 and 'huge.safetensors is not a readable safetensors file' in line
    img = tmp_path / 'img.png'
    cv2.imwrite(str(img), np.zeros((16, 16, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'mask.png'), np.zeros((16, 16), np.uint8))
    (tmp_path / 'ck.pth').write_bytes(b'nope')
    code, line = _cli(capsys, 'inpaint', [os.path.join(ROOT, 'configs/mat_places.py'), str(tmp_path / 'ck.pth'),
                                          '--img', str(img), '--mask', str(tmp_path / 'mask.png'),
                                          '--out', str(tmp_path / 'out.png')])
    assert code == 1 and 'ck.pth is not a checkpoint' in line
