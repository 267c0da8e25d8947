"""Where pretrained weights come from: local files only, never a download at run time."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

ENV_VAR = 'IRKIT_WEIGHTS'


class MissingWeightsError(FileNotFoundError):
    """A pretrained weight file is not where irkit looks for it."""


def find_weights(filename: str, path: Optional[Union[str, Path]] = None, *,
                 config_key: str = 'pretrained', source: str = '') -> Path:
    """Return the local path of a pretrained weight file.

    Looks at ``path`` when given (a file, or a folder holding ``filename``), else
    at ``$IRKIT_WEIGHTS/filename``, else at ``~/.cache/irkit/weights/filename``.

    Raises:
        MissingWeightsError: naming the file, every place looked at, the config
            key and environment variable that point elsewhere, and ``source``
            (where to download it).
    """
    tried = []
    if path is not None:
        p = Path(path).expanduser()
        candidates = [p / filename] if p.is_dir() else [p]
    else:
        candidates = []
        if os.environ.get(ENV_VAR):
            candidates.append(Path(os.environ[ENV_VAR]).expanduser() / filename)
        candidates.append(Path('~/.cache/irkit/weights').expanduser() / filename)
    for c in candidates:
        tried.append(str(c))
        if c.is_file():
            return c
    where = f' Download it from {source} and' if source else ' Place it'
    raise MissingWeightsError(
        f"pretrained weights '{filename}' not found (looked at: {', '.join(tried)}).{where} "
        f"put it in ${ENV_VAR}/ (or ~/.cache/irkit/weights/), or point the config key "
        f"'{config_key}' at the file.")
