"""The energy-function interface: ``energy(image) -> float32 HxW >= 0``.

An energy function maps an RGB image to a per-pixel importance map. Seam carving, smart crop
and the hybrid policy all consume these maps. For seam carving an energy function also says how
it splits into a *static* map (computed once and carved along with the pixels) and a *dynamic*
gradient term that the Numba kernel updates near each removed seam (see
:meth:`EnergyFunction.carving_terms`).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from ..pixels import as_rgb_array

__all__ = ["EnergyFunction", "CarvingTerms", "Importance", "ENERGY_UNIT", "normalize_map",
           "map_percentile", "check_energy_map", "as_energy_map", "resize_map"]

#: Scale of static maps handed to the seam kernel. The kernel's dynamic gradient term is the
#: Sobel L1 magnitude of 8-bit luma (0..2040, about 10-60 on smooth photo areas, 200+ on edges);
#: a static map normalised to [0, 1] is multiplied by this so that its strongest response weighs
#: like a strong edge.
ENERGY_UNIT = 255.0


@dataclass(frozen=True)
class CarvingTerms:
    """How an energy function is evaluated inside the seam kernel.

    Attributes
    ----------
    static : ndarray of float32, shape (H, W), or None
        Importance computed once per image and carved along with the pixels, in kernel units
        (see :data:`ENERGY_UNIT`). ``None`` means no static term.
    gradient_weight : float
        Weight of the kernel's dynamic Sobel-L1 gradient term, updated near every removed seam.
    """

    static: Optional[np.ndarray]
    gradient_weight: float


class Importance(NamedTuple):
    """An energy map together with the regions that must survive whole.

    Attributes
    ----------
    map : ndarray of float32, shape (H, W)
        The energy map (what ``energy(image)`` returns).
    faces : tuple of compress_core.energy.faces.Face
        Detected faces (boxes in image pixels); crops keep them whole where the target's
        aspect allows. Empty for energies without a face term.
    faces_sought : bool
        Whether faces were looked for (the energy has a face term): an empty ``faces`` then
        says "none in the picture", not "none looked for" (the manifest's ``faces`` is null
        for the latter).
    weights : dict, optional
        A blend's weights for this map (``{member name: weight}``), carried with it: one
        energy object shared by several threads holds no "last image" that another call's
        could overwrite (a shared adaptive blend's ``last_weights`` gave results another
        image's weights; thread review 44). None for energies that are no blend.
    """

    map: np.ndarray
    faces: Tuple = ()
    faces_sought: bool = False
    weights: Optional[Dict[str, float]] = None


#: Maps larger than this many pixels have their percentiles estimated on an evenly strided
#: subsample of about this size (exact below it): on a 12-megapixel map an exact percentile
#: costs ~90 ms, the estimate ~10 ms and differs by well under 1%.
PERCENTILE_SAMPLE = 1 << 20


def map_percentile(energy: np.ndarray, q) -> np.ndarray:
    """``np.percentile(energy, q)``, estimated on a strided subsample for very large maps."""
    flat = np.asarray(energy).ravel()
    if flat.size > PERCENTILE_SAMPLE:
        flat = flat[:: -(-flat.size // PERCENTILE_SAMPLE)]
    return np.percentile(flat, q)


def resize_map(importance: np.ndarray, width: int, height: int, resample=None) -> np.ndarray:
    """An importance map (or a mask as floats) resampled to ``width`` x ``height``, float32;
    the map itself when it has that size already. ``resample``: a Pillow filter (default
    bilinear; ``Image.Resampling.BOX`` for area averages)."""
    from PIL import Image

    importance = np.ascontiguousarray(importance, dtype=np.float32)
    if importance.shape == (height, width):
        return importance
    resample = Image.Resampling.BILINEAR if resample is None else resample
    return np.asarray(Image.fromarray(importance, "F").resize((width, height), resample))


def normalize_map(energy: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by a high percentile (robust to a few hot pixels).

    A constant map becomes all zeros. The percentile of maps over
    :data:`PERCENTILE_SAMPLE` pixels is estimated (:func:`map_percentile`).
    """
    energy = np.asarray(energy, dtype=np.float32)
    top = float(map_percentile(energy, percentile)) if energy.size else 0.0
    if not np.isfinite(top) or top <= 0:
        top = float(energy.max()) if energy.size else 0.0
    if top <= 0 or not np.isfinite(top):
        return np.zeros_like(energy, dtype=np.float32)
    out = energy * np.float32(1.0 / top)
    return np.clip(out, 0.0, 1.0, out=out)


def as_energy_map(energy, name: str = "energy", shape=None) -> np.ndarray:
    """``energy`` as a float32 2-D map, checked: real numbers, non-empty, finite.

    The one check every entry point taking an energy map uses (analysis, visualize, crop, the
    seam carver's static maps). Negative values are left alone (see :func:`check_energy_map`).

    Parameters
    ----------
    energy : array-like
        The map. Never written to.
    name : str
        What the map is, for the error message.
    shape : (int, int), optional
        The (H, W) it must have (the image's).

    Raises
    ------
    TypeError
        Not a real numeric array.
    ValueError
        Not 2-D, empty, the wrong shape, NaN or infinite values.
    """
    arr = np.asarray(energy)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have the image's shape {tuple(shape)}; got {arr.shape}")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array; got shape {arr.shape}")
    arr = np.asarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values (after float32 conversion)")
    return arr


def check_energy_map(energy, shape, name: str) -> np.ndarray:
    """What an energy function returned, checked: float32 of ``shape`` (H, W), finite, with
    negative values clipped to 0 (the documented contract of :meth:`EnergyFunction.__call__`).

    Raises
    ------
    TypeError, ValueError
        As :func:`as_energy_map`.
    """
    arr = as_energy_map(energy, name, shape)
    if float(arr.min()) < 0.0:
        arr = np.maximum(arr, 0.0)
    return arr


class EnergyFunction(abc.ABC):
    """Base class of every energy function.

    Subclasses implement :meth:`compute` on a validated RGB uint8 array and :meth:`params`;
    calling the instance validates the input and checks the output contract.
    """

    #: Short name recorded in results and manifests (``"gradient"``, ``"deep"`` ...).
    name: str = "energy"

    def __call__(self, image) -> np.ndarray:
        """Return the energy map of ``image`` as float32 (H, W), finite and >= 0.

        Parameters
        ----------
        image : ndarray or PIL.Image.Image
            Gray (H, W), RGB or RGBA (H, W, 3|4); dtypes and ranges as
            :func:`~compress_core.pixels.as_pixel_array`. Alpha is ignored.

        Raises
        ------
        UnsupportedImageError
            An image of an unsupported shape, dtype or value range.
        ValueError
            :meth:`compute` returned a map of the wrong shape or with NaN / infinite values
            (negative values are clipped to 0, as documented).
        """
        rgb = as_rgb_array(image, drop_alpha=True)
        return self._checked(self.compute(rgb), rgb)

    def importance(self, image) -> Importance:
        """The energy map of ``image`` and the regions (faces) that must survive whole.

        The base class has no face term: ``Importance(self(image), ())``.
        """
        return Importance(self(image), ())

    def _checked(self, energy, rgb: np.ndarray) -> np.ndarray:
        """What :meth:`compute` returned for ``rgb``, checked (:func:`check_energy_map`)."""
        return check_energy_map(energy, rgb.shape[:2],
                                f"the map {type(self).__name__}.compute() returned")

    @abc.abstractmethod
    def compute(self, rgb: np.ndarray) -> np.ndarray:
        """Energy of a validated RGB uint8 array of shape (H, W, 3)."""

    def params(self) -> Dict[str, Any]:
        """Parameters that identify this energy (JSON-serialisable), for manifests."""
        return {}

    def describe(self) -> Dict[str, Any]:
        """``{"name": ..., **params}``: what results and manifests record."""
        return {"name": self.name, **self.params()}

    #: Weight of the kernel's dynamic gradient term next to a static map (see carving_terms).
    carving_gradient_weight: float = 0.25

    def carving_terms(self, rgb: np.ndarray) -> CarvingTerms:
        """Split this energy into the seam kernel's static map and dynamic gradient weight."""
        return self.terms_from_map(self(rgb))

    def terms_from_map(self, energy: np.ndarray) -> CarvingTerms:
        """:class:`CarvingTerms` from a map this function already computed for the image.

        The default treats the whole map as static (normalised to ``[0, ENERGY_UNIT]``) and
        adds a small dynamic gradient term (:attr:`carving_gradient_weight`) so that, among
        equally important pixels, seams still avoid the edges they would otherwise cut.
        """
        static = normalize_map(energy) * np.float32(ENERGY_UNIT)
        return CarvingTerms(static=static, gradient_weight=float(self.carving_gradient_weight))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
