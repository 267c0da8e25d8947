// irkit demo page: plain JavaScript, no build step, nothing loaded from outside this server.
'use strict';

const API = '/api/v1';
const $ = (id) => document.getElementById(id);
const state = {
  models: [], model: null, imageFile: null, inputURL: null, resultURL: null, maskURL: null, degradedURL: null,
  tool: 'brush', drawing: false, last: null, undo: [], busy: false,
};
const imageCanvas = $('image-canvas');
const maskCanvas = $('mask-canvas');
const maskCtx = maskCanvas.getContext('2d', { willReadFrequently: true });
const PAINT = 'rgb(255, 40, 40)';

function setMessage(text, isError) {
  $('message').textContent = text || '';
  $('message').className = isError ? 'error' : '';
}

function setState(s) { document.body.dataset.state = s; }

async function errorText(resp) {
  // one line: FastAPI's {"detail": "..."} or a validation list
  try {
    const body = await resp.json();
    const d = body.detail;
    if (typeof d === 'string') return d;
    if (Array.isArray(d) && d.length) return `${(d[0].loc || []).slice(-1)[0]}: ${d[0].msg}`;
  } catch (e) { /* not JSON */ }
  return `${resp.status} ${resp.statusText}`;
}

function newJobId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return 'job-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
}

// ------------------------------------------------------------------ models
async function loadModels() {
  const settings = await fetch(`${API}/server`);
  if (settings.ok) state.server = await settings.json();
  const resp = await fetch(`${API}/models`);
  if (!resp.ok) { setMessage(`cannot list the models: ${await errorText(resp)}`, true); return; }
  state.models = await resp.json();
  const select = $('model');
  select.innerHTML = '';
  for (const m of state.models) {
    const opt = document.createElement('option');
    opt.value = m.name;
    opt.textContent = `${m.name} (${m.task})`;
    select.appendChild(opt);
  }
  selectModel(state.models.length ? state.models[0].name : null);
  setState('idle');
}

function selectModel(name) {
  state.model = state.models.find((m) => m.name === name) || null;
  const m = state.model;
  if (!m) return;
  $('model').value = m.name;
  const info = $('model-info');
  info.textContent = `${m.task} · ${m.arch} · config ${m.config} · weights: ${m.weights}`;
  info.className = m.weights.startsWith('random') ? 'random' : '';
  $('inpaint-tools').hidden = m.task !== 'inpainting';
  $('restore-tools').hidden = m.task !== 'restoration';
  if (m.task === 'restoration') {
    $('tile').value = m.tile || 0;
    if (m.tile_overlap != null) $('tile-overlap').value = m.tile_overlap;
    $('tile').disabled = $('tile-overlap').disabled = !m.tiling;
    $('degrade-label').hidden = !m.degradation;
    $('degradation').textContent = m.degradation || '';
    if (!m.degradation) $('degrade').checked = false;
  }
  maskCanvas.style.display = m.task === 'inpainting' ? '' : 'none';
  if (m.inputs.length > 1) setMessage(`${m.name} takes ${m.inputs.length} images (${m.inputs.join(', ')}): use the REST API for it`, true);
  updateRun();
}

function updateRun() {
  $('run').disabled = state.busy || !state.imageFile || !state.model || state.model.inputs.length > 1;
}

// ------------------------------------------------------------------ image and mask upload
function checkSize(file) {
  const limit = state.server ? state.server.max_upload_mb : null;
  if (limit && file.size > limit * 1048576) {
    throw new Error(`${file.name} is ${(file.size / 1048576).toFixed(1)} MiB; this server accepts uploads up to ` +
      `${limit} MiB (--max-upload-mb)`);
  }
}

async function preview(file, asMask) {
  checkSize(file);
  const form = new FormData();
  form.append('image', file, file.name);
  form.append('as_mask', asMask ? 'true' : 'false');
  const resp = await fetch(`${API}/preview`, { method: 'POST', body: form });
  if (!resp.ok) throw new Error(await errorText(resp));
  return await resp.blob();
}

