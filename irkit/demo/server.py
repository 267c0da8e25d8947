"""The demo server: the page (``irkit/demo/static``), the REST API (``/api/v1``) and its reference (``/docs``).

One FastAPI app holds several loaded models (:class:`~irkit.demo.models.DemoModel`) and runs
them one at a time through :func:`irkit.apis.inpainting.inpaint` and
:func:`irkit.apis.restore`, so uploads are decoded by the config's test pipeline exactly as
in testing. Uploads are size-limited (``Content-Length`` required), kept in memory while
parsed, written under ``OUT/.uploads`` only for the time the pipeline reads them, and
removed; results are written (under ``OUT/results``) only with ``save_results``. Nothing
else is written.
"""

import html
import json
import os
import os.path as osp
import re
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from irkit.demo.models import DemoModel

__all__ = ['create_app', 'serve', 'UploadLimit', 'Workspace', 'Jobs']

API = '/api/v1'
STATIC = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
USER_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError)
_JOB_ID = re.compile(r'^[A-Za-z0-9_-]{1,64}$')


class UploadLimit:
    """ASGI middleware: request bodies need a ``Content-Length`` of at most ``max_bytes``.

    A body up to 4x over the limit is read and dropped before the 413 answer, so that
    clients still sending see the message; larger ones get the answer at once.
    """

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app, self.max_bytes = app, int(max_bytes)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope['type'] == 'http' and scope['method'] in ('POST', 'PUT', 'PATCH'):
            length = dict(scope['headers']).get(b'content-length')
            if length is None or not length.isdigit():
                return await self._reject(send, 411, 'uploads need a Content-Length header')
            if int(length) > self.max_bytes:
                if int(length) <= 4 * self.max_bytes:  # read it first, so the client gets the answer
                    while (await receive()).get('more_body', False):
                        pass
                return await self._reject(send, 413, f'upload of {int(length) / 2 ** 20:.1f} MiB exceeds the '
                                          f'limit of {self.max_bytes / 2 ** 20:.1f} MiB (--max-upload-mb)')
        await self.app(scope, receive, send)

    @staticmethod
    async def _reject(send: Callable, status: int, message: str) -> None:
        body = json.dumps({'detail': message}).encode()
        await send({'type': 'http.response.start', 'status': status,
                    'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode()),
                                (b'connection', b'close')]})
        await send({'type': 'http.response.body', 'body': body})


class Workspace:
    """The output folder: the only place the server writes to."""

    def __init__(self, root: str) -> None:
        self.root = osp.abspath(root)
        self.uploads = osp.join(self.root, '.uploads')
        self.results = osp.join(self.root, 'results')
        os.makedirs(self.uploads, exist_ok=True)

    def write_upload(self, data: bytes, filename: Optional[str]) -> str:
        """Write an upload as ``.uploads/<random>/<name>``: the folder is fresh, the name is the
        user's file name made safe (it is the sample key, e.g. of seeded test degradations)."""
        from irkit.hooks.visualization import safe_name
        base = osp.basename((filename or '').replace('\\', '/'))
        stem, ext = osp.splitext(base)
        ext = ext.lower() if re.fullmatch(r'\.[A-Za-z0-9]{1,5}', ext) else '.img'
        folder = osp.join(self.uploads, uuid.uuid4().hex)
        os.mkdir(folder)
        path = osp.join(folder, safe_name(stem)[:64] + ext)
        with open(path, 'xb') as f:
            f.write(data)
        return path

    @staticmethod
    def remove_upload(path: str) -> None:
        try:
            os.remove(path)
            os.rmdir(osp.dirname(path))
        except FileNotFoundError:
            pass

    def save_result(self, png: bytes, model: str, filename: Optional[str]) -> str:
        """Write a result PNG under ``results/`` without overwriting anything."""
        from irkit.hooks.visualization import safe_name
        os.makedirs(self.results, exist_ok=True)
        base = osp.splitext(osp.basename((filename or 'image').replace('\\', '/')))[0]
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}_{safe_name(model)}_{safe_name(base)}"
        for i in range(1000):
            path = osp.join(self.results, f'{stem}{"" if i == 0 else f"_{i}"}.png')
            try:
                with open(path, 'xb') as f:
                    f.write(png)
                return path
            except FileExistsError:
                continue
        raise RuntimeError(f'cannot find a free result name for {stem} in {self.results}')


