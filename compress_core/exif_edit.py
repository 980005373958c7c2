"""EXIF blocks edited where their bytes lie, for ``metadata="keep"``.

Pillow writes an EXIF block anew (``Image.Exif.tobytes``): every value is laid out again, and a
camera's maker note, a block of private data whose own entries point at their values by offsets
from the TIFF header (Canon's, Nikon's older ones, Sony's ...), is moved with its offsets
unchanged: under ``keep`` a Canon maker note's firmware read ``'\\x04\\x00\\x00\\x00...RF24-'`` and
its lens ``'105mm F4 L IS USM...'`` (conform review 48), and some values changed type
(``UserComment`` UNDEFINED to BYTE). What ``keep`` changes (the orientation set to 1, the tags
the output makes false removed) is done here in place instead: a value set in its entry, an
entry removed from its directory by moving the entries after it up (their values are in the
entry or at offsets from the header, which stay): the loader's orientation (every mode's
block, which ``compact`` and ``public`` then write anew without the maker note), ``keep``'s
untrue tags, and an AVIF output's orientation entry (Pillow's AVIF writer rewrites a block
that has one). A block this cannot walk safely (a directory or value past its end, an
orientation not stored as one SHORT) is None: the caller rewrites it through Pillow as before.
"""
from __future__ import annotations

import struct
from typing import Mapping, Optional

__all__ = ["upright_in_place", "without_in_place", "unoriented_in_place"]

#: What an EXIF block starts with in a JPEG's APP1 segment, and in what Pillow writes.
_PREFIX = b"Exif\x00\x00"
#: The tags of the Exif directory's pointer and of the orientation.
_EXIF_IFD, _ORIENTATION = 0x8769, 0x0112
#: TIFF types: SHORT, LONG, IFD.
_SHORT, _LONG, _IFD = 3, 4, 13


class _Block:
    """A TIFF-structured EXIF block (its bytes after any ``Exif\\0\\0``), mutable."""

    def __init__(self, block: bytes):
        self.tiff = bytearray(block[len(_PREFIX):] if block.startswith(_PREFIX) else block)
        if self.tiff[:4] == b"II*\x00":
            self.order = "<"
        elif self.tiff[:4] == b"MM\x00*":
            self.order = ">"
        else:
            raise ValueError("not a TIFF header")

    def unpack(self, fmt: str, at: int):
        size = struct.calcsize(self.order + fmt)
        if at < 0 or at + size > len(self.tiff):
            raise ValueError("past the block's end")
        return struct.unpack_from(self.order + fmt, self.tiff, at)

    def directory(self, at: int):
        """``(count, [(entry offset, tag, type, count, value field)])`` of the directory at
        ``at``, checked to lie within the block with its next-directory pointer."""
        (count,) = self.unpack("H", at)
        self.unpack("I", at + 2 + 12 * count)   # (the pointer after the entries, within)
        entries = []
        for k in range(count):
            where = at + 2 + 12 * k
            tag, kind, n = self.unpack("HHI", where)
            entries.append((where, tag, kind, n, self.unpack("I", where + 8)[0]))
        return count, entries

    def exif_directory(self) -> Optional[int]:
        """The Exif directory's offset, or None where the main one has no pointer to it."""
        _, entries = self.directory(self.unpack("I", 4)[0])
        for _, tag, kind, n, value in entries:
            if tag == _EXIF_IFD:
                if kind not in (_LONG, _IFD) or n != 1:
                    raise ValueError("an Exif pointer of another type")
                return value
        return None

    def remove(self, at: int, tags) -> int:
        """Remove the entries of ``tags`` from the directory at ``at`` (the others moved up,
        the bytes freed zeroed); how many were removed."""
        count, entries = self.directory(at)
        kept = [bytes(self.tiff[e[0]:e[0] + 12]) for e in entries if e[1] not in tags]
        if len(kept) == count:
            return 0
        (following,) = self.unpack("I", at + 2 + 12 * count)
        end = at + 2 + 12 * count + 4
        struct.pack_into(self.order + "H", self.tiff, at, len(kept))
        body = b"".join(kept) + struct.pack(self.order + "I", following)
        self.tiff[at + 2:end] = body + bytes(end - (at + 2) - len(body))
        return count - len(kept)

    def data(self) -> bytes:
        return _PREFIX + bytes(self.tiff)


def upright_in_place(block: Optional[bytes]) -> Optional[bytes]:
    """``block`` with its orientation set to 1 (its bytes otherwise the same: ``Exif\\0\\0``
    before them, as Pillow writes them); None where it has no orientation entry (cameras
    write one) or that cannot be done in place (see the module's text)."""
    if not block:
        return None
    try:
        edited = _Block(block)
        _, entries = edited.directory(edited.unpack("I", 4)[0])
        found = [(where, kind, n) for where, tag, kind, n, _ in entries if tag == _ORIENTATION]
        if not found:
            return None   # (no orientation: one is added by a rewrite, which says 1 outright)
        if any(kind != _SHORT or n != 1 for _, kind, n in found):
            return None
        # every entry (a block of two, 1 then 6, was read by Pillow as 6 and turned: the
        # first alone set to 1 left the output saying 6 over turned pixels)
        for where, _, _ in found:
            struct.pack_into(edited.order + "H", edited.tiff, where + 8, 1)
        return edited.data()
    except (ValueError, struct.error):
        return None


def without_in_place(block: Optional[bytes], tags: Mapping[int, frozenset]) -> Optional[bytes]:
    """``block`` without the entries ``tags`` names (``{0: main directory's, 0x8769: the Exif
    directory's}``), in place; None where that cannot be done (see the module's text) or
    ``tags`` names another directory. ``block`` itself where it has none of them."""
    if not block or set(tags) - {0, _EXIF_IFD}:
        return None
    try:
        edited = _Block(block)
        exif = edited.exif_directory()   # (read before the main directory changes)
        removed = edited.remove(edited.unpack("I", 4)[0], tags.get(0, frozenset()))
        if exif is not None:
            removed += edited.remove(exif, tags.get(_EXIF_IFD, frozenset()))
        return edited.data() if removed else block   # (the same object: nothing changed)
    except (ValueError, struct.error):
        return None


def unoriented_in_place(block: Optional[bytes]) -> Optional[bytes]:
    """``block`` without its orientation entries where each says 1 (SHORT), in place; None
    where it has another or cannot be walked. For AVIF outputs: Pillow's AVIF writer moves an
    EXIF orientation into the container's boxes and writes the block anew to do so (the
    maker note moved again); a block without one it passes on as it is, and no orientation
    reads as 1."""
    if not block:
        return None
    try:
        edited = _Block(block)
        _, entries = edited.directory(edited.unpack("I", 4)[0])
        values = [edited.unpack("H", where + 8)[0] if kind == _SHORT and n == 1 else None
                  for where, tag, kind, n, _ in entries if tag == _ORIENTATION]
        if not values:
            return block
        if any(v != 1 for v in values):
            return None
        edited.remove(edited.unpack("I", 4)[0], frozenset([_ORIENTATION]))
        return edited.data()
    except (ValueError, struct.error):
        return None
