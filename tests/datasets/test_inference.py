"""Inference runs the config's test pipeline, adapted to user files (irkit.datasets.inference)."""
import cv2
import numpy as np
import pytest
import torch

from irkit.datasets.inference import InferencePipeline, inference_pipeline_cfg, config_test_pipeline
from irkit.utils.config import load_config


def types_and_keys(cfgs):
    return [(t['type'], t.get('key', t.get('keys'))) for t in cfgs]


def test_synthetic_test_sets_load_the_input_like_the_ground_truth():
    cfg = load_config('configs/demo_denoise.py')
    inf = inference_pipeline_cfg(config_test_pipeline(cfg), ['lq'])
    # the gt loader and the noise synthesis are dropped; lq is loaded with the gt loader's options
    assert types_and_keys(inf) == [('LoadImageFromFile', 'lq'), ('PackInputs', ['lq'])]


def test_dual_pixel_inputs_keep_their_decoding_and_concatenation():
    cfg = load_config('configs/restormer_dpdd_dual.py')
    inf = inference_pipeline_cfg(config_test_pipeline(cfg), ['lq_l', 'lq_r'])
    assert types_and_keys(inf) == [('LoadImageFromFile', 'lq_l'), ('LoadImageFromFile', 'lq_r'),
                                   ('ConcatChannels', ['lq_l', 'lq_r']), ('PackInputs', ['lq'])]
    assert all(t['color_type'] == 'unchanged' for t in inf[:2])


def test_inpainting_benchmark_crops_and_mask_sources_are_replaced():
    cfg = load_config('configs/mat_places.py')
    inf = inference_pipeline_cfg(config_test_pipeline(cfg), ['gt'], 'mask', white_is_hole=True)
    assert types_and_keys(inf) == [('LoadImageFromFile', 'gt'), ('LoadMask', 'mask'), ('PackInputs', ['gt', 'mask'])]
    assert inf[1]['white_is_hole'] is True  # the user's convention, not MAT's released masks'


def test_16_bit_input_is_decoded_as_the_test_pipeline_decodes_it(tmp_path):
    """restormer_dpdd_single reads DPDD's 16-bit PNGs as the official code does (high byte / 255)."""
    img = (np.arange(5 * 7 * 3, dtype=np.uint16).reshape(5, 7, 3) * 997) % 65535
    cv2.imwrite(str(tmp_path / 'in.png'), img)
    cfg = load_config('configs/restormer_dpdd_single.py')
    sample = InferencePipeline(cfg, ['lq'])({'lq': str(tmp_path / 'in.png')}, key='in')
    expect = (img[..., ::-1] >> 8).astype(np.float32) / 255  # RGB, high byte
    assert torch.allclose(sample['lq'], torch.from_numpy(expect.transpose(2, 0, 1).copy()), atol=1e-7)
    assert set(sample) >= {'lq', 'key'} and 'gt' not in sample


def test_restore_api_takes_a_dict_for_several_inputs(tmp_path):
    from irkit.apis import init_model, restore
    opts = {'model.generator.dim': 8, 'model.generator.num_blocks': [1, 1, 1, 1],
            'model.generator.num_refinement_blocks': 1, 'model.generator.heads': [1, 1, 1, 1]}
    model = init_model('configs/restormer_dpdd_dual.py', cfg_options=opts)
    rng = np.random.default_rng(0)
    for side in 'lr':
        cv2.imwrite(str(tmp_path / f'{side}.png'), rng.integers(0, 65535, (12, 20, 3), dtype=np.uint16))
    out = restore(model, {'lq_l': str(tmp_path / 'l.png'), 'lq_r': str(tmp_path / 'r.png')})
    assert out.shape == (3, 12, 20)
    with pytest.raises(ValueError, match="2 input images .*'lq_l': path"):
        restore(model, str(tmp_path / 'l.png'))
