"""Energy functions: per-pixel importance maps that decide which pixels survive."""
from .backbones import available_backbones
from .base import CarvingTerms, EnergyFunction, normalize_map
from .deep import DeepEnergyFunction
from .gradient import GradientEnergyFunction
from .hybrid import HybridEnergyFunction
from .registry import default_energy, energy_names, make_energy
from .saliency import SaliencyEnergyFunction

__all__ = [
    "EnergyFunction",
    "CarvingTerms",
    "normalize_map",
    "GradientEnergyFunction",
    "SaliencyEnergyFunction",
    "DeepEnergyFunction",
    "HybridEnergyFunction",
    "make_energy",
    "default_energy",
    "energy_names",
    "available_backbones",
]
