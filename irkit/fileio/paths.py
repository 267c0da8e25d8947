"""How irkit resolves relative paths in configs, and the error when one does not exist.

Relative data paths (``data_root``, ``gt_root``, ``meta_file``, ...) are resolved against
the **current directory**, as in BasicSR and MMagic; irkit's own configs use
``data/...`` and are meant to be run from the repository root. (``_base_`` entries are
different: mmengine resolves them against the config file's folder.) A missing path is
reported with the directory it was resolved against and, when the same relative path
exists in the irkit checkout, that location.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

__all__ = ['not_found', 'checkout_root']


def checkout_root() -> Optional[Path]:
    """The repository irkit runs from (the folder holding ``irkit/`` and ``configs/``), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / 'configs').is_dir() and (root / 'irkit').is_dir() else None


def not_found(what: str, path: Union[str, os.PathLike], hint: str = '') -> FileNotFoundError:
    """A ``FileNotFoundError`` saying ``{what} not found: {path}``, then where a relative path
    was looked for and ``hint``."""
    p = os.fspath(path)
    msg = f'{what} not found: {p}'
    if not os.path.isabs(p):
        cwd = os.getcwd()
        msg += f' (relative paths are resolved against the current directory, {cwd}'
        root = checkout_root()
        if root is not None and Path(cwd).resolve() != root and (root / p).exists():
            msg += (f'; it exists under the irkit checkout {root}: run from there, or give the path '
                    f'as {root / p} (e.g. with --cfg-options)')
        msg += ')'
    return FileNotFoundError(msg + hint)
