"""One validated, frozen description of a compression: :class:`CompressRequest`.

Every option of the library lives here once: its type, its default, where its accepted values
come from (the enums of :mod:`compress_core.options`, :mod:`compress_core.quality` and
:mod:`compress_core.energy.registry`, the quality table of :mod:`compress_core.codec`) and its
help text (:data:`OPTIONS`). ``SemanticCompressor.compress(**kw)`` builds a request from its
arguments; the command line's flags and the batch job's flags are generated from the same table
(:mod:`compress_core.flags`), so adding an option is a change here and in ``compress()``'s
signature only (a test checks that the two agree).

A request is validated once, on construction: a bad value raises ``ValueError`` or ``TypeError``
naming the parameter and the accepted values. :meth:`CompressRequest.params` gives the canonical
parameters recorded in the job's manifest, and :meth:`CompressRequest.params_hash` the tag in the
job's output names.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from . import codec
from .energy import registry
from .hybrid import DEFAULT_MAX_STRETCH
from .options import (Allocation, EnergyMode, ImageFormat, Metadata, Method, check_flag,
                      parse_option)
from .quality import QualityMetric
from .targets import (check_positive_int, check_positive_number, check_stretch,
                      may_change_aspect)

__all__ = ["CompressRequest", "Option", "OPTIONS", "option", "QUALITY_WORDS", "DEFAULT_QUALITY",
           "SIZE_TARGETS", "EVERY_TARGET", "canonical_json", "hashed_params"]

#: Words ``quality`` accepts besides an integer: ``"auto"`` encodes to the smallest size whose
#: SSIMULACRA2 score reaches ``target_quality`` (:func:`compress_core.codec.encode_to_score`).
QUALITY_WORDS: Tuple[str, ...] = ("auto",)

#: What ``quality=None`` (the default) means where the encoder quality is free to choose:
#: ``"auto"``, since it costs ~2.2x one fixed-quality encode (~1.0x a whole ``compress()``)
#: for ~30% fewer bytes at SSIMULACRA2 70 (BENCHMARKS.md, "quality=auto").
DEFAULT_QUALITY = "auto"

#: The targets that set the output's pixel size, and every target (a byte budget too): a request
#: other than ``method="jpeg"`` needs one of :data:`EVERY_TARGET`.
SIZE_TARGETS: Tuple[str, ...] = ("scale", "target_width", "target_height", "target_pixels",
                                 "max_dimension")
EVERY_TARGET: Tuple[str, ...] = SIZE_TARGETS + ("target_bytes",)
#: Options whose None becomes a default where it is used (see ``CompressRequest._given``).
_FILLED = ("target_quality", "max_stretch", "model")


@dataclass(frozen=True)
class CompressRequest:
    """Every option of one compression, validated (see :data:`OPTIONS` for each one's help).

    Parameters
    ----------
    scale, target_width, target_height, target_pixels, max_dimension, target_bytes
        Size targets (several: the strictest wins); at least one unless ``method="jpeg"``.
    preserve_aspect : bool
    method : {"hybrid", "seam_carving", "smart_crop", "jpeg"}
    max_stretch : float, optional
        Largest uniform stretch the hybrid policy may apply to content (>= 1, finite); None:
        :data:`compress_core.hybrid.DEFAULT_MAX_STRETCH` (1.05) with ``method="hybrid"``, and
        None with the other methods, which never stretch content (given there, it is refused).
    format : {"auto", "jpeg", "webp", "png", "avif", "jxl"}
    photo_format : {"jpeg", "webp", "avif", "jxl"}
        The format ``format="auto"`` gives photos, transparent ones too where it has an alpha
        channel (``webp``, ``avif``, ``jxl``); graphics, and transparent pictures where it is
        ``jpeg``, are lossless, but for transparent photos read from a lossy file (a lossy
        WebP, AVIF, HEIF), a lossy WebP.
    quality : int or "auto", optional
        Encoder quality, in the range of ``format`` (:data:`compress_core.codec.QUALITY_RANGE`);
        ``"auto"``: the smallest encoding whose SSIMULACRA2 score reaches ``target_quality``.
        None (the default) becomes :data:`DEFAULT_QUALITY` (``"auto"``) except where the
        encoder quality is chosen otherwise: with ``target_bytes`` (the budget search, from the
        format's default quality down), ``format="png"`` (lossless), and ``method="jpeg"`` with
        ``format="jxl"`` (archive mode for JPEG inputs); there it stays None.
    target_quality : float, optional
        Score in 0..100 aimed at by ``quality="auto"``; None (the default) becomes
        :data:`compress_core.codec.DEFAULT_TARGET_QUALITY` (70) with ``quality="auto"`` and
        stays None elsewhere. Given with a fixed quality, a byte budget or a lossless output,
        where nothing would aim at it, it is refused, even at 70. In archive mode
        (``method="jpeg"``, ``format="jxl"``, no quality) it is the score of the inputs that
        are no JPEG file, encoded as ``quality="auto"`` would; a JPEG file kept bit-exact
        says it was not used (``operations["quality_unused"]``).
    allocation : {"uniform", "semantic"}
        ``"semantic"``: JPEG blocks that matter little (by the energy map, carried to the
        output) lose their smallest coefficients, after the quality is chosen as for
        ``"uniform"`` (with ``target_bytes``: the highest quality whose allocated encoding
        fits); JPEG output only (``format="jpeg"``, or ``"auto"`` with
        ``photo_format="jpeg"``, where graphics stay lossless). Needs ``jpeglib``.
    metadata : {"compact", "public", "keep", "none"}
        What the output carries of the input's EXIF block, colour profile, XMP packet and IPTC
        record (:mod:`compress_core.metadata`): ``compact`` drops maker notes, EXIF values
        over 1 KiB, a profile that describes sRGB and all of the XMP but its descriptive and
        rights properties (the GPS position stays); ``public`` drops the GPS position and the
        camera's serial numbers and owner name too; ``keep`` carries them as they came (the XMP without what the
        output makes false: orientation, size, motion photos, regions); ``none`` nothing (the
        pixels converted to sRGB). Archive mode keeps the JPEG file, metadata included.
    max_pixels : int, optional
        Largest input accepted (decompression-bomb guard), and largest output size targets
        may ask for.
    max_seconds : float, optional
        Time budget of one compression.
    keep_mask, remove_mask : array-like of bool, optional
        Per-image masks (checked against the image once it is decoded). ``keep_mask`` with
        ``method="jpeg"`` needs ``allocation="semantic"`` (nothing else would use it).
    energy : {"gradient", "saliency", "deep", "blend"}
        ``"hybrid"`` is accepted as the former name of ``"blend"``.
    model : str, optional
        CNN backbone of the CNN energies (their default when None); None for the others.
    energy_mode : {"backward", "forward"}
    quality_metric : {"perceptual", "ssim", "psnr"}

    ``None`` given for any option means its default (``method=None`` is ``"hybrid"``,
    ``preserve_aspect=None`` is True).

    Raises
    ------
    ValueError, TypeError
        An invalid value (the message names the parameter and the accepted values), no size
        target for a method that needs one, or options that do not go together.
    """

    scale: Optional[float] = None
    target_width: Optional[int] = None
    target_height: Optional[int] = None
    target_pixels: Optional[int] = None
    max_dimension: Optional[int] = None
    target_bytes: Optional[int] = None
    preserve_aspect: bool = True
    method: str = Method.HYBRID.value
    max_stretch: Optional[float] = None
    energy: str = registry.DEFAULT_ENERGY.value
    model: Optional[str] = None
    energy_mode: str = EnergyMode.BACKWARD.value
    keep_mask: Any = field(default=None, compare=False, repr=False)
    remove_mask: Any = field(default=None, compare=False, repr=False)
    format: str = ImageFormat.AUTO.value
    photo_format: str = ImageFormat.JPEG.value
    quality: Union[int, str, None] = None
    target_quality: Optional[float] = None
    allocation: str = Allocation.UNIFORM.value
    metadata: str = Metadata.COMPACT.value
    quality_metric: str = QualityMetric.PERCEPTUAL.value
    max_pixels: Optional[int] = None
    max_seconds: Optional[float] = None

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        for f in dataclasses.fields(self):  # None means the option's default, for every option
            if getattr(self, f.name) is None and f.default not in (None, dataclasses.MISSING):
                put(f.name, f.default)
        put("method", parse_option(Method, self.method, "method").value)
        put("format", parse_option(ImageFormat, self.format, "format").value)
        put("photo_format", _check_photo_format(self.photo_format))
        put("allocation", parse_option(Allocation, self.allocation, "allocation").value)
        put("metadata", parse_option(Metadata, self.metadata, "metadata").value)
        put("energy", parse_option(registry.EnergyName, self.energy, "energy").value)
        put("energy_mode", parse_option(EnergyMode, self.energy_mode, "energy_mode").value)
        put("quality_metric",
            parse_option(QualityMetric, self.quality_metric, "quality_metric").value)
        for name in ("target_width", "target_height", "target_pixels", "max_dimension",
                     "target_bytes", "max_pixels"):
            put(name, check_positive_int(getattr(self, name), name))
        for name in ("scale", "max_seconds"):
            put(name, check_positive_number(getattr(self, name), name))
        put("preserve_aspect", check_flag(self.preserve_aspect, "preserve_aspect"))
        # options whose default is filled in below, given by the caller or not: one given where
        # nothing uses it is refused (_refuse_ignored; a model: by the command line and the job,
        # unused_engine_options). An attribute, not a field: it is no
        # option, and two requests that differ only in it are the same request.
        put("_given", frozenset(name for name in _FILLED if getattr(self, name) is not None))
        if self.max_stretch is None and self.method == Method.HYBRID.value:
            # the default only where the hybrid policy uses it: elsewhere it stays None, so
            # that a copy made field by field (dataclasses.replace, asdict) is the same request
            put("max_stretch", DEFAULT_MAX_STRETCH)
        if self.max_stretch is not None:
            put("max_stretch", check_stretch(self.max_stretch))
        if self.target_quality is not None:
            put("target_quality", codec.check_target_quality(self.target_quality))
        put("quality", _check_quality(self.quality, self.format))
        if self.quality is None and self.target_bytes is None and not (
                self.format == ImageFormat.PNG.value
                or (self.method == Method.JPEG.value and self.format == ImageFormat.JXL.value)):
            put("quality", DEFAULT_QUALITY)
        if self.target_quality is None and self.quality == "auto":
            # the default only where a search aims at it: elsewhere it stays None, so that a
            # copy made field by field (dataclasses.replace, asdict) is the same valid request
            put("target_quality", codec.DEFAULT_TARGET_QUALITY)
        # a model given where the energy runs no CNN: dropped here (it changes no output), kept
        # aside for unused_engine_options (the command line and the job refuse it), the default
        # backbone given too (`-e gradient --model efficientnet_lite0` ran: docs review 34); a
        # deep request's filled-in model is not given (replace(energy="gradient") is valid)
        put("_model_unused", self.model if "model" in self._given
            and not registry.uses_model(self.energy) else None)
        put("model", _check_model(self.energy, self.model))
        has_size = any(getattr(self, name) is not None for name in SIZE_TARGETS)
        if self.method == Method.JPEG.value and has_size:
            raise ValueError("method='jpeg' re-encodes without resizing; use method='hybrid', "
                             "method='seam_carving' or method='smart_crop' with size targets")
        if self.method != Method.JPEG.value and not has_size and self.target_bytes is None:
            raise ValueError(f"give at least one target: {', '.join(EVERY_TARGET[:-1])} or "
                             f"{EVERY_TARGET[-1]} (or method='jpeg' to re-encode only)")
        if self.quality == "auto" and self.target_bytes is not None:
            raise ValueError("quality='auto' aims at target_quality and does not combine with "
                             "target_bytes (a byte budget chooses the quality itself); give one "
                             "of them")
        if self.remove_mask is not None and self.method != Method.SEAM_CARVING.value:
            raise ValueError("remove_mask needs method='seam_carving'")
        self._refuse_ignored()

    def _refuse_ignored(self) -> None:
        """Options that would be silently ignored by the rest of the request are errors: what
        the user asked for must be what shapes the output."""
        if self.format == ImageFormat.PNG.value and self.quality is not None:
            raise ValueError(f"format='png' is lossless and takes no quality; got "
                             f"quality={self.quality!r} (drop it, or pick a lossy format)")
        if ("target_quality" in self._given and self.quality != "auto"
                and not self.archive_mode):  # (archive mode: inputs that are no JPEG file)
            used = ("a byte budget (target_bytes) chooses the quality; drop one of them"
                    if self.target_bytes is not None else
                    f"quality={self.quality!r} fixes it; drop one of them"
                    if self.quality is not None else
                    "format='png' is lossless; drop it, or pick a lossy format")
            raise ValueError(f"target_quality={self.target_quality:g} is aimed at by "
                             f"quality='auto' only, and {used}")
        if "max_stretch" in self._given and self.method != Method.HYBRID.value:
            why = {Method.SEAM_CARVING.value: "removes seams until the size is met (the "
                                              "stretch it records is not limited)",
                   Method.SMART_CROP.value: "crops to the target's aspect (no stretch)",
                   Method.JPEG.value: "re-encodes without resizing"}[self.method]
            raise ValueError(f"max_stretch={self.max_stretch:g} limits the hybrid method only; "
                             f"method={self.method!r} {why} (drop one)")
        if (self.keep_mask is not None and self.method == Method.JPEG.value
                and self.allocation == Allocation.UNIFORM.value):
            raise ValueError("keep_mask protects pixels from seams and crops, and with "
                             "allocation='semantic' from coarser coding; method='jpeg' with "
                             "allocation='uniform' uses neither (drop it, or give "
                             "allocation='semantic')")
        if self.photo_format != ImageFormat.JPEG.value and self.format != ImageFormat.AUTO.value:
            raise ValueError(f"photo_format={self.photo_format!r} chooses the photos' format of "
                             f"format='auto' only; format={self.format!r} is fixed (drop one)")
        if self.allocation == Allocation.SEMANTIC.value:
            self._check_semantic()
        if self.metadata in (Metadata.NONE.value, Metadata.PUBLIC.value) and self.archive_mode:
            raise ValueError(f"metadata={self.metadata!r} cannot apply to archive mode "
                             "(method='jpeg', format='jxl' without a quality or byte budget), "
                             "which keeps each "
                             "JPEG file bit-exact, its metadata included; drop one of them, or "
                             "give quality (an integer or 'auto') to encode the pixels")

    def _check_semantic(self) -> None:
        """``allocation="semantic"`` spreads a JPEG's bytes: refused where no JPEG is written."""
        jpeg = ImageFormat.JPEG.value
        if self.format not in (jpeg, ImageFormat.AUTO.value):
            raise ValueError(f"allocation='semantic' needs JPEG output (format 'jpeg', or "
                             f"'auto' with photo_format 'jpeg'); got format={self.format!r}")
        if self.format != jpeg and self.photo_format != jpeg:
            raise ValueError(f"allocation='semantic' needs JPEG output; format='auto' writes "
                             f"photos as photo_format={self.photo_format!r} (give 'jpeg')")

    def unused_engine_options(self) -> Tuple[str, ...]:
        """Messages for the engine options (the compressor's: ``quality_metric``,
        ``energy_mode``, ``energy``, ``model``), and ``preserve_aspect``, set away from their
        default that this request does not use.

        A compressor serves many calls, so :meth:`SemanticCompressor.compress` takes them as they
        are; the command line and the job, whose flags describe one kind of compression, refuse
        them (they would also enter the output names: byte-identical pictures renamed).
        """
        unused = []
        if (self.quality_metric != QualityMetric.PERCEPTUAL.value
                and self.target_bytes is None):
            unused.append(f"quality_metric={self.quality_metric!r} compares the candidates of "
                          "a byte budget (target_bytes), and there is none")
        elif self.quality_metric != QualityMetric.PERCEPTUAL.value:
            # a budget compares pixel sizes only where it may choose one: the first size that
            # fits wins where a size is asked for (encode_to_budget's keep_size), method 'jpeg'
            # keeps the input's size, and PNG has no quality to trade for pixels
            one = ("a size target (scale, target_width or target_height) keeps its size"
                   if any(getattr(self, n) is not None
                          for n in ("target_width", "target_height", "scale"))
                   else "method='jpeg' keeps the input's size"
                   if self.method == Method.JPEG.value
                   else "format='png' takes the first size that fits"
                   if self.format == ImageFormat.PNG.value else None)
            if one:
                unused.append(f"quality_metric={self.quality_metric!r} compares the pixel sizes "
                              f"a byte budget tries, and {one}: it tries one")
        sides = self.target_width is not None and self.target_height is not None
        if not self.preserve_aspect and (sides or not may_change_aspect(
                target_width=self.target_width, target_height=self.target_height,
                scale=self.scale, target_pixels=self.target_pixels,
                max_dimension=self.max_dimension, preserve_aspect=False)):
            # (the same pixels under another output name: options review 48)
            unused.append("preserve_aspect=False frees the shape where one side or an area "
                          "target is given, and " + (
                              "a width and a height fix it" if sides else
                              "these targets give none to free"))
        if (self.energy_mode != EnergyMode.BACKWARD.value
                and self.method in (Method.SMART_CROP.value, Method.JPEG.value)):
            unused.append(f"energy_mode={self.energy_mode!r} is the seams' cost, and "
                          f"method={self.method!r} carves none")
        if self._model_unused is not None:
            unused.append(f"model={self._model_unused!r} is the CNN of the deep energies, and "
                          f"energy={self.energy!r} runs none")
        other_model = self.model not in (None, registry.DEFAULT_BACKBONE)
        if not self.reads_importance and (self.energy != registry.DEFAULT_ENERGY.value
                                          or other_model):
            chosen = f"energy={self.energy!r}" + (f", model={self.model!r}" if other_model
                                                  else "")
            unused.append(f"{chosen} makes the importance map, and method='jpeg' with "
                          "allocation='uniform' reads none")
        return tuple(unused)

    def unused_by_analysis(self, seams: bool = False) -> Tuple[str, ...]:
        """Messages for the engine options set away from their default that an analysis of
        the importance map (``seams``: and of the seams it carves) does not use: the command
        line's ``--analyze`` and ``--visualize-*`` modes refuse them."""
        unused = []
        if self.quality_metric != QualityMetric.PERCEPTUAL.value:
            unused.append(f"does not use quality_metric={self.quality_metric!r} (it compares "
                          "the candidates of a byte budget)")
        if self.energy_mode != EnergyMode.BACKWARD.value and not seams:
            unused.append(f"does not use energy_mode={self.energy_mode!r} (the seams' cost: "
                          "--visualize-seams)")
        if self._model_unused is not None:
            unused.append(f"does not use model={self._model_unused!r} (energy={self.energy!r} "
                          "runs no CNN)")
        return tuple(unused)

    def options_without_a_map(self) -> Tuple[str, ...]:
        """A message naming the options that shape only the importance map or the stretch
        (``energy``, ``model``, ``energy_mode``, ``max_stretch``), set away from their default,
        where this request computes no map (:attr:`computes_maps` false: the hybrid and
        smart_crop methods' targets that keep every picture's aspect scale the whole picture);
        empty otherwise.

        The command line and the job warn with it but do not refuse them, unlike
        :meth:`unused_engine_options`: such targets used the map until session 29, and a
        scheduled job that names them keeps its output names (they enter them) and runs."""
        if not self.reads_importance or self.computes_maps:
            return ()
        chosen = []
        if self.energy != registry.DEFAULT_ENERGY.value:
            chosen.append(f"energy={self.energy!r}")
        if self.model not in (None, registry.DEFAULT_BACKBONE):
            chosen.append(f"model={self.model!r}")
        if self.energy_mode != EnergyMode.BACKWARD.value:
            chosen.append(f"energy_mode={self.energy_mode!r}")
        if "max_stretch" in self._given and self.max_stretch != DEFAULT_MAX_STRETCH:
            chosen.append(f"max_stretch={self.max_stretch!r}")
        if not chosen:
            return ()
        verb = "changes" if len(chosen) == 1 else "change"
        return (f"{', '.join(chosen)} {verb} nothing here: these targets keep every picture's "
                "aspect, so the whole picture is scaled and no importance map is computed "
                "(they shape targets that change the aspect: a width and a height)",)

    # ----------------------------------------------------------------------- views
    @property
    def reads_importance(self) -> bool:
        """Whether the request computes an importance map (its energy function runs): every
        method but ``jpeg``, which re-encodes, unless ``allocation="semantic"`` spreads its
        bytes by one."""
        return self.method != Method.JPEG.value or self.allocation != Allocation.UNIFORM.value

    @property
    def computes_maps(self) -> bool:
        """Whether compressing a picture under this request may compute its importance map
        (the energy function runs; a CNN loads): :attr:`reads_importance`, less the hybrid
        and smart_crop methods' targets that keep every picture's aspect
        (:func:`targets.may_change_aspect` false: a scale, a largest side or area, one side, a
        byte budget, with ``preserve_aspect``), for which the whole picture is scaled (the
        hybrid's default policy: :func:`compress_core.hybrid.reads_importance`). The batch job
        loads its CNN only where this holds (the default job, at scale 0.5, loads none)."""
        if not self.reads_importance:
            return False
        if (self.method not in (Method.HYBRID.value, Method.SMART_CROP.value)
                or self.allocation != Allocation.UNIFORM.value):
            return True   # (a remove_mask needs seam_carving)
        return may_change_aspect(
            target_width=self.target_width, target_height=self.target_height, scale=self.scale,
            target_pixels=self.target_pixels, max_dimension=self.max_dimension,
            preserve_aspect=self.preserve_aspect)

    def missing_package(self) -> Optional[Tuple[str, str]]:
        """``(option, reason)`` where a package this request needs is not installed here: the
        output format's encoder (``format``, or ``photo_format`` under ``auto``), else jpeglib
        for ``allocation="semantic"``; ``reason`` names the package and its ``pip install``.
        None where nothing is missing. The command line says it before reading any image and a
        job run here at launch, each in its own flags (each image had failed with it, after its
        map and quality search: options review 48)."""
        from .codec.coefficients import coefficients_missing
        from .errors import EncoderUnavailableError

        option = "format" if self.format != ImageFormat.AUTO.value else "photo_format"
        try:
            codec.require_encoder(getattr(self, option))
        except EncoderUnavailableError as exc:
            return option, str(exc)
        if self.allocation == Allocation.SEMANTIC.value:
            reason = coefficients_missing("rewriting JPEG coefficients")
            if reason is not None:
                return "allocation", reason
        return None

    @property
    def archive_mode(self) -> bool:
        """Whether JPEG inputs are kept losslessly as JPEG XL (``method="jpeg"``,
        ``format="jxl"``, no quality and no byte budget): each file recompressed bit-exact, or
        kept as it is where JPEG XL's container would not make it smaller."""
        return (self.method == Method.JPEG.value and self.format == ImageFormat.JXL.value
                and self.quality is None and self.target_bytes is None)

    def output_extensions(self) -> Tuple[str, ...]:
        """The suffixes this request's outputs can have, the most likely first. A fixed
        ``format``'s (in archive mode ``.jpg`` after it: a JPEG kept as it is where JPEG XL's
        container would not make it smaller); under ``auto`` (decided by each picture's
        content) ``photo_format``'s for photos, ``.png`` and ``.webp`` for graphics and
        transparent pictures, then the other lossy formats, which auto writes where the first
        cannot hold the picture (:func:`~compress_core.codec.lossy_format`: a photo wider
        than JPEG's 65,500 pixels as JPEG XL)."""
        fmt = ImageFormat(self.format)
        if fmt is not ImageFormat.AUTO:
            return (codec.extension(fmt),) + (
                (codec.extension(ImageFormat.JPEG),) if self.archive_mode else ())
        order = (ImageFormat(self.photo_format), ImageFormat.PNG, ImageFormat.WEBP,
                 *codec.LOSSY_FORMATS)
        return tuple(dict.fromkeys(codec.extension(f) for f in order))

    @property
    def quality_range(self) -> Optional[Tuple[int, int]]:
        """``(lowest, highest)`` quality of ``format`` (None for PNG and ``auto``)."""
        fmt = ImageFormat(self.format)
        return codec.QUALITY_RANGE[fmt][:2] if fmt in codec.QUALITY_RANGE else None

    def compress_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments of ``SemanticCompressor.compress`` that give this request (a
        ``target_quality`` or ``max_stretch`` that was not given stays None)."""
        kwargs = {o.name: getattr(self, o.name) for o in OPTIONS if o.scope == "compress"}
        kwargs.update({name: None for name in _FILLED
                       if name not in self._given and name in kwargs})
        return kwargs

    def params(self) -> Dict[str, Any]:
        """The canonical parameters: every option that shapes the output, as plain values.

        Options added after the first release are left out where they do not apply
        (``max_stretch`` except with ``method="hybrid"``, ``target_quality`` without
        ``quality="auto"``), so that output names of the methods they do not change stay the
        same. ``method="hybrid"`` outputs are renamed on purpose: the policy no longer squeezes
        aspect changes of up to 1.5, so a ``--skip_existing`` rerun must not keep the old,
        stretched outputs.
        """
        return {o.name: getattr(self, o.name) for o in OPTIONS
                if o.hashed and (o.applies is None or o.applies(self))}

    def params_json(self) -> str:
        """Canonical JSON of :meth:`params` (:func:`canonical_json`)."""
        return canonical_json(self.params())

    def params_hash(self, length: int = 10) -> str:
        """Short SHA-256 of :meth:`params_json`: the tag in the job's output names.

        ``max_pixels`` is hashed as ``None`` whatever its value: a limit that refuses inputs
        changes no output, and its value renamed every output (``--skip_existing`` then wrote
        each photo again, byte for byte, under a second name; its documented default too). The
        key stays, so that names written before keep theirs."""
        length = check_positive_int(length, "length")
        if length > 64:
            raise ValueError(f"length must be at most 64 (a SHA-256 in hex); got {length}")
        hashed = canonical_json(hashed_params(self.params()))
        return hashlib.sha256(hashed.encode("utf-8")).hexdigest()[:length]

    def replace(self, **changes) -> "CompressRequest":
        """A copy with ``changes`` applied (validated again). A ``target_quality`` or
        ``max_stretch`` that was not given stays not given (so ``replace(quality=85)`` or
        ``replace(method="smart_crop")`` of a default request is valid)."""
        for name in _FILLED:
            if name not in self._given:
                changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)


def hashed_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    """What of a request's :meth:`~CompressRequest.params` tells its outputs apart (and is
    hashed into their names): all of them, ``max_pixels`` as ``None`` where it is there (a
    limit that refuses inputs changes no output). The job's report groups the manifest's
    ``params`` by it too."""
    params = dict(params)
    if "max_pixels" in params:
        params["max_pixels"] = None
    return params


def canonical_json(params) -> str:
    """JSON of a parameter mapping with sorted keys and no spaces: the same text, and so the same
    output-name hash, for the same parameters in any order or run (the manifest's ``params``)."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"), default=str)


def _check_quality(quality, fmt: str):
    """``quality`` validated against the format's range (any lossy format's for ``auto``)."""
    if quality is None:
        return None
    if isinstance(quality, str) and quality.strip().lower() in QUALITY_WORDS:
        return quality.strip().lower()
    words = "".join(f" or {w!r}" for w in QUALITY_WORDS)
    concrete = ImageFormat(fmt)
    if concrete in codec.QUALITY_RANGE:
        try:
            return codec.check_quality(concrete, quality)
        except ValueError:  # (said with the option's name: the flags' translation finds it)
            lo, hi, _ = codec.QUALITY_RANGE[concrete]
            raise ValueError(f"quality must be an integer in {lo}..{hi} for {concrete.value}"
                             f"{words}; got {quality!r}") from None
    # auto or PNG: the final format is known after decoding (PNG ignores quality); accept what
    # some lossy format accepts, and compress() checks again once the format is known
    for lossy in codec.QUALITY_RANGE:
        try:
            return codec.check_quality(lossy, quality)
        except ValueError:
            continue
    ranges = ", ".join(f"{f.value} {lo}..{hi}" for f, (lo, hi, _) in codec.QUALITY_RANGE.items())
    raise ValueError(f"quality must be an integer in the output format's range ({ranges}){words}; "
                     f"got {quality!r}")


def _check_photo_format(value) -> str:
    """A lossy format for the photos of ``format="auto"``."""
    accepted = ", ".join(repr(f.value) for f in codec.LOSSY_FORMATS)
    if not isinstance(value, (str, ImageFormat)):
        raise TypeError(f"photo_format must be a string, one of {accepted}; got {value!r}")
    try:
        fmt = parse_option(ImageFormat, value, "photo_format")  # ('jpg' is 'jpeg')
    except ValueError:  # (it lists every format, 'auto' and 'png' too)
        fmt = None
    if fmt not in codec.LOSSY_FORMATS:
        raise ValueError(f"photo_format must be one of {accepted}; got {value!r}")
    return fmt.value


def _check_model(energy: str, model) -> Optional[str]:
    """The backbone of a CNN energy (its default when None); None for the others."""
    if not registry.uses_model(energy):
        return None
    if model is None:
        return registry.DEFAULT_BACKBONE
    # (case and '-' forgiven, as make_energy, the command line and the job forgive them: a
    # request of model='RESNET18' alone was refused; options review 48)
    key = model.strip().lower().replace("-", "_") if isinstance(model, str) else model
    if key not in registry.BACKBONE_NAMES:
        raise ValueError(f"model must be one of {', '.join(map(repr, registry.BACKBONE_NAMES))}; "
                         f"got {model!r}")
    return key


# ------------------------------------------------------------------------- the option table
@dataclass(frozen=True)
class Option:
    """One option: what the command line and the job need to offer it.

    Attributes
    ----------
    name : str
        The ``compress()`` argument / request field.
    kind : {"int", "float", "bool", "choice", "quality", "mask"}
    help : str
        ``{name}`` stands for the flag of option ``name`` in the style shown (``--target-quality``
        on the command line, ``--target_quality`` in the job).
    group : str
        Section of the command line's help.
    choices : callable, optional
        Returns the accepted values (from the enum that defines them).
    scope : {"compress", "engine"}
        ``compress``: an argument of ``SemanticCompressor.compress``; ``engine``: configures
        the ``SemanticCompressor`` (see ``SemanticCompressor.from_request``).
    batch : bool
        The same for every image of a batch (a flag of the job); per-image masks are not.
    hashed : bool
        Shapes the output (part of :meth:`CompressRequest.params` and the output names).
    applies : callable, optional
        ``applies(request)``: whether the option matters to that request (see ``params``).
    short : tuple of str
        Extra command-line spellings (``-s``, ``--width`` ...).
    job_flag : str, optional
        The job's flag name when it is not ``--<name>``.
    metavar : str, optional
    """

    name: str
    kind: str
    help: str
    group: str
    choices: Optional[Callable[[], Tuple[str, ...]]] = None
    scope: str = "compress"
    batch: bool = True
    hashed: bool = True
    applies: Optional[Callable[[CompressRequest], bool]] = None
    short: Tuple[str, ...] = ()
    job_flag: Optional[str] = None
    metavar: Optional[str] = None

    @property
    def default(self):
        """The request's default for this option."""
        return CompressRequest.__dataclass_fields__[self.name].default


def _values(enum_cls) -> Callable[[], Tuple[str, ...]]:
    """The enum's values, then the other names its ``aliases()`` accepts (if it has one)."""
    aliases = getattr(enum_cls, "aliases", None)
    return lambda: tuple(m.value for m in enum_cls) + (tuple(aliases()) if aliases else ())


_TARGETS = "targets (several: the strictest wins)"
_HOW = "method and energy"
_OUT = "output"
_LIMITS = "limits"

#: Every option, in the order of the command line's help.
OPTIONS: Tuple[Option, ...] = (
    Option("scale", "float", "multiply each side, e.g. 0.5", _TARGETS, short=("-s",)),
    Option("target_width", "int", "exact output width", _TARGETS, short=("--width",)),
    Option("target_height", "int", "exact output height", _TARGETS, short=("--height",)),
    Option("target_pixels", "int", "largest width*height", _TARGETS),
    Option("max_dimension", "int", "largest side in pixels", _TARGETS),
    Option("target_bytes", "int", "largest encoded size in bytes (quality search, then fewer "
           "pixels)", _TARGETS),
    Option("preserve_aspect", "bool", "keep the aspect ratio; turned off, the method chooses "
           "the shape of an area target, or keeps the other side of a one-sided target",
           _TARGETS),
    Option("method", "choice", "how the size is reached ('jpeg' re-encodes without resizing)",
           _HOW, choices=_values(Method), short=("-m",)),
    Option("max_stretch", "float", "largest stretch (seams and squeeze together) the hybrid "
           "method may apply to content when the aspect changes (>= 1; 1 never stretches; "
           f"default {DEFAULT_MAX_STRETCH:g})",
           _HOW,
           applies=lambda r: r.method == Method.HYBRID.value),
    Option("energy", "choice", "importance map (hybrid: the former name of blend, the "
           "energy; not the method)", _HOW, scope="engine",
           choices=lambda: registry.energy_names(aliases=True), short=("-e",)),
    Option("model", "choice", "CNN backbone of the CNN energies (default "
           f"{registry.DEFAULT_BACKBONE}, embedded; the others need their weights)", _HOW,
           scope="engine", choices=lambda: registry.BACKBONE_NAMES),
    Option("energy_mode", "choice", "seam cost: backward (removed energy) or forward "
           "(inserted energy)", _HOW, scope="engine", choices=_values(EnergyMode)),
    Option("keep_mask", "mask", "image file: non-black, non-transparent pixels are protected",
           _HOW,
           batch=False, hashed=False, metavar="FILE"),
    Option("remove_mask", "mask", "image file: non-black, non-transparent pixels are removed "
           "first (method seam_carving)", _HOW, batch=False, hashed=False, metavar="FILE"),
    Option("format", "choice", "output encoding; auto decides by content: photos get "
           "{photo_format} (transparent ones too, where it has alpha: webp, avif, jxl; else "
           "those from a lossy file a lossy WebP), graphics and other transparent images the "
           "smaller of PNG and lossless WebP",
           _OUT, choices=_values(ImageFormat)),
    Option("photo_format", "choice", "lossy format of the photos of format auto (jpeg: "
           "readable everywhere)", _OUT,
           choices=lambda: tuple(f.value for f in codec.LOSSY_FORMATS) + tuple(
               a for a, f in ImageFormat.aliases().items() if f in codec.LOSSY_FORMATS),
           applies=lambda r: r.format == ImageFormat.AUTO.value
           and r.photo_format != ImageFormat.JPEG.value),
    Option("quality", "quality", "encoder quality, in the format's range ("
           + ", ".join(f"{f.value} {lo}-{hi}" for f, (lo, hi, _) in codec.QUALITY_RANGE.items())
           + "), or auto: the smallest encoding reaching {target_quality}. Default: "
           + DEFAULT_QUALITY + "; "
           "with {target_bytes}, the highest quality that fits, up to this one (the format's "
           "default where not given); none for format png and for archive mode (method jpeg "
           "with format jxl)", _OUT),
    Option("target_quality", "float", "SSIMULACRA2 score (0-100) aimed at by quality auto "
           f"(default: {codec.DEFAULT_TARGET_QUALITY:g}, high quality)", _OUT,
           applies=lambda r: r.quality == "auto"),
    Option("allocation", "choice", "semantic: JPEG blocks that matter little (by the energy "
           "map) lose their smallest coefficients: about a fifth fewer bytes at the quality "
           "chosen (with {target_bytes}: a higher quality in the budget), the background "
           "losing fine detail, so the whole picture scores below {target_quality} by design "
           "(the blocks that matter keep the encoding that reached it); JPEG output only",
           _OUT, choices=_values(Allocation),
           applies=lambda r: r.allocation != Allocation.UNIFORM.value),
    Option("metadata", "choice", "what the output carries of the input's EXIF block, colour "
           "profile, XMP and IPTC: compact drops the camera's maker notes, EXIF values over "
           "1 KiB, a profile that says sRGB (viewers assume it) and XMP but for captions, "
           "keywords, creator and rights, and keeps the GPS position; public drops the GPS "
           "position and the camera's serial numbers and owner name too (to publish); keep "
           "carries them as they came; none nothing (pixels converted to sRGB)", _OUT, choices=_values(Metadata),
           applies=lambda r: r.metadata != Metadata.COMPACT.value),
    Option("quality_metric", "choice", "how byte-budget candidates are compared", _OUT,
           scope="engine", choices=_values(QualityMetric)),
    Option("max_pixels", "int", "refuse inputs with more pixels, and size targets that ask "
           "for a larger output (default: Pillow's MAX_IMAGE_PIXELS)", _LIMITS),
    Option("max_seconds", "float", "time budget of one image: past it that image stops with "
           "an error (CompressionTimeoutError)", _LIMITS, hashed=False,
           job_flag="max_seconds_per_image", metavar="SECONDS"),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    """The :class:`Option` called ``name``."""
    return _BY_NAME[name]
