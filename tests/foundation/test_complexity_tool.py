import importlib.util
import os

from tests.helpers import ROOT


def test_complexity_tool_counts_dncnn_by_hand():
    spec = importlib.util.spec_from_file_location('irkit_tool_complexity', os.path.join(ROOT, 'tools/complexity.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tool.main([os.path.join(ROOT, 'configs/demo_denoise.py'), '--shape', '16', '24', '--runs', '1',
                     '--cfg-options', 'model.generator.nc=8', 'model.generator.nb=4'])
    # DnCNN(3->8, 2 x 8->8, 8->3), 3x3 convs with bias
    params = (3 * 8 * 9 + 8) + 2 * (8 * 8 * 9 + 8) + (8 * 3 * 9 + 3)
    macs = (3 * 8 * 9 + 2 * 8 * 8 * 9 + 8 * 3 * 9) * 16 * 24
    assert out['params'] == params
    assert out['macs'] == macs
    assert out['latency'] > 0
