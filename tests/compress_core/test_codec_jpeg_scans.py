"""compress_core.codec.jpeg_scans: a JPEG whose compressed data is damaged is said, not decoded
into a good-looking result (formats review 41: 200 bytes changed mid-file, written as a
success with the lower half 58-67 levels off). The walk is checked against libjpeg's own
coefficients (jpeglib) on whole files of every kind the encoders here write."""
import io

import numpy as np
import pytest
from PIL import Image

from compress_core import ImageDecodeError, SemanticCompressor, load_image
from compress_core.codec import jpeg_scans
from compress_core.codec.jpeg_scans import damage, walk

from _core_data import photo

jpeglib = pytest.importorskip("jpeglib")  # in requirements.txt


def jpeg(pixels, mode="RGB", **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


#: Whole files: sampling, progressive scans (Pillow's, with successive approximation), restart
#: intervals, grey, CMYK, sizes that are no whole MCU, optimised tables.
WHOLE = [
    dict(quality=q, subsampling=sub, progressive=prog)
    for q in (8, 75, 100) for sub in (0, 1, 2) for prog in (False, True)
] + [dict(quality=80, restart_marker_blocks=n, progressive=p) for n in (1, 5) for p in (0, 1)] + [
    dict(quality=60, optimize=True), dict(mode="L", quality=85), dict(mode="L", progressive=True),
    dict(mode="CMYK", quality=80)]


def _zigzag():
    order = sorted(((r, c) for r in range(8) for c in range(8)),
                   key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]))
    return [r * 8 + c for r, c in order]


@pytest.mark.parametrize("size", [(96, 64), (101, 67), (8, 8), (3, 70)])
@pytest.mark.parametrize("settings", WHOLE, ids=str)
def test_whole_files_walk_to_their_end_and_find_libjpeg_s_coefficients(settings, size,
                                                                        tmp_path):
    settings = dict(settings)
    mode = settings.pop("mode", "RGB")
    data = jpeg(photo("astronaut", *size), mode, **settings)
    message, frame, nonzero = walk(data)
    assert message is None and damage(data) is None
    if mode == "CMYK":
        return
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    coefficients = jpeglib.read_dct(str(path))
    zigzag = _zigzag()
    planes = [coefficients.Y] + ([coefficients.Cb, coefficients.Cr] if mode == "RGB" else [])
    for f, plane in enumerate(planes):
        rows, cols = plane.shape[:2]
        h = frame["comps"][f][1]
        found = nonzero[f].reshape(-1, frame["mcus"][0] * h)[:rows, :cols]
        flat = plane.reshape(rows, cols, 64)[..., zigzag] != 0
        expected = (flat[..., 1:] * (np.uint64(1) << np.arange(1, 64, dtype=np.uint64))).sum(
            axis=-1, dtype=np.uint64)
        np.testing.assert_array_equal(found, expected)


def test_files_of_the_other_encoders_are_whole():
    """jpegli (this library's JPEG encoder) and mozjpeg's lossless optimisation (progressive
    scans of its own) write files the walk reads to their end."""
    import mozjpeg_lossless_optimization
    import pyjpegli

    for name in ("coffee", "chelsea"):
        pixels = photo(name, 300, 200)
        data = pyjpegli.encode(pixels.tobytes(), 300, 200, 80)
        assert damage(data) is None
        assert damage(mozjpeg_lossless_optimization.optimize(data)) is None


def _scrambled(data: bytes, share: float, count: int = 200) -> bytes:
    """``count`` bytes of the compressed data changed from ``share`` of the way through it,
    as formats review 41 changed them (no marker made)."""
    out = bytearray(data)
    start = out.find(b"\xff\xda")
    at = start + int((len(out) - start) * share)
    for i in range(at, at + count):
        out[i] = (out[i] * 7 + 13) & 0xFF if out[i] != 0xFF else 0
    return bytes(out)


def test_the_review_s_damaged_photo_is_refused_naming_the_file(tmp_path):
    """The review's file: 200 bytes changed half way through a JPEG. It decoded without a word
    and was written as a good result; now an ImageDecodeError names it."""
    whole = jpeg(photo("coffee", 384, 256), quality=92)
    data = _scrambled(whole, 0.3)
    shown = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), float)  # (no error)
    assert np.abs(shown - np.asarray(Image.open(io.BytesIO(whole)), float)).mean() > 10
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageDecodeError, match=r"photo\.jpg: the JPEG's compressed data is "
                                               r"damaged \("):
        load_image(str(path))
    with pytest.raises(ImageDecodeError, match="damaged"):
        SemanticCompressor().compress(data, scale=0.5, show_progress=False)
    # the file whole: read and compressed
    assert load_image(whole).pixels.shape == (256, 384, 3)


