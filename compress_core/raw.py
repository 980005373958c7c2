"""Camera RAW files: recognised by their bytes, developed through ``rawpy`` (LibRaw).

A RAW file holds the sensor's data before any development; Pillow reads at most the small
preview beside it. :func:`raw_format` recognises one by its content, never by its name:

* **TIFF-structured** files (Pillow's ``ImageFileDirectory_v2`` reads their directories):

  - a DNG (Adobe's RAW format, also phones' RAW photos): ``DNGVersion`` (tag 50706) in the
    first directory. Every DNG goes to LibRaw, the rare "linear" DNG whose main image Pillow
    might decode included: its values are linear camera data that need the colour matrix, the
    white balance and a tone curve, which LibRaw applies and Pillow does not;
  - a Canon CR2: ``CR\\x02`` after the TIFF header;
  - any other TIFF none of whose pages (the directory chain Pillow reads) is a picture Pillow
    can decode: each is a reduced-resolution copy (``NewSubfileType`` bit 0) or colour-filter
    / linear sensor data (photometric 32803 / 34892), the sensor data sitting in SubIFDs.
    That is how Nikon NEF, Sony ARW, Pentax PEF and others are laid out (format ``"RAW"``:
    they share the layout, not a signature);
  - Olympus ORF (``IIRO``, ``IIRS``, ``MMOR``) and Panasonic RW2 (``IIU\\0``): TIFF structures
    with their own identifier in place of 42 (ExifTool reads identifier 0x4f52 / 0x5352 as
    ORF and 0x55 as RW2; LibRaw parses any ``II`` / ``MM`` file as TIFF).
* Canon **CR3**: an ISO BMFF file whose ``ftyp`` brand is ``crx `` (LibRaw's and ExifTool's
  test; Canon's CRM movies share it, and LibRaw refuses those).
* Fujifilm **RAF**: the file starts ``FUJIFILMCCD-RAW`` (LibRaw tests ``FUJIFILM``).

:func:`develop` renders the picture as LibRaw does by default, except where a photo output
needs otherwise: the camera's white balance (``use_camera_wb``; where the file has none,
LibRaw's daylight balance), sRGB primaries with the sRGB tone curve (power 2.4, slope 12.92;
LibRaw's default is BT.709's 2.222 / 4.5), 8 bits, AHD demosaicing, and the exposure as the
camera recorded it (``no_auto_bright``). LibRaw's default brightening scales each picture
until its brightest 1% is white, clipping highlights the RAW held: a photo without highlights
came out brighter than it was shot (a DNG of skimage's ``rocket``: 16 levels off on average,
against 2 without it). A camera's own JPEG may look brighter: cameras add their tone curve.
LibRaw turns the picture upright by the camera's orientation, and :func:`raw_metadata` writes
orientation 1, so nothing turns it again. No colour profile is embedded: the pixels are sRGB.

The pixel limit holds before anything is unpacked: the picture's size is read from LibRaw's
``sizes`` first. The same look at the size decides LibRaw's ``half_size`` (one pixel per 2x2
filter block, no demosaicing: a 6000x4000 RAW developed in 0.2 s instead of 1.2 s): the caller
asks for it where half the picture is all it needs (a thumbnail;
:func:`compress_core.images.load_image`'s ``needed_size``).

``rawpy`` is an optional package (``pip install ".[raw]"``; it bundles LibRaw); without it a
RAW file is an :class:`~compress_core.errors.UnsupportedImageError` that names it.
"""
from __future__ import annotations

import io
from typing import Callable, Iterator, Optional, Tuple

import numpy as np
from PIL import Image, TiffImagePlugin

from ._thread_warnings import silenced
from .containers import REDUCED_RESOLUTION
from .errors import ImageDecodeError, UnsupportedImageError

__all__ = ["raw_format", "develop", "raw_metadata", "RAW_PACKAGE", "RAW_SUFFIXES",
           "UNREAD_RAW_SUFFIXES"]

#: The package that develops RAW files (PyPI name).
RAW_PACKAGE = "rawpy"

