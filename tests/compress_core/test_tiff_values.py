"""What reading a TIFF structure's directories copies (compress_core.tiff_values), and pictures
whose EXIF, multi-picture index or own directories are memory bombs refused before any reader
copies them (compress_core.images)."""
import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from compress_core import ImageDecodeError, load_image
from compress_core.tiff_values import (COPIES_ALLOWED, SLACK_BYTES, copied_bytes,
                                       embedded_blocks, file_problem, overlapping_values)

from _core_data import photo

#: A bomb of 2,000 tags over the same 30,000 bytes: 60 MB of copies from a 54 KB block (small
#: enough for a JPEG's APP1 segment), past the limit of 4 x 54 KB + 16 MiB.
TAGS, VALUE_BYTES = 2000, 30_000


def overlapping_exif(tags=TAGS, value_bytes=VALUE_BYTES, order="<") -> bytes:
    """An EXIF block (TIFF structure) whose IFD0 has ``tags`` distinct tags, each an UNDEFINED
    value of ``value_bytes`` starting at the block's first byte."""
    entries = b"".join(struct.pack(order + "HHII", 0x0300 + t, 7, value_bytes, 0)
                       for t in range(tags))
    block = (b"II*\0" if order == "<" else b"MM\0*") + struct.pack(order + "I", 8) + \
        struct.pack(order + "H", tags) + entries + struct.pack(order + "I", 0)
    return block + b"\0" * max(0, value_bytes - len(block))


