"""compress_core.samples16: 16-bit PNGs and TIFFs whose 8-bit reading loses the picture (linear
light's shadows, a 16-bit transparent colour) are read from their 16-bit samples; every other
picture keeps Pillow's reading."""
import io
import logging
import struct
import sys
import zlib

import cv2
import numpy as np
import pytest
import pyvips
import tifffile
from PIL import Image

from compress_core import compress_image, load_image
from compress_core.samples16 import deep_pixels

from _core_data import GRADIENT, gamma_icc, photo, wide_icc
from test_nclx import chrm, gama

P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290))


def _chunk(name: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + name + body
            + struct.pack(">I", zlib.crc32(name + body) & 0xFFFFFFFF))


def png16(samples: np.ndarray, interlace: bool = False, **chunks) -> bytes:
    """A 16-bit PNG of ``samples`` (uint16, (H, W), (H, W, 3) or (H, W, 4)), written by OpenCV
    (or libvips where ``interlace``: Adam7), with chunks (name -> payload) after its IHDR."""
    if interlace:
        bands = 1 if samples.ndim == 2 else samples.shape[2]
        image = pyvips.Image.new_from_memory(np.ascontiguousarray(samples).tobytes(),
                                             samples.shape[1], samples.shape[0], bands, "ushort")
        if bands >= 3:
            image = image.copy(interpretation="rgb16")
        data = image.pngsave_buffer(interlace=True, bitdepth=16, keep="none")
    else:
        order = samples if samples.ndim == 2 else samples[..., [2, 1, 0, 3][:samples.shape[2]]]
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(order))
        assert ok
        data = encoded.tobytes()
    extra = b"".join(_chunk(name.encode(), body) for name, body in chunks.items())
    return data[:33] + extra + data[33:]


def iccp(profile: bytes) -> bytes:
    """An iCCP chunk's payload: a name, compression method 0, the zlib-compressed profile."""
    return b"linear\0\0" + zlib.compress(profile)


def linear_samples(pixels: np.ndarray) -> np.ndarray:
    """8-bit sRGB ``pixels`` as 16-bit linear-light samples (the same light)."""
    v = pixels.astype(np.float64) / 255
    light = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return np.round(light * 65535).astype(np.uint16)


def shadow_levels(pixels: np.ndarray, below: int = 40) -> int:
    return len(np.unique(pixels[pixels < below]))


@pytest.mark.parametrize("interlace, chunks", [
    (False, dict(gAMA=gama(1.0))), (True, dict(gAMA=gama(1.0))),
    (False, dict(iCCP=iccp(gamma_icc(1.0)))),                 # GIMP's and Krita's linear sRGB
    (False, dict(iCCP=iccp(gamma_icc(1.0)), gAMA=gama(0.45455))),   # (iCCP rules over gAMA)
], ids=["gAMA", "gAMA-interlaced", "iCCP", "iCCP-and-gAMA"])
def test_a_linear_light_16_bit_png_keeps_its_shadows(interlace, chunks):
    """Cut to 8 bits before its curve was applied, the linear-light astronaut kept 6 levels
    below level 40 (its sRGB original: 40) and came out up to 12 levels off there."""
    pixels = photo("astronaut", 256)
    data = png16(linear_samples(pixels), interlace=interlace, **chunks)
    loaded = load_image(data)
    assert loaded.icc_profile is None and not loaded.as_stored
    assert np.abs(loaded.pixels.astype(int) - pixels).max() <= 1
    assert shadow_levels(loaded.pixels) >= shadow_levels(pixels) - 1
    # the 8-bit reading, for comparison: Pillow's high bytes through the same curve
    eight = Image.open(io.BytesIO(data)).convert("RGB")
    cut = np.round(255 * _srgb((np.asarray(eight) / 255.0))).astype(int)
    assert np.abs(cut - pixels).max() >= 8 and shadow_levels(cut) <= 12


def _srgb(light):
    return np.where(light <= 0.0031308, 12.92 * light, 1.055 * light ** (1 / 2.4) - 0.055)


