"""SemanticCompressor: decode, energy, retarget (carve / crop / hybrid), encode to a target.

Its results are :class:`~compress_core.result.CompressionResult` (re-exported here)."""
from __future__ import annotations

import hashlib
import inspect
import logging
import os
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import codec, deadline, heap
from .analysis import energy_statistics, retained_energy_ratio
from .budget import encode_to_budget
from .codec.encoders import as_shown, flatten_for
from .codec.jpeg_markers import HUFFMAN_FRAMES, frame
from .codec.semantic import requantize_jpeg
from .colour import describes_srgb
from .containers import lossy_encoding
from .crop import banner_rise, best_window, box_to_hold_apart, keep_boost, mask_box
from .energy.base import CarvingTerms, EnergyFunction, Importance, resize_map
from .errors import TargetUnreachableError, UnsupportedImageError
from .hybrid import (HybridPolicy, aspect_changes, reads_importance, resample, resample_whole,
                     resampling_stretch, retarget, seam_stretch)
from .images import DEFAULT_MAX_PIXELS, load_image
from .pixels import clear_hidden, image_list
from .metadata import carried, compact_keeps
from .options import (Allocation, EnergyMode, ImageFormat, Metadata, Method, check_flag, given,
                      parse_option)
from .perceptual import Reference
from .quality import QualityMetric
from .request import CompressRequest
from .result import CompressionResult, FailedCompression
from .seams import SeamCarver
from .seams.inputs import check_mask, check_masks_apart, with_masks
from .targets import check_positive_int, free_shape, plan_size, working_size
from .xmp import same_properties

__all__ = ["SemanticCompressor", "CompressionResult", "FailedCompression", "compress_image"]

log = logging.getLogger(__name__)


class _Encoded(NamedTuple):
    """What :meth:`SemanticCompressor._encode` made of one picture (internal)."""

    data: bytes
    format: ImageFormat
    quality: Optional[int]
    pixels: np.ndarray  # what ``data`` shows (cleared, flattened or the file's own)
    operations: Dict[str, Any]
    allocation_map: Optional[np.ndarray]  # allocation="semantic": the output's importance
    allocation_weights: Optional[Dict[str, float]]   # (a blend's weights for it)
    output_map_s: float  # that map's time: the energy's, not the encoding's


class Geometry(NamedTuple):
    """What the geometry step made of one image (internal)."""

    pixels: np.ndarray
    source: Optional[np.ndarray]  # flat input index per pixel before the final resampling
    seams: Dict[str, int]
    crop_box: Optional[Tuple[int, int, int, int]]
    operations: Dict[str, Any]
    stretch: float  # anisotropy of the final resampling (1.0: none)
    # where seams were inserted (source None): the flat input index of the pixels the removals
    # before kept (what the retained energy counts)
    removal_source: Optional[np.ndarray] = None
    # every pixel kept in place, the whole picture resampled (source None: the identity, not
    # built; CompressionResult.source_map works it out where it is read)
    whole: bool = False


def _whole_picture(pixels: np.ndarray, target: Tuple[int, int], **operations) -> "Geometry":
    """The :class:`Geometry` of ``pixels`` scaled whole to ``target`` (every pixel kept, the
    stretch that of the resampling): ``operations`` beside ``scaled_from`` and ``stretch``."""
    h0, w0 = pixels.shape[:2]
    stretch = resampling_stretch(w0, h0, *target)
    return Geometry(resample(pixels, *target), None, {"vertical": 0, "horizontal": 0}, None,
                    {"scaled_from": (w0, h0), **operations, "stretch": stretch}, stretch,
                    whole=True)


def _input_file(raw, loaded, out: np.ndarray, fmt: ImageFormat,
                request: CompressRequest, quality_used: bool = True) -> Optional[bytes]:
    """The input file, where re-encoding it in its own format (its decoded pixels ``out``
    unchanged by the geometry: ``method="jpeg"``, or any method where the size is kept) may
    write the file itself instead: when it is no larger than the encoding
    searched for it (``quality`` auto, or a byte budget; a lossless format's encoding), it is
    the best score for the bytes. (Fitting a budget is not enough: its search starts at the
    default quality, under what the file may hold.) Files already coded at a low quality were
    re-encoded larger at a score of 70 (against themselves), with a second loss: Kodak photos
    saved at quality 30 up to 8% larger as JPEG, 3-29% as WebP, 12-39% as AVIF.

    None with a fixed quality that is used (asked for; ``quality_used`` False: format auto
    writes a graphic or a transparent picture exactly, whatever the quality), for an animation
    (its first frame is what is compressed), for JPEG files some readers do not take
    (arithmetic-coded or CMYK: Huffman-coded gray or YCbCr only), and where the output's
    metadata would not be the file's (``raw`` as decoded, ``loaded`` with what ``metadata``
    gives the output): pixels turned by an EXIF orientation or converted from a colour profile
    on decoding (gray and CMYK profiles; ``raw.as_stored``) or under ``metadata`` (large
    profiles, and those of sRGB's primaries, under ``"compact"``), or an EXIF block, XMP
    packet or IPTC record that ``metadata``
    changes (``"compact"`` drops maker notes, ``"none"`` everything; never under ``"public"``:
    the file holds comments and text chunks no reader here looks at; a packet rewritten with the
    same properties is the same: ``xmp.same_properties``). A profile that describes sRGB, which
    ``"compact"`` and ``"public"`` drop, looks the same carried (``"none"`` promises none)."""
    data = raw.data
    if request.metadata == Metadata.PUBLIC.value:
        # the file as it is holds what public promises to drop where no reader looks (a JPEG
        # comment or a PNG text chunk naming the place: diff review 26)
        return None
    if (out is not loaded.pixels or raw.format != codec.pil_name(fmt) or not data
            or raw.frames != 1 or not raw.as_stored
            or (quality_used and isinstance(request.quality, int))
            or out.shape[1::-1] != tuple(raw.original_size)
            or loaded.pixels is not raw.pixels
            or loaded.iptc != raw.iptc
            or (loaded.exif != raw.exif
                # (compact writes a block with an IFD1 anew without it, a thumbnail of the
                # uncropped picture: the file itself, its own thumbnail in it, is that picture)
                and not (request.metadata == Metadata.COMPACT.value
                         and compact_keeps(raw.exif)))
            or not same_properties(raw.xmp, loaded.xmp)
            or (loaded.icc_profile != raw.icc_profile
                and not (request.metadata in (Metadata.COMPACT.value, Metadata.PUBLIC.value)
                         and loaded.icc_profile is None and describes_srgb(raw.icc_profile)))):
        return None
    if fmt is ImageFormat.JPEG:
        header = frame(data)
        if header is None or header[0] not in HUFFMAN_FRAMES or header[1] not in (1, 3):
            return None
    return data


def _keepable_format(input_format: Optional[str], photo_format: str) -> ImageFormat:
    """The format the input file itself may be written in (:func:`_input_file`) where
    ``format="auto"`` writes a graphic or a transparent picture exactly (PNG or lossless WebP):
    a WebP or a file in the photos' format too, which auto writes, and the file itself loses
    nothing more (a lossy WebP with alpha, 31.9 KB, was re-encoded exactly into a 227.6 KB
    lossless WebP, 7x the file); else PNG."""
    for own in (ImageFormat.WEBP, ImageFormat(photo_format)):
        if input_format == codec.pil_name(own):
            return own
    return ImageFormat.PNG


def _weights(importance) -> Optional[dict]:
    """A blend's weights for the map ``importance`` holds (:attr:`Importance.weights`); None
    where it has none: an energy of one's own may answer ``importance()`` with a result of
    the three fields it had before (diff review 44)."""
    return getattr(importance, "weights", None)


