"""compress_core.colour: which profiles describe sRGB, and CMYK / grey profiles applied to the
pixels on decoding (an RGB output cannot carry them)."""
import io
import logging
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from compress_core import compress_image, load_image
from compress_core.colour import (describes_srgb, device_to_srgb, has_srgb_primaries,
                                  profile_space, rgb_to_srgb, srgb_curves)
from compress_core.nclx import png_gamma_icc

from _core_data import (GRADIENT, _curve, _icc, _xyz, curve_icc, decode, gamma_icc, gray_icc,
                        photo, sample_file, srgb_icc, wide_icc)


def _srgb_encode(linear):
    """sRGB's transfer function (IEC 61966-2-1), written out: 8-bit linear light to 8-bit sRGB."""
    x = np.asarray(linear, dtype=float) / 255.0
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055) * 255.0


def _cmyk_profile() -> bytes:
    """A real CMYK press profile (libvips ships one; 961,644 bytes)."""
    pyvips = pytest.importorskip("pyvips")
    return bytes(pyvips.Operation.call("profile_load", "cmyk"))


def test_describes_srgb_tells_the_profiles_cameras_embed_from_wide_gamut_ones():
    china = decode(sample_file("china.jpg")).info["icc_profile"]  # sRGB IEC61966-2.1
    adobe = decode(sample_file("rocket.jpg")).info["icc_profile"]  # Adobe RGB (1998)
    assert len(china) == 3144 and describes_srgb(china)
    assert describes_srgb(srgb_icc())  # Little CMS's own sRGB, other bytes
    assert not describes_srgb(adobe) and not describes_srgb(gamma_icc(1.8))
    assert not describes_srgb(gamma_icc(2.2))  # a pure 2.2 power curve is not sRGB's
    assert not describes_srgb(gray_icc(2.2)) and not describes_srgb(b"not a profile" * 20)
    assert profile_space(adobe) == "RGB" and profile_space(gray_icc(1.0)) == "GRAY"
    assert profile_space(b"garbage") is None and profile_space(None) is None


def test_describes_srgb_is_within_one_level():
    """A pure gamma 2.2 curve on sRGB's primaries is near sRGB's piecewise curve but not it
    (several levels apart in the shadows): not sRGB, so compact applies it to the pixels
    rather than dropping it (review 51: a tolerance of 8 levels survived every test)."""
    assert describes_srgb(srgb_icc()) is True
    assert describes_srgb(gamma_icc(2.2)) is False
    x = np.linspace(0, 1, 1024)
    srgb = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    # sRGB's curve, its light 3% lower: a few levels darker in the highlights
    assert describes_srgb(curve_icc("sRGB, 3% darker", _table(0.97 * srgb))) is False


def test_has_srgb_primaries_tells_a_tone_curve_from_a_wider_gamut():
    """A profile with sRGB's primaries and another curve (a linear-light PNG's, gamma 1.8)
    holds no colour sRGB lacks; Adobe RGB (whose red is sRGB's, its green not) and Display P3
    do; a grey or unreadable profile is no RGB one."""
    china = decode(sample_file("china.jpg")).info["icc_profile"]
    adobe = decode(sample_file("rocket.jpg")).info["icc_profile"]
    assert all(has_srgb_primaries(icc) for icc in (
        gamma_icc(1.0), gamma_icc(1.8), gamma_icc(2.6), china, srgb_icc()))
    assert not any(has_srgb_primaries(icc) for icc in (
        adobe, wide_icc(1.0), wide_icc(2.2), gray_icc(1.0), b"not a profile" * 20))


def test_rgb_to_srgb_converts_colour_and_keeps_alpha():
    rgba = np.dstack([photo("coffee", 64), np.full((43, 64), 77, np.uint8)])
    assert rgba.shape == (43, 64, 4)
    srgb = rgb_to_srgb(rgba, gamma_icc(1.0))  # linear-light RGB
    assert srgb.shape == rgba.shape and (srgb[..., 3] == 77).all()
    expected = _srgb_encode(rgba[..., :3])
    assert np.abs(srgb[..., :3] - expected).max() <= 2
    assert rgb_to_srgb(rgba, b"not a profile" * 20) is None