class Jobs:
    """Progress of the runs the page polls (``/api/v1/progress/{job}``); the newest ``keep`` are kept."""

    def __init__(self, keep: int = 256) -> None:
        self._jobs: 'OrderedDict[str, dict]' = OrderedDict()
        self._lock = threading.Lock()
        self.keep = keep

    def update(self, job: Optional[str], **state: Any) -> None:
        if not job:
            return
        with self._lock:
            entry = self._jobs.setdefault(job, dict(stage='received', done=0, total=None, error=None,
                                                    created=time.time()))
            entry.update(state)
            self._jobs.move_to_end(job)
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)

    def get(self, job: str) -> Optional[dict]:
        with self._lock:
            entry = self._jobs.get(job)
            if entry is None:
                return None
            out = {k: v for k, v in entry.items() if k != 'created'}
            out['elapsed_s'] = round(time.time() - entry['created'], 2)
            return out


def encode_png(img) -> bytes:
    """A 3xHxW [0, 1] tensor as 8-bit PNG bytes (rounded as results are saved everywhere in irkit)."""
    import cv2

    from irkit.hooks.visualization import to_uint8_bgr
    ok, buf = cv2.imencode('.png', to_uint8_bgr(img))
    if not ok:
        raise RuntimeError('PNG encoding failed')
    return buf.tobytes()


def _one_line(err: BaseException, names: Dict[str, str]) -> str:
    """The error's first line with the temporary upload paths replaced by what the user sent."""
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    msg = str(msg).strip().splitlines()[0] if str(msg).strip() else type(err).__name__
    for path, label in names.items():
        msg = msg.replace(path, label)
    return msg


def _api_reference(spec: dict) -> str:
    """``/docs``: the OpenAPI description as one self-contained page (no scripts, no CDN)."""
    schemas = spec.get('components', {}).get('schemas', {})
    rows = []
    for path, ops in spec.get('paths', {}).items():
        for method, op in ops.items():
            params = [(p['name'], p.get('in', ''), p.get('schema', {}).get('type', ''), p.get('required', False),
                       p.get('description', '')) for p in op.get('parameters', [])]
            body = op.get('requestBody', {}).get('content', {})
            for media, content in body.items():
                ref = content.get('schema', {}).get('$ref', '')
                schema = schemas.get(ref.rsplit('/', 1)[-1], content.get('schema', {}))
                required = set(schema.get('required', []))
                for name, prop in schema.get('properties', {}).items():
                    kind = prop.get('type') or '/'.join(a.get('type', '') for a in prop.get('anyOf', []))
                    if prop.get('format') == 'binary' or prop.get('contentMediaType'):
                        kind = 'file'
                    default = f" (default {prop['default']!r})" if 'default' in prop else ''
                    params.append((name, media, kind, name in required, prop.get('description', '') + default))
            plist = ''.join(f'<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(w)}</td>'
                            f'<td>{html.escape(str(t))}</td><td>{"yes" if r else ""}</td><td>{html.escape(d)}</td></tr>'
                            for n, w, t, r, d in params)
            responses = ', '.join(f'{c}: {html.escape(r.get("description", ""))}'
                                  for c, r in op.get('responses', {}).items())
            rows.append(f'<section><h2><span class="m">{method.upper()}</span> <code>{html.escape(path)}</code></h2>'
                        f'<p>{html.escape(op.get("summary", ""))}</p><p>{html.escape(op.get("description", ""))}</p>'
                        + (f'<table><tr><th>field</th><th>in</th><th>type</th><th>required</th><th>about</th></tr>'
                           f'{plist}</table>' if params else '') + f'<p class="r">responses: {responses}</p></section>')
    return ('<!doctype html><html><head><meta charset="utf-8"><title>irkit demo API</title>'
            '<link rel="stylesheet" href="/static/style.css"></head><body class="docs">'
            f'<h1>{html.escape(spec["info"]["title"])} {html.escape(spec["info"]["version"])}</h1>'
            '<p>Machine-readable description: <a href="/openapi.json">/openapi.json</a>. '
            'Back to the <a href="/">demo page</a>.</p>' + ''.join(rows) + '</body></html>')


