"""compress_core.containers: HEIF photos through pillow-heif, the page of a TIFF, camera RAW
previews never taken for the photo (review 13: F05, O4, O10)."""
import io
import sys

import numpy as np
import pytest
from PIL import Image

from compress_core import UnsupportedImageError, compress_image, load_image
from compress_core.errors import ImageDecodeError

from _core_data import GRADIENT, EXIF_UPRIGHT, exif_bytes, photo

tifffile = pytest.importorskip("tifffile")  # (scikit-image's dependency)


def heic(pixels, **kwargs) -> bytes:
    pytest.importorskip("pillow_heif")
    from compress_core import containers

    containers._register_heif("<test>")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "HEIF", quality=90, **kwargs)
    return buf.getvalue()


def test_a_heic_photo_is_read_upright_once_and_compressed():
    """An iPhone photo stored sideways (EXIF orientation 6, which pillow-heif writes as the
    file's rotation): decoded upright, the EXIF orientation reset, so nothing turns it again;
    before, every HEIC was 'not a recognised image format'."""
    stored = np.ascontiguousarray(photo("astronaut", 256)[:150])  # 256 x 150: not square
    data = heic(stored, exif=exif_bytes(6, make="Apple"))
    assert data[4:12] == b"ftypheic"
    loaded = load_image(data)
    assert loaded.format == "HEIF" and loaded.pixels.shape == (256, 150, 3)
    upright = EXIF_UPRIGHT[6](stored).astype(int)
    assert np.abs(loaded.pixels.astype(int) - upright).mean() < 4  # HEVC at quality 90
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "Apple"
    result = compress_image(data, scale=0.5, energy_function=GRADIENT)
    assert result.format == "JPEG" and result.size == (75, 128)
    assert result.input_format == "HEIF"


def test_a_heic_of_several_pictures_is_read_at_its_primary():
    """A HEIF holding two pictures whose primary (the one every viewer shows) is the second:
    read as the first, a solid red picture, since every file of several frames was read at
    its first (edge review 36)."""
    pillow_heif = pytest.importorskip("pillow_heif")
    cat = np.ascontiguousarray(photo("chelsea", 160))
    red = np.zeros_like(cat)
    red[..., 0] = 255
    h, w = cat.shape[:2]
    pictures = pillow_heif.from_bytes(mode="RGB", size=(w, h), data=red.tobytes())
    pictures.add_frombytes(mode="RGB", size=(w, h), data=cat.tobytes())
    buf = io.BytesIO()
    pictures.save(buf, primary_index=1, quality=90)
    loaded = load_image(buf.getvalue())
    assert loaded.format == "HEIF" and loaded.frames == 2
    assert np.abs(loaded.pixels.astype(int) - cat).mean() < 4   # the cat, not the red one
    result = compress_image(buf.getvalue(), scale=0.5, energy_function=GRADIENT)
    assert np.abs(result.pixels.astype(int) - photo("chelsea", 80)).mean() < 6


def test_without_pillow_heif_a_heic_names_the_package(monkeypatch):
    from compress_core import containers

    data = heic(photo("coffee", 64))
    monkeypatch.setattr(containers, "_heif_registered", False)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import fails
    # a fresh Pillow registry without pillow-heif's opener
    monkeypatch.setattr(Image, "OPEN", {k: v for k, v in Image.OPEN.items() if k != "HEIF"})
    monkeypatch.setattr(Image, "ID", [i for i in Image.ID if i != "HEIF"])
    with pytest.raises(UnsupportedImageError, match=r"a HEIF/HEIC picture \(as phones save "
                       r"photos\); reading it needs the optional package pillow-heif "
                       r"\(pip install pillow-heif\)"):
        load_image(data)


def test_a_damaged_heic_says_what_it_is():
    heic(photo("coffee", 32))  # registers the opener
    with pytest.raises(ImageDecodeError, match="a HEIF/HEIC file that pillow-heif cannot decode"):
        load_image(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(2000))


def _tiff(*pages) -> bytes:
    """A TIFF of ``pages``: (pixels, kwargs for tifffile's write) pairs."""
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for pixels, kwargs in pages:
            tif.write(pixels, **kwargs)
    return buf.getvalue()


def test_a_camera_raw_preview_is_not_written_as_the_photo():
    """A RAW's first (and, to Pillow, only) page is the camera's preview, flagged as a
    reduced-resolution copy; the sensor data is in a SubIFD. A 1.1 MB RAW became a 56x38 JPEG,
    status ok (review 13, F05). Such a TIFF is a RAW to load_image, developed from its sensor
    data by LibRaw (compress_core.raw); open_picture alone still refuses the preview."""
    from compress_core import containers

    pytest.importorskip("rawpy")
    chelsea = photo("chelsea")
    cfa = np.random.default_rng(0).integers(0, 4095, (300, 450), dtype=np.uint16)
    raw = _tiff((chelsea[::4, ::4], dict(photometric="rgb", subfiletype=1, subifds=1)),
                (cfa, dict(photometric="minisblack")))
    assert Image.open(io.BytesIO(raw)).size == (113, 75)  # what Pillow opens
    loaded = load_image(raw)
    assert loaded.format == "RAW" and loaded.size == (450, 300)
    with pytest.raises(UnsupportedImageError, match=r"a TIFF that holds only a reduced-"
                       r"resolution copy of its picture \(113x75\), as camera RAW files"):
        containers.open_picture(raw, "<test>")


def test_a_tiff_gives_its_largest_full_page():
    """A scanner's TIFF that starts with a thumbnail: its first page was the picture (a 57x38
    thumbnail of a 451x300 scan gave a 28x19 output, review 13, O10)."""
    chelsea = photo("chelsea")
    thumbnail_first = _tiff((chelsea[::8, ::8], dict(photometric="rgb")),
                            (chelsea, dict(photometric="rgb")))
    loaded = load_image(thumbnail_first)
    np.testing.assert_array_equal(loaded.pixels, chelsea)
    # a flagged preview is never the picture, even when larger than a full page
    flagged = _tiff((chelsea[::8, ::8], dict(photometric="rgb")),
                    (chelsea, dict(photometric="rgb", subfiletype=1)))
    assert load_image(flagged).size == (57, 38)
    # pages of one size (a multi-page scan): the first
    first, second = photo("coffee", 120), photo("astronaut", 120, 80)
    pages = _tiff((first, dict(photometric="rgb")), (second, dict(photometric="rgb")))
    np.testing.assert_array_equal(load_image(pages).pixels, first)