def _floor(exc: TargetUnreachableError, exact: Optional[Tuple[bytes, ImageFormat]],
           kept: Optional[bytes]) -> TargetUnreachableError:
    """A byte budget's refusal naming the smallest file the call could have written: the lossy
    search's smallest (``exc``), or an exact encoding tried beside it, or the input file kept
    as it is, where smaller. The search's own figure had been read as the floor: a screenshot
    refused at 2,500 B said 12,802 B, and 6,000 B then wrote its 5,374 B lossless WebP."""
    smallest = getattr(exc, "smallest_bytes", None)
    others = [(len(data), what) for data, what in (
        (exact and exact[0], exact and f"its exact (lossless) {exact[1].value.upper()}"),
        (kept, "the input file kept as it is")) if data is not None]
    if smallest is None or not others or min(others)[0] >= smallest:
        return exc
    size, what = min(others)
    floor = TargetUnreachableError(f"{exc}; the smallest file is {what}: {size} bytes")
    floor.smallest_bytes = size
    return floor


def _say_unused_quality(quality, request: CompressRequest, loaded,
                        operations: Dict[str, Any]) -> Dict[str, Any]:
    """``operations`` with ``quality_unused`` where format auto wrote a graphic or a
    transparent picture exactly although a quality (or a target_quality other than the
    default) was given: said by a warning, not silently (quality=1 and 100 wrote the same
    file)."""
    unused = (f"quality {quality}" if isinstance(quality, int) else
              f"target_quality {request.target_quality:g}"
              if quality == "auto" and request.target_quality not in (
                  None, codec.DEFAULT_TARGET_QUALITY) else None)
    if unused is None:
        return operations
    # (a transparent photo takes a photo_format with alpha under format auto; a graphic,
    # transparent or not, only a lossy format by name: the warning named format alone, where
    # photo_format was the way for a cut-out; bytes review 40)
    photo = codec.has_transparency(loaded.pixels) and codec.is_photo(loaded.pixels)
    log.warning("%s: %s not used: format 'auto' does not encode %s lossy (%s 'webp', "
                "'avif' or 'jxl' does)", loaded.source, unused,
                "a transparent photo" if photo else "a graphic",
                "photo_format" if photo else "format")
    return {**operations, "quality_unused": True}


