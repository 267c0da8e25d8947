"""tools/complexity.py in-process (run as a command: tests/e2e/test_complexity.py)."""
import importlib.util
import os

from tests.helpers import ROOT


def _tool():
    spec = importlib.util.spec_from_file_location('irkit_tool_complexity', os.path.join(ROOT, 'tools/complexity.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_complexity_tool_counts_dncnn_by_hand():
    tool = _tool()
    out = tool.main([os.path.join(ROOT, 'configs/demo_denoise.py'), '--shape', '16', '24', '--runs', '1',
                     '--cfg-options', 'model.generator.nc=8', 'model.generator.nb=4'])
    # DnCNN(3->8, 2 x 8->8, 8->3), 3x3 convs with bias
    params = (3 * 8 * 9 + 8) + 2 * (8 * 8 * 9 + 8) + (8 * 3 * 9 + 3)
    macs = (3 * 8 * 9 + 2 * 8 * 8 * 9 + 8 * 3 * 9) * 16 * 24
    assert out['params'] == params
    assert out['macs'] == macs
    assert out['latency'] > 0


def test_complexity_tool_calls_an_inpainting_generator_as_its_model_does(tmp_path, capsys):
    """A GANInpaintor whose generator declares inputs='image_mask' gets G(img, mask)."""
    cfg = tmp_path / 'inpaint.py'
    cfg.write_text(f"_base_ = ['{ROOT}/configs/_base_/default_runtime.py']\n"
                   "custom_imports = dict(imports=['tests.plugins.irkit_plugins'], allow_failed_imports=False)\n"
                   "model = dict(type='GANInpaintor', generator=dict(type='ImageMaskConvInpainter'))\n")
    out = _tool().main([str(cfg), '--shape', '20', '12', '--runs', '1'])
    assert out['params'] == 4 * 3 * 9 + 3
    assert out['macs'] == 4 * 3 * 9 * 20 * 12
    printed = capsys.readouterr().out
    for stage in ('building the model', 'counting MACs', 'timed forward 1/1'):  # progress, as it goes
        assert stage in printed
    assert 'mask 1x1x20x12' in printed and 'GANInpaintor.generate_eval' in printed