def test_a_tiff_of_16_bit_samples_in_separate_planes_keeps_its_pixels(monkeypatch):
    """Review 22: Pillow reads 16-bit samples stored uncompressed plane by plane
    (PlanarConfiguration 2, as scanners and GIS tools write) as 8-bit data: a picture off by 55
    levels on average (up to 250), written with status ok. Now read again through tifffile, on
    the page chosen, alpha included, upright by the page's orientation; where tifffile cannot
    read it, a clear refusal. Compressed planar pages (libtiff) are Pillow's, as before."""
    chelsea = photo("chelsea", 120, 80)
    wide = chelsea.astype(np.uint16) * 257 + np.uint16(100)  # 16 bits, the low byte not 0
    alpha = np.full((80, 120, 1), 40000, np.uint16)
    planar = _tiff((chelsea[::4, ::4], dict(photometric="rgb")),  # a thumbnail first
                   (np.moveaxis(wide, 2, 0), dict(photometric="rgb", planarconfig="separate")))
    loaded = load_image(planar)
    assert np.abs(loaded.pixels.astype(int) - chelsea).max() <= 1
    rgba = _tiff((np.moveaxis(np.dstack([wide, alpha]), 2, 0),
                  dict(photometric="rgb", planarconfig="separate", extrasamples=["unassalpha"])))
    pixels = load_image(rgba).pixels
    assert pixels.shape == (80, 120, 4) and (pixels[..., 3] == 156).all()
    assert np.abs(pixels[..., :3].astype(int) - chelsea).max() <= 1
    # contiguous, or compressed (libtiff's reading): Pillow's own pixels, as before
    for kwargs in (dict(), dict(planarconfig="separate", compression="zlib")):
        other = _tiff((np.moveaxis(wide, 2, 0) if kwargs else wide,
                       dict(photometric="rgb", **kwargs)))
        assert np.abs(load_image(other).pixels.astype(int) - chelsea).max() <= 1
    # an Orientation on the page, as a tag or in its XMP packet only: upright once (Pillow
    # turns its own reading by either on loading; the XMP one came out upside down)
    for orientation, upright in ((3, chelsea[::-1, ::-1]), (6, np.rot90(chelsea, -1))):
        packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
                  '1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:tiff="http:'
                  f'//ns.adobe.com/tiff/1.0/" tiff:Orientation="{orientation}"/></rdf:RDF>'
                  '</x:xmpmeta>').encode()
        for tag in ((274, 3, 1, orientation, True), (700, 1, len(packet), packet, True)):
            turned = _tiff((np.moveaxis(wide, 2, 0), dict(
                photometric="rgb", planarconfig="separate", extratags=[tag])))
            assert np.abs(load_image(turned).pixels.astype(int) - upright).max() <= 1, tag[0]

    def cannot(self, *args, **kwargs):
        raise KeyError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", cannot)
    with pytest.raises(UnsupportedImageError, match=r"separate planes .* tifffile cannot read "
                                                     r"\(KeyError: .*imagecodecs"):
        load_image(planar)


def test_the_pixel_limit_holds_for_the_page_chosen():
    chelsea = photo("chelsea")
    data = _tiff((chelsea[::8, ::8], dict(photometric="rgb")), (chelsea, dict(photometric="rgb")))
    from compress_core import ImageTooLargeError

    with pytest.raises(ImageTooLargeError, match=r"451x300 = 135,300 pixels exceeds the limit "
                                                  r"of 100,000 \(max_pixels\)"):
        load_image(data, max_pixels=100_000)


def test_postscript_is_never_handed_to_ghostscript(monkeypatch):
    """Pillow decodes EPS by running Ghostscript where it is installed: a bucket's file would
    reach an interpreter. Such files are refused before Pillow sees them, and Pillow is never
    asked to open EPS (review 13, O5's note)."""
    from PIL import EpsImagePlugin

    buf = io.BytesIO()
    Image.fromarray(photo("coffee", 32)).save(buf, "EPS")
    eps = buf.getvalue()
    assert eps.startswith(b"%!PS")
    ran = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: ran.append(a))
    with pytest.raises(UnsupportedImageError, match="a PostScript \\(EPS\\) file, which is not "
                                                    "read"):
        load_image(eps)
    dos_eps = b"\xc5\xd0\xd3\xc6" + bytes(26) + eps
    with pytest.raises(UnsupportedImageError, match="PostScript"):
        load_image(dos_eps)
    # and Pillow is not offered EPS: without the first check, the file is still not opened
    from compress_core import containers

    monkeypatch.setattr(containers, "_POSTSCRIPT", ())
    with pytest.raises(ImageDecodeError, match="not a recognised image format"):
        load_image(eps)
    assert ran == []


def test_a_jpeg_xl_input_is_read_in_a_fresh_process():
    """pillow-jxl-plugin registers its opener on import, and only the encoders imported it: a
    JPEG XL input read before any JPEG XL output was 'not a recognised image format' (a job
    over a bucket of .jxl files failed every row)."""
    import subprocess

    pytest.importorskip("pillow_jxl")
    from compress_core.codec import encode

    pixels = photo("coffee", 64)
    data = encode(pixels, "jxl", 90)
    code = ("import sys; from compress_core import load_image; "
            "print(load_image(sys.stdin.buffer.read()).size)")
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.getcwd(), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert out.stdout.decode().strip() == f"({pixels.shape[1]}, {pixels.shape[0]})"


