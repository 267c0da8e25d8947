from irkit.archs import mprnet  # noqa: F401
from irkit.archs import restormer  # noqa: F401
from irkit.archs import promptir  # noqa: F401
from irkit.archs import dncnn  # noqa: F401
