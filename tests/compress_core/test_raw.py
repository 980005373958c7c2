"""compress_core.raw: camera RAW files recognised by their bytes and developed through rawpy
(LibRaw). The DNGs are real photos mosaiced as a camera's sensor records them (conftest's
``camera_dng``: linear light, unequal filter gains, an RGGB colour filter array, 12 bits)."""
import io
import sys

import numpy as np
import pytest
from PIL import Image

from compress_core import (
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedImageError,
    compress_image,
    load_image,
)
from compress_core.raw import raw_format

from _core_data import EXIF_UPRIGHT, GRADIENT, encode, photo
from test_xmp import lightroom_packet
from test_xmp import properties as xmp_properties

rawpy = pytest.importorskip("rawpy")

#: What the camera recorded besides the picture: make and model, date, exposure, lens, GPS.
CAMERA_EXIF = {
    0x010F: "TestMake", 0x0110: "TestModel 1", 0x0132: "2024:05:06 07:08:09",
    0x8769: {0x9003: "2024:05:06 07:08:09", 0x829A: 0.004, 0x829D: 2.8, 0xA434: "Test 50mm F1.8"},
    0x8825: {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)},
}
#: Mean absolute error (levels of 255) of the developed picture against the photo, measured
#: 2.2 for this astronaut (1.8 to 3.6 for the other bundled photos but china, 5.4): AHD
#: demosaicing restores two of three colours per pixel and 12 bits round the darks. Without
#: the camera's white balance it was 12.5, with LibRaw's automatic brightening up to 16.
MEAN_ERROR = 4.0

#: The same at half size (``half_size``: each 2x2 filter block one pixel, not demosaiced),
#: against the photo reduced by Lanczos: measured 5.2 for this astronaut (3.4-7.3 for coffee,
#: chelsea and china), where developing whole then reducing is 1.7 (1.4-4.0).
HALF_SIZE_ERROR = 6.0


def test_a_dng_is_developed_upright_with_its_exif(camera_dng):
    """A DNG stored sideways (orientation 6, as a camera held upright writes it): developed
    with the camera's white balance into the photo, upright once; the EXIF it carries
    describes the photo (orientation 1), not the RAW's data layout."""
    upright = photo("astronaut", 384, 256)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # what orientation 6 turns upright
    assert np.array_equal(EXIF_UPRIGHT[6](stored), upright)
    data = camera_dng(stored, orientation=6, exif=CAMERA_EXIF)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(io.BytesIO(data))  # Pillow cannot read it: before, "not a recognised image"
    loaded = load_image(data)
    assert loaded.format == "DNG" and loaded.pixels.shape == (256, 384, 3)
    error = np.abs(loaded.pixels.astype(float) - upright).mean()
    assert error < MEAN_ERROR, error
    assert loaded.icc_profile is None  # sRGB pixels
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "TestMake" and exif[0x0110] == "TestModel 1"
    assert dict(exif.get_ifd(0x8769)) == pytest.approx(CAMERA_EXIF[0x8769])
    assert exif.get_ifd(0x8825)[2] == (48.0, 51.0, 29.0)
    layout = {256, 257, 262, 273, 33421, 33422, 50706, 50721, 50728}
    assert not layout & set(exif)


def test_a_dng_of_which_half_is_needed_is_developed_at_half_size(camera_dng):
    """LibRaw's ``half_size`` (one pixel per 2x2 filter block, no demosaicing) where the caller
    needs half the picture or less: asked with the upright size, the picture upright and
    close to the photo reduced; ``original_size`` the RAW's own."""
    upright = photo("astronaut", 384, 256)
    data = camera_dng(np.ascontiguousarray(np.rot90(upright, 1)), orientation=6)
    asked = []

    def needed(w, h):
        asked.append((w, h))
        return (150, 100)

    loaded = load_image(data, needed_size=needed)
    assert asked == [(384, 256)]
    assert loaded.size == (192, 128) and loaded.original_size == (384, 256)
    reduced = np.asarray(Image.fromarray(upright).resize((192, 128), Image.LANCZOS))
    error = np.abs(loaded.pixels.astype(float) - reduced).mean()
    assert error < HALF_SIZE_ERROR, error
    whole = load_image(data, needed_size=lambda w, h: (200, 100))  # more than half the width
    assert whole.size == whole.original_size == (384, 256)