def test_a_jpeg_xl_is_measured_by_its_header_before_it_is_decoded(monkeypatch):
    """pillow-jxl-plugin decodes a whole picture to open it: a 329 KB file stating
    20000 x 20000 took 2.6 GB and 10 s before the pixel limit refused it (security review
    26). Its size header is read first: bare codestreams and containers, every aspect."""
    pytest.importorskip("pillow_jxl")
    import pillow_jxl.JpegXLImagePlugin as plugin

    from compress_core import ImageTooLargeError, containers
    from compress_core.codec import encode

    rng = np.random.default_rng(7)
    for width, height in [(1, 1), (8, 8), (9, 7), (120, 100), (300, 200), (640, 360),
                          (1000, 1), (257, 513), (8, 2048), (1536, 1024)]:
        flat = width * height > 10**6   # (noise that large takes seconds to encode)
        data = encode(np.zeros((height, width, 3), np.uint8) if flat else
                      rng.integers(0, 255, (height, width, 3), dtype=np.uint8), "jxl", 50)
        assert containers.jxl_size(data) == (width, height)
    boxed = io.BytesIO()   # (with EXIF: a container, its codestream in jxlp parts)
    Image.fromarray(photo("coffee", 301, 7)).save(boxed, "JXL", exif=exif_bytes(1))
    assert boxed.getvalue()[4:8] == b"JXL " and containers.jxl_size(boxed.getvalue()) == (301, 7)
    assert containers.jxl_size(encode(photo("coffee", 40, 30), "PNG")) is None

    def decoded(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(plugin, "Decoder", decoded)
    with pytest.raises(ImageTooLargeError, match="1536x1024 = 1,572,864 pixels exceeds"):
        load_image(data, max_pixels=1_000_000)


def test_a_tiff_of_many_pages_is_read_among_its_first_pages_only(monkeypatch):
    """80,000 pages of an 8 MB upload took 37 s to look through (and Pillow's page count
    walks them all again: security review 26); the picture is the largest of the first
    PAGES_LOOKED_AT pages."""
    from compress_core import containers

    monkeypatch.setattr(containers, "PAGES_LOOKED_AT", 8)
    pages = [Image.fromarray(photo("coffee", 20 + 10 * (i == 5) + 40 * (i == 9), 20))
             for i in range(12)]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    assert load_image(buf.getvalue()).size == (30, 20)   # page 5; page 9 is not looked at


def test_lossy_encodings_are_told_from_lossless_ones_by_the_file():
    """Which files store their picture lossily (format auto writes a transparent photo from one
    lossily: formats review 41): WebP by its chunks (still, with alpha, animated), JPEG, AVIF
    and HEIF always; PNG, a lossless WebP and arrays never."""
    from compress_core.containers import lossy_encoding

    rgba = np.dstack([photo("astronaut", 64, 64), np.full((64, 64), 128, np.uint8)])

    def file(fmt, mode="RGBA", **kwargs):
        buf = io.BytesIO()
        Image.fromarray(rgba).convert(mode).save(buf, fmt, **kwargs)
        return buf.getvalue()

    frames = [Image.fromarray(rgba), Image.fromarray(rgba[::-1])]
    animated = {}
    for lossless in (False, True):
        buf = io.BytesIO()
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], lossless=lossless)
        animated[lossless] = buf.getvalue()
    assert lossy_encoding(file("WEBP", quality=80), "WEBP")              # VP8X, ALPH, VP8
    assert lossy_encoding(file("WEBP", "RGB", quality=80), "WEBP")       # a bare VP8
    assert not lossy_encoding(file("WEBP", lossless=True), "WEBP")       # VP8L
    assert lossy_encoding(animated[False], "WEBP") and not lossy_encoding(animated[True], "WEBP")
    assert lossy_encoding(file("AVIF"), "AVIF") and lossy_encoding(file("JPEG", "RGB"), "JPEG")
    assert not lossy_encoding(file("PNG"), "PNG") and not lossy_encoding(None, None)
    assert not lossy_encoding(file("WEBP")[:20], "WEBP")   # cut short: no picture chunk


# --- security review 45: what AVIF, HEIF and JPEG XL decoders do before the pixel limit ---

def _box(kind: bytes, payload: bytes, full=None) -> bytes:
    import struct

    if full is not None:
        payload = struct.pack(">I", full) + payload
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _heif_grid(tile: int, rows: int, cols: int, width: int, height: int,
               clap=None) -> bytes:
    """A HEIF whose primary item is a grid of rows x cols references to ONE coded tile x tile
    HEVC picture, its ispe width x height (and a clap box cropping it to ``clap``)."""
    import struct

    one = heic(np.full((tile, tile, 3), 128, np.uint8))
    boxes = {}

    def walk(data, start, end):
        at = start
        while at + 8 <= end:
            size, kind = struct.unpack(">I4s", data[at:at + 8])
            boxes.setdefault(kind, data[at:at + size])
            if kind in (b"meta", b"iprp", b"ipco"):
                walk(data, at + 8 + (4 if kind == b"meta" else 0), at + size)
            at += size

    walk(one, 0, len(one))
    hvcc, coded = boxes[b"hvcC"], boxes[b"mdat"][8:]
    ispe = lambda w, h: _box(b"ispe", struct.pack(">II", w, h), 0)   # noqa: E731
    infe = lambda i, t: _box(b"infe", struct.pack(">HH", i, 0) + t + b"\0", 2 << 24)  # noqa
    crop = b"" if clap is None else _box(b"clap", struct.pack(">IIIIiIiI", clap[0], 1, clap[1],
                                                                 1, 0, 1, 0, 1))
    ipco = _box(b"ipco", ispe(width, height) + hvcc + ispe(tile, tile) + crop)
    first = bytes([1, 0x84]) if crop else bytes([1])
    ipma = _box(b"ipma", struct.pack(">IHB", 2, 1, len(first)) + first
                + struct.pack(">HB", 2, 2) + bytes([0x82, 3]), 0)
    grid = struct.pack(">BBBBHH", 0, 0, rows - 1, cols - 1, width, height)
    n = rows * cols
    iref = _box(b"iref", _box(b"dimg", struct.pack(">HH", 1, n) + struct.pack(">H", 2) * n), 0)
    ftyp = _box(b"ftyp", b"heic\0\0\0\0mif1heic")

    def meta(offset):
        iloc = _box(b"iloc", bytes([0x44, 0]) + struct.pack(">HHHHHII", 2, 1, 1, 0, 1, 0,
                                                           len(grid))
                    + struct.pack(">HHHHII", 2, 0, 0, 1, offset, len(coded)), 1 << 24)
        return _box(b"meta", _box(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 13, 0)
                    + _box(b"pitm", struct.pack(">H", 1), 0) + iloc
                    + _box(b"iinf", struct.pack(">H", 2) + infe(1, b"grid") + infe(2, b"hvc1"),
                           0)
                    + iref + _box(b"iprp", ipco + ipma) + _box(b"idat", grid), 0)

    offset = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(offset) + _box(b"mdat", coded)


def test_a_heif_grid_of_tiles_outside_its_picture_is_refused_before_decoding():
    """A grid item's tiles are decoded whole, one coded tile referenced many times decoded
    each time: 961 references to a 4096 x 4096 tile in a 6 KB HEIC of 64 x 48 pixels took 139
    s (security review 45). Tiles adding up to more than twice max_pixels are refused; a
    grid whose tiles cover its picture is read."""
    from compress_core.containers import heif_decoded_pixels
    from compress_core.errors import ImageTooLargeError

    bomb = _heif_grid(256, 8, 8, 64, 48)
    assert heif_decoded_pixels(bomb) == (64 * 48, 64 * 256 * 256)
    with pytest.raises(ImageTooLargeError, match="tiles"):
        load_image(bomb, max_pixels=1_000_000)
    fine = load_image(_heif_grid(256, 2, 2, 500, 400), max_pixels=1_000_000)
    assert fine.pixels.shape == (400, 500, 3) and int(fine.pixels.mean()) in range(120, 136)


