"""Temporary names for atomic writes, and removal of the ones a killed process left behind.

Every file or folder irkit writes atomically (checkpoints, LMDBs, result files, images)
is first written under a hidden temporary name in the same folder and renamed when
complete. The name records who writes it::

    .{final name}.irkit-tmp.{pid}@{host}.{random}

so the next run can tell a leftover of a killed write (its process no longer exists on
this host) from a write in progress, and remove it (:func:`remove_stale_temps`).
Temporaries of other hosts (a shared file system) are left alone.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import threading
from pathlib import Path
from typing import List, Union

__all__ = ['TMP_MARK', 'temp_name', 'parse_temp_name', 'remove_stale_temps', 'pid_alive', 'file_mode']

PathLike = Union[str, os.PathLike]
TMP_MARK = '.irkit-tmp.'
_TMP_RE = re.compile(r'^\.(?P<name>.+)\.irkit-tmp\.(?P<pid>\d+)@(?P<host>.+)\.(?P<rand>[0-9a-f]+)$')
_UMASK_LOCK = threading.Lock()


def temp_name(final_name: str) -> str:
    """A hidden temporary name for ``final_name`` (a base name, no folder)."""
    return f'.{final_name}{TMP_MARK}{os.getpid()}@{socket.gethostname()}.{secrets.token_hex(4)}'


def parse_temp_name(name: str):
    """``(final name, pid, host)`` of a temporary name, or ``None``."""
    m = _TMP_RE.match(name)
    return (m.group('name'), int(m.group('pid')), m.group('host')) if m else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(folder: PathLike) -> List[Path]:
    """Remove the temporaries in ``folder`` whose writer is no longer running on this host.

    Returns what was removed. Temporaries of live processes and of other hosts stay.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    removed = []
    for p in folder.iterdir():
        parsed = parse_temp_name(p.name)
        if parsed is None or parsed[2] != host or pid_alive(parsed[1]):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def file_mode() -> int:
    """The mode a new file gets under this process's umask (``0o666 & ~umask``)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    with _UMASK_LOCK:  # no /proc: read the umask by setting it and putting it back
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask
