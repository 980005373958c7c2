"""Typed errors raised by the library.

Every error a caller can act on has its own class, so that a batch job can record
``type(exc).__name__`` in its manifest and carry on with the next image.
"""
from typing import Optional

__all__ = [
    "SemanticCompressError",
    "ImageDecodeError",
    "NotAnImageError",
    "ImageTooLargeError",
    "UnsupportedImageError",
    "TargetUnreachableError",
    "WeightsNotFoundError",
    "InvalidWeightsError",
    "ImageReadError",
    "BrokenLinkError",
    "CompressionTimeoutError",
    "EncoderUnavailableError",
    "EncodingError",
    "exception_line",
]


class SemanticCompressError(Exception):
    """Base class of every error raised on purpose by this library."""


class ImageDecodeError(SemanticCompressError, ValueError):
    """The input could not be read or decoded as an image (corrupt, truncated, not an image).

    The message names the source (path, URI or ``<bytes>``).
    """


class NotAnImageError(ImageDecodeError):
    """No decoder recognises the bytes and nothing says they were meant to be a picture: a
    sidecar ``.xmp``, a ``Thumbs.db``, a text file, bytes without a name. A file named like a
    picture (``x.jpg``, ``x.heic``), or whose bytes begin as a picture file's (a JPEG's or a
    PNG's signature ...), that no decoder reads is a damaged picture: a plain
    :class:`ImageDecodeError`. The job counts these inputs apart (``inputs_not_images``)
    and its manifest's ``error_type`` names this class, so that stray files can be told from
    damaged photos.
    """


class UnsupportedImageError(SemanticCompressError, ValueError):
    """The input decoded, but its mode, depth or shape cannot be processed."""


class ImageTooLargeError(SemanticCompressError, ValueError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class TargetUnreachableError(SemanticCompressError, ValueError):
    """A size or byte target cannot be met (the message says what the smallest result is)."""


class WeightsNotFoundError(SemanticCompressError, FileNotFoundError):
    """Pretrained weights for a CNN backbone are not on disk and cannot be downloaded."""


class InvalidWeightsError(SemanticCompressError, ValueError):
    """A weights file exists but cannot be read or does not fit the backbone's architecture."""


class ImageReadError(SemanticCompressError, OSError):
    """The input's bytes could not be read (missing file, unreachable URI, permission)."""


class BrokenLinkError(ImageReadError):
    """The input is a symbolic link to nothing (its target deleted or moved) or to what no
    picture can be read from (a loop of links, a device, a FIFO): unlike a read that may pass
    next time, it fails the same until the link or its target is mended (the job skips it as
    failed before while the link is unchanged)."""


class CompressionTimeoutError(SemanticCompressError, TimeoutError):
    """A compression ran past its time budget (``compress(max_seconds=...)``) and stopped.

    The message says the budget and the step it stopped at.
    """


class EncoderUnavailableError(SemanticCompressError, ValueError):
    """An output format needs an optional package that is not installed (the message names
    the package and the pip command)."""


class EncodingError(SemanticCompressError, RuntimeError):
    """The encoder failed on these pixels (the message names the format, the size and the
    encoder's own message; e.g. a JPEG wider than 65,535 pixels)."""


def exception_line(exc: BaseException, limit: Optional[int] = None) -> str:
    """``exc`` in one line: its type and its message's first line (at most ``limit``
    characters of it): a store's message can run to pages."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[0][:limit] if limit else text[0]}"
