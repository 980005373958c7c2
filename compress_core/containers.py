"""Which picture of a file is decoded: HEIF files through ``pillow-heif``, the page of a TIFF.

(JPEG XL inputs are read through ``pillow-jxl-plugin``, registered on the first one.)

Pillow opens most files as they are. Two kinds need a choice first:

* **HEIF** (``.heic``, ``.heif``: how iPhones and many Android phones save photos): Pillow reads
  it once ``pillow-heif`` has registered its opener, which :func:`open_picture` does on the
  first HEIF file it meets (the package bundles libheif; without it, an
  ``UnsupportedImageError`` names it).
  libheif applies the file's rotation and mirroring; ``pillow-heif`` then resets the EXIF
  orientation to 1, so the picture is upright once, not twice.
* **TIFF** holds pages. The largest page that is not a reduced-resolution copy
  (``NewSubfileType`` bit 0) is decoded (a scanner's TIFF that starts with its thumbnail gives
  its scan; equal pages: the first). Camera RAW files (DNG, NEF, CR2, ARW, PEF ...) are TIFF
  files whose only page Pillow can decode is a small preview flagged as such a copy; writing
  that preview as the photo (a 1.1 MB RAW became a 56x38 JPEG, status ok) lost the picture
  silently. :func:`compress_core.images.load_image` hands RAW files to LibRaw
  (:mod:`compress_core.raw`) before they reach :func:`open_picture`, which refuses a TIFF whose
  every page is such a copy.

PostScript (EPS) files are never opened: Pillow decodes them by running Ghostscript, an
interpreter that should not see files from a bucket (where it is installed; it is not in this
project's images).
"""
from __future__ import annotations

import io
import itertools
import re
import struct
from typing import Iterator, Optional, Tuple

import numpy as np
from PIL import Image, ImageOps

from .errors import UnsupportedImageError

__all__ = ["open_picture", "is_heif", "HEIF_PACKAGE", "HEIF_SUFFIXES", "REDUCED_RESOLUTION",
           "misread_planar_page", "reread_planar_samples", "page_samples", "upright", "jxl_size",
           "jxl_unsized", "jxl_rebuilt_scans", "jxl_rebuilt_jpeg", "lossy_encoding",
           "heif_decoded_pixels", "heif_primary_nclx", "icon_pixels", "jpeg2000_problem",
           "fits_compressed", "hidden_default_image", "gif_first_frame_box", "gif_comment_flood"]

#: The package that reads HEIF files (PyPI name).
HEIF_PACKAGE = "pillow-heif"

#: Suffixes of HEIF files (``.hif``: Canon's and Fujifilm's 10-bit HEIF photos), read by their
#: bytes whatever their name; a name tells what a file that no decoder recognises was meant
#: to be, and that the library does not write the format.
HEIF_SUFFIXES = frozenset((".heic", ".heif", ".hif"))

#: ``ftyp`` brands of HEIF images (ISO/IEC 23008-12): HEVC-coded stills and sequences, and the
#: generic image brands.
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                b"mif1", b"msf1")
#: A TIFF page that is a reduced-resolution copy: NewSubfileType (tag 254), bit 0.
REDUCED_RESOLUTION = 1
#: Pillow formats never opened: EPS runs Ghostscript (an interpreter, with a history of exploits)
#: where it is installed; IPTC (an IPTC/NAA record, first bytes 1C 03) declares a size and opens
#: whatever its data field holds in any format, decoded at that picture's own size: a 1x1
#: record held a 13,300 x 13,300 PNG, decoded under max_pixels=1,000,000 (security review 46);
#: BLP (game textures, never a photo) holds a JPEG stream that Pillow decodes whole at its own
#: size, whatever size the file states, past every JPEG check: a 2 MB file stating 1 x 1 took
#: 1.9 GB under max_pixels=1,000,000, status ok (security review 46).
_NOT_READ = ("EPS", "IPTC", "BLP")
#: How JPEG XL files start: a bare codestream, or the ISO BMFF container's signature box.
_JXL_SIGNATURES = (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")
#: How PostScript and DOS EPS files start.
_POSTSCRIPT = (b"%!PS", b"\xc5\xd0\xd3\xc6")
_heif_registered = False


def is_heif(data: bytes) -> bool:
    """Whether ``data`` starts like a HEIF file (an ``ftyp`` box with a HEIF brand)."""
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


#: Pillow's formats whose pictures are always stored lossily here (AVIF and HEIF can be lossless,
#: which no camera or web service writes); a WebP file says it in its chunks.
_LOSSY_FORMATS = ("JPEG", "MPO", "AVIF", "HEIF")


def lossy_encoding(data: Optional[bytes], pil_format: Optional[str]) -> bool:
    """Whether the file ``data``, which Pillow read as ``pil_format``, stores its picture
    lossily: a JPEG, AVIF or HEIF file, or a WebP whose (first) picture is a ``VP8 `` chunk
    (``VP8L`` is WebP's lossless one). False for anything else, and for arrays (no ``data``):
    JPEG XL's two modes are not told apart here."""
    if not data or not pil_format:
        return False
    if pil_format in _LOSSY_FORMATS:
        return True
    if pil_format != "WEBP" or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if kind in (b"VP8 ", b"VP8L"):
            return kind == b"VP8 "
        # an animation's first frame holds its picture after the frame's 16-byte header
        at = at + 24 if kind == b"ANMF" else at + 8 + size + (size & 1)
    return False


#: JPEG XL's fixed aspect ratios of a size header (width = height x num / den), by index 1-7.
_JXL_RATIOS = ((1, 1), (12, 10), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1))