async function onImageFile(file) {
  if (!file) return;
  setMessage(`reading ${file.name} ...`);
  let blob;
  try { blob = await preview(file, false); } catch (e) { setMessage(e.message, true); return; }
  const bitmap = await createImageBitmap(blob);
  state.imageFile = file;
  if (state.inputURL) URL.revokeObjectURL(state.inputURL);
  state.inputURL = URL.createObjectURL(blob);
  for (const c of [imageCanvas, maskCanvas]) { c.width = bitmap.width; c.height = bitmap.height; }
  imageCanvas.getContext('2d').drawImage(bitmap, 0, 0);
  maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  state.undo = [];
  $('stage').hidden = false;
  $('image-size').textContent = `${bitmap.width} x ${bitmap.height}`;
  setMessage(`${file.name}: ${bitmap.width} x ${bitmap.height}` +
    (state.model && state.model.task === 'inpainting' ? ' - paint the hole, then run' : ''));
  updateRun();
}

async function onMaskFile(file) {
  if (!file) return;
  if (!state.imageFile) { setMessage('upload the image first, then its mask', true); return; }
  let blob;
  try { blob = await preview(file, true); } catch (e) { setMessage(e.message, true); return; }
  const bitmap = await createImageBitmap(blob);
  if (bitmap.width !== maskCanvas.width || bitmap.height !== maskCanvas.height) {
    setMessage(`mask '${file.name}' is ${bitmap.width} x ${bitmap.height}, the image is ` +
      `${maskCanvas.width} x ${maskCanvas.height}`, true);
    return;
  }
  pushUndo();
  const tmp = document.createElement('canvas');
  tmp.width = bitmap.width; tmp.height = bitmap.height;
  const tctx = tmp.getContext('2d', { willReadFrequently: true });
  tctx.drawImage(bitmap, 0, 0);
  const src = tctx.getImageData(0, 0, tmp.width, tmp.height).data;
  const out = maskCtx.createImageData(tmp.width, tmp.height);
  for (let i = 0; i < src.length; i += 4) {
    if (src[i] >= 128) { out.data[i] = 255; out.data[i + 1] = 40; out.data[i + 2] = 40; out.data[i + 3] = 255; }
  }
  maskCtx.putImageData(out, 0, 0);
  setMessage(`mask ${file.name} loaded (you can paint or erase on it)`);
}

// ------------------------------------------------------------------ brush
function pushUndo() {
  state.undo.push(maskCtx.getImageData(0, 0, maskCanvas.width, maskCanvas.height));
  if (state.undo.length > 30) state.undo.shift();
}

function canvasPoint(e) {
  const r = maskCanvas.getBoundingClientRect();
  return [(e.clientX - r.left) * maskCanvas.width / r.width, (e.clientY - r.top) * maskCanvas.height / r.height];
}

function strokeTo(p) {
  maskCtx.globalCompositeOperation = state.tool === 'eraser' ? 'destination-out' : 'source-over';
  maskCtx.strokeStyle = maskCtx.fillStyle = PAINT;
  maskCtx.lineWidth = Number($('brush-size').value);
  maskCtx.lineCap = maskCtx.lineJoin = 'round';
  maskCtx.beginPath();
  if (!state.last) {
    maskCtx.arc(p[0], p[1], maskCtx.lineWidth / 2, 0, 2 * Math.PI);
    maskCtx.fill();
  } else {
    maskCtx.moveTo(state.last[0], state.last[1]);
    maskCtx.lineTo(p[0], p[1]);
    maskCtx.stroke();
  }
  state.last = p;
}

