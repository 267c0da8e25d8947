"""Command-line front doors report input errors as one clear line, not a deep traceback."""
from __future__ import annotations

import os
import sys
from typing import Callable

# errors whose message already names the file/key/field; anything else keeps its traceback
USER_ERRORS = (FileNotFoundError, KeyError, ValueError, TypeError, RuntimeError, OSError)


def run_cli(main: Callable[[], object]) -> None:
    """Call ``main``; print irkit's own input errors as ``error: ...`` and exit 1.

    Set ``IRKIT_DEBUG=1`` to get the full traceback instead.
    """
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except USER_ERRORS as e:
        if os.environ.get('IRKIT_DEBUG'):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'error: {type(e).__name__}: {msg}', file=sys.stderr)
        print('(set IRKIT_DEBUG=1 for the full traceback)', file=sys.stderr)
        sys.exit(1)
