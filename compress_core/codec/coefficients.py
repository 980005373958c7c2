"""A JPEG's quantised DCT coefficients, read and written again without loss (through jpeglib).

:func:`rewrite_jpeg` is the one door: it reads a JPEG's coefficients, lets a caller change them
(:func:`compress_core.codec.semantic.requantize_jpeg` zeroes the small ones of unimportant
blocks), and writes a baseline JPEG with optimised Huffman tables, the same quantisation tables
and the same markers (ICC, EXIF). Without a change the pixels are exactly the input's: a
baseline file is smaller than a progressive one on small pictures
(:func:`compress_core.codec.encoders.optimize_scans`).

jpeglib reads and writes files, so each call works in a temporary folder it removes. Its writer
numbers the colour components 0, 1, 2 and adds a JFIF segment; the file returned numbers them
1, 2, 3 as libjpeg, jpegli and mozjpeg do (JFIF's numbering, by which decoders recognise YCbCr
without a JFIF segment), and has a JFIF segment only where the input had one.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable, Optional, Tuple

from ..errors import EncoderUnavailableError, EncodingError
from .formats import installed
from .jpeg_markers import APP0, SOF, SOS, segments

__all__ = ["rewrite_jpeg", "COEFFICIENTS_PACKAGE", "coefficients_missing"]

#: The package that reads and writes a JPEG's quantised coefficients (PyPI name==tested version).
COEFFICIENTS_PACKAGE = ("jpeglib", "jpeglib==1.0.2")


def coefficients_missing(use: str = "this") -> Optional[str]:
    """Why coefficients cannot be read and written here (the package is missing), or None.
    ``use`` names what needs them, for the message."""
    module, package = COEFFICIENTS_PACKAGE
    if not installed(module):
        return f"{use} needs the package {module}: pip install {package}"
    return None


def rewrite_jpeg(data: bytes, edit: Optional[Callable[[object], None]] = None) -> bytes:
    """``data`` (a JPEG) written again as a baseline JPEG with optimised Huffman tables.

    Parameters
    ----------
    data : bytes
        A JPEG file (baseline or progressive, any chroma subsampling, grey or colour).
    edit : callable, optional
        Called with jpeglib's ``DCTJPEG`` of ``data`` before it is written; it may replace the
        coefficient arrays (``Y``, ``Cb``, ``Cr``) or the kept ``markers``.

    Returns
    -------
    bytes
        Same quantisation tables, markers and size; the components numbered from 1.
        Decodes to exactly the pixels of ``data`` when ``edit`` changes nothing.

    Raises
    ------
    EncoderUnavailableError
        ``jpeglib`` is not installed.
    ValueError
        ``data`` is not a JPEG, or one libjpeg cannot read.
    EncodingError
        No writable temporary folder.
    """
    missing = coefficients_missing("reading a JPEG's coefficients")
    if missing:
        raise EncoderUnavailableError(missing)
    import jpeglib

    if not bytes(data[:2]) == b"\xff\xd8":
        raise ValueError("data must be a JPEG file (it does not start with the JPEG marker)")
    try:
        folder = tempfile.mkdtemp(prefix="coefficients-")
    except OSError as exc:
        raise EncodingError("reading a JPEG's coefficients needs a writable temporary folder "
                            f"(jpeglib reads and writes files): {exc}") from exc
    try:
        source, target = os.path.join(folder, "in.jpg"), os.path.join(folder, "out.jpg")
        with open(source, "wb") as f:
            f.write(data)
        try:
            coded = jpeglib.read_dct(source)
            coded.load()
        except OSError as exc:  # libjpeg's own words for a corrupt file
            _remove_copies_left(data)
            raise ValueError(f"data is not a readable JPEG: {exc}") from exc
        # libjpeg writes its own JFIF segment (same version and density): the one jpeglib kept
        # from ``data`` would be a second (18 bytes; JFIF allows one)
        coded.markers = [m for m in coded.markers or () if not _is_jfif(m)]
        if edit is not None:
            edit(coded)
        try:
            coded.write_dct(target, flags=["+OPTIMIZE_CODING"])
        except OSError as exc:  # libjpeg reads ``data`` again for its markers, and can fail
            _remove_copies_left(data)
            raise ValueError(f"data is not a JPEG libjpeg can write again: {exc}") from exc
        with open(target, "rb") as f:
            return _like_input(f.read(), data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_copies_left(data: bytes) -> None:
    """Remove the copies of ``data`` jpeglib left in the default temporary folder: its reader
    and writer copy the file there (``tmp*.jpeg``) and do not remove the copy when libjpeg
    fails.
    Only a failed read calls this, and the same bytes fail the same way in any thread, so no
    copy another read still needs is removed."""
    folder = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(folder) if n.startswith("tmp") and n.endswith(".jpeg")]
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.getsize(path) == len(data):
                with open(path, "rb") as f:
                    same = f.read() == data
                if same:
                    os.remove(path)
        except OSError:
            continue


def _is_jfif(marker) -> bool:
    """A kept JFIF APP0 segment (jpeglib's marker)."""
    return getattr(marker.type, "name", "") == "JPEG_APP0" and bytes(
        marker.content[:5]) == b"JFIF\x00"


def _jfif_at(data) -> Optional[Tuple[int, int]]:
    """(start, end) of a JPEG's JFIF segment, or None."""
    for marker, start, end in segments(data):
        if marker == APP0 and bytes(data[start + 4:start + 9]) == b"JFIF\x00":
            return start, end
    return None


def _like_input(written: bytes, data: bytes) -> bytes:
    """jpeglib's ``written`` file made like the input ``data``: components numbered 0..n-1
    numbered 1..n in the frame and every scan header, and libjpeg's JFIF segment dropped where
    ``data`` had none (jpegli and mozjpeg write none)."""
    out = bytearray(written)
    renumber = False
    for marker, start, _ in segments(out):
        if marker in SOF:
            count = out[start + 9]
            renumber = [out[start + 10 + 3 * k] for k in range(count)] == list(range(count))
            for k in range(count if renumber else 0):
                out[start + 10 + 3 * k] += 1
        elif marker == SOS and renumber:
            for k in range(out[start + 4]):
                out[start + 5 + 2 * k] += 1
    jfif = _jfif_at(out)
    if jfif is not None and _jfif_at(data) is None:
        del out[jfif[0]:jfif[1]]
    return bytes(out)
