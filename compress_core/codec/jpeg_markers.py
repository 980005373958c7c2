"""A JPEG file's marker segments, read from its bytes.

Pillow decodes JPEGs but does not say which frame type (SOF marker) a file has, how its
components are numbered or where its segments lie; the archive mode needs the first (libjxl
transcodes some frame types only), and so does the re-encoding (which keeps a JPEG file only
where any reader takes it); the coefficient rewrite needs the others.
"""
from __future__ import annotations

import re
from typing import Iterator, List, Optional, Tuple

__all__ = ["SOF", "HUFFMAN_FRAMES", "SOS", "EOI", "APP0", "segments", "frame", "precision",
           "scan_end", "scan_count", "scan_starts", "MOST_SCANS", "MOST_SEGMENTS",
           "MOST_TABLE_BYTES", "MOST_FILL_BYTES", "too_many_segments"]

#: Start-of-frame markers (they describe the frame and list its components) and their names.
SOF = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive",
       0xC3: "lossless", 0xC5: "hierarchical", 0xC6: "hierarchical progressive",
       0xC7: "hierarchical lossless", 0xC9: "arithmetic-coded", 0xCA:
       "arithmetic-coded progressive", 0xCB: "arithmetic-coded lossless",
       0xCD: "arithmetic-coded hierarchical", 0xCE: "arithmetic-coded hierarchical progressive",
       0xCF: "arithmetic-coded hierarchical lossless"}
#: The Huffman-coded, non-hierarchical frames (baseline, extended, progressive): what every
#: JPEG reader decodes, and what libjxl transcodes.
HUFFMAN_FRAMES = (0xC0, 0xC1, 0xC2)
SOS, EOI, APP0 = 0xDA, 0xD9, 0xE0
_NOT_FILL = re.compile(rb"[^\xff]")
#: A 0xFF that a marker follows (not a stuffed 0x00, a restart marker or another 0xFF).
_MARKER_AFTER_FILL = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM, RST0-7: no length field


