"""Seam carving: Numba kernels and the SeamCarver API."""
from .carver import CarveResult, SeamCarver, remove_object

__all__ = ["SeamCarver", "CarveResult", "remove_object"]
