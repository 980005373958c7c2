"""Energy functions: per-pixel importance maps that decide which pixels survive.

:class:`DeepEnergyFunction` and :func:`available_backbones` are imported on first access
(PEP 562); torch itself only where a CNN computes its first map or loads (about 1.4 s), so that
``import compress_core``, the gradient and saliency energies and a deep energy that computes no
map (the hybrid method where the aspect stays) start without it.
"""
from . import _torch_fork  # noqa: F401 -- a forked child's torch: one thread (no torch import)
from .base import CarvingTerms, EnergyFunction, normalize_map
from .gradient import GradientEnergyFunction
from .blend import BlendEnergyFunction, HybridEnergyFunction
from .registry import default_energy, energy_names, make_energy
from .saliency import SaliencyEnergyFunction

__all__ = [
    "EnergyFunction",
    "CarvingTerms",
    "normalize_map",
    "GradientEnergyFunction",
    "SaliencyEnergyFunction",
    "DeepEnergyFunction",
    "BlendEnergyFunction",
    "HybridEnergyFunction",
    "make_energy",
    "default_energy",
    "energy_names",
    "available_backbones",
]

_LAZY = {"DeepEnergyFunction": ".deep", "available_backbones": ".backbones"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
