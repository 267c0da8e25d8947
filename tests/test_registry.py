import subprocess
import sys
import textwrap

import pytest
import torch.nn as nn
from mmengine.registry import DATASETS as MM_DATASETS
from mmengine.registry import HOOKS as MM_HOOKS
from mmengine.registry import METRICS as MM_METRICS
from mmengine.registry import MODELS as MM_MODELS
from mmengine.registry import TRANSFORMS as MM_TRANSFORMS

from irkit.registry import ARCHS, DATASETS, HOOKS, LOSSES, METRICS, MODELS, TRANSFORMS, ConfigKeyError


def test_registries_are_mmengine_children():
    assert MODELS.parent is MM_MODELS and ARCHS.parent is MM_MODELS and LOSSES.parent is MM_MODELS
    assert DATASETS.parent is MM_DATASETS and TRANSFORMS.parent is MM_TRANSFORMS
    assert METRICS.parent is MM_METRICS and HOOKS.parent is MM_HOOKS
    assert MODELS.scope == 'irkit'
    # mmengine resolves the default scope 'irkit' to irkit's registries
    assert MM_MODELS._search_child('irkit') is MODELS
    assert MM_DATASETS._search_child('irkit') is DATASETS


def test_lazy_locations_fill_registries():
    assert ARCHS.get('DnCNN') is not None  # imported on first query via locations=
    assert MODELS.get('Restorer') is not None
    assert HOOKS.get('NonFiniteGuardHook') is not None


def test_strict_build_names_the_closest_argument():
    with pytest.raises(ConfigKeyError, match=r"unexpected argument 'n_c'.*did you mean 'nc'"):
        ARCHS.build(dict(type='DnCNN', n_c=8))
    with pytest.raises(ConfigKeyError, match=r"'DnCNNN' is not registered.*did you mean 'DnCNN'"):
        ARCHS.build(dict(type='DnCNNN'))
    net = ARCHS.build(dict(type='DnCNN', nc=8, nb=3))
    assert isinstance(net, nn.Module)


def test_import_irkit_is_light():
    # mmengine.optim (imported by mmcv.cnn, which the MMagic-port archs build their layers with)
    # imports transformers itself when it is installed: what mmengine loads is the baseline, and this
    # checks what irkit adds: the package, its registries and every arch
    code = textwrap.dedent('''
        import sys
        import mmengine.optim  # noqa: F401
        names = ('open_clip', 'diffusers', 'transformers', 'torchvision')
        base = {m for m in names if m in sys.modules}
        import irkit, irkit.registry
        from irkit.registry import ARCHS
        ARCHS.get('DnCNN')
        heavy = [m for m in names if m in sys.modules and m not in base]
        print('HEAVY', heavy)
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert 'HEAVY []' in out, out


def test_plugin_from_outside_package_via_custom_imports(tmp_path):
    pkg = tmp_path / 'my_plugin_pkg'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(textwrap.dedent('''
        import torch.nn as nn
        from irkit.registry import ARCHS

        @ARCHS.register_module()
        class MyTinyNet(nn.Module):
            def __init__(self, channels: int = 3, width: int = 4):
                super().__init__()
                self.body = nn.Conv2d(channels, channels, 3, padding=1)
            def forward(self, x):
                return x + self.body(x)
    '''))
    cfg = tmp_path / 'plugin_cfg.py'
    cfg.write_text(textwrap.dedent('''
        custom_imports = dict(imports=['my_plugin_pkg'], allow_failed_imports=False)
        default_scope = 'irkit'
        model = dict(type='Restorer', generator=dict(type='MyTinyNet', width=8),
                     losses=[dict(type='L1Loss')])
    '''))
    code = textwrap.dedent(f'''
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import torch
        from irkit.apis import init_model
        m = init_model({str(cfg)!r})
        print(type(m.generator).__name__, tuple(m.generator(torch.zeros(1, 3, 8, 8)).shape))
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'MyTinyNet (1, 3, 8, 8)' in proc.stdout
