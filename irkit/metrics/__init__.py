"""irkit's metrics. Importing this package loads no weights."""
from irkit.metrics.functional import psnr, ssim  # noqa: F401
from irkit.metrics import image_metrics  # noqa: F401
from irkit.metrics.image_metrics import MAE, MSE, PSNR, SSIM  # noqa: F401
from irkit.metrics import lpips  # noqa: F401
from irkit.metrics import fid  # noqa: F401
from irkit.metrics import daclip  # noqa: F401
from irkit.metrics import niqe  # noqa: F401
from irkit.metrics import binned  # noqa: F401