def segments(data) -> Iterator[Tuple[int, int, int]]:
    """``(marker, start, end)`` of each marker segment of a JPEG (``data[start:end]``, from
    its 0xFF), in order; the entropy-coded data after a scan header is skipped. Stops at the
    end of the image, or where the bytes are not a marker (a damaged file)."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker (a run skipped at once: one by one,
            found = _NOT_FILL.search(data, pos + 1)   # 10 MB of them took 4 s)
            pos = (found.start() if found else len(data)) - 1
            continue
        if marker == EOI:
            return
        if marker in _STANDALONE:
            pos += 2
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        yield marker, pos, end
        pos = scan_end(data, end) if marker == SOS else end


#: The most scans a JPEG may have. Each scan of a progressive JPEG is a pass of the decoder (and
#: of :mod:`~compress_core.codec.jpeg_scans`' walk) over every block of the picture, and a
#: scan that refines nothing takes a few dozen bytes: an 8000 x 8000 progressive JPEG whose
#: last scan was repeated 300 times (404 KB) took 83 s to compress instead of 13 s, 2,000
#: times (566 KB) 254 s in Pillow alone (security review 45). Encoders write 1 (baseline) to
#: about 10-20 (libjpeg's and mozjpeg's progressive scripts); libjpeg-turbo's fuzzers stop at
#: 500.
MOST_SCANS = 256


def scan_starts(data, most: int = MOST_SCANS) -> List[int]:
    """Where each scan header of the JPEG ``data``'s first picture starts, up to ``most + 1``
    of them (the first: where its segments before the coded data end)."""
    starts = []
    for marker, start, _ in segments(data):
        if marker == SOS:
            starts.append(start)
            if len(starts) > most:
                break
    return starts


#: The most marker segments a JPEG's first picture may have. Every reader of them (Pillow's
#: JPEG plug-in, :func:`scan_starts`, :mod:`~compress_core.codec.jpeg_scans`' walk) goes
#: through them one by one in Python, and an empty one takes 4 bytes: a 64 x 64 JPEG behind
#: 12.5 million empty COM segments (50 MB) took 30 s and 1.1 GB to load, 0.6 us and 18 bytes
#: of memory a byte of the file (security review 46). Cameras and editors write a few dozen
#: (EXIF, XMP and its extension, an ICC profile in at most 255 parts, MPF, a table and a
#: header a scan).
MOST_SEGMENTS = 16_384
#: The most bytes of Huffman tables (DHT segments) a JPEG's first picture may have: eight
#: full tables (4 DC, 4 AC, 17 + 256 bytes each) for each of :data:`MOST_SCANS` scans and the
#: frame. A one-symbol table takes 18 bytes and cost jpeg_scans' walk ~10 us to read: 160
#: segments of 3,640 (10 MB) took 6 s to load a 64 x 64 picture that libjpeg decodes in 30 ms.
MOST_TABLE_BYTES = 8 * (17 + 256) * (MOST_SCANS + 1)
#: The most fill bytes (0xFF before a marker, which the standard allows in any number) a JPEG
#: may have: Pillow's plug-in reads them one by one in Python before the first scan (10 MB of
#: them before a 64 x 64 picture took 4.3 s in Pillow, 8.8 s to load). Encoders write none.
MOST_FILL_BYTES = 65_536


def too_many_segments(data) -> Tuple[Optional[str], Optional[int]]:
    """``(excess, first scan)`` of the JPEG ``data``, read in one walk that stops at the first
    bound passed: ``excess`` says what it holds more of than any encoder writes (scans,
    :data:`MOST_SCANS`; marker segments, :data:`MOST_SEGMENTS`; Huffman tables,
    :data:`MOST_TABLE_BYTES`; fill bytes, :data:`MOST_FILL_BYTES`), None where nothing; the
    first scan's start as :func:`scan_starts` gives it (None where there is none)."""
    count = scans = table_bytes = fill = 0
    first = None
    after = 2   # where the last segment (or scan) ended
    for marker, start, end in segments(data):
        fill += start - after
        if fill > MOST_FILL_BYTES:
            return f"more than {MOST_FILL_BYTES:,} fill bytes between its segments", first
        after = scan_end(data, end) if marker == SOS else end
        if marker == SOS:   # (and inside its coded data, before a restart marker: libjpeg
            # skips them, Pillow feeding it again and again: 100 MB of them before RST0 of a
            # 64 x 64 picture took 93 s to load, status ok; diff review 46. Coded data holds
            # no 0xFF 0xFF pair but these)
            fill += 2 * data.count(b"\xff\xff", end, after)
            if fill > MOST_FILL_BYTES:
                return f"more than {MOST_FILL_BYTES:,} fill bytes", first
        count += 1
        if marker == SOS:
            first = start if first is None else first
            scans += 1
            if scans > MOST_SCANS:
                return (f"more than {MOST_SCANS} scans (each a pass of the decoder over the "
                        "whole picture)"), first
        if count > MOST_SEGMENTS:
            return f"more than {MOST_SEGMENTS:,} marker segments", first
        if marker == 0xC4:   # DHT
            table_bytes += end - start - 4
            if table_bytes > MOST_TABLE_BYTES:
                return f"more than {MOST_TABLE_BYTES:,} bytes of Huffman tables", first
    # (and after the last one: before the EOI marker, which segments() does not yield, or to
    # the end of the file; libjpeg skips them as it finishes, Pillow feeding it again and
    # again: 100 MB of them before the EOI of a 64 x 64 picture took 95 s, status ok)
    tail = _NOT_FILL.search(data, after)
    run = (tail.start() - 1 if tail else len(data)) - after
    if fill + max(run, 0) > MOST_FILL_BYTES:
        return f"more than {MOST_FILL_BYTES:,} fill bytes", first
    return None, first


def scan_count(data, most: int = MOST_SCANS) -> int:
    """The number of scans of the JPEG ``data``'s first picture, counted up to ``most + 1``."""
    return len(scan_starts(data, most))


def scan_end(data, start: int) -> int:
    """Where the entropy-coded data from ``start`` ends: the next marker that is neither a
    stuffed 0xFF00 nor a restart marker (the end of ``data`` if none). Fill bytes (0xFF) before
    a marker belong to it: before a restart marker they had ended the scan there (diff review
    41: libjpeg skips them, as the standard allows)."""
    # (one search, not a step a 0xFF byte: 50 MB of stuffed 0xFF 0x00 pairs after a 64 x 64
    # picture's coded data took 22 s a walk, 44 s to load; diff review 46)
    found = _MARKER_AFTER_FILL.search(data, start)
    if found is not None:
        last = found.start()   # the last 0xFF before the marker: its run starts at
        return start + len(bytes(data[start:last]).rstrip(b"\xff"))
    if len(data) - start >= 2 and data[-1] == data[-2] == 0xFF:   # a run to the end
        return start + len(bytes(data[start:]).rstrip(b"\xff"))
    return len(data)


def frame(data) -> Optional[Tuple[int, int]]:
    """``(SOF marker, number of components)`` of a JPEG file, or None where the markers before
    the first scan hold no frame header (a damaged file)."""
    for marker, start, _ in segments(data):
        if marker == SOS:  # a scan before any frame header
            return None
        if marker in SOF:
            return (marker, data[start + 9]) if start + 9 < len(data) else None
    return None


def precision(data) -> Optional[int]:
    """Bits per sample of a JPEG file's frame (8; 12 in extended frames, 2-16 in lossless
    ones), or None where the markers before the first scan hold no frame header."""
    for marker, start, _ in segments(data):
        if marker == SOS:
            return None
        if marker in SOF:
            return data[start + 4] if start + 4 < len(data) else None
    return None
