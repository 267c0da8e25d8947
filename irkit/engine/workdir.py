"""One training run per work dir: a lock file naming its owner, held for the process's lifetime.

Two trainings writing to one work dir overwrite and prune each other's checkpoints. The
first one takes ``{work_dir}/.irkit-train.lock``: an exclusive POSIX record lock
(``fcntl.lockf``) held until the process exits (the kernel drops it when the process dies, even
by SIGKILL; unlike ``flock`` it is not inherited by forked DataLoader workers, which can outlive a
killed trainer for a moment), and in the file
the owner's pid, host, start time and command line, which the second run's error names.
A run that ends normally or with an exception empties the file; a file still naming an
owner when its lock is free is the leftover of a killed run: the next run takes it over
and says so. Where locks are not supported the owner's pid is checked instead (same
host), and a lock held from another host is left to the user to remove.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from typing import Optional

from irkit.fileio.tempfiles import pid_alive

__all__ = ['WorkDirLock', 'WorkDirLockedError', 'lock_work_dir', 'LOCK_NAME']

LOCK_NAME = '.irkit-train.lock'


class WorkDirLockedError(RuntimeError):
    """Another training run holds the work dir (the message names it)."""


def _describe(owner: dict) -> str:
    started = owner.get('started')
    when = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started)) if started else '?'
    return (f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, started {when}"
            + (f" ({owner['command']})" if owner.get('command') else ''))


class WorkDirLock:
    """The lock of one work dir (see the module docstring)."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = os.path.join(work_dir, LOCK_NAME)
        self.fd: Optional[int] = None

    def _read(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 1 << 16)
        try:
            owner = json.loads(raw.decode()) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            owner = {'command': f'unreadable lock file content {raw[:60]!r}'}
        return owner if isinstance(owner, dict) else {}

    def _locked_by(self, owner: dict) -> WorkDirLockedError:
        return WorkDirLockedError(
            f'work dir {self.work_dir} is in use by another training run: {_describe(owner)}. Wait for '
            f'it to finish or stop it, or train into another --work-dir (lock file {self.path}).')

    def acquire(self) -> Optional[dict]:
        """Take the lock. Returns the previous owner if it was a killed run's leftover.

        Raises:
            WorkDirLockedError: a live run holds it (naming its pid, host, start time).
        """
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            previous = self._lock(fd)
            me = {'pid': os.getpid(), 'host': socket.gethostname(), 'started': time.time(),
                  'command': ' '.join([os.path.basename(sys.executable)] + sys.argv)[:500]}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return previous or None

    def _lock(self, fd: int) -> dict:
        import fcntl
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise self._locked_by(self._read(fd)) from None
            # no locks on this file system: judge by the owner's pid
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            owner = self._read(fd)
            if owner.get('pid') and owner.get('host') != socket.gethostname():
                raise WorkDirLockedError(
                    f'{self._locked_by(owner)} This file system has no locks, so irkit cannot tell '
                    'whether that run is alive: remove the lock file if it is not.') from None
            if owner.get('pid') and owner['pid'] != os.getpid() and pid_alive(int(owner['pid'])):
                raise self._locked_by(owner) from None
            return owner
        return self._read(fd)

    def release(self) -> None:
        """Empty the lock file and drop the lock (the next run starts without a warning)."""
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)
            self.fd = None


def lock_work_dir(work_dir: str, log=print) -> WorkDirLock:
    """Take ``work_dir``'s lock on rank 0; every rank raises if it is held elsewhere.

    ``log`` receives the note when a killed run's leftover lock is taken over.
    """
    import torch.distributed as dist
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    lock, error = WorkDirLock(work_dir), None
    if rank == 0:
        try:
            previous = lock.acquire()
            if previous:
                log(f'work dir {work_dir}: the previous run ({_describe(previous)}) ended without '
                    'releasing its lock (killed?); taking it over')
        except WorkDirLockedError as e:
            error = str(e)
    if distributed:
        box = [error]
        dist.broadcast_object_list(box, src=0)
        error = box[0]
    if error:
        raise WorkDirLockedError(error)
    return lock
