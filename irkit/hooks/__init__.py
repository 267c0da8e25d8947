"""Training/validation hooks (filled lazily via HOOKS)."""
from irkit.hooks import nonfinite  # noqa: F401
from irkit.hooks import visualization  # noqa: F401
from irkit.hooks import progressive  # noqa: F401
