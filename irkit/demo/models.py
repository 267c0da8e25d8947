"""The models a demo server holds: any irkit config + checkpoint, inpainting or restoration."""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

__all__ = ['DemoModel', 'load_models', 'task_of']

Progress = Callable[[int, Optional[int]], None]


def task_of(model: torch.nn.Module) -> str:
    """``'inpainting'`` for models :func:`irkit.apis.inpainting.inpaint` takes, else ``'restoration'``."""
    return 'inpainting' if hasattr(model, 'inpaint') and hasattr(model, 'io') else 'restoration'


@dataclass
class DemoModel:
    """One loaded model and what the page and ``/api/v1/models`` say about it."""
    name: str
    model: torch.nn.Module
    config: str
    weights: str
    task: str = ''
    inputs: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from irkit.apis.restoration import inference_inputs
        self.task = self.task or task_of(self.model)
        if not self.inputs:
            self.inputs = ['gt'] if self.task == 'inpainting' else inference_inputs(self.model)

    def describe(self) -> Dict[str, object]:
        """The JSON entry of ``/api/v1/models``."""
        param = next(iter(self.model.parameters()), None)
        info: Dict[str, object] = dict(name=self.name, task=self.task, config=self.config, weights=self.weights,
                                       model=type(self.model).__name__,
                                       arch=type(getattr(self.model, 'generator', self.model)).__name__,
                                       inputs=self.inputs, device=str(param.device) if param is not None else 'cpu')
        if self.task == 'inpainting':
            from irkit.apis.inpainting import STRATEGIES
            io = self.model.io
            info.update(strategies=list(STRATEGIES), resize_to=io.resize_to, pad_multiple=io.pad_multiple)
        else:
            info.update(tile=getattr(self.model, 'tile', None), tile_overlap=getattr(self.model, 'tile_overlap', None),
                        tiling=hasattr(self.model, 'tile'), degradation=self.degradation())
        return info

    def degradation(self) -> Optional[str]:
        """The transforms the test pipeline synthesises the input with (``None``: it reads degraded files)."""
        if self.task != 'restoration':
            return None
        from irkit.apis.restoration import inference_pipeline
        gt_key = getattr(self.model, 'gt_key', 'gt')
        if gt_key in self.inputs:
            return None
        try:
            steps = inference_pipeline(self.model, [gt_key]).cfg
        except (KeyError, ValueError, TypeError):
            return None
        made = [t for t in steps if t.get('out_key') in self.inputs]
        if not made:
            return None
        return ', '.join(t['type'] + '(' + ', '.join(f'{k}={v!r}' for k, v in t.items()
                                                     if k not in ('type', 'key', 'out_key')) + ')' for t in made)

    def degrade(self, path: str) -> torch.Tensor:
        """The input the test pipeline synthesises from the clean image at ``path``."""
        from irkit.apis.restoration import degrade
        return degrade(self.model, path)

    def run(self, files: Dict[str, str], options: dict, progress: Optional[Progress] = None) -> torch.Tensor:
        """Inpaint or restore the given files (paths: ``image``, ``mask`` / further inputs by name).

        Returns a 3xHxW [0, 1] tensor.
        """
        if self.task == 'inpainting':
            from irkit.apis.inpainting import inpaint
            return inpaint(self.model, files['image'], files['mask'], progress=progress, **options)
        from irkit.apis.restoration import restore
        options = dict(options)
        if options.pop('degrade', False):
            img = {getattr(self.model, 'gt_key', 'gt'): files['image']}
        elif len(self.inputs) == 1:
            img = files['image']
        else:
            img = {k: files['image'] if i == 0 else files[k] for i, k in enumerate(self.inputs)}
        return restore(self.model, img, progress=progress, **options)


def load_models(specs: Sequence[Tuple[str, Optional[str]]], device: str = 'cpu',
                cfg_options: Optional[dict] = None) -> List[DemoModel]:
    """Build ``(config or zoo name, checkpoint or None)`` pairs with :func:`irkit.apis.init_model`.

    Without a checkpoint the model keeps its random initialisation, and says so.
    Names are the config file names (``demo_denoise``), made unique with ``-2``, ``-3``.
    """
    from irkit.apis import init_model
    out: List[DemoModel] = []
    names: Dict[str, int] = {}
    for config, checkpoint in specs:
        model = init_model(config, checkpoint, device=device, cfg_options=cfg_options)
        base = osp.splitext(osp.basename(config))[0]
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f'{base}-{names[base]}'
        weights = str(checkpoint) if checkpoint else 'random initialisation (no checkpoint given)'
        out.append(DemoModel(name=name, model=model, config=str(config), weights=weights))
    return out
