"""Perceptual quality targets, format choice by content, optional encoders, JPEG XL archive mode."""
import base64
import importlib.util
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from compress_core import TargetUnreachableError, codec
from compress_core.codec import (
    DEFAULT_TARGET_QUALITY,
    decode_pixels,
    encode,
    encode_lossless,
    encode_to_score,
    has_transparency,
    is_photo,
    jpeg_to_jxl,
    jxl_to_jpeg,
    resolve_format,
    supported_formats,
)
from compress_core.codec import encoders, formats, search
from compress_core.errors import (EncoderUnavailableError, EncodingError, ImageDecodeError,
                                  UnsupportedImageError)
from compress_core.options import ImageFormat
from compress_core.perceptual import Reference

from _core_data import (decode, encode as pil_encode, exif_bytes, gamma_icc, grainy, photo,
                        srgb_icc)


def _chart(width=240, height=160):
    """A bar chart: flat colours, sharp edges, text (a graphic, not a photo)."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    for i, colour in enumerate(["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]):
        draw.rectangle((20 + 55 * i, 150 - 30 * (i + 1), 60 + 55 * i, 150), fill=colour)
    draw.line((10, 150, 230, 150), fill="black", width=2)
    draw.text((20, 10), "bytes per photo", fill="black")
    return np.asarray(img)


# ------------------------------------------------------------------- quality="auto"
@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "jxl"])
@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_encode_to_score_reaches_the_target_with_a_small_quality(fmt, name):
    pixels = photo(name, 200)
    target = 70.0
    data, quality, score = encode_to_score(pixels, fmt, target)
    assert score >= target
    assert score == pytest.approx(Reference(pixels).score(decode_pixels(data)), abs=1e-6)
    assert decode(data).format == formats.pil_name(fmt)
    if quality is None:  # lossy WebP / JPEG XL cannot reach it on this small picture
        assert fmt in ("webp", "jxl") and score == pytest.approx(100.0, abs=1e-3)
        return
    below = Reference(pixels).score(decode_pixels(encode(pixels, fmt, quality - 1)))
    if fmt in ("jpeg", "jxl"):  # monotonic enough that one step less misses the target, or
        # the search kept an encoding within its tolerance (another step would save little)
        assert below < target or score - target <= search._TOLERANCE
    assert len(data) < len(encode(pixels, "png"))


def _encodes_tried(monkeypatch) -> list:
    """The ``(pixels' shape, quality)`` of each encode the quality search makes from now on."""
    tried = []
    real = search.encode

    def counting(*args, **kwargs):
        tried.append((args[0].shape, args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(search, "encode", counting)
    return tried


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "china"])
def test_the_search_needs_few_encodes_on_photos(monkeypatch, name):
    """quality="auto" must stay cheap (the issue: ~3x one fixed encode): at most 4 encodes at
    the default target on whole photos, the kept one at most the tolerance above the target or
    one quality above a failing one."""
    pixels = photo(name)
    tried = _encodes_tried(monkeypatch)
    data, quality, score = encode_to_score(pixels, "jpeg", DEFAULT_TARGET_QUALITY)
    assert len(tried) <= 4 and quality in [q for _, q in tried]
    assert DEFAULT_TARGET_QUALITY <= score
    ref = Reference(pixels)
    below = ref.score(decode_pixels(encode(pixels, "jpeg", quality - 1)))
    assert score - DEFAULT_TARGET_QUALITY <= search._TOLERANCE or below < DEFAULT_TARGET_QUALITY


@pytest.mark.parametrize("name, fmt, most", [("brick", "jxl", 23), ("colorwheel", "jpeg", 21)])
def test_a_flat_stretch_s_step_to_quality_1_does_not_stall_the_search(monkeypatch, name, fmt,
                                                                      most):
    """Bytes review 42: two passing points on a flat stretch extrapolate to quality 1, far
    under the target; the secant from that score crept down a few qualities a step and the
    encodes ran out at brick's quality 29 in JPEG XL (21 passes: 25% smaller), colorwheel's
    27 in JPEG (19: 16%). The bracket is halved once instead."""
    from skimage import data

    pixels = getattr(data, name)()
    pixels = np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels[..., :3]
    pixels = np.ascontiguousarray(pixels)
    tried = _encodes_tried(monkeypatch)
    _, quality, score = encode_to_score(pixels, fmt, DEFAULT_TARGET_QUALITY)
    assert 1 in [q for _, q in tried]   # (the flat stretch's step, as before)
    assert score >= DEFAULT_TARGET_QUALITY and quality <= most and len(tried) <= 6


def test_the_tile_sample_is_the_picture_s_own_blocks_spread_to_its_edges():
    """A 12-megapixel phone photo is sampled (6 x 6 tiles of 256 px), 8 megapixels and a thin
    strip are not; every tile is the picture's pixels at a corner on the 16-pixel grid, the
    last row and column within 16 pixels of the far edges; alpha travels."""
    assert search._tile_sample(np.zeros((3024, 4032, 3), np.uint8)).shape == (1536, 1536, 3)
    assert search._tile_sample(np.zeros((2448, 3264, 3), np.uint8)) is None  # 8 MP
    assert search._tile_sample(np.zeros((200, 60000, 3), np.uint8)) is None  # under a tile
    strip = search._tile_sample(np.zeros((300, 40000, 4), np.uint8))  # one row of tiles
    assert strip.shape == (256, 6 * 256, 4)
    ys, xs = np.mgrid[:3000, :4100]  # each pixel says where it is: (y, x) in base 256
    pixels = np.dstack([ys % 256, ys // 256, xs % 256, xs // 256]).astype(np.uint8)
    sample = search._tile_sample(pixels)
    tile = search._SAMPLE_TILE
    corners = []
    for r in range(search._SAMPLE_GRID):
        for c in range(search._SAMPLE_GRID):
            block = sample[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile].astype(int)
            y, x = block[0, 0, 0] + 256 * block[0, 0, 1], block[0, 0, 2] + 256 * block[0, 0, 3]
            np.testing.assert_array_equal(block, pixels[y:y + tile, x:x + tile])
            corners.append((y, x))
    ys, xs = sorted({y for y, _ in corners}), sorted({x for _, x in corners})
    assert ys[0] == xs[0] == 0 and all(v % 16 == 0 for v in ys + xs)
    assert 3000 - 16 < ys[-1] + tile <= 3000 and 4100 - 16 < xs[-1] + tile <= 4100


@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_a_large_picture_s_search_starts_where_its_tile_sample_s_ends(monkeypatch, name):
    """Camera-sized JPEGs start at the quality the same search finds on a sample of their
    tiles (aimed _SAMPLE_MARGIN above): the median curve, read on 768x512 photos, started
    24-megapixel photos at quality 73 where they needed 34-51, and took 3-4 full-size encodes
    of a second each. Scaled down here (tiles of 64 px in a 3 x 3 grid, on a 512 px photo):
    the first full-size encode is at the sample's quality, at most two more follow, and the
    result is the unsampled search's within the tolerance it keeps."""
    pixels = photo(name, 512)
    plain = encode_to_score(pixels, "jpeg", 70)
    monkeypatch.setattr(search, "_SAMPLE_TILE", 64)
    monkeypatch.setattr(search, "_SAMPLE_GRID", 3)
    sample = search._tile_sample(pixels)
    assert sample.shape == (192, 192, 3)
    found = search._search(sample, ImageFormat.JPEG, 70 + search._SAMPLE_MARGIN,
                           Reference(sample), {}, False, finish=False)[1]
    tried = _encodes_tried(monkeypatch)
    data, quality, score = encode_to_score(pixels, "jpeg", 70)
    full_size = [q for shape, q in tried if shape == pixels.shape]
    assert full_size[0] == found and len(full_size) <= 3 and quality in full_size
    assert 70 <= score <= 70 + search._TOLERANCE or quality == plain[1]
    assert score == pytest.approx(Reference(pixels).score(decode_pixels(data)), abs=1e-6)
    assert len(data) <= 1.03 * len(plain[0])


def test_other_formats_than_jpeg_start_on_the_median_curve_at_any_size(monkeypatch):
    """WebP codes across its blocks: a sample of a 24-megapixel photo scored 15-18 points under
    the whole picture, and started the search worse than the median curve; only JPEG samples."""
    if ImageFormat.WEBP not in supported_formats():
        pytest.skip("no webp encoder")
    monkeypatch.setattr(search, "_SAMPLE_TILE", 64)
    monkeypatch.setattr(search, "_SAMPLE_GRID", 3)
    pixels = photo("chelsea", 512)
    assert search._tile_sample(pixels) is not None
    tried = _encodes_tried(monkeypatch)
    encode_to_score(pixels, "webp", 70)
    assert tried[0] == (pixels.shape, search.predict_quality("webp", 70))
    assert {shape for shape, _ in tried} == {pixels.shape}


def test_auto_at_70_is_smaller_than_fixed_85_on_a_photo_that_both_satisfy():
    pixels = photo("astronaut", 256)
    fixed = encode(pixels, "jpeg", 85)
    ref = Reference(pixels)
    assert ref.score(decode_pixels(fixed)) >= DEFAULT_TARGET_QUALITY
    data, quality, score = encode_to_score(pixels, "jpeg", DEFAULT_TARGET_QUALITY)
    assert quality < 85 and len(data) < 0.9 * len(fixed) and score >= DEFAULT_TARGET_QUALITY


def test_encode_to_score_keeps_metadata_and_png_is_lossless():
    pixels = photo("chelsea", 160)
    icc = srgb_icc()
    data, _, _ = encode_to_score(pixels, "jpeg", 60, icc_profile=icc, exif=exif_bytes(1))
    img = decode(data)
    assert img.info.get("icc_profile") == icc and img.getexif().get(0x010F) == "TestCam"
    data, quality, score = encode_to_score(pixels, "png", 90)
    assert quality is None and score == 100.0
    np.testing.assert_array_equal(decode_pixels(data), pixels)


@pytest.mark.parametrize("name, width", [("coffee", 200), ("china", 200), ("china", 256)])
def test_the_quality_chosen_does_not_depend_on_the_metadata_carried(name, width):
    """The search stops when one more step promises under 3% fewer bytes: judged on whole files,
    30 KB of EXIF (a camera's maker note) diluted the saving and a quality one step higher was
    kept (76 vs 75 on coffee and china at 200 px; metadata='keep' outputs and the others then
    differed in pixels). Judged on the picture's bytes, the choice is the same."""
    pixels = photo(name, width)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0x927C] = bytes(30_000)
    plain = encode_to_score(pixels, "jpeg", 70)
    tagged = encode_to_score(pixels, "jpeg", 70, exif=exif.tobytes())
    assert tagged[1] == plain[1] and tagged[2] == plain[2]
    assert len(tagged[0]) > len(plain[0]) + 30_000


def test_rgba_to_jpeg_is_scored_against_the_flattened_picture():
    rgb = photo("coffee", 150)
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :50] = 0
    data, _, score = encode_to_score(np.dstack([rgb, alpha]), "jpeg", 65)
    assert score >= 65 and decode_pixels(data)[:, :40].min() >= 240  # white where transparent


@pytest.mark.parametrize("fmt", ["webp", "jxl"])
def test_target_100_is_met_by_the_lossless_way_up(fmt):
    """WebP and JPEG XL turn lossless where no quality reaches the target; the lossless
    encoding scored 99.9999993 (float32 noise) and came back below target_quality=100."""
    if ImageFormat(fmt) not in supported_formats():
        pytest.skip(f"no {fmt} encoder")
    pixels = photo("coffee", 120)
    data, quality, score = encode_to_score(pixels, fmt, 100)
    assert quality is None and score >= 100
    np.testing.assert_array_equal(decode_pixels(data), pixels)


def test_unreachable_target_says_the_best_score():
    pixels = photo("coffee", 120)
    with pytest.raises(TargetUnreachableError, match=r"target_quality=99\.5 is above the best "
                                                     r"JPEG encoding of 120x80 pixels") as info:
        encode_to_score(pixels, "jpeg", 99.5)
    data, quality, score = info.value.best
    assert quality == codec.QUALITY_RANGE[ImageFormat.JPEG][1] and score < 99.5
    assert decode(data).format == "JPEG"


@pytest.mark.parametrize("name, target", [("noise 5000x2", 70), ("grainy astronaut", 80)])
def test_the_4_4_4_retry_reaches_what_4_2_0_misses(name, target):
    """Noise and film grain miss the target in 4:2:0 even at quality 100; the 4:4:4 retry
    (Pillow) reaches it. Its encodings of more than width x height bytes (quality < 95) used
    to fail in Pillow ("broken data stream"), and the search gave up with the 4:2:0 best:
    76.5 for the grainy photo, which 4:4:4 quality 88 takes past 80."""
    pixels = (np.random.default_rng(0).integers(0, 256, (2, 5000, 3), dtype=np.uint8)
              if name.startswith("noise") else grainy("astronaut", 320))
    best_4_2_0 = Reference(pixels).score(decode_pixels(encode(pixels, "jpeg", 100)))
    assert best_4_2_0 < target
    data, quality, score = encode_to_score(pixels, "jpeg", target)
    assert score >= target and quality < 100
    assert Reference(pixels).score(decode_pixels(data)) == pytest.approx(score, abs=1e-6)
    assert decode(data).size == pixels.shape[1::-1]


def test_an_encoder_failure_of_the_4_4_4_retry_leaves_the_first_search_s_best(monkeypatch):
    """4:4:4 goes through another encoder (Pillow's) than 4:2:0 (jpegli): where it fails, the
    answer is the unreachable target with the best 4:2:0 encoding, not an encoder failure."""
    pixels = grainy("astronaut", 320)

    def failing(pixels, fmt, quality=None, *args, full_chroma=False, **kwargs):
        if full_chroma:
            raise EncodingError("JPEG encoding failed: as an encoder can")
        return encode(pixels, fmt, quality, *args, **kwargs)

    monkeypatch.setattr(search, "encode", failing)
    with pytest.raises(TargetUnreachableError) as info:
        encode_to_score(pixels, "jpeg", 80)
    data, quality, score = info.value.best
    assert quality == 100 and score < 80 and decode(data).size == (320, 320)


@pytest.mark.parametrize("bad", [-1, 100.5, float("nan"), float("inf")])
def test_target_quality_outside_0_100_is_rejected(bad):
    with pytest.raises(ValueError, match=r"target_quality must be a number in 0\.\.100"):
        encode_to_score(photo("coffee", 60), "jpeg", bad)


@pytest.mark.parametrize("bad", ["70", None, True])
def test_target_quality_of_the_wrong_type_is_rejected(bad):
    with pytest.raises(TypeError, match=r"target_quality must be a number in 0\.\.100"):
        encode_to_score(photo("coffee", 60), "jpeg", bad)


def test_any_real_number_is_a_target_quality():
    """Decimal and Fraction, as ``scale`` takes them (Decimal(70) was a TypeError; edge review
    37)."""
    from decimal import Decimal
    from fractions import Fraction

    pixels = photo("coffee", 60)
    expected = encode_to_score(pixels, "jpeg", 70)
    assert encode_to_score(pixels, "jpeg", Decimal(70)) == expected
    assert encode_to_score(pixels, "jpeg", Fraction(140, 2)) == expected


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="format must be one of 'auto', 'jpeg'"):
        encode_to_score(photo("coffee", 60), "jpeg2000", 70)
    with pytest.raises(ValueError, match="needs a concrete format"):
        encode_to_score(photo("coffee", 60), "auto", 70)