def test_a_dng_through_compress_keeps_its_camera_and_date(camera_dng):
    upright = photo("coffee", 192)
    result = compress_image(camera_dng(upright, exif=CAMERA_EXIF), scale=0.5,
                            energy_function=GRADIENT)
    assert result.input_format == "DNG" and result.format == "JPEG"
    assert result.original_size == (192, 128) and result.size == (96, 64)
    out = Image.open(io.BytesIO(result.data))
    exif = out.getexif()
    assert exif[0x010F] == "TestMake" and exif.get(0x0112, 1) == 1
    assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert "icc_profile" not in out.info


def test_a_dngs_keywords_and_rights_travel_as_any_inputs_xmp(camera_dng):
    """Lightroom keeps a DNG's keywords, caption and rights in its XMP packet (tag 700):
    compact carries them, and the packet's orientation (the RAW's, LibRaw applied it) is not."""
    result = compress_image(camera_dng(photo("coffee", 192), exif={700: lightroom_packet(3)}),
                            scale=0.5, format="webp", energy_function=GRADIENT)
    props = xmp_properties(Image.open(io.BytesIO(result.data)).info["xmp"])
    assert props[("dc", "subject")] == "market|Lyon|people"
    assert props[("dc", "rights")] == "(c) 2026 Ana Lopes"
    assert ("tiff", "Orientation") not in props


def test_the_pixel_limit_holds_before_developing(camera_dng, monkeypatch):
    """The size comes from LibRaw's ``sizes``: nothing is unpacked for a RAW over the limit."""
    unpacked = []

    class Watched(rawpy.RawPy):
        def unpack(self):
            unpacked.append(True)
            return super().unpack()

    monkeypatch.setattr(rawpy, "RawPy", Watched)
    data = camera_dng(np.ascontiguousarray(np.rot90(photo("coffee", 120), 1)), orientation=6)
    with pytest.raises(ImageTooLargeError, match=r"120x80 = 9,600 pixels exceeds the limit of "
                                                  r"9,599 \(max_pixels\)"):
        load_image(data, max_pixels=9_599)
    assert unpacked == []
    assert load_image(data, max_pixels=9_600).size == (120, 80)
    assert unpacked == [True]


def test_a_truncated_raw_is_an_error_naming_the_file(camera_dng, tmp_path):
    data = camera_dng(photo("coffee", 120))
    path = tmp_path / "IMG_0001.DNG"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError, match=r"IMG_0001\.DNG: cannot develop the camera RAW "
                                               r"file \(DNG\), damaged or truncated: LibRaw "
                                               r"says LibRawIOError"):
        load_image(str(path))


@pytest.mark.parametrize("head, kind", [
    (b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom", "CR3"),
    (b"FUJIFILMCCD-RAW 0201FF129502X-T3", "RAF"),
    (b"IIRO\x08\0\0\0", "ORF"),
    (b"IIRS\x08\0\0\0", "ORF"),
    (b"MMOR\0\0\0\x08", "ORF"),
    (b"IIU\0\x08\0\0\0", "RW2"),
    (b"II*\0\x10\0\0\0CR\x02\0", "CR2"),
])
def test_raw_files_are_recognised_by_their_bytes(head, kind, tmp_path):
    """Non-TIFF RAWs (and CR2) by their signatures (LibRaw's and ExifTool's tests); a file
    that has the signature but not the data is LibRaw's error, naming the file."""
    data = head + bytes(4000)
    assert raw_format(data) == kind
    path = tmp_path / "photo.jpg"  # the name does not matter
    path.write_bytes(data)
    with pytest.raises((UnsupportedImageError, ImageDecodeError),
                       match=rf"photo\.jpg: .*camera RAW file \({kind}\)"):
        load_image(str(path))


def test_pictures_are_not_raw(camera_dng):
    pixels = photo("coffee", 64)
    for fmt in ("JPEG", "PNG", "TIFF", "WEBP"):
        assert raw_format(encode(pixels, fmt)) is None, fmt
    assert raw_format(camera_dng(pixels)) == "DNG"


def test_without_rawpy_a_raw_names_the_package(camera_dng, monkeypatch):
    data = camera_dng(photo("coffee", 64))
    monkeypatch.setitem(sys.modules, "rawpy", None)  # import fails
    with pytest.raises(UnsupportedImageError, match=r"<bytes>: a camera RAW file \(DNG\); "
                       r"developing it needs the optional package rawpy \(pip install rawpy\)"):
        load_image(data)


def test_a_needed_size_that_is_no_size_is_refused_before_developing(camera_dng):
    """(0, 0) had the RAW developed at half size without a word."""
    data = camera_dng(photo("astronaut", 384, 256))
    with pytest.raises(ValueError, match=r"needed_size\(384, 256\)'s width must be a positive"):
        load_image(data, needed_size=lambda w, h: (0, 0))