#: Suffixes of the camera RAW files :func:`raw_format` recognises by their bytes and LibRaw
#: develops (Adobe DNG; Canon CR2, CR3; Nikon NEF, NRW; Sony ARW, SRF, SR2; Pentax PEF; Olympus
#: ORF; Panasonic RW2; Leica RWL; Fujifilm RAF; Samsung SRW; Hasselblad 3FR; Epson ERF; Kodak
#: KDC, DCR; Phase One IIQ; Leaf MOS; Mamiya MEF): a file so named that no decoder recognises
#: is a damaged picture, and the library does not write the format. (Canon CRW, Minolta MRW and
#: Sigma X3F are not TIFF-structured and not recognised: such a file is no picture here.)
RAW_SUFFIXES = frozenset((
    ".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".pef", ".orf", ".rw2",
    ".rwl", ".raf", ".srw", ".3fr", ".erf", ".kdc", ".dcr", ".iiq", ".mos", ".mef"))
#: Suffixes of camera RAW files :func:`raw_format` does not recognise (Canon CRW, Minolta
#: MRW, Sigma X3F): no picture when read, but still a RAW's name that an output must not take
#: (``-o thumb.crw`` would hold a JPEG).
UNREAD_RAW_SUFFIXES = frozenset((".crw", ".mrw", ".x3f"))

_TIFF = (b"II*\0", b"MM\0*")
_ORF = (b"IIRO", b"IIRS", b"MMOR")
_RW2 = b"IIU\0"
_CR2 = b"CR\x02"  # at byte 8, after the TIFF header
_CR3 = b"ftypcrx "  # at byte 4
_RAF = b"FUJIFILMCCD-RAW"
_DNG_VERSION = 50706
_NEW_SUBFILE_TYPE, _PHOTOMETRIC = 254, 262
_SENSOR_DATA = (32803, 34892)  # photometric: colour filter array, linear raw
#: More directories than any camera writes: a longer chain is not followed further.
_MOST_DIRECTORIES = 64
#: First-directory tags that describe the photo rather than the RAW's data layout (which
#: the output does not have): description, make, model, software, date, artist, copyright,
#: and the Exif (exposure, lens, dates) and GPS directories.
_DESCRIBING = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298, 0x8769, 0x8825)
_ORIENTATION = 0x0112
_XMP = 700


def raw_format(data: bytes) -> Optional[str]:
    """The kind of camera RAW file ``data`` is (``"DNG"``, ``"CR2"``, ``"CR3"``, ``"RAF"``,
    ``"ORF"``, ``"RW2"``, or ``"RAW"`` for other TIFF-structured RAWs), or ``None``."""
    if data[4:12] == _CR3:
        return "CR3"
    if data.startswith(_RAF):
        return "RAF"
    if data[:4] in _ORF:
        return "ORF"
    if data.startswith(_RW2):
        return "RW2"
    if data[:4] not in _TIFF:
        return None
    if data[8:11] == _CR2:
        return "CR2"
    pages = _directories(data)
    first = next(pages, None)
    if first is None:
        return None
    if _DNG_VERSION in first:
        return "DNG"
    # every page, stopping at the first picture (a plain TIFF's first page, most often)
    if _not_a_picture(first) and all(_not_a_picture(page) for page in pages):
        return "RAW"
    return None


def _tiff_bytes(data: bytes) -> bytes:
    """``data`` with an ORF's or RW2's identifier replaced by TIFF's 42, so that Pillow reads
    its directories; other data as it is."""
    if data[:4] in _ORF or data.startswith(_RW2):
        return data[:2] + (b"*\0" if data[:2] == b"II" else b"\0*") + data[4:]
    return data


def _directories(data: bytes) -> Iterator[TiffImagePlugin.ImageFileDirectory_v2]:
    """The directories of a TIFF's main chain (its pages, not SubIFDs), read one at a time,
    as far as they read."""
    head = data[:8]
    fp = io.BytesIO(data)
    seen = set()
    try:
        offset = TiffImagePlugin.ImageFileDirectory_v2(head).next
        while offset and offset not in seen and len(seen) < _MOST_DIRECTORIES:
            seen.add(offset)
            ifd = TiffImagePlugin.ImageFileDirectory_v2(head)
            fp.seek(offset)
            with silenced():  # Pillow's "possibly corrupt" notes (raised by a host's
                try:          # "error" filter: that directory unread, the chain read on)
                    ifd.load(fp)
                except Warning:
                    pass
            yield ifd
            offset = ifd.next
    except Exception:  # a damaged chain: what was read (Pillow then reports the damage)
        return


