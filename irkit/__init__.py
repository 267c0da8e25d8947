"""irkit: an image restoration and inpainting toolkit on mmengine.

Importing ``irkit`` is light: the registries in :mod:`irkit.registry` import
the packages that fill them (``irkit.archs``, ``irkit.models``, ...) on first use.
"""
__version__ = '0.1.0'