def test_a_16_bit_grey_png_and_grey_with_alpha_on_a_curve():
    grey = photo("camera", 256)
    if grey.ndim == 3:
        grey = grey[..., 0]
    samples = linear_samples(grey)
    loaded = load_image(png16(samples, gAMA=gama(1.0)))
    assert loaded.pixels.shape == grey.shape + (3,)
    assert np.abs(loaded.pixels.astype(int) - grey[..., None]).max() <= 1
    # grey and alpha (libvips writes it): the alpha rounded to 8 bits, the grey converted
    alpha = np.tile(np.linspace(0, 65535, grey.shape[1]).astype(np.uint16), (grey.shape[0], 1))
    both = load_image(png16(np.dstack([samples, alpha]), interlace=True, gAMA=gama(1.0)))
    assert both.pixels.shape == grey.shape + (4,)
    assert np.abs(both.pixels[..., 0].astype(int) - grey).max() <= 1
    assert np.abs(both.pixels[..., 3].astype(int) - alpha / 257.0).max() <= 0.5


def test_a_curve_of_gamma_1_8_is_applied_at_16_bits():
    pixels = photo("coffee", 128)
    light = np.where(pixels / 255.0 <= 0.04045, pixels / 255.0 / 12.92,
                     ((pixels / 255.0 + 0.055) / 1.055) ** 2.4)
    samples = np.round(65535 * light ** (1 / 1.8)).astype(np.uint16)
    loaded = load_image(png16(samples, gAMA=gama(1 / 1.8)))
    assert np.abs(loaded.pixels.astype(int) - pixels).max() <= 1


def test_a_16_bit_transparent_colour_is_transparent():
    """Pillow compared the tRNS chunk's 16-bit colour with its 8-bit samples: the colour was
    written opaque."""
    samples = np.zeros((48, 64, 3), np.uint16)
    samples[...] = (40000, 20000, 1000)
    samples[12:36, 16:48] = (5000, 60000, 30000)
    data = png16(samples, tRNS=struct.pack(">HHH", 5000, 60000, 30000))
    assert Image.open(io.BytesIO(data)).convert("RGBA").getpixel((20, 20))[3] == 255  # (Pillow)
    loaded = load_image(data)
    assert loaded.pixels.shape == (48, 64, 4)
    alpha = loaded.pixels[..., 3]
    assert (alpha[12:36, 16:48] == 0).all() and (alpha == 0).sum() == 24 * 32
    assert loaded.pixels[0, 0].tolist() == [156, 78, 4, 255]   # (40000 / 257 ... rounded)
    # the written output keeps it transparent
    out = compress_image(data, scale=1.0, format="png", energy_function=GRADIENT)
    written = np.asarray(Image.open(io.BytesIO(out.data)).convert("RGBA"))
    assert (written[12:36, 16:48, 3] == 0).all() and (written[:12, :, 3] == 255).all()


def test_an_upright_turn_from_exif_applies_to_the_16_bit_reading():
    pixels = photo("astronaut", 96)[:, :64]   # 96 x 64: a turn shows in the shape
    exif = Image.Exif()
    exif[0x0112] = 6   # turned 90 degrees clockwise to be shown
    # (an eXIf chunk holds the TIFF block alone, as Pillow writes it: no "Exif\0\0" header)
    data = png16(linear_samples(pixels), gAMA=gama(1.0), eXIf=exif.tobytes()[6:])
    loaded = load_image(data)
    expected = np.rot90(pixels, k=-1)
    assert loaded.pixels.shape == expected.shape
    assert np.abs(loaded.pixels.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("chunks", [
    dict(gAMA=gama(0.45455)),                          # sRGB's curve, near enough
    dict(sRGB=b"\x00", gAMA=gama(1.0)),                # an sRGB chunk rules over gAMA
    dict(gAMA=gama(1.0), cHRM=chrm(P3)),               # other primaries: their profile travels
    dict(),                                            # nothing said
    dict(iCCP=iccp(wide_icc(1.0))),                    # other primaries: their profile travels
], ids=["gAMA-srgb", "sRGB-and-gAMA", "gAMA-P3", "none", "iCCP-wide"])
def test_other_16_bit_pngs_keep_pillows_reading(chunks):
    samples = linear_samples(photo("coffee", 64))
    img = Image.open(io.BytesIO(data := png16(samples, **chunks)))
    img.load()
    assert deep_pixels(img, data, "x.png") is None
    assert load_image(data).as_stored


def test_an_8_bit_linear_png_keeps_its_way():
    pixels = photo("coffee", 64)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    data = buf.getvalue()
    data = data[:33] + _chunk(b"gAMA", gama(1.0)) + data[33:]
    img = Image.open(io.BytesIO(data))
    img.load()
    assert deep_pixels(img, data, "x.png") is None
    assert load_image(data).icc_profile is not None   # (its profile, applied on writing)


def test_without_imagecodecs_or_when_it_fails_pillows_reading_stays(monkeypatch, caplog,
                                                                    tmp_path):
    pixels = photo("astronaut", 64)
    path = tmp_path / "lin.png"
    path.write_bytes(png16(linear_samples(pixels), gAMA=gama(1.0)))
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    with caplog.at_level(logging.WARNING, logger="compress_core.samples16"):
        loaded = load_image(str(path))
    assert "install imagecodecs" in caplog.text and "lin.png" in caplog.text
    assert loaded.icc_profile is not None   # the 8-bit way: the curve's profile
    monkeypatch.undo()
    import imagecodecs

    def refuse(_data):
        raise imagecodecs.PngError("broken")

    monkeypatch.setattr(imagecodecs, "png_decode", refuse)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="compress_core.samples16"):
        loaded = load_image(str(path))
    assert "cannot be read (PngError: broken)" in caplog.text
    assert loaded.icc_profile is not None