def _heif_alpha_grid(tile: int, rows: int, cols: int, iden: bool = False) -> bytes:
    """A HEIF whose primary item is a plain 64 x 64 picture and whose alpha plane (an auxl
    item of auxC type alpha) is a 64 x 64 grid of rows x cols references to ONE coded tile x
    tile HEVC picture; with ``iden``, the primary is an identity-derived picture (iden) of
    that grid, and there is no alpha."""
    import struct

    def parts(data):
        boxes = {}

        def walk(start, end):
            at = start
            while at + 8 <= end:
                size, kind = struct.unpack(">I4s", data[at:at + 8])
                boxes.setdefault(kind, data[at:at + size])
                if kind in (b"meta", b"iprp", b"ipco"):
                    walk(at + 8 + (4 if kind == b"meta" else 0), at + size)
                at += size

        walk(0, len(data))
        return boxes[b"hvcC"], boxes[b"mdat"][8:]

    hvc_main, main = parts(heic(np.full((64, 64, 3), 200, np.uint8)))
    hvc_tile, coded = parts(heic(np.full((tile, tile, 3), 255, np.uint8)))
    ispe = lambda w, h: _box(b"ispe", struct.pack(">II", w, h), 0)   # noqa: E731
    infe = lambda i, t: _box(b"infe", struct.pack(">HH", i, 0) + t + b"\0", 2 << 24)  # noqa
    auxc = _box(b"auxC", b"urn:mpeg:hevc:2015:auxid:1\0", 0)
    ipco = _box(b"ipco", ispe(64, 64) + hvc_main + hvc_tile + ispe(tile, tile) + auxc)
    if iden:
        main = b""
    ipma = _box(b"ipma", struct.pack(">I", 3)
                + (struct.pack(">HB", 1, 1) + bytes([1]) if iden
                   else struct.pack(">HB", 1, 2) + bytes([1, 0x82]))
                + (struct.pack(">HB", 2, 1) + bytes([1]) if iden
                   else struct.pack(">HB", 2, 2) + bytes([1, 0x85]))
                + struct.pack(">HB", 3, 2) + bytes([0x83, 4]), 0)
    grid = struct.pack(">BBBBHH", 0, 0, rows - 1, cols - 1, 64, 64)
    n = rows * cols
    first = _box(b"dimg" if iden else b"auxl", struct.pack(">HHH", (1 if iden else 2), 1,
                                                           (2 if iden else 1)))
    iref = _box(b"iref", first
                + _box(b"dimg", struct.pack(">HH", 2, n) + struct.pack(">H", 3) * n), 0)
    ftyp = _box(b"ftyp", b"heic\0\0\0\0mif1heic")

    def meta(offset):
        iloc = _box(b"iloc", bytes([0x44, 0]) + struct.pack(">H", 2 + (not iden))
                    + (b"" if iden else struct.pack(">HHHHII", 1, 0, 0, 1, offset, len(main)))
                    + struct.pack(">HHHHII", 2, 1, 0, 1, 0, len(grid))
                    + struct.pack(">HHHHII", 3, 0, 0, 1, offset + len(main), len(coded)),
                    1 << 24)
        return _box(b"meta", _box(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 13, 0)
                    + _box(b"pitm", struct.pack(">H", 1), 0) + iloc
                    + _box(b"iinf", struct.pack(">H", 3) + infe(1, b"iden" if iden else b"hvc1")
                           + infe(2, b"grid")
                           + infe(3, b"hvc1"), 0)
                    + iref + _box(b"iprp", ipco + ipma) + _box(b"idat", grid), 0)

    offset = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(offset) + _box(b"mdat", main + coded)


def test_a_heif_alpha_grid_of_tiles_outside_its_picture_is_refused_before_decoding():
    """libheif decodes the primary picture's alpha plane with it, and an alpha that is a grid
    as a grid: every tile whole, each reference again. A 5 KB HEIC of 64 x 64 pixels whose
    alpha was a grid of 256 references to one 4096 x 4096 tile took 39 s, status ok: the check
    counted the primary's tiles only (security review 47). A grid alpha that covers its
    picture is read, its transparency kept."""
    from compress_core.containers import heif_decoded_pixels
    from compress_core.errors import ImageTooLargeError

    bomb = _heif_alpha_grid(256, 8, 8)
    assert heif_decoded_pixels(bomb) == (64 * 64, 64 * 256 * 256)
    with pytest.raises(ImageTooLargeError, match="alpha"):
        load_image(bomb, max_pixels=1_000_000)
    fine = load_image(_heif_alpha_grid(64, 1, 1), max_pixels=1_000_000)
    assert fine.pixels.shape == (64, 64, 4) and int(fine.pixels[..., 3].min()) > 240


def test_a_heif_derived_from_a_grid_is_limited_by_the_grids_tiles():
    """An identity-derived primary (iden, as a writer wraps a grid to turn it) of a grid is
    decoded through it: the check counted the 64 x 64 grid it was made of, and a 4 KB HEIC of
    64 x 64 pixels had libheif decode 16 tiles of 4096 x 4096 under max_pixels=1,000,000
    (security review 47)."""
    from compress_core.containers import heif_decoded_pixels
    from compress_core.errors import ImageTooLargeError

    bomb = _heif_alpha_grid(256, 8, 8, iden=True)
    assert heif_decoded_pixels(bomb) == (64 * 64, 64 * 256 * 256)
    with pytest.raises(ImageTooLargeError, match="tiles"):
        load_image(bomb, max_pixels=1_000_000)
    fine = load_image(_heif_alpha_grid(64, 1, 1, iden=True), max_pixels=1_000_000)
    assert fine.pixels.shape == (64, 64, 3) and int(fine.pixels.mean()) > 240
    # a grid made of the iden made of it: a loop, refused as such (it read "inf pixels")
    import struct

    tile = b"dimg" + struct.pack(">HH", 2, 1) + struct.pack(">H", 3)
    assert _heif_alpha_grid(64, 1, 1, iden=True).count(tile) == 1
    loop = _heif_alpha_grid(64, 1, 1, iden=True).replace(tile, tile[:-2] + struct.pack(">H", 1))
    with pytest.raises(ImageDecodeError, match="loop"):
        load_image(loop)


def test_a_heif_cropped_by_clap_is_limited_at_its_coded_size():
    """libheif decodes a picture at its coded size (ispe) and reports it cropped by its clap
    box: a 2.7 KB HEIC reporting 64 x 48 had a 1-gigapixel canvas filled (1.6 GB) before the
    limit saw 64 x 48 (security review 45)."""
    from compress_core.containers import heif_decoded_pixels
    from compress_core.errors import ImageTooLargeError

    data = _heif_grid(256, 2, 2, 512, 512, clap=(64, 48))
    pillow_heif = pytest.importorskip("pillow_heif")
    assert pillow_heif.open_heif(data).size == (64, 48)
    with pytest.raises(ImageTooLargeError, match="coded at 262,144 pixels"):
        load_image(data, max_pixels=100_000)
    assert load_image(data, max_pixels=300_000).pixels.shape == (48, 64, 3)
    # the padding of a picture's coded blocks is no bomb: a 64 x 48 HEIC is coded at 64 x 64
    # (diff review 45: refused where max_pixels was its own 3,072 pixels)
    padded = heic(np.full((48, 64, 3), 128, np.uint8))
    assert heif_decoded_pixels(padded)[0] == 64 * 64
    assert load_image(padded, max_pixels=64 * 48).pixels.shape == (48, 64, 3)


