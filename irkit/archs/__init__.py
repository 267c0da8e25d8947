from irkit.archs import mprnet  # noqa: F401
from irkit.archs import restormer  # noqa: F401
from irkit.archs import promptir  # noqa: F401
from irkit.archs import dncnn  # noqa: F401
from irkit.archs import tdr_mapper  # noqa: F401
from irkit.archs import ref_fusion  # noqa: F401
