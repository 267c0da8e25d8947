"""Registered helpers that tests load into real runs through ``custom_imports``."""
import json
import os
import time
from typing import Optional

import torch
import torch.nn as nn
from mmengine.hooks import Hook

from irkit.datasets.image_folder_dataset import ImageFolderDataset
from irkit.registry import ARCHS, DATASETS, HOOKS


@HOOKS.register_module()
class SlowIterHook(Hook):
    """Sleep after each iteration (gives a test time to kill the process mid-run)."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        time.sleep(self.seconds)


@HOOKS.register_module()
class SlowSaveHook(Hook):
    """Make checkpoint writes large and slow (a test kills the process while one is written)."""

    def __init__(self, megabytes: int = 300) -> None:
        self.megabytes = megabytes

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if runner.iter + 1 >= 2:
            checkpoint['ballast'] = torch.zeros(self.megabytes * 2 ** 18)  # float32: 4 bytes each


@HOOKS.register_module()
class ExitAtIterHook(Hook):
    """Kill this process (``os._exit``, no cleanup) right after iteration ``at`` and its
    checkpoint: a crash every rank of a distributed run hits at the same point."""

    priority = 'LOWEST'  # after the CheckpointHook

    def __init__(self, at: int = 2, code: int = 3) -> None:
        self.at, self.code = at, code

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            if torch.distributed.is_initialized():
                torch.distributed.barrier()  # rank 0 has finished writing the checkpoint
            os._exit(self.code)


@HOOKS.register_module()
class LossRecorderHook(Hook):
    """Write every iteration's loss terms of this rank to ``{work_dir}/losses_rank{R}.json``."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.records = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.records[runner.iter + 1] = {k: float(torch.as_tensor(v).detach()) for k, v in outputs.items()}
        rank = int(os.environ.get('RANK', 0))
        with open(os.path.join(runner.work_dir, f'losses_rank{rank}.json'), 'w') as f:
            json.dump(self.records, f)


@ARCHS.register_module()
class NaNAtCall(nn.Module):
    """A 1-layer net whose output is NaN on the ``bad_call``-th training forward
    (``bad_rank``: only in the process of that distributed rank)."""

    def __init__(self, bad_call: int = 2, bad_rank: Optional[int] = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bad_call = bad_call
        self.bad_rank = bad_rank
        self.calls = 0

    def forward(self, x):
        y = x + self.conv(x)
        if self.training:
            self.calls += 1
            here = self.bad_rank is None or int(os.environ.get('RANK', 0)) == self.bad_rank
            if self.calls == self.bad_call and here:
                y = y * float('nan')
        return y


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """Send ``signal`` (default SIGKILL, what the kernel's out-of-memory killer sends) to this
    process after iteration ``at`` on rank ``rank``."""

    def __init__(self, at: int = 1, rank: int = 1, signal: int = 9) -> None:
        self.at, self.rank, self.signal = at, rank, signal

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at and int(os.environ.get('RANK', 0)) == self.rank:
            os.kill(os.getpid(), self.signal)


@HOOKS.register_module()
class RaiseAtIterHook(Hook):
    """Raise a ZeroDivisionError (a bug, not an input error) after iteration ``at``."""

    def __init__(self, at: int = 1) -> None:
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            raise ZeroDivisionError('planted bug in after_train_iter')


@DATASETS.register_module()
class CountingImageFolder(ImageFolderDataset):
    """An ImageFolderDataset that appends every index it loads to ``count_file``."""

    def __init__(self, count_file: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count_file = count_file

    def __getitem__(self, idx):
        with open(self.count_file, 'a') as f:
            f.write(f'{int(idx)}\n')
        return super().__getitem__(idx)


@ARCHS.register_module()
class ImageMaskConvInpainter(nn.Module):
    """A one-convolution inpainting generator called ``G(img, mask)`` (``inpaint_io``
    inputs='image_mask'): MACs = 4 x 3 x 9 x H x W."""

    inpaint_io = dict(value_range=(-1.0, 1.0), mask='hole', inputs='image_mask')

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, img, mask):
        return self.conv(torch.cat([img, mask], dim=1))


@ARCHS.register_module()
class FailsToBuild(nn.Module):
    """Raises when built: a tool that reports an input error first never gets here."""

    def __init__(self) -> None:
        raise RuntimeError('FailsToBuild was built')


@ARCHS.register_module()
class BrokenForward(nn.Module):
    """A net with a bug: its forward multiplies tensors of incompatible shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(x) @ torch.zeros(5, 7)
