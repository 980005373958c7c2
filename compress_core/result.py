"""What :meth:`SemanticCompressor.compress <compress_core.SemanticCompressor.compress>` returns:
:class:`CompressionResult` (pixels, encoded bytes, what was done, timings), and
:class:`FailedCompression` for ``compress_batch(..., on_error="return")``."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from . import codec
from .errors import (EncoderUnavailableError, ImageDecodeError, TargetUnreachableError,
                     UnsupportedImageError)
from .pixels import to_pil
from .options import ImageFormat
from .storage import check_storage_options, media_type, write_atomic

__all__ = ["CompressionResult", "FailedCompression"]


def source_map(source: Union[np.ndarray, Tuple[int, int]], size: Tuple[int, int],
               grid: Optional[Tuple[int, int]] = None,
               input_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Nearest input pixel (flat index) of every output pixel of size ``(w, h)``.

    ``source`` is the map before the final resampling (crop and carve), or the shape
    ``(h, w)`` of a picture kept whole, every pixel in place (the identity's map, not built);
    the resampling maps output pixel centre ``x + 0.5`` to ``(x + 0.5) * w1 / w`` in it. Its
    values index the input, or, with ``grid``, a picture of that ``(width, height)``: the
    input (of ``input_size``) reduced, where the geometry worked
    (``operations["working_size"]``). The centre is then carried to the input from where it
    falls inside its working pixel, not from that pixel's centre (up to half a working pixel
    off, the same way at every pixel when the working picture is twice the output: each
    centre on the edge between two pixels).
    """
    whole = isinstance(source, tuple)
    h1, w1 = source if whole else source.shape
    w, h = size
    fy = (np.arange(h) + 0.5) * (h1 / h)
    fx = (np.arange(w) + 0.5) * (w1 / w)
    ys = np.minimum(fy.astype(np.int64), h1 - 1)
    xs = np.minimum(fx.astype(np.int64), w1 - 1)
    if whole:
        picked = (ys[:, None] * w1 + xs[None, :]).astype(np.int32 if w1 * h1 < 2 ** 31
                                                          else np.int64)
    else:
        picked = source[ys[:, None], xs[None, :]]
    if grid is None:
        return np.ascontiguousarray(picked)
    (ww, wh), (w0, h0) = grid, input_size
    wy, wx = np.divmod(picked.astype(np.int64), ww)
    x = np.minimum(((wx + (fx - xs)[None, :]) * (w0 / ww)).astype(np.int64), w0 - 1)
    y = np.minimum(((wy + (fy - ys)[:, None]) * (h0 / wh)).astype(np.int64), h0 - 1)
    return (y * w0 + x).astype(np.int32 if w0 * h0 < 2 ** 31 else np.int64)