def _not_a_picture(page: TiffImagePlugin.ImageFileDirectory_v2) -> bool:
    try:
        subfile = int(page.get(_NEW_SUBFILE_TYPE, 0) or 0)
        photometric = page.get(_PHOTOMETRIC)
    except Exception:  # an unreadable value: leave the page to Pillow
        return False
    return bool(subfile & REDUCED_RESOLUTION) or photometric in _SENSOR_DATA


def develop(data: bytes, name: str, kind: str,
            check_size: Callable[[int, int], Optional[bool]]) -> np.ndarray:
    """Develop the camera RAW file ``data`` (of :func:`raw_format`'s ``kind``) into upright
    sRGB pixels, uint8 (H, W, 3), as the module's text says.

    ``check_size(width, height)`` is called with the upright picture's size before anything
    is unpacked; it raises to refuse the file (the pixel limit), and returns True to have it
    developed at half size (``half_size``).

    Raises
    ------
    UnsupportedImageError
        ``rawpy`` is not installed (the message names it), or LibRaw does not read this kind of
        file (a camera it does not know, a movie, a TIFF that only looks like a RAW).
    ImageDecodeError
        The file is damaged (truncated, corrupt data): LibRaw's message, naming ``name``.
    """
    try:
        import rawpy
    except ImportError as exc:
        raise UnsupportedImageError(
            f"{name}: a camera RAW file ({kind}); developing it needs the optional package "
            f"{RAW_PACKAGE} (pip install {RAW_PACKAGE})") from exc
    raw = rawpy.RawPy()
    try:
        raw.open_buffer(io.BytesIO(data))
        sizes = raw.sizes
        if sizes.flip & 4:  # LibRaw's flip: bit 2 swaps the axes
            half = check_size(sizes.height, sizes.width)
        else:
            half = check_size(sizes.width, sizes.height)
        raw.unpack()
        rgb = raw.postprocess(use_camera_wb=True, output_color=rawpy.ColorSpace.sRGB,
                              output_bps=8, gamma=(2.4, 12.92), no_auto_bright=True,
                              half_size=bool(half))
    except rawpy.LibRawFileUnsupportedError as exc:
        raise UnsupportedImageError(
            f"{name}: looks like a camera RAW file ({kind}) but LibRaw does not read it "
            f"({_message(exc)})") from exc
    except rawpy.LibRawError as exc:
        raise ImageDecodeError(
            f"{name}: cannot develop the camera RAW file ({kind}), damaged or truncated: "
            f"LibRaw says {_message(exc)}") from exc
    finally:
        raw.close()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise UnsupportedImageError(f"{name}: LibRaw developed the camera RAW file ({kind}) "
                                    f"into an unusable picture of shape {rgb.shape}")
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{type(exc).__name__}: {text}"


def raw_metadata(data: bytes) -> Tuple[Optional[bytes], Optional[bytes]]:
    """``(exif, xmp)`` of a TIFF-structured RAW file (DNG, CR2, NEF, ORF, RW2 ...), read from
    its first directory at once:

    * ``exif``: the tags that describe the photo (camera, date, artist, copyright) with its
      Exif (exposure, lens, dates) and GPS directories, orientation 1 (LibRaw turned the
      pixels). The RAW's layout tags (sizes, strips, colour matrices, SubIFDs, the dozens of
      DNG tags) describe data the output does not have and are left out;
    * ``xmp``: the XMP packet (tag 700: where Lightroom and cameras write a DNG's keywords,
      captions and rights); what travels of it is :mod:`compress_core.metadata`'s choice.

    ``(None, None)`` for other RAWs (CR3, RAF) or when nothing is readable."""
    tiff = _tiff_bytes(data)
    if tiff[:4] not in _TIFF:
        return None, None
    try:
        with silenced():
            exif = Image.Exif()
            exif.load(tiff)
            xmp = exif.get(_XMP)
            for tag in [t for t in exif if t not in _DESCRIBING]:
                del exif[tag]
            block = None
            if len(exif):
                exif[_ORIENTATION] = 1
                block = exif.tobytes()
    except Exception:  # a broken EXIF block must not lose the picture
        return None, None
    if isinstance(xmp, (tuple, list)) and all(isinstance(v, int) and 0 <= v < 256 for v in xmp):
        xmp = bytes(xmp)  # (a packet typed BYTE)
    return block, (bytes(xmp) if isinstance(xmp, (bytes, bytearray)) and xmp else None)