def test_a_linear_light_16_bit_png_is_written_as_its_srgb_picture():
    """The whole way: the output is the sRGB picture, untagged, under every metadata mode (a
    profile kept under "keep" would stand over 8-bit linear values: banded shadows), and is not
    the input passed through."""
    pixels = photo("astronaut", 128)
    data = png16(linear_samples(pixels), gAMA=gama(1.0))
    for metadata in ("compact", "keep", "none"):
        out = compress_image(data, scale=1.0, format="png", metadata=metadata,
                             energy_function=GRADIENT)
        assert "input_kept" not in out.operations
        image = Image.open(io.BytesIO(out.data))
        assert "icc_profile" not in image.info and "gamma" not in image.info
        assert np.abs(np.asarray(image.convert("RGB")).astype(int) - pixels).max() <= 1


def tiff16(samples: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, samples, photometric="rgb", **kw)
    return buf.getvalue()


@pytest.mark.parametrize("kw", [
    dict(), dict(compression="zlib"), dict(planarconfig="separate"),
    dict(extrasamples=["unassalpha"]),
], ids=["plain", "zlib", "planar", "alpha"])
def test_a_linear_light_16_bit_tiff_keeps_its_shadows(kw):
    """Same as the PNG: a 16-bit TIFF with a linear sRGB profile (GIMP's and Krita's) kept 6
    shadow levels of 40, up to 12 levels off."""
    pixels = photo("astronaut", 128)
    samples = linear_samples(pixels)
    alpha = None
    if "extrasamples" in kw:
        alpha = np.tile(np.linspace(0, 65535, samples.shape[1]).astype(np.uint16),
                        (samples.shape[0], 1))
        samples = np.dstack([samples, alpha])
    if kw.get("planarconfig") == "separate":
        samples = np.ascontiguousarray(np.moveaxis(samples, -1, 0))
    loaded = load_image(tiff16(samples, iccprofile=gamma_icc(1.0), **kw))
    assert loaded.icc_profile is None and not loaded.as_stored
    assert np.abs(loaded.pixels[..., :3].astype(int) - pixels).max() <= 1
    assert shadow_levels(loaded.pixels[..., :3]) >= shadow_levels(pixels) - 1
    if alpha is not None:
        assert np.abs(loaded.pixels[..., 3].astype(int) - alpha / 257.0).max() <= 0.5


def test_a_turned_16_bit_tiff_is_turned_once():
    """Pillow turns a TIFF page by its Orientation tag on loading (and drops it); the 16-bit
    samples are read as stored and turned the same way, once."""
    pixels = photo("astronaut", 96)[:, :64]
    data = tiff16(linear_samples(pixels), iccprofile=gamma_icc(1.0),
                  extratags=[(274, "H", 1, 6, True)])
    loaded = load_image(data)
    expected = np.rot90(pixels, k=-1)
    assert loaded.pixels.shape == expected.shape
    assert np.abs(loaded.pixels.astype(int) - expected).max() <= 1


def test_other_16_bit_tiffs_keep_pillows_reading():
    samples = linear_samples(photo("coffee", 64))
    for data in (tiff16(samples), tiff16(samples, iccprofile=wide_icc(1.0)),
                 tiff16(np.dstack([samples, samples[..., :1]]), extrasamples=["assocalpha"],
                        iccprofile=gamma_icc(1.0))):
        img = Image.open(io.BytesIO(data))
        img.load()
        assert deep_pixels(img, data, "x.tif") is None
