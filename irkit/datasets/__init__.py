"""Datasets (list samples) and transforms (do the work)."""
from irkit.datasets import transforms  # noqa: F401
from irkit.datasets import base  # noqa: F401
from irkit.datasets import samplers  # noqa: F401  (irkit's InfiniteSampler)
from irkit.datasets import paired_image_dataset  # noqa: F401
from irkit.datasets import image_folder_dataset  # noqa: F401
from irkit.datasets import inpainting_dataset  # noqa: F401
from irkit.datasets import all_in_one_dataset  # noqa: F401
from irkit.datasets import dual_pixel_dataset  # noqa: F401
from irkit.datasets.all_in_one_dataset import AllInOneDataset  # noqa: F401
from irkit.datasets.base import SampleError  # noqa: F401
from irkit.datasets.image_folder_dataset import ImageFolderDataset  # noqa: F401
from irkit.datasets.inpainting_dataset import InpaintingDataset  # noqa: F401
from irkit.datasets.paired_image_dataset import PairedImageDataset  # noqa: F401
from irkit.datasets import daclip  # noqa: F401
from irkit.datasets import tdr  # noqa: F401
from irkit.datasets import inpainting_benchmarks  # noqa: F401