def test_a_jxl_container_hiding_its_codestream_is_not_decoded():
    """jxl_size looks for the codestream among a container's first boxes; past them the
    picture was decoded whole before the limit saw its size (a 10 KB file of 144 megapixels
    behind 70 empty boxes: 1 GB, 13 s; security review 45)."""
    pytest.importorskip("pillow_jxl")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buf, "JXL")
    stream = buf.getvalue()
    assert stream.startswith(b"\xff\x0a")
    head = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + _box(b"ftyp", b"jxl \0\0\0\0jxl ")
    near = head + _box(b"free", b"") * 3 + _box(b"jxlc", stream)
    assert load_image(near).pixels.shape == (64, 64, 3)
    far = head + _box(b"free", b"") * 70 + _box(b"jxlc", stream)
    with pytest.raises(ImageDecodeError, match="codestream"):
        load_image(far)


def _many_scans_jpeg(refinements: int) -> bytes:
    """A valid progressive 64 x 64 grey JPEG of 2 + 63 x (``refinements`` + 1) scans (the
    security review's): each AC coefficient, all zero, has a first scan at bit
    ``refinements`` and is refined bit by bit, each scan one end-of-band run over the 64
    blocks; the DC scans are Pillow's."""
    from compress_core.codec.jpeg_markers import scan_end, segments

    buf = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buf, "JPEG", progressive=True, quality=90)
    data = buf.getvalue()
    scans = [(start, scan_end(data, end)) for marker, start, end in segments(data)
             if marker == 0xDA]
    (first, first_end), (refine, refine_end) = [(s, e) for s, e in scans if data[s + 7] == 0]
    component = data[first + 5]
    # AC table 0: 15 four-bit codes, the end-of-band runs EOB0..EOB14 (code i: symbol i << 4)
    table = b"\xff\xc4\x00\x22\x10" + bytes([0, 0, 0, 15] + [0] * 12) + bytes(
        r << 4 for r in range(15))
    eob64 = b"\x60\x3f"   # EOB6 (code 0110) + 6 bits 0: a run of 64 blocks; padded with ones

    def scan(k, high, low):
        return bytes([0xFF, 0xDA, 0, 8, 1, component, 0, k, k, high << 4 | low]) + eob64

    body = b"".join(scan(k, 0, refinements) + b"".join(
        scan(k, bit + 1, bit) for bit in range(refinements - 1, -1, -1)) for k in range(1, 64))
    return (data[:first_end] + table + body + data[refine:refine_end] + b"\xff\xd9")


