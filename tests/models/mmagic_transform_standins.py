"""Stand-ins for two transforms the PConv configs use that other branches add to irkit:
``GenerateIrregularMask`` (MMagic's irregular masks) and ``Resize``.

Each is registered only when irkit does not provide the real one, so once those transforms
are on the branch the tests run the configs' real pipelines and this module does nothing.
The stand-ins keep the config arguments, the output conventions (mask ``H x W x 1``,
1 = known; a resized image of ``(h, w)``) and what inference does with them
(``at_inference``: the mask generator is replaced by the user's mask, the benchmark resize
dropped), not the sampling details.
"""
import cv2
import numpy as np

from irkit.datasets.transforms.base import BaseTransform
from irkit.registry import TRANSFORMS

REPLACED = []
TRANSFORMS.import_from_location()  # irkit's own transforms (not mmcv's, e.g. its 'Resize', in the parent registry)

if 'GenerateIrregularMask' not in TRANSFORMS.module_dict:
    @TRANSFORMS.register_module(name='GenerateIrregularMask')
    class _IrregularMaskStandIn(BaseTransform):
        at_inference = 'mask'  # replaced by the user's mask at inference

        def __init__(self, num_vertices=(4, 8), max_angle=4.0, length_range=(10, 100), brush_width=(10, 40),
                     area_ratio_range=(0.15, 0.5), img_shape=None, key='mask', img_key='gt', seed=None):
            self.img_shape, self.key, self.img_key, self.seed = img_shape, key, img_key, seed
            self.area_ratio_range = area_ratio_range

        def transform(self, results):
            h, w = self.img_shape if self.img_shape is not None else results[self.img_key].shape[:2]
            rng = self.rng(results)
            lo, hi = self.area_ratio_range
            while True:  # one box whose area ratio is inside the range
                bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
                if lo < bh * bw / (h * w) < hi:
                    break
            top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
            mask = np.ones((h, w, 1), np.float32)
            mask[top:top + bh, left:left + bw] = 0
            results[self.key] = mask
            return results
    REPLACED.append('GenerateIrregularMask')

if 'Resize' not in TRANSFORMS.module_dict:
    @TRANSFORMS.register_module(name='Resize')
    class _ResizeStandIn(BaseTransform):
        at_inference = 'drop'  # the benchmark's fixed size; inference runs at the image's own size

        def __init__(self, keys, size, interpolation='bilinear'):
            self.keys = [keys] if isinstance(keys, str) else list(keys)
            self.size = (size, size) if isinstance(size, int) else tuple(size)
            self.interpolation = interpolation

        def transform(self, results):
            h, w = self.size
            for k in self.keys:
                img = results[k]
                out = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
                results[k] = out.reshape((h, w) + img.shape[2:])
            return results
    REPLACED.append('Resize')