def jxl_size(data: bytes) -> Optional[tuple]:
    """``(width, height)`` a JPEG XL file's size header states (a bare codestream, or the
    container's ``jxlc``/``jxlp`` boxes), or None for another file or one it cannot read.
    Read before decoding: pillow-jxl-plugin decodes the whole picture when it opens the file,
    so a 329 KB file stating 20000 x 20000 took 2.6 GB and 10 s before the pixel limit could
    refuse it (security review 26)."""
    if not data.startswith(_JXL_SIGNATURES):
        return None
    stream = data if data.startswith(b"\xff\x0a") else _jxl_codestream(data)
    if stream is None or len(stream) < 2 + 12:
        return None
    bits = int.from_bytes(stream[2:2 + 12], "little")   # (the header's at most 77 bits)
    at = 0

    def take(count):
        nonlocal at
        value = (bits >> at) & ((1 << count) - 1)
        at += count
        return value

    def dimension(small):
        if small:
            return (take(5) + 1) * 8
        return take((9, 13, 18, 30)[take(2)]) + 1

    small = take(1)
    height = dimension(small)
    ratio = take(3)
    if ratio:
        num, den = _JXL_RATIOS[ratio - 1]
        return height * num // den, height
    return dimension(small), height


def jxl_unsized(data: bytes) -> bool:
    """Whether ``data`` is a JPEG XL container whose codestream's size header
    :func:`jxl_size` cannot find (not among its first :data:`_JXL_BOXES` boxes, or boxes that
    do not read): no encoder writes one, and pillow-jxl-plugin would decode all of its picture
    before the pixel limit could see its size (security review 45: a 10 KB file of 144
    megapixels behind 70 empty boxes took 1 GB and 13 s before it was refused)."""
    return data.startswith(_JXL_SIGNATURES[1]) and jxl_size(data) is None


#: Boxes of a JPEG XL container looked through for its codestream's first bytes (encoders put
#: the codestream's first part within the first few: signature, ftyp, level, Exif, XMP).
_JXL_BOXES = 64


def _jxl_codestream(data: bytes, enough: int = 16) -> Optional[bytes]:
    """The first ``enough`` bytes (or all there are) of the codestream of a JPEG XL container
    (ISO BMFF boxes: one ``jxlc``, or ``jxlp`` parts, each with its index first) among its
    first :data:`_JXL_BOXES` boxes, or None. (Counting its parts again at each box, a file
    of empty boxes took 47 s for 960 KB: diff review 26.)"""
    parts, total = [], 0
    for kind, start, end in itertools.islice(
            _children(data, 0, len(data), open_ended=(b"jxlc", b"jxlp")), _JXL_BOXES):
        if total >= enough:
            break
        if kind in (b"jxlc", b"jxlp"):
            parts.append(data[start + (4 if kind == b"jxlp" else 0):end])
            total += len(parts[-1])
    stream = b"".join(parts)
    return stream if stream.startswith(b"\xff\x0a") else None


#: Top-level boxes of a JPEG XL container walked for a ``jbrd`` box (encoders write a handful:
#: signature, ftyp, level, Exif, XMP, jbrd, the codestream's parts; an animation may put its
#: frames in parts of their own). 100,000 empty boxes are walked in about 50 ms.
_JXL_TOP_BOXES = 100_000

#: The JPEG markers a ``jbrd`` box may list (libjxl refuses more: ``JPEGData::VisitFields``).
_JBRD_MARKERS = 16384


def jxl_rebuilt_scans(data: bytes) -> Optional[int]:
    """How many scans the JPEG that a JPEG XL container rebuilds holds (its ``jbrd`` box,
    which ``cjxl`` writes for a JPEG it recompresses losslessly): 0 for a file that rebuilds
    none, None for a container of more than :data:`_JXL_TOP_BOXES` top-level boxes.

    pillow-jxl-plugin rebuilds that JPEG when it opens the file and decodes it with Pillow's
    JPEG reader, each scan a pass over the picture: the JPEG's own checks never saw it (security
    review 45: an 85 KB JPEG XL rebuilding an 8000 x 8000 JPEG of 695 scans took 32-59 s and
    1.36 GB; the bare JPEG is refused before decoding). The box begins with the JPEG's marker
    order (libjxl's ``JPEGData``, read least significant bit first): a bit for grey, then each
    marker as 6 bits (the marker less 0xC0) up to the end of image (0xD9); each 0xDA starts a
    scan."""
    if not data.startswith(_JXL_SIGNATURES[1]):
        return 0
    boxes = _jxl_boxes(data)
    if boxes is None:
        return None
    for kind, start, end in boxes:
        if kind == b"jbrd":   # (libjxl rebuilds from the first; a second is its error,
            # "multiple JPEG reconstruction boxes not supported": 2,000 of them had each been
            # walked, 3.4 s for 24.6 MB; diff review 46)
            return _jbrd_scans(data[start:min(end, start + _JBRD_MARKERS)])
    return 0


def jxl_rebuilt_jpeg(data: bytes) -> Optional[bytes]:
    """The JPEG file a JPEG XL container with a ``jbrd`` box among its top-level boxes rebuilds
    (libjxl's reconstruction through pillow-jxl-plugin's decoder: the JPEG's bytes, no pixels
    decoded; 0.2 s for 12 megapixels), or None for another file, one that cannot be rebuilt
    (opening it says why) or without the plug-in.

    pillow-jxl-plugin rebuilds that JPEG on opening and hands it to Pillow's JPEG reader, past
    the JPEG's checks: its APP segments lie brotli-compressed in the ``jbrd`` box, and a 7.8 KB
    JPEG XL whose JPEG's multi-picture index pointed 2,700 tags at the same 33 KB took 56 s and
    2.9 GB in Pillow's reading of that index, status ok (security review 46). Count its scans
    first (:func:`jxl_rebuilt_scans`): rebuilding a JPEG of 695 scans took 22 s."""
    boxes = _jxl_boxes(data) if data.startswith(_JXL_SIGNATURES[1]) else None
    if not boxes or not any(kind == b"jbrd" for kind, _, _ in boxes):
        return None
    try:
        from pillow_jxl import Decoder, JpegXLImagePlugin

        jpeg, _, rebuilt, _, _ = Decoder(num_threads=JpegXLImagePlugin.DECODE_THREADS)(data)
    except Exception:  # noqa: BLE001 -- not rebuilt (or no plug-in): opening the file says why
        return None
    return bytes(rebuilt) if jpeg and isinstance(rebuilt, (bytes, bytearray)) else None


