"""Model-zoo metafiles: ``configs/metafiles/<method>.yml``.

One YAML file per method lists its released models, the benchmark folders they are
scored on and the published numbers with their provenance::

    Collection:
      Name: MPRNet
      Paper: {Title: ..., URL: https://arxiv.org/abs/2102.02808, Venue: CVPR 2021}
      Code: https://github.com/swz30/MPRNet
      License: ...
    Datasets:                      # benchmark folders under --data-root
      GoPro:
        Folders: [GoPro/test/input, GoPro/test/target]
        Download: where to get it and how to arrange it
    Models:
      - Name: mprnet_gopro
        Config: configs/mprnet_gopro.py
        Converter: mprnet          # official format (tools/convert_checkpoint.py --format)
        Weights: {File: model_deblurring.pth, URL: ..., SHA256: null}
        ExtraWeights:              # other files the model needs (optional)
          - {File: ..., URL: ..., CfgKey: model.daclip.pretrained}
        CfgOptions: {}             # applied to every evaluation of this model
        Results:
          - Dataset: GoPro
            Metrics: {PSNR: 32.66, SSIM: 0.959}
            Protocol: RGB, uint8 outputs, no crop
            Source: MPRNet paper, Table 2
            Verified: false
            Eval:                  # how irkit scores it; '{data_root}' is substituted
              CfgOptions: {test_dataloader.dataset.lq_root: '{data_root}/GoPro/test/input', ...}
            Scale: {P-IDS: 100}    # measured value x scale before comparing (optional)
            Tolerance: {SSIM: 0.01}  # per-row tolerance override (optional)
            Note: caveat shown in the table (optional)
          - Dataset: average        # mean of other rows of this model (optional)
            AverageOf: [Test100, Rain100H]
            Metrics: {PSNR: 32.73}

A published number irkit cannot score itself keeps its row, which says why instead of
being dropped: ``Eval: {Online: '...'}`` for an online benchmark (DND), ``Eval:
{Unavailable: '...'}`` when irkit lacks the test data (e.g. LaMa's segmentation masks).

Results of different methods on the same benchmark use the same dataset name and the
same ``Folders``: the leaderboard then lists their published numbers side by side.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

METAFILE_DIR = 'configs/metafiles'


class MetafileError(ValueError):
    """A metafile is malformed (the message names the file and the field)."""


@dataclass
class DatasetSpec:
    name: str
    folders: List[str]
    download: str


@dataclass
class WeightFile:
    file: str
    url: str
    sha256: Optional[str] = None
    cfg_key: Optional[str] = None


@dataclass
class Result:
    dataset: str
    metrics: Dict[str, float]
    protocol: str
    source: str
    verified: bool
    cfg_options: Optional[Dict[str, Any]] = None
    online: Optional[str] = None
    unavailable: Optional[str] = None
    average_of: Optional[List[str]] = None
    scale: Dict[str, float] = field(default_factory=dict)
    tolerance: Dict[str, float] = field(default_factory=dict)
    note: str = ''


@dataclass
class ModelEntry:
    name: str
    method: str
    config: str
    converter: str
    weights: WeightFile
    results: List[Result]
    task: str = ''
    extra_weights: List[WeightFile] = field(default_factory=list)
    cfg_options: Dict[str, Any] = field(default_factory=dict)
    note: str = ''


@dataclass
class Metafile:
    path: str
    method: str
    collection: Dict[str, Any]
    datasets: Dict[str, DatasetSpec]
    models: List[ModelEntry]


def _req(d: dict, key: str, where: str, types: Any = None) -> Any:
    if not isinstance(d, dict) or key not in d:
        have = ', '.join(map(str, d)) if isinstance(d, dict) else type(d).__name__
        raise MetafileError(f'{where}: missing field {key!r} (has: {have})')
    v = d[key]
    if types is not None and not isinstance(v, types):
        raise MetafileError(f'{where}.{key}: expected {types}, got {type(v).__name__} ({v!r})')
    return v


def _known(d: dict, allowed: Sequence[str], where: str) -> None:
    for k in d:
        if k not in allowed:
            import difflib
            close = difflib.get_close_matches(str(k), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ''
            raise MetafileError(f'{where}: unknown field {k!r}{hint}; allowed: {", ".join(allowed)}')


def _weights(d: Any, where: str) -> WeightFile:
    if not isinstance(d, dict):
        raise MetafileError(f'{where}: expected a mapping with File/URL/SHA256')
    _known(d, ('File', 'URL', 'SHA256', 'CfgKey'), where)
    sha = d.get('SHA256')
    if sha is not None and (not isinstance(sha, str) or len(sha) != 64
                            or any(c not in '0123456789abcdef' for c in sha.lower())):
        raise MetafileError(f'{where}.SHA256: expected 64 hex digits or null, got {sha!r}')
    return WeightFile(file=_req(d, 'File', where, str), url=_req(d, 'URL', where, str),
                      sha256=sha.lower() if sha else None, cfg_key=d.get('CfgKey'))


def _result(d: Any, where: str, datasets: Dict[str, DatasetSpec]) -> Result:
    if not isinstance(d, dict):
        raise MetafileError(f'{where}: expected a mapping')
    _known(d, ('Dataset', 'Metrics', 'Protocol', 'Source', 'Verified', 'Eval', 'AverageOf', 'Scale',
               'Tolerance', 'Note'), where)
    name = _req(d, 'Dataset', where, str)
    metrics = _req(d, 'Metrics', where, dict)
    if not metrics:
        raise MetafileError(f'{where}.Metrics: empty')
    for k, v in metrics.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise MetafileError(f'{where}.Metrics.{k}: expected a number, got {v!r}')
    verified = _req(d, 'Verified', where, bool)
    ev, avg = d.get('Eval'), d.get('AverageOf')
    cfg_options = online = unavailable = None
    if avg is not None:
        if not isinstance(avg, list) or not avg:
            raise MetafileError(f'{where}.AverageOf: expected a non-empty list of dataset names')
    elif ev is not None:
        _known(ev, ('CfgOptions', 'Online', 'Unavailable'), f'{where}.Eval')
        online, unavailable = ev.get('Online'), ev.get('Unavailable')
        cfg_options = ev.get('CfgOptions')
        given = [k for k in ('CfgOptions', 'Online', 'Unavailable') if ev.get(k) is not None]
        if len(given) != 1 or (cfg_options is not None and not isinstance(cfg_options, dict)):
            raise MetafileError(f'{where}.Eval: needs exactly one of CfgOptions (a mapping), Online (a reason) '
                                f'or Unavailable (a reason); got {", ".join(given) or "none"}')
        for key, reason in (('Online', online), ('Unavailable', unavailable)):
            if reason is not None and (not isinstance(reason, str) or not reason.strip()):
                raise MetafileError(f'{where}.Eval.{key}: expected a reason (text), got {reason!r}')
        if name not in datasets and cfg_options is not None:
            raise MetafileError(f'{where}: dataset {name!r} is not described under Datasets '
                                f'(known: {", ".join(datasets)})')
    for key in ('Scale', 'Tolerance'):
        for k, v in (d.get(key) or {}).items():
            if k not in metrics or not isinstance(v, (int, float)):
                raise MetafileError(f'{where}.{key}.{k}: must name a metric of this row with a number')
    return Result(dataset=name, metrics={k: float(v) for k, v in metrics.items()},
                  protocol=str(_req(d, 'Protocol', where, str)), source=_req(d, 'Source', where, str),
                  verified=verified, cfg_options=cfg_options, online=online, unavailable=unavailable,
                  average_of=avg,
                  scale=dict(d.get('Scale') or {}), tolerance=dict(d.get('Tolerance') or {}),
                  note=str(d.get('Note') or ''))


def parse_metafile(data: Any, path: str = '<metafile>') -> Metafile:
    """Validate a loaded metafile mapping. Raises :class:`MetafileError` naming the field."""
    if not isinstance(data, dict):
        raise MetafileError(f'{path}: expected a mapping at the top level')
    _known(data, ('Collection', 'Datasets', 'Models'), path)
    coll = _req(data, 'Collection', path, dict)
    method = _req(coll, 'Name', f'{path}: Collection', str)
    datasets = {}
    for dname, spec in (data.get('Datasets') or {}).items():
        where = f'{path}: Datasets.{dname}'
        if not isinstance(spec, dict):
            raise MetafileError(f'{where}: expected a mapping with Folders/Download')
        _known(spec, ('Folders', 'Download'), where)
        folders = _req(spec, 'Folders', where, list)
        if not folders or not all(isinstance(f, str) and f and not osp.isabs(f) and '..' not in f
                                   for f in folders):
            raise MetafileError(f'{where}.Folders: expected relative folder paths under the data root')
        datasets[str(dname)] = DatasetSpec(str(dname), folders, _req(spec, 'Download', where, str))
    models, seen = [], set()
    for i, m in enumerate(_req(data, 'Models', path, list)):
        where = f'{path}: Models[{i}]'
        if not isinstance(m, dict):
            raise MetafileError(f'{where}: expected a mapping')
        _known(m, ('Name', 'Task', 'Config', 'Converter', 'Weights', 'ExtraWeights', 'CfgOptions',
                   'Results', 'Note'), where)
        name = _req(m, 'Name', where, str)
        where = f'{path}: model {name}'
        if name in seen:
            raise MetafileError(f'{where}: duplicate model name')
        seen.add(name)
        conv = _req(m, 'Converter', where, str)
        from irkit.fileio.weights import load_format_registry
        formats = load_format_registry()
        if conv not in formats:
            raise MetafileError(f'{where}.Converter: {conv!r} is not one of {", ".join(sorted(formats))} '
                                '(the official formats the archs declare)')
        results = [_result(r, f'{where}.Results[{j}]', datasets)
                   for j, r in enumerate(m.get('Results') or [])]
        names = {r.dataset for r in results}
        for r in results:
            for a in r.average_of or []:
                if a not in names:
                    raise MetafileError(f'{where}: average row {r.dataset!r} refers to {a!r}, '
                                        'which is not a result of this model')
        models.append(ModelEntry(
            name=name, method=method, config=_req(m, 'Config', where, str), converter=conv,
            weights=_weights(_req(m, 'Weights', where), f'{where}.Weights'), results=results,
            task=str(m.get('Task') or ''),
            extra_weights=[_weights(w, f'{where}.ExtraWeights[{j}]')
                           for j, w in enumerate(m.get('ExtraWeights') or [])],
            cfg_options=dict(m.get('CfgOptions') or {}), note=str(m.get('Note') or '')))
    return Metafile(path=path, method=method, collection=coll, datasets=datasets, models=models)


def load_metafile(path: str) -> Metafile:
    import yaml
    if not osp.isfile(path):
        raise FileNotFoundError(f'metafile not found: {path}')
    with open(path, encoding='utf-8') as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise MetafileError(f'{path}: invalid YAML: {e}') from None
    return parse_metafile(data, path)


def load_metafiles(directory: str = METAFILE_DIR, methods: Optional[Iterable[str]] = None) -> List[Metafile]:
    """All ``*.yml`` metafiles of ``directory`` (sorted), optionally only some methods
    (matched case-insensitively against the collection name or the file stem)."""
    if not osp.isdir(directory):
        raise FileNotFoundError(f'metafile folder not found: {directory}')
    files = sorted(str(p) for p in Path(directory).glob('*.yml'))
    out = [load_metafile(p) for p in files]
    if methods:
        want = {m.lower() for m in methods}
        known = {mf.method.lower() for mf in out} | {Path(mf.path).stem.lower() for mf in out}
        bad = want - known
        if bad:
            raise MetafileError(f'unknown method(s) {", ".join(sorted(bad))}; metafiles in {directory}: '
                                + ', '.join(sorted({mf.method for mf in out})))
        out = [mf for mf in out if mf.method.lower() in want or Path(mf.path).stem.lower() in want]
    return out


def substitute(value: Any, **fields: str) -> Any:
    """Replace ``{data_root}``/``{checkpoints}`` in (nested) option values."""
    if isinstance(value, str):
        for k, v in fields.items():
            value = value.replace('{' + k + '}', v)
        return value
    if isinstance(value, list):
        return [substitute(v, **fields) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, **fields) for k, v in value.items()}
    return value


def repo_path(path: str, root: Optional[str] = None) -> str:
    """Config paths in metafiles are relative to the repository root."""
    if osp.isabs(path):
        return path
    root = root or osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    return osp.join(root, path)


__all__ = ['Metafile', 'ModelEntry', 'Result', 'DatasetSpec', 'WeightFile', 'MetafileError',
           'parse_metafile', 'load_metafile', 'load_metafiles', 'substitute', 'repo_path',
           'METAFILE_DIR']
