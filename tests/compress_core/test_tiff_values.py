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