@pytest.mark.parametrize("progressive", [False, True])
def test_a_file_cut_short_but_ending_in_eoi_is_damaged_not_grey(progressive):
    """A download cut short whose last bytes an EOI marker ends: Pillow raised nothing (its
    "truncated" error comes only without the marker) and the picture below the cut was grey
    (edge review 38). Cut anywhere in the data, it is said."""
    data = jpeg(photo("coffee", 240, 160), quality=90, progressive=progressive)
    start = data.find(b"\xff\xda")
    for share in (0.1, 0.5, 0.9, 0.99):
        cut = data[:start + int((len(data) - start) * share)] + b"\xff\xd9"
        assert damage(cut).startswith("the JPEG's compressed data is damaged (")


def test_a_restart_marker_missing_or_out_of_order_is_damage():
    data = jpeg(photo("chelsea", 160, 96), quality=80, restart_marker_blocks=4)
    markers = [i for i in range(len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]
    assert len(markers) > 3 and damage(data) is None
    dropped = data[:markers[2]] + data[markers[2] + 2:]
    assert "restart marker" in damage(dropped)
    swapped = bytearray(data)
    swapped[markers[1] + 1], swapped[markers[2] + 1] = data[markers[2] + 1], data[markers[1] + 1]
    assert "restart marker" in damage(bytes(swapped))


def test_damage_is_found_in_most_places_of_both_kinds_of_file():
    """The review's change at 20 places in a sequential and in a progressive file: most are
    found, by a code no table holds, a coefficient past its block, a DC value out of range or
    data that ends early (damaged data that decodes to the end cannot be told from the bytes
    devices add: see the next test)."""
    for progressive in (False, True):
        data = jpeg(photo("astronaut", 384, 256), quality=90, progressive=progressive)
        found = [damage(_scrambled(data, share)) is not None
                 for share in np.linspace(0.05, 0.9, 20)]
        assert sum(found) >= 15, (progressive, found)


def test_bytes_devices_add_after_the_blocks_leave_the_picture_whole():
    """libjpeg's "N extraneous bytes before marker": a scanner writes 600-2,600 bytes before
    each restart marker, webcams 1-4, drones and IP cameras data after the picture; viewers
    show those files whole, and so are they here."""
    data = jpeg(photo("coffee", 160, 96), quality=80, restart_marker_blocks=4)
    marks = [i for i in range(len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]
    padded = bytearray(data)
    for at, junk in zip(reversed(marks[:3]), (b"\x01" * 3, b"\x55" * 700, b"\x00\xff\x00")):
        padded[at:at] = junk
    assert damage(bytes(padded)) is None
    end = data.rindex(b"\xff\xd9")
    assert damage(data[:end] + bytes(range(256)).replace(b"\xff", b"") + data[end:]) is None


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff\xd9", b"not a jpeg at all",
                                  b"\xff\xd8\xff\xc0\x00\x0b\x0c\x00\x10\x00\x10\x01\x01\x11\x00"],
                         ids=["empty", "no frame", "text", "12-bit"])
def test_what_the_walk_does_not_read_is_left_to_the_decoder(data):
    assert damage(data) is None and jpeg_scans.walk(data)[1] is None


@pytest.mark.parametrize("settings", [dict(quality=70), dict(quality=70, progressive=True),
                                      dict(quality=90, subsampling=0, restart_marker_blocks=2),
                                      dict(quality=50, progressive=True, subsampling=1)],
                         ids=["baseline", "progressive", "restarts", "progressive 4:2:2"])
def test_any_damage_gives_a_message_or_none_never_an_error(settings):
    """Random changes, insertions and cuts anywhere in small files (headers too): the walk
    answers, and stays inside its arrays (CI runs this under NUMBA_BOUNDSCHECK=1)."""
    rng = np.random.default_rng(41)
    data = jpeg(photo("astronaut", 40, 24), **settings)
    for _ in range(150):
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(2, len(out) - 1))
            kind = rng.integers(0, 3)
            if kind == 0:
                out[at] = int(rng.integers(0, 256))
            elif kind == 1:
                out[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 9)), np.uint8))
            else:
                out = out[:at] + b"\xff\xd9"
        answer = damage(bytes(out))
        assert answer is None or answer.startswith("the JPEG's compressed data is damaged (")