def test_a_grey_profile_is_applied_to_grey_pixels():
    """A grey scan tagged with a linear (gamma 1.0) profile: its values are linear light, and
    a colour-managed viewer shows 128 as sRGB 188. Carried onto the RGB output the grey profile
    would be invalid (viewers ignore it and show 128)."""
    grey = photo("camera", 96)[..., 0]
    src = io.BytesIO()
    Image.fromarray(grey, "L").save(src, "PNG", icc_profile=gray_icc(1.0))
    loaded = load_image(src.getvalue())
    assert loaded.icc_profile is None and loaded.pixels.shape[2] == 3
    lit = grey >= 8  # (the darkest linear levels: Little CMS's 8-bit transform is coarser there)
    assert np.abs(loaded.pixels[..., 0] - _srgb_encode(grey))[lit].max() <= 2
    assert np.abs(loaded.pixels[..., 0] - _srgb_encode(grey)).mean() < 0.6
    # with transparency: the alpha band is kept
    la = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(np.full_like(grey, 200))])
    src = io.BytesIO()
    la.save(src, "PNG", icc_profile=gray_icc(1.0))
    loaded = load_image(src.getvalue())
    assert loaded.pixels.shape[2] == 4 and (loaded.pixels[..., 3] == 200).all()
    assert np.abs(loaded.pixels[..., 1] - _srgb_encode(grey))[lit].max() <= 2


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_grey_profile_is_applied_to_16_bit_grey_pixels(fmt):
    """Scanners write 16-bit grey files with a linear profile too; Pillow opens them as I;16.
    The profile was dropped with a warning ("does not describe its I;16 pixels") and the
    linear values shown as sRGB: the whole picture too dark (mean 145 for 187)."""
    grey = photo("camera", 96)[..., 0]
    src = io.BytesIO()
    Image.fromarray(grey.astype(np.uint16) * 257).save(src, fmt, icc_profile=gray_icc(1.0))
    assert Image.open(io.BytesIO(src.getvalue())).mode.startswith("I;16")
    loaded = load_image(src.getvalue())
    assert loaded.icc_profile is None and loaded.pixels.shape[2] == 3
    lit = grey >= 8
    assert np.abs(loaded.pixels[..., 0] - _srgb_encode(grey))[lit].max() <= 2
    assert np.abs(loaded.pixels[..., 0] - _srgb_encode(grey)).mean() < 0.6


def test_a_cmyk_jpeg_with_its_profile_is_written_in_srgb_without_it():
    """A CMYK JPEG from a print workflow: the pixels were converted naively and the 940 KiB
    CMYK profile was carried onto the RGB output (invalid there, and 100x the thumbnail)."""
    cmyk_icc = _cmyk_profile()
    original = photo("astronaut", 256)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    cmyk = ImageCms.ImageCmsProfile(io.BytesIO(cmyk_icc))
    press = ImageCms.profileToProfile(Image.fromarray(original), srgb, cmyk, outputMode="CMYK")
    src = io.BytesIO()
    press.save(src, "JPEG", quality=95, icc_profile=cmyk_icc)
    loaded = load_image(src.getvalue())
    assert loaded.icc_profile is None and loaded.pixels.shape == original.shape
    naive = np.asarray(decode(src.getvalue()).convert("RGB"), dtype=float)
    managed_error = np.abs(loaded.pixels - original.astype(float)).mean()
    assert managed_error < 0.75 * np.abs(naive - original).mean()
    result = compress_image(src.getvalue(), scale=0.5, energy_function=GRADIENT)
    assert result.compressed_bytes < 50_000 and "icc_profile" not in decode(result.data).info


def test_a_profile_of_another_space_than_the_pixels_is_dropped_with_a_warning(caplog):
    img = Image.fromarray(photo("coffee", 64))
    with caplog.at_level(logging.WARNING, logger="compress_core.colour"):
        out, icc = device_to_srgb(img, gray_icc(1.0), "coffee.png")
    assert out is img and icc is None
    assert "coffee.png: a colour profile of" in caplog.text and "(GRAY)" in caplog.text
    garbage = b"not a profile" * 20
    assert device_to_srgb(img, garbage, "x") == (img, garbage)  # RGB: viewers ignore it
    assert device_to_srgb(img, gamma_icc(1.8), "x")[1] == gamma_icc(1.8)
    grey = Image.fromarray(photo("camera", 64)[..., 0], "L")
    assert device_to_srgb(grey, garbage, "x") == (grey, None)


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_an_rgb_profile_on_grey_or_cmyk_pixels_is_dropped(mode, caplog):
    """An RGB profile describes no grey or CMYK pixels (libpng refuses it, Chrome ignores it):
    a grey JPEG carrying a linear-light sRGB profile came out with its mean lifted from 129 to
    175, a CMYK one's from 115 to 155, under every metadata value (security review 48)."""
    grey = photo("camera", 128)[..., 0]
    img = Image.fromarray(grey, "L").convert(mode)
    src = io.BytesIO()
    img.save(src, "JPEG", quality=95, icc_profile=gamma_icc(1.0))
    untagged = io.BytesIO()
    img.save(untagged, "JPEG", quality=95)
    with caplog.at_level(logging.WARNING, logger="compress_core.colour"):
        loaded = load_image(src.getvalue())
    assert loaded.icc_profile is None
    assert np.array_equal(loaded.pixels, load_image(untagged.getvalue()).pixels)
    assert f"does not describe its {mode} pixels" in caplog.text and "(RGB)" in caplog.text
    for metadata in ("keep", "none"):
        out = decode(compress_image(src.getvalue(), scale=0.5, energy_function=GRADIENT,
                                    metadata=metadata, format="png").data)
        assert "icc_profile" not in out.info
        assert abs(np.asarray(out, dtype=float).mean() - grey.mean()) < 6