def _kept(geometry: Geometry, shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """Bool (H, W) map of the pixels of the picture the geometry worked on (``shape``) that
    some output pixel comes from; None where every pixel is kept (the whole picture
    resampled, or no source map: nothing removed)."""
    source = geometry.source if geometry.source is not None else geometry.removal_source
    if geometry.whole or source is None:
        return None
    kept = np.zeros(shape[0] * shape[1], dtype=bool)
    kept[source.ravel()] = True
    return kept.reshape(shape)


def _retained(energy: Optional[np.ndarray], geometry: Geometry) -> float:
    """Retained energy of a geometry: energy on surviving pixels over the stretch (no map: a
    geometry that keeps every pixel, the whole picture scaled)."""
    if geometry.whole:
        return 1.0 / geometry.stretch
    if geometry.source is None and geometry.removal_source is None:
        return 1.0
    if energy is None:
        return 1.0 / geometry.stretch
    return retained_energy_ratio(energy, _kept(geometry, energy.shape)) / geometry.stretch


def _keep_mask_lost(keep: Optional[np.ndarray], geometry: Geometry) -> Tuple[int, int]:
    """``(pixels of the keep mask the geometry dropped, pixels of the mask)``, in the picture
    the geometry worked on; ``(0, n)`` where it dropped none (the whole picture resampled)."""
    if keep is None or not keep.any():
        return 0, 0
    kept = _kept(geometry, keep.shape)
    lost = 0 if kept is None else int((keep & ~kept).sum())
    return lost, int(keep.sum())


def _scaled_whole(pixels: np.ndarray) -> bool:
    """Whether a picture whose aspect stays is scaled whole, no nearly empty margin cropped:
    a graphic (its flat shapes hold no gradient energy) or a picture with transparency (its
    transparent margins are layout: a cut-out's padding, a logo's; scalers keep them)."""
    return codec.has_transparency(pixels) or not codec.is_photo(pixels)


def _in_input(box: Optional[Tuple[int, int, int, int]], work: Optional[Tuple[int, int]],
              size: Tuple[int, int]) -> Optional[Tuple[int, int, int, int]]:
    """A box of the working picture (``work``: its size; None: the input itself) in the
    coordinates of the input of ``size``: the input pixels it covers."""
    if box is None or work is None:
        return box
    (w0, h0), (ww, wh) = size, work
    left, top, right, bottom = box
    return (int(left * w0 // ww), int(top * h0 // wh),
            min(w0, -(-right * w0 // ww)), min(h0, -(-bottom * h0 // wh)))


def _default_energy() -> EnergyFunction:
    from . import energy

    factory = getattr(energy, "default_energy", None)
    return factory() if factory is not None else energy.GradientEnergyFunction()


class SemanticCompressor:
    """Shrink photos while keeping what matters in them.

    Parameters
    ----------
    energy_function : EnergyFunction, optional
        Importance map. Default: :func:`compress_core.energy.default_energy` (see README).
    quality_metric : {"perceptual", "ssim", "psnr"}
        How candidates that fit a byte budget are compared (SSIMULACRA2, SSIM on luma, or PSNR).
    energy_mode : {"backward", "forward"}
        Seam cost used by ``seam_carving`` and ``hybrid``.
    policy : HybridPolicy, optional
        Thresholds of the hybrid method.
    max_pixels : int, optional
        Largest input accepted (decompression-bomb guard; default Pillow's limit), and largest
        output the size targets may ask for.

    Raises
    ------
    ValueError, TypeError
        On invalid parameters.
    """

    def __init__(self, energy_function: Optional[EnergyFunction] = None,
                 quality_metric: str = "perceptual", energy_mode: str = "backward",
                 policy: Optional[HybridPolicy] = None, max_pixels: Optional[int] = None):
        if energy_function is not None and not isinstance(energy_function, EnergyFunction):
            raise TypeError("energy_function must be an EnergyFunction instance "
                            f"(e.g. GradientEnergyFunction()); got {given(energy_function)}")
        if policy is not None and not isinstance(policy, HybridPolicy):
            # (a string failed in compress() with an AttributeError, and {} or 0 became the
            # default policy: edge review 37)
            raise TypeError(f"policy must be a HybridPolicy or None; got {given(policy)}")
        self.energy_function = energy_function if energy_function is not None else _default_energy()
        self.quality_metric = parse_option(QualityMetric, quality_metric, "quality_metric")
        self.energy_mode = parse_option(EnergyMode, energy_mode, "energy_mode")
        self.policy = policy if policy is not None else HybridPolicy()
        self.max_pixels = check_positive_int(max_pixels, "max_pixels")

    @classmethod
    def from_request(cls, request: CompressRequest,
                     policy: Optional[HybridPolicy] = None) -> "SemanticCompressor":
        """The compressor a request's engine options describe (energy by name, model, energy
        mode, quality metric, input pixel limit); what the command line and the job use.

        The energy function (and its CNN) is built here, once.
        """
        from .energy.registry import make_energy

        return cls(energy_function=make_energy(request.energy, model=request.model),
                   quality_metric=request.quality_metric, energy_mode=request.energy_mode,
                   policy=policy, max_pixels=request.max_pixels)

    # ------------------------------------------------------------------------------ API
    def compress(self, image, target_bytes: Optional[int] = None,
                 target_pixels: Optional[int] = None, max_dimension: Optional[int] = None,
                 scale: Optional[float] = None, method: str = "hybrid",
                 preserve_aspect: bool = True, show_progress: bool = True,
                 target_width: Optional[int] = None, target_height: Optional[int] = None,
                 format: str = "auto", quality: Union[int, str, None] = None,
                 max_pixels: Optional[int] = None, keep_mask=None,
                 remove_mask=None, max_seconds: Optional[float] = None,
                 max_stretch: Optional[float] = None,
                 target_quality: Optional[float] = None,
                 photo_format: str = "jpeg", allocation: str = "uniform",
                 metadata: str = "compact") -> CompressionResult:
        """Compress one image to the strictest of the given targets.

        Parameters
        ----------
        image : str, os.PathLike, bytes, binary file object, ndarray or PIL.Image.Image
            Path, fsspec URI, encoded bytes, a binary file object (``open(path, "rb")``,
            ``io.BytesIO``, a pipe's stream; read from its position to its end), array
            (gray/RGB/RGBA; uint8, uint16 scaled by 65535, bool, or float in [0, 1]) or PIL
            image.
        target_bytes : int, optional
            Largest encoded size. Reached by quality search, then by fewer pixels.
        target_pixels : int, optional
            Largest ``width * height``.
        max_dimension : int, optional
            Largest side.
        scale : float, optional
            Multiplies each side (> 1 enlarges).
        method : {"hybrid", "seam_carving", "smart_crop", "jpeg"}
            ``jpeg`` re-encodes without changing the geometry; in the input's own format,
            without a fixed quality, the input file itself is written where it is no larger
            than the encoding made for it and the output's metadata would be its own
            (``operations["input_kept"]``, ``quality`` None, score 100); so do the other
            methods where the size is kept. With
            ``format="jxl"`` and no quality or byte budget (archive mode), a JPEG file is
            recompressed losslessly, or kept as it is where that is no smaller (files of
            about 2 KB and less). ``hybrid`` and
            ``smart_crop`` decide on the input reduced to twice the output's size (448 pixels on its long
            side at least: what the face detector searches) where that has at most half its
            pixels (a JPEG decoded at a DCT scale, a RAW at half size: a 256-pixel thumbnail
            of a 24-megapixel photo in 0.3 s instead of 6-25; the policy's
            ``working_oversample`` and ``working_min_side``); ``seam_carving`` removes seams
            of the whole input.
        preserve_aspect : bool
            Keep the aspect ratio (to within a pixel). ``False`` lets the method choose the
            shape of an area target, or keeps the other side of a one-sided target.
        show_progress : bool
            tqdm progress bar for seam carving.
        target_width, target_height : int, optional
            Exact output size (one alone: see ``preserve_aspect``).
        format : {"auto", "jpeg", "webp", "png", "avif", "jxl"}
            Output encoding; ``auto`` decides by content: photos get ``photo_format``, graphics
            the smaller of PNG and lossless WebP (with every method), and so do images with
            transparency read from a lossless file where ``photo_format`` is JPEG (with
            ``webp``, ``avif`` or ``jxl`` a cut-out photo is written in it, its alpha kept; one
            read from a lossy file is a lossy WebP); see
            :func:`compress_core.codec.resolve_format`. With
            ``target_bytes``, a graphic stays lossless when that fits the budget, else it gets
            the budget search of ``photo_format``, of lossy WebP where that is JPEG
            (:func:`compress_core.codec.lossy_format`).
        photo_format : {"jpeg", "webp", "avif", "jxl"}
            Lossy format of the photos of ``format="auto"`` (JPEG: readable everywhere).
            Archive mode: ``method="jpeg", format="jxl"`` on a JPEG file without ``quality``
            recompresses the file losslessly (:func:`compress_core.codec.jpeg_to_jxl`; 15-18%
            smaller, :func:`compress_core.codec.jxl_to_jpeg` gives back the same bytes).
        quality : int or "auto", optional
            Encoder quality, in the format's range (``compress_core.codec.QUALITY_RANGE``; with
            ``target_bytes``: the highest quality tried). ``"auto"``: the smallest encoding
            whose SSIMULACRA2 score reaches ``target_quality``
            (:func:`compress_core.codec.encode_to_score`; the score reached is in
            ``operations["quality_score"]``; where even the format's best encoding scores
            below the target, that one is written with its score). None (the default) is
            ``"auto"``, except with
            ``target_bytes``, ``format="png"`` and the archive mode (there the quality is
            chosen otherwise; :class:`compress_core.request.CompressRequest`); an input that is
            no JPEG file has no archive mode and gets ``"auto"``.
        max_pixels : int, optional
            Overrides the compressor's pixel limit (inputs, and the outputs enlarging targets
            ask for: over it, :class:`ImageTooLargeError`).
        keep_mask : array-like of bool (H, W), optional
            Pixels to protect (upright orientation): seams avoid them; every crop
            (``smart_crop``'s window, the hybrid method's margin and squeeze crops) holds their
            bounding box whole (where a window can: else the window lies inside it), with the
            detected faces where one window holds both. Where the target leaves no room for all
            of it, a warning says what share could not be kept.
        remove_mask : array-like of bool (H, W), optional
            An object to remove first (``method="seam_carving"`` only).
        max_seconds : float, optional
            Time budget: past it the compression stops at its next step (a block of seams, a
            byte-budget candidate, ...) with :class:`CompressionTimeoutError`, instead of
            running on (see :mod:`compress_core.deadline`).
        max_stretch : float >= 1, optional
            Largest uniform stretch (ratio of the x and y scale factors) ``method="hybrid"`` may
            apply when the aspect changes (default :data:`compress_core.hybrid.
            DEFAULT_MAX_STRETCH`, 1.05; 1.0: never stretch). What the stretch cannot absorb is
            cropped or carved through low-energy regions; the stretch used is
            ``CompressionResult.stretch``.
        target_quality : float, optional
            Score in 0..100 aimed at by ``quality="auto"`` (default
            :data:`compress_core.codec.DEFAULT_TARGET_QUALITY`).
        allocation : {"uniform", "semantic"}
            ``"semantic"``: once the quality is chosen (fixed, or by ``quality="auto"``'s search
            on the uniform encoding), the JPEG's blocks that matter little by this compressor's
            energy map (the input's, ``keep_mask`` pixels as its most important, carried to the
            output) lose their smallest coefficients
            (:func:`compress_core.codec.semantic.requantize_jpeg`): about a fifth fewer bytes,
            what matters coded as before, the background losing fine detail (BENCHMARKS.md,
            "Semantic bit allocation"). ``operations["quality_score"]`` is then the score of
            the picture written (below the target: the target holds on the important blocks,
            which keep the coefficients of the uniform encoding, whose score is
            ``operations["uniform_score"]``); ``operations["allocation"]`` says it ran. With
            ``target_bytes`` every candidate of the budget search is allocated, so the budget
            buys a higher quality. JPEG output only: what ``format="auto"`` writes otherwise
            (graphics and transparent pictures: lossless or, under a byte budget, lossy WebP)
            is written without it (``operations`` then has no "allocation"); needs
            ``jpeglib``.
        metadata : {"compact", "public", "keep", "none"}
            What the output carries of the input's EXIF block, colour profile, XMP packet and
            IPTC record (:mod:`compress_core.metadata`). ``compact`` (the default): the EXIF
            block without the camera's maker notes and values over 1 KiB (the GPS position
            stays), the profile unless it describes sRGB (the output looks the same: viewers
            assume sRGB), the XMP packet's descriptive and rights properties (captions,
            keywords, creator, copyright, rating), the IPTC record (JPEG outputs). ``public``:
            compact without the GPS position and the camera's serial numbers and owner name,
            for pictures to publish. ``keep``: all as they came, the XMP without what
            the output makes false (orientation, size, motion photos, regions). ``none``:
            nothing, the pixels converted to sRGB. Orientation and CMYK or grey
            profiles are applied to the pixels in every mode. Archive mode (``method="jpeg"``,
            ``format="jxl"``) keeps each JPEG file, metadata included.

        Every option is validated once, by :class:`compress_core.request.CompressRequest`
        (``None`` means the option's default); the command line and the batch job offer the
        same options as flags.

        Returns
        -------
        CompressionResult

        Raises
        ------
        ValueError, TypeError
            Invalid parameters (the message names the parameter and the accepted values), or no
            size target for a method that needs one.
        ImageReadError, ImageDecodeError, UnsupportedImageError, ImageTooLargeError
            The input cannot be used (or the targets ask for an output over ``max_pixels``).
        TargetUnreachableError
            ``target_bytes`` is below the smallest possible encoding.
        CompressionTimeoutError
            ``max_seconds`` ran out.
        """
        t_start = time.perf_counter()
        given = dict(target_bytes=target_bytes, target_pixels=target_pixels,
                     max_dimension=max_dimension, scale=scale, method=method,
                     preserve_aspect=preserve_aspect, target_width=target_width,
                     target_height=target_height, format=format, quality=quality,
                     max_pixels=max_pixels, keep_mask=keep_mask, remove_mask=remove_mask,
                     max_seconds=max_seconds, max_stretch=max_stretch,
                     target_quality=target_quality, photo_format=photo_format,
                     allocation=allocation, metadata=metadata)
        request = self._request(given)
        show_progress = check_flag(show_progress, "show_progress")
        method = Method(request.method)
        fmt_requested = ImageFormat(request.format)
        quality = request.quality
        target_bytes = request.target_bytes
        targets = dict(target_width=request.target_width, target_height=request.target_height,
                       scale=request.scale, target_pixels=request.target_pixels,
                       max_dimension=request.max_dimension,
                       preserve_aspect=request.preserve_aspect)

        pixel_limit = request.max_pixels or self.max_pixels or DEFAULT_MAX_PIXELS

        def working(w: int, h: int) -> Optional[Tuple[int, int]]:
            return self._working_size(w, h, method, request, targets, pixel_limit)

        # every TRIM_EVERY-th compression of the process gives glibc's freed heap back: a
        # service's memory climbed 1.21 -> 1.43 GB over 2,000 calls in pages no object held
        # (compress_core.heap)
        heap.count_compression()
        with deadline.time_budget(request.max_seconds):
            raw = load_image(image, max_pixels=pixel_limit, needed_size=working)
            loaded = carried(raw, request.metadata)
            w0, h0 = loaded.original_size
            work = working(w0, h0)  # the geometry's picture: the input reduced, or itself
            pixels = loaded.pixels if work is None else resample(loaded.pixels, *work)
            t_decoded = time.perf_counter()
            deadline.check("decoding")
            # (auto: a first guess, for the checks below; decided by content after the geometry)
            fmt = codec.resolve_format(fmt_requested, loaded.format, loaded.has_alpha,
                                       photo_format=request.photo_format)
            if quality is not None and quality != "auto":
                codec.check_quality(fmt, quality)
            plan = plan_size(w0, h0, **targets, max_pixels=pixel_limit)
            if fmt_requested is not ImageFormat.AUTO and (plan is None or not plan.free_shape):
                # a format that cannot hold the output: said now, not after the work
                codec.check_side(fmt, *((w0, h0) if plan is None else (plan.width, plan.height)))

            # masks of another size: said before the energy map (a CNN's half second)
            keep = check_mask(request.keep_mask, (h0, w0), "keep_mask")
            remove = check_mask(request.remove_mask, (h0, w0), "remove_mask")
            check_masks_apart(keep, remove)

            keeps_size = plan is None or (not plan.free_shape and plan.size == (w0, h0))
            if (method is Method.JPEG or keeps_size) and request.remove_mask is None:
                # re-encoding only (asked for, or the size kept: a photo under max_dimension,
                # scale 1, a byte budget's own search): nothing reads an importance map (no
                # CNN, no face search; 0.4-0.5 s of CPU for a 512-px photo, 10x its encoding)
                importance = Importance(None, ())
            elif plan is not None and not plan.free_shape and (  # (None: a remove_mask
                # under a byte budget alone, which removes the object at the input's size)
                    (method is Method.HYBRID and remove is None
                     and not reads_importance((w0, h0), plan.size, self.policy))
                    or (method is Method.SMART_CROP
                        and not aspect_changes((w0, h0), plan.size))):
                # the aspect kept: the whole picture is scaled, which reads no map either
                # (decided on the input's size, as CompressRequest.computes_maps decides for a
                # batch: on a working copy, 914x644 reduced to 448x316, a 200x140 target was
                # "an aspect change" and the map was computed; diff review 29)
                # (the deep map took 90 of 125 ms of CPU per photo at the job's default scale 0.5
                # to crop "nearly empty" margins of 2 photos in 306; BENCHMARKS.md, "The
                # aspect kept: the whole picture, no map")
                importance = Importance(None, ())
            else:
                importance = self.energy_function.importance(as_shown(pixels))
            energy = importance.map
            t_energy = time.perf_counter()
            deadline.check("the energy map")

            if work is not None and keep is not None:  # every working pixel it touches
                keep = resize_map(keep.astype(np.float32), *work) > 0
            geometry = self._retarget(pixels, energy, plan, method, show_progress, keep, remove,
                                      max_stretch=request.max_stretch, faces=importance.faces)
            out, operations = geometry.pixels, dict(geometry.operations)
            lost, marked = _keep_mask_lost(keep, geometry)
            if lost:   # (a mask wider than the target was cut without a word: CLI review 37)
                log.warning("%s: %.0f%% of the keep_mask's pixels could not be kept: %dx%d "
                            "to %dx%d leaves no room for all it marks", loaded.source,
                            max(1.0, 100.0 * lost / marked), w0, h0, out.shape[1],
                            out.shape[0])
            if not (importance.faces_sought or importance.faces):   # none looked for (no
                operations.pop("faces", None)   # face term): unknown, not 0
            # smart_crop never stretches where a window of the target's aspect exists
            limit = 1.0 if method is Method.SMART_CROP else request.max_stretch
            if limit is not None and geometry.stretch > limit * (1 + 1e-6):
                # the crops are down to one line: no window reaches the target's aspect; or
                # the aspect is kept and a side of a few pixels is stretched by its rounding
                log.warning("%s: %dx%d to %dx%d is stretched %.2fx, over %s: %s",
                            loaded.source, w0, h0, out.shape[1], out.shape[0], geometry.stretch,
                            f"max_stretch {limit:g}" if method is Method.HYBRID
                            else "none (smart_crop)",
                            "no crop of the picture has that aspect"
                            if aspect_changes((w0, h0), (out.shape[1], out.shape[0]))
                            else "a side that small is stretched by its rounding to whole pixels")
            if work is not None:
                operations = {"working_size": work, **operations}
            t_resized = time.perf_counter()
            deadline.check("resizing")

            encoded = self._encode(request, raw, loaded, pixels, out, fmt, fmt_requested,
                                   quality, target_bytes, method, importance, geometry, keep,
                                   operations, deadline)
            data, fmt, used_quality, out, operations = (encoded.data, encoded.format,
                                                        encoded.quality, encoded.pixels,
                                                        encoded.operations)
            t_encoded = time.perf_counter()

            stats = {}
            # (method="jpeg" computes no map of the input; allocation="semantic" one of the
            # output, which is the picture re-encoded)
            described, weights = ((energy, _weights(importance)) if energy is not None else
                                  (encoded.allocation_map, encoded.allocation_weights))
            if described is not None:
                stats = energy_statistics(described)
                if weights:   # (a blend's, carried with its map: not the energy object's
                    stats["weights"] = dict(weights)   # last image's, another thread's)
            ms = lambda a, b: round((b - a) * 1000.0, 3)  # noqa: E731
            if log.isEnabledFor(logging.DEBUG):   # (the command line's -v: what was decided;
                # it showed the weights' loading alone: README review 39)
                log.debug("%s: %dx%d -> %dx%d, %s%s, stretch %.3f, seams %s, %s %s, %d bytes; "
                          "decode %.0f ms, energy %.0f ms, resize %.0f ms, encode %.0f ms; %s",
                          loaded.source, w0, h0, out.shape[1], out.shape[0], method.value,
                          "" if geometry.crop_box is None else
                          f" (crop {_in_input(geometry.crop_box, work, (w0, h0))})",
                          geometry.stretch, geometry.seams or {}, codec.pil_name(fmt),
                          "the input file kept" if operations.get("input_kept") else
                          "lossless" if operations.get("lossless") else
                          "archive (the JPEG file)" if operations.get("jpeg_reconstruction")
                          else f"quality {used_quality}",
                          len(data), ms(t_start, t_decoded), ms(t_decoded, t_energy),
                          ms(t_energy, t_resized), ms(t_resized, t_encoded),
                          {k: v for k, v in operations.items() if k != "seam_carving"})
            return CompressionResult(
                pixels=out,
                data=data,
                format=codec.pil_name(fmt),
                quality=used_quality if fmt in codec.QUALITY_RANGE else None,
                original_size=(w0, h0),
                original_bytes=(loaded.nbytes if loaded.nbytes is not None
                                else int(loaded.pixels.nbytes)),   # (a LoadedImage given)
                input_format=loaded.format,
                method=method.value,
                energy=self.energy_function.describe(),
                energy_stats=stats,
                retained_energy_ratio=_retained(energy, geometry),
                stretch=geometry.stretch,
                seams=geometry.seams,
                crop_box=_in_input(geometry.crop_box, work, (w0, h0)),
                operations=operations,
                source_before_resampling=geometry.source,  # (of operations' working_size)
                scaled_whole=geometry.whole,
                timings={"decode_ms": ms(t_start, t_decoded),
                         "energy_ms": ms(t_decoded, t_energy + encoded.output_map_s),
                         "resize_ms": ms(t_energy, t_resized),
                         "encode_ms": ms(t_resized + encoded.output_map_s, t_encoded),
                         "total_ms": ms(t_start, t_encoded)},
                params={**{k: v for k, v in request.params().items()
                           if k not in ("energy", "model")},
                        "format": fmt.value, "max_stretch": request.max_stretch},
                source=loaded.source,
                input_sha256=hashlib.sha256(loaded.data).hexdigest() if loaded.data else None,
                **loaded.attached,
            )

    def compress_batch(self, images, on_error: str = "raise", show_progress: bool = True,
                       **kwargs) -> List[Union[CompressionResult, FailedCompression]]:
        """Compress many images with the same settings (the energy model is loaded once).

        Parameters
        ----------
        images : iterable
            Images, each anything :meth:`compress` accepts (a single image, a path string or
            an array, is a ``TypeError``: it would be iterated into characters or rows; a
            stack of images in one (N, H, W, C) array is passed as ``list(stack)``).
        on_error : {"raise", "return"}
            ``raise``: the first failure propagates. ``return``: a failure becomes a
            :class:`FailedCompression` (``.ok`` is False) in its place and the rest go on.
        show_progress : bool
            A tqdm bar over the images.
        **kwargs
            Passed to :meth:`compress`. They are checked once, before the first image: an
            unknown keyword or an invalid value raises the ``TypeError`` / ``ValueError``
            :meth:`compress` would, whatever ``on_error`` says (it is the same for every
            image); ``on_error`` is about each image's own failures (decoding, encoding ...).
        """
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return'; got {on_error!r}")
        show_progress = check_flag(show_progress, "show_progress")
        if isinstance(images, np.ndarray) and images.ndim == 4:
            raise TypeError(f"images must be an iterable of images (a list, ...); got one "
                            f"{images.shape} array: pass list(stack) for its "
                            f"{images.shape[0]} images")
        items = image_list(images, "compress()")
        try:  # the call's options, as compress() takes them: a misspelt keyword, once
            call = inspect.signature(self.compress).bind(None, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.compress.__qualname__}(): {exc}") from None
        call.apply_defaults()
        self._request({name: value for name, value in call.arguments.items()
                       if name not in ("image", "show_progress")})
        for name in ("keep_mask", "remove_mask"):   # (what no image's shape could mend)
            check_mask(call.arguments[name], None, name)
        results: List[Union[CompressionResult, FailedCompression]] = []
        iterator = items
        if show_progress and len(items) > 1:
            from tqdm.auto import tqdm

            iterator = tqdm(items, desc="compressing", unit="image", disable=None)  # (a tty's)
        for item in iterator:
            try:
                results.append(self.compress(item, show_progress=False, **kwargs))
            except Exception as exc:  # noqa: BLE001 - reported per item
                if on_error == "raise":
                    raise
                name = os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"<{type(item).__name__}>"
                log.warning("compress failed for %s: %s: %s", name, type(exc).__name__, exc)
                results.append(FailedCompression(source=name, error=exc))
        return results

    def analyze_content(self, image) -> Dict[str, Any]:
        """Energy statistics of an image (see :func:`compress_core.analysis.content_summary`).

        Returns
        -------
        dict
            At least ``mean_energy``, ``std_energy``, ``high_importance_ratio``, percentiles
            ``p05`` ... ``p95``, plus the image size and the energy's description.
        """
        from .analysis import content_summary

        loaded = load_image(image, max_pixels=self.max_pixels)
        energy = self.energy_function(as_shown(loaded.pixels))
        stats = content_summary(energy)
        stats.update({"width": loaded.size[0], "height": loaded.size[1],
                      "energy": self.energy_function.describe()})
        return stats

    # ------------------------------------------------------------------------ internals
    def _request(self, options: Dict[str, Any]) -> CompressRequest:
        """The validated request of :meth:`compress`'s options with this compressor's engine
        options (``ValueError`` / ``TypeError`` naming the parameter)."""
        return CompressRequest(energy_mode=self.energy_mode.value,
                               quality_metric=self.quality_metric.value, **options)

    def _working_size(self, w: int, h: int, method: Method, request: CompressRequest,
                      targets: dict, pixel_limit: int) -> Optional[Tuple[int, int]]:
        """The size an input of ``w`` x ``h`` is reduced to before the geometry
        (:attr:`HybridPolicy.working_oversample`, :func:`compress_core.targets.working_size`),
        or None: the geometry works on the input itself. Only the hybrid method and
        ``smart_crop`` decide on a reduced input, and not for a free shape (its width or
        height may reach the input's); ``seam_carving`` removes seams of the input itself."""
        oversample = self.policy.working_oversample
        if oversample is None or method not in (Method.HYBRID, Method.SMART_CROP):
            return None
        try:
            plan = plan_size(w, h, **targets, max_pixels=pixel_limit)
        except (TypeError, ValueError):  # refused again, with its message, after decoding
            return None
        if plan is None or plan.free_shape:
            return None
        return working_size(w, h, plan.size, oversample, self.policy.working_min_side)

    def _encode(self, request: CompressRequest, raw, loaded, pixels: np.ndarray,
                out: np.ndarray, fmt: ImageFormat, fmt_requested: ImageFormat, quality,
                target_bytes: Optional[int], method: Method, importance: Importance,
                geometry: Geometry, keep: Optional[np.ndarray], operations: dict,
                deadline) -> "_Encoded":
        """The output's file for the picture ``out`` (after the geometry; ``pixels`` what it
        was made from, ``raw``/``loaded`` the input as decoded and with its metadata carried):
        the format decided by content under ``auto``, and one way to its bytes, in this order:
        a graphic's exact encoding that fits the byte budget, the budget's search, archive
        mode's JPEG XL of the JPEG file, a lossless file by content, ``quality="auto"``'s
        search, a fixed quality; then ``allocation="semantic"``'s coarser coding of the
        blocks that matter little, the JPEG file recompressed as JPEG XL where that is no
        larger, and the input file itself where it is no larger and its pixels and metadata
        are the output's (:func:`_input_file`). ``operations`` is returned with what was done.
        """

        as_decoded = out  # (what the input file holds, where it is kept as it is)
        # exact encodings spend no bytes on colours under full transparency (lossy WebP
        # fills them in itself: black there cost it 2.5% at the edges)
        cleared = clear_hidden(out)
        # a picture of at most 256 colours (a GIF, a PNG8, a logo) keeps that few where it
        # is resampled and written exactly: a palette's bytes, not a truecolour file's
        reduced = (codec.keep_palette(cleared, loaded.pixels)
                   if out is not loaded.pixels else None)
        if reduced is not None:
            cleared = clear_hidden(reduced)
        lossless = None  # a graphic's lossless encoding, when it fits the byte budget
        # a graphic asked for in a format with a lossless mode (WebP, JPEG XL), its quality
        # searched: its exact encoding, taken where no larger than the lossy one or where
        # it fits the budget (a chart as WebP was lossy at 14,556 B against 4,778 B exact)
        archive = request.archive_mode and loaded.format == "JPEG" and bool(loaded.data)
        exact = None
        exact_tried = None  # (data, format) of an exact encoding made, fitting or not
        if (fmt_requested in (ImageFormat.WEBP, ImageFormat.JXL) and not archive
                and not isinstance(quality, int) and not codec.is_photo(out)):
            exact = codec.encode(cleared, fmt, lossless=True, **loaded.attached)
            exact_tried = (exact, fmt)
            if target_bytes is not None and len(exact) <= target_bytes:
                lossless = (exact, fmt)
        if fmt_requested is ImageFormat.AUTO:  # by content (method jpeg too: a chart
            # re-encoded as a JPEG was 2.5x its PNG, a 1-bit scan 12.6x)
            fmt = codec.resolve_format(ImageFormat.AUTO, has_alpha=loaded.has_alpha,
                                       pixels=out, photo_format=request.photo_format,
                                       lossy_input=lossy_encoding(raw.data, raw.format))
            if fmt is ImageFormat.PNG and target_bytes is not None:
                # lossless as without a budget when that fits; else the lossy search
                lossless = exact_tried = codec.encode_lossless(cleared, **loaded.attached)
                if len(lossless[0]) > target_bytes:
                    lossless = None
                    fmt = codec.lossy_format(out, request.photo_format, graphic=True)
        allocation_map = allocation_weights = None  # allocation="semantic": the
        # importance map of ``out`` (and a blend's weights for it)
        output_map_s = 0.0   # its time: the energy's, not the encoding's (a CNN's 0.5 s)
        if (request.allocation == Allocation.SEMANTIC.value and fmt is ImageFormat.JPEG
                and lossless is None):
            t_map = time.perf_counter()
            allocation_map, allocation_weights = self._output_map(
                out, importance, geometry, keep, unchanged=out is pixels)
            output_map_s = time.perf_counter() - t_map
            deadline.check("the allocation's energy map")
            operations["allocation"] = Allocation.SEMANTIC.value
        # a graphic or a transparent picture under format auto: written exactly, whatever
        # the quality (its file may be kept in the formats auto writes)
        exact_by_content = fmt is ImageFormat.PNG and fmt_requested is ImageFormat.AUTO
        kept_fmt = (_keepable_format(raw.format, request.photo_format) if exact_by_content
                    else fmt)
        as_it_is = _input_file(raw, loaded, out, kept_fmt, request,  # (or None)
                               quality_used=not exact_by_content)
        if lossless is not None:
            (data, fmt), used_quality, out = lossless, None, cleared
            if exact is None:  # (format auto's exact encoding fit the budget)
                operations = _say_unused_quality(quality, request, loaded, operations)
        elif target_bytes is not None:
            try:
                data, used_quality, out, reached = encode_to_budget(
                    out, fmt, target_bytes, quality, self.quality_metric,
                    **loaded.attached, allow_resize=method is not Method.JPEG,
                    importance=allocation_map,
                    keep_size=any(v is not None for v in (
                        request.target_width, request.target_height, request.scale)))
                if self.quality_metric is QualityMetric.PERCEPTUAL:  # the score it won by
                    operations = {**operations, "quality_score": round(reached, 3)}
            except TargetUnreachableError as exc:  # no encoding fits; the file itself may
                if as_it_is is None or len(as_it_is) > target_bytes:
                    raise _floor(exc, exact_tried, as_it_is) from None
                data = as_it_is
        elif archive:
            # archive mode: the JPEG file itself, recompressed losslessly (bit-exact back)
            try:
                data, used_quality = codec.jpeg_to_jxl(loaded.data), None
            except UnsupportedImageError as exc:  # CMYK, arithmetic-coded ...: say the way out
                raise UnsupportedImageError(
                    f"{loaded.source}: {exc}. Archive mode (method='jpeg', format='jxl' "
                    "without a quality) stores the JPEG file itself, which this one cannot "
                    "be; give quality (an integer or 'auto') to encode its pixels as a "
                    "lossy JPEG XL instead") from exc
            operations = {**operations, "jpeg_reconstruction": True}
            if request.target_quality is not None:  # (the score of inputs that are no JPEG)
                log.warning("%s: target_quality %g not used: archive mode keeps this JPEG "
                            "file bit-exact", loaded.source, request.target_quality)
                operations["quality_unused"] = True
            if len(data) >= len(loaded.data):  # JPEG XL's container costs more than its
                # recompression saves on small files (a 669 B JPEG became 756 B): the file
                as_it_is, kept_fmt = loaded.data, ImageFormat.JPEG
        elif exact_by_content:
            # lossless by content: the smaller of PNG and lossless WebP
            data, fmt = codec.encode_lossless(cleared, **loaded.attached)
            out = cleared
            used_quality = None
            operations = _say_unused_quality(quality, request, loaded, operations)
        elif quality == "auto" or (quality is None and fmt in codec.QUALITY_RANGE):
            # (None here: the archive mode's JXL for an input that is no JPEG file; it gets
            # the default, as anywhere the quality is free)
            target = (request.target_quality if request.target_quality is not None
                      else codec.DEFAULT_TARGET_QUALITY)
            try:
                data, used_quality, reached = codec.encode_to_score(
                    out, fmt, target, **loaded.attached)
            except TargetUnreachableError as exc:  # the format's best, its score recorded
                data, used_quality, reached = exc.best
            operations = {**operations, "quality_score": round(float(reached), 3)}
            # (WebP, JPEG XL: lossless past their best lossy: no quality, said below)
            if exact is not None and len(exact) <= len(data):
                data, used_quality, out = exact, None, cleared
                operations = {k: v for k, v in operations.items() if k != "quality_score"}
        else:
            used_quality = quality if quality is not None else codec.default_quality(fmt)
            lowest = (codec.lowest_quality(fmt, out) if used_quality is not None
                      else None)
            if lowest is not None and used_quality < lowest:
                log.warning("%s: quality %d raised to %d: a JPEG XL under it keeps no "
                            "exact transparency (its alpha at half resolution)",
                            loaded.source, used_quality, lowest)
                used_quality = lowest
            if fmt is ImageFormat.PNG:
                out = cleared
            data = codec.encode(out, fmt, used_quality, **loaded.attached)
        if allocation_map is not None and target_bytes is None:
            data, operations = self._allocate(data, out, allocation_map, operations,
                                              loaded.attached.get("icc_profile"))
        if (fmt is ImageFormat.JXL and not archive and used_quality is not None
                and allocation_map is None and raw.format == "JPEG"
                and _input_file(raw, loaded, out, ImageFormat.JPEG, request) is not None):
            # the JPEG file itself, recompressed losslessly, where that is no larger than
            # the lossy JPEG XL searched for its pixels: exact, and the bytes no more (a
            # quality-20 JPEG under photo_format 'jxl' became a lossy file of 33,328 B at a
            # score of 70, its archive transcode 24,857 B; bytes review 40)
            try:
                rebuilt = codec.jpeg_to_jxl(loaded.data)
            except UnsupportedImageError:   # (CMYK, arithmetic-coded ...: the lossy one)
                rebuilt = None
            if rebuilt is not None and len(rebuilt) <= len(data):
                data, used_quality = rebuilt, None
                operations = {**operations, "jpeg_reconstruction": True,
                              "quality_score": 100.0}
        if as_it_is is not None and len(as_it_is) <= len(data):  # (the search's larger)
            data, used_quality, fmt = as_it_is, None, kept_fmt
            out = as_decoded  # the file's own pixels, hidden colours included
            operations = {**{k: v for k, v in operations.items()
                             if k not in ("allocation", "uniform_score",
                                       "jpeg_reconstruction")},
                          "input_kept": True, "quality_score": 100.0}
        elif "jpeg_reconstruction" not in operations and (
                fmt is ImageFormat.PNG or used_quality is None
                or codec.lossless_at(fmt, used_quality)):
            # written in a lossless mode (PNG, WebP's and JPEG XL's, JPEG XL's quality 100):
            # said once, for every way there (a graphic's exact file, quality auto past the
            # format's best lossy encoding, format png, a budget's png at the size it
            # shrank to)
            operations = {**operations, "lossless": True}
            if reduced is not None and out is cleared:  # (its colours reduced first)
                operations["colours"] = codec.colour_count(cleared)
        if fmt is ImageFormat.JPEG and codec.has_transparency(out):
            # asked for (format='jpeg'): said once, with the way to keep it
            log.warning("%s: transparent pixels written over white: JPEG has no alpha "
                        "(format 'auto', 'webp', 'avif', 'jxl' or 'png' keeps the "
                        "transparency)", loaded.source)
            operations = {**operations, "alpha_flattened": True}
            out = codec.flatten_for(out, fmt)   # (pixels: what data shows; API review 40)
        return _Encoded(data, fmt, used_quality, out, operations, allocation_map,
                        allocation_weights, output_map_s)


    def _output_map(self, out: np.ndarray, importance: Importance, geometry: Geometry,
                    keep: Optional[np.ndarray], unchanged: bool
                    ) -> Tuple[np.ndarray, Optional[dict]]:
        """The importance map of ``out`` for ``allocation="semantic"`` and a blend's weights
        for it (:attr:`Importance.weights`; the input's where the map is carried from the
        input's ``importance``), with the ``keep_mask``
        pixels (carried to ``out``: :meth:`_carried_mask`) as important as its most important
        one. The map is the input's carried through the geometry (each pixel's source before
        the final resampling, then resampled to ``out``: no second energy pass, 200 ms of CPU
        for the default energy), or the input's itself where the geometry left the pixels
        ``unchanged``; it is computed on ``out`` where the input has none (``method="jpeg"``)
        or the geometry does not say where its pixels come from (seams inserted: an object
        removed at the input's size has the input's shape, not its pixels), and on what the
        JPEG shows of a transparent picture (over white: not what transparent pixels hide)."""
        h, w = out.shape[:2]
        energy, weights = importance.map, _weights(importance)
        if out.shape[2] == 4:
            shown = self.energy_function.importance(as_shown(out))
            own, weights = shown.map, _weights(shown)
        elif energy is not None and geometry.source is not None:
            own = resize_map(energy.ravel()[geometry.source], w, h)
        elif energy is not None and geometry.whole:
            own = resize_map(energy, w, h)
        elif energy is not None and unchanged:
            own = energy
        else:
            shown = self.energy_function.importance(out[..., :3])
            own, weights = shown.map, _weights(shown)
        kept = self._carried_mask(keep, out, geometry, unchanged)
        return (own if kept is None else np.where(kept, np.float32(float(own.max()) or 1.0),
                                                  own)), weights

    @staticmethod
    def _carried_mask(mask: Optional[np.ndarray], out: np.ndarray, geometry: Geometry,
                      unchanged: bool) -> Optional[np.ndarray]:
        """An input-sized ``mask`` carried to ``out``: through the geometry's source map, then
        the final resampling; as it is where the geometry left the pixels unchanged; stretched
        to the output where seams were inserted (no source map). None without a mask."""
        if mask is None:
            return None
        h, w = out.shape[:2]
        if geometry.source is not None:
            return resize_map(mask.ravel()[geometry.source].astype(np.float32), w, h) >= 0.5
        if geometry.whole:
            return resize_map(mask.astype(np.float32), w, h) >= 0.5
        if unchanged and mask.shape == (h, w):
            return mask
        # seams inserted (no source map): the mask stretched to the output, near where the
        # pixels it protects went (an inserted seam is the average of two neighbours)
        return resize_map(mask.astype(np.float32), w, h) >= 0.5

    @staticmethod
    def _allocate(data: bytes, out: np.ndarray, importance: np.ndarray, operations: dict,
                  icc_profile: Optional[bytes]):
        """``allocation="semantic"`` after a fixed quality or ``quality="auto"``'s search: the
        JPEG ``data`` of ``out`` with the small coefficients of its unimportant blocks dropped,
        and the operations with the score of what is written (carrying ``icc_profile``) as
        ``quality_score`` and the search's (the uniform encoding's, which the important
        blocks keep) as ``uniform_score`` (where a score was searched for)."""
        data = requantize_jpeg(data, importance)
        if "quality_score" in operations:
            written = Reference(flatten_for(out, ImageFormat.JPEG), icc_profile).score(
                codec.decode_pixels(data))
            operations = {**operations, "uniform_score": operations["quality_score"],
                          "quality_score": round(float(written), 3)}
        return data, operations

    def _carver(self, show_progress: bool, keep=None, remove=None) -> SeamCarver:
        return SeamCarver(energy_function=self.energy_function, energy_mode=self.energy_mode,
                          show_progress=show_progress, keep_mask=keep, remove_mask=remove)

    def _retarget(self, pixels, energy, plan, method: Method, show_progress: bool,
                  keep=None, remove=None, max_stretch: Optional[float] = None, faces=()):
        """Geometry step.

        Returns
        -------
        Geometry
            pixels, the source map before the final resampling (None: geometry unchanged),
            seams, crop box, operations, and the stretch the resampling applied.
        """
        h0, w0 = pixels.shape[:2]
        no_seams = {"vertical": 0, "horizontal": 0}
        unchanged = Geometry(pixels, None, no_seams, None, {"resize": None}, 1.0)
        if plan is None and remove is None:
            return unchanged
        tw, th = plan.size if plan is not None else (w0, h0)
        if plan is not None and plan.free_shape and method is not Method.JPEG:
            tw, th = free_shape(energy, tw * th, max_dimension=plan.max_dimension)
        if (tw, th) == (w0, h0) and remove is None:
            return unchanged
        pixels = clear_hidden(pixels)   # what transparent pixels hide shapes no seam or crop
        # the seams' terms (smart_crop reads none: 2.5 ms per photo built for nothing)
        terms = None if energy is None or method is Method.SMART_CROP else \
            self.energy_function.terms_from_map(energy)

        if method is Method.SEAM_CARVING:
            result = self._carver(show_progress, keep, remove).carve(
                pixels, target_height=th, target_width=tw, energy_terms=terms)
            seams = {"vertical": result.seams_vertical, "horizontal": result.seams_horizontal}
            # the removals' stretch of what matters (the seams' squeeze across and along) ...
            removed = result.removal_index  # (known: the compressor's carver removes first)
            across = seam_stretch(removed, energy, True)
            along = seam_stretch(removed, energy, False)
            if result.source_index is None:
                # ... and inserted seams widen (or heighten) by at most their share (each
                # inserted seam repeats the least important pixels; counted as if spread over
                # everything: an upper bound). One inserted row hid a third of the columns
                # removed: stretch and retained energy were 1.0.
                across /= result.pixels.shape[1] / removed.shape[1]
                along /= result.pixels.shape[0] / removed.shape[0]
            stretch = max(across, along) / min(across, along)  # anisotropy
            carving = {"seam_carving": dict(seams), "stretch": stretch}
            if result.source_index is None:  # seams is the net: what was removed, and added
                # (an object removed at the input's size had said 0 and 0)
                carving["seams_removed"] = {"vertical": w0 - removed.shape[1],
                                            "horizontal": h0 - removed.shape[0]}
                carving["seams_inserted"] = {
                    "vertical": result.pixels.shape[1] - removed.shape[1],
                    "horizontal": result.pixels.shape[0] - removed.shape[0]}
            return Geometry(result.pixels, result.source_index, seams, None, carving, stretch,
                            None if result.source_index is not None else removed)

        if method is Method.SMART_CROP:
            # the best window of the target's aspect at the largest scale, then Lanczos to the
            # target size (as libvips thumbnail(crop=...) and smartcrop.js do)
            f = min(w0 / tw, h0 / th)
            cw, ch = max(1, min(w0, int(round(tw * f)))), max(1, min(h0, int(round(th * f))))
            if energy is None or not aspect_changes((w0, h0), (tw, th)):
                # the photo's own aspect, rounded to whole pixels: the whole frame, scaled, as
                # the hybrid method does, and no map is computed for it (a 3 x 5000 strip at
                # scale 0.5, 2 x 2500, had lost a quarter of its length; edge review 30)
                return _whole_picture(pixels, (tw, th), faces=len(faces))
            # the subjects' faces, cores, heads and detector's boxes
            scene, held = [], (None, None, None, None)
            apart = []   # the heads, then the persons, of the subjects' faces left out (after
            # their boxes: each where a window still leaves the ones before out)
            if faces:  # subjects held whole where they fit, else their cores (brows to mouth);
                # the faces of a scene held or left out whole
                from .crop import faces_one_window_holds
                from .energy.faces import (cores_box, face_boxes, faces_box, heads_box,
                                           subject_faces, union_box)

                subjects, scene = subject_faces(faces, (h0, w0))
                # faces spread wider than the window: the largest it holds, the rest whole or
                # left out (crop.faces_one_window_holds)
                taken, left_out = faces_one_window_holds(
                    [face_boxes(f, (h0, w0)) + (f,) for f in subjects], (cw, ch), (h0, w0))
                subjects, scene = [t[5] for t in taken], scene + [t[5] for t in left_out]
                apart = [t[3] for t in left_out] + [t[4] for t in left_out]
                if subjects:
                    held = tuple(box(subjects, (h0, w0))
                                 for box in (faces_box, cores_box, heads_box)) + (
                        union_box([t[2] for t in taken]),)
            kept = None
            if keep is not None and keep.any():
                # the keep_mask is held whole where a window holds it (with the faces where one
                # holds both); its energy boost alone lost a one-pixel mask at the frame's
                # edge to the energy the window gained elsewhere. Where none can, the window
                # inside its box that holds the most of it.
                kept = mask_box(keep)
                energy = energy + keep * keep_boost(energy)
            protect = box_to_hold_apart(kept, held[0], (cw, ch), held[1], held[2],
                                        [f.box for f in scene], (h0, w0), held[3])
            left, top = best_window(energy, cw, ch, must_contain=protect,
                                    never_cut=[f.box for f in scene] + apart,
                                    rise=banner_rise((tw, th)))
            box = (left, top, left + cw, top + ch)
            out = resample(np.ascontiguousarray(pixels[top:top + ch, left:left + cw]), tw, th)
            source = (np.arange(top, top + ch, dtype=np.int32)[:, None] * np.int32(w0)
                      + np.arange(left, left + cw, dtype=np.int32)[None, :])
            stretch = resampling_stretch(cw, ch, tw, th)
            return Geometry(out, source, no_seams, box,
                            {"crop": box, "scaled_from": (cw, ch), "stretch": stretch,
                             "faces": len(faces)}, stretch)

        # hybrid
        if tw >= w0 and th >= h0 and not aspect_changes((w0, h0), (tw, th)):  # enlarging
            return _whole_picture(pixels, (tw, th), target_size=(tw, th),
                                  faces=len(faces))   # (every face kept whole)
        if energy is None:  # the aspect kept: no map was computed (hybrid.reads_importance)
            out, hplan, _ = resample_whole(pixels, (tw, th), max_stretch)
            return Geometry(out, None, no_seams, None, hplan.as_dict(), hplan.stretch,
                            whole=True)
        if keep is not None:  # the seams never cross these pixels (crops: retarget holds them)
            terms = CarvingTerms(static=with_masks(terms.static, keep, None, (h0, w0)),
                                 gradient_weight=terms.gradient_weight)
        out, hplan, source = retarget(pixels, energy, terms, (tw, th), self._carver(show_progress),
                                      self.policy, max_stretch=max_stretch, faces=faces,
                                      keep=keep, scale_whole=lambda: _scaled_whole(pixels))
        seams = {"vertical": hplan.carved_vertical, "horizontal": hplan.carved_horizontal}
        crop_box = None
        if any(box is not None for box in (hplan.margin_crop, hplan.plan_crop, hplan.extra_crop)):
            # bounding box, in input coordinates, of the pixels the output is drawn from
            ys, xs = np.divmod(source, w0)
            crop_box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        return Geometry(out, source, seams, crop_box, hplan.as_dict(), hplan.stretch)

def compress_image(image, energy_function: Optional[EnergyFunction] = None,
                   quality_metric: str = "perceptual", energy_mode: str = "backward",
                   **kwargs) -> CompressionResult:
    """One-liner: ``SemanticCompressor(energy_function, quality_metric, energy_mode)
    .compress(image, **kwargs)`` (``energy_mode`` was refused as compress()'s: options review
    41)."""
    return SemanticCompressor(energy_function=energy_function, quality_metric=quality_metric,
                              energy_mode=energy_mode).compress(image, **kwargs)