def test_a_header_naming_more_blocks_than_the_file_has_bits_is_damage():
    """A frame header changed to 65535 x 65535 pixels (a damaged or made-up file): said from
    the sizes, without making arrays of the frame's size."""
    data = bytearray(jpeg(photo("coffee", 64, 48), quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = b"\xff\xff\xff\xff"
    message, frame, nonzero = walk(bytes(data))
    assert message.startswith("the JPEG's compressed data is damaged (the data ends before")
    assert "65535 x 65535 pixels" in message and nonzero is None


@pytest.mark.parametrize("progressive", [False, True])
def test_fill_bytes_before_restart_markers_are_whole(progressive):
    """The standard lets 0xFF fill bytes stand before any marker, and libjpeg skips them: with
    one before each restart marker, the scan had ended at the first (diff review 41)."""
    data = jpeg(photo("coffee", 160, 96), quality=80, restart_marker_blocks=4,
                progressive=progressive)
    filled = bytearray()
    for i, byte in enumerate(data):
        if byte == 0xFF and i + 1 < len(data) and 0xD0 <= data[i + 1] <= 0xD7:
            filled.append(0xFF)
        filled.append(byte)
    assert bytes(filled) != data and damage(bytes(filled)) is None
    same = np.asarray(Image.open(io.BytesIO(bytes(filled))))
    np.testing.assert_array_equal(same, np.asarray(Image.open(io.BytesIO(data))))


def test_a_progressive_file_cut_before_its_ac_scans_is_damaged():
    """Cut after its first scans and ended with an EOI marker, a progressive file decodes
    without an error, blocky and grey (diff review 41): where no scan codes the luma's AC
    coefficients, it is said. Later cuts look whole and are legal (scripts that stop before
    a coefficient's last bit, chroma without AC): not said."""
    from compress_core.codec.jpeg_markers import SOS, segments

    data = jpeg(photo("astronaut", 192, 128), quality=90, progressive=True)
    starts = [start for marker, start, _ in segments(data) if marker == SOS]
    assert len(starts) > 4 and damage(data) is None
    said = []
    for start in starts[1:]:
        cut = data[:start] + b"\xff\xd9"
        Image.open(io.BytesIO(cut)).load()   # (no error from the decoder)
        said.append(damage(cut))
    assert "has its DC coefficients alone" in said[0]
    assert said[-1] is None


def test_legal_files_that_look_cut_short_are_whole(tmp_path):
    """Diff review 41: stray bytes between two segments (libjpeg skips them) had stopped the
    reading of the headers, and the scans after them counted as missing; later scans of a
    sequential file whose band bytes are zero ("some baseline files out there", libjpeg);
    chroma coded without AC coefficients. Pillow shows each whole; so does the walk."""
    from compress_core.codec.jpeg_markers import SOS, segments

    data = jpeg(photo("astronaut", 192, 128), quality=90, progressive=True)
    starts = [start for marker, start, _ in segments(data) if marker == SOS]
    stray = data[:starts[2]] + b"\x00\x00" + data[starts[2]:]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(stray))),
                                  np.asarray(Image.open(io.BytesIO(data))))
    assert damage(stray) is None
    # a sequential file of one scan per component (libjpeg 6b through jpeglib), the band
    # bytes of its later scans zeroed
    table = [np.array([min(c, 1)], np.int16) for c in range(3)]
    scans = [jpeglib.Scan(components=np.array([c], np.int16), dc_tbl_no=table[c],
                          ac_tbl_no=table[c], Ss=0, Se=63, Ah=0, Al=0) for c in range(3)]
    path = tmp_path / "three.jpg"
    with jpeglib.version("6b"):
        pixels = np.array(photo("coffee", 96, 64))   # (jpeglib takes no read-only array)
        jpeglib.from_spatial(pixels, scans=scans).write_spatial(str(path), qt=85)
    three = path.read_bytes()
    zeroed = bytearray(three)
    for start in [start for marker, start, _ in segments(three) if marker == SOS][1:]:
        count = zeroed[start + 4]
        zeroed[start + 5 + 2 * count:start + 8 + 2 * count] = b"\x00\x00\x00"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(bytes(zeroed)))),
                                  np.asarray(Image.open(io.BytesIO(three))))
    assert damage(three) is None and damage(bytes(zeroed)) is None
