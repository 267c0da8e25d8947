"""Fixtures of the architecture tests."""
from tests.archs.tiny_mat import tiny_nets  # noqa: F401  (a tiny seeded MAT generator + discriminator)
