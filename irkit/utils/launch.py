"""Multi-process launch (torchrun) that reports a failed run in a few readable lines.

``python -m irkit.utils.launch [torchrun options] SCRIPT [script args]`` takes torchrun's
options and runs torchrun's launcher in this process (``tools/dist_train.sh`` and
``tools/dist_test.sh`` call it). What changes is the report when a process fails:

- every process hands its error to the launcher instead of printing it
  (:func:`report_error`, through torchrun's per-process error file), and the launcher
  prints each distinct error once with the ranks that raised it, in place of torchrun's
  ``ChildFailedError`` traceback and per-rank table;
- a process killed by SIGKILL (``exitcode: -9``) gets a line saying it was killed, most
  likely by the kernel's out-of-memory killer, and what to try;
- processes the launcher stopped because another one failed are summarised in one line.

Set ``IRKIT_DEBUG=1`` to see torchrun's own report (and every traceback) instead.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Dict, List, Sequence

OOM_HINT = ('most likely by the kernel\'s out-of-memory killer (`dmesg | tail` or `journalctl -k` '
            'says "Out of memory"). Try a smaller train_dataloader.batch_size or crop size, fewer '
            'train_dataloader.num_workers, --amp, or fewer processes per machine; '
            'e.g. --cfg-options train_dataloader.batch_size=2 train_dataloader.num_workers=2')
# messages of a process that failed only because another one died first (lost its peer)
PEER_LOST = ('Connection closed by peer', 'Connection reset by peer', 'Broken pipe',
             'NCCL communicator was aborted', 'Socket Timeout', 'ProcessGroupGloo')


def _world_size() -> int:
    try:
        return int(os.environ.get('WORLD_SIZE', '1'))
    except ValueError:
        return 1


def report_error(text: str) -> None:
    """Report this process's fatal error: printed, or handed to the launcher.

    Under torchrun with more than one process, the text goes to torchrun's error file for
    this process (``$TORCHELASTIC_ERROR_FILE``), so the launcher prints it once for all
    ranks; otherwise (and if that file cannot be written) it is printed to stderr.
    """
    path = os.environ.get('TORCHELASTIC_ERROR_FILE')
    if path and _world_size() > 1 and not os.environ.get('IRKIT_DEBUG'):
        try:
            with open(path, 'w') as f:
                json.dump({'message': text, 'timestamp': int(time.time())}, f)
            return
        except OSError:
            pass
    if _world_size() > 1:
        text = '\n'.join(f"[rank {os.environ.get('RANK', '?')}] {line}" for line in text.splitlines())
    print(text, file=sys.stderr, flush=True)


def _ranks(ranks: Sequence[int]) -> str:
    ranks = sorted(ranks)
    return ('rank ' if len(ranks) == 1 else 'ranks ') + ', '.join(map(str, ranks))


def describe_failures(failures: Dict[int, object]) -> List[str]:
    """Lines summarising torchrun's ``ChildFailedError.failures`` (``{rank: ProcessFailure}``)."""
    import signal

    def has_report(f) -> bool:
        return isinstance(f.error_file_data, dict) and bool(f.error_file_data.get('message'))

    def terminated(f) -> bool:  # stopped by the launcher (or by a scheduler), no report
        return f.exitcode == -signal.SIGTERM and not has_report(f)

    def message(f) -> str:
        return (f.message if isinstance(f.message, str) else json.dumps(f.message)).rstrip()

    def peer_lost(f) -> bool:  # failed only because another process died first
        return has_report(f) and any(p in message(f) for p in PEER_LOST)

    # root causes: processes killed by a signal other than the launcher's SIGTERM, and
    # errors other than a lost connection; the rest are consequences, named in one line
    causes = [r for r, f in failures.items()
              if (f.exitcode < 0 and not has_report(f) and not terminated(f))
              or (has_report(f) and not peer_lost(f)) or (f.exitcode > 0 and not has_report(f))]
    by_message: Dict[str, List[int]] = {}
    killed, stopped, lost, silent = [], [], [], {}
    for rank, f in sorted(failures.items()):
        if f.exitcode == -signal.SIGKILL:
            killed.append(rank)
        elif terminated(f) and causes:
            stopped.append(rank)
        elif f.exitcode < 0 and not has_report(f):
            by_message.setdefault(f'killed by signal {-f.exitcode} ({f.signal_name()})', []).append(rank)
        elif peer_lost(f) and causes:
            lost.append(rank)
        elif has_report(f):
            by_message.setdefault(message(f), []).append(rank)
        else:
            silent[rank] = f.exitcode
    lines = []
    if killed:
        lines.append(f'error: {_ranks(killed)} (pid {", ".join(str(failures[r].pid) for r in killed)}) '
                     f'was killed (SIGKILL, exitcode -9), {OOM_HINT}')
    for msg, ranks in by_message.items():
        if msg.startswith('killed by signal'):
            lines.append(f'error: {_ranks(ranks)} {msg}')
        else:
            body = msg if msg.startswith('error') or '\n' in msg else f'error: {msg}'
            lines.append(f'{_ranks(ranks)} failed:\n{body}' if len(failures) > 1 else body)
    for rank, code in silent.items():
        lines.append(f'error: rank {rank} exited with code {code} without an error report '
                     '(its output above says why)')
    if lost:
        lines.append(f'({_ranks(lost)} lost the connection to the failed process and stopped)')
    if stopped:
        lines.append(f'({_ranks(stopped)} stopped by the launcher after the failure above)')
    return lines


def _quiet_torchrun_logs() -> None:
    """torchrun logs each failure and each process it stops; the summary replaces that."""
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith('torch.distributed'):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv=None) -> int:
    try:
        from torch.distributed import run as torchrun
        from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    except ImportError as e:
        print(f'error: {sys.executable} cannot import torch ({e}). Run the launch scripts with '
              'the Python where irkit is installed: PYTHON=/path/to/venv/bin/python tools/dist_train.sh '
              '... (by default they use $VIRTUAL_ENV, then the repository\'s .venv, then python3)',
              file=sys.stderr)
        return 1
    args = torchrun.parse_args(sys.argv[1:] if argv is None else argv)
    if os.environ.get('IRKIT_DEBUG'):
        torchrun.run(args)
        return 0
    _quiet_torchrun_logs()
    try:
        torchrun.run(args)
    except ChildFailedError as e:
        print('\n'.join(describe_failures(e.failures)), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # rendezvous and other launcher errors: one line
        print(f'error: launcher: {type(e).__name__}: {e} (set IRKIT_DEBUG=1 for the traceback)',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