def _same(a: Any, b: Any) -> bool:
    """Whether two field values are equal, arrays by their shape, type and values (``==`` on
    arrays gives an array, whose truth Python cannot take)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


@dataclass(eq=False)
class CompressionResult:
    """The outcome of :meth:`SemanticCompressor.compress`.

    Two results are equal when every attribute is (``pixels`` and ``source_map`` by their
    values): a result and its pickled copy are; two calls of ``compress()`` differ at least
    by their ``timings``. Results are not hashable (their attributes may change).

    Attributes
    ----------
    pixels : ndarray of uint8 (h, w, 3|4)
        The output pixels (``image`` is the same as a PIL image).
    data : bytes
        The encoded output; ``save()`` writes exactly these bytes.
    format : str
        Pillow's name of the output encoding (``"JPEG"``, ``"WEBP"``, ``"PNG"``, ``"AVIF"``).
    quality : int or None
        Encoder quality (None for PNG).
    original_size : (int, int)
        Input ``(width, height)`` after EXIF orientation.
    original_bytes : int
        Encoded input size; for arrays and PIL images, the bytes their samples hold
        (``array.nbytes``: H*W*C times the sample's size, a grey uint8 array's H*W).
    input_format : str or None
    method : str
    energy : dict
        The energy function's ``describe()`` (name and parameters).
    energy_stats : dict
        :func:`compress_core.analysis.energy_statistics` of the input's energy map (of the
        input reduced, where the geometry worked on it); empty where none is computed:
        ``method="jpeg"``, which re-encodes, and every target that keeps the aspect (``scale``,
        ``max_dimension``, ``target_pixels``: the whole picture is scaled, no map needed).
    retained_energy_ratio : float
        Share of the input's energy that survives undistorted: the energy on pixels that survive
        cropping and carving, divided by the stretch of the final resampling (a uniform scale
        keeps 1.0; a 1.05 squeeze of everything keeps 1/1.05).
    stretch : float
        Anisotropy of the final resampling, ``max(s, 1/s)`` with ``s`` the ratio of its x and
        y scale factors (1.0: none); not above ``max_stretch`` for ``method="hybrid"``, except
        where the target's aspect would need a crop thinner than one pixel (tiny inputs or
        extreme aspect changes, e.g. 160 x 17 to 1 x 50: 2.94); the value is what was applied.
        ``seam_carving``: the seams' squeeze of what matters, inserted seams counted as if they
        widened everything by their share (an upper bound).
    seams : dict
        ``{"vertical": n, "horizontal": m}`` seams removed (negative: inserted), at the size the
        geometry worked at (``operations["working_size"]`` where it was not the input's). A
        net count: where ``seam_carving`` inserted seams (enlarging, or an object removed at
        the input's size: 0 and 0), ``operations["seams_removed"]`` and
        ``["seams_inserted"]`` give each.
    crop_box : tuple or None
        ``(left, top, right, bottom)`` in input coordinates of the region the output is drawn
        from, when the method cropped (for hybrid after carving: the bounding box of the kept
        pixels); None when nothing was cropped.
    operations : dict
        What the method did (the hybrid split; see :class:`compress_core.hybrid.HybridPlan`).
        ``working_size``, where present: the size the input was reduced to before the geometry
        (:attr:`compress_core.hybrid.HybridPolicy.working_oversample`); the method's own boxes
        and sizes here are then in its coordinates, ``crop_box`` and ``source_map`` in the
        input's.
    timings : dict
        Milliseconds: ``decode_ms``, ``energy_ms``, ``resize_ms``, ``encode_ms``, ``total_ms``.
    params : dict
        The ``compress()`` arguments that shaped this result.
    source : str
        Where the input came from.
    input_sha256 : str or None
        SHA-256 of the encoded input bytes.
    icc_profile, exif, xmp, iptc : bytes or None
        What ``data`` carries of the input's metadata (option ``metadata``), written again by
        :meth:`save` into another format. ``icc_profile`` is the profile of ``pixels``: a
        JPEG XL ``data`` holds them converted to sRGB, without it (the plug-in cannot store a
        profile; :func:`compress_core.codec.encoders.jxl_srgb`).
    """

    pixels: np.ndarray
    data: bytes
    format: str
    quality: Optional[int]
    original_size: Tuple[int, int]
    original_bytes: int
    input_format: Optional[str] = None
    method: str = "hybrid"
    energy: Dict[str, Any] = field(default_factory=dict)
    energy_stats: Dict[str, float] = field(default_factory=dict)
    retained_energy_ratio: float = 1.0
    seams: Dict[str, int] = field(default_factory=lambda: {"vertical": 0, "horizontal": 0})
    crop_box: Optional[Tuple[int, int, int, int]] = None
    operations: Dict[str, Any] = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)
    params: Dict[str, Any] = field(default_factory=dict)
    source: str = "<array>"
    input_sha256: Optional[str] = None
    icc_profile: Optional[bytes] = field(default=None, repr=False)
    exif: Optional[bytes] = field(default=None, repr=False)
    xmp: Optional[bytes] = field(default=None, repr=False)
    iptc: Optional[bytes] = field(default=None, repr=False)
    stretch: float = 1.0
    #: flat indices of the input, or of the input reduced to ``operations["working_size"]``;
    #: None where nothing changed the geometry, or where the whole picture was scaled
    #: (``scaled_whole``)
    source_before_resampling: Optional[np.ndarray] = field(default=None, repr=False)
    #: every pixel of the input (or of its working copy) kept in place and the whole picture
    #: resampled: ``source_map`` works out the identity's where it is read (it was built for
    #: every such output, 4 bytes per input pixel: 96 MB of a 24-megapixel photo)
    scaled_whole: bool = False

    ok = True

    @property
    def source_map(self) -> Optional[np.ndarray]:
        """int32 (h, w): flat index ``y * W + x`` of the upright input pixel each output pixel
        is drawn from (nearest, through crop, carve and resampling); None for ``method="jpeg"``,
        when the geometry did not change, and where ``seam_carving`` inserted seams (an
        inserted pixel has no single source; ``SeamCarver.carve``'s ``removal_index`` says
        what the removals before them took)."""
        source, grid = self.source_before_resampling, self.operations.get("working_size")
        if source is None and self.scaled_whole:
            w1, h1 = self.original_size if grid is None else grid
            source = (h1, w1)
        if source is None:
            return None
        return source_map(source, self.size, None if grid is None else tuple(grid),
                          self.original_size)

    @property
    def image(self):
        """The output as a PIL image."""
        return to_pil(self.pixels)

    def __eq__(self, other: object) -> Any:
        """Every attribute equal (class docstring); the dataclass's own ``==`` compared the
        pixel arrays with ``==`` and raised ``ValueError`` (API review 40)."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None   # type: ignore[assignment]

    def __repr__(self) -> str:
        """One line (the dataclass's printed the pixels: 18 KB for a 160-pixel thumbnail)."""
        quality = "" if self.quality is None else f" quality {self.quality}"
        return (f"<CompressionResult {self.source}: {self.size[0]}x{self.size[1]} "
                f"{self.format}{quality}, {self.compressed_bytes:,} bytes "
                f"({self.compression_ratio:.1%} of {self.original_bytes:,}), "
                f"method {self.method}>")

    def _repr_jpeg_(self) -> Optional[bytes]:
        """A notebook shows a JPEG output as it is (IPython's display hook)."""
        return self.data if self.format == "JPEG" else None

    def _repr_png_(self) -> Optional[bytes]:
        """A notebook shows any other output as a PNG of its pixels (a PNG as it is)."""
        if self.format == "JPEG":
            return None
        if self.format == "PNG":
            return self.data
        from .codec import encode

        return encode(self.pixels, "png")

    @property
    def size(self) -> Tuple[int, int]:
        """Output ``(width, height)``."""
        return (self.pixels.shape[1], self.pixels.shape[0])

    @property
    def compressed_bytes(self) -> int:
        return len(self.data)

    @property
    def compression_ratio(self) -> float:
        """``compressed_bytes / original_bytes`` (smaller is more compression)."""
        return self.compressed_bytes / self.original_bytes if self.original_bytes else float("nan")

    @property
    def pixel_ratio(self) -> float:
        """Output pixels / input pixels."""
        w, h = self.original_size
        return (self.size[0] * self.size[1]) / float(w * h)

    @property
    def extension(self) -> str:
        """File suffix of the output format (``".jpg"`` ...)."""
        return codec.extension(self.format.lower())

    @property
    def mime_type(self) -> str:
        """Media type of ``data`` (``"image/jpeg"``, ``"image/webp"``, ``"image/avif"``,
        ``"image/jxl"`` ...): a service's ``Content-Type``; the one the batch job gives the
        objects it writes to a bucket."""
        return media_type("x" + self.extension) or "application/octet-stream"

    def missed_target(self) -> Optional[str]:
        """Why the output scores below the ``target_quality`` ``quality="auto"`` searched for,
        or None (reached, or no search). Where even the format's best encoding scores below
        the target, that one is written with its score (``operations["quality_score"]``)
        rather than failing; this says so. With ``allocation="semantic"`` the picture written
        scores below the target by design: the search's own score (``uniform_score``) is the
        one that must reach it."""
        ops = self.operations or {}
        searched = ops.get("uniform_score", ops.get("quality_score"))
        target = (self.params or {}).get("target_quality")
        if searched is None or target is None or searched >= target - 5e-4:  # scores rounded
            return None
        return (f"target_quality={target:g} was not reached: the best {self.format} encoding "
                f"scores {searched:.1f}")

    def save(self, path_or_uri: Union[str, os.PathLike],
             storage_options: Optional[Dict[str, Dict[str, Any]]] = None) -> str:
        """Write the encoded output to a local path or any fsspec URI.

        The stored bytes are written as they are; a suffix that names another format
        (``.png`` for a JPEG result ...) re-encodes to that format, and one that names a format
        the library does not write (``.gif``, ``.tif``, ``.bmp`` ...) is a ``ValueError``. The
        archive mode's JPEG XL (``operations["jpeg_reconstruction"]``) saved as ``.jpg`` is the
        original JPEG file, bit for bit; a JPEG file kept as it is (``operations["input_kept"]``)
        saved as ``.jxl`` is its lossless recompression, which gives that file back. A result
        of ``quality="auto"`` is re-encoded to the score it was searched for (its
        ``target_quality``), since qualities mean different things in each format; any other
        keeps its quality (clamped to the new format's range; a lossless result: the new
        format's default). A result of ``target_bytes`` is re-encoded within its budget at its
        size (the highest quality that fits, up to the format's default), or not at all: a
        :class:`~compress_core.errors.TargetUnreachableError` says so (a PNG of a photo found
        under a few kilobytes cannot be). The
        write is atomic (:func:`compress_core.storage.write_atomic`: temporary file, ``fsync``
        and rename on local disks, one upload on object stores); a new file's mode follows the
        umask, a file replaced keeps its own.

        Parameters
        ----------
        path_or_uri : str or os.PathLike
        storage_options : dict, optional
            ``{protocol: {fsspec keyword: value}}`` (credentials, endpoints).

        Returns
        -------
        str
            The path or URI written.

        Raises
        ------
        ValueError
            The suffix names a format the library does not write.
        TargetUnreachableError
            The result's ``target_bytes`` cannot be kept in the format the suffix names.
        """
        if not isinstance(path_or_uri, (str, os.PathLike)):
            raise TypeError(f"path_or_uri must be a path or URI (str or os.PathLike); got "
                            f"{type(path_or_uri).__name__}")
        target = os.fspath(path_or_uri)
        check_storage_options(storage_options)
        data = self.data
        wanted = codec.format_from_suffix(target)
        foreign = codec.unwritable_suffix(target)
        if foreign is not None:
            raise ValueError(f"path_or_uri {target!r} names {foreign}, a format this library "
                             f"does not write (the file would hold {self.format}); use "
                             f"{self.extension}, or another of .jpg .png .webp .avif .jxl")
        # a JPEG file kept as it is (archive mode keeps those that JPEG XL would not make
        # smaller) saved as .jxl: its lossless recompression, bit-exact back (a re-encode wrote
        # a lossy JPEG XL of its pixels, up to 45 levels off)
        recompressed = (_lossless_jxl(self.data) if wanted is ImageFormat.JXL
                        and self.format.lower() == ImageFormat.JPEG.value
                        and (self.operations or {}).get("input_kept") else None)
        budget = (self.params or {}).get("target_bytes")
        if recompressed is not None and budget is not None and len(recompressed) > budget:
            recompressed = None   # (over the budget: fitted below, as any other re-encode)
        if (wanted is ImageFormat.JPEG and self.format.lower() == ImageFormat.JXL.value
                and (self.operations or {}).get("jpeg_reconstruction")):
            # the archive mode's JPEG XL holds the original JPEG file: that file, bit for bit
            # (a re-encode wrote a new, lossy JPEG of the pixels at quality 85)
            data = codec.jxl_to_jpeg(self.data)
        elif recompressed is not None:
            data = recompressed
        elif wanted is not None and wanted.value != self.format.lower():
            attached = dict(icc_profile=self.icc_profile, exif=self.exif, xmp=self.xmp,
                            iptc=self.iptc)
            params = self.params or {}
            if budget is not None:
                # the budget kept in the new format, at this size (a PNG of a result found
                # under 3,000 B had been written at 54,121 B without a word; bytes review 38)
                try:
                    data = codec.fit_budget(self.pixels, wanted, budget, **attached)[0]
                except TargetUnreachableError as exc:
                    h, w = self.pixels.shape[:2]
                    raise TargetUnreachableError(
                        f"path_or_uri {target!r}: target_bytes={budget} cannot be kept as "
                        f"{wanted.value.upper()} at {w}x{h} ({exc}); save it as "
                        f"{self.extension}, or compress with format={wanted.value!r} and the "
                        "budget (it may take fewer pixels)") from exc
            elif params.get("quality") == "auto" and wanted in codec.QUALITY_RANGE:
                # the score the result was searched for, in the new format's own scale (the
                # JPEG quality 73 that reached 70 made an AVIF of 1.7x the bytes AVIF needs)
                score = params.get("target_quality")  # (0 is a score: searched for, not 70)
                score = codec.DEFAULT_TARGET_QUALITY if score is None else score
                try:
                    data = codec.encode_to_score(self.pixels, wanted, score, **attached)[0]
                except TargetUnreachableError as exc:  # the format's best
                    data = exc.best[0]
            else:
                quality = self.quality if wanted in codec.QUALITY_RANGE and self.quality else None
                if quality is not None:
                    _, hi, _ = codec.QUALITY_RANGE[wanted]
                    quality = min(max(quality, codec.lowest_quality(wanted, self.pixels)), hi)
                data = codec.encode(self.pixels, wanted, quality, **attached)
        write_atomic(target, data, storage_options)
        return target


@dataclass
class FailedCompression:
    """An input that could not be compressed (``compress_batch(..., on_error="return")``).

    Attributes
    ----------
    source : str
        The input as given: its path or URI, else its type (``"<ndarray>"``, ``"<bytes>"``).
    error : BaseException
        What its compression raised (:class:`~compress_core.errors.SemanticCompressError`
        subclasses say why: :class:`~compress_core.errors.ImageDecodeError` and the rest).
    error_type : str
        The error's class name (``"ImageDecodeError"``), as the job's manifest rows say it.
    ok : bool
        Always ``False`` (a :class:`CompressionResult`'s is ``True``): tells the two apart in
        a batch's list.
    """

    source: str
    error: BaseException

    ok = False

    @property
    def error_type(self) -> str:
        return type(self.error).__name__


def _lossless_jxl(jpeg: bytes) -> Optional[bytes]:
    """The JPEG file ``jpeg`` recompressed into JPEG XL losslessly (:func:`codec.jpeg_to_jxl`),
    or None where JPEG XL cannot hold it (or its package is missing)."""
    try:
        return codec.jpeg_to_jxl(jpeg)
    except (UnsupportedImageError, ImageDecodeError, EncoderUnavailableError):
        return None
