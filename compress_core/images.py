"""Load any supported input into an RGB(A) uint8 array, keeping what re-encoding needs.

Inputs: a local path, an fsspec URI (``gs://``, ``s3://``, ``file://`` ...), ``bytes``, a binary
file object, a NumPy array or a PIL image. EXIF orientation is applied (Pillow's
``ImageOps.exif_transpose``); the ICC profile, the EXIF block (with orientation reset), the XMP
packet and the IPTC record are kept so that the output can carry them (what it does carry:
:mod:`compress_core.metadata`). A profile
of another colour space than RGB (CMYK, grey) cannot describe an RGB output: it is applied to the
pixels, which become sRGB as colour-managed viewers show them
(:func:`compress_core.colour.device_to_srgb`). Arrays and PIL images are taken as
:mod:`compress_core.pixels` takes them (its names are re-exported here).

Mode handling (documented, tested): ``1``/``L``/``P``/``RGB`` become RGB; anything with
transparency (``LA``, ``RGBA``, ``PA``, palette with a ``transparency`` entry) becomes RGBA;
``CMYK`` and ``YCbCr``/``LAB`` are converted to RGB; 16-bit and 32-bit integer and float modes are
scaled to 8 bits by their full range (16-bit PNGs and TIFFs on a tone curve other than sRGB's,
or with a 16-bit transparent colour, from their 16-bit samples: :mod:`compress_core.samples16`).
Animated files (GIF, WebP, APNG) use their first frame; a
TIFF its largest page that is not a reduced-resolution copy, and HEIF/HEIC photos are read
through ``pillow-heif`` (:mod:`compress_core.containers`). Camera RAW files (DNG, CR2, CR3, NEF,
ARW, RAF, ORF, RW2, PEF ...), recognised by their bytes, are developed through ``rawpy``
(LibRaw) into upright sRGB pixels; their ``format`` is the RAW's kind (``"DNG"``, ``"CR2"`` ...,
``"RAW"`` for other TIFF-structured RAWs) (:mod:`compress_core.raw`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import posixpath
import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageMode, ImageOps, UnidentifiedImageError

from ._thread_warnings import collected
from .colour import device_to_srgb
from .containers import (HEIF_PACKAGE, HEIF_SUFFIXES, fits_compressed, gif_comment_flood,
                         gif_first_frame_box, heif_decoded_pixels, heif_primary_nclx,
                         hidden_default_image, icon_and_mask, icon_pixels, is_heif,
                         jpeg2000_problem, jxl_rebuilt_jpeg, jxl_rebuilt_scans, jxl_size,
                         jxl_unsized, misread_planar_page, open_picture, reread_planar_samples,
                         upright)
from .exif_edit import upright_in_place
from .nclx import code_points, nclx_icc, png_gamma_icc
from .samples16 import deep_pixels
from .tiff_values import file_problem, overlapping_values
from .raw import RAW_SUFFIXES, UNREAD_RAW_SUFFIXES, develop, raw_format, raw_metadata
from .pixels import (as_pixel_array, as_rgb_array, check_rgb8, clear_hidden, has_transparency,
                     image_list, to_pil)
from .errors import (
    ImageDecodeError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedImageError,
)
from .storage import over_max_bytes, read_bytes
from .targets import check_positive_int, check_positive_number

_LOG = logging.getLogger(__name__)

__all__ = [
    "check_rgb8",
    "let_pillow_open",
    "largest_file",
    "has_transparency",
    "clear_hidden",
    "LoadedImage",
    "load_image",
    "image_list",
    "as_rgb_array",
    "as_pixel_array",
    "to_pil",
    "DEFAULT_MAX_PIXELS",
]

#: Default pixel limit: Pillow's own decompression-bomb threshold (``Image.MAX_IMAGE_PIXELS``,
#: about 89 megapixels). Larger images raise :class:`ImageTooLargeError`.
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image]


@dataclass
class LoadedImage:
    """A decoded image and what re-encoding it needs.

    Attributes
    ----------
    pixels : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        Upright RGB or RGBA pixels.
    format : str or None
        Pillow's name of the input encoding (``"JPEG"``, ``"PNG"`` ...), ``None`` for arrays.
    source : str
        Where the image came from, for messages (path, URI, ``"<bytes>"``, ``"<array>"``).
    data : bytes or None
        The encoded input bytes when the input was encoded (for hashing and size).
    icc_profile, exif : bytes or None
        Colour profile (RGB, or one Little CMS cannot read, on RGB pixels) and EXIF block that
        the output may carry (orientation reset to 1).
    xmp, iptc : bytes or None
        The XMP packet and the IPTC-IIM record (a JPEG's Photoshop resource 0x0404, a TIFF's
        tag 33723) as the input had them (:mod:`compress_core.metadata` decides what goes on).
    original_size : (int, int)
        Upright ``(width, height)`` of the input; larger than :attr:`size` where it was decoded
        reduced (``load_image(needed_size=)``), else the same.
    frames : int
        Frames of an animated input (GIF, WebP, APNG ...: its first is decoded); 1 otherwise.
    as_stored : bool
        Whether :attr:`pixels` are the file's own: not turned by an EXIF orientation nor
        converted from a colour profile on decoding (False for a developed camera RAW file).
    sample_bytes : int or None
        For an array or a PIL image: the bytes its samples hold (a grey uint8 array's
        H*W, a uint16 RGB one's H*W*6), which :attr:`nbytes` gives for it; None for files.
    """

    pixels: np.ndarray
    format: Optional[str] = None
    source: str = "<array>"
    data: Optional[bytes] = field(default=None, repr=False)
    icc_profile: Optional[bytes] = field(default=None, repr=False)
    exif: Optional[bytes] = field(default=None, repr=False)
    xmp: Optional[bytes] = field(default=None, repr=False)
    iptc: Optional[bytes] = field(default=None, repr=False)
    original_size: Optional[Tuple[int, int]] = None
    frames: int = 1
    as_stored: bool = True
    sample_bytes: Optional[int] = None

    def __post_init__(self):
        if self.original_size is None:
            self.original_size = self.size

    @property
    def attached(self) -> dict:
        """What an encoding of these pixels writes beside them, as keyword arguments of the
        encoders (:func:`compress_core.codec.encode` ...): ``icc_profile``, ``exif``,
        ``xmp``, ``iptc``."""
        return dict(icc_profile=self.icc_profile, exif=self.exif, xmp=self.xmp, iptc=self.iptc)

    @property
    def nbytes(self) -> Optional[int]:
        """Size of the encoded input in bytes; for an array or a PIL image, the bytes its
        samples hold (:attr:`sample_bytes`), not the 8-bit RGB(A) pixels decoded from them."""
        return self.sample_bytes if self.data is None else len(self.data)

    @property
    def size(self):
        """``(width, height)`` like PIL."""
        return (self.pixels.shape[1], self.pixels.shape[0])

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] == 4


#: What a caller needs of a picture: given its upright ``(width, height)``, the smallest upright
#: size it will use, or None for the whole picture.
NeededSize = Callable[[int, int], Optional[Tuple[int, int]]]


def load_image(source: ImageSource, max_pixels: Optional[int] = None,
               needed_size: Optional[NeededSize] = None) -> LoadedImage:
    """Decode ``source`` into an upright RGB(A) uint8 image.

    Parameters
    ----------
    source : str, os.PathLike, bytes, file object, ndarray or PIL.Image.Image
        A path, an fsspec URI, encoded bytes, a binary file object, an array (gray, RGB or RGBA;
        uint8, uint16, bool or float in [0, 1]) or a PIL image.
    max_pixels : int, optional
        Refuse images with more pixels than this (default :data:`DEFAULT_MAX_PIXELS`); the
        input's own size counts, however small it is decoded.
    needed_size : callable, optional
        ``needed_size(width, height)``, given the input's upright size once its header is read,
        says the smallest size the caller will use (None: all of it). A JPEG is then decoded
        at the smallest of libjpeg's DCT scales (1/2, 1/4, 1/8) that still gives at least that
        size, and a camera RAW at half size where that does (LibRaw's ``half_size``): 4-8x less
        work and memory for a thumbnail of a camera photo. Other formats are decoded whole. The
        pixels are at least that size, not resized to it; ``original_size`` is the input's.
        It must return None or two positive numbers (larger than the picture: all of it; else
        a ``TypeError``/``ValueError`` naming it); what it raises reaches the caller as it is.

    Returns
    -------
    LoadedImage

    Raises
    ------
    ImageReadError
        The bytes could not be read.
    ImageDecodeError
        The bytes are not a decodable image (corrupt, truncated, unknown format).
    UnsupportedImageError
        The image decoded but has an unusable shape, dtype or values (empty, NaN ...); or
        it needs an optional package that is missing (HEIF: pillow-heif, camera RAW: rawpy).
    ImageTooLargeError
        The image has more than ``max_pixels`` pixels.
    TypeError
        ``source`` is of an unsupported type.
    """
    # (the check compress() makes: int() took 'inf' to an OverflowError, NaN to a message
    # naming nothing, 21600.9 to 21600 and True to 1; edge review 37)
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else check_positive_int(max_pixels,
                                                                              "max_pixels")
    if needed_size is not None and not callable(needed_size):
        raise TypeError(f"needed_size must be a callable (width, height) -> (width, height) or "
                        f"None; got {type(needed_size).__name__}")

    if isinstance(source, np.ndarray):
        pixels = as_rgb_array(source)
        _check_pixel_limit(pixels.shape[1], pixels.shape[0], limit, "<array>")
        return LoadedImage(pixels=pixels, source="<array>", sample_bytes=int(source.nbytes))
    if isinstance(source, Image.Image):
        _check_pixel_limit(source.width, source.height, limit, "<PIL image>")
        with _pillow_notes_named("<PIL image>"):
            try:   # (a PNG's eXIf chunk after its pixels is read on loading)
                source.load()
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise _decode_error("<PIL image>", exc) from exc
            # (an upload opened by the caller: its EXIF is read below; diff review 45)
            _refuse_overlapping_exif(source, "<PIL image>")
            loaded = _from_pil(source, "<PIL image>", data=None)
        loaded.sample_bytes = _sample_bytes(source)
        return loaded
    if isinstance(source, (bytes, bytearray, memoryview)):
        with _pillow_notes_named("<bytes>"):
            return _decode(bytes(source), "<bytes>", limit, needed_size)
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        data = read_bytes(name, max_bytes=largest_file(limit))
        with _pillow_notes_named(name):
            return _decode(data, name, limit, needed_size)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)  # (os.fdopen's is the descriptor, an int)
        name = os.fspath(name) if isinstance(name, (str, os.PathLike)) else "<file object>"
        if getattr(source, "closed", False) is True:
            # (Python's own "read of closed file" named neither the image nor the way out)
            raise ValueError(f"image: {name} is a closed file object; pass it open, at the "
                             "picture's first byte")
        most = largest_file(limit)
        start = _position(source)
        text = TypeError(f"image: {name} is a file object in text mode; open it in binary "
                         "mode ('rb')")
        # (a JPEG's bytes are not UTF-8: reading one raised UnicodeDecodeError (edge review
        # 42); a text stream, or a wrapper of one (NamedTemporaryFile("w+")), has an encoding)
        if isinstance(source, io.TextIOBase) or isinstance(getattr(source, "encoding", None),
                                                           str):
            raise text
        data = _read_at_most(source, most)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # a text-mode file: its str failed deep in the decoder ("a bytes-like object is
            # required, not 'str'"), naming neither the image nor the way out
            raise text
        if len(data) > most:
            raise over_max_bytes(name, most)
        if not data:
            position = _position(source)
            if position:  # read from where it stands: a file object read to its end before
                raise ImageDecodeError(f"{name}: nothing left to read from position "
                                       f"{position:,} (the picture is read from the file "
                                       "object's position: seek(0) first)")
        try:
            with _pillow_notes_named(str(name)):
                return _decode(bytes(data), str(name), limit, needed_size)
        except ImageDecodeError as exc:
            if not start:
                raise
            # (a service that had read the upload's first bytes got "not a recognised image
            # format" alone: service review 39)
            raise type(exc)(f"{exc} (read from the file object's position {start:,}: "
                            "seek(0) first where the picture starts before it)") from exc
    raise TypeError(
        "image must be a path, URI, bytes, binary file object, numpy array or PIL image; "
        f"got {type(source).__name__}"
    )


def _check_pixel_limit(width: int, height: int, limit: int, name: str) -> None:
    if width * height > limit:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{limit:,} (max_pixels)"
        )


#: The first bytes of a TIFF file (little- and big-endian; BigTIFF).
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


#: What the error says of bytes that no decoder recognises as a picture.
NOT_AN_IMAGE = "not a recognised image format"

#: Suffixes of pictures that Pillow does not register (HEIF through its plug-in, camera RAW
#: through LibRaw): a file so named that no decoder recognises is a damaged picture.
_OTHER_PICTURE_SUFFIXES = HEIF_SUFFIXES | RAW_SUFFIXES
#: Suffixes Pillow registers that name documents, video or science data, not pictures.
_NOT_PICTURE_SUFFIXES = frozenset((".pdf", ".ps", ".eps", ".mpg", ".mpeg", ".h5", ".hdf",
                                   ".grib", ".bufr", ".wmf", ".emf"))


#: How the files of common picture formats begin (JPEG, PNG, GIF, TIFF, Photoshop, JPEG XL,
#: JPEG 2000, QOI): bytes that begin so, which no decoder reads, are a damaged picture.
_PICTURE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a",
                       *_TIFF_MAGIC, b"8BPS", b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n",
                       b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51", b"qoif")


def begins_like_a_picture(data: bytes) -> bool:
    """Whether ``data`` begins as a picture file does: a signature above, an AVIF's
    ``ftyp`` box or a WebP's RIFF header (HEIF: :func:`~compress_core.containers.is_heif`)."""
    return (data.startswith(_PICTURE_SIGNATURES) or data[4:12] in (b"ftypavif", b"ftypavis")
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


def _name_suffix(name: str) -> str:
    """The suffix of a file name or URI (``\\`` read as ``/``), lower case, with its dot."""
    return posixpath.splitext(name.replace("\\", "/").lower())[1]


def named_like_a_picture(name: str) -> bool:
    """Whether ``name``'s suffix names a picture: a format the library writes (``.jpg``,
    ``.jfif``, ``.png``, ``.webp``, ``.avif``, ``.jxl`` ...), one Pillow reads (GIF, TIFF,
    BMP, JPEG 2000, PPM, TGA, ICO, QOI ...) or HEIF and camera RAW."""
    from .codec import format_from_suffix  # (the codec reads this module)

    suffix = _name_suffix(name)
    return (format_from_suffix(name) is not None or suffix in _OTHER_PICTURE_SUFFIXES
            or (suffix in Image.registered_extensions() and suffix not in _NOT_PICTURE_SUFFIXES))


@contextlib.contextmanager
def _decoding(name: str, data: bytes, limit: int):
    """Pillow's and the containers' errors while a picture is opened or decoded, as this
    module's (:class:`ImageDecodeError`, :class:`ImageTooLargeError`), naming the input."""
    try:
        yield
    except (ImageTooLargeError, UnsupportedImageError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's text names its own threshold (twice the limit past which it refuses), a
        # second limit beside this one: the size alone is taken from it
        size = re.search(r"Image size \((\d+) pixels\)", str(exc))
        what = f"{int(size.group(1)):,} pixels" if size else str(exc)
        if size and int(size.group(1)) <= limit and \
                isinstance(exc, Image.DecompressionBombWarning):
            # its warning, above MAX_IMAGE_PIXELS, turned into an error by this process's
            # warning filters (python -W error), not a refusal of Pillow's: diff review 26
            raise ImageTooLargeError(
                f"{name}: {what}, over PIL.Image.MAX_IMAGE_PIXELS ({Image.MAX_IMAGE_PIXELS:,}): "
                "Pillow warns of such a picture and this process's warning filters make its "
                "warning an error; raise PIL.Image.MAX_IMAGE_PIXELS to read it (compress_core."
                "images.let_pillow_open(max_pixels))") from exc
        if size and int(size.group(1)) <= limit:  # Pillow's own refusal, above twice its limit
            raise ImageTooLargeError(
                f"{name}: {what}, over Pillow's own limit of {2 * Image.MAX_IMAGE_PIXELS:,} "
                "(twice PIL.Image.MAX_IMAGE_PIXELS), which max_pixels does not lift; raise "
                "PIL.Image.MAX_IMAGE_PIXELS in this process too (compress_core.images."
                "let_pillow_open(max_pixels); the command line and the job do)") from exc
        raise ImageTooLargeError(f"{name}: {what}, over the limit of {limit:,} pixels "
                                 "(max_pixels; give a larger one to read it)") from exc
    except UnidentifiedImageError as exc:
        bits = _jpeg_precision(data)
        if bits is not None and bits != 8:   # (a valid file, called damaged: edge review 44)
            raise UnsupportedImageError(
                f"{name}: a JPEG of {bits}-bit samples, which Pillow does not decode (8-bit "
                "JPEGs only); convert it to a 16-bit PNG or TIFF, which are read") from exc
        unread = _name_suffix(name)
        if unread in UNREAD_RAW_SUFFIXES:   # (intact ones were called damaged: diff review 51)
            raise UnsupportedImageError(
                f"{name}: a camera RAW ({unread[1:].upper()}) of a kind this library does not "
                "read (Canon CRW, Minolta MRW and Sigma X3F are not TIFF-structured); convert "
                "it to DNG (Adobe DNG Converter), which is read") from exc
        what = (f"a HEIF/HEIC file that {HEIF_PACKAGE} cannot decode" if is_heif(data)
                else "a TIFF file Pillow cannot read (cut short, or samples it does not "
                "support: floating-point or 32-bit colour, which saved with 8 or 16 bits per "
                "sample it reads)" if data[:4] in _TIFF_MAGIC
                else None)
        if what is None and (named_like_a_picture(name) or begins_like_a_picture(data)):
            raise ImageDecodeError(  # a damaged picture: its name or first bytes say so
                f"{name}: {NOT_AN_IMAGE} (named or begun as a picture: damaged, or another "
                "kind of file)") from exc
        if what is None:  # a stray file (a sidecar, a text file) that is no picture
            raise NotAnImageError(f"{name}: {NOT_AN_IMAGE}") from exc
        raise ImageDecodeError(f"{name}: {what}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _decode_error(name, exc) from exc
    except (IndexError, struct.error) as exc:
        # Pillow's Python decoders reading past a file cut short (QOI: "index out of range"
        # from a 14-byte file; it stopped the command line's batch with a traceback: security
        # review 47)
        raise _decode_error(name, exc) from exc
    except RuntimeError as exc:
        # the AVIF, HEIF and JPEG XL decoders' word for damaged data ("Failed to decode frame
        # 0", libjxl's "Generic Error") and for libheif's own limits: it reached the command
        # line as a traceback that stopped the batch (security review 45)
        if isinstance(exc, (RecursionError, NotImplementedError)):
            raise
        if "Security limit exceeded" in str(exc):
            raise ImageTooLargeError(f"{name}: over a limit of the HEIF decoder's ({exc})") \
                from exc
        raise _decode_error(name, exc) from exc


def _jpeg_precision(data: bytes) -> Optional[int]:
    """Bits per sample of a JPEG's frame (12-bit and lossless JPEGs from medical and
    scientific archives and some scanners), or None where ``data`` is no JPEG with a frame."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    from .codec.jpeg_markers import precision   # (codec imports this module)

    return precision(data)


#: How Pillow says a file ends before its picture does (``ImageFile.load``, ``_safe_read``).
_TRUNCATED = ("image file is truncated", "Truncated File Read")


def _decode_error(name: str, exc: BaseException) -> ImageDecodeError:
    """The error of Pillow's ``exc`` while decoding ``name``. A file cut short is said plainly:
    Pillow's "image file is truncated (0 bytes not processed)" read as nothing wrong."""
    if str(exc).startswith(_TRUNCATED):
        return ImageDecodeError(f"{name}: the file is cut short (truncated): the picture ends "
                                "early")
    return ImageDecodeError(f"{name}: cannot decode image ({exc})")


@contextlib.contextmanager
def _pillow_notes_named(name: str):
    """Pillow's warnings while reading ``name`` (a damaged EXIF block: "Truncated File Read",
    "Corrupt EXIF data") logged as one warning naming the file. Bare, they reached stderr with
    no file named, and once a process: which of a bucket's photos was meant could not be told.
    The decompression-bomb check's warning is dropped (``max_pixels`` decides); others are
    shown as they would have been. Caught in this thread only (:mod:`._thread_warnings`)."""
    caught = []
    try:
        with collected() as caught:
            yield
    finally:
        notes = []
        for note in caught:
            text = str(note.message)
            if issubclass(note.category, Image.DecompressionBombWarning):
                continue
            if note.filename.startswith(os.path.dirname(Image.__file__)):
                if text not in notes:
                    notes.append(text)
            else:  # not Pillow's: as it would have been shown
                warnings.showwarning(note.message, note.category, note.filename, note.lineno)
        if notes:
            _LOG.warning("%s: %s (Pillow's note while reading it)", name, "; ".join(notes))


def _decode(data: bytes, name: str, limit: int,
            needed_size: Optional[NeededSize] = None) -> LoadedImage:
    if not data:
        raise ImageDecodeError(f"{name}: empty file (0 bytes)")
    # (before any reader copies them; a JPEG's looked for before its first scan)
    _refuse_overlapping_values(data, name, _refuse_endless_scans(data, name)
                               if data.startswith(b"\xff\xd8") else None)
    kind = raw_format(data)
    if kind is not None:
        return _develop_raw(data, name, kind, limit, needed_size)
    stated = jxl_size(data)   # (pillow-jxl-plugin decodes all of a picture to open it)
    if stated is not None:
        _check_pixel_limit(*stated, limit, name)
    elif jxl_unsized(data):
        raise ImageDecodeError(
            f"{name}: a JPEG XL file whose codestream does not begin within its first boxes "
            "(no encoder writes one): not decoded, its size unknown until all of it is")
    rebuilt = jxl_rebuilt_jpeg(data) if _refuse_endless_rebuilt_scans(data, name) else None
    if rebuilt is not None:
        # the JPEG it holds, decoded as that JPEG with every JPEG check (and a reduced decoding
        # where a smaller size is needed), once: pillow-jxl-plugin rebuilds it and hands it to
        # Pillow's JPEG reader past them (security review 46); the same pixels and metadata,
        # one picture as the file is (a multi-picture JPEG's others, a phone's gain or depth
        # map, made it 2 "frames", and the file was no longer kept as it is: diff review 46)
        return dataclasses.replace(_decode(rebuilt, name, limit, needed_size), format="JXL",
                                   data=data, frames=1)
    _refuse_heif_decoding(data, name, limit)
    _refuse_icon_decoding(data, name, limit)
    bomb = jpeg2000_problem(data) or gif_comment_flood(data)
    if bomb:
        raise ImageDecodeError(f"{name}: {bomb}; not decoded")
    with _decoding(name, data, limit):
        # Pillow's bomb check runs in Image.open: it warns above MAX_IMAGE_PIXELS (dropped with
        # the file's notes: the limit below decides) and raises above twice that
        img = open_picture(data, name)
        _check_pixel_limit(img.width, img.height, limit, name)
    if fits_compressed(img):
        raise UnsupportedImageError(
            f"{name}: a tile-compressed FITS file (ZCMPTYPE GZIP_1), which Pillow decodes pixel "
            "by pixel in Python (350 KB of 88 megapixels: 46 s, 4 GB): not decoded; an "
            "uncompressed FITS file is read")
    _refuse_slow_decoding(img, name)
    if img.format == "QOI":
        img = _qoi_decoded(img, data, name)
    stored_size = img.size
    if needed_size is not None and img.format in ("JPEG", "MPO"):
        # (outside the decoding's errors: what the caller's callable raises is its own, not
        # "cannot decode image")
        _draft(img, needed_size)
    with _decoding(name, data, limit):
        misread = misread_planar_page(img)  # (16-bit TIFF planes Pillow misreads)
        # the turn of the stored samples: Pillow turns a TIFF page by it on loading, and drops it
        turn = _orientation(img) if img.format == "TIFF" else None
        img.load()
        # (what was decoded, where a plug-in decodes another size than it reported)
        _check_pixel_limit(*(img.im.size if img.im is not None else img.size), limit, name)
        if misread is not None:
            reread_planar_samples(img, data, name, misread)
    _refuse_overlapping_exif(img, name)   # (read by getexif() below)
    if img.format in ("JPEG", "MPO"):   # (damage libjpeg decodes without a word)
        from .codec.jpeg_scans import damage as jpeg_damage  # (codec imports this module)

        damaged = jpeg_damage(data)
        if damaged is not None:
            raise ImageDecodeError(f"{name}: {damaged}")
    deep = deep_pixels(img, data, name)   # (16-bit pictures Pillow's 8 bits lose)
    loaded = _from_pil(img, name, data=data)
    if deep is not None:
        pixels, converted = deep
        turn = _orientation(img) if turn is None else turn
        loaded = dataclasses.replace(
            loaded, pixels=upright(pixels, turn), as_stored=False,
            icc_profile=None if converted else loaded.icc_profile)
    if img.size != stored_size:  # decoded at a DCT scale: the input's own size, upright
        turned = _orientation(img) in _TURNING_ORIENTATIONS
        loaded.original_size = stored_size[::-1] if turned else stored_size
    return loaded


def _clear_hidden_default(img: Image.Image) -> None:
    """Clear ``img``'s default image (an APNG whose IDAT is no part of its animation, opened
    at it) to transparent black, the canvas the animation's first frame is drawn on: Pillow
    draws it on the default image, which showed through the frame's transparent parts where
    it blends OVER (a red default image behind a half-transparent green frame came out half
    red; every APNG reader shows it half transparent), and around a first frame smaller than
    the picture."""
    img.load()
    clear = img.info.get("transparency", 0) if img.mode in ("P", "RGB", "L", "I;16") else 0
    if img.mode == "P" and not isinstance(clear, int):   # (an alpha for each palette entry)
        clear = next((i for i, alpha in enumerate(clear) if alpha == 0), 0)
    img.paste(clear, (0, 0, *img.size))


def _apng_frame_box(img: Image.Image) -> Optional[Tuple[int, int, int, int]]:
    """``(left, top, right, bottom)`` of the APNG frame ``img`` stands at (seeked, not loaded)
    where it covers part of the picture and lies within it; None otherwise."""
    box = img.info.get("bbox")
    if not (isinstance(box, tuple) and len(box) == 4):
        return None
    box = tuple(int(v) for v in box)
    if box == (0, 0, *img.size) or box[2] > img.width or box[3] > img.height:
        return None
    return box


#: The most pixels a picture Pillow decodes in Python (a loop turn a pixel, a sample or a run)
#: is given to its decoder: about 5 s of it (security review 47: seconds a megapixel, measured
#: on files made for the worst: uncompressed DDS of 8-bit RGB masks 2.3, PGM/PPM of a maxval
#: other than 255 or 65535 1.4, plain-text PNM 0.9, XPM 0.34, RLE BMP 0.12-0.24: 38 KB of
#: one-pixel rows took 22 s at the default max_pixels, 10 MB of DDS 25 s).
_PYTHON_DECODER_PIXELS = {"dds_rgb": 2_000_000, "ppm": 3_500_000, "ppm_plain": 5_000_000,
                          "xpm": 15_000_000, "bmp_rle": 20_000_000, "MSP": 20_000_000}


def _refuse_slow_decoding(img: Image.Image, name: str) -> None:
    """Refuse ``img`` (opened) where Pillow decodes it in Python and it has more pixels than
    :data:`_PYTHON_DECODER_PIXELS` allows that decoder (old bitmaps, textures and text formats,
    where a JPEG or PNG of as many pixels decodes in a blink)."""
    decoders = {tile[0] for tile in img.tile or ()}
    pixels = img.width * img.height
    for decoder in sorted(decoders & _PYTHON_DECODER_PIXELS.keys()):
        most = _PYTHON_DECODER_PIXELS[decoder]
        if pixels > most:
            raise ImageTooLargeError(
                f"{name}: a {img.width}x{img.height} {img.format} picture, which Pillow decodes "
                f"in Python ({decoder}): at most {most:,} pixels of it are decoded (about 5 s); "
                "save it as PNG to compress it")


#: How a QOI file ends: seven 0 bytes and a 1.
_QOI_END = b"\0" * 7 + b"\1"


def _qoi_decoded(img: Image.Image, data: bytes, name: str) -> Image.Image:
    """The QOI picture ``img`` (opened, not loaded) decoded by ``imagecodecs`` (the reference
    C decoder): Pillow's decoder is Python, a loop turn a pixel or run (a 10 MB file of
    10 megapixels took 12 s, 1.4 MB of 89 megapixels in runs 2.4 s; imagecodecs: 0.02 s a
    megapixel, the same pixels; security review 47)."""
    import imagecodecs

    if not data.endswith(_QOI_END):   # (imagecodecs decodes a file cut short without a word:
        # the pixels past its end repeat the last one)
        raise ImageDecodeError(f"{name}: a QOI file that does not end in its end marker (cut "
                               "short, or bytes after it)")
    try:
        pixels = imagecodecs.qoi_decode(data)
    except Exception as exc:  # noqa: BLE001 - imagecodecs.QoiError (a RuntimeError), others
        raise ImageDecodeError(f"{name}: cannot decode image (QOI: {exc})") from exc
    channels = {"RGB": 3, "RGBA": 4}.get(img.mode)
    if pixels.dtype != np.uint8 or pixels.shape != (img.height, img.width, channels):
        raise ImageDecodeError(f"{name}: cannot decode image (QOI: {pixels.shape} samples "
                               f"for a {img.width}x{img.height} {img.mode} picture)")
    decoded = Image.fromarray(pixels)   # (RGB or RGBA by its shape, checked above)
    decoded.format = img.format
    decoded.info.update(img.info)
    return decoded


def _with_coding_padding(limit: int) -> int:
    """``limit`` pixels and the padding an encoder may code around a picture of that many: its
    sides rounded up to whole 64-pixel blocks, for sides of up to 16 times the other (w + h is
    at most 4.25 sqrt(limit)). x265 codes a 64 x 48 HEIC at 64 x 64 and crops it by a clap box;
    a picture within 1-3% of max_pixels was refused for it (diff review 45)."""
    return limit + 64 * (17 * math.isqrt(limit) // 4 + 1) + 64 * 64


def _refuse_icon_decoding(data: bytes, name: str, limit: int) -> None:
    """An :class:`ImageTooLargeError` for an ICO or ICNS file holding a picture over the limit
    (:func:`~compress_core.containers.icon_pixels`): Pillow decodes it at its own size."""
    held = icon_pixels(data)
    if held is None:
        raise ImageDecodeError(f"{name}: an icon file of more entries (or PNG chunks) than any "
                               "icon holds: not decoded")
    if held > limit:
        raise ImageTooLargeError(
            f"{name}: an icon holding a picture of {held:,} pixels, over the limit of {limit:,} "
            "(max_pixels)")


def _refuse_heif_decoding(data: bytes, name: str, limit: int) -> None:
    """An :class:`ImageTooLargeError` for a HEIF or AVIF file whose primary picture libheif or
    libavif would decode at more pixels than its reported size says
    (:func:`~compress_core.containers.heif_decoded_pixels`): a picture coded over the limit
    that a ``clap`` box crops to a small one, or a grid whose tiles (decoded whole, a tile
    referenced many times decoded each time) add up to more than twice the limit."""
    decoded = heif_decoded_pixels(data) if data[4:8] == b"ftyp" else None
    if decoded is None:
        return
    canvas, tiles = decoded
    if canvas > _with_coding_padding(limit):
        raise ImageTooLargeError(
            f"{name}: its picture is coded at {canvas:,} pixels (before the crop or turn its "
            f"size reports), over the limit of {limit:,} (max_pixels)")
    if tiles == math.inf:   # (containers: a loop of derived pictures, or a chain of them
        raise ImageDecodeError(   # deeper than any writer nests)
            f"{name}: its picture is derived from pictures that loop or nest deeper than "
            "8 levels: not decoded")
    if tiles > 2 * limit:
        raise ImageTooLargeError(
            f"{name}: the tiles its picture (or its alpha plane) is made of add up to "
            f"{tiles:,} pixels to decode, over twice the limit of {limit:,} (max_pixels), for a "
            f"picture of {canvas:,}")


def _refuse_overlapping_values(data: bytes, name: str, headers_end: Optional[int]) -> None:
    """An :class:`ImageDecodeError` where a TIFF structure in ``data`` (the file itself, or an
    EXIF block or multi-picture index stored in it, up to ``headers_end``: a JPEG's first
    scan) has directories whose values overlap: Pillow copies each tag's value, and 60,000
    tags over the same 720,000 bytes of a 720 KB PNG asked for 43 GB (security review 45).
    TIFFs, AVIFs (their EXIF's orientation) and multi-picture JPEGs are read on opening, so
    this is said before it."""
    bomb = file_problem(data, headers_end)
    if bomb:
        raise ImageDecodeError(f"{name}: {bomb}; not read")


def _refuse_endless_scans(data: bytes, name: str) -> Optional[int]:
    """An :class:`ImageDecodeError` for a JPEG of more scans than any encoder writes: each is
    a pass of the decoder over every block of the picture, and a scan that refines nothing
    takes a few dozen bytes (security review 45: an 8000 x 8000 JPEG whose last scan was
    repeated 300 times, 404 KB, took 83 s to compress instead of 13; 2,000 times, 566 KB,
    254 s in Pillow alone); and for one of more marker segments, Huffman tables or fill bytes
    than any encoder writes, each read one by one in Python (a 64 x 64 picture behind 12.5
    million empty comments, 50 MB, took 30 s and 1.1 GB: security review 46; the bounds are
    :func:`~compress_core.codec.jpeg_markers.too_many_segments`). Else where its first scan
    starts, the end of its APP segments
    (None where its segments lead to none: Pillow skips bytes between them, so all of it is
    searched for EXIF blocks)."""
    from .codec.jpeg_markers import too_many_segments  # (codec imports this module)

    excess, first_scan = too_many_segments(data)   # (one walk, bounded: Pillow's is not)
    if excess is not None:
        raise ImageDecodeError(f"{name}: a JPEG of {excess}, more than any encoder writes: "
                               "not decoded")
    return first_scan


def _refuse_endless_rebuilt_scans(data: bytes, name: str) -> int:
    """The same for the JPEG a JPEG XL file rebuilds (:func:`.containers.jxl_rebuilt_scans`),
    before it is rebuilt (a JPEG of 695 scans took 22 s to rebuild); else its scans (0 for a
    file that rebuilds none)."""
    from .codec.jpeg_markers import MOST_SCANS  # (codec imports this module)

    scans = jxl_rebuilt_scans(data)
    if scans is None:
        raise ImageDecodeError(
            f"{name}: a JPEG XL file of more boxes than any encoder writes: not decoded")
    if scans > MOST_SCANS:
        raise ImageDecodeError(
            f"{name}: a JPEG XL file rebuilding a JPEG of more than {MOST_SCANS} scans "
            "(encoders write at most a few dozen; each is a pass of the decoder over the whole "
            "picture): not decoded")
    return scans


def _refuse_overlapping_exif(img: Image.Image, name: str) -> None:
    """The same for the EXIF block a decoder found in a form the file's bytes do not show
    (brotli-compressed in a JPEG XL, hex text in a PNG's compressed "Raw profile type exif"),
    before ``getexif()`` reads it."""
    blocks = [img.info.get("exif")]
    text = img.info.get("Raw profile type exif")
    if isinstance(text, str):
        try:   # (as Pillow's getexif() reads it)
            blocks.append(bytes.fromhex("".join(text.split("\n")[3:])))
        except ValueError:
            pass
    for block in blocks:
        bomb = overlapping_values(block) if isinstance(block, (bytes, bytearray)) else None
        if bomb:
            raise ImageDecodeError(f"{name}: {bomb}; not read")


def _sample_bytes(img: Image.Image) -> int:
    """The bytes a PIL image's samples hold: width x height x bands x the mode's sample size
    (a 1-bit image's pixels as Pillow holds them, a byte each)."""
    try:
        size = np.dtype(ImageMode.getmode(img.mode).typestr).itemsize
    except (KeyError, TypeError, ValueError):
        size = 1
    return img.width * img.height * len(img.getbands()) * size


#: EXIF orientations that swap the axes (transposed, turned 90 or 270 degrees).
_TURNING_ORIENTATIONS = frozenset((5, 6, 7, 8))


def _orientation(img: Image.Image) -> int:
    """The turn that brings ``img``'s decoded pixels upright (an EXIF orientation, 1: none).
    A JPEG XL picture is decoded upright already: libjxl turns it by its codestream's
    orientation, and its Exif box's must be ignored (the JPEG XL format overview; libjxl
    issue 648). Turning it by that box turned a picture that cjxl or ImageMagick had given
    both twice, and one whose Exif alone said 6 a quarter turn from how viewers show it (edge
    review 43). Where the file holds a JPEG to reconstruct, ``pillow-jxl-plugin`` decodes
    that JPEG (its ``jpeg`` attribute): its pixels as stored, its EXIF's orientation to apply,
    as for any JPEG."""
    if img.format == "JXL" and not getattr(img, "jpeg", False):
        return 1
    try:
        value = img.getexif().get(0x0112, 1)
        return int(value) if isinstance(value, int) else 1
    except Exception:  # noqa: BLE001 -- a broken EXIF block: exif_transpose will not turn it
        return 1


def _draft(img: Image.Image, needed_size: NeededSize) -> None:
    """Set a JPEG's decoder to the smallest DCT scale that still gives ``needed_size``."""
    w, h = img.size
    turned = _orientation(img) in _TURNING_ORIENTATIONS
    need = _needed(needed_size, h, w) if turned else _needed(needed_size, w, h)
    if need is None:
        return
    nw, nh = need[::-1] if turned else need
    if nw * 2 <= w and nh * 2 <= h:
        img.draft(img.mode, (nw, nh))


def _needed(needed_size: NeededSize, width: int, height: int) -> Optional[Tuple[int, int]]:
    """What ``needed_size(width, height)`` says, checked: None (all of the picture) or a
    ``(width, height)`` of two positive numbers, rounded up to whole pixels. Anything else is a
    ``TypeError``/``ValueError`` naming it (a zero or negative size had the picture decoded
    at 1/8 of its size, silently; a triple was "cannot decode image")."""
    need = needed_size(width, height)
    if need is None:
        return None
    if isinstance(need, (str, bytes)) or not hasattr(need, "__len__") or len(need) != 2:
        raise TypeError(f"needed_size({width}, {height}) must return None or (width, height); "
                        f"got {need!r}")
    nw = check_positive_number(need[0], f"needed_size({width}, {height})'s width")
    nh = check_positive_number(need[1], f"needed_size({width}, {height})'s height")
    return math.ceil(nw), math.ceil(nh)


def _develop_raw(data: bytes, name: str, kind: str, limit: int,
                 needed_size: Optional[NeededSize] = None) -> LoadedImage:
    """A camera RAW file developed by LibRaw (:mod:`compress_core.raw`): upright sRGB pixels,
    the pixel limit checked before developing (at half size where ``needed_size`` allows), the
    EXIF block and XMP packet of TIFF-structured RAWs."""
    sizes = {}

    def check(w: int, h: int) -> bool:  # True: develop at half size
        _check_pixel_limit(w, h, limit, name)
        need = _needed(needed_size, w, h) if needed_size is not None else None
        if need is not None and need[0] * 2 <= w and need[1] * 2 <= h:
            sizes["original"] = (w, h)
            return True
        return False

    pixels = develop(data, name, kind, check)
    exif, xmp = raw_metadata(data)
    return LoadedImage(pixels=pixels, format=kind, source=name, data=data, icc_profile=None,
                       exif=exif, xmp=xmp, original_size=sizes.get("original"),
                       as_stored=False)


def _transparent_outside(pixels: np.ndarray, box: Tuple[int, int, int, int]) -> np.ndarray:
    """``pixels`` (H, W, 3|4) with an alpha channel that is 0 outside ``box``: what browsers
    show of a GIF's logical screen its first frame leaves uncovered (they ignore the background
    colour; Pillow fills it with palette entry 0, opaque: black margins about a 16 x 16 frame
    in a 64 x 64 screen, security review 47), and of an APNG's canvas about its first frame."""
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], 2)
    elif not pixels.flags.writeable:   # (Pillow's buffer, read-only: a GIF of a transparent
        pixels = pixels.copy()         # index raised numpy's ValueError; diff review 47)
    left, top, right, bottom = box
    outside = np.ones(pixels.shape[:2], bool)
    outside[max(top, 0):max(bottom, 0), max(left, 0):max(right, 0)] = False
    pixels[outside, 3] = 0
    return pixels


#: Formats whose fourth channel, where it is zero all over, is no alpha but padding (BMP
#: bitfields with an alpha mask, 32-bit TGAs).
_ZERO_ALPHA_IS_OPAQUE = frozenset(("BMP", "DIB", "TGA"))


def pil_image_pixels(image: Image.Image) -> np.ndarray:
    """An open PIL image's pixels, RGB(A) uint8, decoded as :func:`load_image` decodes a file
    (upright by its EXIF orientation, a grey or CMYK picture through its colour profile), at
    the frame it stands at, Pillow's notes on it logged naming ``<PIL image>``
    (:func:`compress_core.pixels.as_pixel_array` takes PIL images through it)."""
    with _pillow_notes_named("<PIL image>"):   # (the frame it stands at: a caller walking
        # an animation's frames got the first one each time, 43x slower: diff review 37)
        return _from_pil(image, "<PIL image>", data=None, first_frame=False).pixels


def _from_pil(img: Image.Image, name: str, data: Optional[bytes],
              first_frame: bool = True) -> LoadedImage:
    """A decoded picture (``first_frame``: an animation's first frame, where a file opened
    lies; else the frame ``img`` stands at, as a caller who walks the frames chose it, its
    frames not counted: ``frames`` 1)."""
    fmt = img.format
    # (a HEIF may describe its colours by nclx code points instead: the same as a profile)
    icc = img.info.get("icc_profile") or nclx_icc(img.info.get("nclx_profile"))
    # (an AVIF's nclx box and a PNG's cICP chunk say the same by bare code points, which
    # Pillow does not report: a Display P3 AVIF or PNG was written untagged, washed out)
    points = _code_points(data, fmt) if data and fmt in ("AVIF", "PNG") else None
    if fmt == "PNG" and points is not None:
        # a cICP chunk rules over iCCP, sRGB, gAMA and cHRM (PNG, third edition): its profile,
        # or none where it says sRGB or an HDR curve (written as decoded)
        icc = nclx_icc(points)
    elif not icc and points is not None:
        icc = nclx_icc(points)
    elif not icc and fmt == "PNG" and "srgb" not in img.info:  # (an iCCP or sRGB chunk rules)
        icc = png_gamma_icc(img.info.get("gamma"), img.info.get("chromaticity"))
    xmp = img.info.get("xmp") or None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    iptc = _iptc_record(img)
    tiff_exif = _tiff_exif(img) if fmt == "TIFF" else None  # (exif_transpose's copy has none)
    stored_exif = img.info.get("exif")   # (as the file holds it: exif_transpose rewrites it)
    frames = 1
    apng_box = None
    try:
        # (a TIFF's page is chosen on opening; its n_frames walks every page: 20,000 pages of
        # an upload took 3 s)
        # (a Photoshop file's "frames" are its layers, numbered from 1: it opens at its merged
        # picture, and seek(0) refused every file of two layers or more; security review 46)
        if first_frame and img.format not in ("TIFF", "PSD") and getattr(img, "n_frames", 1) > 1:
            frames = img.n_frames
            hidden = int(hidden_default_image(img))
            if hidden:
                _clear_hidden_default(img)
            if img.format != "HEIF":  # the first frame of an animation (a TIFF's page is
                img.seek(hidden)      # chosen on opening); a HEIF opens at its primary
                # picture, the one viewers show, which need not be its first (edge review 36:
                # a file of two pictures whose primary is the second was read as the first);
                # an APNG's animation at its first frame, past a hidden default image
            if hidden:
                # on the cleared canvas OVER is SOURCE: Pillow's OVER pastes the frame through
                # its own alpha, alpha and all (a half-transparent green came out a quarter
                # opaque and half as bright); and a picture of no transparency (RGB, grey, a
                # palette without a clear entry) keeps its cleared margins opaque: they are
                # made transparent below (diff review 47)
                img.blend_op = 0   # (PIL.PngImagePlugin.Blend.OP_SOURCE)
                apng_box = _apng_frame_box(img)
            frames -= hidden
        upright = _orientation(img) == 1
        # (a first frame that leaves part of the picture uncovered: an upright GIF's, an APNG's)
        frame_box = None if not upright else (
            gif_first_frame_box(data) if fmt == "GIF" and data and first_frame else apng_box)
        if upright and fmt != "TIFF":   # (exif_transpose copies an upright picture whole:
            img.load()   # 2 ms of a 768 x 512 photo's 34 at the job's default, 0.1 s of a
            # 24-megapixel one; a TIFF's copy drops the page directory its getexif() gives)
        else:
            img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _decode_error(name, exc) from exc
    exif = None
    try:
        exif_obj = img.getexif() if tiff_exif is None else tiff_exif
        if len(exif_obj) and tiff_exif is None and isinstance(stored_exif, bytes):
            # the file's block, its orientation set to 1 in place (a rewrite moved a camera's
            # maker note away from what its offsets point at: exif_edit), else as below
            exif = upright_in_place(stored_exif)
        if len(exif_obj) and exif is None:
            before = exif_obj.get(0x0112)   # (an upright picture is the caller's own, not
            exif_obj[0x0112] = 1            # a copy: its EXIF is left as it was)
            exif = exif_obj.tobytes()  # orientation already applied
            if before is None:
                del exif_obj[0x0112]
            else:
                exif_obj[0x0112] = before
    except Exception:  # a broken EXIF block must not lose the image
        exif = None
    # (a 32-bit icon entry's AND mask, which Pillow does not read: read before any conversion)
    icon_mask = icon_and_mask(img, data) if data and fmt in ("ICO", "CUR") else None
    try:
        img, kept_icc = device_to_srgb(img, icc, name)
    except (OSError, ValueError) as exc:  # reading the pixels to convert them
        raise _decode_error(name, exc) from exc
    pixels = _pil_to_array(img, name)
    decoded = pixels
    if frame_box is not None:
        pixels = _transparent_outside(pixels, frame_box)
    if fmt in _ZERO_ALPHA_IS_OPAQUE and pixels.shape[2] == 4 and not pixels[..., 3].any():
        # a channel of zeros that writers leave in 32-bit pictures without transparency:
        # Chrome's BMP reader, Windows and Photoshop show them opaque (DirectXTex so reads
        # TGAs); read as alpha, the picture came out blank (a 34-byte transparent WebP,
        # status ok: security review 47)
        pixels = np.ascontiguousarray(pixels[..., :3])
    if icon_mask is not None and icon_mask.shape == pixels.shape[:2] and (
            pixels.shape[2] == 3 or not pixels[..., 3].any()):
        # an icon entry without an alpha of its own: a 32-bit one whose fourth byte is 0 all
        # over (padding; it came out blank, status ok), a cursor's of 1 to 24 bits (Pillow's
        # CUR reader does not read its mask, its ICO reader does: opaque black). Its AND mask
        # is its transparency, as Windows, Chrome and Firefox draw it (security review 47).
        pixels = np.dstack([pixels[..., :3], np.where(icon_mask, 0, 255).astype(np.uint8)])
    return LoadedImage(pixels=pixels, format=fmt, source=name, data=data, icc_profile=kept_icc,
                       exif=exif, xmp=xmp, iptc=iptc, frames=frames,
                       as_stored=upright and kept_icc is icc and pixels is decoded)


def _code_points(data: bytes, fmt: str):
    """The colour code points (H.273) of an AVIF's primary picture's ``colr`` box of type
    ``nclx`` (:func:`~compress_core.containers.heif_primary_nclx`) or a PNG's ``cICP`` chunk
    (before its image data), as :func:`compress_core.nclx.code_points` describes them; None
    where there are none."""
    if fmt == "AVIF":
        # the primary picture's own box (security review 47: the first nclx bytes of the file,
        # an alpha's, a gain map's or a box no picture used, described pictures that had none)
        points = heif_primary_nclx(data)
        return None if points is None else code_points(*points)
    at = 8   # (chunk to chunk by their lengths: a large text or EXIF chunk costs nothing)
    while at + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind == b"cICP" and length == 4 and at + 12 <= len(data):
            return code_points(data[at + 8], data[at + 9])
        if kind in (b"IDAT", b"IEND"):
            return None
        at += 12 + length
    return None


#: Where an IPTC-IIM record lies: a JPEG's Photoshop image resource, a TIFF's tag.
_IPTC_RESOURCE, _IPTC_TAG = 0x0404, 33723


def _iptc_record(img: Image.Image) -> Optional[bytes]:
    """The IPTC-IIM record of ``img`` (JPEG or TIFF), or None."""
    record = (img.info.get("photoshop") or {}).get(_IPTC_RESOURCE)
    if record is None and hasattr(img, "tag_v2"):
        record = img.tag_v2.get(_IPTC_TAG)
    if isinstance(record, (tuple, list)) and all(isinstance(v, int) for v in record):
        # a TIFF tag typed BYTE, or LONG (as Photoshop writes it: the record packed in 4-byte
        # words of the file's byte order)
        if all(0 <= v < 256 for v in record):
            record = bytes(record)
        else:
            order = "<" if getattr(img.tag_v2, "prefix", b"II") == b"II" else ">"
            record = struct.pack(f"{order}{len(record)}I", *(v & 0xFFFFFFFF for v in record))
    return bytes(record) if isinstance(record, (bytes, bytearray)) and record else None


#: Tags of a TIFF page that describe how its pixels are stored (size, layout, strips, tiles,
#: compression, samples, palette, GeoTIFF's mapping of its pixel grid) or that the output
#: carries on their own (XMP 700, IPTC 33723, ICC 34675) or never (Photoshop's resources
#: 34377 and layers 37724, which can weigh megabytes): none of them describes an output.
_TIFF_LAYOUT_TAGS = frozenset([
    254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281, 284,
    288, 289, 290, 291, 292, 293, 301, 317, 318, 319, 320, 321, 322, 323, 324, 325, 330, 332,
    333, 334, 336, 338, 339, 340, 341, 342, 347, *range(512, 522), 529, 530, 531, 532,
    700, 33723, 34675, 34377, 37724, 33550, 33922, 34264, 34735, 34736, 34737])


def _tiff_exif(img: Image.Image) -> Optional[Image.Exif]:
    """The EXIF block of a TIFF's page (``img`` at that page): its directory's tags that
    describe the picture (camera, dates, artist, copyright, its Exif and GPS directories),
    without those of :data:`_TIFF_LAYOUT_TAGS`; None when there is none or it cannot be read.
    Pillow's ``getexif()`` of a TIFF is the page's directory itself, and ``exif_transpose``
    returns a copy that has none: a TIFF's EXIF was lost, under ``metadata="keep"`` too."""
    try:
        page = img.getexif()
        exif = Image.Exif()
        exif.load(page.tobytes())  # (the Exif and GPS directories read while the file is open)
        for tag in _TIFF_LAYOUT_TAGS & set(exif):
            del exif[tag]
        return exif if len(exif) else None
    except Exception:  # noqa: BLE001 -- a broken directory must not lose the image
        return None


def _pil_to_array(img: Image.Image, name: str) -> np.ndarray:
    if img.width < 1 or img.height < 1:
        raise UnsupportedImageError(f"{name}: empty image ({img.width}x{img.height})")
    mode = img.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in img.info   # ("1": a 1-bit PNG's
    )                                                  # tRNS was dropped: edge review 39)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16"):
            key = img.info.get("transparency")   # a 16-bit grey PNG's tRNS: one grey value
            grey = np.clip(arr / 65535.0, 0.0, 1.0)
            if isinstance(key, int) and not isinstance(key, bool) and (arr == key).any():
                return as_rgb_array(np.dstack([grey, grey, grey, (arr != key).astype(
                    np.float64)]))
            arr = grey
        else:
            # 32-bit integer and float pictures carry no scale: 0..1 (floats; up to 2, the
            # overshoot of resampled or HDR data, clipped), 0..255 (Pillow's convert('F') of
            # 8-bit data) and 0..65535 are taken as such; other ranges (signed or larger data)
            # are stretched to their own. (A flat 0.8 grey was stretched to black, two greys
            # to black and white.)
            if not np.isfinite(arr).all():   # (one that held nothing else was a flat grey)
                raise UnsupportedImageError(
                    f"{name}: {mode} image contains NaN or infinite values")
            lo, hi = float(arr.min()), float(arr.max())
            if mode == "F" and lo >= 0 and hi <= 2:
                pass  # 0..1, overshoot clipped (a resampled or HDR 0..1.02 went black /255)
            elif lo >= 0 and hi <= 65535:
                arr = arr / (65535.0 if hi > 255 else 255.0)
            else:
                arr = (arr - lo) / (hi - lo) if hi > lo else np.full_like(arr, 0.5)
        return as_rgb_array(np.clip(arr, 0.0, 1.0))
    target = "RGBA" if has_alpha else "RGB"
    try:
        if mode == "La":  # premultiplied: Pillow un-premultiplies it to LA only (RGBa: to RGBA)
            img = img.convert("LA")
        # (a picture already in the mode: Pillow's convert copies it whole)
        converted = img if img.mode == target and "transparency" not in img.info else \
            img.convert(target)
    except (OSError, ValueError) as exc:
        raise UnsupportedImageError(f"{name}: cannot convert mode {mode} to {target} ({exc})") from exc
    return np.ascontiguousarray(np.asarray(converted, dtype=np.uint8))


def _position(source) -> int:
    """A file object's position, or 0 where it cannot say (a pipe, a socket)."""
    try:
        return int(source.tell())
    except (OSError, ValueError, AttributeError, TypeError):
        return 0


def _read_at_most(source, most: int):
    """What the file object ``source`` holds, read in pieces until its end or past ``most``
    bytes (a raw stream's ``read(n)`` may return fewer than ``n`` before its end); a text-mode
    file's first ``str``, for the caller to refuse."""
    pieces, total = [], 0
    while total <= most:
        piece = source.read(min(1 << 24, most + 1 - total))
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            return piece if not pieces else b"".join(pieces)
        if not piece:
            break
        pieces.append(bytes(piece))
        total += len(piece)
    return b"".join(pieces)


def largest_file(max_pixels: int) -> int:
    """The most bytes a file holding one picture of ``max_pixels`` pixels takes: 8 a pixel
    (16-bit RGBA or CMYK stored uncompressed, the widest samples read) and 64 MiB for its
    metadata and other pages. A larger file is refused unread (a 4 GB upload was read whole,
    and the job died of it: security review 26)."""
    return 8 * int(max_pixels) + (64 << 20)


def let_pillow_open(max_pixels: Optional[int]) -> None:
    """Raise Pillow's own decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``: Pillow
    refuses pictures over twice it, whatever ``max_pixels`` says) to ``max_pixels`` where that
    is above twice it, so that pictures up to ``max_pixels`` open; never lowers it. It is a
    setting of the whole process: the command line and the job's workers, whose processes
    are theirs, call this; a library caller decides for its own process."""
    current = Image.MAX_IMAGE_PIXELS
    if max_pixels and current is not None and max_pixels > 2 * current:
        Image.MAX_IMAGE_PIXELS = int(max_pixels)
