# Sourced by tools/*.sh: sets ROOT (the repository) and PYTHON (the interpreter that runs irkit).
#   1. $PYTHON when set (PYTHON=/path/to/env/bin/python tools/dist_train.sh ...);
#   2. `python` of an activated virtual environment ($VIRTUAL_ENV);
#   3. the repository's own .venv/bin/python (the README's install), activated or not;
#   4. python3 from PATH.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
        PYTHON="$VIRTUAL_ENV/bin/python"
    elif [ -x "$ROOT/.venv/bin/python" ]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi
