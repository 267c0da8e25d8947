"""Official-checkpoint conversion: small files in each official layout, written here.

Each file is converted with tools/convert_checkpoint.py's function, and the .pth and
.safetensors outputs must load strictly into the network the config builds and hold
exactly the source tensors. Files that would run code when unpickled normally are
read without running it.
"""
import argparse
import os
import pickle
import sys
import types

import pytest
import torch

import irkit.engine.runner  # noqa: F401  (mmengine samplers/loops, as the tools import them)
from irkit.fileio.checkpoint import CheckpointMismatchError, UnsafeCheckpointError, safe_load
from irkit.fileio.safe_unpickle import Opaque, restricted_load
from irkit.fileio.weights import ConversionError, convert_checkpoint
from irkit.registry import ARCHS
from tests.helpers import ROOT

TINY_MPRNET = {'model.generator.n_feat': 8, 'model.generator.scale_unetfeats': 4,
               'model.generator.scale_orsnetfeats': 4, 'model.generator.num_cab': 1}
TINY_RESTORMER = {'model.generator.dim': 8, 'model.generator.num_blocks': [1, 1, 1, 1],
                  'model.generator.num_refinement_blocks': 1, 'model.generator.heads': [1, 1, 1, 1]}
TINY_PROMPTIR = {'model.generator.num_blocks': [0, 0, 0, 0], 'model.generator.num_refinement_blocks': 0,
                 'model.generator.ffn_expansion_factor': 0.5}
TINY_CLIP = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=64, head_width=32, patch_size=8),
                 text_cfg=dict(context_length=16, vocab_size=600, width=32, heads=2, layers=2))
CT = {r: 16 for r in (512, 256, 128, 64, 32, 16, 8, 4)}
TINY_G = dict(type='MATGenerator', z_dim=16, w_dim=16, img_resolution=128, channel_table=CT, stage1_dim=24)
TINY_D = dict(type='MATDiscriminator', img_resolution=128, channel_table=CT)