def create_app(models: Sequence[DemoModel], out_dir: str, max_upload_mb: float = 25.0,
               save_results: bool = False):
    """The FastAPI application serving ``models`` (see the module docstring)."""
    from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
    from fastapi.responses import FileResponse, HTMLResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.formparsers import MultiPartParser

    import irkit

    if not models:
        raise ValueError('the demo needs at least one model (a config and optionally a checkpoint)')
    max_bytes = int(max_upload_mb * 2 ** 20)
    # keep parsed uploads in memory (they are bounded by the limit): the form parser would
    # otherwise spool parts over 1 MiB to the system's temporary folder
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_bytes + 1)
    by_name = {m.name: m for m in models}
    if len(by_name) != len(models):
        raise ValueError(f'two demo models have the same name: {[m.name for m in models]}')
    space, jobs, lock = Workspace(out_dir), Jobs(), threading.Lock()

    app = FastAPI(title='irkit demo API', version=irkit.__version__, docs_url=None, redoc_url=None,
                  description='Inpainting and restoration with the loaded irkit models. Images are '
                              'decoded by each config\'s test pipeline; results are 8-bit PNG.')
    app.add_middleware(UploadLimit, max_bytes=max_bytes)
    app.mount('/static', StaticFiles(directory=STATIC), name='static')

    def pick(name: Optional[str], task: str) -> DemoModel:
        if not name:
            hit = next((m for m in models if m.task == task), None)
            if hit is None:
                raise HTTPException(400, f'no {task} model is loaded (loaded: '
                                         f'{", ".join(f"{m.name} ({m.task})" for m in models)})')
            return hit
        if name not in by_name:
            raise HTTPException(404, f"unknown model '{name}'; loaded: {', '.join(by_name)}")
        m = by_name[name]
        if m.task != task:
            raise HTTPException(400, f"model '{name}' is for {m.task}; use {API}/"
                                     f"{'inpaint' if m.task == 'inpainting' else 'restore'}")
        return m

    def execute(dm: DemoModel, uploads: Dict[str, Any], options: dict, job: Optional[str],
                what: str = 'run') -> Response:
        if job is not None and not _JOB_ID.match(job):
            raise HTTPException(400, 'job must be 1-64 letters, digits, - or _')
        jobs.update(job, stage='decoding')
        paths: Dict[str, str] = {}
        names: Dict[str, str] = {}
        try:
            for key, up in uploads.items():
                data = up.file.read()
                if not data:
                    raise ValueError(f"{key} '{up.filename or key}': empty upload (0 bytes)")
                paths[key] = space.write_upload(data, up.filename)
                names[paths[key]] = f"{key} '{up.filename or key}'"
            jobs.update(job, stage='waiting for the model')
            with lock:
                jobs.update(job, stage='running')
                if what == 'degrade':
                    out = dm.degrade(paths['image'])
                else:
                    out = dm.run(paths, options, lambda done, total: jobs.update(job, done=done, total=total))
            png = encode_png(out)
        except USER_ERRORS as e:
            msg = _one_line(e, names)
            jobs.update(job, stage='error', error=msg)
            raise HTTPException(400, msg) from None
        except HTTPException:
            raise
        except Exception as e:  # noqa: BLE001 (the page shows every failure as one line)
            msg = f'{type(e).__name__}: {_one_line(e, names)}'
            jobs.update(job, stage='error', error=msg)
            raise HTTPException(500, msg) from None
        finally:
            for p in paths.values():
                space.remove_upload(p)
        stem = osp.splitext(osp.basename((uploads['image'].filename or 'image').replace('\\', '/')))[0]
        headers = {'Content-Disposition': f'attachment; filename="{re.sub(r"[^A-Za-z0-9_.-]", "_", stem)}_'
                                          f'{re.sub(r"[^A-Za-z0-9_.-]", "_", dm.name)}.png"',
                   'X-Irkit-Model': dm.name, 'X-Image-Size': f'{out.shape[-1]}x{out.shape[-2]}'}
        if save_results and what == 'run':
            headers['X-Irkit-Saved'] = osp.relpath(space.save_result(png, dm.name, uploads['image'].filename),
                                                   space.root)
        jobs.update(job, stage='done')
        return Response(png, media_type='image/png', headers=headers)

    png_response = {200: {'content': {'image/png': {}}, 'description': 'the result as an 8-bit PNG'},
                    400: {'description': 'bad input, one line in "detail"'},
                    413: {'description': 'upload over the size limit'}}

    @app.get('/', include_in_schema=False)
    def index():
        return FileResponse(osp.join(STATIC, 'index.html'))

    @app.get('/docs', include_in_schema=False)
    def docs():
        return HTMLResponse(_api_reference(app.openapi()))

    @app.get(f'{API}/server', summary='The server\'s settings',
             description='version, max_upload_mb, save_results (the page checks file sizes before uploading).')
    def server_settings() -> dict:
        return dict(version=irkit.__version__, max_upload_mb=max_upload_mb, save_results=save_results)

    @app.get(f'{API}/models', summary='The loaded models',
             description='name, task (inpainting / restoration), config, weights (the checkpoint, or "random '
                         'initialisation"), inputs and the task\'s options.')
    def list_models() -> List[dict]:
        return [m.describe() for m in models]

    @app.get(f'{API}/progress/{{job}}', summary='Progress of a run started with job=JOB',
             description='stage (decoding, waiting for the model, running, done, error), done and total '
                         'network passes (total is null when the model does not know it), elapsed_s, error.')
    def progress(job: str) -> dict:
        state = jobs.get(job)
        if state is None:
            raise HTTPException(404, f"no run with job '{job}' (yet)")
        return state

    @app.post(f'{API}/inpaint', summary='Inpaint an image', responses=png_response, response_class=Response,
              description='image + mask (same size; white = hole unless mask_white_known) in, PNG out. The '
                          'known pixels of the result are the input\'s exactly.')
    def inpaint_endpoint(
            image: UploadFile = File(..., description='the image (any format the config reads)'),
            mask: UploadFile = File(..., description='the mask image: white = hole, black = known'),
            model: Optional[str] = Form(None, description='model name (default: the first inpainting model)'),
            strategy: str = Form('whole', description='whole | crop (around each hole) | resize (shrink, '
                                                      'inpaint, paste back)'),
            crop_margin: int = Form(128, ge=0, description='crop: pixels of context around each hole'),
            resize_limit: int = Form(1280, ge=16, description='resize: long side the image is shrunk to'),
            seed: int = Form(240, description='seed of the network\'s random draws'),
            mask_white_known: bool = Form(False, description='the mask is white = known (MAT\'s released masks)'),
            job: Optional[str] = Form(None, description='an id to poll /api/v1/progress/{job} with')) -> Response:
        dm = pick(model, 'inpainting')
        return execute(dm, {'image': image, 'mask': mask},
                       dict(strategy=strategy, crop_margin=crop_margin, resize_limit=resize_limit, seed=seed,
                            white_is_hole=not mask_white_known), job)

    @app.post(f'{API}/restore', summary='Restore an image', responses=png_response, response_class=Response,
              description='image in, PNG out. Configs with several inputs (dual-pixel) take the first as image '
                          'and the others as file fields named after their inputs (GET /api/v1/models).')
    async def restore_endpoint(
            request: Request,
            image: UploadFile = File(..., description='the degraded image'),
            model: Optional[str] = Form(None, description='model name (default: the first restoration model)'),
            tile: int = Form(0, ge=0, description='tile size for large images (0: the config\'s setting)'),
            tile_overlap: Optional[int] = Form(None, ge=0, description='tile overlap (default: the config\'s)'),
            degrade: bool = Form(False, description='the image is clean: restore the input the config\'s test '
                                                    'pipeline synthesises from it (see /api/v1/degrade)'),
            job: Optional[str] = Form(None, description='an id to poll /api/v1/progress/{job} with')) -> Response:
        from starlette.concurrency import run_in_threadpool
        dm = pick(model, 'restoration')
        uploads: Dict[str, Any] = {'image': image}
        if len(dm.inputs) > 1:
            form = await request.form()
            for key in dm.inputs[1:]:
                if not hasattr(form.get(key), 'file'):
                    raise HTTPException(400, f"model '{dm.name}' takes {len(dm.inputs)} images "
                                             f"({', '.join(dm.inputs)}): send the first as image and the "
                                             f"others as file fields {', '.join(dm.inputs[1:])}")
                uploads[key] = form[key]
        options = dict(tile=tile or None, tile_overlap=tile_overlap, degrade=degrade)
        return await run_in_threadpool(execute, dm, uploads, options, job)

    @app.post(f'{API}/degrade', summary='The benchmark degradation of a clean image', responses=png_response,
              response_class=Response,
              description='For configs whose test pipeline synthesises the input (the demo\'s Gaussian noise): the '
                          'degraded image the model gets with degrade=true, fixed per file name as in testing.')
    def degrade_endpoint(
            image: UploadFile = File(..., description='a clean image'),
            model: Optional[str] = Form(None, description='model name (default: the first restoration model)')
    ) -> Response:
        return execute(pick(model, 'restoration'), {'image': image}, {}, None, what='degrade')

    @app.post(f'{API}/preview', summary='Decode an image or a mask as the server reads it',
              responses={200: {'content': {'image/png': {}}, 'description': '8-bit RGB PNG (a mask: white = hole)'},
                         400: {'description': 'not an image irkit reads, one line in "detail"'}},
              response_class=Response,
              description='What the page shows after an upload: any file irkit decodes (16-bit, grey, TIFF) '
                          'as an 8-bit PNG, or the error message at once.')
    def preview(image: UploadFile = File(..., description='an image or a mask file'),
                as_mask: bool = Form(False, description='read it as a mask (LoadMask, binarised)'),
                mask_white_known: bool = Form(False, description='with as_mask: white = known')) -> Response:
        from irkit.datasets.transforms import LoadImageFromFile, LoadMask
        data = image.file.read()
        label = f"{'mask' if as_mask else 'image'} '{image.filename or 'upload'}'"
        if not data:
            raise HTTPException(400, f'{label}: empty upload (0 bytes)')
        path = space.write_upload(data, image.filename)
        try:
            if as_mask:
                known = LoadMask(key='m', white_is_hole=not mask_white_known)({'m_path': path})['m']
                arr = np.repeat((1.0 - known) * 255.0, 3, axis=2)
            else:
                arr = LoadImageFromFile(key='m')({'m_path': path})['m'] * 255.0
        except USER_ERRORS as e:
            raise HTTPException(400, _one_line(e, {path: label})) from None
        finally:
            space.remove_upload(path)
        import torch
        img = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1) / 255.0))
        return Response(encode_png(img), media_type='image/png',
                        headers={'X-Image-Size': f'{img.shape[-1]}x{img.shape[-2]}'})

    app.state.workspace, app.state.jobs = space, jobs
    return app


def serve(models: Sequence[DemoModel], host: str = '127.0.0.1', port: int = 7860, out_dir: str = 'work_dirs/demo',
          max_upload_mb: float = 25.0, save_results: bool = False) -> None:
    """Run the demo until interrupted."""
    import uvicorn
    app = create_app(models, out_dir, max_upload_mb, save_results)
    shown = '127.0.0.1' if host in ('0.0.0.0', '::') else host
    print(f'irkit demo: http://{shown}:{port}/  (REST API reference: http://{shown}:{port}/docs)')
    for m in models:
        print(f'  {m.name}: {m.task}, {m.config}, weights: {m.weights}')
    print(f'  output folder: {osp.abspath(out_dir)}'
          + ('' if save_results else ' (uploads only; --save keeps results)'))
    uvicorn.run(app, host=host, port=port, log_level='warning')