def _rebuilding_jxl(jpeg: bytes, tmp_path) -> bytes:
    """The JPEG XL that ``cjxl`` writes for ``jpeg`` (lossless, with a ``jbrd`` box)."""
    import warnings

    source, out = tmp_path / "source.jpg", io.BytesIO()
    source.write_bytes(jpeg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (Pillow's words on a hostile JPEG's segments)
        with Image.open(source) as picture:
            picture.save(out, "JXL", lossless_jpeg=True)
    return out.getvalue()


def test_a_jxl_rebuilding_a_jpeg_of_too_many_scans_is_not_decoded(tmp_path):
    """pillow-jxl-plugin rebuilds the JPEG a JPEG XL file recompressed and decodes it on
    opening, past the JPEG's own checks: an 85 KB file rebuilding an 8000 x 8000 JPEG of 695
    scans took 32-59 s and 1.36 GB (security review 45). Its scans are counted from the
    ``jbrd`` box before opening: more than a JPEG may hold is refused; a photo's loads with the
    same pixels as its JPEG."""
    pytest.importorskip("pillow_jxl")
    from compress_core import containers
    from compress_core.codec.jpeg_markers import MOST_SCANS, scan_count

    buf = io.BytesIO()
    Image.fromarray(photo("coffee", 96, 64)).save(buf, "JPEG", progressive=True, quality=85)
    jpeg = buf.getvalue()
    rebuilding = _rebuilding_jxl(jpeg, tmp_path)
    assert b"jbrd" in rebuilding and containers.jxl_rebuilt_scans(rebuilding) == scan_count(jpeg)
    np.testing.assert_array_equal(load_image(rebuilding).pixels, load_image(jpeg).pixels)
    plain = io.BytesIO()
    Image.fromarray(photo("coffee", 96, 64)).save(plain, "JXL", exif=exif_bytes(6))
    assert plain.getvalue()[4:8] == b"JXL " and containers.jxl_rebuilt_scans(plain.getvalue()) == 0
    assert containers.jxl_rebuilt_scans(jpeg) == 0

    endless = _many_scans_jpeg(4)
    assert scan_count(endless, 1000) == 2 + 63 * 5 > MOST_SCANS
    with pytest.raises(ImageDecodeError, match="scans"):
        load_image(endless)
    endless = _rebuilding_jxl(endless, tmp_path)
    assert containers.jxl_rebuilt_scans(endless) == 2 + 63 * 5
    with pytest.raises(ImageDecodeError, match="rebuilding a JPEG of more than 256 scans"):
        load_image(endless)
    most = _rebuilding_jxl(_many_scans_jpeg(3), tmp_path)   # 254 scans: decoded
    assert containers.jxl_rebuilt_scans(most) == 2 + 63 * 4
    assert load_image(most).pixels.shape[:2] == (64, 64)
    crowded = rebuilding[:rebuilding.index(b"jbrd") - 4] + _box(b"free", b"") * 100_001 \
        + rebuilding[rebuilding.index(b"jbrd") - 4:]
    assert containers.jxl_rebuilt_scans(crowded) is None
    with pytest.raises(ImageDecodeError, match="boxes"):
        load_image(crowded)
    # libjxl rebuilds from the first jbrd box and refuses a second ("multiple JPEG
    # reconstruction boxes not supported"): the others are not walked (2,000 boxes of 16,384
    # markers each took 3.4 s for 24.6 MB; diff review 46)
    at = most.index(b"jbrd") - 4
    after = most[:at] + _box(b"jbrd", bytes(12_289)) * 2000 + most[at:]
    assert containers.jxl_rebuilt_scans(after) == 0
    before = most + _box(b"jbrd", bytes(12_289)) * 2000
    assert containers.jxl_rebuilt_scans(before) == 2 + 63 * 4


@pytest.mark.parametrize("fmt", ["AVIF", "JXL"])
def test_a_damaged_avif_or_jxl_is_a_decode_error(fmt):
    """Their decoders raise RuntimeError for damaged data, which reached the command line as a
    traceback that stopped the batch (security review 45)."""
    if fmt == "JXL":
        pytest.importorskip("pillow_jxl")
    buf = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(buf, fmt)
    data = bytearray(buf.getvalue())
    if fmt == "AVIF":
        at = data.find(b"mdat") + 30
        data[at:at + 30] = b"\xff" * 30
    else:
        data = data[:len(data) // 2]
    with pytest.raises(ImageDecodeError, match="cannot decode"):
        load_image(bytes(data))


def test_the_heif_check_reads_a_meta_box_anywhere_and_no_more_references_than_a_box_holds():
    """Diff review 45 (second): the meta box was looked for in the first 1 MB only (a free box
    of 1 MB before it hid a grid or clap bomb from the check), a second ipma box was not read,
    and a dimg box claiming 65,535 references in its 12 bytes had the loop run 65,535 times
    (40 of them: 0.87 s; a 1 MB meta box: half an hour)."""
    import struct

    from compress_core.containers import heif_decoded_pixels

    def box(kind, payload):
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    def full(kind, payload):
        return box(kind, b"\0\0\0\0" + payload)

    ftyp = box(b"ftyp", b"heic\0\0\0\0mif1heic")
    ipco = box(b"ipco", full(b"ispe", struct.pack(">II", 64, 48))
               + full(b"ispe", struct.pack(">II", 512, 512)))
    # item 1 (the grid) in one ipma box, its tiles (item 2) in a second
    ipmas = (full(b"ipma", struct.pack(">IHBB", 1, 1, 1, 0x81))
             + full(b"ipma", struct.pack(">IHBB", 1, 2, 1, 0x82)))
    claims = box(b"dimg", struct.pack(">HHHH", 1, 0xFFFF, 2, 2))   # says 65,535, holds 2

    def heif(before_meta=b""):
        meta = full(b"meta", full(b"pitm", struct.pack(">H", 1)) + box(b"iprp", ipco + ipmas)
                    + full(b"iref", claims * 40))
        return ftyp + before_meta + meta

    assert heif_decoded_pixels(heif()) == (64 * 48, 40 * 2 * 512 * 512)
    assert heif_decoded_pixels(heif(box(b"free", bytes(1 << 20)))) == \
        (64 * 48, 40 * 2 * 512 * 512)


def _mpf_bomb_jpeg(tags: int) -> bytes:
    """A small JPEG whose APP2 Multi-Picture index points ``tags`` SHORT tags at the same
    bytes of its segment (Pillow's ``_getmp`` decodes every value of every tag)."""
    import struct

    values_at = 8 + 2 + tags * 12 + 4
    count = (65527 - 4 - values_at) // 2
    ifd = b"MM\x00\x2a" + struct.pack(">IH", 8, tags) + b"".join(
        struct.pack(">HHII", tag, 3, count, values_at) for tag in range(0x100, 0x100 + tags))
    ifd += struct.pack(">I", 0) + bytes(range(1, 256)) * (2 * count // 255 + 1)
    app2 = b"MPF\x00" + ifd[:values_at + 2 * count]
    buf = io.BytesIO()
    Image.fromarray(photo("coffee", 64, 64)).save(buf, "JPEG", quality=90)
    return buf.getvalue()[:2] + b"\xff\xe2" + struct.pack(">H", len(app2) + 2) + app2 \
        + buf.getvalue()[2:]


def test_a_jxl_rebuilding_a_jpeg_whose_segments_are_a_bomb_is_not_decoded(tmp_path):
    """The JPEG a JPEG XL rebuilds keeps its APP segments brotli-compressed in the jbrd box,
    out of the TIFF-directory guard's sight: a 7.8 KB file whose Multi-Picture index pointed
    2,700 tags at the same 33 KB took 56 s and 2.9 GB in Pillow's _getmp, status ok (security
    review 46). The rebuilt JPEG is decoded as a JPEG, with its checks."""
    pytest.importorskip("pillow_jxl")
    from compress_core import containers

    jpeg = _mpf_bomb_jpeg(600)
    with pytest.raises(ImageDecodeError, match="memory bomb"):
        load_image(jpeg)
    rebuilding = _rebuilding_jxl(jpeg, tmp_path)
    assert b"jbrd" in rebuilding and b"MPF" not in rebuilding
    assert containers.jxl_rebuilt_jpeg(rebuilding) == jpeg
    with pytest.raises(ImageDecodeError, match="memory bomb"):
        load_image(rebuilding)
    plain = io.BytesIO()
    Image.fromarray(photo("coffee", 96, 64)).save(plain, "JXL")
    assert containers.jxl_rebuilt_jpeg(plain.getvalue()) is None


def test_a_jxl_rebuilding_a_multi_picture_jpeg_is_one_picture_kept_as_it_is():
    """A phone's JPEG of two pictures (MPO: the photo and its gain or depth map), recompressed
    by cjxl: one picture, as pillow-jxl-plugin read it. Decoded as that JPEG it became 2
    "frames", and the file was no longer kept where no encoding beats it (29,067 B re-encoded
    lossy to 29,782 B under the defaults, one of 77,076 B to 230,375 B at target_quality 97;
    diff review 46)."""
    pytest.importorskip("pillow_jxl")
    from pillow_jxl import Encoder
    from compress_core import SemanticCompressor

    base = Image.fromarray(photo("coffee", 256, 192))
    mpo = io.BytesIO()
    base.save(mpo, "MPO", save_all=True, append_images=[base.resize((64, 48))], quality=40)
    jxl = Encoder(mode="RGB", lossless=False, quality=100, decoding_speed=0, effort=7,
                  use_container=True, use_original_profile=False, num_threads=1)(
        mpo.getvalue(), 256, 192, jpeg_encode=True)
    loaded = load_image(jxl)
    assert (loaded.format, loaded.frames) == ("JXL", 1)
    result = SemanticCompressor().compress(jxl, method="jpeg", format="jxl", target_quality=97)
    assert result.data == jxl


def _png_two_headers(side: int) -> bytes:
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    rows = zlib.compress((b"\x00" + bytes(side)) * side, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def test_an_icon_png_of_two_headers_is_measured_by_the_one_pillow_keeps():
    """Pillow's PNG reader keeps the last IHDR it meets: an ICO/ICNS entry whose PNG said 1 x 1
    first and 13,300 x 13,300 next was measured as 1 pixel and decoded at 818 MB (security
    review 46)."""
    import struct
    from compress_core import containers
    from compress_core.errors import ImageTooLargeError

    png = _png_two_headers(1200)
    ico = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png),
                                                     22) + png
    entry = b"ic10" + struct.pack(">I", 8 + len(png)) + png
    icns = b"icns" + struct.pack(">I", 8 + len(entry)) + entry
    for icon in (ico, icns):
        assert containers.icon_pixels(icon) == 1200 * 1200
        with pytest.raises(ImageTooLargeError, match="an icon holding"):
            load_image(icon, max_pixels=100_000)
    # a directory of 65,535 entries at one PNG of many chunks: read once, within a budget
    chatty = png[:33] + (struct.pack(">I", 0) + b"tEXt" + struct.pack(">I", 0)) * 300 + png[33:]
    crowded = struct.pack("<HHH", 0, 1, 65535) + struct.pack(
        "<BBBBHHII", 0, 0, 0, 0, 1, 32, len(chatty), 6 + 16 * 65535) * 65535 + chatty
    assert containers.icon_pixels(crowded) is None
    with pytest.raises(ImageDecodeError, match="than any icon holds"):
        load_image(crowded)


def test_an_icns_jpeg2000_entry_shorter_than_its_header_is_measured_to_the_end():
    """Pillow stores an ICNS entry of length 1-7 as (start, length - 8) and reads its JPEG 2000
    with fobj.read(negative): the rest of the file, decoded at its own size. Measured from
    data[at:end] with end < at it was 0 pixels: a 2.3 KB file decoded 9,000 x 9,000 under
    max_pixels=1,000,000 (7 s, 1.6 GB; diff review 46)."""
    import struct
    from compress_core import containers
    from compress_core.errors import ImageTooLargeError

    buf = io.BytesIO()
    Image.new("RGB", (1200, 1200), (90, 120, 200)).save(buf, "JPEG2000", no_jp2=True)
    body = b"ic08" + struct.pack(">I", 4) + buf.getvalue()
    icns = b"icns" + struct.pack(">I", 8 + len(body)) + body
    assert containers.icon_pixels(icns) == 1200 * 1200
    with pytest.raises(ImageTooLargeError, match="an icon holding"):
        load_image(icns, max_pixels=100_000)


def test_a_blp_texture_is_not_decoded():
    """A BLP1 texture's JPEG stream is decoded whole at the JPEG's own size, whatever the file
    states, past every JPEG check: 2 MB stating 1 x 1 took 1.9 GB under max_pixels=1,000,000
    (security review 46). Game textures are no photos: not read."""
    import struct

    buf = io.BytesIO()
    Image.new("L", (1200, 1200), 128).save(buf, "JPEG", quality=1)
    jpeg = buf.getvalue()
    start = 28 + 64 + 64 + 4 + len(jpeg)
    blp = (b"BLP1" + struct.pack("<iIIIii", 0, 0, 1, 1, 5, 0) + struct.pack("<16I", start,
           *[0] * 15) + struct.pack("<16I", *[0] * 16) + struct.pack("<I", len(jpeg)) + jpeg)
    with pytest.raises(ImageDecodeError):
        load_image(blp, max_pixels=100_000)


# --- security review 46: JPEG 2000 headers and compressed FITS, before the decoders run ---

def _codestream(width, height, tile_w, tile_h, components, tiles_present=1):
    """A bare JPEG 2000 codestream whose SIZ marker declares ``components`` and tiles of
    ``tile_w`` x ``tile_h`` (``tiles_present`` of them coded, empty)."""
    import struct

    siz = struct.pack(">HIIIIIIIIH", 0, width, height, 0, 0, tile_w, tile_h, 0, 0,
                      components) + b"\x07\x01\x01" * components
    stream = b"\xff\x4f\xff\x51" + struct.pack(">H", 2 + len(siz)) + siz
    stream += b"\xff\x52" + struct.pack(">HBBHBBBBBB", 12, 0, 0, 1, 0, 0, 4, 4, 0, 1)
    stream += b"\xff\x5c" + struct.pack(">HBB", 4, 0x40, 0x40)
    for i in range(tiles_present):
        body = b"\xff\x93" + b"\x00" * components
        stream += b"\xff\x90" + struct.pack(">HHIBB", 10, i, 12 + len(body), 0, 1) + body
    return stream + b"\xff\xd9"


def _jp2(codestream, width, height):
    """A JP2 file whose ihdr box says RGB, holding ``codestream``."""
    import struct

    header = _box(b"ihdr", struct.pack(">IIHBBBB", height, width, 3, 7, 7, 0, 0)) \
        + _box(b"colr", struct.pack(">BBBI", 1, 0, 0, 16))
    return (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + _box(b"ftyp", b"jp2 \x00\x00\x00\x00jp2 ")
            + _box(b"jp2h", header) + _box(b"jp2c", codestream))


def test_a_jpeg2000_header_of_many_tiles_or_components_is_refused_before_decoding():
    """openjpeg sets up every tile's parameters for every component on reading the header: a
    94-byte codestream of 65,535 tiles of 1 x 1 took 0.9 GB (a black picture, status ok); a
    419-byte JP2 whose codestream has 64 components, 5 GB and 11 s (security review 46).
    Refused before decoding, in a JP2 file, a bare codestream or an icon; an encoder's JPEG
    2000, tiled or not, decodes as before."""
    import struct

    from compress_core.containers import jpeg2000_problem

    tiny_tiles = _codestream(255, 257, 1, 1, 4)
    assert "65,535 tiles" in jpeg2000_problem(tiny_tiles)
    with pytest.raises(ImageDecodeError, match="65,535 tiles"):
        load_image(tiny_tiles)
    wide = _jp2(_codestream(255, 257, 255, 257, 64), 255, 257)
    with pytest.raises(ImageDecodeError, match="64 components"):
        load_image(wide)
    in_icon = _jp2(_codestream(255, 257, 255, 257, 16), 255, 257)
    entry = b"ic10" + struct.pack(">I", 8 + len(in_icon)) + in_icon
    with pytest.raises(ImageDecodeError, match="16 components"):
        load_image(b"icns" + struct.pack(">I", 8 + len(entry)) + entry)
    pixels = photo("coffee", 400, 300)
    for options in ({}, {"tile_size": (128, 128)}, {"no_jp2": True}):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG2000", **options)
        assert jpeg2000_problem(buf.getvalue()) is None
        loaded = load_image(buf.getvalue())
        assert loaded.format == "JPEG2000" and loaded.size == (400, 300)
        assert np.abs(loaded.pixels.astype(int) - pixels).mean() < 3


def _fits(width, height, bits, samples):
    """A FITS file whose picture is tile-compressed (ZCMPTYPE GZIP_1), one tile of
    ``samples``."""
    import gzip

    def card(key, value):
        return f"{key:<8}= {value:>20}".ljust(80).encode()

    def unit(cards):
        block = b"".join(cards) + b"END".ljust(80)
        return block + b" " * (-len(block) % 2880)
    head = unit([card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0")])
    head += unit([card("XTENSION", "'BINTABLE'"), card("BITPIX", "8"), card("NAXIS", "2"),
                  card("NAXIS1", "1"), card("NAXIS2", "1"), card("ZIMAGE", "T"),
                  card("ZCMPTYPE", "'GZIP_1  '"), card("ZBITPIX", str(bits)),
                  card("ZNAXIS", "2"), card("ZNAXIS1", str(width)),
                  card("ZNAXIS2", str(height))])
    return head + b"\x00" + gzip.compress(samples) + b"\x00" * 100


def test_a_tile_compressed_fits_is_refused_unread():
    """Pillow decodes a tile-compressed FITS picture pixel by pixel in Python: 349 KB of
    9,400 x 9,400 32-bit pixels took 46 s and 4.1 GB, status ok (security review 46). Refused
    after opening, before decoding; an uncompressed FITS file is read."""
    from compress_core.containers import fits_compressed

    data = _fits(3000, 3000, 8, bytes(3000 * 3000 * 4))
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "FITS" and fits_compressed(img)
    with pytest.raises(UnsupportedImageError, match="tile-compressed FITS"):
        load_image(data)
    grey = photo("coffee", 40, 30)[..., 0]
    cards = [f"{k:<8}= {v:>20}".ljust(80).encode() for k, v in (
        ("SIMPLE", "T"), ("BITPIX", "8"), ("NAXIS", "2"), ("NAXIS1", "40"), ("NAXIS2", "30"))]
    head = b"".join(cards) + b"END".ljust(80)
    plain = head + b" " * (-len(head) % 2880) + grey[::-1].tobytes()   # (rows bottom up)
    plain += b"\0" * (-len(plain) % 2880)
    with Image.open(io.BytesIO(plain)) as img:
        assert img.format == "FITS" and not fits_compressed(img)
    np.testing.assert_array_equal(load_image(plain).pixels[..., 0], grey)


def test_a_jp2_codestream_box_said_to_run_past_the_file_is_still_checked():
    """openjpeg reads the jp2c box whatever length it states; the box walk stopped at one said
    to run past the end of the file, and its codestream of 65,535 tiles of 1 x 1 was decoded
    unchecked: 179 bytes, 0.95 GB, status ok (diff review 46). Also in an ICNS entry."""
    import struct

    from compress_core.containers import jpeg2000_problem

    stream = _codestream(255, 257, 1, 1, 4)
    whole = _jp2(stream, 255, 257)
    at = whole.index(b"jp2c") - 4
    for extra in (1, 1_000_000):
        longer = whole[:at] + struct.pack(">I", 8 + len(stream) + extra) + whole[at + 4:]
        assert "65,535 tiles" in jpeg2000_problem(longer)
        with pytest.raises(ImageDecodeError, match="65,535 tiles"):
            load_image(longer)
        entry = b"ic10" + struct.pack(">I", 8 + len(longer)) + longer
        assert "65,535 tiles" in jpeg2000_problem(
            b"icns" + struct.pack(">I", 8 + len(entry)) + entry)


def test_a_jp2_codestream_whose_siz_does_not_follow_soc_is_refused():
    """openjpeg skips an unknown marker (and words below 0xFF00) between SOC and SIZ; the SIZ
    check read only SOC+SIZ at the codestream's start: a 0xFF30 there hid 65,535 tiles of
    1 x 1, 0.95 GB, status ok (diff review 46)."""
    from compress_core.containers import jpeg2000_problem

    stream = _codestream(255, 257, 1, 1, 4)
    hidden = _jp2(stream[:2] + b"\xff\x30" + stream[2:], 255, 257)
    assert "SIZ" in jpeg2000_problem(hidden)
    with pytest.raises(ImageDecodeError, match="SIZ"):
        load_image(hidden)


def test_a_jp2_codestream_behind_too_many_boxes_is_refused():
    """openjpeg skips any number of boxes before jp2c; the SIZ check looked through 1,000 and
    let the file through unchecked: 1,000 empty free boxes (8 KB) hid 65,535 tiles of 1 x 1,
    0.95 GB, status ok (diff review 46)."""
    from compress_core.containers import jpeg2000_problem

    whole = _jp2(_codestream(255, 257, 1, 1, 4), 255, 257)
    at = whole.index(b"jp2c") - 4
    padded = whole[:at] + _box(b"free", b"") * 1000 + whole[at:]
    assert "boxes" in jpeg2000_problem(padded)
    with pytest.raises(ImageDecodeError, match="boxes"):
        load_image(padded)


def test_an_icns_is_walked_to_the_size_its_header_declares():
    """Pillow's IcnsFile walks entries while under the size the file's header declares and
    keeps the last of each kind among those; the walk went on to the end of the data, and a
    small ic10 entry past the declared size stood for the 9,000 x 9,000 JPEG 2000 one Pillow
    decoded (2.4 KB, 1.6 GB; diff review 46)."""
    import struct
    from compress_core import containers
    from compress_core.errors import ImageTooLargeError

    big = io.BytesIO()
    Image.new("RGB", (1200, 1200), (90, 120, 200)).save(big, "JPEG2000", no_jp2=True)
    small = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 255, 0)).save(small, "PNG")
    first = b"ic10" + struct.pack(">I", 8 + len(big.getvalue())) + big.getvalue()
    after = b"ic10" + struct.pack(">I", 8 + len(small.getvalue())) + small.getvalue()
    icns = b"icns" + struct.pack(">I", 8 + len(first)) + first + after
    assert containers.icon_pixels(icns) == 1200 * 1200
    with pytest.raises(ImageTooLargeError, match="an icon holding"):
        load_image(icns, max_pixels=1_100_000)


def test_a_tiff_page_without_its_size_is_a_decode_error():
    """Security review 47: a later page without ImageWidth made Pillow's seek raise
    TypeError("Missing dimensions") as the largest page was looked for, which reached the
    caller as a TypeError (the caller's mistake, by Python's convention)."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "TIFF", save_all=True,
                                       append_images=[Image.new("L", (8, 8), 9)])
    data = bytearray(buf.getvalue())
    first = int.from_bytes(data[4:8], "little")
    second = int.from_bytes(data[first + 2 + 12 * int.from_bytes(data[first:first + 2],
                                                                  "little"):][:4], "little")
    for i in range(int.from_bytes(data[second:second + 2], "little")):
        at = second + 2 + 12 * i
        if int.from_bytes(data[at:at + 2], "little") == 256:   # ImageWidth -> tag 255
            data[at:at + 2] = (255).to_bytes(2, "little")
    with pytest.raises(ImageDecodeError, match="page 2: Missing dimensions"):
        load_image(bytes(data))


def test_a_heif_tile_referenced_many_times_is_measured_once(monkeypatch):
    """A grid's tile referenced again and again is one item: its ispe is looked up once, not
    once a reference (2.5 million references to one tile in a 10 MB AVIF took 5.6 s of
    Python before libavif saw it, 0.9 s looked up once; diff review 47), and iref entries of
    kinds the count never reads ('cdsc', 'thmb') are not collected (700,000 of them took 3.6 s
    a walk, and an AVIF is walked twice)."""
    from compress_core import containers

    bomb = _heif_alpha_grid(256, 8, 8)
    calls = []
    real = containers._item_properties
    monkeypatch.setattr(containers, "_item_properties",
                        lambda items, item, kind: calls.append(kind) or real(items, item, kind))
    assert containers.heif_decoded_pixels(bomb) == (64 * 64, 64 * 256 * 256)
    assert calls.count(b"ispe") <= 4
    items = containers._heif_items(bomb)
    assert {kind for kind, _, _ in items["refs"]} <= {b"dimg", b"auxl"}
