"""Transforms: loading, cropping, augmentation, degradations, masks, packing."""
from irkit.datasets.transforms import base  # noqa: F401
from irkit.datasets.transforms import loading  # noqa: F401
from irkit.datasets.transforms import crop  # noqa: F401
from irkit.datasets.transforms import augment  # noqa: F401
from irkit.datasets.transforms import degradations  # noqa: F401
from irkit.datasets.transforms import masks  # noqa: F401
from irkit.datasets.transforms import lama_masks  # noqa: F401
from irkit.datasets.transforms import formatting  # noqa: F401
from irkit.datasets.transforms.augment import (ColorJitter, RandomDihedral,  # noqa: F401
                                               RandomFlip, RandomRot90, RandomRotation,
                                               RandomTranspose)
from irkit.datasets.transforms.base import Compose  # noqa: F401
from irkit.datasets.transforms.crop import (CenterCrop, PadToMultiple,  # noqa: F401
                                            PairedRandomCrop, RandomCrop, RandomResizedCrop,
                                            Resize)
from irkit.datasets.transforms.degradations import (AddGaussianNoise, Downsample,  # noqa: F401
                                                    GaussianBlur, Haze, JPEGCompression,
                                                    LowLight, MotionBlur, RainStreaks)
from irkit.datasets.transforms.formatting import PackInputs  # noqa: F401
from irkit.datasets.transforms.loading import LoadImageFromFile, LoadMask, LoadRandomMask  # noqa: F401
from irkit.datasets.transforms.lama_masks import GenerateLaMaMask  # noqa: F401
from irkit.datasets.transforms.masks import (GenerateBBoxMask, GenerateIrregularMask,  # noqa: F401
                                             GenerateMATMask, mat_random_mask)
