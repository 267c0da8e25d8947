"""Command-line front doors report input errors as one clear line, not a deep traceback.

What counts as an input error (printed as ``error: <Type>: <message>``, exit status 1):

* irkit's own error classes (``ConfigKeyError``, ``ConfigError``, ``SampleError``,
  ``LmdbError``, ``CorruptCheckpointError``, ``WorkDirLockedError``, ...), whose messages
  name the file, key or field;
* ``OSError`` (a missing or unreadable file), ``ValueError`` and ``KeyError``: raised by
  checks of the input, wherever they sit;
* ``TypeError``/``RuntimeError`` raised by irkit's own code outside the networks
  (``irkit/archs``, ``irkit/models``) and the tools.

Anything else is a bug and is reported with its traceback: a ``RuntimeError`` or
``TypeError`` from inside a network (your own architecture, or torch called from it) is to
be debugged, not an input to fix. ``IRKIT_DEBUG=1`` re-raises every error. An error
re-raised from a DataLoader worker is reported by its original message, without the
worker's traceback.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

from irkit.utils.launch import report_error

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_IRKIT = os.path.join(_ROOT, 'irkit') + os.sep
_TOOLS = os.path.join(_ROOT, 'tools') + os.sep
_NETWORK_CODE = tuple(os.path.join(_IRKIT, d) + os.sep for d in ('archs', 'models'))

# input errors wherever they are raised (see the module docstring for the rest)
USER_ERRORS = (OSError, ValueError, KeyError)


def _raised_in(e: BaseException) -> str:
    tb = e.__traceback__
    if tb is None:
        return ''
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.abspath(tb.tb_frame.f_code.co_filename)


def is_input_error(e: BaseException) -> bool:
    """Whether ``e`` is reported as one line (see the module docstring)."""
    if type(e).__module__.split('.')[0] == 'irkit' or isinstance(e, USER_ERRORS):
        return True
    if isinstance(e, (TypeError, RuntimeError)):
        where = _raised_in(e)
        return where.startswith((_IRKIT, _TOOLS)) and not where.startswith(_NETWORK_CODE)
    return False


def one_line(e: BaseException) -> str:
    """The message of ``e``; for an error re-raised from a DataLoader worker, the original
    error's own message instead of the worker's traceback."""
    msg = str(e.args[0] if isinstance(e, KeyError) and e.args else e)
    if 'Original Traceback (most recent call last)' in msg:
        last = [ln for ln in msg.splitlines() if ln.strip()][-1].strip()
        head, sep, rest = last.partition(': ')
        msg = rest if sep and head.split('.')[-1] == type(e).__name__ else last
    return msg


def run_cli(main: Callable[[], object]) -> None:
    """Call ``main``; print input errors as ``error: ...``, bugs with their traceback; exit 1.

    Set ``IRKIT_DEBUG=1`` to get the full traceback instead. Under a multi-process launch
    every message goes through :func:`irkit.utils.launch.report_error`, so the launcher
    prints each distinct error once instead of once per process.
    """
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit as e:  # raise SystemExit('message') in the tools
        if isinstance(e.code, str):
            report_error(e.code)
            sys.exit(1)
        raise
    except Exception as e:  # noqa: BLE001 - sorted into input errors and bugs
        if os.environ.get('IRKIT_DEBUG'):
            raise
        if is_input_error(e):
            report_error(f'error: {type(e).__name__}: {one_line(e)}\n(set IRKIT_DEBUG=1 for the full traceback)')
        else:  # a bug: the traceback, once for all processes under the launcher
            report_error(traceback.format_exc().rstrip())
        sys.exit(1)