# ------------------------------------------------------------------ format by content
def test_photos_and_graphics_are_told_apart():
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "china"):
        assert is_photo(photo(name, 256)), name
    assert not is_photo(_chart())
    assert resolve_format("auto", "JPEG", pixels=_chart()) is ImageFormat.PNG
    assert resolve_format("auto", "PNG", pixels=photo("rocket", 256)) is ImageFormat.JPEG


def test_runs_are_of_whole_colours_alpha_included():
    """A pixel is in a run only where every channel equals its neighbour's: a picture that
    varies in one channel alone (the others flat) has the runs of that channel, not of the flat
    ones (a test that skipped green called chelsea's green 100% runs: a graphic)."""
    from compress_core.codec.content import PHOTO_RUN_SHARE, run_share

    rgb = photo("chelsea", 128)
    flat = np.full(rgb.shape[:2] + (4,), 255, np.uint8)
    for c in range(4):
        one = flat.copy()
        one[..., c] = rgb[..., min(c, 2)]
        alone = np.repeat(rgb[..., min(c, 2), None], 3, axis=2)
        assert run_share(one) == run_share(alone) < PHOTO_RUN_SHARE, c
    assert run_share(flat) == 1.0


def test_a_fine_pattern_resampled_is_still_a_graphic():
    """Review 20: a 220 x 150 checkerboard of 10-px squares at half size has few runs of equal
    pixels (Lanczos greys its edges), so it counted as a photo: a JPEG of 7,272 B against a
    549 B PNG. Photos at any size stay photos (a fast PNG of them is 2-12x their JPEG)."""
    from compress_core.hybrid import resample

    squares = np.kron((np.indices((15, 22)).sum(0) % 2 * 255).astype(np.uint8),
                      np.ones((10, 10), np.uint8))
    board = np.dstack([squares, 255 - squares, squares // 2])
    for size in ((110, 75), (66, 45)):
        small = resample(board, *size)
        assert not is_photo(small), size
        assert resolve_format("auto", pixels=small) is ImageFormat.PNG
    for name in ("astronaut", "coffee", "chelsea", "camera", "rocket"):
        for width in (512, 64, 24, 16):   # (16: the quick test's factor 2 decides there)
            assert is_photo(photo(name, width)), (name, width)


def test_a_smooth_gradient_is_a_graphic():
    """Bytes review 42: a smooth synthetic gradient has few runs of equal pixels, and deflate
    codes it poorly (its fast PNG was 0.7x its JPEG), so it was written as a 1,908-byte JPEG
    where its lossless WebP, exact, takes 164 (and a 1,042-byte PNG input came out larger)."""
    from compress_core.codec.content import PHOTO_RUN_SHARE, run_share

    y, x = np.mgrid[0:256, 0:384]
    ramp = np.dstack([x * 255 // 383, y, (x + y) * 255 // 638]).astype(np.uint8)
    assert run_share(ramp) < PHOTO_RUN_SHARE and not is_photo(ramp)
    data, fmt = encode_lossless(ramp)
    assert fmt is ImageFormat.WEBP and len(data) < 400
    assert resolve_format("auto", pixels=ramp) is not ImageFormat.JPEG
    for name in ("astronaut", "coffee", "chelsea", "camera", "rocket"):   # (photos stay so)
        assert is_photo(photo(name, 256)), name


def test_only_an_alpha_channel_that_hides_something_is_transparency():
    rgb = photo("chelsea", 128)
    opaque = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    one_pixel = opaque.copy()
    one_pixel[5, 7, 3] = 254
    assert not has_transparency(rgb) and not has_transparency(opaque)
    assert has_transparency(one_pixel)
    assert resolve_format("auto", pixels=opaque) is ImageFormat.JPEG
    assert resolve_format("auto", pixels=one_pixel) is ImageFormat.PNG  # lossless


def test_photo_format_option_and_alpha():
    pixels = photo("coffee", 120)
    for fmt in ("webp", "avif", "jxl", "jpeg"):
        assert resolve_format("auto", pixels=pixels, photo_format=fmt) is ImageFormat(fmt)
    assert resolve_format("auto", has_alpha=True) is ImageFormat.PNG
    with pytest.raises(ValueError, match="photo_format must be one of 'jpeg', 'webp', 'avif', "
                                         "'jxl'; got 'png'"):
        resolve_format("auto", pixels=pixels, photo_format="png")


def test_only_transparency_makes_a_photo_lossless():
    """A photo with an alpha channel that is 255 everywhere (an RGBA PNG from an editor) hides
    nothing: it is a photo (it was PNG or lossless WebP, 1.8-2x the JPEG); one transparent pixel
    makes it lossless."""
    rgb = photo("coffee", 120)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    for fmt in ("jpeg", "webp"):
        assert resolve_format("auto", has_alpha=True, pixels=rgba,
                              photo_format=fmt) is ImageFormat(fmt)
    rgba[0, 0, 3] = 254
    assert resolve_format("auto", has_alpha=True, pixels=rgba) is ImageFormat.PNG


def test_lossless_choice_is_the_smaller_and_exact():
    chart = _chart()
    data, fmt = encode_lossless(chart)
    png, webp = encode(chart, "png"), encode(chart, "webp", lossless=True)
    assert len(data) == min(len(png), len(webp)) and fmt in (ImageFormat.PNG, ImageFormat.WEBP)
    np.testing.assert_array_equal(decode_pixels(data), chart)
    assert len(data) < len(encode(chart, "jpeg", 85))  # and smaller than a lossy JPEG


def test_lossless_webp_keeps_the_colour_under_transparent_pixels():
    rgb = photo("coffee", 80)
    rgba = np.dstack([rgb, np.where(np.arange(80) < 40, 0, 255).astype(np.uint8)[None, :]
                      .repeat(rgb.shape[0], 0)])
    np.testing.assert_array_equal(decode_pixels(encode(rgba, "webp", lossless=True)), rgba)


def test_lossless_is_refused_where_the_format_has_none():
    with pytest.raises(ValueError, match="format 'jpeg' has no lossless mode"):
        encode(photo("coffee", 40), "jpeg", lossless=True)


# ------------------------------------------------------------------ optional encoders
def _hide(monkeypatch, *modules):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in modules else real(name, *a))


def test_missing_jxl_package_is_named(monkeypatch):
    _hide(monkeypatch, "pillow_jxl")
    assert ImageFormat.JXL not in supported_formats()
    for call in (lambda: encode(photo("coffee", 40), "jxl"),
                 lambda: resolve_format("jxl"),
                 lambda: resolve_format("auto", photo_format="jxl"),
                 lambda: encode_to_score(photo("coffee", 40), "jxl", 70),
                 lambda: jpeg_to_jxl(pil_encode(photo("coffee", 40)))):
        with pytest.raises(EncoderUnavailableError,
                           match=r"format 'jxl' cannot be written: it needs the package "
                                 r"pillow-jxl-plugin: pip install pillow-jxl-plugin==1\.3\.8"):
            call()


def test_a_package_that_cannot_even_be_looked_for_is_missing(monkeypatch):
    """New-user review 42: where looking for a package raises (an import hook, a broken parent
    package), the image failed with "No module named 'pillow_jxl'" instead of the message
    naming the package to install."""
    import importlib.util

    real = importlib.util.find_spec

    def refusing(name, *args, **kwargs):
        if name.startswith("pillow_jxl"):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", refusing)
    assert not formats.installed("pillow_jxl") and formats.installed("numpy")
    with pytest.raises(EncoderUnavailableError, match=r"pip install pillow-jxl-plugin"):
        encode(photo("coffee", 40), "jxl")


def test_jpeg_without_jpegli_and_mozjpeg_falls_back_to_pillow(monkeypatch):
    pixels = photo("coffee", 120)
    with_jpegli = encode(pixels, "jpeg", 80, icc_profile=srgb_icc())
    _hide(monkeypatch, "pyjpegli", "mozjpeg_lossless_optimization")
    assert encoders.jpeg_encoder() == "libjpeg-turbo"
    plain = encode(pixels, "jpeg", 80, icc_profile=srgb_icc())
    assert plain == pil_encode(pixels, "JPEG", quality=80, optimize=True, icc_profile=srgb_icc())
    assert plain != with_jpegli and decode(with_jpegli).info["icc_profile"] == srgb_icc()


def test_jpegli_output_is_standard_and_smaller_at_equal_score():
    """jpegli + mozjpeg scans vs Pillow's libjpeg-turbo at the same SSIMULACRA2 (to 0.5)."""
    pixels = photo("astronaut", 256)
    ours, _, score = encode_to_score(pixels, "jpeg", 75)
    ref = Reference(pixels)
    pillow = next(d for d in (pil_encode(pixels, "JPEG", quality=q, optimize=True)
                              for q in range(60, 96)) if ref.score(decode_pixels(d)) >= 75)
    assert len(ours) < 0.95 * len(pillow)


def test_large_icc_profiles_are_chunked():
    pixels = photo("coffee", 60)
    icc = srgb_icc() + bytes(range(256)) * 400  # > 64 KiB: three APP2 segments
    assert decode(encode(pixels, "jpeg", icc_profile=icc)).info["icc_profile"] == icc


# ------------------------------------------------------------------ JPEG XL archive mode
@pytest.mark.parametrize("name, kwargs, ratio", [
    ("astronaut", dict(quality=90), 0.9), ("coffee", dict(quality=95, subsampling=0), 0.9),
    ("chelsea", dict(quality=75, progressive=True, optimize=True), 0.97)])
def test_jpeg_to_jxl_round_trip_is_bit_exact_and_smaller(name, kwargs, ratio):
    jpeg = pil_encode(photo(name, 300), "JPEG", exif=exif_bytes(1), **kwargs)
    jxl = jpeg_to_jxl(jpeg)
    assert len(jxl) < ratio * len(jpeg)
    assert jxl_to_jpeg(jxl) == jpeg


def shipped_jpeg_files():
    """JPEG files as they were published (not re-encoded here): skimage's and sklearn's."""
    import skimage
    import sklearn

    sk = os.path.join(os.path.dirname(skimage.__file__), "data")
    sl = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")
    return [os.path.join(sk, "rocket.jpg"), os.path.join(sl, "china.jpg"),
            os.path.join(sl, "flower.jpg")]


@pytest.mark.parametrize("path", shipped_jpeg_files(), ids=os.path.basename)
def test_jpeg_to_jxl_restores_published_jpeg_files_byte_for_byte(path):
    with open(path, "rb") as f:
        jpeg = f.read()
    jxl = jpeg_to_jxl(jpeg)
    assert len(jxl) < 0.87 * len(jpeg)  # 0.78-0.85 measured on these files
    assert jxl_to_jpeg(jxl) == jpeg


#: chelsea at 24x16, quality 60, made arithmetic-coded by libjpeg-turbo's ``jpegtran
#: -arithmetic`` (Pillow decodes such files but cannot write them).
ARITHMETIC_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZG"
    "NywtQFdBRkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09P"
    "T09PT09PT09PT09PT09PT09PT09PT09PT0//yQARCAAQABgDASIAAhEBAxEB/8wACgAQEAUBEBEF/9oADAMBAAIR"
    "AxEAPwD1pRXnI2ePQdJeuloIAFbeWysbY7MOA/nMQzB2tEic1oDIYA8YDvOdsx9xSQEBuJvmGF9Q9rCovnXn1P1D"
    "2wQs4dWnpg2aWRI3AY1Px+hHSbYqMPLhc1g0qPqigon4eE+Jyszh5KRDsf/Z")


@pytest.mark.parametrize("name, kwargs", [
    ("camera", dict(quality=90)), ("astronaut", dict(quality=90, subsampling=1)),
    ("rocket", dict(quality=85, restart_marker_blocks=4)),
    ("coffee", dict(quality=80, progressive=True, restart_marker_blocks=4))])
def test_jpeg_to_jxl_restores_gray_422_and_restart_marker_jpegs(name, kwargs):
    pixels = photo(name, 300)[..., 0] if name == "camera" else photo(name, 300)
    jpeg = pil_encode(pixels, "JPEG", **kwargs)
    jxl = jpeg_to_jxl(jpeg)
    assert len(jxl) < 0.95 * len(jpeg) and jxl_to_jpeg(jxl) == jpeg


@pytest.mark.parametrize("jpeg, reason", [
    (lambda: pil_encode(Image.fromarray(photo("coffee", 120)).convert("CMYK"), "JPEG"),
     r"it has 4 colour components \(CMYK\)"),
    (lambda: ARITHMETIC_JPEG, r"it is arithmetic-coded \(SOF marker FF C9\)"),
    (lambda: pil_encode(photo("astronaut", 120), "JPEG", progressive=True,
                        restart_marker_rows=1), r"libjxl refuses it \(Input is invalid\): a "
                                                r"progressive JPEG with restart intervals"),
    (lambda: pil_encode(photo("astronaut", 120), "JPEG", progressive=True, subsampling=1,
                        restart_marker_rows=2), r"libjxl refuses it \(Input is invalid\): a "
                                                r"progressive JPEG with restart intervals")])
def test_archive_mode_refuses_valid_jpegs_jpeg_xl_cannot_hold(jpeg, reason):
    """CMYK, arithmetic-coded and progressive 4:2:0 or 4:2:2 JPEGs with restart intervals of
    whole rows decode (they are not damaged), but libjxl cannot transcode them: an
    UnsupportedImageError saying so (and, for the last, what in the file is the likely cause),
    where an ImageDecodeError ('Input is invalid') called them broken."""
    data = jpeg()
    assert decode(data).size[0] in (120, 24)
    with pytest.raises(UnsupportedImageError, match="JPEG XL cannot hold this JPEG losslessly: "
                                                    + reason):
        jpeg_to_jxl(data)


def test_archive_mode_never_returns_a_recompression_that_does_not_restore_the_jpeg():
    """libjxl accepts a JPEG whose ICC segments carry bytes past the profile's size and writes
    a .jxl that decodes to nothing (neither the JPEG nor pixels): refused, not returned."""
    padded = srgb_icc() + bytes(70000)  # two APP2 chunks; Pillow decodes the JPEG fine
    jpeg = pil_encode(photo("coffee", 300), "JPEG", quality=90, icc_profile=padded)
    assert decode(jpeg).size == (300, 200)
    with pytest.raises(UnsupportedImageError, match="libjxl wrote a recompression of its "
                                                    f"{len(jpeg)} bytes, but it does not decode"):
        jpeg_to_jxl(jpeg)


@pytest.mark.parametrize("effort, error", [(0, ValueError), (11, ValueError), (-1, ValueError),
                                           ("7", TypeError), (7.5, TypeError), (None, TypeError),
                                           (True, TypeError)])
def test_jpeg_to_jxl_refuses_a_bad_effort_naming_it(effort, error):
    """A bad effort was blamed on the JPEG ('JPEG could not be recompressed: Invalid effort')."""
    jpeg = pil_encode(photo("coffee", 80), "JPEG")
    with pytest.raises(error, match=r"effort must be an integer in 1\.\.10 \(libjxl's effort\)"):
        jpeg_to_jxl(jpeg, effort=effort)
    assert jxl_to_jpeg(jpeg_to_jxl(jpeg, effort=np.int64(1))) == jpeg


def test_archive_mode_rejects_what_it_cannot_restore():
    with pytest.raises(ImageDecodeError, match="needs the bytes of a JPEG file"):
        jpeg_to_jxl(pil_encode(photo("coffee", 40), "PNG"))
    with pytest.raises(ImageDecodeError, match="holds pixels, not a recompressed JPEG"):
        jxl_to_jpeg(encode(photo("coffee", 40), "jxl"))
    with pytest.raises(ImageDecodeError, match="not a JPEG XL file"):
        jxl_to_jpeg(b"not a jxl at all")


def test_codec_package_keeps_the_module_api():
    for name in ("resolve_format", "encode", "decode_pixels", "fit_budget", "default_quality",
                 "supported_formats", "extension", "format_from_suffix", "QUALITY_RANGE",
                 "check_quality", "encode_to_score", "DEFAULT_TARGET_QUALITY"):
        assert hasattr(codec, name), name
    assert DEFAULT_TARGET_QUALITY == 70.0


# ------------------------------------------------------------------ encoder failures
@pytest.mark.parametrize("fmt, meta, cause", [
    ("avif", dict(exif=b"garbage!"), r"SyntaxError: not a TIFF file")])
def test_an_encoder_failure_is_a_typed_error_naming_format_size_and_cause(fmt, meta, cause):
    """A real failure (no mock): Pillow's AVIF writer refusing an EXIF block that is not TIFF.
    (The formats' size limits were the cases here, and an EXIF block too large for a JPEG
    segment: they are checked before the encoder now, test_codec.py, and such a block is
    carried without its largest values, test_jpeg_exif_over_a_segment_is_fitted_or_left_out
    below.)"""
    from compress_core import EncodingError, SemanticCompressError

    pixels = np.zeros((2, 300, 3), np.uint8)
    with pytest.raises(EncodingError, match=rf"{fmt.upper()} encoding of 300x2 pixels failed "
                                            rf"at quality \d+: {cause}") as info:
        encode(pixels, fmt, **meta)
    assert isinstance(info.value, SemanticCompressError) and info.value.__cause__ is not None
    with pytest.raises(EncodingError):
        encode_to_score(pixels, fmt, 70, **meta)


def test_jpeg_exif_over_a_segment_is_fitted_or_left_out(caplog):
    """An EXIF block too large for a JPEG segment failed the encoding (EncodingError, under every
    metadata value: security review 47); a block that cannot be read back is left out, with a
    warning, and the picture written."""
    import logging

    pixels = np.zeros((2, 300, 3), np.uint8)
    with caplog.at_level(logging.WARNING, logger="compress_core.codec.encoders"):
        data = encode(pixels, "jpeg", exif=b"x" * 70000)
    assert data[:2] == b"\xff\xd8" and b"Exif\x00\x00" not in data
    assert "does not fit a JPEG segment" in caplog.text and "not carried" in caplog.text


@pytest.mark.parametrize("bad, error, got", [
    (lambda p: p[..., 0], ValueError, r"got uint8 \(43, 64\)"),
    (lambda p: p[..., :1], ValueError, r"got uint8 \(43, 64, 1\)"),
    (lambda p: p.astype(np.uint16) * 257, ValueError, r"got uint16 \(43, 64, 3\)"),
    (lambda p: p[:0], ValueError, r"got uint8 \(0, 64, 3\)"),
    (lambda p: p.tolist(), TypeError, "got list")])
def test_pixels_that_are_not_uint8_rgb_are_refused_naming_pixels(bad, error, got):
    """A gray photo as a 2-D array was an IndexError in encode_to_score and an EncodingError
    ('the encoder failed') in encode and fit_budget; 16-bit and list inputs the same."""
    pixels = bad(photo("coffee", 64))
    for call in (lambda: encode(pixels, "webp", 80), lambda: encode_to_score(pixels, "jpeg", 70),
                 lambda: codec.fit_budget(pixels, "avif", 2000), lambda: is_photo(pixels),
                 lambda: encode_to_score(pixels, "png", 70)):
        with pytest.raises(error, match=r"pixels must be a (non-empty )?uint8 (NumPy )?array of "
                                        r"shape \(H, W, 3\) or \(H, W, 4\); " + got):
            call()


def test_jxl_quality_search_scores_against_the_srgb_pixels_it_stores():
    """JPEG XL stores pixels with an ICC profile converted to sRGB; the search scored them
    against the unconverted pixels: with a gamma-1.8 profile no lossy quality reached 70, and
    a lossless file 11x the size came back with a score of 56.7 (below its target)."""
    pixels, icc = photo("astronaut", 384), gamma_icc(1.8)
    data, quality, score = encode_to_score(pixels, "jxl", 70, icc_profile=icc)
    plain = encode_to_score(pixels, "jxl", 70)[0]
    assert quality is not None and 70 <= score < 71.5 and len(data) < 1.2 * len(plain)
    srgb = encoders.jxl_srgb(pixels, icc)
    assert np.abs(srgb.astype(int) - pixels).mean() > 5  # the profile is far from sRGB
    assert Reference(srgb).score(decode_pixels(data)) == pytest.approx(score, abs=1e-9)
    assert data == encode(srgb, "jxl", quality)  # what the search converted, encoded as is


def test_jxl_converts_an_icc_profile_to_srgb_and_keeps_exif():
    """pillow-jxl-plugin cannot store an ICC profile: the pixels are converted to sRGB."""
    pixels = photo("coffee", 120)
    data = encode(pixels, "jxl", 95, icc_profile=srgb_icc(), exif=exif_bytes(1, make="Jxl"))
    img = decode(data)
    assert img.format == "JXL" and img.getexif().get(0x010F) == "Jxl"
    assert np.abs(decode_pixels(data).astype(int) - pixels).mean() < 3


def test_jxl_writes_pixels_with_an_unusable_icc_profile_as_srgb(caplog):
    """A profile Little CMS cannot read (garbage bytes, as some tools write) or apply (a Lab
    profile on RGB pixels) made every JPEG XL encoding of the photo an EncodingError, while
    JPEG, WebP and AVIF carry the profile and viewers ignore it (review 12, F13). The pixels
    are now written as sRGB, as viewers show them, with a warning."""
    from PIL import ImageCms

    pixels = photo("coffee", 120)
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    for icc in (b"not an icc profile" * 10, srgb_icc()[:60], lab):
        caplog.clear()
        data = encode(pixels, "jxl", 95, icc_profile=icc)
        assert np.abs(decode_pixels(data).astype(int) - pixels).mean() < 3
        assert "cannot be used" in caplog.text and "as sRGB" in caplog.text
        searched, quality, score = encode_to_score(pixels, "jxl", 70, icc_profile=icc)
        assert score >= 70 and searched == encode(pixels, "jxl", quality)


def test_the_photo_or_graphic_byte_test_encodes_a_bounded_window(monkeypatch):
    """A large, mostly flat image (many equal neighbours) is judged on a centre window of at
    most SAMPLE_SIDE pixels: the whole 12 MP image once took two lossless encoders 48 s."""
    from compress_core.codec import content

    flat = np.zeros((3000, 4000, 3), np.uint8)
    flat[:, 2000:] = 200
    seen = []
    encode = content.encode

    def recording_encode(pixels, fmt, *args, **kwargs):
        seen.append(pixels.shape[:2])
        return encode(pixels, fmt, *args, **kwargs)

    monkeypatch.setattr(content, "encode", recording_encode)
    assert content.is_photo(flat) is False  # two flat halves: a graphic
    assert seen and all(h <= content.SAMPLE_SIDE and w <= content.SAMPLE_SIDE for h, w in seen)


def _as_viewers_show(pixels, icc):
    """``pixels`` carrying ``icc``, as sRGB through Little CMS directly (not the library's)."""
    from PIL import ImageCms
    import io as _io

    return np.asarray(ImageCms.profileToProfile(
        Image.fromarray(pixels), ImageCms.ImageCmsProfile(_io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"), outputMode="RGB"))


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_quality_auto_scores_a_wide_gamut_picture_as_viewers_show_it(fmt):
    """An Adobe RGB photo (skimage's rocket carries the profile) is scored through its profile:
    its values read as sRGB had scored 70.1-71.1 where viewers see 67.1-68.5, under the target
    (colour review 26)."""
    from compress_core.perceptual import ssimulacra2

    from _core_data import sample_file

    adobe = decode(sample_file("rocket.jpg")).info["icc_profile"]
    pixels = photo("rocket", 320, 214)
    data, _, score = encode_to_score(pixels, fmt, 70.0, icc_profile=adobe)
    shown = ssimulacra2(_as_viewers_show(pixels, adobe),
                        _as_viewers_show(decode_pixels(data)[..., :3], adobe))
    assert score >= 70.0 and shown == pytest.approx(score, abs=0.3)
    assert Reference(pixels, adobe).score(decode_pixels(data)) == pytest.approx(score, abs=1e-6)


def _cut_out_disc(name="astronaut", side=192):
    """A photo in a feathered disc on a transparent picture (the hidden colour black)."""
    pixels = photo(name, side)[:side, :side]
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    alpha = np.clip(255 - (np.hypot(yy - h / 2, xx - w / 2) - 0.35 * min(h, w)) * 4, 0,
                    255).astype(np.uint8)
    rgb = np.where(alpha[..., None] > 0, pixels[..., :3], 0).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([rgb, alpha]))


def test_transparent_webp_searches_run_on_drafts_with_the_same_result(monkeypatch):
    """Bytes review 40: a byte budget on a 384x384 cut-out took 47 s, 19 WebP encodes of 2.1 s
    each, nearly all of it libwebp coding the same alpha plane at method 6. The searches
    encode drafts (the alpha at its lowest quality: the same colour bitstream, a file shorter
    by a constant) and two real encodings: the same qualities, bytes and scores."""
    fit_budget = codec.fit_budget
    cut = _cut_out_disc(side=128)
    slow = []
    real_encode = search.encode

    def counting(pixels, fmt, quality=None, *args, **kwargs):
        if ImageFormat(fmt) is ImageFormat.WEBP and not kwargs.get("_draft_alpha") \
                and not kwargs.get("lossless"):
            slow.append(quality)
        return real_encode(pixels, fmt, quality, *args, **kwargs)

    monkeypatch.setattr(search, "encode", counting)
    drafted = [encode_to_score(cut, "webp", t) for t in (70,)]
    budgets = [int(len(drafted[0][0]) * 0.8)]
    fitted = [fit_budget(cut, "webp", b) for b in budgets]
    with_drafts = len(slow)
    slow.clear()
    assert fitted == [fit_budget(cut, "webp", b, _drafts=False) for b in budgets]
    monkeypatch.setattr(search.AlphaDrafts, "wanted", staticmethod(lambda *args: False))
    assert drafted == [encode_to_score(cut, "webp", t) for t in (70,)]
    without = len(slow)
    assert with_drafts <= 4 < without, (with_drafts, without)   # two a search at most
    for data, quality in fitted:
        assert np.array_equal(decode(data).convert("RGBA").getchannel("A"), cut[..., 3])
        assert len(data) <= max(budgets)


def test_a_draft_that_does_not_hold_falls_back_to_real_encodings(monkeypatch):
    """Where a real encoding is not its draft's size plus the constant (another libwebp), the
    search is made again on real encodings: the same answer as without drafts."""
    fit_budget = codec.fit_budget
    cut = _cut_out_disc("coffee", 128)
    expected = fit_budget(cut, "webp", 4000, _drafts=False)
    with monkeypatch.context() as off:
        off.setattr(search.AlphaDrafts, "wanted", staticmethod(lambda *args: False))
        scored = encode_to_score(cut, "webp", 70)
    monkeypatch.setattr(search.AlphaDrafts, "size", lambda self, draft: len(draft))
    assert fit_budget(cut, "webp", 4000) == expected
    assert encode_to_score(cut, "webp", 70) == scored


def test_auto_at_a_high_target_keeps_no_first_encoding_a_point_over():
    """At 90 a score point costs 10-20% of the bytes: the search's tolerance shrinks with the
    room under 100, so the first encoding, 1 point over, is not kept (chelsea in AVIF kept
    quality 89, 37,796 B at 90.97, where 86 gives 33,437 B at 90.01; bytes review 44)."""
    assert search.tolerance(70) == search._TOLERANCE and search.tolerance(50) == search._TOLERANCE
    assert search.tolerance(90) == pytest.approx(search._TOLERANCE / 3)
    import skimage.data
    pixels = np.ascontiguousarray(skimage.data.chelsea())
    data, quality, score = codec.encode_to_score(pixels, "avif", 90)
    assert 90 <= score <= 90 + search.tolerance(90)
    assert len(data) <= 1.02 * len(codec.encode(pixels, "avif", 86))


def test_an_unreachable_target_reports_the_better_of_the_4_2_0_and_4_4_4_searches():
    """Where neither 4:2:0 nor the 4:4:4 retry reaches the target, TargetUnreachableError.best
    (what compress() writes then, with its score) is the better of the two: coffee at 120 px
    scores 88.5 at 4:2:0 quality 100 and 97.0 in 4:4:4 (mutation review 50: the choice
    between them could be reversed with every test passing)."""
    pixels = photo("coffee", 120)
    ref = Reference(pixels)
    tops = [ref.score(decode_pixels(encode(pixels, "jpeg", 100, full_chroma=full)))
            for full in (False, True)]
    assert tops[1] > tops[0] + 5
    with pytest.raises(TargetUnreachableError) as info:
        encode_to_score(pixels, "jpeg", 99.5)
    data, quality, score = info.value.best
    assert score == pytest.approx(max(tops), abs=1e-6)
    assert ref.score(decode_pixels(data)) == pytest.approx(score, abs=1e-6)


@pytest.mark.parametrize("width, target", [(200, 80), (400, 70)])
def test_auto_keeps_no_encoding_over_3_percent_larger_than_the_smallest_passing(width, target):
    """The search stops at a passing encoding within its tolerance only where the failing one
    below promises at most 3% fewer bytes (search._SAVING); else it steps on. On rocket the
    rule matters: without it the kept JPEG was 6.7% (200 px at 80) and 8.5% (400 px at 70)
    larger than the smallest passing quality's (mutation review 50)."""
    pixels = photo("rocket", width)
    data, quality, score = encode_to_score(pixels, "jpeg", target)
    assert score >= target
    ref = Reference(pixels)
    smallest = quality
    while smallest > 1 and ref.score(decode_pixels(encode(pixels, "jpeg", smallest - 1))) >= target:
        smallest -= 1
    assert len(data) <= (1 + search._SAVING) * len(encode(pixels, "jpeg", smallest))
