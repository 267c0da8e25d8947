"""tools/complexity.py run as a command on a tiny MAT (its in-process tests: tests/tools/test_complexity.py)."""
import os
import sys

import pytest

from tests.helpers import ROOT, TINY_MAT, run_tool


@pytest.mark.slow
def test_complexity_tool_runs_mat_with_its_real_signature():
    """MAT: G(images_in, masks_in, z, c) at its fixed resolution (tiny MAT, 128 px)."""
    model_opts = [o for o in TINY_MAT if o.startswith('model.')]
    proc = run_tool([sys.executable, 'tools/complexity.py', 'configs/mat_places.py', '--shape', '96', '64',
                     '--runs', '0', '--cfg-options', *model_opts], timeout=900)
    out = proc.stdout
    from irkit.apis import init_model
    model = init_model(os.path.join(ROOT, 'configs/mat_places.py'), cfg_options={
        'model.generator.z_dim': 32, 'model.generator.w_dim': 32, 'model.generator.img_resolution': 128,
        'model.generator.stage1_dim': 12, 'model.generator.channel_table': [16, 32, 32, 32, 32, 32],
        'model.discriminator.img_resolution': 128, 'model.discriminator.channel_table': [16, 32, 32, 32, 32, 32],
        'model.perceptual_loss.pretrained': False})
    assert f'parameters: {sum(p.numel() for p in model.generator.parameters()):,} ' in out
    assert 'network:    MATGenerator' in out
    assert 'runs at its fixed 128x128' in out and 'image 1x3x128x128 + mask 1x1x128x128' in out
    assert 'MATInpaintor.generate_eval' in out
    macs = float(out.split('MACs:')[1].split('G')[0])
    assert macs > 0.05  # the synthesis network ran (the mapping network alone is < 0.001 G)
