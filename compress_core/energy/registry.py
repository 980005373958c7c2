"""Energy functions by name, for the CLI and the pipeline (``--energy NAME --model NAME``).

``"gradient"``
    :class:`GradientEnergyFunction` (Sobel L1 of the luma).
``"saliency"``
    :class:`SaliencyEnergyFunction` (spectral residual unless ``method=`` says otherwise).
``"deep"``
    :class:`DeepEnergyFunction` on backbone ``model`` (default ``efficientnet_lite0``,
    class activation + deep-feature contrast).
``"blend"`` (alias ``"hybrid"``, its former name)
    :class:`BlendEnergyFunction` of deep (weight 0.6), Sobel gradient (0.2) and spectral
    saliency (0.2), fixed weights unless ``adaptive_weights=True``. The deep map decides what
    matters; the gradient keeps seams off edges (carved as the kernel's dynamic term) and the
    spectral saliency adds the where-the-eye-goes prior at almost no cost. On the test photos
    this blend keeps the subject at >= 2.6x a smooth background and >= 1.7x a textured one.
    (``method="hybrid"``, the crop/carve/scale policy, is another thing; hence the new name.)
"""
from __future__ import annotations

from enum import Enum
from typing import Optional

from ..options import parse_option
from .base import EnergyFunction
from .gradient import GradientEnergyFunction
from .blend import BlendEnergyFunction
from .saliency import SaliencyEnergyFunction

__all__ = ["EnergyName", "make_energy", "default_energy", "DEFAULT_BLEND_WEIGHTS",
           "DEFAULT_HYBRID_WEIGHTS", "energy_names", "BACKBONE_NAMES", "DEFAULT_BACKBONE",
           "DEFAULT_ENERGY", "uses_model"]

#: Names of the CNN backbones (``backbones.available_backbones()``), here without importing
#: torch, for validating ``--model`` where no model is loaded (a Beam launcher, the CLI).
BACKBONE_NAMES = ("efficientnet_lite0", "vgg16", "vgg19", "resnet18", "resnet50",
                  "efficientnet_b0")
#: The backbone of the deep energy when none is named (``backbones`` imports it from here).
DEFAULT_BACKBONE = BACKBONE_NAMES[0]

#: Weights of deep, gradient and spectral saliency in the ``"blend"`` energy.
DEFAULT_BLEND_WEIGHTS = (0.6, 0.2, 0.2)
#: The former name of :data:`DEFAULT_BLEND_WEIGHTS`.
DEFAULT_HYBRID_WEIGHTS = DEFAULT_BLEND_WEIGHTS

_BLEND_KEYS = ("weights", "adaptive_weights")


class EnergyName(str, Enum):
    """Names accepted by :func:`make_energy` (and the CLI's ``--energy``)."""

    GRADIENT = "gradient"
    SALIENCY = "saliency"
    DEEP = "deep"
    BLEND = "blend"

    @classmethod
    def aliases(cls):
        """Former names still accepted: ``{"hybrid": EnergyName.BLEND}``."""
        return {"hybrid": cls.BLEND}


#: The energy of ``SemanticCompressor()`` (:func:`default_energy`) and of the CLI and job.
DEFAULT_ENERGY = EnergyName.DEEP

#: Energies that run a CNN (``model`` applies to them only).
_CNN_ENERGIES = (EnergyName.DEEP, EnergyName.BLEND)


def uses_model(name) -> bool:
    """Whether energy ``name`` runs a CNN backbone (so that ``model`` matters to it)."""
    return parse_option(EnergyName, name, "energy") in _CNN_ENERGIES


def energy_names(aliases: bool = False):
    """The energy names, in order (with ``aliases=True`` followed by the former names)."""
    names = tuple(m.value for m in EnergyName)
    return names + tuple(EnergyName.aliases()) if aliases else names


def make_energy(name: str = "deep", model: Optional[str] = None, **kwargs) -> EnergyFunction:
    """Build an energy function by name.

    Parameters
    ----------
    name : {"gradient", "saliency", "deep", "blend"}
        Which energy (module docstring); ``"hybrid"`` is an alias of ``"blend"``.
    model : str, optional
        CNN backbone of ``"deep"`` and of the deep member of ``"blend"`` (default
        ``"efficientnet_lite0"``); ignored by ``"gradient"`` and ``"saliency"``, so a pipeline
        can always pass its ``--model``.
    **kwargs
        Passed to the constructor: ``operator`` (gradient), ``method`` (saliency),
        ``aggregate_method``, ``layers``, ``weights_path``, ``device``, ``max_side``, ``top_k``
        (deep). For ``"blend"``, ``weights`` (deep, gradient, saliency) and
        ``adaptive_weights`` configure the blend and the rest go to its deep member.

    Returns
    -------
    EnergyFunction

    Raises
    ------
    ValueError
        Unknown ``name`` (the message lists the accepted names), unknown ``model``, or an
        invalid parameter value.
    TypeError
        A keyword the chosen energy does not take.
    """
    kind = parse_option(EnergyName, name, "energy")
    if kind in _CNN_ENERGIES:
        from .deep import DeepEnergyFunction  # (torch: imported at its first map)
    if kind is EnergyName.GRADIENT:
        return GradientEnergyFunction(**kwargs)
    if kind is EnergyName.SALIENCY:
        return SaliencyEnergyFunction(**kwargs)
    deep_kwargs = {k: v for k, v in kwargs.items() if k not in _BLEND_KEYS}
    if model is not None:
        deep_kwargs["model_name"] = model
    if kind is EnergyName.DEEP:
        extra = [k for k in kwargs if k in _BLEND_KEYS]
        if extra:
            raise TypeError(f"energy 'deep' does not take {extra}")
        return DeepEnergyFunction(**deep_kwargs)
    weights = kwargs.get("weights", DEFAULT_BLEND_WEIGHTS)
    return BlendEnergyFunction(
        [DeepEnergyFunction(**deep_kwargs), GradientEnergyFunction("sobel"),
         SaliencyEnergyFunction("spectral")],
        weights=weights,
        adaptive_weights=kwargs.get("adaptive_weights", False),
    )


def default_energy() -> EnergyFunction:
    """The library's default energy (what ``SemanticCompressor()`` uses): ``make_energy("deep")``.

    The embedded EfficientNet-Lite0 deep energy (class activation of the top-5 classes combined
    with deep-feature contrast, CNN at 320 px), carved with a dynamic Sobel gradient term of
    weight 0.15; it needs no download. Chosen by ``bench/bench_fidelity.py``: on the 24 Kodak
    photos it kept a classifier's view closest to the original's with the ``hybrid`` method
    (mean KL 0.274 / 0.418 at width 50% / 30%, against 0.288 / 0.439 for the ``"blend"`` energy,
    0.402 / 0.545 for gradient energy and 0.32-0.36 / 0.42-0.45 for plain CAM or a 512 px
    input; square thumbnails of 3:2 photos became a plain squeeze, 0.209, against 0.236 with
    gradient energy, whose flat skies count as empty margins).
    """
    return make_energy(DEFAULT_ENERGY)
