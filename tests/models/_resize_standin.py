"""A ``Resize`` transform for the MMagic-recipe tests while irkit's own (another branch) is not merged:
registered only when irkit has none; MMagic's cv2 bilinear resize to ``(h, w)``."""
import cv2

from irkit.registry import TRANSFORMS

TRANSFORMS.import_from_location()  # irkit's own transforms first
REGISTERED = 'Resize' not in TRANSFORMS.module_dict
if REGISTERED:
    from irkit.datasets.transforms.base import BaseTransform

    @TRANSFORMS.register_module(name='Resize')
    class _ResizeStandIn(BaseTransform):
        at_inference = 'drop'  # a benchmark's preprocessing: models run on any size

        def __init__(self, keys, size, interpolation='bilinear'):
            self.keys = [keys] if isinstance(keys, str) else list(keys)
            self.size = (size, size) if isinstance(size, int) else tuple(size)

        def transform(self, results):
            for k in self.keys:
                results[k] = cv2.resize(results[k], self.size[::-1], interpolation=cv2.INTER_LINEAR)
            return results
