"""Energy functions: per-pixel importance maps that decide which pixels survive."""
from .base import CarvingTerms, EnergyFunction, normalize_map
from .gradient import GradientEnergyFunction

__all__ = ["EnergyFunction", "CarvingTerms", "normalize_map", "GradientEnergyFunction"]
