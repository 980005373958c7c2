"""What reading a TIFF-structured block's directories would copy: a guard against directories
whose values overlap.

A TIFF directory (a TIFF file's pages; an EXIF block's IFD0, Exif, GPS, Interop and IFD1
directories; a JPEG's Multi-Picture index) lists up to 65,535 tags, and a reader (Pillow's
``ImageFileDirectory_v2`` behind ``Image.open`` of a TIFF, an AVIF or a multi-picture JPEG, and
behind ``getexif()`` of any picture) copies each tag's value out of the block wherever the
value's offset points. Written by a camera or an editor, the values lie side by side; a hostile
block may point thousands of tags at the same bytes: a 720 KB PNG whose ``eXIf`` chunk pointed
60,000 tags at the same 720,000 bytes made ``getexif()`` ask for 43 GB, a 780 KB TIFF's first
page the same on opening (security review 45). :func:`overlapping_values` measures the copies
from the entries alone (a few dozen per directory in a photo's block), before any reader runs.
"""
from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np

__all__ = ["copied_bytes", "overlapping_values", "file_problem", "embedded_blocks",
           "COPIES_ALLOWED", "SLACK_BYTES"]

#: How many times its block the values of a block's directories may add up to.
COPIES_ALLOWED = 4
#: Bytes of values the directories may hold whatever the block's size.
SLACK_BYTES = 16 << 20
#: The most directories followed in a block (a TIFF's pages and their sub-directories):
#: :data:`compress_core.containers.PAGES_LOOKED_AT` pages and a few more.
MOST_DIRECTORIES = 1100
#: Strips or tiles a TIFF page may be cut into whatever its size: a picture 65,536 rows high
#: stored a row a strip.
PIECES_FLOOR = 65536
#: Pixels a piece holds at least beyond that floor: TIFF's smallest tile, 16 x 16.
PIXELS_A_PIECE = 256
#: Strips and tiles over all the pages of a TIFF file: Pillow builds a Python list of them for
#: each page it opens (the library opens each of the first 1,024 pages to find the largest) and
#: runs a decoder per piece; a 2 MB file of 12 pages of 1 x 1 tiles took 45 s (security review
#: 47). 2**20 is three times the tiles of a picture of 89 megapixels in 16 x 16 tiles; a larger
#: file may have one a :data:`BYTES_A_PIECE` bytes (a scan of 300 A4 pages in RGB, one row a
#: strip as libtiff cuts them by default, has 1.05 million).
PIECES_ALLOWED = 1 << 20
#: File bytes a piece holds at least on average, beyond :data:`PIECES_ALLOWED` (its offset and
#: count alone take 8, a row of white paper compressed a few dozen more).
BYTES_A_PIECE = 64
#: StripOffsets, TileOffsets: the tags whose counts are a page's pieces.
_PIECE_TAGS = (273, 324)

#: Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
#: UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD; BigTIFF's LONG8, SLONG8, IFD8).
_TYPE_BYTES = np.zeros(65536, np.uint64)
for _type, _size in {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4,
                     12: 8, 13: 4, 16: 8, 17: 8, 18: 8}.items():
    _TYPE_BYTES[_type] = _size
#: Tags whose value is the offset of another directory a reader reads: Exif, GPS,
#: Interoperability.
_POINTERS = (0x8769, 0x8825, 0xA005)
_HEADERS = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_EXIF_PREFIX = b"Exif\0\0"


def copied_bytes(block) -> int:
    """The bytes a reader copies out of line from the directories of the TIFF-structured
    ``block`` (bytes or a memoryview, from its byte-order mark: a TIFF file, an EXIF block with
    or without its ``Exif\\0\\0`` prefix, a camera RAW's TIFF structure): the values larger
    than an entry's own four bytes (eight in a BigTIFF) that lie within the block, over every
    directory of its main chain (a TIFF's pages, an EXIF block's IFD0 and IFD1) and the
    Exif, GPS and Interoperability directories they point at (no reader here follows
    SubIFDs). 0 where ``block`` is no TIFF structure; a damaged one counts as far as it
    reads."""
    return sum(values for values, _, _ in _directories(block))


