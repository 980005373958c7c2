"""Archive mode: lossless JPEG -> JPEG XL recompression, and the way back.

JPEG XL can carry a JPEG's DCT coefficients and the data to rebuild the original file: the
``.jxl`` is typically ~20% smaller and decodes back to the *same bytes* as the input JPEG (or to
pixels, for viewers that read JPEG XL). Through ``pillow-jxl-plugin`` (libjxl).

libjxl transcodes Huffman-coded JPEGs (baseline, extended, progressive) of 1 or 3 components;
arithmetic-coded, lossless, hierarchical and CMYK (4-component) JPEGs are refused up front with
:class:`~compress_core.errors.UnsupportedImageError`. Every recompression is checked by
rebuilding the JPEG from it (~40% of the encode's time): libjxl accepts some files it cannot
give back (a JPEG whose ICC segments carry bytes past the profile's declared size: the ``.jxl``
decodes to nothing), and an archive that does not restore its input must not be written.
"""
from __future__ import annotations

import io

import numpy as np

from ..errors import ImageDecodeError, UnsupportedImageError
from ..options import ImageFormat
from .formats import require_encoder
from .jpeg_markers import HUFFMAN_FRAMES, SOF, frame, segments

__all__ = ["jpeg_to_jxl", "jxl_to_jpeg"]

_TRANSCODABLE = HUFFMAN_FRAMES  # the frame types libjxl transcodes


def _refuse_untranscodable(jpeg: bytes) -> None:
    header = frame(jpeg)
    if header is None:
        return
    marker, components = header
    if marker not in _TRANSCODABLE:
        raise UnsupportedImageError(
            f"JPEG XL cannot hold this JPEG losslessly: it is {SOF[marker]} (SOF marker "
            f"FF {marker:02X}); libjxl transcodes Huffman-coded baseline, extended and "
            "progressive JPEGs only")
    if components not in (1, 3):
        raise UnsupportedImageError(
            f"JPEG XL cannot hold this JPEG losslessly: it has {components} colour components "
            f"({'CMYK' if components == 4 else 'neither gray nor YCbCr/RGB'}); libjxl transcodes "
            "gray and 3-component JPEGs only")


def jpeg_to_jxl(jpeg: bytes, effort: int = 7) -> bytes:
    """Recompress a JPEG file losslessly into JPEG XL (bit-exact reconstruction kept).

    The result is checked: :func:`jxl_to_jpeg` of it gives back ``jpeg`` byte for byte.

    Raises
    ------
    ValueError, TypeError
        ``effort`` is not an integer in 1..10.
    EncoderUnavailableError
        ``pillow-jxl-plugin`` is missing.
    ImageDecodeError
        ``jpeg`` is not a JPEG file (or a damaged one) libjxl can transcode.
    UnsupportedImageError
        A valid JPEG that JPEG XL cannot hold losslessly: arithmetic-coded, lossless or
        hierarchical, CMYK, or a file libjxl would not give back byte for byte.
    """
    require_encoder(ImageFormat.JXL)
    from pillow_jxl import Encoder

    if isinstance(effort, bool) or not isinstance(effort, (int, np.integer)):
        raise TypeError(f"effort must be an integer in 1..10 (libjxl's effort); got {effort!r}")
    if not 1 <= effort <= 10:
        raise ValueError(f"effort must be an integer in 1..10 (libjxl's effort); got {effort!r}")
    if not isinstance(jpeg, (bytes, bytearray)) or jpeg[:2] != b"\xff\xd8":
        raise ImageDecodeError("jpeg_to_jxl needs the bytes of a JPEG file (they start with "
                               "FF D8)")
    jpeg = bytes(jpeg)
    _refuse_untranscodable(jpeg)
    try:
        jxl = Encoder(mode="RGB", lossless=True, effort=int(effort))(jpeg, 0, 0,
                                                                     jpeg_encode=True)
    except Exception as exc:  # libjxl rejects the stream: say so with the cause
        if _decodes(jpeg):
            raise UnsupportedImageError(f"JPEG XL cannot hold this JPEG losslessly: libjxl "
                                        f"refuses it ({exc}){_likely_cause(jpeg)}") from exc
        raise ImageDecodeError(f"JPEG could not be recompressed to JPEG XL: {exc}") from exc
    try:
        restored = jxl_to_jpeg(jxl)
    except ImageDecodeError as exc:
        restored = exc
    if restored != jpeg:
        why = (f"it does not decode ({restored})" if isinstance(restored, Exception)
               else f"it gives back {len(restored)} other bytes")
        raise UnsupportedImageError(f"JPEG XL cannot hold this JPEG losslessly: libjxl wrote a "
                                    f"recompression of its {len(jpeg)} bytes, but {why}")
    return jxl


def _likely_cause(jpeg: bytes) -> str:
    """What libjxl's "Input is invalid" most likely means for a valid JPEG: the one layout
    measured to be refused (progressive, subsampled chroma, restart intervals of whole rows,
    as Pillow writes with ``restart_marker_rows``); else nothing."""
    header = frame(jpeg)
    restarts = any(marker == 0xDD and int.from_bytes(jpeg[start + 4:start + 6], "big")
                   for marker, start, _ in segments(jpeg))
    if header is not None and header[0] == 0xC2 and restarts:
        return (": a progressive JPEG with restart intervals, which libjxl does not transcode "
                "with subsampled chroma")
    return ""


def _decodes(jpeg: bytes) -> bool:
    """Whether Pillow decodes ``jpeg`` completely (a valid file libjxl refuses, or a damaged
    one)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            img.load()
        return True
    except Exception:
        return False


def jxl_to_jpeg(jxl: bytes) -> bytes:
    """The original JPEG file stored in a recompressed JPEG XL (see :func:`jpeg_to_jxl`).

    Raises
    ------
    EncoderUnavailableError
        ``pillow-jxl-plugin`` is missing.
    ImageDecodeError
        ``jxl`` is not a JPEG XL file or holds no JPEG reconstruction data.
    """
    require_encoder(ImageFormat.JXL)
    from pillow_jxl import Decoder

    try:
        is_jpeg, _info, data, *_ = Decoder()(bytes(jxl))
    except Exception as exc:
        raise ImageDecodeError(f"not a JPEG XL file: {exc}") from exc
    if not is_jpeg:
        raise ImageDecodeError("this JPEG XL file holds pixels, not a recompressed JPEG")
    return bytes(data)