maskCanvas.addEventListener('pointerdown', (e) => {
  if (!state.imageFile || state.busy) return;
  maskCanvas.setPointerCapture(e.pointerId);
  pushUndo();
  state.drawing = true;
  state.last = null;
  strokeTo(canvasPoint(e));
});
maskCanvas.addEventListener('pointermove', (e) => { if (state.drawing) strokeTo(canvasPoint(e)); });
for (const ev of ['pointerup', 'pointercancel']) {
  maskCanvas.addEventListener(ev, () => { state.drawing = false; state.last = null; });
}

function setTool(tool) {
  state.tool = tool;
  $('tool-brush').classList.toggle('active', tool === 'brush');
  $('tool-eraser').classList.toggle('active', tool === 'eraser');
}

function undo() {
  const img = state.undo.pop();
  if (img) maskCtx.putImageData(img, 0, 0);
}

// the mask sent to the server: white = hole where the brush covers at least half a pixel
function maskBlob() {
  const w = maskCanvas.width, h = maskCanvas.height;
  const src = maskCtx.getImageData(0, 0, w, h).data;
  const tmp = document.createElement('canvas');
  tmp.width = w; tmp.height = h;
  const tctx = tmp.getContext('2d');
  const out = tctx.createImageData(w, h);
  let holes = 0;
  for (let i = 0; i < src.length; i += 4) {
    const v = src[i + 3] >= 128 ? 255 : 0;
    holes += v ? 1 : 0;
    out.data[i] = out.data[i + 1] = out.data[i + 2] = v;
    out.data[i + 3] = 255;
  }
  tctx.putImageData(out, 0, 0);
  return new Promise((resolve) => tmp.toBlob((b) => resolve({ blob: b, holes }), 'image/png'));
}

