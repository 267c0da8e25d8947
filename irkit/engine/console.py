"""A concise console: the run's set-up details go to the log file, not the terminal.

mmengine logs ~300 lines before the first iteration (system environment, the full config,
the hook order per stage) and a few internal deprecation notices. irkit keeps all of
them in the run's log file (``{work_dir}/{timestamp}/{timestamp}.log``) and prints one
summary line instead; ``--verbose`` (``IRKIT_VERBOSE=1``) prints everything as mmengine
does.
"""
from __future__ import annotations

import logging
import os

VERBOSE_ENV = 'IRKIT_VERBOSE'

# starts of the messages that stay out of the console (mmengine 0.10 wording)
SETUP_DETAILS = (
    '\n' + '-' * 60 + '\nSystem environment:',
    'Config:\n',
    'Hooks will be executed in the following order',
    'Distributed training is not used, all SyncBatchNorm',
    '"FileClient" will be deprecated',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, '') not in ('', '0')


class SetupDetailsFilter(logging.Filter):
    """Drops mmengine's set-up details from a console handler (the file keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg if isinstance(record.msg, str) else ''
        return not msg.startswith(SETUP_DETAILS)


def quiet_console(logger: logging.Logger) -> None:
    """Attach :class:`SetupDetailsFilter` to the logger's console handlers (not with --verbose)."""
    if verbose():
        return
    for h in logger.handlers:
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            if not any(isinstance(f, SetupDetailsFilter) for f in h.filters):
                h.addFilter(SetupDetailsFilter())


def run_summary(runner) -> str:
    """One line in place of the environment block: what runs where, and where the details are."""
    import mmengine
    import torch

    device = f'{torch.cuda.device_count()} GPU(s)' if torch.cuda.is_available() else 'CPU'
    procs = runner.world_size
    text = (f'irkit: {runner.experiment_name} | torch {torch.__version__}, mmengine '
            f'{mmengine.__version__} | {procs} process{"es" if procs > 1 else ""} on {device} | '
            f'seed {runner.seed} | work dir {runner.work_dir}')
    if not verbose():
        text += (f'\nenvironment, full config and hook order: {runner.logger.log_file} '
                 '(--verbose prints them here)')
    return text


__all__ = ['SetupDetailsFilter', 'quiet_console', 'run_summary', 'verbose', 'VERBOSE_ENV']
