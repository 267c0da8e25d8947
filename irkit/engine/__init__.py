"""Runner, loops and optimizer wrappers (filled lazily via the engine registries)."""
from irkit.engine import dist, loops, optim, runner  # noqa: F401
