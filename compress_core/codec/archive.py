"""Archive mode: lossless JPEG -> JPEG XL recompression, and the way back.

JPEG XL can carry a JPEG's DCT coefficients and the data to rebuild the original file: the
``.jxl`` is typically ~20% smaller and decodes back to the *same bytes* as the input JPEG (or to
pixels, for viewers that read JPEG XL). Through ``pillow-jxl-plugin`` (libjxl).
"""
from __future__ import annotations

from ..errors import ImageDecodeError
from ..options import ImageFormat
from .formats import require_encoder

__all__ = ["jpeg_to_jxl", "jxl_to_jpeg"]


def jpeg_to_jxl(jpeg: bytes, effort: int = 7) -> bytes:
    """Recompress a JPEG file losslessly into JPEG XL (bit-exact reconstruction kept).

    Raises
    ------
    EncoderUnavailableError
        ``pillow-jxl-plugin`` is missing.
    ImageDecodeError
        ``jpeg`` is not a JPEG file libjxl can transcode.
    """
    require_encoder(ImageFormat.JXL)
    from pillow_jxl import Encoder

    if not isinstance(jpeg, (bytes, bytearray)) or jpeg[:2] != b"\xff\xd8":
        raise ImageDecodeError("jpeg_to_jxl needs the bytes of a JPEG file (they start with "
                               "FF D8)")
    try:
        return Encoder(mode="RGB", lossless=True, effort=effort)(bytes(jpeg), 0, 0,
                                                                  jpeg_encode=True)
    except Exception as exc:  # libjxl rejects the stream: say so with the cause
        raise ImageDecodeError(f"JPEG could not be recompressed to JPEG XL: {exc}") from exc


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