def overlapping_values(block) -> Optional[str]:
    """Why reading ``block``'s directories must not be left to a reader (their values add up
    to more than :data:`COPIES_ALLOWED` times the block and :data:`SLACK_BYTES`), else None."""
    return _problem([block])


def file_problem(data: bytes, headers_end: Optional[int] = None) -> Optional[str]:
    """Why a file's TIFF structures must not be left to a reader, else None: the file itself
    where it is one (its body is not searched: no reader here parses a structure inside a
    TIFF's strips), else each :func:`embedded_blocks` one. Their values are measured as by
    :func:`overlapping_values`, and the entries read over all of them are counted: a file's
    directories hold at most its bytes' worth of entries (12 bytes each) where they do not
    overlap, so past that (and 4 x 65,535 for headers met by chance) the file is refused too:
    16 KB of PNG chunk filled with copies of one header had each copy read as a block of
    18,761 entries, 2 MB of them 94 s (diff review 45)."""
    if _is_tiff(data):
        return _problem([memoryview(data)], len(data), pages=True)
    return _problem(embedded_blocks(data, headers_end), len(data))


def _problem(blocks, file_bytes: Optional[int] = None, pages: bool = False) -> Optional[str]:
    """What :func:`overlapping_values` and :func:`file_problem` say of ``blocks``: copies over
    the limit of their block, or (given the size of the file they are in) more entries read
    over all of them than the file holds, and four directories' worth met by chance; with
    ``pages`` (``blocks`` is a TIFF file), a page cut into more strips or tiles than
    :data:`PIECES_FLOOR` and one per :data:`PIXELS_A_PIECE` pixels, or more than
    :data:`PIECES_ALLOWED` over its pages (one a :data:`BYTES_A_PIECE` bytes of a larger
    file)."""
    entries_allowed = None if file_bytes is None else file_bytes // 12 + 4 * 65535
    pieces_allowed = max(PIECES_ALLOWED, (file_bytes or 0) // BYTES_A_PIECE)
    entries = pieces = 0
    for block in blocks:
        limit = COPIES_ALLOWED * len(block) + SLACK_BYTES
        copies = 0
        for values, read, cut in _directories(block):
            copies += values
            entries += read
            if pages and cut is not None:
                count, pixels = cut
                pieces += count
                if count > max(PIECES_FLOOR, pixels // PIXELS_A_PIECE):
                    return (f"a TIFF page of {pixels:,} pixels cut into {count:,} strips or "
                            "tiles (no writer cuts one smaller than 16 x 16 pixels; Pillow "
                            "builds and decodes each in Python: a CPU and memory bomb)")
                if pieces > pieces_allowed:
                    return (f"its TIFF pages are cut into {pieces:,} strips or tiles or more "
                            f"(over {pieces_allowed:,} in {file_bytes:,} bytes; Pillow builds "
                            "a list of them for each page it opens: a CPU bomb)")
            if copies > limit:   # (stopped there: a block of many directories is not walked on)
                return (f"its TIFF/EXIF directories point their values at the same bytes over "
                        f"and over ({copies:,} bytes of copies or more from a block of "
                        f"{len(block):,}: a memory bomb)")
            if entries_allowed is not None and entries > entries_allowed:
                return (f"its TIFF/EXIF structures list the same entries over and over "
                        f"({entries:,} entries or more read from {file_bytes:,} bytes: a CPU "
                        "bomb)")
    return None


def _is_tiff(data: bytes) -> bool:
    """Whether ``data`` is a TIFF-structured file (a TIFF, a BigTIFF, a TIFF-based RAW: its
    byte-order mark first, then 42, 43 or an ORF's or RW2's identifier)."""
    return data[:2] in (b"II", b"MM") and len(data) >= 8


def embedded_blocks(data: bytes, headers_end: Optional[int] = None) -> Iterator[memoryview]:
    """The TIFF structures in a file's bytes, each from its byte-order mark to the end of
    ``data``: the file itself where it is one (a TIFF, a TIFF-based RAW of another
    identifier: ORF, RW2), and every TIFF header inside it, up to ``headers_end`` (all of it
    by default): an EXIF block or a multi-picture index stored as they are, in a JPEG's APP
    segments, a PNG's eXIf chunk, a WebP's, an AVIF's or a HEIF's Exif item. A header that
    occurs by chance in compressed data reads as a damaged block, measured as such (a few of
    its entries). About 2.5 ms a megabyte searched."""
    view = memoryview(data)
    if bytes(view[:2]) in (b"II", b"MM"):
        yield view
    end = len(data) if headers_end is None else headers_end
    for header in _HEADERS:
        start = data.find(header, 1, end)
        while start >= 0:
            yield view[start:]
            start = data.find(header, start + 1, end)


def _directories(block) -> Iterator[Tuple[int, int, Optional[Tuple[int, int]]]]:
    """``(out-of-line bytes, entries read, pieces)`` of each directory reachable in ``block``,
    one directory at a time, each read once (a chain that loops ends where it loops);
    ``pieces`` is ``(strips or tiles, width x height)`` for a directory of the main chain (a
    TIFF's page), None for the others."""
    block = memoryview(block)
    if block[:6] == _EXIF_PREFIX:
        block = block[6:]
    if len(block) < 8 or bytes(block[:2]) not in (b"II", b"MM"):
        return
    order = "<" if block[:2] == b"II" else ">"
    # Pillow takes a file for a BigTIFF by its third byte alone (ifh[2] == 43): a big-endian
    # BigTIFF mark (MM\0+) it reads as a classic TIFF, its first directory at bytes 4..8,
    # where tifffile reads a BigTIFF: both are walked (a file whose BigTIFF reading held
    # nothing had Pillow decode the pages its classic reading held, past every bound here)
    spec_big = _unsigned(block, 2, 2, order) == 43
    pillow_big = block[2] == 43
    for big in sorted({spec_big, pillow_big}):
        yield from _walk(block, order, big)


def _walk(block, order: str, big: bool) -> Iterator[Tuple[int, int, Optional[Tuple[int, int]]]]:
    """:func:`_directories` of ``block`` read as a BigTIFF (``big``) or a classic TIFF."""
    offset_bytes = 8 if big else 4
    first = _unsigned(block, 8 if big else 4, offset_bytes, order)
    entry = np.dtype([("tag", order + "u2"), ("type", order + "u2"),
                      ("count", order + ("u8" if big else "u4")),
                      ("value", order + ("u8" if big else "u4"))])
    inline = 8 if big else 4
    # the main chain (a TIFF's pages, an EXIF block's IFD0 and IFD1: what a reader walks
    # page after page) and the directories the entries point at have budgets of their own:
    # sub-directories spent first left pages a reader reaches unmeasured (diff review 45)
    pending = [(first, True)] if first else []
    seen = set()
    budget = {True: MOST_DIRECTORIES, False: 3 * MOST_DIRECTORIES}   # pages, the others
    while pending:
        offset, page = pending.pop()
        if offset in seen or not offset or budget[page] <= 0:
            continue
        seen.add(offset)
        budget[page] -= 1
        entries, following = _entries(block, offset, entry, big, order)
        if entries is None:
            continue
        sizes = entries["count"].astype(np.uint64) * _TYPE_BYTES[entries["type"]]
        # (a count near 2**64 wraps: such a value cannot lie within the block)
        fits = (sizes > inline) & (sizes <= len(block)) & \
               (entries["value"].astype(np.uint64) <= np.uint64(len(block)) - np.minimum(
                   sizes, np.uint64(len(block))))
        # (a StripOffsets or TileOffsets array of no TIFF type or that does not lie within
        # the block is no piece a reader builds: Pillow passes over the one, its directory
        # stops at the other; the directory a big-endian BigTIFF's classic reading finds in
        # its pixels listed billions)
        present = (_TYPE_BYTES[entries["type"]] > 0) & ((sizes <= inline) | fits)
        yield int(sizes[fits].sum()), len(entries), (_pieces(entries[present], big, order)
                                                     if page else None)
        if following:   # (a sub-directory's own chain is no page: its budget is theirs; an
            pending.append((following, page))   # Exif chain of 1,100 had spent the pages')
        offsets = []
        # (a reader keeps one value a tag, the last listed: one directory each of Exif, GPS
        # and Interoperability a directory; no reader here follows SubIFDs)
        pointers = {int(p["tag"]): p for p in entries[np.isin(entries["tag"], _POINTERS)]}
        for pointer in pointers.values():
            size = int(pointer["count"]) * int(_TYPE_BYTES[pointer["type"]])
            if 0 < size <= inline:   # the directory's offset in the entry itself
                offsets.extend(_offsets_inline(pointer, big, order)[:1])
            elif size > inline:      # (an array of offsets elsewhere: its first)
                offsets.append(_unsigned(block, int(pointer["value"]), offset_bytes, order))
        pending.extend((o, False) for o in offsets)


def _pieces(entries: np.ndarray, big: bool, order: str) -> Tuple[int, int]:
    """A page's strips or tiles (the most values of its StripOffsets and TileOffsets tags) and
    its pixels (ImageWidth x ImageLength, 0 where either is missing), from its entries."""
    counts = entries["count"][np.isin(entries["tag"], _PIECE_TAGS)]
    count = int(counts.max()) if counts.size else 0
    endian = "little" if order == "<" else "big"
    sides = []
    for tag in (256, 257):   # (SHORT, LONG or LONG8, its first value held in the entry)
        found = entries[entries["tag"] == tag]
        unit = int(_TYPE_BYTES[found[-1]["type"]]) if found.size and \
            int(found[-1]["type"]) in (3, 4, 16) else 0
        raw = int(found[-1]["value"]).to_bytes(8 if big else 4, endian) if unit else b""
        sides.append(int.from_bytes(raw[:unit], endian) if unit and unit <= len(raw) else 0)
    return count, sides[0] * sides[1]


def _entries(block, offset: int, entry: np.dtype, big: bool,
             order: str) -> Tuple[Optional[np.ndarray], int]:
    """A directory's entries and the offset of the next directory (0: none)."""
    count_bytes = 8 if big else 2
    if offset + count_bytes > len(block):
        return None, 0
    count = _unsigned(block, offset, count_bytes, order)
    start = offset + count_bytes
    whole = min(count, (len(block) - start) // entry.itemsize)
    entries = np.frombuffer(block, entry, count=whole, offset=start)
    after = start + count * entry.itemsize
    following = _unsigned(block, after, 8 if big else 4, order) if whole == count else 0
    return entries, following


def _offsets_inline(pointer, big: bool, order: str) -> list:
    """The directory offsets held in an entry's own value field (left-justified, as TIFF
    stores a value that fits there)."""
    endian = "little" if order == "<" else "big"
    raw = int(pointer["value"]).to_bytes(8 if big else 4, endian)
    unit = int(_TYPE_BYTES[pointer["type"]])
    return [int.from_bytes(raw[i * unit:(i + 1) * unit], endian)
            for i in range(int(pointer["count"]))]


def _unsigned(block, at: int, size: int, order: str) -> int:
    if at < 0 or at + size > len(block):
        return 0
    return int.from_bytes(bytes(block[at:at + size]), "little" if order == "<" else "big")
