"""A demo server on a free local port for the demo tests (127.0.0.1 only, stopped after the module)."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid

import cv2
import numpy as np
import pytest
import torch

INPAINT_CFG = """
model = dict(type='GANInpaintor', generator=dict(type='ToyInpaintG', width=8))
custom_imports = dict(imports=['tests.models.toy_inpaint'], allow_failed_imports=False)
"""


def need_demo_extra():
    from irkit.demo.cli import missing_extra
    missing = missing_extra()
    if missing:
        pytest.skip(f"the demo extra is not installed (no '{missing}'): pip install -e '.[demo]'")


def free_port() -> int:
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """uvicorn in a daemon thread; ``stop()`` waits for it (bounded)."""

    def __init__(self, app) -> None:
        import uvicorn
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=self.port, log_level='warning'))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError('the demo server did not start within 30 s')
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def png_bytes(rgb: np.ndarray) -> bytes:
    return cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1] if rgb.ndim == 3 else rgb))[1].tobytes()


def decode_rgb(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


def request(url: str, fields: dict = None, files: dict = None, headers: dict = None, method: str = None):
    """A real HTTP request (multipart when fields/files are given); returns (status, headers, body)."""
    data = None
    hdrs = dict(headers or {})
    if fields is not None or files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in (fields or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        for k, (name, content) in (files or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                         f'Content-Type: application/octet-stream\r\n\r\n'.encode() + content + b'\r\n')
        data = b''.join(parts) + f'--{boundary}--\r\n'.encode()
        hdrs['Content-Type'] = f'multipart/form-data; boundary={boundary}'
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def detail(body: bytes) -> str:
    return json.loads(body)['detail']


@pytest.fixture(scope='module')
def demo_models(tmp_path_factory, repo_root):
    """The demo config (random DnCNN, seeded) and a tiny inpainting config, loaded as the CLI loads them."""
    need_demo_extra()
    from mmengine.registry import DefaultScope

    from irkit.demo.models import load_models
    cfg = tmp_path_factory.mktemp('cfg') / 'toy_inpaint.py'
    cfg.write_text(INPAINT_CFG)
    with DefaultScope.overwrite_default_scope('irkit'):
        torch.manual_seed(0)
        return load_models([(f'{repo_root}/configs/demo_denoise.py', None), (str(cfg), None)])


@pytest.fixture(scope='module')
def server(demo_models, tmp_path_factory):
    from irkit.demo.server import create_app
    out = tmp_path_factory.mktemp('demo_out')
    srv = Server(create_app(demo_models, str(out), max_upload_mb=1.0, save_results=True))
    srv.out = out
    yield srv
    srv.stop()