def overlapping_tiff(tags=TAGS, value_bytes=VALUE_BYTES) -> bytes:
    """A 16 x 16 grey TIFF whose only page also lists ``tags`` BYTE values over its first
    ``value_bytes`` bytes (Pillow reads the page's directory on opening)."""
    real = [(256, 3, 1, 16), (257, 3, 1, 16), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 0), (277, 3, 1, 1), (278, 3, 1, 16), (279, 4, 1, 256)]
    fake = [(t, 1, value_bytes, 0) for t in range(300, 300 + tags) if t not in (273, 277, 278,
                                                                               279)]
    entries = sorted(real + fake)
    body = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", t, ty, n, 0) if ty == 1 else
        struct.pack("<HHIHH", t, ty, n, v, 0) if ty == 3 else struct.pack("<HHII", t, ty, n, v)
        for t, ty, n, v in entries) + struct.pack("<I", 0)
    data = b"II*\0" + struct.pack("<I", 8) + body
    return data + b"\0" * max(0, value_bytes - len(data))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_with_raw_profile(block: bytes) -> bytes:
    """A PNG whose EXIF is ImageMagick's compressed "Raw profile type exif" text (hex), which
    Pillow's getexif() reads: nothing of the block shows in the file's bytes."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buf, "PNG")
    data = buf.getvalue()
    text = f"\nexif\n{len(block)}\n" + block.hex()
    ztxt = _png_chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(text.encode()))
    return data[:33] + ztxt + data[33:]


def _saved(fmt: str, exif: bytes) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo("chelsea", 64)).save(buf, fmt, exif=exif)
    return buf.getvalue()


def _peak_while(call):
    tracemalloc.start()
    try:
        try:
            call()
            raised = None
        except ImageDecodeError as exc:
            raised = exc
        return raised, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["PNG eXIf", "JPEG APP1", "WebP", "AVIF", "TIFF page",
                                  "PNG raw profile", "big-endian EXIF in a JPEG"])
def test_a_picture_whose_directories_overlap_is_refused_before_its_copies(kind):
    """Security review 45: a 720 KB PNG whose eXIf chunk pointed 60,000 tags at the same
    720,000 bytes made getexif() ask for 43 GB; a 780 KB TIFF's page the same on opening (an
    AVIF's EXIF is read on opening too, for its orientation). Each is now an ImageDecodeError
    naming the bomb, said before Pillow copies a value (here 60 MB of copies: the peak stays
    far under)."""
    if kind == "TIFF page":
        data = overlapping_tiff()
    elif kind == "PNG raw profile":
        data = _png_with_raw_profile(overlapping_exif())
    elif kind == "big-endian EXIF in a JPEG":
        data = _saved("JPEG", overlapping_exif(order=">"))
    else:
        data = _saved(kind.split()[0], overlapping_exif())
    raised, peak = _peak_while(lambda: load_image(data))
    assert raised is not None and "memory bomb" in str(raised), raised
    assert peak < 20 << 20, f"{peak:,} bytes traced"


def test_a_multi_picture_index_that_overlaps_is_refused_before_opening():
    """A JPEG's APP2 multi-picture index (MPF) is a TIFF structure Pillow reads on opening."""
    buf = io.BytesIO()
    Image.fromarray(photo("chelsea", 64)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    index = b"MPF\0" + overlapping_exif(tags=2000, value_bytes=30_000)
    app2 = b"\xff\xe2" + struct.pack(">H", len(index) + 2) + index
    data = jpeg[:2] + app2 + jpeg[2:]
    raised, peak = _peak_while(lambda: load_image(data))
    assert raised is not None and "memory bomb" in str(raised)
    assert peak < 20 << 20, f"{peak:,} bytes traced"


def test_a_cameras_exif_is_read_and_carried_as_before():
    """Values side by side (a camera's or an editor's block, large values included) are far
    under the limit: the picture loads with its EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x010E] = "x" * 20_000          # ImageDescription: one large value
    exif[0x8298] = "(c) someone"
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\0\0\0" + b"a comment " * 500   # UserComment
    exif.get_ifd(0x8825)[2] = (1.0, 2.0, 3.0)                            # GPSLatitude
    block = exif.tobytes()
    assert 20_000 < copied_bytes(block) <= len(block)
    assert overlapping_values(block) is None
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        loaded = load_image(_saved(fmt, block))
        again = Image.Exif()
        again.load(loaded.exif)
        assert again[0x010F] == "Camera maker" and again[0x010E] == "x" * 20_000, fmt


def test_copied_bytes_follows_the_chain_and_the_pointed_directories():
    """Every directory a reader may read counts: IFD0, the next (IFD1, a TIFF's next page),
    and the Exif and GPS directories IFD0 points at; a chain that loops is read once."""
    order = "<"

    def directory(entries, following):
        return struct.pack(order + "H", len(entries)) + b"".join(
            struct.pack(order + "HHII", *e) for e in entries) + struct.pack(order + "I",
                                                                          following)
    # IFD0 at 8 (one 100-byte value, Exif pointer, GPS pointer), IFD1 next, Exif and GPS
    # directories each with a 50-byte value; IFD1 points back at IFD0 (a loop)
    ifd0_at, ifd1_at, exif_at, gps_at, values_at = 8, 100, 200, 300, 400
    ifd0 = directory([(0x010E, 2, 100, values_at), (0x8769, 4, 1, exif_at),
                      (0x8825, 4, 1, gps_at)], ifd1_at)
    ifd1 = directory([(0x010F, 2, 30, values_at)], ifd0_at)
    exif = directory([(0x9286, 7, 50, values_at)], 0)
    gps = directory([(0x0002, 5, 3, values_at)], 0)   # 3 RATIONALs: 24 bytes
    block = bytearray(600)
    block[:8] = b"II*\0" + struct.pack("<I", ifd0_at)
    for at, body in ((ifd0_at, ifd0), (ifd1_at, ifd1), (exif_at, exif), (gps_at, gps)):
        block[at:at + len(body)] = body
    assert copied_bytes(bytes(block)) == 100 + 30 + 50 + 24
    assert copied_bytes(b"Exif\0\0" + bytes(block)) == 204
    # a value that runs past the block's end is not copied by a reader (it warns and skips)
    block[ifd0_at + 2 + 8:ifd0_at + 2 + 12] = struct.pack("<I", 590)
    assert copied_bytes(bytes(block)) == 30 + 50 + 24
    assert copied_bytes(b"not a tiff") == 0 and copied_bytes(b"") == 0


def test_the_limit_is_copies_of_the_block_and_a_slack():
    small = overlapping_exif(tags=100, value_bytes=1000)     # 100 KB of copies: fine
    assert overlapping_values(small) is None
    size = len(overlapping_exif(tags=600, value_bytes=30_000))
    over = overlapping_exif(tags=600, value_bytes=30_000)    # 18 MB > 4 x 37 KB + 16 MiB
    assert 600 * 30_000 > COPIES_ALLOWED * size + SLACK_BYTES
    assert "memory bomb" in overlapping_values(over)


def test_tiff_headers_are_found_inside_a_files_bytes_and_chance_ones_cost_nothing():
    exif = overlapping_exif()
    blocks = list(embedded_blocks(b"\xff\xd8junk" + exif + b"tail"))
    assert len(blocks) == 1 and bytes(blocks[0][:4]) == b"II*\0"
    assert list(embedded_blocks(b"\xff\xd8junk" + exif, headers_end=5)) == []
    noise = np.random.default_rng(3).integers(0, 256, 4 << 20, dtype=np.uint8).tobytes()
    noise = noise[:1000] + b"II*\0" + noise[1000:]   # a header by chance, random entries
    assert all(overlapping_values(b) is None for b in embedded_blocks(noise))


def _pages_then_bomb(sub_entries: int, tags=TAGS, value_bytes=VALUE_BYTES) -> bytes:
    """A 16 x 16 grey TIFF of two pages: the first lists ``sub_entries`` SubIFDs tags of 64
    distinct offsets each (empty directories), the second is :func:`overlapping_tiff`'s bomb."""
    def page(entries, following):
        return struct.pack("<H", len(entries)) + b"".join(
            struct.pack("<HHIHH", t, ty, n, v, 0) if ty == 3 else struct.pack("<HHII", t, ty, n, v)
            for t, ty, n, v in sorted(entries)) + struct.pack("<I", following)

    def basic(strip):
        return [(256, 3, 1, 16), (257, 3, 1, 16), (258, 3, 1, 8), (259, 3, 1, 1),
                (262, 3, 1, 1), (273, 4, 1, strip), (277, 3, 1, 1), (278, 3, 1, 16),
                (279, 4, 1, 256)]
    second = 8 + 2 + 12 * (9 + sub_entries) + 4
    arrays = second + 2 + 12 * (9 + tags) + 4
    zeros = arrays + sub_entries * 64 * 4
    strip = zeros + sub_entries * 64 * 2 + 16
    data = bytearray(max(strip + 256, value_bytes + 16))
    data[:8] = b"II*\0" + struct.pack("<I", 8)
    first = page(basic(strip) + [(330, 4, 64, arrays + i * 256) for i in range(sub_entries)],
                 second)
    bomb = page(basic(strip) + [(t, 1, value_bytes, 0) for t in range(400, 400 + tags)], 0)
    offsets = b"".join(struct.pack("<I", zeros + 2 * k) for k in range(sub_entries * 64))
    for at, body in ((8, first), (second, bomb), (arrays, offsets)):
        data[at:at + len(body)] = body
    return bytes(data)


def test_a_page_after_a_thousand_sub_directories_is_measured():
    """Diff review 45: the walk's 1,100 directories were spent on the first page's SubIFDs
    (18 tags of 64 offsets), the second page, which Pillow's page walk reads, went unmeasured:
    a 31 KB TIFF made Pillow copy 60 MB (250 KB: 2 GB)."""
    data = _pages_then_bomb(18)
    assert "memory bomb" in (overlapping_values(data) or "")
    raised, peak = _peak_while(lambda: load_image(data))
    assert raised is not None and "memory bomb" in str(raised)
    assert peak < 20 << 20, f"{peak:,} bytes traced"


def test_a_file_of_copies_of_one_header_is_refused_before_its_entries_are_read_over_and_over():
    """Diff review 45: 16 KB of a PNG chunk filled with 'II*\\0' and offset 8 had each copy
    read as a block of 18,761 entries: 0.35 s, 2 MB of them 94 s before any decoding. The
    entries read over all of a file's blocks are counted, and a file that would have them
    read over and over is refused."""
    payload = (b"II*\0" + struct.pack("<I", 8)) * (64 * 1024 // 8)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buf, "PNG")
    png = buf.getvalue()
    data = png[:33] + _png_chunk(b"prVt", payload) + png[33:]
    assert "CPU bomb" in (file_problem(data) or "")
    with pytest.raises(ImageDecodeError, match="CPU bomb"):
        load_image(data)


def test_a_tiffs_own_pixels_are_not_searched_for_headers():
    """A TIFF's structure is the file's own: its strips are not searched for TIFF headers (no
    reader parses one there; the search was 45% of an uncompressed 50 MB TIFF's loading, and
    pixels that spell headers were taken for a bomb)."""
    pattern = np.frombuffer((b"II*\0" + struct.pack("<I", 8)) * (128 * 128 // 8), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pattern.reshape(128, 128)).save(buf, "TIFF")
    assert file_problem(buf.getvalue()) is None
    assert load_image(buf.getvalue()).pixels.shape == (128, 128, 3)
    assert "CPU bomb" in (file_problem(b"BM" + buf.getvalue()[8:]) or "")  # (searched)


def test_a_pil_image_opened_from_an_upload_is_checked_too():
    """Diff review 45: a service's Image.open() of an upload passed to load_image read its EXIF
    unchecked (a 30 KB PNG: 60 MB of copies, kept in the output's EXIF); as bytes it was
    refused."""
    data = _saved("PNG", overlapping_exif())
    raised, peak = _peak_while(lambda: load_image(Image.open(io.BytesIO(data))))
    assert raised is not None and "memory bomb" in str(raised)
    assert peak < 20 << 20, f"{peak:,} bytes traced"


def _exif_chain_then_bomb(chain: int, size: int = 100_000, tags: int = 220) -> bytes:
    """A TIFF of two 1x1 pages: the first points at an Exif directory with a next-directory
    chain of ``chain`` tiny directories, the second lists ``tags`` BYTE values over the same
    ``size - 8`` bytes."""
    def image_tags(pixel_at):
        return [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1),
                (262, 3, 1, 1), (273, 4, 1, pixel_at), (277, 3, 1, 1), (278, 3, 1, 1),
                (279, 4, 1, 1)]

    def ifd(entries, following):
        return struct.pack("<H", len(entries)) + b"".join(
            struct.pack("<HHII", *e) for e in entries) + struct.pack("<I", following)

    exif_at = 8 + 2 + 12 * 10 + 4
    page2_at = exif_at + chain * 18
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    out += ifd(image_tags(8) + [(0x8769, 4, 1, exif_at)], page2_at)
    for i in range(chain):
        out += ifd([(0x9000, 7, 4, 0)], exif_at + (i + 1) * 18 if i + 1 < chain else 0)
    out += ifd(image_tags(8) + [(0xC000 + i, 1, size - 8, 8) for i in range(tags)], 0)
    return bytes(out + bytes(size - len(out)))


def test_a_page_after_a_long_exif_chain_is_measured():
    """Diff review 45 (second): an Exif directory's own next-directory chain was budgeted as
    pages, so 1,100 tiny directories spent the pages' budget and page 2's bomb (22 MB of
    copies from a 100 KB file, Pillow's seek to it) went unmeasured."""
    assert "memory bomb" in (file_problem(_exif_chain_then_bomb(1)) or "")
    assert "memory bomb" in (file_problem(_exif_chain_then_bomb(1100)) or "")


def tiff_of_tiny_tiles(side: int, tile: int = 1, pages: int = 1) -> bytes:
    """An uncompressed grey TIFF of ``pages`` pages of ``side`` x ``side`` pixels cut into
    ``tile`` x ``tile`` tiles, whose TileOffsets and TileByteCounts are BYTE arrays shared by
    every page (each tile reads the same bytes)."""
    n = ((side + tile - 1) // tile) ** 2
    body = bytearray(b"II*\0\0\0\0\0") + b"\x80" * tile * tile
    offsets = len(body)
    body += bytes([8]) * n
    counts = len(body)
    body += bytes([min(tile * tile, 255)]) * n
    entries = [(256, 3, 1, side), (257, 3, 1, side), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (277, 3, 1, 1), (322, 3, 1, tile), (323, 3, 1, tile),
               (324, 1, n, offsets), (325, 1, n, counts)]
    struct.pack_into("<I", body, 4, len(body))
    for page in range(pages):
        body += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            body += struct.pack("<HHI", tag, kind, count) + (
                struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        body += struct.pack("<I", len(body) + 4 if page < pages - 1 else 0)
    return bytes(body)


@pytest.mark.parametrize("pages, side", [(1, 1000), (12, 1000), (20, 4096)])
def test_a_tiff_cut_into_more_pieces_than_a_writer_cuts_is_refused_before_opening(pages, side):
    """Security review 47: Pillow builds a Python list of a TIFF page's strips or tiles each
    time it opens the page and runs a decoder per piece: a 2 MB TIFF of 1,000 x 1,000 tiles of
    one pixel took 8 s and 310 MB with max_pixels=1e6, twelve pages of them sharing the arrays
    45 s, and 5 million of them in 10 MB 58 s and 1.6 GB at the default limit. A page may have
    65,536 pieces or one per 256 pixels (16 x 16 tiles), a file 2**20 over its pages (here 20
    pages of 4096 x 4096 in 16 x 16 tiles: each page as a writer cuts it, 1.3 million all
    told)."""
    data = tiff_of_tiny_tiles(side, 1 if side == 1000 else 16, pages)
    problem = file_problem(data)
    assert problem is not None and "strips or tiles" in problem, problem
    with pytest.raises(ImageDecodeError, match="strips or tiles"):
        load_image(data, max_pixels=20_000_000)


def test_a_larger_file_may_hold_more_pieces(monkeypatch):
    """Beyond PIECES_ALLOWED a file may hold a piece a BYTES_A_PIECE bytes: a scan of 300 A4
    pages in RGB, a row a strip as libtiff cuts them by default, holds 1.05 million strips."""
    from compress_core import tiff_values

    monkeypatch.setattr(tiff_values, "PIECES_ALLOWED", 1000)
    data = tiff_of_tiny_tiles(64, 16, pages=100)   # 16 tiles a page, 1,600 in all
    assert "strips or tiles" in (file_problem(data) or "")
    assert file_problem(data + bytes(1600 * tiff_values.BYTES_A_PIECE)) is None


def test_tiffs_cut_as_writers_cut_them_are_read():
    """16 x 16 tiles (TIFF's smallest), one strip a row, and many pages of strips are read."""
    tifffile = pytest.importorskip("tifffile")
    pixels = photo("chelsea", 256)
    for kwargs in (dict(tile=(16, 16)), dict(rowsperstrip=1)):
        buf = io.BytesIO()
        tifffile.imwrite(buf, pixels, photometric="rgb", **kwargs)
        assert file_problem(buf.getvalue()) is None, kwargs
        assert load_image(buf.getvalue()).size == (pixels.shape[1], pixels.shape[0])
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for _ in range(300):
            tif.write(pixels[:64, :64], photometric="rgb", rowsperstrip=1)
    assert file_problem(buf.getvalue()) is None
    assert load_image(buf.getvalue()).size == (64, 64)
    # a page of 65,536 one-pixel strips is within the floor
    assert file_problem(tiff_of_tiny_tiles(256, 1)) is None


def _big_endian_tiles(side: int, magic: bytes) -> bytes:
    """A big-endian uncompressed grey page of ``side`` x ``side`` 1 x 1 tiles (every one the
    same byte), its directory at bytes 4..8 (a classic TIFF's first directory), bytes 8..16
    zero, behind ``magic``."""
    n = side * side

    def entry(tag, kind, count, value):
        return struct.pack(">HHI", tag, kind, count) + (
            struct.pack(">HH", value, 0) if kind == 3 else struct.pack(">I", value))

    offsets = 16 + 2 + 10 * 12 + 4
    counts = offsets + 4 * n
    pixel = counts + n
    entries = [entry(256, 3, 1, side), entry(257, 3, 1, side), entry(258, 3, 1, 8),
               entry(259, 3, 1, 1), entry(262, 3, 1, 1), entry(277, 3, 1, 1),
               entry(322, 3, 1, 1), entry(323, 3, 1, 1), entry(324, 4, n, offsets),
               entry(325, 1, n, counts)]
    head = magic + struct.pack(">I", 16) + bytes(8)
    body = struct.pack(">H", len(entries)) + b"".join(entries) + bytes(4)
    return head + body + struct.pack(f">{n}I", *[pixel] * n) + bytes([1]) * n + b"\x80"


def test_a_big_endian_bigtiff_mark_does_not_hide_the_pages_pillow_reads():
    """Pillow takes a file for a BigTIFF by its third byte (43) alone: behind MM\\0+ it reads a
    classic TIFF, its first page at bytes 4..8, where the BigTIFF reading (bytes 8..16, zero
    here) found no page: 1.5 million 1 x 1 tiles in 12 MB decoded in 11 s, status ok, and
    twelve pages of 250,000 sharing 2 MB 14 s (diff review 47)."""
    from PIL import Image

    small = _big_endian_tiles(200, b"MM\0+")
    assert Image.open(io.BytesIO(small)).size == (200, 200)   # (Pillow reads it, classic)
    for magic in (b"MM\0*", b"MM\0+"):
        data = _big_endian_tiles(300, magic)
        assert "strips or tiles" in (file_problem(data) or ""), magic


def test_a_big_endian_bigtiffs_classic_reading_of_its_pixels_is_no_bomb():
    """Diff review 47 (diff2): the classic reading of a big-endian BigTIFF (MM\\0+) takes its
    first directory at byte 0x80000 (bytes 4..8: 0, 8, 0, 0), inside the pixels of any file
    past 512 KB; a TileOffsets count read there (3,000,000,000, its array past the file's end,
    which no reader builds: Pillow's directory stops there) called the file a bomb of
    billions of tiles instead of a TIFF Pillow cannot read."""
    tifffile = pytest.importorskip("tifffile")
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((1024, 1024), np.uint8), byteorder=">", bigtiff=True)
    data = bytearray(buf.getvalue())
    assert data[:8] == b"MM\0+\0\x08\0\0" and len(data) > 0x80000 + 64
    data[0x80000:0x80000 + 14] = struct.pack(">HHHII", 1, 324, 4, 3_000_000_000, 0)
    assert file_problem(bytes(data)) is None
    with pytest.raises(ImageDecodeError, match="Pillow cannot read"):
        load_image(bytes(data))
