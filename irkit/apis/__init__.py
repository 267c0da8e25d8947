"""Front doors for inference (import what you need: the modules import torch, not the archs)."""
from irkit.apis.restoration import init_model, list_images, plan_outputs, read_rgb, restore  # noqa: F401