// ------------------------------------------------------------------ run
async function run() {
  const m = state.model;
  if (!m || !state.imageFile) return;
  const form = new FormData();
  const job = newJobId();
  form.append('model', m.name);
  form.append('job', job);
  form.append('image', state.imageFile, state.imageFile.name);
  let maskBlobValue = null;
  if (m.task === 'inpainting') {
    const { blob, holes } = await maskBlob();
    if (!holes) { setMessage('paint the hole first (or upload a mask file)', true); return; }
    maskBlobValue = blob;
    form.append('mask', blob, 'mask.png');
    form.append('strategy', $('strategy').value);
    form.append('crop_margin', $('crop-margin').value);
    form.append('resize_limit', $('resize-limit').value);
    form.append('seed', $('seed').value);
  } else {
    form.append('tile', $('tile').value || '0');
    if ($('tile-overlap').value !== '') form.append('tile_overlap', $('tile-overlap').value);
    form.append('degrade', $('degrade').checked ? 'true' : 'false');
  }
  const degrade = m.task === 'restoration' && $('degrade').checked;
  state.busy = true;
  updateRun();
  setState('running');
  setMessage(`running ${m.name} ...`);
  const bar = $('progress-bar');
  bar.hidden = false; bar.removeAttribute('value');
  const t0 = performance.now();
  const timer = setInterval(() => pollProgress(job, t0), 300);
  try {
    let degraded = null;
    if (degrade) {  // the degraded input the model gets, to show beside the result
      const dform = new FormData();
      dform.append('image', state.imageFile, state.imageFile.name);
      dform.append('model', m.name);
      const dresp = await fetch(`${API}/degrade`, { method: 'POST', body: dform });
      if (!dresp.ok) throw new Error(await errorText(dresp));
      degraded = await dresp.blob();
    }
    const resp = await fetch(`${API}/${m.task === 'inpainting' ? 'inpaint' : 'restore'}`, { method: 'POST', body: form });
    if (!resp.ok) throw new Error(await errorText(resp));
    const blob = await resp.blob();
    const name = (resp.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
    showResult(blob, maskBlobValue, name ? name[1] : 'result.png', degraded);
    setMessage(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${resp.headers.get('X-Image-Size') || ''} ` +
      `with ${m.name} (weights: ${m.weights})`);
    setState('done');
  } catch (e) {
    setMessage(e.message, true);
    setState('error');
  } finally {
    clearInterval(timer);
    bar.hidden = true;
    $('progress-text').textContent = '';
    state.busy = false;
    updateRun();
  }
}

async function pollProgress(job, t0) {
  let p = null;
  try {
    const resp = await fetch(`${API}/progress/${job}`);
    if (resp.ok) p = await resp.json();
  } catch (e) { return; }
  if (!state.busy) return;
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const bar = $('progress-bar');
  if (p && p.total) { bar.max = p.total; bar.value = p.done; } else { bar.removeAttribute('value'); }
  const passes = p && p.done ? ` · pass ${p.done}${p.total ? '/' + p.total : ''}` : '';
  $('progress-text').textContent = `${p ? p.stage : 'uploading'}${passes} · ${secs} s`;
}

function showResult(blob, mask, filename, degraded) {
  for (const u of [state.resultURL, state.maskURL, state.degradedURL]) if (u) URL.revokeObjectURL(u);
  state.resultURL = URL.createObjectURL(blob);
  state.maskURL = mask ? URL.createObjectURL(mask) : null;
  state.degradedURL = degraded ? URL.createObjectURL(degraded) : null;
  $('input-img').src = $('compare-before').src = state.degradedURL || state.inputURL;
  $('input-caption').textContent = degraded ? 'input (degraded by the test pipeline)' : 'input';
  $('gt-fig').hidden = !degraded;
  if (degraded) $('gt-img').src = state.inputURL;
  $('result-img').src = $('compare-after').src = state.resultURL;
  $('mask-fig').hidden = !mask;
  if (mask) $('mask-img').src = state.maskURL;
  const a = $('download');
  a.href = state.resultURL;
  a.download = filename;
  $('result-panel').hidden = false;
}

function setView(slider) {
  $('side').hidden = slider;
  $('compare').hidden = !slider;
  $('view-side').classList.toggle('active', !slider);
  $('view-slider').classList.toggle('active', slider);
}

function onSlider() {
  const v = Number($('compare-slider').value);
  $('compare-after').style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $('compare-line').style.left = `${v}%`;
}

function onStrategy() {
  $('crop-margin-label').hidden = $('strategy').value !== 'crop';
  $('resize-limit-label').hidden = $('strategy').value !== 'resize';
}

// ------------------------------------------------------------------ wiring
$('model').addEventListener('change', (e) => selectModel(e.target.value));
$('image-file').addEventListener('change', (e) => onImageFile(e.target.files[0]));
$('mask-file').addEventListener('change', (e) => { onMaskFile(e.target.files[0]); e.target.value = ''; });
$('tool-brush').addEventListener('click', () => setTool('brush'));
$('tool-eraser').addEventListener('click', () => setTool('eraser'));
$('undo').addEventListener('click', undo);
$('clear-mask').addEventListener('click', () => { pushUndo(); maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height); });
$('brush-size').addEventListener('input', () => { $('brush-size-value').textContent = $('brush-size').value; });
$('run').addEventListener('click', run);
$('view-side').addEventListener('click', () => setView(false));
$('view-slider').addEventListener('click', () => setView(true));
$('compare-slider').addEventListener('input', onSlider);
$('strategy').addEventListener('change', onStrategy);
document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
  const size = $('brush-size');
  if (e.key === '[' || e.key === ']') {
    size.value = Math.max(1, Number(size.value) + (e.key === ']' ? 4 : -4));
    $('brush-size-value').textContent = size.value;
  } else if ((e.ctrlKey || e.metaKey) && e.key === 'z') {
    e.preventDefault();
    undo();
  }
});
const drop = $('input-panel');
drop.addEventListener('dragover', (e) => e.preventDefault());
drop.addEventListener('drop', (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) onImageFile(e.dataTransfer.files[0]); });
onStrategy();
loadModels();
