"""The demo's REST API, through real HTTP requests to a server on a free local port."""
import json
import os

import numpy as np
import pytest
import torch

from irkit.apis import restore
from irkit.apis.inpainting import inpaint

from .conftest import decode_rgb, detail, png_bytes, request

pytestmark = pytest.mark.demo  # skipped without the demo extra; CI runs them again with it


def image(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def hole_mask(h=48, w=64):
    m = np.zeros((h, w), np.uint8)
    m[10:22, 20:41] = 255
    return m


def to_uint8(t):
    return (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def test_models_endpoint_names_task_config_and_weights(server):
    status, _, body = request(f'{server.url}/api/v1/models')
    models = {m['name']: m for m in json.loads(body)}
    assert status == 200 and set(models) == {'demo_denoise', 'toy_inpaint'}
    assert models['demo_denoise']['task'] == 'restoration' and models['demo_denoise']['inputs'] == ['lq']
    assert models['demo_denoise']['config'].endswith('configs/demo_denoise.py')
    assert models['demo_denoise']['degradation'] == 'AddGaussianNoise(sigma=25, seed=0)'
    assert models['toy_inpaint']['task'] == 'inpainting'
    assert models['toy_inpaint']['strategies'] == ['whole', 'crop', 'resize']
    assert all(m['weights'] == 'random initialisation (no checkpoint given)' for m in models.values())


def test_inpaint_endpoint_returns_the_api_result_and_keeps_known_pixels(server, demo_models):
    img, mask = image(), hole_mask()
    status, headers, body = request(f'{server.url}/api/v1/inpaint', fields={'model': 'toy_inpaint', 'seed': 7},
                                    files={'image': ('photo.png', png_bytes(img)), 'mask': ('m.png', png_bytes(mask))})
    assert status == 200 and headers['content-type'] == 'image/png'
    assert headers['content-disposition'] == 'attachment; filename="photo_toy_inpaint.png"'
    out = decode_rgb(body)
    assert out.shape == img.shape
    known = mask == 0
    assert np.array_equal(out[known], img[known])
    assert (out[~known] != img[~known]).any(axis=1).mean() > 0.9   # the random toy net changes the hole
    expected = inpaint(demo_models[1].model, img, torch.from_numpy(known.astype(np.float32)), seed=7)
    assert np.array_equal(out, to_uint8(expected))


def test_inpaint_endpoint_strategies(server, demo_models):
    img = image(64, 96, seed=1)
    mask = np.zeros((64, 96), np.uint8)
    mask[5:9, 5:9] = 255
    mask[50:60, 80:90] = 255
    known = torch.from_numpy((mask == 0).astype(np.float32))
    for strategy, extra in (('crop', {'crop_margin': 6}), ('resize', {'resize_limit': 48})):
        status, _, body = request(f'{server.url}/api/v1/inpaint', fields={'strategy': strategy, **extra},
                                  files={'image': ('a.png', png_bytes(img)), 'mask': ('m.png', png_bytes(mask))})
        assert status == 200, body
        kw = {'crop_margin': 6} if strategy == 'crop' else {'resize_limit': 48}
        expected = inpaint(demo_models[1].model, img, known, strategy=strategy, **kw)
        assert np.array_equal(decode_rgb(body), to_uint8(expected)), strategy


def test_restore_endpoint_tiles_and_reports_progress(server, demo_models, tmp_path):
    img = image(40, 56, seed=2)
    status, headers, body = request(f'{server.url}/api/v1/restore',
                                    fields={'model': 'demo_denoise', 'tile': 24, 'tile_overlap': 8, 'job': 'r-1'},
                                    files={'image': ('noisy.png', png_bytes(img))})
    assert status == 200 and headers['x-image-size'] == '56x40'
    path = tmp_path / 'noisy.png'
    path.write_bytes(png_bytes(img))
    expected = restore(demo_models[0].model, str(path), tile=24, tile_overlap=8)
    assert np.array_equal(decode_rgb(body), to_uint8(expected))
    status, _, body = request(f'{server.url}/api/v1/progress/r-1')
    # 40x56 in 24-pixel tiles with step 16: rows start at 0, 16; columns at 0, 16, 32 -> 6 passes
    assert status == 200 and json.loads(body)['stage'] == 'done'
    assert (json.loads(body)['done'], json.loads(body)['total']) == (6, 6)


def test_degrade_is_the_test_sets_input_and_restore_degrade_restores_it(server, demo_models, repo_root):
    from mmengine.config import Config

    from irkit.registry import DATASETS
    clean = open(f'{repo_root}/data/demo/test/chelsea.png', 'rb').read()
    # independent: the sample tools/test.py evaluates (noise fixed by the config's seed and the key 'chelsea')
    cfg = Config.fromfile(f'{repo_root}/configs/demo_denoise.py')
    ds = DATASETS.build({**cfg.test_dataloader.dataset, 'data_root': f'{repo_root}/data/demo/test'})
    sample = next(ds[i] for i in range(len(ds)) if ds[i]['key'] == 'chelsea')
    status, _, body = request(f'{server.url}/api/v1/degrade', files={'image': ('chelsea.png', clean)})
    assert status == 200 and np.array_equal(decode_rgb(body), to_uint8(sample['lq']))
    assert not np.array_equal(decode_rgb(body), to_uint8(sample['gt']))
    status, _, body = request(f'{server.url}/api/v1/restore', fields={'degrade': 'true'},
                              files={'image': ('chelsea.png', clean)})
    model = demo_models[0].model
    expected = model.predict(model.data_preprocessor({k: [v] for k, v in sample.items()})['batch'])[0]['pred']
    assert status == 200 and np.array_equal(decode_rgb(body), to_uint8(expected))


def test_bad_inputs_get_one_line_messages(server):
    img = png_bytes(image())
    cases = [
        ('restore', {}, {'image': ('broken.png', b'not an image')}, 400,
         "image 'broken.png': cannot decode image (12 bytes; truncated, corrupt or not an image file)"),
        ('restore', {}, {'image': ('empty.png', b'')}, 400, "image 'empty.png': empty upload (0 bytes)"),
        ('inpaint', {}, {'image': ('a.png', img), 'mask': ('small.png', png_bytes(np.zeros((8, 8), np.uint8)))}, 400,
         "mask size (8, 8) (mask 'small.png') differs from the image size (48, 64)"),
        ('inpaint', {'strategy': 'tile'}, {'image': ('a.png', img), 'mask': ('m.png', png_bytes(hole_mask()))}, 400,
         "strategy must be one of whole, crop, resize, got 'tile'"),
        ('inpaint', {'model': 'demo_denoise'}, {'image': ('a.png', img), 'mask': ('m.png', img)}, 400,
         "model 'demo_denoise' is for restoration; use /api/v1/restore"),
        ('restore', {'model': 'nope'}, {'image': ('a.png', img)}, 404,
         "unknown model 'nope'; loaded: demo_denoise, toy_inpaint"),
        ('degrade', {'model': 'toy_inpaint'}, {'image': ('a.png', img)}, 400,
         "model 'toy_inpaint' is for inpainting; use /api/v1/inpaint"),
        ('restore', {}, {'image': ('big.png', b'\0' * (1 << 20))}, 413,
         'exceeds the limit of 1.0 MiB (--max-upload-mb)'),
    ]
    for endpoint, fields, files, code, msg in cases:
        status, _, body = request(f'{server.url}/api/v1/{endpoint}', fields=fields, files=files)
        assert status == code and msg in detail(body) and '\n' not in detail(body), (endpoint, body)
    assert not os.listdir(server.out / '.uploads')      # every upload was removed again


def test_the_decoded_pixel_limit_applies_to_uploads(server, monkeypatch):
    monkeypatch.setenv('IRKIT_MAX_IMAGE_PIXELS', '1000')               # 48 x 64 = 3072 pixels
    img = png_bytes(image())
    for endpoint, files in (('restore', {'image': ('wide.png', img)}), ('preview', {'image': ('wide.png', img)}),
                            ('inpaint', {'image': ('wide.png', img), 'mask': ('m.png', png_bytes(hole_mask()))})):
        status, _, body = request(f'{server.url}/api/v1/{endpoint}', files=files)
        assert status == 400 and detail(body).startswith("image 'wide.png': ") and '3072' in detail(body), body


def test_only_the_output_folder_is_written(server):
    status, headers, body = request(f'{server.url}/api/v1/restore', files={'image': ('../../evil name.png',
                                                                                    png_bytes(image()))})
    saved = headers['x-irkit-saved']                                  # --save: results/<time>_<model>_<name>.png
    assert status == 200 and saved.startswith('results/') and saved.endswith('_demo_denoise_evil_name.png')
    assert (server.out / saved).read_bytes() == body
    assert sorted(os.listdir(server.out)) == ['.uploads', 'results'] and not os.listdir(server.out / '.uploads')


def test_preview_decodes_images_and_masks(server):
    img = image(12, 20)
    status, headers, body = request(f'{server.url}/api/v1/preview', files={'image': ('a.png', png_bytes(img))})
    assert status == 200 and np.array_equal(decode_rgb(body), img) and headers['x-image-size'] == '20x12'
    grey = np.full((12, 20), 100, np.uint8)
    grey[2:5, 3:9] = 200
    status, _, body = request(f'{server.url}/api/v1/preview', fields={'as_mask': 'true'},
                              files={'image': ('m.png', png_bytes(grey))})
    shown = decode_rgb(body)[..., 0]
    assert status == 200 and set(np.unique(shown)) == {0, 255}
    assert np.array_equal(shown == 255, grey > 127)     # LoadMask: white (above half) = hole


def test_openapi_and_local_reference(server):
    status, _, body = request(f'{server.url}/openapi.json')
    paths = json.loads(body)['paths']
    assert status == 200 and {'/api/v1/inpaint', '/api/v1/restore', '/api/v1/models'} <= set(paths)
    status, _, body = request(f'{server.url}/docs')
    page = body.decode()
    assert status == 200 and '/api/v1/inpaint' in page and 'crop_margin' in page
    assert 'http://' not in page and 'https://' not in page      # nothing from outside this server
    status, _, body = request(f'{server.url}/')
    assert status == 200 and b'id="mask-canvas"' in body
    for asset in ('app.js', 'style.css'):
        status, _, body = request(f'{server.url}/static/{asset}')
        assert status == 200 and b'http://' not in body and b'https://' not in body
