"""compress_core.metadata: what an output carries of its input's EXIF block and colour profile
(option ``metadata``), on the photo files scikit-learn and scikit-image ship."""
import io

import numpy as np
import pytest
from PIL import ExifTags, Image

from compress_core import compress_image, load_image
from compress_core.colour import rgb_to_srgb
from compress_core.metadata import LARGEST_VALUE, MAKER_NOTE, carried, compact_exif

from _core_data import GRADIENT, decode, gamma_icc, photo, sample_file

GPS = ExifTags.IFD.GPSInfo
EXIF = ExifTags.IFD.Exif


def camera_exif(maker_note: int = 30_000) -> bytes:
    """An EXIF block as cameras write one: camera and date in the main directory, exposure, the
    capture time and ``maker_note`` bytes of private data in the Exif directory, a position in
    the GPS directory."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Canon", "EOS R6", "2026:07:14 09:30:00"
    exif[0x8298] = "(c) Ana"  # copyright
    sub = exif.get_ifd(EXIF)
    sub[0x9003] = "2026:07:14 09:30:00"  # DateTimeOriginal
    sub[0x829A] = 1 / 250  # exposure time
    sub[0xA434] = "RF24-105mm F4 L IS USM"  # lens model
    sub[MAKER_NOTE] = bytes(range(256)) * (maker_note // 256)
    gps = exif.get_ifd(GPS)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    return exif.tobytes()


def camera_jpeg(icc=None, exif=None, pixels=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 384) if pixels is None else pixels).save(
        buf, "JPEG", quality=92, **{k: v for k, v in (("icc_profile", icc), ("exif", exif)) if v})
    return buf.getvalue()


def test_compact_exif_drops_maker_notes_and_large_values_and_keeps_what_people_use():
    block = camera_exif()
    padded = Image.Exif()
    padded.load(block)
    padded.get_ifd(EXIF)[0x9286] = b"ASCII\0\0\0" + b" " * 2000  # a padded UserComment
    compact = compact_exif(padded.tobytes())
    assert len(compact) < 400 < 30_000 < len(block)
    kept = Image.Exif()
    kept.load(compact)
    assert (kept[0x010F], kept[0x0110], kept[0x8298]) == ("Canon", "EOS R6", "(c) Ana")
    sub = kept.get_ifd(EXIF)
    assert sub[0x9003] == "2026:07:14 09:30:00" and sub[0xA434] == "RF24-105mm F4 L IS USM"
    assert MAKER_NOTE not in sub and 0x9286 not in sub
    assert kept.get_ifd(GPS)[1] == "N"
    small = Image.Exif()
    small[0x010F] = "Canon"
    assert compact_exif(small.tobytes()) == small.tobytes()  # nothing to drop: the same bytes
    assert compact_exif(None) is None and compact_exif(b"") is None
    assert compact_exif(b"Exif\0\0garbage") == b"Exif\0\0garbage"  # unreadable: as it came
    assert LARGEST_VALUE == 1024


def test_compact_drops_the_srgb_profile_cameras_embed_and_the_output_looks_the_same():
    """china.jpg carries the 3,144-byte sRGB IEC61966-2.1 profile: under ``keep`` it was about
    half of a 128-pixel thumbnail. Viewers show an untagged picture as sRGB: same pixels."""
    src = sample_file("china.jpg")
    kw = dict(target_width=128, target_height=128, energy_function=GRADIENT)
    keep = compress_image(src, metadata="keep", **kw)
    compact = compress_image(src, **kw)  # the default
    assert len(decode(keep.data).info["icc_profile"]) == 3144
    assert "icc_profile" not in decode(compact.data).info
    assert keep.compressed_bytes - compact.compressed_bytes >= 3144
    assert compact.compressed_bytes < 0.6 * keep.compressed_bytes
    assert np.array_equal(np.asarray(decode(keep.data)), np.asarray(decode(compact.data)))
    assert compact.params.get("metadata") is None and keep.params["metadata"] == "keep"


def test_compact_keeps_a_wide_gamut_profile_and_none_converts_the_pixels_to_srgb():
    """rocket.jpg is Adobe RGB (1998): dropping its profile would dull the colours, so compact
    keeps it; ``none`` converts the pixels to sRGB and writes no profile."""
    src = sample_file("rocket.jpg")
    adobe = decode(src).info["icc_profile"]
    kw = dict(scale=0.25, energy_function=GRADIENT)
    compact = compress_image(src, **kw)
    assert decode(compact.data).info["icc_profile"] == adobe
    bare = compress_image(src, metadata="none", **kw)
    assert "icc_profile" not in decode(bare.data).info and not decode(bare.data).getexif()
    loaded = load_image(src)
    expected = rgb_to_srgb(loaded.pixels, adobe)
    assert np.abs(expected.astype(int) - loaded.pixels).max() > 20  # the conversion matters
    # same geometry: the written pixels are the sRGB ones, within the encoding's loss
    small = np.asarray(Image.fromarray(expected).resize(bare.size, Image.LANCZOS), dtype=float)
    unconverted = np.asarray(Image.fromarray(loaded.pixels).resize(bare.size, Image.LANCZOS),
                             dtype=float)
    written = np.asarray(decode(bare.data).convert("RGB"), dtype=float)
    assert np.abs(written - small).mean() < 0.6 * np.abs(written - unconverted).mean()


def test_exif_under_each_mode_in_a_thumbnail():
    """A camera's 30 KB of maker notes made a 256-pixel thumbnail several times its pixels'
    size; compact keeps the date, camera, lens and position without them."""
    src = camera_jpeg(exif=camera_exif())
    kw = dict(target_width=256, target_height=256, energy_function=GRADIENT)
    results = {mode: compress_image(src, metadata=mode, **kw) for mode in ("keep", "compact", "none")}
    exifs = {mode: decode(r.data).getexif() for mode, r in results.items()}
    assert MAKER_NOTE in exifs["keep"].get_ifd(EXIF)
    assert MAKER_NOTE not in exifs["compact"].get_ifd(EXIF)
    assert exifs["compact"].get_ifd(EXIF)[0x9003] == "2026:07:14 09:30:00"
    assert exifs["compact"].get_ifd(GPS)[1] == "N" and exifs["compact"][0x010F] == "Canon"
    assert not exifs["none"]
    sizes = {mode: r.compressed_bytes for mode, r in results.items()}
    assert sizes["keep"] > 30_000 and sizes["compact"] < sizes["keep"] / 3
    assert sizes["none"] < sizes["compact"] < sizes["none"] + 600


def test_carried_leaves_keep_and_bare_inputs_alone():
    loaded = load_image(camera_jpeg(icc=gamma_icc(1.8), exif=camera_exif(2000)))
    assert carried(loaded, "keep") is loaded
    bare = load_image(photo("coffee", 64))
    assert carried(bare, "none") is bare
    with pytest.raises(ValueError, match="metadata must be one of"):
        carried(loaded, "strip")