def test_describes_srgb_remembers_answers_by_digest_and_keeps_a_bounded_number(monkeypatch):
    """A worker meets few profiles but may run for days: answers are kept by SHA-256 (32 bytes,
    not the profile, which can weigh a megabyte), the oldest dropped past the bound."""
    from compress_core import colour

    monkeypatch.setattr(colour, "_KNOWN", {})
    monkeypatch.setattr(colour, "_KNOWN_PROFILES", 3)
    srgb = srgb_icc()  # (made once: its header holds the time it was made)
    profiles = [gamma_icc(1.0 + 0.1 * i) for i in range(5)] + [srgb]
    answers = [describes_srgb(p) for p in profiles]
    assert answers == [False] * 5 + [True]
    assert len(colour._KNOWN) == 3 and all(len(k[1]) == 32 for k in colour._KNOWN)
    calls = []
    monkeypatch.setattr(colour, "_maps_to_itself", lambda icc: calls.append(icc) or False)
    assert describes_srgb(srgb) is True and calls == []  # remembered
    assert describes_srgb(profiles[0]) is False and calls == [profiles[0]]  # dropped, asked again


def _para(function: int, *params: float) -> bytes:
    return (b"para" + bytes(4) + struct.pack(">HH", function, 0)
            + b"".join(struct.pack(">i", round(p * 65536)) for p in params))


def _table(values) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">I", len(values)) + b"".join(
        struct.pack(">H", round(v * 65535)) for v in values)


@pytest.mark.parametrize("icc", [
    gamma_icc(1.0), gamma_icc(1.8),                                   # curv, one gamma
    curve_icc("table 1.8", _table(np.linspace(0, 1, 1024) ** 1.8)),   # curv, a table
    curve_icc("table linear", _table([0.0, 1.0])),
    curve_icc("identity", b"curv" + bytes(4) + struct.pack(">I", 0)),  # curv of no entries
    png_gamma_icc(1.0),                                               # para 0 (a PNG's gAMA)
    curve_icc("BT.709", _para(3, 1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081)),
    curve_icc("para 1", _para(1, 2.0, 1.1, -0.1)),
    curve_icc("para 4", _para(4, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045, 0.01, 0.0)),
], ids=["curv-1.0", "curv-1.8", "table-1.8", "table-2", "identity", "para0", "para3-709",
        "para1", "para4"])
def test_srgb_curves_read_the_tone_curves_as_little_cms_does(icc):
    """The curves read from the profile, at the 256 values an 8-bit picture holds, give the
    colours Little CMS gives (within one level, its own rounding)."""
    curves = srgb_curves(icc)
    assert curves.shape == (3, 65536) and curves.min() >= 0 and curves.max() <= 1
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    by_lcms = rgb_to_srgb(ramp, icc)[0].astype(float)
    ours = _srgb_encode(255 * curves[:, ::257].T)
    assert np.abs(ours - by_lcms).max() <= 1.0


def test_srgb_curves_are_none_for_srgb_other_primaries_grey_and_broken_profiles():
    assert srgb_curves(srgb_icc()) is None          # sRGB: nothing to convert
    assert srgb_curves(wide_icc(1.0)) is None       # Adobe RGB's primaries: the profile travels
    assert srgb_curves(gray_icc(1.0)) is None
    assert srgb_curves(b"") is None and srgb_curves(b"garbage" * 40) is None
    unknown = curve_icc("unknown curve type", b"sf32" + bytes(16))
    assert srgb_curves(unknown) is None
    assert srgb_curves(curve_icc("para 2", _para(2, 1.5, 1.05, -0.05, 0.02))) is None
    # a black above zero: Little CMS maps it to sRGB's black, the curves as written would lift
    # it (diff review 42: 39 levels for a table starting at 2% light)
    lifted = curve_icc("lifted", _table(0.02 + 0.98 * np.linspace(0, 1, 256) ** 2.2))
    assert srgb_curves(lifted) is None
    offset = curve_icc("para 4, offset", _para(4, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92,
                                                0.04045, 0.02, 0.02))
    assert srgb_curves(offset) is None


