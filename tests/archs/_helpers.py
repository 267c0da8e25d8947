"""Helpers shared by the arch tests."""
import json
import os

import torch

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def n_params(model: torch.nn.Module) -> int:
    """Unique parameters (shared tensors counted once), like ``sum(p.numel())``."""
    return sum(p.numel() for p in model.parameters())


def load_layout(name: str, part: str) -> dict:
    """``{key: shape}`` of a released configuration, from ``fixtures/<name>.json``.

    The fixtures were written from the official implementations' state dicts (each file's
    ``source`` names the repository, commit and constructor call)."""
    with open(os.path.join(FIXTURES, f'{name}.json')) as f:
        return json.load(f)[part]


def layout_diff(model_or_sd, expected: dict):
    """``(missing, unexpected, shape mismatches)`` of a model's state_dict against a layout."""
    sd = model_or_sd.state_dict() if isinstance(model_or_sd, torch.nn.Module) else model_or_sd
    got = {k: list(v.shape) for k, v in sd.items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    shapes = [f'{k}: {got[k]} != {expected[k]}' for k in expected if k in got and got[k] != expected[k]]
    return missing, extra, shapes


def assert_layout(model_or_sd, name: str, part: str) -> None:
    """The state_dict has exactly the keys and shapes of the released layout (a readable diff otherwise)."""
    missing, extra, shapes = layout_diff(model_or_sd, load_layout(name, part))
    assert (missing, extra, shapes) == ([], [], []), (
        f'{name}[{part}]: missing {missing[:10]}, unexpected {extra[:10]}, shapes {shapes[:10]}')
