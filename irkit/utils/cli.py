"""Command-line front doors report input errors as one clear line, not a deep traceback."""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

from irkit.utils.launch import report_error

# errors whose message already names the file/key/field; anything else keeps its traceback
USER_ERRORS = (FileNotFoundError, KeyError, ValueError, TypeError, RuntimeError, OSError)


def run_cli(main: Callable[[], object]) -> None:
    """Call ``main``; print irkit's own input errors as ``error: ...`` and exit 1.

    Set ``IRKIT_DEBUG=1`` to get the full traceback instead. Under a multi-process launch
    every message goes through :func:`irkit.utils.launch.report_error`, so the launcher
    prints each distinct error once instead of once per process.
    """
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except USER_ERRORS as e:
        if os.environ.get('IRKIT_DEBUG'):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        report_error(f'error: {type(e).__name__}: {msg}\n(set IRKIT_DEBUG=1 for the full traceback)')
        sys.exit(1)
    except SystemExit as e:  # raise SystemExit('message') in the tools
        if isinstance(e.code, str):
            report_error(e.code)
            sys.exit(1)
        raise
    except Exception:  # a bug: the traceback, once for all processes under the launcher
        report_error(traceback.format_exc().rstrip())
        sys.exit(1)