class Evil:
    """Unpickling this runs Python code that writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w').write('pwned')",))


def _randomized(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(net.parameters()) + [b for b in net.buffers() if b.is_floating_point()]:
            t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return net


def _build(config, opts, key='generator'):
    from irkit.utils.config import load_config
    cfg = load_config(config, opts)
    sub = dict(cfg.model[key])
    sub.pop('pretrained', None) if key == 'daclip' else None
    return _randomized(ARCHS.build(sub))


def _check(summary, reference, expect_target='generator'):
    assert summary['verified'] and summary['target'] == expect_target
    pth, st = summary['outputs']
    assert pth.endswith('.pth') and st.endswith('.safetensors')
    for path in (pth, st):
        sd = safe_load(path)
        sd = sd['state_dict'] if 'state_dict' in sd else sd
        assert set(sd) == set(reference)
        for k, v in reference.items():
            assert torch.equal(sd[k], v), k
    meta = safe_load(pth)['meta']
    assert meta['source_sha256'] == summary['source_sha256'] and len(meta['source_sha256']) == 64


def test_mprnet_legacy_format_with_module_prefix(tmp_path):
    cfg = os.path.join(ROOT, 'configs/mprnet_gopro.py')
    net = _build(cfg, TINY_MPRNET)
    sd = net.state_dict()
    src = tmp_path / 'model_deblurring.pth'
    torch.save({'epoch': 3000, 'state_dict': {f'module.{k}': v for k, v in sd.items()}}, src,
               _use_new_zipfile_serialization=False)  # the 2021 release predates the zip format
    s = convert_checkpoint(src, tmp_path / 'mprnet_gopro.pth', 'mprnet', cfg, TINY_MPRNET)
    _check(s, sd)
    prelu = [k for k in sd if k.endswith('.weight') and sd[k].numel() == 1]
    assert len(prelu) > 1  # the shared PReLU is stored under several keys and survives


def test_restormer_basicsr_params(tmp_path):
    cfg = os.path.join(ROOT, 'configs/restormer_gopro.py')
    sd = _build(cfg, TINY_RESTORMER).state_dict()
    src = tmp_path / 'motion_deblurring.pth'
    torch.save({'params': sd}, src)
    _check(convert_checkpoint(src, tmp_path / 'out', 'restormer', cfg, TINY_RESTORMER), sd)


def test_promptir_lightning_checkpoint_with_code_in_hyperparameters(tmp_path):
    marker = tmp_path / 'marker'
    pickle.loads(pickle.dumps(Evil(marker)))  # the payload is live ...
    assert marker.exists()
    marker.unlink()
    cfg = os.path.join(ROOT, 'configs/promptir_allinone.py')
    sd = _build(cfg, TINY_PROMPTIR).state_dict()
    src = tmp_path / 'model.ckpt'
    torch.save({'epoch': 119, 'global_step': 534000, 'pytorch-lightning_version': '2.0.0',
                'state_dict': {f'net.{k}': v for k, v in sd.items()},
                'loops': {'fit_loop': {'state_dict': {}}},
                'optimizer_states': [{'state': {0: {'exp_avg': torch.zeros(2)}}, 'param_groups': [{'lr': 1e-4}]}],
                'hyper_parameters': {'opt': argparse.Namespace(lr=2e-4), 'trigger': Evil(marker)},
                'callbacks': {"ModelCheckpoint{'monitor': None}": {'best_model_path': 'x'}}}, src)
    with pytest.raises(UnsafeCheckpointError):
        safe_load(src)  # irkit's normal loader refuses it
    raw = restricted_load(src)  # ... and the restricted one reads it without running anything
    assert isinstance(raw['hyper_parameters']['trigger'], Opaque)
    assert raw['hyper_parameters']['trigger'].cls_name.endswith('.eval')  # __builtin__ in protocol 2
    s = convert_checkpoint(src, tmp_path / 'promptir', 'promptir', cfg, TINY_PROMPTIR)
    assert not marker.exists()
    assert s['read_with'] == 'restricted' and 'hyper_parameters' in s['ignored_entries']
    _check(s, sd)


def test_restricted_load_runs_nothing_from_a_file_that_is_one_short_pickle(tmp_path):
    """The format sniffing reads the file's first bytes with the restricted unpickler too:
    a crafted 40-byte pickle calling os.system must not run there either."""
    marker = tmp_path / 'marker'
    src = tmp_path / 'short.pkl'
    src.write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())
    obj = restricted_load(src)
    assert isinstance(obj, Opaque) and obj.cls_name == 'os.system'
    assert not marker.exists()


def _fake_persistence(marker):
    """A stand-in for StyleGAN2's torch_utils.persistence: its reconstructor executes the
    module source embedded in the pickle (as the real one does)."""
    mod = types.ModuleType('torch_utils.persistence')

    def _reconstruct_persistent_obj(meta):
        exec(meta['module_src'], {})
        obj = types.SimpleNamespace()
        obj.__dict__.update(meta['state'])
        return obj
    _reconstruct_persistent_obj.__module__ = 'torch_utils.persistence'
    _reconstruct_persistent_obj.__qualname__ = '_reconstruct_persistent_obj'
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class Persistent:
        def __init__(self, net):
            self.net = net

        def __reduce__(self):
            meta = dict(type='class', version=6, class_name='Generator',
                        module_src=f"open({str(marker)!r}, 'w').write('pwned')",
                        state=dict(self.net.__dict__))
            return (_reconstruct_persistent_obj, (meta,))
    return mod, Persistent


def _mat_config(tmp_path):
    p = tmp_path / 'mat_tiny.py'
    p.write_text(f'model = dict(type="MATInpaintor", generator={TINY_G!r}, discriminator={TINY_D!r})\n')
    return str(p)


def test_mat_stylegan_snapshot_pickle(tmp_path):
    marker = tmp_path / 'marker'
    mod, Persistent = _fake_persistence(marker)
    torch.manual_seed(0)
    g, g_ema = _randomized(ARCHS.build(TINY_G), 1), _randomized(ARCHS.build(TINY_G), 2)
    d = _randomized(ARCHS.build(TINY_D), 3)
    snap = {'G': Persistent(g), 'D': Persistent(d), 'G_ema': Persistent(g_ema), 'augment_pipe': None,
            'training_set_kwargs': {'path': '/data/places', 'evil': Evil(marker)}}
    pkg = types.ModuleType('torch_utils')
    pkg.persistence = mod
    sys.modules['torch_utils'], sys.modules['torch_utils.persistence'] = pkg, mod
    try:
        blob = pickle.dumps(snap)
        pickle.loads(pickle.dumps(Persistent(torch.nn.Linear(1, 1))))  # the payload is live
        assert marker.exists()
        marker.unlink()
    finally:
        del sys.modules['torch_utils'], sys.modules['torch_utils.persistence']
    src = tmp_path / 'Places_512.pkl'
    src.write_bytes(blob)
    cfg = _mat_config(tmp_path)
    s = convert_checkpoint(src, tmp_path / 'mat', 'mat', cfg)
    assert not marker.exists()
    assert s['networks'] == ['discriminator', 'generator', 'generator_ema'] and s['target'] == 'model'
    ref = {**{f'generator.{k}': v for k, v in g.state_dict().items()},
           **{f'generator_ema.{k}': v for k, v in g_ema.state_dict().items()},
           **{f'discriminator.{k}': v for k, v in d.state_dict().items()}}
    _check(s, ref, expect_target='model')

    # a snapshot holding only G_ema converts to the bare generator
    src2 = tmp_path / 'G_ema_only.pkl'
    with open(src2, 'wb') as f:
        pickle.dump({'G_ema': g_ema}, f)
    s2 = convert_checkpoint(src2, tmp_path / 'mat_g', 'mat', cfg)
    _check(s2, g_ema.state_dict(), expect_target='generator')


def test_daclip_and_irsde_unet(tmp_path):
    cfg = tmp_path / 'uir_tiny.py'
    cfg.write_text(
        'model = dict(type="SDERestorer", generator=dict(type="ConditionalUNet", in_nc=3, out_nc=3, nf=32, '
        'ch_mult=[1, 1], context_dim=32, use_degra_context=True, use_image_context=True), '
        'sde=dict(max_sigma=50, T=10, schedule="cosine", eps=0.005), '
        f'daclip=dict(type="DaCLIP", clip_cfg={TINY_CLIP!r}, pretrained="daclip_tiny.pt"))\n')
    dc = _build(str(cfg), None, key='daclip')
    dsd = dc.state_dict()
    assert any(k.startswith('clip.visual.') for k in dsd) and any(k.startswith('visual.') for k in dsd)
    src = tmp_path / 'daclip_ViT-B-32.pt'
    torch.save({'epoch': 30, 'name': 'daclip', 'state_dict': {f'module.{k}': v for k, v in dsd.items()}}, src)
    _check(convert_checkpoint(src, tmp_path / 'daclip', 'daclip', str(cfg)), dsd, expect_target='daclip')

    unet = _build(str(cfg), None)
    usd = unet.state_dict()
    src = tmp_path / 'universal-ir.pth'
    torch.save(usd, src)
    _check(convert_checkpoint(src, tmp_path / 'uir', 'irsde', str(cfg)), usd)


def test_wrong_architecture_and_wrong_layout_are_named(tmp_path):
    cfg = os.path.join(ROOT, 'configs/mprnet_gopro.py')
    rsd = _build(os.path.join(ROOT, 'configs/restormer_gopro.py'), TINY_RESTORMER).state_dict()
    src = tmp_path / 'deraining.pth'
    torch.save({'state_dict': rsd}, src)
    with pytest.raises(CheckpointMismatchError, match='missing from the checkpoint'):
        convert_checkpoint(src, tmp_path / 'x', 'mprnet', cfg, TINY_MPRNET)
    with pytest.raises(ConversionError, match=r"\['params'"):
        convert_checkpoint(src, tmp_path / 'x', 'restormer', cfg, TINY_MPRNET)
    assert not (tmp_path / 'x.pth').exists()


def test_convert_tool_cli(tmp_path, capsys):
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    try:
        import convert_checkpoint as tool
    finally:
        sys.path.pop(0)
    cfg = os.path.join(ROOT, 'configs/restormer_gopro.py')
    sd = _build(cfg, TINY_RESTORMER).state_dict()
    src = tmp_path / 'motion_deblurring.pth'
    torch.save({'params': sd}, src)
    opts = [f'{k}={v}'.replace(' ', '') for k, v in TINY_RESTORMER.items()]
    s = tool.main([str(src), str(tmp_path / 'rs.pth'), '--model', 'restormer_gopro', '--cfg-options', *opts])
    _check(s, sd)
    assert '"verified": true' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='unknown model'):
        tool.main([str(src), str(tmp_path / 'rs.pth'), '--model', 'nope'])