def test_srgb_curves_read_a_gamma_as_the_icc_writes_it_and_leave_lookup_tables_to_little_cms():
    """A ``curv`` of one entry is a u8Fixed8 gamma (461/256 is 1.80, not 1.81): the 16-bit
    path (samples16) reads it exactly, where the 8-bit check above allows a level. A profile
    with lookup tables (A2B0, which Little CMS applies over the matrix and curves) is not
    read as its curves."""
    x = np.arange(65536) / 65535.0
    np.testing.assert_allclose(srgb_curves(gamma_icc(1.8)), np.stack([x ** (461 / 256)] * 3),
                               rtol=0, atol=1e-12)
    tagged = _icc(b"RGB ", "gamma 1.8 with a lookup table", [
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", _curve(1.8)), (b"gTRC", _curve(1.8)), (b"bTRC", _curve(1.8)),
        (b"A2B0", b"mft2" + bytes(48))])
    assert has_srgb_primaries(tagged) and srgb_curves(tagged) is None


def test_float_pipeline_of_many_elements_is_not_evaluated():
    """An RGB profile whose D2B0-2 tags are a multiProcessElements pipeline of 2,000 elements
    (its position table points them all at two bodies: 16 KB) took 8 s a transform, 4 ms an
    element (a 1 MiB one, 2.3 KB in a PNG's iCCP: ~9 minutes; security review 46). Profiles are
    read without their D2B/B2D tags, as skcms reads them: this one (of 200 elements here, 1.5 s
    before), which has nothing else to convert with, is one Little CMS cannot apply (the
    pixels are written as they are)."""

    def s15(v):
        return struct.pack(">i", int(round(v * 65536)))
    matf = (b"matf" + bytes(4) + struct.pack(">HH", 3, 3)
            + struct.pack(">9f", .9, .05, .05, .05, .9, .05, .05, .05, .9)
            + struct.pack(">3f", 0, 0, 0))
    n = 200
    mpet = (b"mpet" + bytes(4) + struct.pack(">HHI", 3, 3, n)
            + struct.pack(">II", 16 + 8 * n, len(matf)) * n + matf)
    wtpt = b"XYZ " + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249)
    start = 128 + 4 + 12 * 4
    table = struct.pack(">I", 4) + struct.pack(">4sII", b"wtpt", start, len(wtpt)) + b"".join(
        struct.pack(">4sII", sig, start + len(wtpt), len(mpet))
        for sig in (b"D2B0", b"D2B1", b"D2B2"))
    body = table + wtpt + mpet
    header = (struct.pack(">I", 128 + len(body)) + b"lcms" + struct.pack(">I", 0x04300000)
              + b"mntrRGB XYZ " + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
              + s15(0.9642) + s15(1.0) + s15(0.8249) + b"lcms" + bytes(44))
    icc = header + body
    assert describes_srgb(icc) is False
    assert rgb_to_srgb(np.full((4, 4, 3), 200, np.uint8), icc) is None
    # the profile the output carries is the one read: its pipelines no longer name D2B/B2D
    # tags (the output had carried them to whatever reads it next)
    _, kept = device_to_srgb(Image.new("RGB", (4, 4)), icc, "x")
    assert len(kept) == len(icc) and b"D2B" not in kept[128:180] and b"d2b0" in kept[128:180]
    # and a Profile ID (the MD5 of the profile as written) no longer holds: it is zeroed, which
    # says none was computed (diff review 47)
    with_id = icc[:84] + bytes(range(1, 17)) + icc[100:]
    _, kept = device_to_srgb(Image.new("RGB", (4, 4)), with_id, "x")
    assert kept[84:100] == bytes(16) and kept[:84] == icc[:84] and kept[100:] != icc[100:]


def test_an_srgb_profile_on_grey_pixels_is_dropped_without_a_warning(caplog):
    """sharp and libvips write sRGB profiles on grey JPEGs: dropping it changes nothing, and a
    warning per picture of a black-and-white batch said nothing (diff review 48)."""
    grey = photo("camera", 64)[..., 0]
    src = io.BytesIO()
    Image.fromarray(grey, "L").save(src, "JPEG", quality=95,
                                    icc_profile=ImageCms.ImageCmsProfile(
                                        ImageCms.createProfile("sRGB")).tobytes())
    with caplog.at_level(logging.WARNING, logger="compress_core.colour"):
        loaded = load_image(src.getvalue())
    assert loaded.icc_profile is None and not caplog.records
