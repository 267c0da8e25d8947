"""Models: losses and the train/val/test steps around an arch (filled lazily via MODELS)."""
from irkit.models import data_preprocessor  # noqa: F401
from irkit.models import restorer  # noqa: F401
from irkit.models import sde_restorer  # noqa: F401
from irkit.models import daclip_model  # noqa: F401
from irkit.models import tdr  # noqa: F401
from irkit.models import gan_inpaintor  # noqa: F401
from irkit.models import mat_inpaintor  # noqa: F401
