"""Helpers shared by the arch tests."""
import hashlib

import torch


def n_params(model: torch.nn.Module) -> int:
    """Unique parameters (shared tensors counted once), like ``sum(p.numel())``."""
    return sum(p.numel() for p in model.parameters())


def state_dict_digest(model: torch.nn.Module) -> str:
    """Short sha256 of the sorted ``key:shape`` lines of the state_dict.

    The expected digests were computed from the official implementations
    (swz30/MPRNet@43feb2a, swz30/Restormer@df766d5, va1shn9v/PromptIR@106159a) at
    their released settings, so equal digests mean identical key sets and shapes.
    """
    lines = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sorted(model.state_dict().items()))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]