def _jxl_boxes(data: bytes) -> Optional[list]:
    """``(kind, payload start, box end)`` of a JPEG XL container's top-level boxes, None for
    more than :data:`_JXL_TOP_BOXES`."""
    boxes = list(itertools.islice(_children(data, 0, len(data)), _JXL_TOP_BOXES + 1))
    return None if len(boxes) > _JXL_TOP_BOXES else boxes


def _jbrd_scans(payload: bytes) -> int:
    """The scans (0xDA markers) of a ``jbrd`` box's marker order (``payload``: its first
    bytes, enough for :data:`_JBRD_MARKERS` markers)."""
    bits, at, scans = int.from_bytes(payload, "little"), 1, 0
    for _ in range(min(_JBRD_MARKERS, (len(payload) * 8 - 1) // 6)):
        marker = ((bits >> at) & 0x3F) + 0xC0
        at += 6
        if marker == 0xD9:
            break
        scans += marker == 0xDA
    return scans


#: How many top-level boxes of a HEIF/AVIF are walked to find its ``meta`` box (encoders put it
#: first, after ftyp; a large ``free`` or ``mdat`` box before it is skipped by its size).
_HEIF_TOP_BOXES = 1000


def _children(data: bytes, start: int, end: int, open_ended: tuple = ()):
    """``(kind, payload start, box end)`` of the boxes from ``start`` to ``end``; a box of a
    kind in ``open_ended`` that says it runs past ``end`` is taken to ``end`` (the last)."""
    at = start
    while at + 8 <= end:
        size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        head = 8
        if size == 1:
            size, head = int.from_bytes(data[at + 8:at + 16], "big"), 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end and kind not in open_ended:
            return
        yield kind, at + head, min(at + size, end)
        at += size


#: The ``auxC`` types of an alpha plane (HEVC's and MPEG-B's): libheif decodes the primary
#: picture's alpha with it; its other auxiliary pictures (depth, mattes, gain maps) are not
#: decoded.
_ALPHA_AUX_TYPES = (b"urn:mpeg:hevc:2015:auxid:1",
                    b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")


#: How deep derived pictures are followed (an 'iden' or 'grid' of derived pictures): libheif
#: decodes through them; writers nest one level (an 'iden' or overlay of a grid) at most.
_HEIF_DERIVED_DEPTH = 8


def _heif_items(data: bytes) -> Optional[dict]:
    """The items of a HEIF/AVIF file's ``meta`` box: ``primary`` (the ``pitm`` item), ``props``
    (each ``ipco`` property, by index - 1: ``(kind, payload start, end)``), ``assoc`` (item ->
    its property indices, every ``ipma`` box read) and ``refs`` (``(kind, from, [to ...])`` of
    each ``dimg`` and ``auxl`` entry of ``iref``, the only ones read, no more references than
    the box holds). None where the boxes do not
    say."""
    if data[4:8] != b"ftyp":
        return None
    # (the whole file's top-level boxes, by their headers: a meta box after 1 MB of a free box
    # had been missed, and the check with it; diff review 45)
    meta = next(((s, e) for k, s, e in itertools.islice(_children(data, 0, len(data)),
                                                       _HEIF_TOP_BOXES) if k == b"meta"), None)
    if meta is None:
        return None
    boxes, ipmas = {}, []   # (an ipma box for each version and flags: every one counts)
    for kind, start, end in _children(data, meta[0] + 4, meta[1]):
        boxes.setdefault(kind, (start, end))
        if kind == b"iprp":
            for k2, s2, e2 in _children(data, start, end):
                boxes.setdefault(k2, (s2, e2))
                if k2 == b"ipma":
                    ipmas.append((s2, e2))
    if not all(k in boxes for k in (b"pitm", b"ipco")) or not ipmas:
        return None
    try:
        s, e = boxes[b"pitm"]
        primary = int.from_bytes(data[s + 4:s + (6 if data[s] == 0 else 8)], "big")
        props = list(_children(data, *boxes[b"ipco"]))
        assoc = {}
        for s, e in ipmas:
            version, flags = data[s], int.from_bytes(data[s + 1:s + 4], "big")
            count = int.from_bytes(data[s + 4:s + 8], "big")
            at = s + 8
            id_bytes, index_bytes = (2 if version == 0 else 4), (2 if flags & 1 else 1)
            for _ in range(count):
                if at + id_bytes + 1 > e:
                    break
                item = int.from_bytes(data[at:at + id_bytes], "big")
                n = data[at + id_bytes]
                at += id_bytes + 1
                for _ in range(n):
                    value = int.from_bytes(data[at:at + index_bytes], "big")
                    at += index_bytes
                    assoc.setdefault(item, []).append(
                        value & (0x7FFF if index_bytes == 2 else 0x7F))
        refs = []
        if b"iref" in boxes:
            s, e = boxes[b"iref"]
            id_bytes = 2 if data[s] == 0 else 4
            for kind, rs, re_ in _children(data, s + 4, e):
                if kind not in (b"dimg", b"auxl"):   # (the only ones read: 700,000 'cdsc'
                    continue   # entries in 10 MB took 3.6 s a walk, and an AVIF is walked twice)
                first = rs + id_bytes + 2
                # (the count the box says, no more than it holds: 65,535 claimed by a 12-byte
                # box had the loop run on past it; diff review 45)
                n = min(int.from_bytes(data[rs + id_bytes:first], "big"),
                        max(0, (re_ - first) // id_bytes))
                refs.append((kind, int.from_bytes(data[rs:rs + id_bytes], "big"),
                             [int.from_bytes(data[first + i * id_bytes:
                                                  first + (i + 1) * id_bytes], "big")
                              for i in range(n)]))
    except IndexError:
        return None
    return {"primary": primary, "props": props, "assoc": assoc, "refs": refs}


def _item_properties(items: dict, item: int, kind: bytes) -> list:
    """``(payload start, end)`` of the properties of ``kind`` associated with ``item``."""
    props = items["props"]
    return [props[i - 1][1:] for i in items["assoc"].get(item, ())
            if 0 < i <= len(props) and props[i - 1][0] == kind]


def heif_decoded_pixels(data: bytes) -> Optional[tuple]:
    """``(canvas, tiles)``: the pixels libheif (or libavif) decodes for a HEIF/AVIF file's
    primary item, read from its ``meta`` box: ``canvas`` its ``ispe`` (the picture as coded,
    before a ``clap`` crop or a turn, which the size a reader reports has applied), ``tiles``
    the sum of the ``ispe`` of the items it is derived from (a ``grid``'s or an overlay's
    tiles, each reference counted: 0 for a coded picture), through derived items to the coded
    ones (an ``iden`` of a grid, a grid of grids: the check had counted the 64 x 64 grid an
    ``iden`` primary was made of, not its 268 million pixels of tiles, security review 47).
    None where the boxes do not say.
    The primary's alpha plane (an auxiliary item, ``auxl``), which libheif decodes with it, is
    a picture of its own: the larger of the two counts, each (a 5 KB HEIC of 64 x 64 pixels
    whose alpha was a grid of 256 references to a 4096 x 4096 tile took 39 s, status ok:
    security review 47).

    A grid's tiles are decoded whole, those outside its picture as well, and one coded tile
    may be referenced a thousand times: a 6 KB HEIC of 64 x 48 pixels whose grid held 961
    tiles of 4096 x 4096 took 139 s; a clap box cropping a 1-gigapixel grid to 64 x 48 had
    libheif fill 1.6 GB for a picture that reported 64 x 48 (security review 45)."""
    items = _heif_items(data)
    if items is None:
        return None
    try:
        sizes = {}

        def coded(item):   # the pixels of the item's first ispe (once an item: 2.5 million
            if item not in sizes:   # references to a tile in 10 MB took 5.6 s, 0.9 once)
                sizes[item] = next((int.from_bytes(data[ps + 4:ps + 8], "big")
                                    * int.from_bytes(data[ps + 8:ps + 12], "big")
                                    for ps, pe in _item_properties(items, item, b"ispe")
                                    if pe - ps >= 12), None)
            return sizes[item]

        sources = {}   # item -> the items it is derived from (dimg), each reference
        for kind, frm, tos in items["refs"]:
            if kind == b"dimg":
                sources.setdefault(frm, []).extend(tos)
        costs = {}

        def derived(item, seen=()):
            """The pixels decoded for the items ``item`` is derived from: a coded one's ispe, a
            derived one's own sources (an 'iden' of a grid, a grid of grids: libheif decodes
            through them; 0 for a coded item)."""
            if item not in sources:
                return 0
            if item in seen or len(seen) > _HEIF_DERIVED_DEPTH:
                return float("inf")   # (a loop of references, or deeper than any writer nests)
            if item not in costs:
                costs[item] = sum(derived(to, seen + (item,)) if to in sources
                                  else coded(to) or 0 for to in sources[item])
            return costs[item]

        primary = items["primary"]
        canvas = coded(primary)
        if canvas is None:
            return None
        tiles = derived(primary)
        for kind, aux, masters in items["refs"]:
            if kind != b"auxl" or primary not in masters or not any(
                    data[ps + 4:pe].split(b"\0")[0] in _ALPHA_AUX_TYPES
                    for ps, pe in _item_properties(items, aux, b"auxC")):
                continue
            canvas = max(canvas, coded(aux) or 0)
            tiles = max(tiles, derived(aux))
        return canvas, tiles
    except IndexError:
        return None


def heif_primary_nclx(data: bytes) -> Optional[Tuple[int, int]]:
    """``(primaries, transfer)``: the H.273 code points of the ``colr`` box of type ``nclx``
    associated with a HEIF/AVIF file's primary item (for a grid without one, its first tile's,
    as libavif reads it); None where it has none. Another item's (an alpha plane's, a gain
    map's, a thumbnail's, a property no item uses) says nothing of the picture: the file's
    first nclx bytes, wherever they were, had a picture without a colour description (sRGB)
    written as Display P3 (security review 47)."""
    items = _heif_items(data)
    if items is None:
        return None
    primary = items["primary"]
    tiles = [tos for kind, frm, tos in items["refs"] if kind == b"dimg" and frm == primary]
    for item in ([primary] + tiles[0][:1]) if tiles else [primary]:
        for ps, pe in _item_properties(items, item, b"colr"):
            if data[ps:ps + 4] == b"nclx" and pe - ps >= 8:
                return struct.unpack_from(">HH", data, ps + 4)
    return None


def _register_jxl(name: str) -> None:
    """Register pillow-jxl-plugin's JPEG XL opener (it registers on import; the encoders import
    it only to write, so a JPEG XL input read first was "not a recognised image format")."""
    try:
        import pillow_jxl  # noqa: F401
    except ImportError as exc:
        raise UnsupportedImageError(
            f"{name}: a JPEG XL picture; reading it needs the optional package "
            "pillow-jxl-plugin (pip install pillow-jxl-plugin)") from exc


def _register_heif(name: str) -> None:
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif
    except ImportError as exc:
        raise UnsupportedImageError(
            f"{name}: a HEIF/HEIC picture (as phones save photos); reading it needs the "
            f"optional package {HEIF_PACKAGE} (pip install {HEIF_PACKAGE})") from exc
    pillow_heif.register_heif_opener()
    _heif_registered = True


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: How a JPEG 2000 codestream and its JP2 file start (in ICNS entries).
_JP2_MAGIC = (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  \r\n\x87\n")
#: Entries of an ICNS file looked at (Apple's icons hold about twenty sizes).
_ICNS_ENTRIES = 1000


#: PNG chunks an icon file's pictures may have before their image data, all together (an
#: icon's PNGs hold a handful each; its directory may list 65,535 of them at the same bytes).
_ICON_PNG_CHUNKS = 4096


def _png_pixels(data: bytes, at: int, budget: list) -> Optional[int]:
    """Pixels of the PNG at ``at``: the largest of the IHDR chunks before its image data
    (Pillow keeps the last one it meets: a first IHDR of 1 x 1 before one of 13,300 x 13,300
    was measured as 1 pixel and the other decoded, 818 MB; security review 46); None where
    ``budget[0]``, the chunks left to read, runs out first."""
    most, at = 0, at + 8
    while at + 8 <= len(data):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind == b"IHDR" and at + 16 <= len(data):
            width, height = struct.unpack_from(">II", data, at + 8)
            most = max(most, width * height)
        if kind in (b"IDAT", b"IEND"):
            break
        at += 12 + length
    return most


def _embedded_size(data: bytes, at: int, end: int, ico: bool,
                   budget: list) -> Optional[int]:
    """Pixels of the picture stored at ``at`` in an icon file: a PNG (its IHDRs), in an ICO
    else a bitmap (its DIB header's height counts the mask's rows too), in an ICNS a JPEG 2000
    (its codestream's SIZ marker, :func:`_j2k_siz`, in the entry up to ``end``); 0 where it
    cannot say, None where the PNG chunks of ``budget`` run out."""
    if data[at:at + 8] == _PNG_MAGIC:
        return _png_pixels(data, at, budget)
    if ico:
        if len(data) < at + 12:
            return 0
        width, height = struct.unpack_from("<ii", data, at + 4)
        return abs(width) * abs(height) // 2
    if data[at:at + 12].startswith(_JP2_MAGIC):
        siz = _j2k_siz(data, at, end)[1]
        return 0 if siz is None else max(0, siz[0] - siz[2]) * max(0, siz[1] - siz[3])
    return 0


def _icns_entries(data: bytes) -> Optional[list]:
    """``(start, end)`` of the payload of the entries of an ICNS file Pillow's ``IcnsFile``
    keeps (the last of each kind), walked as it walks them; None for more than
    :data:`_ICNS_ENTRIES`. An entry shorter than its header is read by Pillow to the end of
    the file (``read`` of a negative length: a 2.3 KB file's 9,000 x 9,000 JPEG 2000 behind an
    entry of 4 bytes was decoded; diff review 46)."""
    kept, at, walked = {}, 8, 0
    declared = struct.unpack_from(">I", data, 4)[0] if len(data) >= 8 else 0
    while at < declared and at + 8 <= len(data):   # (Pillow stops at the size the header
        # declares: a small entry of a kind past it had stood for the one Pillow decodes, a
        # 9,000 x 9,000 JPEG 2000, 1.6 GB from 2.4 KB; diff review 46)
        walked += 1
        if walked > _ICNS_ENTRIES:
            return None
        kind, length = struct.unpack_from(">4sI", data, at)
        kept[kind] = (at + 8, at + length if length >= 8 else len(data))
        if not length:   # (Pillow refuses the file there; a shorter one overlaps the next,
            break        # which Pillow reads too: diff review 46)
        at += length
    return list(kept.values())


#: Components of a JPEG 2000 codestream that Pillow decodes (grey, grey and alpha, RGB, RGBA).
_J2K_COMPONENTS = 4
#: Tiles a JPEG 2000 codestream may be cut in whatever their size, and the fewest pixels a tile
#: holds on average beyond that count (64 x 64: an encoder's usual code-block).
_J2K_TILES, _J2K_TILE_PIXELS = 1024, 64 * 64
#: Boxes of a JP2 file looked through for its codestream (``jp2c``; encoders write a handful).
_JP2_BOXES = 1000


def jpeg2000_problem(data: bytes) -> Optional[str]:
    """Why the JPEG 2000 picture of ``data`` (a JP2 file, a bare codestream, or an ICNS icon's
    JPEG 2000 entries, which Pillow decodes the same way) is not to be decoded, or None.

    openjpeg sets up every tile's coding parameters for every component its codestream's SIZ
    marker declares when it reads the header, before a pixel is decoded and before Pillow
    looks at the components (it decodes 1 to 4): about 3 KB a tile and component. A 94-byte
    codestream of a 255 x 257 RGBA picture cut in 65,535 tiles of 1 x 1 took 0.9 GB (and came
    out black, status ok), a 419-byte JP2 file whose ihdr box says RGB and whose codestream has
    64 components 5 GB and 11 s (security review 46; up to 16,384 components). Refused: more
    components than Pillow decodes, and more than :data:`_J2K_TILES` tiles of fewer than
    :data:`_J2K_TILE_PIXELS` pixels on average (encoders cut a picture in a few large tiles)."""
    if data[:4] == b"icns":
        places = [(start, end) for start, end in _icns_entries(data) or ()
                  if data[start:start + 12].startswith(_JP2_MAGIC)]
    elif data.startswith(_JP2_MAGIC):
        places = [(0, len(data))]
    else:
        return None
    for start, end in places:
        problem = _codestream_problem(data, start, min(end, len(data)))
        if problem:
            return problem
    return None


def _j2k_siz(data: bytes, at: int, end: int) -> Tuple[Optional[str], Optional[tuple]]:
    """``(problem, SIZ)`` of the JP2 file or bare codestream at ``data[at:end]``, its
    codestream found as openjpeg finds it: ``problem`` where that cannot be checked, else None;
    ``SIZ`` the marker's ``(width, height, left, top, tile width, tile height, tile left, tile
    top, components)``, None where there is none to read (openjpeg refuses such a file
    itself)."""
    if data[at:at + 4] != _JP2_MAGIC[0]:   # a JP2 file: its first codestream box's
        # (openjpeg reads a jp2c box whatever length it states: one said to run past the end
        # of the file had hidden its codestream, 65,535 tiles decoded in 0.9 GB; diff review 46)
        boxes = list(itertools.islice(_children(data, at, end, open_ended=(b"jp2c",)),
                                      _JP2_BOXES + 1))
        at = next((start for kind, start, _ in boxes if kind == b"jp2c"), None)
        if at is None and len(boxes) > _JP2_BOXES:   # (openjpeg walks any number: 1,000
            # empty boxes, 8 KB, had hidden 65,535 tiles; diff review 46)
            return (f"a JP2 file of more than {_JP2_BOXES:,} boxes before its codestream "
                    "(encoders write a handful)"), None
    if at is not None and data[at:at + 2] == b"\xff\x4f" and data[at:at + 4] != _JP2_MAGIC[0]:
        # (openjpeg skips an unknown marker and words below 0xFF00 after SOC to the SIZ
        # marker: a 0xFF30 there hid 65,535 tiles, 0.95 GB; diff review 46)
        return ("a JPEG 2000 codestream whose SIZ marker does not follow its SOC (as the "
                "standard and every encoder put it)"), None
    if at is None or len(data) < at + 42 or data[at:at + 4] != _JP2_MAGIC[0]:
        return None, None
    return None, struct.unpack_from(">8IH", data, at + 8)


def _codestream_problem(data: bytes, at: int, end: int) -> Optional[str]:
    """:func:`jpeg2000_problem` of the JP2 file or bare codestream at ``data[at:end]``."""
    problem, siz = _j2k_siz(data, at, end)
    if problem or siz is None:
        return problem
    width, height, left, top, tile_w, tile_h, tile_left, tile_top, components = siz
    if components > _J2K_COMPONENTS:
        return (f"a JPEG 2000 codestream of {components:,} components (pictures have 1 to "
                f"{_J2K_COMPONENTS}; the decoder sets up every one for every tile first)")
    if not tile_w or not tile_h or width <= max(left, tile_left) \
            or height <= max(top, tile_top):
        return None   # (openjpeg refuses it itself)
    tiles = -(-(width - tile_left) // tile_w) * -(-(height - tile_top) // tile_h)
    if tiles > _J2K_TILES and tiles * _J2K_TILE_PIXELS > (width - left) * (height - top):
        return (f"a JPEG 2000 codestream cut in {tiles:,} tiles of {tile_w:,} x {tile_h:,} "
                f"pixels for a picture of {width - left:,} x {height - top:,} (the decoder "
                "sets up every tile first: encoders write a few large ones)")
    return None


def hidden_default_image(img: Image.Image) -> bool:
    """Whether ``img`` is an APNG whose default image (its IDAT, Pillow's frame 0) is no part
    of its animation (no fcTL before it): APNG readers never show it, its animation's first
    frame is Pillow's frame 1 (security review 46: a red default image behind a green
    animation came out red, a picture browsers never showed)."""
    return img.format == "PNG" and bool(getattr(img, "default_image", False))


#: The bytes a GIF's block may begin with (an image descriptor, an extension, the trailer).
_GIF_BLOCK_START = re.compile(rb"[\x21\x2c\x3b]")
#: Comment extensions and bytes of comments a GIF may hold: Pillow joins a frame's comments,
#: and a comment's sub-blocks, by copying what it has joined so far (2 MB of 5-byte comments
#: took 25 s, 10 MB 677 s; 4 MB of one comment 1.3 s; diff review 47). Real GIFs hold a few.
GIF_COMMENTS, GIF_COMMENT_BYTES = 10_000, 2 << 20
#: Blocks and sub-blocks a walk of a GIF reads at the most (10 MB of frames in 255-byte
#: sub-blocks are 41,000): past them, what is left is not looked at.
_GIF_SUB_BLOCKS = 2_000_000


def _gif_blocks(data: bytes) -> Iterator[Tuple[int, int, int]]:
    """``(kind, start, end)`` of each block of a GIF (``data`` begins with its signature):
    ``0x2C`` for a frame (its image descriptor at ``start``; its pixels are passed over when
    the walk goes on), or an extension's label (``0xFE`` a comment, ``0xF9`` a frame's
    control ...) with its sub-blocks from ``start`` to ``end``. A stray byte, which Pillow and
    browsers pass over, is passed over; the walk ends at the trailer, the file's end or
    :data:`_GIF_SUB_BLOCKS` blocks and sub-blocks."""
    flags = data[10] if len(data) > 10 else 0
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    budget = _GIF_SUB_BLOCKS
    while at < len(data) and budget > 0:
        kind = data[at]
        if kind == 0x3B:
            return
        if kind == 0x2C:
            if at + 10 > len(data):
                return
            yield kind, at, at + 10
            local = data[at + 9]   # (its own palette, its LZW code size, then its pixels)
            at += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
        elif kind == 0x21:
            kind = data[at + 1] if at + 1 < len(data) else 0
            at += 2
        else:
            found = _GIF_BLOCK_START.search(data, at)
            if found is None:
                return
            at = found.start()
            budget -= 1
            continue
        start = at
        while at < len(data) and data[at] and budget > 0:
            at += 1 + data[at]
            budget -= 1
        if kind != 0x2C:
            yield kind, start, at
        at += 1
        budget -= 1


def _is_gif(data: bytes) -> bool:
    return data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 13


def gif_first_frame_box(data: bytes) -> Optional[Tuple[int, int, int, int]]:
    """``(left, top, right, bottom)`` of a GIF's first frame where it covers part of its
    logical screen (enlarged to hold it, as Pillow reads it); None where it covers all of it,
    or ``data`` is no GIF (or one that hides its first frame past :data:`_GIF_SUB_BLOCKS`
    blocks and sub-blocks)."""
    if not _is_gif(data):
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    for kind, start, _ in _gif_blocks(data):
        if kind == 0x2C:
            left, top, w, h = struct.unpack_from("<HHHH", data, start + 1)
            box = (left, top, left + w, top + h)
            # (a first frame reaching past the screen enlarges it, in Pillow as in browsers;
            # the rest of the enlarged screen is transparent too: it came out opaque in the
            # background colour, security review 47)
            return None if box == (0, 0, max(width, box[2]), max(height, box[3])) else box
    return None


def gif_comment_flood(data: bytes) -> Optional[str]:
    """What is wrong with a GIF of more comment extensions than :data:`GIF_COMMENTS` or bytes of
    comments than :data:`GIF_COMMENT_BYTES`, anywhere in it (the frame count walks every
    frame); None for other GIFs and other files."""
    if not _is_gif(data):
        return None
    comments = comment_bytes = 0
    for kind, start, end in _gif_blocks(data):
        if kind == 0xFE:
            comments += 1
            comment_bytes += end - start
            if comments > GIF_COMMENTS or comment_bytes > GIF_COMMENT_BYTES:
                return (f"a GIF of {comments:,} comment blocks holding {comment_bytes:,} "
                        f"bytes so far (at most {GIF_COMMENTS:,} blocks or "
                        f"{GIF_COMMENT_BYTES:,} bytes are read: Pillow joins comments by "
                        "copying, a CPU bomb)")
    return None


def fits_compressed(img: Image.Image) -> bool:
    """Whether ``img`` (opened, not loaded) is a tile-compressed FITS picture
    (``ZCMPTYPE = 'GZIP_1'``), which Pillow decodes pixel by pixel in Python: a 349 KB file of
    9,400 x 9,400 32-bit pixels (gzip of zeros, under the default max_pixels) took 46 s and
    4.1 GB, status ok, past max_seconds (security review 46). An astronomer's format, not a
    photo's: refused (an uncompressed FITS file is read as it is)."""
    return img.format == "FITS" and any(tile[0] == "fits_gzip" for tile in img.tile)


def icon_pixels(data: bytes) -> Optional[int]:
    """The most pixels of the pictures an ICO or ICNS file holds, which Pillow decodes at
    their own size, whatever size the icon's directory says (an ICO inside ``Image.open``): a
    256 x 256 ICO entry holding a 13,300 x 13,300 PNG took 818 MB before max_pixels saw it
    (security review 46). 0 for other files; None for an icon of more than
    :data:`_ICNS_ENTRIES` entries (ICNS) or :data:`_ICON_PNG_CHUNKS` PNG chunks."""
    if data[:4] == b"\x00\x00\x01\x00" and len(data) >= 6:
        count = struct.unpack_from("<H", data, 4)[0]
        places = [(struct.unpack_from("<I", data, 6 + 16 * i + 12)[0], len(data), True)
                  for i in range(min(count, (len(data) - 6) // 16))]
    elif data[:4] == b"icns":
        entries = _icns_entries(data)
        if entries is None:
            return None
        places = [(start, end, False) for start, end in entries]
    else:
        return 0
    most, budget = 0, [_ICON_PNG_CHUNKS]
    for at, end, ico in places:
        size = _embedded_size(data, at, end, ico, budget)
        if size is None:
            return None
        most = max(most, size)
    return most


def icon_and_mask(img: Image.Image, data: bytes) -> Optional[np.ndarray]:
    """The AND mask (H, W) bool, True where transparent, of the entry an ICO or CUR ``img``
    (opened from ``data``) decodes, where that entry is a 32-bit bitmap, or a CUR's of 1 to 24
    bits that Pillow reads opaque (``P`` or ``RGB``: its CUR reader applies the mask of 1- and
    8-bit grey entries only; its ICO reader those of every entry under 32 bits); None otherwise
    (a PNG entry, a mask cut short, another format).

    Pillow reads a 32-bit entry's fourth byte as alpha and never its AND mask; writers of
    icons without transparency leave that byte 0 and draw the shape in the mask, and Windows,
    Chrome and Firefox then show the picture opaque within the mask (Chrome's BMP reader: "all
    alpha zero" is no alpha). Read as alpha, such an icon came out blank: a 34-byte WebP,
    status ok (security review 47)."""
    if img.format not in ("ICO", "CUR") or len(data) < 6:
        return None
    if img.format == "ICO":   # the entry Pillow decoded: the first of the picture's size
        ico = getattr(img, "ico", None)
        if ico is None:
            return None
        chosen = ico.entry[ico.getentryindex(img.size)]
        at, size = chosen.offset, chosen.size
    else:                     # CurImagePlugin's choice: the first larger on both sides
        count = struct.unpack_from("<H", data, 4)[0]
        entries = [data[6 + 16 * i:22 + 16 * i]
                   for i in range(min(count, (len(data) - 6) // 16))]
        if not entries:
            return None
        chosen = entries[0]
        for entry in entries[1:]:
            if entry[0] > chosen[0] and entry[1] > chosen[1]:
                chosen = entry
        size, at = struct.unpack_from("<II", chosen, 8)
    if at + 20 > len(data) or data[at:at + 8] == b"\x89PNG\r\n\x1a\n":
        return None
    header, _, _, _, bits, compression = struct.unpack_from("<IiiHHI", data, at)
    width, height = img.size
    # (a 1-bit entry of a palette other than black then white is "P" too: Pillow masks only
    # the grey ones, "1"; diff review 47)
    if header < 40 or not (bits == 32 or (img.format == "CUR" and img.mode in ("P", "RGB")
                                          and bits in (1, 4, 8, 16, 24) and compression == 0)):
        return None
    row = (width + 31) // 32 * 4
    if bits == 32:
        # (the mask follows the colours, after a BITMAPINFOHEADER's three bit fields where it
        # has)
        start = at + header + (12 if compression == 3 and header == 40 else 0) + width * height * 4
    else:   # (after the palette, of the colours the header says, or of 2 ** bits)
        used = struct.unpack_from("<I", data, at + 32)[0] if at + 36 <= len(data) else 0
        colours = (used or 1 << bits) if bits <= 8 else 0
        start = at + header + 4 * colours + (width * bits + 31) // 32 * 4 * height
    if start + row * height > min(at + size, len(data)):   # (a mask cut short)
        return None
    mask = np.unpackbits(np.frombuffer(data, np.uint8, row * height, start))
    return mask.reshape(height, row * 8)[::-1, :width].astype(bool)   # (rows bottom-up)


def open_picture(data: bytes, name: str) -> Image.Image:
    """``Image.open`` of ``data``, at the picture to decode (see the module's text).

    Raises what ``Image.open`` raises, and
    :class:`~compress_core.errors.UnsupportedImageError` for a HEIF file without
    ``pillow-heif`` (naming it), a TIFF that holds reduced-resolution copies only (a camera
    RAW file: :func:`compress_core.raw.raw_format` recognises it first), or a PostScript file.
    """
    if data.startswith(_POSTSCRIPT):
        raise UnsupportedImageError(
            f"{name}: a PostScript (EPS) file, which is not read: Pillow decodes it by running "
            "Ghostscript on it, a program not to be run on files from a bucket")
    if is_heif(data):
        _register_heif(name)
    elif data.startswith(_JXL_SIGNATURES):
        _register_jxl(name)
    Image.init()  # every plug-in, so that the list below is complete
    img = Image.open(io.BytesIO(data), formats=[f for f in Image.ID if f not in _NOT_READ])
    if img.format == "TIFF":
        _largest_full_page(img, name)
    elif img.format == "PNG":
        _scale_grey_key(img, data)
    return img


def _scale_grey_key(img: Image.Image, data: bytes) -> None:
    """A 2- or 4-bit grey PNG's transparent grey (its tRNS key) on the 0..255 scale Pillow
    decodes its pixels to: Pillow reports the key as stored (1 of 0..3) while the pixels are
    scaled (x85), so no pixel matched and the picture came out opaque (diff review 39)."""
    key = img.info.get("transparency")
    if img.mode != "L" or not isinstance(key, int) or len(data) < 26 or data[25] != 0:
        return
    bits = data[24]   # (IHDR: bit depth, then colour type 0, grey)
    if bits in (2, 4):
        img.info["transparency"] = key * 255 // ((1 << bits) - 1)


#: 16-bit sample -> 8 bits, rounded (v * 255 / 65535).
_TO_8_BITS = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def misread_planar_page(img: Image.Image) -> Optional[int]:
    """Before ``img.load()``: whether ``img`` is at a TIFF page Pillow misreads, 16-bit samples
    stored uncompressed in separate planes (PlanarConfiguration 2): then the page's
    Orientation (1 where it has none), for :func:`reread_planar_samples`; else None.

    Pillow reads such a page as 8-bit data: a scanner's RGB TIFF came out off by 55 levels on
    average (up to 250), its planes smeared across the picture, with status ok. (Compressed
    planar pages go through libtiff, which Pillow reads correctly.)"""
    tags = getattr(img, "tag_v2", None)
    if img.format != "TIFF" or tags is None or tags.get(284) != 2 or tags.get(259, 1) != 1:
        return None
    bits = tags.get(258) or ()
    if not isinstance(bits, tuple):
        bits = (bits,)
    if not bits or max(int(b) for b in bits) <= 8:
        return None
    # the orientation Pillow turns its reading by on loading: getexif()'s (tag 274, else the
    # XMP packet's tiff:Orientation, which a tag-only reading turned upside down)
    orientation = img.getexif().get(0x0112)
    return orientation if orientation in range(2, 9) else 1


def reread_planar_samples(img: Image.Image, data: bytes, name: str, orientation: int) -> None:
    """The pixels of a page :func:`misread_planar_page` found (``img`` loaded, at that page;
    ``orientation`` as it said) read again with ``tifffile`` (the TIFF reader scikit-image
    depends on) and pasted into ``img``, rounded to 8 bits, turned upright where Pillow turned
    its own reading (it applies and drops the tag on loading); the metadata stays Pillow's.

    Raises
    ------
    UnsupportedImageError
        For such a page that is not RGB or RGBA of unsigned samples, or that tifffile cannot
        read.
    """
    channels = {"RGB": 3, "RGBA": 4}.get(img.mode)
    if img.tag_v2.get(262) != 2 or channels is None:
        raise UnsupportedImageError(
            f"{name}: a TIFF of 16-bit samples in separate planes (PlanarConfiguration 2) "
            f"that is not RGB (read as {img.mode}), which Pillow misreads; save it with "
            "contiguous samples (PlanarConfiguration 1)")
    try:
        samples = page_samples(data, img.tell())
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types on odd files
        raise UnsupportedImageError(
            f"{name}: a TIFF of 16-bit samples in separate planes (PlanarConfiguration 2), "
            f"which Pillow misreads, and tifffile cannot read ({type(exc).__name__}: {exc})"
        ) from exc
    picture = None
    if samples.ndim == 3 and samples.dtype == np.uint16 and samples.shape[2] >= channels:
        # rounded to 8 bits through a table (two 32-bit temporaries of a 9000 x 9000 page
        # cost 1.8 GB more)
        # (Pillow turned its own reading by the orientation on loading): the same turn
        eight = upright(np.ascontiguousarray(_TO_8_BITS[samples[..., :channels]]), orientation)
        picture = Image.fromarray(eight, img.mode)
    if picture is None or picture.size != img.size:
        raise UnsupportedImageError(
            f"{name}: a TIFF of 16-bit samples in separate planes whose samples "
            f"({samples.dtype}, {samples.shape}) do not make its {img.width}x{img.height} "
            f"{img.mode} picture")
    img.paste(picture)


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` as stored, turned as Pillow's ``exif_transpose`` turns a picture by the EXIF
    ``orientation`` (1 and unknown values: as they are)."""
    if orientation not in range(2, 9):
        return pixels
    picture = Image.fromarray(pixels)
    picture.getexif()[0x0112] = orientation
    return np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(picture)))


def page_samples(data: bytes, index: int) -> np.ndarray:
    """The samples of page ``index`` of the TIFF ``data`` as stored (not turned by its
    orientation), read by ``tifffile`` (the TIFF reader scikit-image depends on), samples last
    ((H, W, S), or (H, W) for one); raises what tifffile raises."""
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages[index]
        samples, axes = page.asarray(), page.axes
    return np.moveaxis(samples, 0, -1) if axes.startswith("S") else samples


#: The pages of a TIFF looked at for its picture: the first 1,024 (a scan's pages, a fax's).
#: Each is a seek: 80,000 pages of an 8 MB upload took 37 s (security review 26).
PAGES_LOOKED_AT = 1024


def _largest_full_page(img: Image.Image, name: str) -> None:
    """Seek ``img`` (a TIFF) to its largest page that is not a reduced-resolution copy, among
    its first :data:`PAGES_LOOKED_AT`."""
    best = None  # (pixels, page)
    for page in range(PAGES_LOOKED_AT):   # (n_frames counts every page: itself a walk)
        try:
            img.seek(page)
        except EOFError:
            break
        except TypeError as exc:   # (Pillow's word for a page without its size: it reached
            # the caller as a TypeError, the caller's own mistake; security review 47)
            raise ValueError(f"page {page + 1}: {exc}") from exc
        if int(img.tag_v2.get(254, 0) or 0) & REDUCED_RESOLUTION:
            continue
        if best is None or img.width * img.height > best[0]:
            best = (img.width * img.height, page)
    if best is None:
        img.seek(0)
        raise UnsupportedImageError(
            f"{name}: a TIFF that holds only a reduced-resolution copy of its picture "
            f"({img.width}x{img.height}), as camera RAW files (DNG, NEF, CR2, ARW ...) do")
    img.seek(best[1])
