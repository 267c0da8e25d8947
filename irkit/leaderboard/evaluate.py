"""One evaluation (``tools/test.py`` in-process) and the per-model result cache."""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
from pathlib import Path
from typing import Any, Dict, Iterable, Optional


def evaluate(config: str, checkpoint: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
             launcher: str = 'none', experiment_name: Optional[str] = None,
             verbose: bool = False) -> Dict[str, float]:
    """Run the config's test loop on ``checkpoint`` with :func:`irkit.engine.tester.run_test`
    (what ``tools/test.py`` runs) and return the metrics dict. With ``launcher != 'none'`` the
    distributed process group must already be initialised; every rank must call this."""
    from irkit.engine.tester import run_test
    from irkit.utils.config import load_config
    cfg = load_config(config, cfg_options)
    metrics, _ = run_test(cfg, checkpoint, work_dir=work_dir or osp.join(
        'work_dirs', 'leaderboard', osp.splitext(osp.basename(config))[0]), launcher=launcher,
        experiment_name=experiment_name, quiet=not verbose)
    return metrics


def _h(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b'\0')
    return h.hexdigest()


def folder_signature(folders: Iterable[str]) -> str:
    """Names, sizes and modification times of every file under the folders (relative
    paths, so moving the data root does not invalidate the cache)."""
    entries = []
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for f in sorted(files):
                p = osp.join(root, f)
                st = os.stat(p)
                entries.append((osp.relpath(p, folder), st.st_size, st.st_mtime_ns))
    return _h(entries)


def config_signature(config: str) -> str:
    """The fully merged config (bases included), so editing a base config re-runs."""
    from mmengine.config import Config
    return _h(Config.fromfile(config).pretty_text)


class ResultCache:
    """Per-(model, dataset) results keyed by config, checkpoint hash, data and options.

    Layout: ``<dir>/results/<model>__<dataset>.json`` holding the key and the
    metrics; a changed key means the entry is stale and the evaluation re-runs.
    File hashes are memoised in ``<dir>/sha256.json`` by (path, size, mtime).
    """

    def __init__(self, directory: str) -> None:
        self.dir = Path(directory)
        self._sha_file = self.dir / 'sha256.json'
        self._sha: Optional[dict] = None

    def file_sha256(self, path: str) -> str:
        from irkit.fileio.weights import sha256_file
        st = os.stat(path)
        memo_key = f'{osp.abspath(path)}|{st.st_size}|{st.st_mtime_ns}'
        if self._sha is None:
            try:
                self._sha = json.loads(self._sha_file.read_text())
            except (OSError, ValueError):
                self._sha = {}
        if memo_key not in self._sha:
            self._sha[memo_key] = sha256_file(path)
            self._write(self._sha_file, self._sha)
        return self._sha[memo_key]

    @staticmethod
    def key(**parts: Any) -> str:
        return _h(parts)

    def _path(self, model: str, dataset: str) -> Path:
        safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in f'{model}__{dataset}')
        return self.dir / 'results' / f'{safe}.json'

    def get(self, model: str, dataset: str, key: str) -> Optional[Dict[str, float]]:
        p = self._path(model, dataset)
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            return None
        return data['metrics'] if data.get('key') == key else None

    def put(self, model: str, dataset: str, key: str, metrics: Dict[str, float], **info: Any) -> Path:
        p = self._path(model, dataset)
        self._write(p, {'key': key, 'model': model, 'dataset': dataset, 'metrics': metrics, **info})
        return p

    @staticmethod
    def _write(path: Path, data: Any) -> None:
        from irkit.fileio.checkpoint import atomic_write_bytes
        atomic_write_bytes(json.dumps(data, indent=2, sort_keys=True, default=str).encode(), path)


__all__ = ['evaluate', 'ResultCache', 'folder_signature', 'config_signature']
