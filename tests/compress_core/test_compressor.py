"""SemanticCompressor end to end: targets x methods, byte budgets, inputs, results, batches."""
import hashlib
import io
import logging
import os
import re
import stat
import time
import uuid

import fsspec
import numpy as np
import pytest
from PIL import Image

from compress_core import (
    CompressionResult,
    FailedCompression,
    HybridPolicy,
    ImageDecodeError,
    ImageReadError,
    ImageTooLargeError,
    SemanticCompressor,
    TargetUnreachableError,
    codec,
    compress_image,
    load_image,
)
from compress_core.analysis import energy_statistics
from compress_core.energy import GradientEnergyFunction
from compress_core.energy.faces import DETECT_SIDE
from compress_core.hybrid import aspect_changes
from compress_core.targets import plan_size, working_size

from _core_data import (
    GRADIENT,
    TARGET_CASES,
    TARGET_INPUT,
    covers,
    decode,
    encode,
    exif_bytes,
    gray_icc,
    lanczos,
    orientation_of,
    photo,
    srgb_icc,
    wide_icc,
)

METHODS = ["hybrid", "smart_crop", "seam_carving"]
FORMATS = ["jpeg", "webp", "png", "avif"]


@pytest.fixture(scope="module")
def compressor():
    return SemanticCompressor(GRADIENT)


@pytest.fixture(scope="module")
def chelsea():
    return photo("chelsea", *TARGET_INPUT)  # 180 x 120


@pytest.fixture(scope="module")
def files(tmp_path_factory, chelsea):
    """The same photo as JPEG and PNG files, plus a corrupt and a truncated one."""
    folder = tmp_path_factory.mktemp("inputs")
    jpeg = encode(chelsea, "JPEG", quality=90)
    paths = {"jpeg": folder / "chelsea.jpg", "png": folder / "chelsea.png",
             "corrupt": folder / "corrupt.jpg", "truncated": folder / "truncated.jpg"}
    paths["jpeg"].write_bytes(jpeg)
    paths["png"].write_bytes(encode(chelsea, "PNG"))
    paths["corrupt"].write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG " * 10)
    paths["truncated"].write_bytes(jpeg[: len(jpeg) // 3])
    return paths


def _run(compressor, image, **kwargs):
    kwargs.setdefault("show_progress", False)
    return compressor.compress(image, **kwargs)


# ------------------------------------------------------------- sizes: every target, every method
def _case_id(case):
    kwargs, size = case
    return ",".join(f"{k}={v}" for k, v in kwargs.items()) + f"->{size[0]}x{size[1]}"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kwargs, expected", TARGET_CASES, ids=[_case_id(c) for c in TARGET_CASES])
def test_every_target_combination_gives_the_exact_size(compressor, chelsea, method, kwargs,
                                                        expected):
    result = _run(compressor, chelsea, method=method, format="png", **kwargs)
    assert result.size == expected
    assert result.pixels.shape == (expected[1], expected[0], 3)
    assert decode(result.data).size == expected
    assert result.method == method
    if method == "seam_carving":
        assert result.seams == {"vertical": 180 - expected[0], "horizontal": 120 - expected[1]}
    if method == "smart_crop" and expected != (180, 120):
        # the best window of the target's aspect at the largest scale, then Lanczos; of the
        # input reduced to twice the target where that halves its pixels at least (never
        # below the policy's working_min_side: the 180 x 120 photo is used whole)
        picture, (width, height) = chelsea, (180, 120)
        work = result.operations.get("working_size")
        assert work == working_size(180, 120, expected, 2.0, compressor.policy.working_min_side)
        if work is not None:
            picture, (width, height) = lanczos(chelsea, *work), work
        if aspect_changes((180, 120), expected):   # a window of the target's aspect
            if work is not None:
                assert covers(result.crop_box, result.operations["crop"], work, (180, 120))
            left, top, right, bottom = result.operations["crop"]
            cw, ch = right - left, bottom - top
            assert cw == width or ch == height
            assert abs(cw * expected[1] - ch * expected[0]) <= max(expected)
        else:   # the photo's own aspect (rounded to whole pixels): the whole frame, no map
            assert result.crop_box is None and "crop" not in result.operations
            assert not result.energy_stats
            left, top, right, bottom = 0, 0, width, height
        window = np.ascontiguousarray(picture[top:bottom, left:right])
        np.testing.assert_array_equal(
            result.pixels, np.asarray(Image.fromarray(window).resize(expected, Image.LANCZOS)))
        assert result.stretch <= 1.0 + 1e-9
        assert 0 < result.retained_energy_ratio <= 1
    if expected == (180, 120):  # nothing to do: the pixels pass through
        np.testing.assert_array_equal(result.pixels, chelsea)
        assert result.retained_energy_ratio == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_free_shape_spends_the_pixel_budget(compressor, chelsea, method):
    """preserve_aspect=False with an area target: any shape of at most that many pixels."""
    result = _run(compressor, chelsea, method=method, scale=0.5, preserve_aspect=False)
    w, h = result.size
    assert w * h <= 5400 and w * h >= 0.95 * 5400
    assert w <= 180 and h <= 120


@pytest.mark.parametrize("method", METHODS)
def test_free_shape_keeps_to_a_longest_side_cap(compressor, method):
    """A 300 x 31 strip at scale 0.9 with sides of at most 8 came out 300 x 1 from the seam
    carving: the free shape that keeps every column ignored the cap and the area."""
    strip = np.ascontiguousarray(photo("coffee", 300, 31))
    result = _run(compressor, strip, method=method, scale=0.9, max_dimension=8,
                  preserve_aspect=False)
    w, h = result.size
    assert max(w, h) <= 8 and w * h <= 8


@pytest.mark.parametrize("scale", [0.25, 0.1, 0.03])
def test_free_shape_of_a_photo_stays_within_twice_its_aspect(scale):
    """The default energy's free shapes of the astronaut (512 x 512) were 256 x 64 (a strip of
    the face), 162 x 16 and 1 x 225."""
    result = compress_image(photo("astronaut"), scale=scale, preserve_aspect=False,
                            show_progress=False)
    w, h = result.size
    assert w * h <= round(512 * scale) ** 2 and 0.5 / 1.01 <= w / h <= 2.0 * 1.01


def test_free_shape_keeps_the_aspect_for_a_small_gain():
    """The astronaut, a square portrait, at a quarter of its pixels became 304 x 215 (0.8% more
    of the energy proxy), the top of her hair against the edge and her hands cut; a shape
    other than the input's aspect must now keep 1.05x its energy: 256 x 256, the whole photo
    scaled."""
    result = compress_image(photo("astronaut"), target_pixels=65536, preserve_aspect=False,
                            show_progress=False)
    assert result.size == (256, 256) and result.crop_box is None
    assert result.seams == {"vertical": 0, "horizontal": 0}


def test_the_one_liner_takes_the_engine_options():
    """Options review 41: compress_image(..., energy_mode="forward") was "compress() got an
    unexpected keyword argument 'energy_mode'": the one-liner takes the compressor's options
    and gives what the compressor made with them gives."""
    kwargs = dict(target_width=96, target_height=100, method="seam_carving", format="png",
                  show_progress=False)
    one = compress_image(photo("coffee", 160, 100), energy_function=GRADIENT,
                         energy_mode="forward", **kwargs)
    made = SemanticCompressor(energy_function=GRADIENT, energy_mode="forward").compress(
        photo("coffee", 160, 100), **kwargs)
    backward = compress_image(photo("coffee", 160, 100), energy_function=GRADIENT, **kwargs)
    np.testing.assert_array_equal(one.pixels, made.pixels)
    assert not np.array_equal(one.pixels, backward.pixels)


def test_free_shape_follows_the_content(compressor):
    """A subject in a vertical band: removing columns only keeps it whole."""
    canvas = np.full((120, 240, 3), 100, np.uint8)
    canvas[:, 100:140] = photo("astronaut", 40, 120)
    result = _run(compressor, canvas, method="seam_carving", scale=0.5, preserve_aspect=False,
                  format="png")
    assert result.size == (60, 120)
    assert result.seams == {"vertical": 180, "horizontal": 0}
    assert result.retained_energy_ratio > 0.95


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [(1, 1), (2, 40), (40, 2), (600, 3)])
def test_tiny_and_extreme_images(compressor, method, size):
    w, h = size
    pixels = np.ascontiguousarray(photo("coffee", w, h))
    for kwargs in (dict(scale=0.5), dict(target_width=max(1, w // 3), target_height=1),
                   dict(max_dimension=1)):
        expected = plan_size(w, h, **kwargs).size
        assert _run(compressor, pixels, method=method, **kwargs).size == expected, kwargs


def test_rgba_keeps_alpha_through_every_method(compressor, chelsea):
    alpha = np.zeros((120, 180), np.uint8)
    alpha[:, 90:] = 255
    rgba = np.dstack([chelsea, alpha])
    for method in METHODS:
        result = _run(compressor, encode(rgba, "PNG"), method=method, target_width=100,
                      target_height=100)
        assert result.format in ("PNG", "WEBP") and result.pixels.shape == (100, 100, 4)
        assert decode(result.data).mode == "RGBA"  # alpha: lossless, PNG or WebP, the smaller
        np.testing.assert_array_equal(np.asarray(decode(result.data)), result.pixels)
        assert result.pixels[..., 3].min() < 10 and result.pixels[..., 3].max() > 245


def test_colour_under_full_transparency_costs_no_bytes(compressor):
    """Review 20: a cut-out photo (alpha 0 over part of it, the colour still there) kept that
    colour in its lossless WebP, 36% more bytes for nothing a viewer shows. It is black now;
    every visible pixel and the alpha are as they were, and the file decodes to
    ``result.pixels``."""
    rgb = photo("chelsea", 226, 150)
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :100] = 0
    alpha[:, 100:110] = 128
    rgba = np.dstack([rgb, alpha])
    result = _run(compressor, rgba, scale=1.0)
    assert result.format in ("PNG", "WEBP")
    back = np.asarray(decode(result.data))
    np.testing.assert_array_equal(back, result.pixels)
    np.testing.assert_array_equal(back[..., 3], alpha)
    np.testing.assert_array_equal(back[:, 100:], rgba[:, 100:])
    assert not back[:, :100, :3].any()
    from compress_core.codec import encode_lossless

    kept = encode_lossless(rgba)[0]  # what keeping the hidden colour costs
    assert result.compressed_bytes < 0.85 * len(kept)
    # the input file kept as it is: its pixels are the file's, hidden colour included
    from PIL import ImageDraw

    drawn = Image.new("RGBA", (300, 200), (255, 255, 255, 255))
    for i in range(6):
        ImageDraw.Draw(drawn).rectangle([20 + i * 45, 150 - i * 20, 55 + i * 45, 190],
                                        fill=(40 * i, 120, 200 - 30 * i, 255))
    cut = np.asarray(drawn).copy()
    cut[:, :60, 3] = 0
    palette = encode(Image.fromarray(cut).quantize(16, method=Image.Quantize.FASTOCTREE), "PNG",
                     optimize=True)
    ours = _run(compressor, palette, method="jpeg", format="png")
    # (its own palette PNG, the hidden colour black, is smaller than the file: 318 B, 360)
    assert len(ours.data) < len(palette) and "input_kept" not in ours.operations
    # a file of the same size whose hidden colour is red: the file itself is kept
    written = decode(ours.data)
    entries = written.getpalette()
    hidden = written.info["transparency"]   # (one entry's tRNS: Pillow gives its index)
    assert hidden == 0          # (the translucent entries first)
    entries[3 * hidden:3 * hidden + 3] = [255, 0, 0]
    written.putpalette(entries)
    red = encode(written, "PNG", optimize=True, compress_level=9,
                 transparency=written.info["transparency"])
    assert len(red) == len(ours.data)
    same = _run(compressor, red, method="jpeg", format="png")
    assert same.data == red and same.operations["input_kept"]
    np.testing.assert_array_equal(np.asarray(decode(same.data).convert("RGBA")), same.pixels)
    assert (same.pixels[:, :60] == (255, 0, 0, 0)).all()


@pytest.mark.parametrize("kwargs", [dict(method="jpeg", format="jpeg"),
                                    dict(format="jpeg", scale=0.5),
                                    dict(format="jpeg", scale=0.5, target_bytes=4000)])
def test_transparency_written_as_jpeg_is_said(compressor, chelsea, caplog, kwargs):
    """JPEG has no alpha: transparent pixels go over white. That was silent; now a warning
    naming the picture, and ``operations["alpha_flattened"]``. An opaque alpha is not said."""
    alpha = np.full(chelsea.shape[:2], 255, np.uint8)
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        opaque = _run(compressor, np.dstack([chelsea, alpha]), **kwargs)
    assert opaque.format == "JPEG" and "alpha_flattened" not in opaque.operations
    assert not [r for r in caplog.records if "over white" in r.getMessage()]
    alpha[:, :60] = 0
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        result = _run(compressor, np.dstack([chelsea, alpha]), **kwargs)
    assert result.format == "JPEG" and result.operations["alpha_flattened"] is True
    said = [r.getMessage() for r in caplog.records if "over white" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("<array>: transparent pixels")
    shown = np.asarray(decode(result.data).convert("RGB")).astype(int)
    assert shown[:, :5].min() > 235  # the transparent side shows white
    # the result's pixels are what its data shows (they kept the alpha, their colour hidden
    # there: a PNG saved from them was transparent, its JPEG white; API review 40)
    assert result.pixels.shape[2] == 3 and result.image.mode == "RGB"
    assert np.abs(result.pixels.astype(int) - shown).mean() < 8   # (the JPEG's loss)
    assert result.pixels[:, :result.size[0] // 4].min() == 255


def test_a_quality_format_auto_does_not_use_is_said(compressor, chelsea, caplog):
    """Review 22: under format auto a transparent picture (or a graphic) is written exactly:
    quality 1 and 100, target_quality 10 and 95 wrote the same file without a word. Now a
    warning naming the option, and ``operations["quality_unused"]``; the default search, and
    a photo, say nothing."""
    alpha = np.full(chelsea.shape[:2], 255, np.uint8)
    alpha[:, :60] = 0
    cut = np.dstack([chelsea, alpha])
    files = []
    for kwargs, said in ((dict(quality=1), "quality 1"), (dict(quality=100), "quality 100"),
                         (dict(target_quality=95), "target_quality 95"), ({}, None)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
            result = _run(compressor, cut, scale=0.5, **kwargs)
        files.append(result.data)
        messages = [r.getMessage() for r in caplog.records if "not used" in r.getMessage()]
        if said is None:
            assert not messages and "quality_unused" not in result.operations
            continue
        # (a cut-out photo takes photo_format under format auto: bytes review 40)
        assert messages == [f"<array>: {said} not used: format 'auto' does not encode a "
                            "transparent photo lossy (photo_format 'webp', 'avif' or 'jxl' "
                            "does)"]
        assert result.operations["quality_unused"] is True
    assert len(set(files)) == 1  # (the same exact file each time)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        graphic = _run(compressor, _chart(), scale=1.0, quality=40)
        photo_result = _run(compressor, chelsea, scale=0.5, quality=40)
    messages = [r.getMessage() for r in caplog.records if "not used" in r.getMessage()]
    assert graphic.operations["quality_unused"] is True and len(messages) == 1
    assert "does not encode a graphic lossy (format 'webp'" in messages[0]
    assert photo_result.quality == 40 and "quality_unused" not in photo_result.operations
    # under a byte budget its exact encoding fits: the quality (the search's top) unused too
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        budget = [_run(compressor, _chart(), scale=1.0, quality=q, target_bytes=50_000)
                  for q in (20, 95)]
    assert budget[0].data == budget[1].data and budget[0].quality is None
    assert all(r.operations["quality_unused"] is True for r in budget)
    assert len([r for r in caplog.records if "not used" in r.getMessage()]) == 2


def test_forward_energy_and_psnr_metric(chelsea):
    compressor = SemanticCompressor(GRADIENT, quality_metric="psnr", energy_mode="forward")
    result = _run(compressor, chelsea, method="seam_carving", scale=0.7, target_bytes=3000)
    assert result.compressed_bytes <= 3000
    assert result.params["energy_mode"] == "forward"
    assert result.size[0] <= 126 and result.size[1] <= 84


# ------------------------------------------------------------- byte targets
@pytest.mark.parametrize("fmt", FORMATS)
def test_byte_targets_are_never_exceeded(compressor, chelsea, fmt):
    full = _run(compressor, chelsea, method="jpeg", format=fmt).compressed_bytes
    for budget in (400, 900, 2000, full // 2, full + 100):
        for method in ("hybrid", "jpeg"):
            try:
                result = _run(compressor, chelsea, method=method, format=fmt,
                              target_bytes=budget)
            except TargetUnreachableError:
                assert method == "jpeg" or budget < 600, (fmt, budget, method)
                continue
            assert result.compressed_bytes <= budget, (fmt, budget, method)
            assert len(result.data) == result.compressed_bytes
            assert result.format == fmt.upper()
            assert decode(result.data).size == result.size
            if method == "jpeg":
                assert result.size == (180, 120)


@pytest.mark.parametrize("method", METHODS)
def test_byte_target_with_a_size_target(compressor, chelsea, method):
    result = _run(compressor, chelsea, method=method, target_width=100, target_height=100,
                  target_bytes=1500, format="webp")
    assert result.compressed_bytes <= 1500
    w, h = result.size
    assert w <= 100 and h <= 100 and abs(w - h) <= 1  # fewer pixels, same (square) shape


@pytest.mark.parametrize("size", [dict(target_width=226, target_height=150), dict(scale=0.5)])
def test_a_byte_budget_keeps_a_size_asked_for_where_it_fits(size):
    """A size asked for (exact, or a scale) and a byte budget it meets at some quality: a
    better-scoring smaller size was written (chelsea 226 x 150 under 4,000 bytes fits at
    quality 59; 192 x 128 came out, without a word). Now that size; without a size target the
    budget still chooses among sizes by score."""
    pixels = photo("chelsea")  # 451 x 300
    result = compress_image(pixels, target_bytes=4000, show_progress=False, **size)
    assert result.size == (226, 150) and result.compressed_bytes <= 4000
    free = compress_image(pixels, target_bytes=4000, show_progress=False)
    assert free.compressed_bytes <= 4000 and free.size[0] <= 451


def test_generous_byte_target_keeps_size_and_quality(compressor, chelsea):
    result = _run(compressor, chelsea, scale=0.5, target_bytes=10**6)
    assert result.size == (90, 60) and result.quality == 85


def test_quality_is_the_ceiling_of_the_search(compressor, chelsea):
    result = _run(compressor, chelsea, scale=0.5, quality=40, target_bytes=10**6)
    assert result.quality == 40
    assert _run(compressor, chelsea, scale=0.5, quality=40).quality == 40


@pytest.mark.parametrize("fmt", FORMATS)
def test_unreachable_byte_target_names_the_smallest_size(compressor, chelsea, fmt):
    with pytest.raises(TargetUnreachableError) as info:
        _run(compressor, chelsea, scale=0.5, format=fmt, target_bytes=40)
    message = str(info.value)
    assert "target_bytes=40" in message and fmt.upper() in message
    smallest = int(re.search(r"smallest \w+ encoding found is (\d+) bytes", message).group(1))
    assert smallest > 40
    result = _run(compressor, chelsea, scale=0.5, format=fmt, target_bytes=smallest)
    assert result.compressed_bytes <= smallest  # the size it names is reachable


# ------------------------------------------------------------- method="jpeg"
def test_jpeg_method_re_encodes_only(compressor, files, chelsea):
    result = _run(compressor, str(files["png"]), method="jpeg", quality=85)
    assert result.format == "JPEG" and result.size == (180, 120)  # auto -> JPEG for this method
    assert result.seams == {"vertical": 0, "horizontal": 0} and result.crop_box is None
    assert result.retained_energy_ratio == 1.0 and result.pixel_ratio == 1.0
    assert result.energy_stats == {}  # no importance map: nothing would read it
    assert np.abs(np.asarray(decode(result.data)).astype(int) - chelsea).mean() < 4
    budget = _run(compressor, chelsea, method="jpeg", target_bytes=2500)
    assert budget.size == (180, 120) and budget.compressed_bytes <= 2500 and budget.quality < 85
    assert _run(compressor, chelsea, method="jpeg", format="webp").format == "WEBP"


@pytest.mark.parametrize("fmt, media", [("jpeg", "image/jpeg"), ("webp", "image/webp"),
                                        ("png", "image/png"), ("avif", "image/avif"),
                                        ("jxl", "image/jxl")])
def test_the_result_says_its_media_type(compressor, chelsea, fmt, media):
    """A service answering with the bytes needs their Content-Type; it had to map ``format``
    ('WEBP' ...) itself (API review 29)."""
    result = _run(compressor, chelsea, scale=0.5, format=fmt)
    assert (result.mime_type, result.extension) == (media, "." + ("jpg" if fmt == "jpeg"
                                                                    else fmt))
    assert decode(result.data).format == result.format


def test_jpeg_method_never_computes_an_importance_map(chelsea):
    """Re-encoding only: the energy (a CNN and a face search by default) is not run at all."""
    from compress_core.energy.base import EnergyFunction

    class Refuses(EnergyFunction):
        name = "refuses"

        def compute(self, rgb):
            raise AssertionError("the importance map was computed for method='jpeg'")

    result = SemanticCompressor(Refuses()).compress(chelsea, method="jpeg", format="webp")
    assert result.format == "WEBP" and result.size == (180, 120)
    with pytest.raises(AssertionError, match="importance map was computed"):
        SemanticCompressor(Refuses()).compress(chelsea, target_width=90, target_height=90)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "AVIF"])
def test_jpeg_method_keeps_a_file_no_larger_than_its_re_encoding(compressor, fmt):
    """A file coded at a low quality re-encoded in its own format to a score of 70 (against
    itself) could come out larger, with a second loss: Kodak photos saved at quality 30 up to
    8% larger as JPEG, 3-29% as WebP, 12-39% as AVIF. Now the file itself is written where it
    is no larger than what the search made; a high-quality file is re-encoded as before."""
    pixels = photo("astronaut", 256, 256)
    low, high = encode(pixels, fmt, quality=30), encode(pixels, fmt, quality=95)
    kw = dict(method="jpeg", format=fmt.lower())
    kept = _run(compressor, low, target_quality=90, **kw)  # (q30 scores ~70 at 90)
    assert kept.data == low and kept.format == fmt and kept.quality is None
    assert kept.operations["input_kept"] is True and kept.operations["quality_score"] == 100.0
    assert kept.compression_ratio == 1.0
    np.testing.assert_array_equal(kept.pixels, np.asarray(decode(low).convert("RGB")))
    again = _run(compressor, high, target_quality=80, **kw)
    assert again.compressed_bytes < len(high) and "input_kept" not in again.operations
    assert again.quality is not None and again.operations["quality_score"] >= 80
    # the same rule under a byte budget: kept where the search's file is no smaller ...
    assert _run(compressor, low, target_bytes=len(low) + 500, **kw).data == low
    # ... and re-encoded where the search fits more, or the file is over the budget
    small = _run(compressor, high, target_bytes=len(high) // 2, **kw)
    assert small.compressed_bytes <= len(high) // 2 and "input_kept" not in small.operations
    # not with a fixed quality (asked for); metadata="none" of a file without any: kept
    result = _run(compressor, low, quality=35, **kw)
    assert result.data != low and "input_kept" not in result.operations
    assert _run(compressor, low, metadata="none", target_quality=90, **kw).data == low
    # the other methods, where they keep the size, re-encode as method jpeg does: the file
    # itself (edge hunt 24: hybrid and smart_crop at scale 1 or under a max_dimension it
    # already met re-encoded a quality-15 JPEG, up to 10% larger, with a second loss)
    for same_size in (dict(scale=1.0), dict(max_dimension=1000),
                      dict(method="smart_crop", scale=1.0)):
        result = _run(compressor, low, target_quality=90, format=fmt.lower(), **same_size)
        assert result.data == low and result.operations["input_kept"] is True, same_size
    # ... where they resize, it is another picture; another format is another file
    assert "input_kept" not in _run(compressor, low, scale=0.9, target_quality=90,
                                    format=fmt.lower()).operations
    other = "webp" if fmt == "JPEG" else "jpeg"
    assert _run(compressor, low, method="jpeg", format=other, target_quality=90).data != low


def test_jpeg_method_keeps_a_file_that_meets_a_budget_no_encoding_meets(compressor):
    """A palette PNG (16 colours) under a byte budget of its own size: every encoding of its
    pixels (RGB) is larger, and the budget was a TargetUnreachableError though the file met it;
    now the file itself."""
    palette = Image.fromarray(photo("astronaut", 128, 128)).quantize(16)
    data = encode(palette, "PNG", optimize=True)
    result = _run(compressor, data, method="jpeg", format="png", target_bytes=len(data))
    assert result.data == data and result.operations["input_kept"] is True
    with pytest.raises(TargetUnreachableError):  # under the file's size: as before
        _run(compressor, data, method="jpeg", format="png", target_bytes=len(data) - 1)


def test_jpeg_method_under_format_auto_keeps_a_transparent_webp_or_avif_file(compressor):
    """Review 22: format auto wrote a transparent picture exactly (PNG or lossless WebP): a
    lossy WebP with alpha (31.9 KB) came out a 227.6 KB lossless WebP; then the file was kept.
    A transparent photo read from a lossy file is now searched as a lossy WebP with its alpha
    (formats review 41: a lossy AVIF cut-out had become a lossless WebP 7.3x its size), the
    file kept where no smaller, as opaque photos are."""
    pixels = photo("astronaut", 256, 256)
    ramp = np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1))
    lossy = encode(Image.fromarray(np.dstack([pixels, ramp]), "RGBA"), "WEBP", quality=80)
    searched = _run(compressor, lossy, method="jpeg")
    assert searched.format == "WEBP" and not searched.operations.get("lossless")
    assert len(searched.data) < len(lossy) / 2 and searched.operations["quality_score"] >= 70
    shown = np.asarray(decode(searched.data).convert("RGBA"))
    np.testing.assert_array_equal(shown[..., 3], ramp)   # (its alpha exact)
    # a score the file itself is the smallest way to: the file, as it is
    kept = _run(compressor, lossy, method="jpeg", target_quality=95)
    assert kept.data == lossy and kept.format == "WEBP"
    assert kept.operations["input_kept"] is True
    np.testing.assert_array_equal(kept.pixels, np.asarray(decode(lossy).convert("RGBA")))
    # a lossy AVIF with alpha where AVIF is the photos' format: a transparent photo is then
    # searched as AVIF (with its alpha), and the file kept only where no larger, as opaque ones
    avif = encode(Image.fromarray(np.dstack([pixels, ramp]), "RGBA"), "AVIF", quality=50)
    chosen = _run(compressor, avif, method="jpeg", photo_format="avif")
    assert chosen.format == "AVIF" and len(chosen.data) < len(avif)
    assert chosen.operations["quality_score"] >= 70 and decode(chosen.data).mode == "RGBA"
    kept = _run(compressor, avif, method="jpeg", photo_format="avif", target_quality=95)
    assert kept.data == avif and kept.operations["input_kept"] is True
    # photos as JPEG (no alpha): a lossy WebP with it, no larger than the AVIF (it had been a
    # lossless WebP 7.3x the file)
    webp = _run(compressor, avif, method="jpeg")
    assert webp.format == "WEBP" and not webp.operations.get("lossless")
    assert len(webp.data) < len(avif) and webp.operations["quality_score"] >= 70
    # the same picture from a lossless file stays exact (issue 13: pictures with alpha stay
    # lossless)
    exact = _run(compressor, encode(Image.fromarray(np.dstack([pixels, ramp]), "RGBA"), "PNG"),
                 method="jpeg")
    assert exact.format in ("PNG", "WEBP") and exact.operations.get("lossless") is True


def test_jpeg_method_keeps_a_file_whose_xmp_metadata_leaves_as_it_is(compressor):
    """Review 20: a WebP at quality 30 carrying an XMP packet with a creator only (nothing to
    drop under keep or compact) was re-encoded 15% larger: the packet, rewritten with its
    attributes in another order, did not compare equal. A packet compact does trim is another
    packet: re-encoded."""
    creator = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
               b'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc'
               b'/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Someone</rdf:li></rdf:Seq>'
               b'</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>')
    tool = creator.replace(b'rdf:about=""', b'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
                                            b' xmp:CreatorTool="Editor 1.0"')
    img = Image.fromarray(photo("astronaut", 256, 256))
    for packet, metadata, expected in ((creator, "keep", True), (creator, "compact", True),
                                       (tool, "keep", True), (tool, "compact", False)):
        data = encode(img, "WEBP", quality=30, xmp=packet)
        result = _run(compressor, data, method="jpeg", format="webp", target_quality=90,
                      metadata=metadata)
        assert (result.data == data) is expected, (packet[-60:], metadata)
        assert ("input_kept" in result.operations) is expected


def test_jpeg_method_keeps_a_file_only_with_the_metadata_the_output_would_have(compressor):
    """The file kept as it is carries its own metadata: only where the output's would be the
    same. A camera's maker note under "compact" (which drops it), any EXIF under "none", an
    EXIF orientation (the output is upright, with orientation 1), a gray profile (applied to
    the pixels on decoding): re-encoded. An sRGB profile, which "compact" drops as the
    default, looks the same carried: kept."""
    pixels = photo("astronaut", 256, 256)

    def exif(maker_note=0, orientation=1):
        block = Image.Exif()
        block[0x010F], block[0x0112] = "Canon", orientation
        if maker_note:
            block.get_ifd(0x8769)[0x927C] = bytes(maker_note)
        return block.tobytes()

    def kept(data, metadata):
        result = _run(compressor, data, method="jpeg", target_quality=90, metadata=metadata)
        assert (result.data == data) == ("input_kept" in result.operations)
        return result.data == data

    noted = encode(pixels, "JPEG", quality=30, exif=exif(maker_note=5000))
    assert kept(noted, "keep") and not kept(noted, "compact") and not kept(noted, "none")
    plain = encode(pixels, "JPEG", quality=30, exif=exif())
    assert kept(plain, "compact") and not kept(plain, "none")
    turned = encode(np.ascontiguousarray(np.rot90(pixels)), "JPEG", quality=30,
                    exif=exif(orientation=6))
    assert not kept(turned, "keep") and not kept(turned, "compact")
    tagged = encode(pixels, "JPEG", quality=30, icc_profile=srgb_icc())
    assert kept(tagged, "compact") and kept(tagged, "keep") and not kept(tagged, "none")
    gray = encode(Image.fromarray(pixels).convert("L"), "JPEG", quality=30,
                  icc_profile=gray_icc(1.8))
    assert not kept(gray, "keep")


def test_jpeg_method_re_encodes_animations_and_jpegs_some_readers_refuse(compressor):
    """Never kept as they are: an animation (its first frame is what is compressed), and a
    CMYK JPEG (RGB is what every reader shows), though each was smaller than its output."""
    pixels = photo("astronaut", 256, 256)
    still = Image.fromarray(pixels)
    flipped = Image.fromarray(np.ascontiguousarray(pixels[::-1]))
    animated = encode(still, "WEBP", quality=20, save_all=True, append_images=[flipped])
    assert load_image(animated).frames == 2
    cmyk = encode(still.convert("CMYK"), "JPEG", quality=10)
    for data, fmt in ((animated, "webp"), (cmyk, "jpeg")):
        # (at 92: the search's tolerance there is 0.4 points, and a quality-30 WebP at 90 had
        # become smaller than its file: bytes review 44)
        result = _run(compressor, data, method="jpeg", format=fmt, target_quality=92)
        assert result.compressed_bytes > len(data) and "input_kept" not in result.operations


@pytest.mark.parametrize("target", [dict(scale=0.5), dict(target_width=10),
                                    dict(target_height=10), dict(target_pixels=100),
                                    dict(max_dimension=50)])
def test_jpeg_method_rejects_size_targets(compressor, chelsea, target):
    with pytest.raises(ValueError, match="method='jpeg' re-encodes without resizing"):
        _run(compressor, chelsea, method="jpeg", **target)


def test_jpeg_method_unreachable_says_it_does_not_resize(compressor, chelsea):
    with pytest.raises(TargetUnreachableError, match=r"at 180x120 \(method='jpeg' does not "
                                                     r"resize\)"):
        _run(compressor, chelsea, method="jpeg", target_bytes=300)


# ------------------------------------------------------------- masks
def _contains_block(haystack, block):
    bh, bw = block.shape[:2]
    for y in range(haystack.shape[0] - bh + 1):
        for x in range(haystack.shape[1] - bw + 1):
            if np.array_equal(haystack[y:y + bh, x:x + bw], block):
                return True
    return False


def test_keep_mask_pixels_survive_seam_carving(compressor):
    pixels = photo("coffee", 150)
    keep = np.zeros((100, 150), bool)
    keep[20:60, 10:40] = True  # part of the table at the left, a cheap place for seams
    result = _run(compressor, pixels, method="seam_carving", keep_mask=keep, target_width=80,
                  target_height=70, format="png")
    assert result.size == (80, 70)
    assert _contains_block(result.pixels, pixels[20:60, 10:40])


@pytest.mark.parametrize("method", ["smart_crop", "hybrid", "seam_carving"])
def test_a_keep_mask_wider_than_the_target_is_said_to_be_cut(compressor, method, caplog):
    """A mask of 65 columns and a target 50 wide: 15 columns cannot be kept, and that was
    said nowhere (CLI review 37); a mask that fits is kept whole, and nothing is said."""
    import logging

    pixels = photo("rocket", 150)
    wide = np.zeros((100, 150), bool)
    wide[:, 40:105] = True
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        _run(compressor, pixels, method=method, keep_mask=wide, target_width=50,
             target_height=100, format="png")
    said = [r.getMessage() for r in caplog.records if "keep_mask's pixels" in r.getMessage()]
    assert len(said) == 1 and "could not be kept: 150x100 to 50x100" in said[0], caplog.text
    share = float(said[0].split("% of the keep_mask")[0].rsplit(" ", 1)[-1])
    assert 15 <= share <= 25, said      # (15 of 65 columns: 23%; a squeeze keeps a little more)
    caplog.clear()
    narrow = np.zeros((100, 150), bool)
    narrow[30:70, 60:90] = True
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        _run(compressor, pixels, method=method, keep_mask=narrow, target_width=50,
             target_height=100, format="png")
    assert "keep_mask's pixels" not in caplog.text


@pytest.mark.parametrize("method", ["smart_crop", "hybrid"])
def test_keep_mask_steers_crops(compressor, method):
    pixels = photo("rocket", 150)
    keep = np.zeros((100, 150), bool)
    keep[5:25, 2:22] = True  # top-left corner: sky, nothing a crop would keep
    result = _run(compressor, pixels, method=method, keep_mask=keep, target_width=60,
                  target_height=100, format="png")
    assert result.size == (60, 100)
    if method == "smart_crop":
        left, top, right, bottom = result.crop_box
        assert left <= 2 and right >= 22
        assert _contains_block(result.pixels, pixels[5:25, 2:22])


@pytest.mark.parametrize("method", ["smart_crop", "hybrid"])
@pytest.mark.parametrize("name, size, pixel", [("chelsea", (800, 600), (300, 799)),
                                               ("coffee", (1601, 1203), (600, 1600)),
                                               ("coffee", (800, 600), (300, 0))])
@pytest.mark.parametrize("working", [None, 2.0])
def test_crops_hold_a_one_pixel_keep_mask_at_the_frame_s_edge(method, name, size, pixel,
                                                              working):
    """The keep_mask's energy boost alone lost a single pixel at the frame's edge to the
    default energy a window gained elsewhere: smart_crop on chelsea at 800 x 600 to a square
    (window 75-675, the pixel at 799), the hybrid method on coffee at 1601 x 1203 on the whole
    photo (crop 169-1432, the pixel at 1600). The mask's box is now every crop's must, on the
    whole photo and at the working size."""
    pixels = photo(name, *size)
    keep = np.zeros(size[::-1], bool)
    keep[pixel] = True
    compressor = SemanticCompressor(policy=HybridPolicy(working_oversample=working))
    result = _run(compressor, pixels, method=method, keep_mask=keep, target_width=100,
                  target_height=100, format="png")
    left, top, right, bottom = result.crop_box  # what the output is drawn from
    assert left <= pixel[1] < right and top <= pixel[0] < bottom
    if method == "smart_crop":  # no seams: an output pixel's footprint covers it
        ys, xs = np.divmod(result.source_map.astype(np.int64), size[0])
        assert np.abs(xs - pixel[1]).min() <= size[0] / 100


def test_remove_mask_removes_the_object(compressor):
    pixels = np.array(photo("chelsea", 150))
    pixels[30:60, 100:120] = (0, 255, 0)  # a green object
    mask = np.zeros((100, 150), bool)
    mask[30:60, 100:120] = True
    result = _run(compressor, pixels, method="seam_carving", remove_mask=mask, scale=0.8,
                  format="png")
    assert result.size == (120, 80)
    green = (result.pixels[..., 1] > 200) & (result.pixels[..., 0] < 60)
    assert green.sum() == 0
    # under a byte budget alone (edge review 39: AttributeError 'NoneType' object has no
    # attribute 'free_shape'): the object removed, the budget met
    budget = _run(compressor, pixels, method="seam_carving", remove_mask=mask,
                  target_bytes=4000)
    assert budget.compressed_bytes <= 4000 and budget.operations["seams_removed"]["vertical"]
    shown = np.asarray(decode(budget.data).convert("RGB")).astype(int)
    assert ((shown[..., 1] > 200) & (shown[..., 0] < 60)).sum() == 0


@pytest.mark.parametrize("name", ["keep_mask", "remove_mask"])
@pytest.mark.parametrize("shape", [(120, 179), (180, 120), (10,)])
def test_masks_of_the_wrong_shape(compressor, chelsea, name, shape):
    with pytest.raises(ValueError, match=rf"{name} must be a 2-D array with the image's shape "
                                         r"\(120, 180\)"):
        _run(compressor, chelsea, method="seam_carving", scale=0.5,
             **{name: np.zeros(shape, bool)})


def test_remove_mask_needs_seam_carving(compressor, chelsea):
    with pytest.raises(ValueError, match="remove_mask needs method='seam_carving'"):
        _run(compressor, chelsea, scale=0.5, remove_mask=np.zeros((120, 180), bool))


# ------------------------------------------------------------- input kinds
@pytest.fixture
def memory_input(files):
    uri = f"memory://core-tests/{uuid.uuid4().hex}/chelsea.jpg"
    with fsspec.open(uri, "wb") as fh:
        fh.write(files["jpeg"].read_bytes())
    yield uri
    fsspec.filesystem("memory").rm(uri.split("://", 1)[1])


def test_every_input_kind(compressor, files, chelsea, memory_input):
    jpeg = files["jpeg"].read_bytes()
    sources = {
        "path": str(files["jpeg"]),
        "pathlib": files["jpeg"],
        "file-uri": files["jpeg"].as_uri(),
        "memory-uri": memory_input,
        "bytes": jpeg,
        "file-object": io.BytesIO(jpeg),
        "uint8": chelsea,
        "float": chelsea / 255.0,
        "gray": chelsea[..., 0],
        "rgba": np.dstack([chelsea, np.full((120, 180), 255, np.uint8)]),
        "uint16": chelsea.astype(np.uint16) * 257,
        "pil-rgb": Image.fromarray(chelsea),
        "pil-L": Image.fromarray(chelsea).convert("L"),
        "pil-LA": Image.fromarray(chelsea).convert("LA"),
        "pil-P": Image.fromarray(chelsea).quantize(64),
        "pil-CMYK": Image.fromarray(chelsea).convert("CMYK"),
        "pil-I;16": Image.fromarray(chelsea[..., 0].astype(np.uint16) * 257),
    }
    for kind, source in sources.items():
        result = _run(compressor, source, scale=0.5)
        assert result.size == (90, 60), kind
        assert result.original_size == (180, 120), kind
        if kind in ("path", "pathlib", "file-uri", "memory-uri", "bytes", "file-object"):
            assert result.input_format == "JPEG" and result.format == "JPEG", kind
            assert result.original_bytes == len(jpeg), kind
            assert result.input_sha256 == hashlib.sha256(jpeg).hexdigest(), kind
        else:
            assert result.input_format is None and result.input_sha256 is None, kind
    assert _run(compressor, str(files["jpeg"]), scale=0.5).source == str(files["jpeg"])
    assert _run(compressor, memory_input, scale=0.5).source == memory_input
    assert _run(compressor, jpeg, scale=0.5).source == "<bytes>"


def test_array_original_bytes_are_the_raw_pixels(compressor, chelsea):
    result = _run(compressor, chelsea, scale=0.5)
    assert result.original_bytes == 180 * 120 * 3
    rgba = np.dstack([chelsea, np.full((120, 180), 255, np.uint8)])
    assert _run(compressor, rgba, scale=0.5).original_bytes == 180 * 120 * 4
    # the samples given, not the 8-bit RGB decoded from them (edge review 42: a grey array
    # counted three times, a uint16 one half)
    grey = np.ascontiguousarray(chelsea[..., 0])
    assert _run(compressor, grey, scale=0.5).original_bytes == 180 * 120
    deep = chelsea.astype(np.uint16) * 257
    assert _run(compressor, deep, scale=0.5).original_bytes == 180 * 120 * 3 * 2
    assert _run(compressor, Image.fromarray(grey), scale=0.5).original_bytes == 180 * 120
    assert _run(compressor, Image.fromarray(np.ascontiguousarray(deep[..., 0])),
                scale=0.5).original_bytes == 180 * 120 * 2


def test_palette_with_transparency_keeps_alpha_in_png(compressor, chelsea):
    img = Image.fromarray(chelsea).quantize(16)
    transparent = int(np.asarray(img)[0, 0])
    data = encode(img, "PNG", transparency=transparent)
    result = _run(compressor, data, scale=0.5)
    assert result.format in ("PNG", "WEBP") and result.pixels.shape == (60, 90, 4)
    assert result.pixels[..., 3].min() == 0


@pytest.mark.parametrize("transparent, fmt", [(True, "auto"), (False, "png")])
def test_a_palette_picture_resampled_keeps_a_palette(compressor, transparent, fmt):
    """A 16-colour PNG8 (with a transparent entry: format auto writes it exactly; or opaque,
    as a PNG) at half size: its resampled edges held thousands of colours, written exactly (a
    512 px astronaut: 42 KB in, an 87 KB lossless WebP out, at a quarter of the pixels). Its
    output keeps 256 colours at most, each near what the exact resample gave, in fewer bytes
    than the input file and than the resample written exactly; a crop, which makes no new
    colour, and a photo are written as before."""
    img = Image.fromarray(photo("astronaut", 256)).quantize(16)
    kwargs = dict(transparency=0) if transparent else {}
    data = encode(img, "PNG", optimize=True, **kwargs)
    result = _run(compressor, data, scale=0.5, format=fmt)
    pixels = result.pixels
    assert 16 < result.operations["colours"] <= 256 and result.operations["lossless"] is True
    assert result.format in ("PNG", "WEBP") and pixels.shape[2] == (4 if transparent else 3)
    shown = np.asarray(decode(result.data).convert("RGBA" if transparent else "RGB"))
    np.testing.assert_array_equal(shown, pixels)        # the data is the pixels reported
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]),
                         axis=0)) == result.operations["colours"]
    if result.format == "PNG":
        assert Image.open(io.BytesIO(result.data)).mode == "P"
    source = np.asarray(decode(data).convert("RGBA" if transparent else "RGB"))
    resampled = lanczos(source, 128, 128).astype(int)
    visible = resampled[..., 3] == 255 if transparent else np.ones((128, 128), bool)
    error = np.abs(pixels[..., :3].astype(int) - resampled[..., :3])[visible]
    assert error.mean() < 4 and len(result.data) < 0.8 * len(data)
    truecolour = codec.encode_lossless(np.ascontiguousarray(resampled.astype(np.uint8)))[0]
    assert len(result.data) < 0.5 * len(truecolour)
    # a crop of it makes no colour: written exactly, no reduction said
    crop = _run(compressor, data, target_width=200, target_height=256, method="smart_crop",
                format=fmt)
    assert "colours" not in crop.operations and crop.size == (200, 256)
    assert crop.operations["lossless"] is True
    # a photo has thousands of colours in: nothing to keep
    assert "colours" not in _run(compressor, photo("astronaut", 256), scale=0.5,
                                 format="png").operations


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_applied_and_reset(compressor, chelsea, orientation):
    data = encode(chelsea, "JPEG", quality=90, exif=exif_bytes(orientation))
    result = _run(compressor, data, scale=0.5)
    upright = (180, 120) if orientation == 3 else (120, 180)
    assert result.original_size == upright
    assert result.size == (upright[0] // 2, upright[1] // 2)
    assert orientation_of(result.data) == 1  # a viewer must not rotate it again
    assert decode(result.data).getexif()[0x010F] == "TestCam"  # the rest of EXIF is kept
    for fmt in ("png", "webp", "avif"):
        other = _run(compressor, data, scale=0.5, format=fmt)
        assert decode(other.data).size == other.size == result.size
        assert (orientation_of(other.data) or 1) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_icc_profile_kept_on_output(compressor, chelsea, fmt):
    """A profile that is not sRGB travels (metadata 'compact', the default); an sRGB one only
    with metadata='keep' (tests/compress_core/test_metadata.py has the rest)."""
    for icc, metadata in ((wide_icc(1.8), "compact"), (srgb_icc(), "keep")):
        data = encode(chelsea, "JPEG", quality=90, icc_profile=icc)
        for kwargs in (dict(scale=0.5), dict(scale=0.5, target_bytes=3000),
                       dict(method="jpeg")):
            result = _run(compressor, data, format=fmt, metadata=metadata, **kwargs)
            assert decode(result.data).info.get("icc_profile") == icc, kwargs


# ------------------------------------------------------------- the result
def test_result_fields(compressor, files):
    result = _run(compressor, str(files["jpeg"]), target_width=100, target_height=100,
                  quality=85)
    assert isinstance(result, CompressionResult) and result.ok is True
    assert result.original_size == (180, 120) and result.size == (100, 100)
    assert result.original_bytes == os.path.getsize(files["jpeg"])
    assert result.compressed_bytes == len(result.data)
    assert result.compression_ratio == pytest.approx(result.compressed_bytes /
                                                     result.original_bytes)
    assert f"{result.compression_ratio:.1%}".endswith("%")
    assert result.pixel_ratio == pytest.approx(100 * 100 / (180 * 120))
    assert result.format == "JPEG" and result.quality == 85 and result.extension == ".jpg"
    assert result.image.size == (100, 100) and result.image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(result.image), result.pixels)
    assert set(result.timings) == {"decode_ms", "energy_ms", "resize_ms", "encode_ms",
                                   "total_ms"}
    assert all(v >= 0 for v in result.timings.values())
    parts = sum(v for k, v in result.timings.items() if k != "total_ms")
    assert parts == pytest.approx(result.timings["total_ms"], abs=0.05)
    assert set(result.seams) == {"vertical", "horizontal"}
    assert set(result.energy_stats) >= {"mean_energy", "std_energy", "p05", "p25", "p50", "p75",
                                        "p95", "high_importance_ratio"}
    stats = result.energy_stats
    assert 0 <= stats["p05"] <= stats["p25"] <= stats["p50"] <= stats["p75"] <= stats["p95"] <= 1
    assert 0.0 <= result.retained_energy_ratio <= 1.0
    assert result.energy == {"name": "gradient", "operator": "sobel"}
    assert result.method == "hybrid"
    assert result.params["target_width"] == 100 and result.params["format"] == "jpeg"
    assert set(result.operations) >= {"margin_crop", "carved_vertical", "scaled_from"}
    assert result.source == str(files["jpeg"])


def test_retained_energy_ratio_in_unit_range_for_every_method(compressor, chelsea):
    for method in METHODS:
        result = _run(compressor, chelsea, method=method, target_width=60, target_height=100)
        assert 0.0 < result.retained_energy_ratio <= 1.0, method
    crop = _run(compressor, chelsea, method="smart_crop", target_width=60, target_height=100)
    left, top, right, bottom = crop.crop_box
    energy = GRADIENT(chelsea)
    assert crop.retained_energy_ratio == pytest.approx(
        energy[top:bottom, left:right].sum() / energy.sum(), rel=1e-6)


def test_save_writes_the_encoded_bytes(compressor, chelsea, tmp_path):
    result = _run(compressor, chelsea, scale=0.5)
    target = tmp_path / "deep" / "er" / "small.jpg"
    assert result.save(target) == str(target)
    assert target.read_bytes() == result.data
    assert result.save(str(tmp_path / "SMALL.JPEG")) and \
        (tmp_path / "SMALL.JPEG").read_bytes() == result.data
    assert result.save(tmp_path / "noext") and (tmp_path / "noext").read_bytes() == result.data
    uri = (tmp_path / "via-uri.jpg").as_uri()
    result.save(uri)
    assert (tmp_path / "via-uri.jpg").read_bytes() == result.data
    leftovers = [p.name for p in tmp_path.rglob(".tmp-*")]
    assert leftovers == []  # written atomically: no temporary files left behind
    # a folder: said so (os.replace's error named the temporary file; review 20)
    with pytest.raises(IsADirectoryError, match=r"deep: is a folder; give a file name"):
        result.save(tmp_path / "deep")
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["er"]
    # what is no path, and storage options of no use, are said (a string of options was
    # ignored for a local path; edge review 37)
    for bad in (None, 3):
        with pytest.raises(TypeError, match="path_or_uri must be a path or URI"):
            result.save(bad)
    for bad in ("x", 5, {"s3": "key"}):
        with pytest.raises(TypeError, match="storage_options must be a dict"):
            result.save(tmp_path / "options.jpg", storage_options=bad)
    assert not (tmp_path / "options.jpg").exists()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_save_respects_the_umask(compressor, chelsea, tmp_path, umask, mode):
    """Issue 12 item 9: save() wrote 0600 (a mkstemp file renamed) whatever the umask."""
    result = _run(compressor, chelsea, scale=0.5)
    old = os.umask(umask)
    try:
        result.save(tmp_path / "small.jpg")
        result.save(tmp_path / "small.png")   # re-encoded path too
    finally:
        os.umask(old)
    for name in ("small.jpg", "small.png"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name


def test_save_to_a_memory_uri(compressor, chelsea):
    result = _run(compressor, chelsea, scale=0.5, format="webp")
    uri = f"memory://core-tests/{uuid.uuid4().hex}/out.webp"
    result.save(uri)
    with fsspec.open(uri, "rb") as fh:
        assert fh.read() == result.data
    fsspec.filesystem("memory").rm(uri.split("://", 1)[1])


@pytest.mark.parametrize("name", ["out.gif", "out.tif", "out.BMP", "out.heic", "out.cr2"])
def test_save_refuses_a_suffix_of_a_format_it_does_not_write(compressor, chelsea, tmp_path,
                                                            name):
    """save("out.gif") wrote the JPEG's bytes under a GIF name; save("out.heic"), a format
    the library reads but does not write, still did (edge review 35)."""
    result = _run(compressor, chelsea, scale=0.5)
    with pytest.raises(ValueError, match=r"names (GIF|TIFF|BMP|HEIF|camera RAW \(CR2\)), a "
                                         r"format this library does not write \(the file "
                                         r"would hold JPEG\)"):
        result.save(tmp_path / name)
    assert not (tmp_path / name).exists()
    assert decode(open(result.save(tmp_path / "out.jfif"), "rb").read()).format == "JPEG"


def test_save_re_encodes_by_suffix(compressor, chelsea, tmp_path):
    icc = wide_icc(1.8)
    result = _run(compressor, encode(chelsea, "JPEG", icc_profile=icc), scale=0.5)
    assert result.format == "JPEG"
    png = tmp_path / "out.png"
    result.save(png)
    img = decode(png.read_bytes())
    assert img.format == "PNG" and img.info.get("icc_profile") == icc
    np.testing.assert_array_equal(np.asarray(img), result.pixels)  # lossless: the exact pixels
    for suffix, name in ((".webp", "WEBP"), (".avif", "AVIF")):
        path = tmp_path / f"out{suffix}"
        result.save(path)
        assert decode(path.read_bytes()).format == name
        assert decode(path.read_bytes()).size == (90, 60)
    back = _run(compressor, chelsea, scale=0.5, format="png")
    jpg = tmp_path / "back.jpg"
    back.save(jpg)
    assert decode(jpg.read_bytes()).format == "JPEG"


def test_save_re_encodes_an_auto_quality_result_to_its_score_in_the_new_format(compressor,
                                                                               tmp_path):
    """quality="auto" found JPEG quality ~73 for a score of 70; saving as .avif reused 73,
    which in AVIF's scale made 1.7x the bytes AVIF needs (more than the JPEG itself). The
    new format gets the score instead: the same bytes as compressing to it."""
    src = encode(photo("china", 384), "JPEG", quality=95)
    result = _run(compressor, src, scale=0.5)
    assert result.format == "JPEG" and result.params["quality"] == "auto"
    for fmt in ("avif", "webp"):
        saved = open(result.save(tmp_path / f"out.{fmt}"), "rb").read()
        assert saved == _run(compressor, src, scale=0.5, format=fmt).data
    # target_quality=0 is a score too: saved as 70 before (0.0 read as "not given")
    lowest = _run(compressor, src, scale=0.5, target_quality=0)
    saved = open(lowest.save(tmp_path / "low.webp"), "rb").read()
    assert saved == _run(compressor, src, scale=0.5, format="webp", target_quality=0).data


def test_save_in_another_format_keeps_the_byte_budget_or_refuses(compressor, tmp_path):
    """Bytes review 38: a result found under 3,000 B saved as .png was written at 54,121 B
    without a word. Another lossy format is fitted to the budget at the result's size; one
    that cannot hold it (a PNG of a photo) is refused, nothing written."""
    src = encode(photo("china", 384), "JPEG", quality=95)
    result = _run(compressor, src, target_bytes=3000)
    assert result.format == "JPEG" and result.compressed_bytes <= 3000
    for fmt in ("webp", "avif", "jxl"):
        saved = tmp_path / f"out.{fmt}"
        result.save(saved)
        assert os.path.getsize(saved) <= 3000 and decode(saved.read_bytes()).size == result.size
        # the highest quality that fits, not any that does
        assert saved.read_bytes() == codec.fit_budget(result.pixels, fmt, 3000)[0]
    with pytest.raises(TargetUnreachableError, match=r"target_bytes=3000 cannot be kept as PNG "
                                                     r"at \d+x\d+ .*save it as \.jpg"):
        result.save(tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()
    # a JPEG file kept as it is, saved as .jxl: its lossless recompression where that fits,
    # else the budget's re-encode (diff review 38: a 774 B JPEG XL of a 665 B file under 667)
    import dataclasses

    tiny = encode(photo("chelsea", 451)[60:76, 100:116], "JPEG", quality=50)
    kept = _run(compressor, tiny, method="jpeg", format="jpeg", target_bytes=len(tiny) + 2)
    kept = dataclasses.replace(kept, data=tiny, operations={**kept.operations,
                                                            "input_kept": True})
    kept.save(tmp_path / "kept.jxl")
    assert os.path.getsize(tmp_path / "kept.jxl") <= len(tiny) + 2


# ------------------------------------------------------------- batches and analysis
def test_compress_batch_returns_failures_in_place(compressor, files, chelsea):
    items = [files["jpeg"], str(files["corrupt"]), chelsea, files["png"].read_bytes(),
             str(files["truncated"]), str(files["jpeg"].with_name("missing.jpg"))]
    results = compressor.compress_batch(items, on_error="return", scale=0.5,
                                        show_progress=False)
    assert [r.ok for r in results] == [True, False, True, True, False, False]
    assert [r.size for r in results if r.ok] == [(90, 60)] * 3
    failed = results[1]
    assert isinstance(failed, FailedCompression)
    assert failed.source == str(files["corrupt"])
    assert failed.error_type == "ImageDecodeError"
    assert str(files["corrupt"]) in str(failed.error)
    assert results[4].error_type == "ImageDecodeError"
    assert results[5].error_type == "ImageReadError"
    assert results[3].format == "JPEG"  # a PNG photo: format="auto" decides by content


def test_compress_batch_raises_by_default(compressor, files):
    items = [files["jpeg"], files["corrupt"]]
    with pytest.raises(ImageDecodeError, match="corrupt.jpg"):
        compressor.compress_batch(items, scale=0.5, show_progress=False)
    with pytest.raises(ImageDecodeError):
        compressor.compress_batch(items, scale=0.5, on_error="raise", show_progress=False)


def test_compress_batch_takes_any_iterable_and_shows_progress(compressor, files, capsys):
    results = compressor.compress_batch((p for p in [files["jpeg"], files["png"]]),
                                        target_width=50, target_height=50, method="smart_crop")
    assert [r.size for r in results] == [(50, 50), (50, 50)]
    assert compressor.compress_batch([], scale=0.5) == []
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'return'"):
        compressor.compress_batch([files["jpeg"]], scale=0.5, on_error="ignore")


@pytest.mark.parametrize("kind", ["path", "pathlib", "bytes", "array", "pil", "file"])
def test_compress_batch_refuses_one_image(compressor, files, chelsea, kind):
    """One image is no batch: iterated, a path gave one failed 'image' per character and an
    (H, W, 3) array H gray 'images' of W x 3 pixels, all silently with on_error='return'."""
    one = {"path": str(files["jpeg"]), "pathlib": files["jpeg"],
           "bytes": files["jpeg"].read_bytes(), "array": chelsea,
           "pil": Image.fromarray(chelsea), "file": open(files["jpeg"], "rb")}[kind]
    with pytest.raises(TypeError, match="images must be an iterable of images"):
        compressor.compress_batch(one, on_error="return", scale=0.5, show_progress=False)
    if kind == "file":
        one.close()
    assert [r.size for r in compressor.compress_batch([chelsea], scale=0.5,
                                                      show_progress=False)] == [(90, 60)]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(scael=0.5), TypeError, "got an unexpected keyword argument 'scael'"),
    (dict(scale=-1), ValueError, "scale must be a positive finite number; got -1"),
    (dict(scale=0.5, quality=0), ValueError, "quality must be an integer in the output "
                                              "format's range"),
    (dict(), ValueError, "give at least one target"),
    (dict(scale=0.5, image="x.jpg"), TypeError, "multiple values for argument 'image'"),
    # a mask no image could take (fuzz review 51: one failure per image)
    (dict(scale=0.5, keep_mask="mask.png"), TypeError, "keep_mask must be an array of bool "
                                                       "or numbers, not a file name"),
    (dict(scale=0.5, keep_mask=np.full((4, 4), "x")), TypeError, "got dtype <U1"),
    (dict(scale=0.5, keep_mask=[[1, 0], [1]]), ValueError, "keep_mask must be a 2-D array of "
                                                           "bool or numbers: setting an array"),
    (dict(method="seam_carving", scale=0.5, remove_mask=np.zeros((4, 4, 3), bool)), ValueError,
     r"remove_mask must be a 2-D array"),
])
def test_compress_batch_raises_a_bad_option_once(compressor, files, chelsea, kwargs, error,
                                                 match):
    """The same for every image, a bad option is the caller's: it came back as one
    FailedCompression per image under on_error='return' (10,000 of them for a typo)."""
    with pytest.raises(error, match=match):
        _run(compressor, chelsea, **kwargs)  # what compress() says
    with pytest.raises(error, match=match):
        compressor.compress_batch(iter([chelsea, files["jpeg"], files["corrupt"]]),
                                  on_error="return", show_progress=False, **kwargs)
    # a per-image failure is still returned in its place with valid options
    results = compressor.compress_batch([chelsea, files["corrupt"]], on_error="return",
                                        scale=0.5, show_progress=False)
    assert [r.ok for r in results] == [True, False]
    assert results[1].error_type == "ImageDecodeError"


def test_compress_batch_says_how_to_pass_a_stack(compressor, chelsea):
    stack = np.stack([chelsea] * 3)
    with pytest.raises(TypeError, match=r"got one \(3, 120, 180, 3\) array: pass list\(stack\) "
                                        "for its 3 images"):
        compressor.compress_batch(stack, scale=0.5, show_progress=False)
    assert [r.size for r in compressor.compress_batch(list(stack), scale=0.5,
                                                      show_progress=False)] == [(90, 60)] * 3


def test_analyze_content(compressor, files):
    stats = compressor.analyze_content(str(files["jpeg"]))
    assert {"mean_energy", "std_energy", "high_importance_ratio", "p05", "p25", "p50", "p75",
            "p95"} <= set(stats)
    assert 0 <= stats["high_importance_ratio"] <= 1 and 0 <= stats["mean_energy"] <= 1
    assert (stats["width"], stats["height"]) == (180, 120)
    assert stats["energy"]["name"] == "gradient"
    with pytest.raises(ImageDecodeError, match="corrupt.jpg"):
        compressor.analyze_content(str(files["corrupt"]))


# ------------------------------------------------------------- the default (deep) energy
def test_default_energy_compress(chelsea):
    compressor = SemanticCompressor()
    assert compressor.energy_function.describe()["name"] == "deep"
    result = _run(compressor, chelsea, method="seam_carving", target_width=120,
                  target_height=120)
    assert result.size == (120, 120)
    assert result.energy["model_name"] == "efficientnet_lite0"
    assert result.energy["aggregate_method"] == "cam_contrast"
    assert 0 < result.retained_energy_ratio < 1


def test_hybrid_energy_weights_reach_the_result(chelsea):
    from compress_core import make_energy

    result = _run(SemanticCompressor(make_energy("hybrid")), chelsea, method="seam_carving",
                  target_width=120, target_height=120)
    names = [e["name"] for e in result.energy["energies"]]
    assert names == ["deep", "gradient", "saliency"]
    assert result.energy["energies"][0]["model_name"] == "efficientnet_lite0"
    assert set(result.energy_stats["weights"]) == {"deep", "gradient", "saliency"}


def test_a_shared_adaptive_blend_reports_each_images_own_weights(chelsea):
    """Thread review 44: the compressor read a blend's weights from the energy object
    (``last_weights``, its most recent image's), so that with one compressor shared by
    several threads a result could carry another image's weights (25 of 60 did). Here another
    call's map is computed on the shared energy between this call's map and its result, as a
    second thread's would be: each result keeps its own image's weights."""
    from compress_core.energy import BlendEnergyFunction, SaliencyEnergyFunction

    other = photo("coffee", 180, 120)

    class Interleaved(BlendEnergyFunction):
        interleave = False

        def importance(self, image):
            own = super().importance(image)
            if self.interleave:   # another thread's image, on the same energy object
                super().importance(other)
            return own

    energy = Interleaved([GradientEnergyFunction(), SaliencyEnergyFunction()],
                         adaptive_weights=True)
    kwargs = dict(target_width=120, target_height=120, method="seam_carving")
    alone = _run(SemanticCompressor(energy), chelsea, **kwargs).energy_stats["weights"]
    theirs = _run(SemanticCompressor(energy), other, **kwargs).energy_stats["weights"]
    assert alone != theirs
    energy.interleave = True
    for extra in ({}, dict(allocation="semantic", format="jpeg")):
        result = _run(SemanticCompressor(energy), chelsea, **kwargs, **extra)
        assert result.energy_stats["weights"] == alone, extra
    # a transparent picture under semantic allocation: the map of what its JPEG shows
    rgba = np.dstack([chelsea, np.full(chelsea.shape[:2], 255, np.uint8)])
    rgba[:5, :5, 3] = 0
    result = _run(SemanticCompressor(energy), rgba, method="jpeg", allocation="semantic",
                  format="jpeg")
    assert set(result.energy_stats["weights"]) == {"gradient", "saliency"}


def test_an_energy_answering_importance_with_three_fields_still_works(chelsea):
    """Diff review 44: a user's energy whose ``importance()`` answers with its own result of
    the three fields ``Importance`` had (map, faces, faces_sought) failed with AttributeError
    ('weights') once the weights travelled with the map."""
    from collections import namedtuple

    Mine = namedtuple("Mine", "map faces faces_sought")

    class Own(GradientEnergyFunction):
        def importance(self, image):
            return Mine(self(image), (), False)

    for extra in ({}, dict(allocation="semantic", format="jpeg")):
        result = _run(SemanticCompressor(Own()), chelsea, target_width=100, target_height=100,
                      **extra)
        assert result.size == (100, 100) and "weights" not in result.energy_stats


def test_compress_image_one_liner(chelsea):
    result = compress_image(chelsea, energy_function=GRADIENT, scale=0.5, method="smart_crop",
                            show_progress=False)
    assert result.size == (90, 60) and result.method == "smart_crop"


@pytest.mark.parametrize("shape, kwargs", [
    ((5000, 3), dict(scale=0.5)),                          # 2 x 2500: a third off in width
    ((644, 915), dict(scale=0.5)),                         # 458 x 322: a row off
    ((120, 180), dict(target_width=91, target_height=60))])
def test_smart_crop_of_the_photos_own_aspect_uses_the_whole_frame(shape, kwargs, caplog):
    """README: a size in the photo's own aspect (rounded to whole pixels) uses the whole frame,
    as the hybrid method scales the whole picture, and computes no map. Edge review 30: a 3 x
    5000 strip at scale 0.5 (2 x 2500) was cropped to 3 x 3750, a quarter of it lost; a 915 x
    644 photo lost a row; diff review 30: the map was still computed (0.36 s of the CNN)."""
    import logging

    pixels = np.random.default_rng(3).integers(0, 256, shape + (3,), dtype=np.uint8)
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        result = _run(SemanticCompressor(GRADIENT), pixels, method="smart_crop", format="png",
                      **kwargs)
    assert result.crop_box is None and "crop" not in result.operations
    assert not result.energy_stats   # (and no map computed)
    # the strip's 3 columns rounded to 2 for 2500 of its 5000 rows: what that stretches, said
    if shape == (5000, 3):
        assert result.stretch == pytest.approx(4 / 3)
        assert caplog.messages == ["<array>: 3x5000 to 2x2500 is stretched 1.33x, over none "
                                   "(smart_crop): a side that small is stretched by its "
                                   "rounding to whole pixels"]
    else:
        assert result.stretch == 1.0 and caplog.messages == []
    # every pixel kept, the stretch counted: what the result and the manifest report (a
    # whole picture's ratio read 1.0 whatever its stretch and no test failed: review 51)
    assert result.retained_energy_ratio == pytest.approx(1.0 / result.stretch)
    hybrid = _run(SemanticCompressor(GRADIENT), pixels, format="png", **kwargs)
    np.testing.assert_array_equal(result.pixels, hybrid.pixels)


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("target, box", [((77, 50), (451, 293)), ((50, 77), (195, 300))])
def test_smart_crop_takes_the_largest_window_of_the_target_s_aspect(target, box):
    """The window spans the whole frame along its limiting side and the nearest whole pixels of
    the target's aspect across (451 x 300 to 77 x 50: 451 x 293, 293.0 rounded; truncated,
    292.99 had been 450 x 292, a column of the frame lost and the window stretched)."""
    pixels = photo("coffee", 451, 300)
    result = _run(SemanticCompressor(GRADIENT), pixels, method="smart_crop", format="png",
                  target_width=target[0], target_height=target[1])
    left, top, right, bottom = result.crop_box
    assert (right - left, bottom - top) == box and result.size == target
    assert result.operations["scaled_from"] == box
    assert result.stretch == pytest.approx(1.0, abs=0.01)


def test_smart_crop_where_no_window_has_the_target_s_aspect_reports_its_stretch(caplog):
    """A 40 x 2 strip to 200 x 2: the best window is 40 x 1, stretched 2.5x to the target; the
    result, its operations and a warning say so, and the retained energy counts it."""
    import logging

    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        result = _run(SemanticCompressor(GRADIENT), photo("coffee", 40, 2), method="smart_crop",
                      format="png", target_width=200, target_height=2)
    assert result.size == (200, 2) and result.crop_box == (0, 0, 40, 1)
    assert result.stretch == pytest.approx(2.5) and result.operations["stretch"] == result.stretch
    assert result.retained_energy_ratio <= 1 / 2.5
    assert caplog.messages == ["<array>: 40x2 to 200x2 is stretched 2.50x, over none "
                               "(smart_crop): no crop of the picture has that aspect"]


def test_no_target_is_an_error(compressor, chelsea):
    for method in METHODS:
        with pytest.raises(ValueError, match="give at least one target: scale, target_width, "
                                             "target_height, target_pixels, max_dimension or "
                                             "target_bytes"):
            _run(compressor, chelsea, method=method)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="crop"), r"method must be one of 'seam_carving', 'smart_crop', 'hybrid', "
                          r"'jpeg'; got 'crop'"),
    (dict(format="gif"), r"format must be one of 'auto', 'jpeg', 'webp', 'png', 'avif'"),
    (dict(quality=0), r"quality must be an integer in the output format's range \(jpeg 1\.\.100"),
    (dict(quality=0, format="jpeg"), r"quality must be an integer in 1\.\.100 for jpeg or .auto."),
    (dict(max_stretch=0.99), r"max_stretch must be a finite number >= 1; got 0\.99"),
    (dict(target_quality=101), r"target_quality must be a number in 0\.\.100"),
    (dict(quality=101, format="webp"), r"quality must be an integer in 1\.\.100 for webp or .auto."),
    (dict(scale=0), "scale must be a positive finite number"),
    (dict(scale=-0.5), "scale must be a positive finite number"),
    (dict(scale=float("nan")), "scale must be a positive finite number"),
    (dict(target_bytes=0), "target_bytes must be a positive integer"),
    (dict(target_pixels=-1), "target_pixels must be a positive integer"),
    (dict(max_dimension=0), "max_dimension must be a positive integer"),
    (dict(target_width=0), "target_width must be a positive integer"),
    (dict(target_height=-3), "target_height must be a positive integer"),
])
def test_bad_values_raise_value_error(compressor, chelsea, kwargs, match):
    kwargs.setdefault("scale", 0.5)
    with pytest.raises(ValueError, match=match):
        _run(compressor, chelsea, **kwargs)


@pytest.mark.parametrize("method", [3, b"hybrid"])
def test_non_string_method_is_a_type_error(compressor, chelsea, method):
    with pytest.raises(TypeError, match="method must be a string, one of 'seam_carving'"):
        _run(compressor, chelsea, method=method)


@pytest.mark.parametrize("kwargs, match", [
    (dict(scale="0.5"), "scale must be a positive number"),
    (dict(scale=True), "scale must be a positive number"),
    (dict(target_width=10.5), "target_width must be a positive integer"),
    (dict(target_height="10"), "target_height must be a positive integer"),
    (dict(target_bytes=1.5), "target_bytes must be a positive integer"),
    (dict(target_pixels=[100]), "target_pixels must be a positive integer"),
    (dict(max_dimension="big"), "max_dimension must be a positive integer"),
    (dict(preserve_aspect="yes"), "preserve_aspect must be True or False"),
    (dict(preserve_aspect=1), "preserve_aspect must be True or False"),
])
def test_wrong_types_raise_type_error(compressor, chelsea, kwargs, match):
    kwargs.setdefault("target_pixels", 1000)
    with pytest.raises(TypeError, match=match):
        _run(compressor, chelsea, **kwargs)


@pytest.mark.parametrize("name", ["method", "preserve_aspect", "format", "photo_format",
                                  "allocation", "metadata"])
def test_none_means_the_option_s_default(compressor, chelsea, name):
    """README: "None means the option's default"; these six raised TypeError on None."""
    given = _run(compressor, chelsea, scale=0.5, **{name: None})
    assert given.data == _run(compressor, chelsea, scale=0.5).data


def test_wrong_image_type(compressor):
    with pytest.raises(TypeError, match="image must be a path, URI, bytes"):
        _run(compressor, 42, scale=0.5)


@pytest.mark.parametrize("value", ["no", None, 2, 0.0])
def test_show_progress_is_true_or_false(compressor, chelsea, value):
    """A string is true: show_progress="no" showed the bars (edge review 37)."""
    with pytest.raises(TypeError, match="show_progress must be True or False"):
        compressor.compress(chelsea, scale=0.5, show_progress=value)
    with pytest.raises(TypeError, match="show_progress must be True or False"):
        compressor.compress_batch([chelsea], scale=0.5, show_progress=value)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(energy_function="gradient"), TypeError, "energy_function must be an EnergyFunction"),
    (dict(energy_function=lambda img: img), TypeError, "energy_function must be"),
    (dict(quality_metric="ssim2"), ValueError, "quality_metric must be one of 'perceptual', "
                                               "'ssim', 'psnr'"),
    (dict(energy_mode="sideways"), ValueError, "energy_mode must be one of 'backward', "
                                               "'forward'"),
    (dict(max_pixels=0), ValueError, "max_pixels"),
    (dict(max_pixels="many"), TypeError, "max_pixels"),
    # (the class for an instance was "got ABCMeta"; a policy that is no HybridPolicy failed
    # in compress() with an AttributeError, or {} and 0 became the default: edge review 37)
    (dict(energy_function=GradientEnergyFunction), TypeError,
     r"got the class GradientEnergyFunction \(pass an instance: GradientEnergyFunction\(\)\)"),
    (dict(policy="x"), TypeError, "policy must be a HybridPolicy or None; got str"),
    (dict(policy={}), TypeError, "policy must be a HybridPolicy or None; got dict"),
    (dict(policy=0), TypeError, "policy must be a HybridPolicy or None; got int"),
])
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SemanticCompressor(**kwargs)


def test_arguments_are_checked_before_reading_the_file(compressor, tmp_path):
    missing = str(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="method must be one of"):
        _run(compressor, missing, scale=0.5, method="nope")
    with pytest.raises(ValueError, match="scale"):
        _run(compressor, missing, scale=-1)
    with pytest.raises(ImageReadError, match="missing.jpg: no such file"):
        _run(compressor, missing, scale=0.5)


@pytest.mark.parametrize("kind", ["corrupt", "truncated"])
def test_undecodable_files_raise_with_the_path(compressor, files, kind):
    with pytest.raises(ImageDecodeError) as info:
        _run(compressor, str(files[kind]), scale=0.5)
    assert str(files[kind]) in str(info.value)


def test_empty_file(compressor, tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match=r"empty\.jpg: empty file"):
        _run(compressor, str(path), scale=0.5)


def test_pixel_limit(chelsea):
    with pytest.raises(ImageTooLargeError):
        _run(SemanticCompressor(GRADIENT, max_pixels=1000), chelsea, scale=0.5)
    with pytest.raises(ImageTooLargeError):
        _run(SemanticCompressor(GRADIENT), chelsea, scale=0.5, max_pixels=1000)
    assert _run(SemanticCompressor(GRADIENT, max_pixels=1000), chelsea, scale=0.5,
                max_pixels=180 * 120).size == (90, 60)


@pytest.mark.parametrize("method", ["hybrid", "seam_carving", "smart_crop"])
@pytest.mark.parametrize("kwargs, named", [
    (dict(scale=1e300), "scale=1e+300"),  # was an OverflowError from int(inf)
    (dict(target_width=10 ** 6, target_height=10 ** 6), "target_width=1000000"),  # MemoryError
])
def test_size_targets_over_the_pixel_limit_are_refused(chelsea, method, kwargs, named):
    """An enlarging target over max_pixels (Pillow's limit by default) is an ImageTooLargeError
    (a ValueError) naming the target, before any pixel is allocated; the limit the input
    passed is the limit of the output too."""
    with pytest.raises(ImageTooLargeError, match=re.escape(named) + ".*max_pixels"):
        _run(SemanticCompressor(GRADIENT), chelsea, method=method, **kwargs)
    with pytest.raises(ImageTooLargeError, match="scale=2.0"):  # 360x240
        _run(SemanticCompressor(GRADIENT), chelsea, method=method, scale=2.0,
             max_pixels=216 * 144)
    assert _run(SemanticCompressor(GRADIENT), chelsea, method=method, scale=1.2,
                max_pixels=216 * 144).size == (216, 144)


def test_progress_bar_goes_to_a_terminal_only(compressor, chelsea, capsys):
    """Never on stdout; on stderr only where it is a terminal (service review 39: a service's
    log got 317 characters of bar per seam_carving call)."""
    result = compressor.compress(chelsea, method="seam_carving", scale=0.9, show_progress=True)
    assert result.size == (162, 108)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""   # (pytest's stderr is no terminal)


# ------------------------------------------------------------- max_stretch
def test_seam_carving_records_the_stretch_its_seams_leave(compressor, chelsea):
    """Seams only: no uniform squeeze, but the seams' energy-weighted local stretch is recorded
    (the anisotropy of the two directions) and discounts the retained energy."""
    result = _run(compressor, chelsea, method="seam_carving", target_width=60, target_height=100)
    assert result.stretch > 1.0 == result.operations["stretch"] / result.stretch
    kept = np.zeros(180 * 120, bool)
    kept[result.source_map.ravel()] = True
    energy = GRADIENT(chelsea)
    share = energy.ravel()[kept].sum() / energy.sum()
    assert result.retained_energy_ratio == pytest.approx(share / result.stretch, rel=1e-6)


def test_max_stretch_bounds_the_hybrid_squeeze(compressor, chelsea):
    """A square thumbnail of a 3:2 photo: at most a 1.05 squeeze by default; max_stretch=1.5
    allows the whole change as a squeeze, 1.1 caps it and the rest is cut or carved."""
    default = _run(compressor, chelsea, target_width=80, target_height=80)
    assert 1.0 <= default.stretch <= 1.05 + 1e-9
    assert default.params["max_stretch"] == 1.05
    free = _run(compressor, chelsea, target_width=80, target_height=80, max_stretch=1.5)
    assert free.stretch <= 1.5 + 1e-9 and free.operations["extra_crop"] is None
    bounded = _run(compressor, chelsea, target_width=80, target_height=80, max_stretch=1.1)
    assert bounded.size == (80, 80)
    assert 1 / 1.1 - 1e-9 <= bounded.operations["squeeze"] <= 1.1 + 1e-9
    assert bounded.params["max_stretch"] == 1.1


# ------------------------------------------------------------- quality="auto"
def test_quality_auto_reaches_the_target_score_with_fewer_bytes_for_a_lower_target(compressor,
                                                                                 chelsea):
    high = _run(compressor, chelsea, scale=0.5, format="jpeg", quality="auto", target_quality=85)
    low = _run(compressor, chelsea, scale=0.5, format="jpeg", quality="auto", target_quality=50)
    assert high.operations["quality_score"] >= 85 and low.operations["quality_score"] >= 50
    assert isinstance(high.quality, int) and low.quality < high.quality
    assert low.compressed_bytes < high.compressed_bytes
    assert high.params["quality"] == "auto" and high.params["target_quality"] == 85.0


def test_the_default_quality_is_auto_at_the_default_target(compressor, chelsea):
    """Without a quality the smallest encoding reaching SSIMULACRA2 70 is written: on a
    300x300 photo and on a 90x60 one, smaller than the fixed 85 they do not need; aiming
    higher than 85 reaches (88 on the 90x60 photo, saturated colours, 4:2:0 chroma), auto
    takes a higher quality than 85."""
    from compress_core.perceptual import Reference

    for pixels in (photo("astronaut", 600), chelsea):
        default = _run(compressor, pixels, scale=0.5)
        fixed = _run(compressor, pixels, scale=0.5, quality=85)
        np.testing.assert_array_equal(default.pixels, fixed.pixels)  # same pixels, encoded
        assert default.params["quality"] == "auto" and default.params["target_quality"] == 70
        assert default.operations["quality_score"] >= 70.0
        assert Reference(fixed.pixels).score(np.asarray(decode(fixed.data))) >= 70.0
        assert default.compressed_bytes < fixed.compressed_bytes and default.quality < 85
    strict = _run(compressor, chelsea, scale=0.5, target_quality=88)
    fixed = _run(compressor, chelsea, scale=0.5, quality=85)
    assert Reference(fixed.pixels).score(np.asarray(decode(fixed.data))) < 88.0
    assert strict.operations["quality_score"] >= 88.0 and strict.quality > 85
    budget = _run(compressor, chelsea, scale=0.5, target_bytes=4000)  # quality from the budget
    assert budget.params["quality"] is None
    # the score the budget's winner was chosen by, recorded (review 20: a budget output that
    # scored 9 said nothing), measured as quality auto's is
    reached = Reference(budget.pixels).score(np.asarray(decode(budget.data).convert("RGB")))
    assert budget.operations["quality_score"] == pytest.approx(reached, abs=0.01)
    ssim = SemanticCompressor(compressor.energy_function, quality_metric="ssim")
    assert "quality_score" not in _run(ssim, chelsea, scale=0.5, target_bytes=4000).operations


def test_quality_auto_writes_the_format_s_best_where_the_target_is_out_of_reach(compressor):
    """quality="auto" (the default) does not fail an image whose best encoding scores below
    the target: it writes that encoding and records its score."""
    coffee = photo("coffee", 120)
    strict = _run(compressor, coffee, scale=0.5, format="jpeg", quality="auto",
                  target_quality=99.5)
    assert strict.quality == 100 and strict.operations["quality_score"] < 99.5
    # noise 5000x2 reaches 70 in 4:4:4 (quality 87), not 98: JPEG quality 100 scores 96.9
    noise = np.random.default_rng(0).integers(0, 256, (2, 5000, 3), dtype=np.uint8)
    default = _run(compressor, noise, method="jpeg", format="jpeg", target_quality=98)
    assert default.size == (5000, 2) and default.quality == 100
    assert 90 < default.operations["quality_score"] < 98
    # WebP and JPEG XL go lossless past their best lossy encoding: said (bytes review 23: a
    # 334 KB lossless WebP of a photo had quality None and no "lossless" in its operations)
    for fmt in ("webp", "jxl"):
        exact = _run(compressor, coffee, method="jpeg", format=fmt, target_quality=99.5)
        assert exact.quality is None and exact.operations["lossless"] is True
        assert exact.operations["quality_score"] == 100.0
        lossy = _run(compressor, coffee, method="jpeg", format=fmt, target_quality=70)
        assert isinstance(lossy.quality, int) and "lossless" not in lossy.operations
    # JPEG XL's quality 100 is its lossless mode: said (edge review 46: the file was exact, the
    # flag missing); WebP's and AVIF's 100 are lossy
    exact = _run(compressor, coffee, method="jpeg", format="jxl", quality=100)
    assert exact.quality == 100 and exact.operations["lossless"] is True
    np.testing.assert_array_equal(np.asarray(decode(exact.data).convert("RGB")), exact.pixels)
    for fmt in ("webp", "avif"):
        assert "lossless" not in _run(compressor, coffee, method="jpeg", format=fmt,
                                      quality=100).operations


def _chart() -> bytes:
    """A bar chart as a PNG file (a graphic: flat colours, sharp edges, text)."""
    from PIL import ImageDraw

    chart = Image.new("RGB", (180, 120), "white")
    draw = ImageDraw.Draw(chart)
    for i, colour in enumerate(["#1f77b4", "#ff7f0e", "#2ca02c"]):
        draw.rectangle((20 + 50 * i, 110 - 30 * (i + 1), 55 + 50 * i, 110), fill=colour)
    draw.text((10, 5), "chart", fill="black")
    return encode(np.asarray(chart), "PNG")


def test_format_auto_gives_photos_the_photo_format_and_graphics_lossless(compressor, chelsea):
    assert _run(compressor, encode(chelsea, "PNG"), scale=0.5).format == "JPEG"
    assert _run(compressor, chelsea, scale=0.5, photo_format="avif").format == "AVIF"
    result = _run(compressor, _chart(), scale=0.5, photo_format="avif")
    assert result.format in ("PNG", "WEBP") and result.quality is None
    np.testing.assert_array_equal(np.asarray(decode(result.data).convert("RGB")), result.pixels)
    # said as format='webp''s exact outputs are (session 39: format auto's exact files, PNG
    # or lossless WebP, had no operations["lossless"]); a lossy output has none
    assert result.operations["lossless"] is True
    assert _run(compressor, _chart(), scale=0.5, target_bytes=10**6).operations["lossless"]
    assert _run(compressor, chelsea, scale=0.5, format="png").operations["lossless"] is True
    assert "lossless" not in _run(compressor, chelsea, scale=0.5).operations
    with pytest.raises(ValueError, match="photo_format must be one of 'jpeg', 'webp', 'avif', "
                                         "'jxl'; got 'png'"):
        _run(compressor, chelsea, scale=0.5, photo_format="png")


@pytest.mark.parametrize("fmt", ["webp", "avif", "jxl"])
def test_format_auto_writes_a_transparent_photo_lossy_where_the_photo_format_has_alpha(
        compressor, fmt):
    """A cut-out photo (soft-edged alpha) under format auto was always written losslessly:
    with photo_format webp, avif or jxl, all three with an alpha channel, it is now searched
    like any photo, its alpha kept (WebP, JPEG XL exactly), at a fraction of the bytes. Photos
    as JPEG (the default, no alpha): lossless, as before."""
    from PIL import ImageDraw, ImageFilter

    from compress_core.perceptual import ssimulacra2

    mask = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(mask).ellipse([30, 10, 230, 250], fill=255)
    alpha = np.asarray(mask.filter(ImageFilter.GaussianBlur(2)))
    cut = encode(Image.fromarray(np.dstack([photo("astronaut", 256, 256), alpha]), "RGBA"),
                 "PNG")
    exact = _run(compressor, cut, method="jpeg")
    assert exact.format in ("PNG", "WEBP") and exact.quality is None
    lossy = _run(compressor, cut, method="jpeg", photo_format=fmt)
    assert lossy.format == fmt.upper() and isinstance(lossy.quality, int)
    assert lossy.compressed_bytes < exact.compressed_bytes / 4
    shown = np.asarray(decode(lossy.data).convert("RGBA"))
    assert np.abs(shown[..., 3].astype(int) - alpha).max() <= (0 if fmt != "avif" else 32)
    assert lossy.operations["quality_score"] >= 70 and "quality_unused" not in lossy.operations
    assert ssimulacra2(np.dstack([photo("astronaut", 256, 256), alpha]), shown) >= 69


@pytest.mark.parametrize("fmt", ["webp", "jxl"])
def test_a_graphic_in_a_format_with_a_lossless_mode_is_exact_where_that_is_smaller(
        compressor, chelsea, fmt):
    """Review 20: format='webp' (or 'jxl') with quality 'auto' searched only lossy encodings:
    a chart came out lossy at 3x the bytes of its exact encoding (14,556 B against 4,778 B).
    Now the exact encoding is taken where it is no larger (or fits the byte budget); photos
    are searched as before."""
    from compress_core.codec import encode as encode_as

    chart = np.asarray(decode(_chart()).convert("RGB"))
    result = _run(compressor, _chart(), method="jpeg", format=fmt)
    exact = encode_as(chart, fmt, lossless=True)
    lossy = encode_as(chart, fmt, 70)
    assert result.data == exact and len(exact) < len(lossy)
    assert result.quality is None and result.operations["lossless"] is True
    assert "quality_score" not in result.operations  # (as format auto's lossless outputs)
    np.testing.assert_array_equal(np.asarray(decode(result.data).convert("RGB")), chart)
    budget = _run(compressor, _chart(), method="jpeg", format=fmt, target_bytes=len(exact))
    assert budget.data == exact and budget.operations["lossless"] is True
    tight = _run(compressor, _chart(), format=fmt, target_bytes=len(exact) - 1)  # fewer pixels
    assert tight.compressed_bytes < len(exact) and "lossless" not in tight.operations
    photo_result = _run(compressor, chelsea, method="jpeg", format=fmt)
    assert photo_result.quality is not None and "lossless" not in photo_result.operations
    fixed = _run(compressor, _chart(), method="jpeg", format=fmt, quality=90)
    assert fixed.quality == 90 and "lossless" not in fixed.operations
    # a budget under both: the refusal names the exact file as the smallest (bytes review 23:
    # it named the lossy search's smallest, larger than what a larger budget then wrote)
    with pytest.raises(TargetUnreachableError, match=rf"the smallest {fmt.upper()} encoding "
                       rf"found is \d+ bytes.*; the smallest file is its exact \(lossless\) "
                       rf"{fmt.upper()}: {len(exact)} bytes$"):
        _run(compressor, _chart(), method="jpeg", format=fmt, target_bytes=50)


def test_method_jpeg_with_format_auto_decides_by_content_too(compressor, chelsea):
    """Review 20: method='jpeg' with format 'auto' wrote every input as a JPEG: a chart PNG
    2.5x its size, a 16-colour one 6x, a 1-bit scan 12.6x, a transparent picture over white.
    Now as the other methods: photos JPEG, graphics and transparency lossless (the smaller of
    PNG and lossless WebP), or the file itself where that is smaller still."""
    chart = _chart()
    result = _run(compressor, chart, method="jpeg")
    assert result.format in ("PNG", "WEBP") and result.compressed_bytes <= len(chart)
    np.testing.assert_array_equal(np.asarray(decode(result.data).convert("RGB")),
                                  np.asarray(decode(chart).convert("RGB")))
    palette = encode(decode(chart).quantize(8), "PNG", optimize=True)
    small = _run(compressor, palette, method="jpeg")  # (lossless WebP: smaller still)
    assert small.format in ("PNG", "WEBP") and small.compressed_bytes <= len(palette)
    photo_result = _run(compressor, encode(chelsea, "PNG"), method="jpeg")
    assert photo_result.format == "JPEG"
    alpha = np.full(chelsea.shape[:2], 255, np.uint8)
    alpha[:, :60] = 0
    cut = _run(compressor, np.dstack([chelsea, alpha]), method="jpeg")
    assert cut.format in ("PNG", "WEBP") and decode(cut.data).mode == "RGBA"
    assert "alpha_flattened" not in cut.operations
    # photo_format names the photos' format, as with the other methods
    as_avif = _run(compressor, encode(chelsea, "PNG"), method="jpeg", photo_format="avif")
    assert as_avif.format == "AVIF" and as_avif.size == (180, 120)
    assert _run(compressor, chart, method="jpeg", photo_format="avif").format in ("PNG", "WEBP")
    # a JPEG whose photos' format is JPEG XL is encoded, not the archive mode of format='jxl'
    as_jxl = _run(compressor, encode(chelsea, "JPEG"), method="jpeg", photo_format="jxl")
    assert as_jxl.format == "JXL" and "jpeg_reconstruction" not in as_jxl.operations


def test_format_auto_treats_an_opaque_rgba_photo_as_a_photo(compressor, chelsea):
    """An RGBA PNG of a photo whose alpha is 255 everywhere was written losslessly (alpha
    seen as transparency): 1.8x the bytes of the JPEG its RGB twin gets. Now the same JPEG."""
    rgba = np.dstack([chelsea, np.full(chelsea.shape[:2], 255, np.uint8)])
    opaque = _run(compressor, encode(rgba, "PNG"), scale=0.5)
    twin = _run(compressor, encode(chelsea, "PNG"), scale=0.5)
    assert (opaque.format, opaque.quality, opaque.data) == ("JPEG", twin.quality, twin.data)
    rgba[:10, :10, 3] = 0  # a transparent corner: lossless, alpha kept
    holed = _run(compressor, encode(rgba, "PNG"), scale=0.5)
    assert holed.format in ("PNG", "WEBP") and decode(holed.data).mode == "RGBA"


def test_format_auto_keeps_a_graphic_lossless_when_that_fits_the_byte_budget(compressor):
    """A graphic under a byte budget went to the lossy search of photo_format even when its
    lossless encoding fits: a budget of 10**6 gave a JPEG 2.7x the lossless size, and a budget
    between the two sizes was a TargetUnreachableError. Now lossless when that fits."""
    lossless = _run(compressor, _chart(), scale=0.5)
    assert lossless.format in ("PNG", "WEBP")
    for budget in (10**6, lossless.compressed_bytes):
        result = _run(compressor, _chart(), scale=0.5, target_bytes=budget)
        assert (result.format, result.data, result.quality) == (lossless.format, lossless.data,
                                                                 None)
    # lossless misses: the budget search, of lossy WebP where photos are JPEG (bytes review
    # 38: JPEG's blocks ring around the sharp edges at so few bytes; the chart scored 30-60
    # points lower as a JPEG under the same budget)
    smaller = lossless.compressed_bytes * 3 // 4
    result = _run(compressor, _chart(), scale=0.5, target_bytes=smaller)
    assert result.format == "WEBP" and result.compressed_bytes <= smaller
    as_jpeg = _run(compressor, _chart(), scale=0.5, target_bytes=smaller, format="jpeg")
    assert (result.operations["quality_score"]
            > as_jpeg.operations["quality_score"] + 10), (result.operations, as_jpeg.operations)
    result = _run(compressor, _chart(), scale=0.5, target_bytes=smaller, photo_format="avif")
    assert result.format == "AVIF" and result.compressed_bytes <= smaller   # as asked
    flat = np.full((64, 64, 3), 128, np.uint8)  # lossless ~60 bytes, the smallest JPEG ~330
    result = _run(compressor, flat, scale=1.0, target_bytes=200)
    assert result.format in ("PNG", "WEBP") and result.compressed_bytes <= 200
    np.testing.assert_array_equal(np.asarray(decode(result.data).convert("RGB")), flat)


def test_a_transparent_strip_wider_than_webp_allows_meets_a_byte_budget(compressor):
    """format='auto', transparency, 17000 px and a budget the lossless encoding misses: the
    lossy fallback was WebP, which failed (EncodingError); now AVIF, alpha kept."""
    rng = np.random.default_rng(0)
    strip = np.dstack([rng.integers(0, 256, (8, 16500, 3), dtype=np.uint8),
                       np.full((8, 16500), 200, np.uint8)])
    result = _run(compressor, strip, scale=1.0, target_bytes=60_000)
    assert result.format == "AVIF" and result.compressed_bytes <= 60_000
    assert decode(result.data).mode == "RGBA"


@pytest.mark.parametrize("kwargs", [{"max_dimension": 1600}, {"scale": 1.0},
                                    {"target_width": 180, "target_height": 120},
                                    {"target_bytes": 60_000}])
def test_a_picture_that_keeps_its_size_computes_no_importance_map(chelsea, kwargs):
    """Docs review 23: --max_dimension 1600 on a 512-px photo computed the deep energy map
    (0.4-0.5 s of CPU, 10x the re-encoding) that nothing read: the size stays, so there is no
    geometry to plan. Now it is re-encoded as by method="jpeg", with the same bytes."""
    calls = []

    class Counting(type(GRADIENT)):
        def importance(self, pixels):
            calls.append(pixels.shape)
            return super().importance(pixels)

    compressor = SemanticCompressor(Counting())
    jpeg = encode(chelsea, "JPEG", quality=90)
    kept = _run(compressor, jpeg, **kwargs)
    assert calls == [] and kept.energy_stats == {} and "faces" not in kept.operations
    assert kept.data == _run(compressor, jpeg, method="jpeg",
                             **({"target_bytes": 60_000} if "target_bytes" in kwargs
                                else {})).data
    _run(compressor, jpeg, scale=0.5)  # the aspect kept: the whole picture scaled, no map
    assert calls == []
    _run(compressor, jpeg, target_width=90, target_height=90)  # a crop to plan: the map
    assert calls == [(120, 180, 3)]


def test_archive_mode_recompresses_a_jpeg_file_losslessly(compressor, chelsea, tmp_path):
    from compress_core.codec import jxl_to_jpeg

    jpeg = encode(chelsea, "JPEG", quality=90)
    result = _run(compressor, jpeg, method="jpeg", format="jxl")
    assert result.format == "JXL" and result.quality is None
    assert result.operations["jpeg_reconstruction"] is True
    assert len(result.data) < 0.95 * len(jpeg) and jxl_to_jpeg(result.data) == jpeg
    lossy = _run(compressor, jpeg, method="jpeg", format="jxl", quality=80)  # pixels re-encoded
    assert "jpeg_reconstruction" not in lossy.operations and lossy.quality == 80
    # saved as .jpg: the original file, not a new lossy JPEG of the pixels (review 18c)
    back = tmp_path / "back.jpg"
    result.save(back)
    assert back.read_bytes() == jpeg
    lossy.save(back)
    assert back.read_bytes() != jpeg and decode(back.read_bytes()).format == "JPEG"


def test_a_jpeg_whose_lossless_jpeg_xl_is_smaller_than_the_lossy_one_is_recompressed(
        compressor):
    """Bytes review 40: a JPEG saved at quality 20, under photo_format 'jxl', became a lossy
    JPEG XL of 33,328 B at a score of 70 where its lossless recompression took 24,857 B and
    gives the file back. Where the pixels stay the file's and that is no larger, it is what
    is written (quality auto and byte budgets; a fixed quality is what was asked)."""
    from compress_core.codec import jxl_to_jpeg

    astronaut = photo("astronaut", 256)
    poor = encode(astronaut, "JPEG", quality=20)
    for kwargs in (dict(photo_format="jxl"), dict(format="jxl", quality="auto"),
                   dict(format="jxl", target_bytes=len(poor))):
        result = _run(compressor, poor, method="jpeg", **kwargs)
        assert (result.format, result.quality) == ("JXL", None), kwargs
        assert result.operations["jpeg_reconstruction"] is True
        assert jxl_to_jpeg(result.data) == poor and len(result.data) < len(poor)
    fixed = _run(compressor, poor, method="jpeg", format="jxl", quality=80)
    assert fixed.quality == 80 and "jpeg_reconstruction" not in fixed.operations
    smaller = _run(compressor, poor, scale=0.5, photo_format="jxl")   # new pixels: lossy
    assert smaller.quality is not None and "jpeg_reconstruction" not in smaller.operations
    fine = encode(astronaut, "JPEG", quality=95)    # the lossy file is the smaller there
    lossy = _run(compressor, fine, method="jpeg", photo_format="jxl")
    assert lossy.quality is not None and len(lossy.data) < len(fine) / 2


@pytest.mark.parametrize("side", [8, 48])
def test_archive_mode_keeps_a_jpeg_that_jpeg_xl_would_make_larger(compressor, side, tmp_path):
    """JPEG XL's container costs more than recompression saves on small files (669 B -> 756 B,
    2,126 B -> 2,247 B at 64 px): the file itself is written, as for any kept input."""
    from PIL import Image

    jpeg = encode(Image.fromarray(photo("astronaut", 512)).resize((side, side)), "JPEG",
                  quality=75)
    result = _run(compressor, jpeg, method="jpeg", format="jxl")
    assert result.data == jpeg and result.format == "JPEG" and result.extension == ".jpg"
    assert result.operations == {"resize": None, "input_kept": True, "quality_score": 100.0}
    assert result.quality is None
    # saved as .jxl (the command line's -o x.jxl): its lossless recompression, which gives the
    # file back (diff review 23: a lossy JPEG XL of its pixels, up to 45 levels off)
    from compress_core.codec import jxl_to_jpeg

    result.save(tmp_path / "x.jxl")
    assert jxl_to_jpeg((tmp_path / "x.jxl").read_bytes()) == jpeg


def test_archive_mode_of_a_cmyk_jpeg_says_how_to_get_a_jxl(compressor):
    """libjxl cannot transcode a CMYK JPEG: an UnsupportedImageError naming the way out (a
    quality), and with one the pixels are encoded."""
    from PIL import Image

    from compress_core.errors import UnsupportedImageError

    cmyk = encode(Image.fromarray(photo("coffee", 160)).convert("CMYK"), "JPEG", quality=90)
    with pytest.raises(UnsupportedImageError, match=r"^<bytes>: JPEG XL cannot hold this JPEG "
                                                    r"losslessly: it has 4 colour components "
                                                    r"\(CMYK\).*stores the JPEG file itself, "
                                                    r"which this one cannot be; give "
                                                    r"quality \(an integer or 'auto'\)"):
        _run(compressor, cmyk, method="jpeg", format="jxl")
    lossy = _run(compressor, cmyk, method="jpeg", format="jxl", quality="auto")
    assert lossy.format == "JXL" and lossy.operations["quality_score"] >= 70


def test_archive_mode_request_on_a_non_jpeg_input_gets_the_default_quality(compressor, chelsea):
    """method='jpeg', format='jxl' without a quality is the archive mode of JPEG files; a PNG
    input (or an array) has no JPEG to keep: it got a fixed quality 80 with no score, where
    the quality left free is 'auto' everywhere else. Now the same encoding as quality='auto'."""
    for image in (encode(chelsea, "PNG"), chelsea):
        free = _run(compressor, image, method="jpeg", format="jxl")
        auto = _run(compressor, image, method="jpeg", format="jxl", quality="auto")
        assert "jpeg_reconstruction" not in free.operations
        assert (free.data, free.quality) == (auto.data, auto.quality)
        assert free.operations["quality_score"] == auto.operations["quality_score"] >= 70
        # a target_quality is theirs (bytes review 23: it was refused, the message speaking of
        # keeping a JPEG file); a JPEG file archived says it did not use it
        aimed = _run(compressor, image, method="jpeg", format="jxl", target_quality=85)
        assert aimed.data == _run(compressor, image, method="jpeg", format="jxl",
                                  quality="auto", target_quality=85).data
        assert aimed.operations["quality_score"] >= 85 and "quality_unused" not in \
            aimed.operations
    jpeg = encode(chelsea, "JPEG", quality=90)
    archived = _run(compressor, jpeg, method="jpeg", format="jxl", target_quality=85)
    assert archived.operations["jpeg_reconstruction"] is True
    assert archived.operations["quality_unused"] is True


def test_an_encoder_failure_mid_batch_fails_that_image_only(compressor, chelsea, tmp_path):
    """The second image is a 70000 px wide strip: JPEG cannot hold it; the others are done."""
    strip = np.zeros((2, 70000, 3), np.uint8)
    results = compressor.compress_batch([chelsea, strip, chelsea], on_error="return",
                                        method="jpeg", format="jpeg", show_progress=False)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error_type == "EncodingError"
    assert "JPEG holds at most 65500 pixels a side; the output is 70000x2" \
        in str(results[1].error)
    results[0].save(tmp_path / "a.jpg")
    assert os.listdir(tmp_path) == ["a.jpg"]  # nothing partial anywhere


# ------------------------------------------------------------------ allocation="semantic"
def test_semantic_allocation_keeps_the_quality_and_drops_only_unimportant_coefficients(
        compressor):
    """allocation='semantic' writes the uniform result's JPEG with the small coefficients of
    its unimportant blocks (by the compressor's energy map, carried to the output where the
    geometry computed one, else the output's own) set to zero: the same quality, fewer bytes,
    and the score recorded is the written picture's."""
    from compress_core.codec.semantic import requantize_jpeg, resize_map
    from compress_core.perceptual import Reference

    astronaut = photo("astronaut", 256)
    # the aspect changes: the input's map, carried through the crop to the output
    square = _run(compressor, astronaut, target_width=160, target_height=120,
                  allocation="semantic")
    carried = compressor.energy_function.importance(astronaut).map.ravel()[
        square.source_before_resampling]
    assert square.data == requantize_jpeg(
        _run(compressor, astronaut, target_width=160, target_height=120).data,
        resize_map(carried, 160, 120))
    # the aspect kept: the whole picture scaled computes no map of the input; the output's
    uniform = _run(compressor, astronaut, scale=0.75)
    semantic = _run(compressor, astronaut, scale=0.75, allocation="semantic")
    importance = compressor.energy_function.importance(semantic.pixels).map
    assert semantic.data == requantize_jpeg(uniform.data, importance)
    assert (semantic.format, semantic.quality) == ("JPEG", uniform.quality)
    assert semantic.compressed_bytes < 0.97 * uniform.compressed_bytes
    assert semantic.operations["allocation"] == "semantic"
    assert "allocation" not in uniform.operations
    written = Reference(semantic.pixels).score(np.asarray(decode(semantic.data).convert("RGB")))
    assert semantic.operations["quality_score"] == pytest.approx(written, abs=1e-3)
    assert semantic.operations["quality_score"] < uniform.operations["quality_score"]
    assert semantic.operations["uniform_score"] == uniform.operations["quality_score"]
    assert semantic.params["allocation"] == "semantic" and "allocation" not in uniform.params


def test_semantic_allocation_with_a_fixed_quality_re_encoding_and_alpha(compressor, files):
    fixed = _run(compressor, photo("coffee", 200), scale=0.5, quality=80, allocation="semantic")
    plain = _run(compressor, photo("coffee", 200), scale=0.5, quality=80)
    assert fixed.quality == 80 and "quality_score" not in fixed.operations
    assert fixed.compressed_bytes < plain.compressed_bytes
    # method="jpeg" computes no energy map for itself: the allocation computes its own
    again = _run(compressor, str(files["jpeg"]), method="jpeg", allocation="semantic")
    assert again.format == "JPEG" and again.operations["allocation"] == "semantic"
    assert again.compressed_bytes < _run(compressor, str(files["jpeg"]),
                                         method="jpeg").compressed_bytes
    rgba = np.dstack([photo("coffee", 120), np.full((80, 120), 128, np.uint8)])
    flat = _run(compressor, rgba, scale=0.5, format="jpeg", allocation="semantic")
    assert flat.format == "JPEG" and decode(flat.data).mode == "RGB"


def test_the_allocation_map_is_timed_as_energy_not_encoding():
    """Edge review 30: where allocation="semantic" computed the output's map (the aspect kept:
    no map of the input), its CNN's half second was counted in encode_ms and energy_ms said
    0 (the manifest's columns too). A slow energy shows where its time goes."""
    from compress_core.energy import GradientEnergyFunction

    class Slow(GradientEnergyFunction):
        def importance(self, pixels):
            time.sleep(0.3)
            return super().importance(pixels)

    result = _run(SemanticCompressor(Slow()), photo("coffee", 200), scale=0.5,
                  allocation="semantic")
    assert result.operations["allocation"] == "semantic"
    assert result.timings["energy_ms"] >= 300 > result.timings["encode_ms"], result.timings
    parts = sum(v for k, v in result.timings.items() if k != "total_ms")
    assert parts == pytest.approx(result.timings["total_ms"], abs=0.05)


@pytest.mark.parametrize("kwargs", [dict(method="jpeg"), dict(scale=0.5),
                                    dict(target_width=100, target_height=60)])
def test_semantic_allocation_keeps_the_keep_mask_of_a_picture_with_alpha(compressor, kwargs):
    """A picture with an alpha channel written as JPEG gets the map of what the JPEG shows;
    its keep_mask was left out of that map, so the pixels it protects lost coefficients like
    any other (all kept, method="jpeg": 62.7 written, 70.8 searched)."""
    rgba = np.dstack([photo("coffee", 128, 128), np.full((128, 128), 200, np.uint8)])
    common = dict(format="jpeg", allocation="semantic", **kwargs)
    free = _run(compressor, rgba, **common)
    assert free.operations["quality_score"] < free.operations["uniform_score"] - 1
    kept = _run(compressor, rgba, keep_mask=np.ones((128, 128), bool), **common)
    assert kept.operations["quality_score"] == kept.operations["uniform_score"]
    # the same geometry without allocation (method="jpeg" refuses a keep_mask it would ignore)
    mask = {} if kwargs.get("method") == "jpeg" else {"keep_mask": np.ones((128, 128), bool)}
    plain = _run(compressor, rgba, **mask, **{**common, "allocation": "uniform"})
    np.testing.assert_array_equal(np.asarray(decode(kept.data)), np.asarray(decode(plain.data)))


@pytest.mark.parametrize("kwargs", [dict(scale=1.2), dict(target_width=180, target_height=100)])
def test_semantic_allocation_keeps_the_keep_mask_where_seams_were_inserted(compressor, kwargs):
    """seam_carving that enlarges has no source map: the map was the output's own, the
    keep_mask left out (all kept, scale 1.2: 60.8 written, 71.3 searched). It is now stretched
    to the output."""
    coffee = photo("coffee", 150, 100)
    common = dict(method="seam_carving", allocation="semantic", **kwargs)
    kept = _run(compressor, coffee, keep_mask=np.ones((100, 150), bool), **common)
    assert kept.source_map is None
    assert kept.operations["quality_score"] == kept.operations["uniform_score"]
    free = _run(compressor, coffee, **common)
    assert free.operations["quality_score"] < free.operations["uniform_score"] - 1


def test_keep_and_remove_masks_that_overlap_are_refused(compressor, chelsea):
    """Both masks on one object: neither removed nor kept (851 of its 900 pixels left)."""
    mask = np.zeros(chelsea.shape[:2], bool)
    mask[30:60, 40:70] = True
    with pytest.raises(ValueError, match="keep_mask and remove_mask overlap on 900 pixels"):
        _run(compressor, chelsea, method="seam_carving", scale=0.9, keep_mask=mask,
             remove_mask=mask)


def test_semantic_allocation_leaves_graphics_lossless_and_refuses_other_formats(compressor,
                                                                                chelsea):
    graphic = _run(compressor, _chart(), scale=0.5, allocation="semantic")
    assert graphic.format in ("PNG", "WEBP") and "allocation" not in graphic.operations
    with pytest.raises(ValueError, match="allocation='semantic' needs JPEG output"):
        _run(compressor, chelsea, scale=0.5, format="avif", allocation="semantic")


def test_semantic_allocation_under_a_byte_budget_buys_a_higher_quality(compressor):
    """With target_bytes every candidate of the budget search is allocated: never over the
    budget, and the quality that fits is at least the uniform one's."""
    astronaut = photo("astronaut", 256)
    for budget in (4000, 8000):  # uniform quality 19 and 71, allocated 26 and 78
        uniform = _run(compressor, astronaut, scale=0.75, target_bytes=budget)
        semantic = _run(compressor, astronaut, scale=0.75, target_bytes=budget,
                        allocation="semantic")
        assert semantic.compressed_bytes <= budget and semantic.format == "JPEG"
        assert semantic.size == uniform.size and semantic.quality > uniform.quality
        assert semantic.operations["allocation"] == "semantic"
    # a budget below every full-size encoding: fewer pixels, the map resampled with them
    small = _run(compressor, astronaut, scale=0.75, target_bytes=1500, allocation="semantic")
    assert small.compressed_bytes <= 1500 and small.size[0] < 192  # 118 x 118


def test_semantic_allocation_after_an_object_removal_at_the_input_size(compressor):
    """remove_mask at the input's size: the object's seams are inserted back, the carver has
    no source index, and the output has the input's shape but not its pixels. The map was the
    input's (the removed cup still marked, the columns shifted: 19% of the blocks judged
    wrongly on coffee at 300 x 200 with the default energy); it is now the output's own."""
    from compress_core.codec.semantic import requantize_jpeg

    coffee = photo("coffee", 180)  # 180 x 120
    remove = np.zeros((120, 180), bool)
    remove[25:95, 35:90] = True  # the cup
    kw = dict(method="seam_carving", remove_mask=remove, target_width=180, target_height=120,
              format="jpeg", quality=80)
    uniform = _run(compressor, coffee, **kw)
    semantic = _run(compressor, coffee, allocation="semantic", **kw)
    assert uniform.source_before_resampling is None and semantic.size == (180, 120)
    # the net seams are 0 and 0: what was removed and added is said beside them (review 22)
    assert uniform.seams == {"vertical": 0, "horizontal": 0}
    removed, added = uniform.operations["seams_removed"], uniform.operations["seams_inserted"]
    assert removed == added and removed["vertical"] + removed["horizontal"] >= 55
    own = compressor.energy_function.importance(semantic.pixels).map
    assert semantic.data == requantize_jpeg(uniform.data, own)
    stale = compressor.energy_function.importance(coffee).map
    assert semantic.data != requantize_jpeg(uniform.data, stale)


@pytest.mark.parametrize("method", METHODS)
def test_semantic_allocation_carries_the_input_map_through_crops_and_seams(compressor, method):
    """The map of the output is the input's, taken where each output pixel comes from (crop
    window, surviving seams) and resampled: no second energy pass."""
    from compress_core.codec.semantic import requantize_jpeg, resize_map

    coffee = photo("coffee", 180)  # 180 x 120 to a square: crops, seams or both
    uniform = _run(compressor, coffee, target_width=80, target_height=80, method=method)
    semantic = _run(compressor, coffee, target_width=80, target_height=80, method=method,
                    allocation="semantic")
    source = uniform.source_before_resampling
    assert source is not None
    carried = compressor.energy_function.importance(coffee).map.ravel()[source]
    assert semantic.data == requantize_jpeg(uniform.data, resize_map(carried, 80, 80))


def test_semantic_allocation_keeps_the_keep_mask_as_important(compressor):
    """Pixels the user protects with keep_mask are allocated as the most important ones: their
    blocks decode exactly as in the uniform encoding, where the energy map alone drops them."""
    astronaut = photo("astronaut", 256)
    importance = compressor.energy_function.importance(astronaut).map
    by_block = importance.reshape(32, 8, 32, 8).max(axis=(1, 3))
    calm = np.argwhere(by_block < 0.3 * importance.max())  # blocks the map alone drops
    (by, bx), = calm[len(calm) // 2:len(calm) // 2 + 1]
    mask = np.zeros((256, 256), bool)
    mask[max(0, by * 8 - 24):by * 8 + 32, max(0, bx * 8 - 24):bx * 8 + 32] = True
    uniform = _run(compressor, astronaut, method="jpeg", quality=85)
    kept = _run(compressor, astronaut, method="jpeg", quality=85, allocation="semantic",
                keep_mask=mask)
    dropped = _run(compressor, astronaut, method="jpeg", quality=85, allocation="semantic")
    # (review 21) the map the allocation computed is described, as the other methods' are;
    # method jpeg alone computes none
    assert uniform.energy_stats == {}
    expected = energy_statistics(importance)
    assert dropped.energy_stats.keys() >= expected.keys()
    for key, value in expected.items():
        assert dropped.energy_stats[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    core = (slice(by * 8 - 8 if by else 0, by * 8 + 16), slice(bx * 8 - 8 if bx else 0,
                                                              bx * 8 + 16))
    plain = np.asarray(decode(uniform.data).convert("RGB"))[core]
    np.testing.assert_array_equal(np.asarray(decode(kept.data).convert("RGB"))[core], plain)
    assert np.any(np.asarray(decode(dropped.data).convert("RGB"))[core] != plain)


def test_semantic_allocation_of_a_transparent_picture_follows_what_the_jpeg_shows(compressor):
    """RGBA written as JPEG is shown over white: the map is that picture's, not the energy of
    what fully transparent pixels hide (a hidden astronaut held the map's maximum, and 83 of
    1024 visible blocks that matter lost coefficients)."""
    from compress_core.codec.encoders import flatten_for
    from compress_core.codec.semantic import requantize_jpeg

    rgb = np.concatenate([photo("astronaut", 128), photo("chelsea", 128, 128)], axis=1)
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, 128:] = 255  # only the cat is visible
    rgba = np.dstack([rgb, alpha])
    uniform = _run(compressor, rgba, method="jpeg", format="jpeg", quality=85)
    semantic = _run(compressor, rgba, method="jpeg", format="jpeg", quality=85,
                    allocation="semantic")
    shown = compressor.energy_function.importance(flatten_for(rgba, "jpeg")).map
    assert semantic.data == requantize_jpeg(uniform.data, shown)


def test_a_mask_of_another_size_is_refused_before_the_energy_map(compressor, chelsea,
                                                                   monkeypatch):
    """The command line reads a mask once for every image; one of another size than an image
    was refused after that image's energy map (a CNN's half second each: CLI review 25)."""
    looked = []
    monkeypatch.setattr(compressor.energy_function, "importance",
                        lambda *args, **kwargs: looked.append(args))
    for name in ("keep_mask", "remove_mask"):
        with pytest.raises(ValueError, match=name):
            _run(compressor, chelsea, target_width=90, target_height=90,
                 **{name: np.ones((10, 10), bool)})
    assert looked == []


def test_a_jpeg_xl_with_transparency_reports_the_quality_it_was_written_at(
        compressor, chelsea, caplog):
    """Bytes review 40: a JPEG XL under quality 19 keeps no exact alpha. Asked for less, a
    transparent picture is written at 19, which the result and a warning say; quality auto
    never goes under it."""
    alpha = np.full(chelsea.shape[:2], 255, np.uint8)
    alpha[:, :60] = 0
    cut = np.dstack([chelsea, alpha])
    with caplog.at_level(logging.WARNING, logger="compress_core.compressor"):
        low = _run(compressor, cut, method="jpeg", format="jxl", quality=10)
    assert (low.format, low.quality) == ("JXL", 19)
    assert [r for r in caplog.records if "quality 10 raised to 19" in r.getMessage()]
    np.testing.assert_array_equal(np.asarray(decode(low.data))[..., 3], alpha)
    auto = _run(compressor, cut, method="jpeg", format="jxl", quality="auto", target_quality=20)
    assert auto.quality >= 19
    np.testing.assert_array_equal(np.asarray(decode(auto.data))[..., 3], alpha)


def test_results_compare_by_their_values(compressor, chelsea):
    """API review 40: ``r1 == r2``, ``r in [r2]`` and a result against its pickled copy raised
    ValueError (the dataclass compared the pixel arrays with ==)."""
    import copy
    import dataclasses
    import pickle

    first = _run(compressor, chelsea, scale=0.5, format="jpeg", quality=80)
    second = _run(compressor, chelsea, scale=0.5, format="jpeg", quality=80)
    assert first == pickle.loads(pickle.dumps(first)) == copy.deepcopy(first)
    assert second.data == first.data and second != first     # (their timings differ)
    assert second == dataclasses.replace(first, timings=second.timings, params=second.params)
    assert first in [second, first] and second not in [first]
    smaller = _run(compressor, chelsea, scale=0.25, format="jpeg", quality=80)
    assert smaller != first and first != 5 and not (first == "x")
    with pytest.raises(TypeError):
        hash(first)


def test_a_result_prints_in_one_line_and_shows_its_picture_in_a_notebook(compressor, chelsea):
    """repr() printed the pixel array (18 KB for a 160-pixel thumbnail: integrator review 26);
    IPython shows a result through _repr_jpeg_ / _repr_png_."""
    jpeg = _run(compressor, chelsea, scale=0.5, format="jpeg", quality=80)
    assert repr(jpeg) == (f"<CompressionResult <array>: 90x60 JPEG quality 80, "
                          f"{jpeg.compressed_bytes:,} bytes ({jpeg.compression_ratio:.1%} of "
                          "64,800), method hybrid>")
    assert jpeg._repr_jpeg_() == jpeg.data and jpeg._repr_png_() is None
    webp = _run(compressor, chelsea, scale=0.5, format="webp")
    assert webp._repr_jpeg_() is None
    np.testing.assert_array_equal(np.asarray(decode(webp._repr_png_())), webp.pixels)


def _cut_out(hidden):
    """A 192 x 192 cut-out: chelsea's face in a soft-edged disc of diameter 150 on a transparent
    square, ``hidden`` (a colour, or None for the photo) under the fully transparent pixels."""
    rgb = photo("chelsea", 192, 192)
    yy, xx = np.mgrid[:192, :192]
    alpha = np.clip((75 - np.hypot(yy - 95.5, xx - 95.5)) * 40, 0, 255).astype(np.uint8)
    rgba = np.dstack([rgb, alpha])
    if hidden is not None:
        rgba[alpha == 0, :3] = hidden
    return rgba


def test_a_cut_out_is_framed_by_what_it_shows_and_scaled_whole(compressor):
    """What fully transparent pixels hide shapes nothing, and a transparent margin is layout:
    the same cut-out with a photo, black, white or green hidden had been framed four ways at
    scale 0.5, margins and edge columns of the subject cropped (colour review 26)."""
    looks = [_cut_out(hidden) for hidden in (None, 0, 255, (0, 255, 0))]
    for kwargs in (dict(scale=0.5), dict(target_width=120, target_height=80)):
        results = [_run(compressor, rgba, format="png", **kwargs) for rgba in looks]
        for result in results[1:]:
            np.testing.assert_array_equal(result.pixels, results[0].pixels)
        if "scale" in kwargs:   # scaled whole: the subject half as wide, its padding kept
            assert all(result.crop_box is None for result in results)
            alpha = results[0].pixels[..., 3]
            xs = np.nonzero(alpha.max(axis=0))[0]
            assert (alpha == 0).mean() > 0.4 and 75 <= xs.max() - xs.min() + 1 <= 81
    stats = [compressor.analyze_content(rgba) for rgba in looks]
    assert all(other == stats[0] for other in stats[1:])


def test_missed_target_says_when_the_best_encoding_scores_below_the_target(compressor, chelsea):
    """What the command line warns about and the job counts (quality_target_missed)."""
    high = _run(compressor, chelsea, scale=0.5, format="jpeg", target_quality=99)
    assert high.operations["quality_score"] < 99
    assert high.missed_target() == ("target_quality=99 was not reached: the best JPEG "
                                    f"encoding scores {high.operations['quality_score']:.1f}")
    assert _run(compressor, chelsea, scale=0.5, format="jpeg").missed_target() is None
    assert _run(compressor, chelsea, scale=0.5, quality=80).missed_target() is None


# ------------------------------------------- large inputs: the geometry at twice the output's size
@pytest.fixture(scope="module")
def large_jpeg():
    """coffee at 1920 x 1280, a JPEG as a camera writes one (1/60 of a 24-megapixel photo's
    work, the same shape of problem: a thumbnail is a small part of it)."""
    pixels = photo("coffee", 1920, 1280)
    return pixels, encode(pixels, "JPEG", quality=92)


@pytest.mark.parametrize("method", ["hybrid", "smart_crop"])
def test_a_large_photo_is_retargeted_at_twice_the_output_size(compressor, large_jpeg, method):
    """A 128 x 128 thumbnail of a 1920 x 1280 JPEG: decoded at 1/4 (480 x 320), reduced to
    448 x 299 (twice the output, 384 x 256, is less than the 448 pixels the face detector
    searches), where crops, seams and squeeze are decided. What the result says is in the
    input's coordinates: its size, the crop box and every output pixel's source."""
    pixels, data = large_jpeg
    result = _run(compressor, data, method=method, target_width=128, target_height=128,
                  format="png")
    assert result.size == (128, 128) and result.original_size == (1920, 1280)
    assert result.operations["working_size"] == (448, 299)
    assert result.pixel_ratio == pytest.approx(128 * 128 / (1920 * 1280))
    box = result.crop_box
    assert box is not None and 0 <= box[0] < box[2] <= 1920 and 0 <= box[1] < box[3] <= 1280
    if method == "smart_crop":
        assert covers(box, result.operations["crop"], (448, 299), (1920, 1280))
        assert box[3] - box[1] == 1280  # the whole height, a square window
    # each output pixel's source lies in the crop box and has the output pixel's colour (the
    # input behind it, averaged over the 15 x 10 input pixels a working pixel stands for)
    source = result.source_map
    ys, xs = np.divmod(source.astype(np.int64), 1920)
    assert xs.min() >= box[0] and xs.max() < box[2] and ys.min() >= box[1] and ys.max() < box[3]
    behind = lanczos(pixels, 128, 85)[(ys * 85) // 1280, (xs * 128) // 1920].astype(float)
    assert np.abs(behind - result.pixels).mean() < 12.0


@pytest.mark.parametrize("size", [(128, 128), (100, 150)])
def test_the_source_map_of_a_reduced_input_is_where_each_output_pixel_centre_falls(
        compressor, large_jpeg, size):
    """A smart crop decided on the input reduced: each output pixel's source is the input pixel
    under its centre, as for a crop of the whole input. (Taken through the working picture's
    nearest pixel, the source lay up to half a working pixel off, 2.5 input pixels down and
    right on average here: a working picture twice the output puts every output pixel's
    centre on the edge between two working pixels.)"""
    _, data = large_jpeg
    tw, th = size
    result = _run(compressor, data, method="smart_crop", target_width=tw, target_height=th,
                  format="png")
    (ww, wh), (left, top, right, bottom) = (result.operations["working_size"],
                                            result.operations["crop"])
    centre_x = (left + (np.arange(tw) + 0.5) * (right - left) / tw) * 1920 / ww
    centre_y = (top + (np.arange(th) + 0.5) * (bottom - top) / th) * 1280 / wh
    ys, xs = np.divmod(result.source_map.astype(np.int64), 1920)
    assert np.abs(xs - np.floor(centre_x)[None, :]).max() <= 1
    assert np.abs(ys - np.floor(centre_y)[:, None]).max() <= 1


@pytest.mark.parametrize("kwargs", [dict(scale=0.5), dict(max_dimension=640),
                                    dict(target_width=2400, target_height=1600),
                                    dict(max_dimension=640, method="smart_crop")])
def test_a_picture_scaled_whole_builds_no_identity_and_maps_each_pixel_centre(
        compressor, large_jpeg, kwargs):
    """The whole picture scaled (the aspect kept, or enlarged) keeps every pixel in place: the
    map of each pixel's source was built for every output all the same, 4 bytes per input
    pixel (96 MB of a 24-megapixel photo, 17% of its traced peak at scale 0.5, held by the
    result). It is not built now; ``source_map`` works out where each output pixel's centre
    falls in the input, through the working copy where the geometry had one."""
    _, data = large_jpeg
    result = _run(compressor, data, format="png", **kwargs)
    assert result.scaled_whole and result.source_before_resampling is None
    tw, th = result.size
    ys, xs = np.divmod(result.source_map.astype(np.int64), 1920)
    assert np.abs(xs - np.floor((np.arange(tw) + 0.5) * 1920 / tw)[None, :]).max() <= 1
    assert np.abs(ys - np.floor((np.arange(th) + 0.5) * 1280 / th)[:, None]).max() <= 1
    assert result.retained_energy_ratio == 1.0
    cropped = _run(compressor, data, format="png", target_width=128, target_height=128)
    assert not cropped.scaled_whole and cropped.source_before_resampling is not None


@pytest.mark.parametrize("size", [(160, 120), (128, 128)])
def test_the_reduced_input_gets_the_decisions_of_the_whole(large_jpeg, size, monkeypatch):
    """Deciding on the input reduced or on all of it, seam by seam: the same crop (in input
    coordinates), the same share of the width carved (a seam at 360 pixels stands for 5.3 at
    1920), the same stretch within the limit. (On other photos a near tie between two windows
    may fall the other way; BENCHMARKS.md, "Large photos", has the judge's view of both.)
    All of it as the library decides it, with the carve planned on a 768 px copy and confined
    to the span kept there: the same crop and stretch, the seams not counted (126 instead of
    106 at 160 x 120, 52 instead of 80 at 128 x 128: the span's own cheap seams).
    The carves compared are the policy's own, without giving up seams that step edges
    (MAX_SEAM_BREAKS): carved seam by seam at 1920 pixels, the seams bunch where the
    reduced copy's do not and step the saucer's rim (test below)."""
    from compress_core import hybrid

    monkeypatch.setattr(hybrid, "MAX_SEAM_BREAKS", float("inf"))
    _, data = large_jpeg
    kwargs = dict(target_width=size[0], target_height=size[1], format="png")
    reduced = _run(SemanticCompressor(GRADIENT), data, **kwargs)
    planned = _run(SemanticCompressor(GRADIENT, policy=HybridPolicy(working_oversample=None)),
                   data, **kwargs)
    whole = _run(SemanticCompressor(GRADIENT, policy=HybridPolicy(working_oversample=None,
                                                                  plan_side=None)),
                 data, **kwargs)
    work = reduced.operations["working_size"]
    assert "working_size" not in whole.operations and "working_size" not in planned.operations
    assert whole.operations["planned_on"] is None and reduced.operations["planned_on"] is None
    assert planned.operations["planned_on"] == (768, 512)

    def iou(a, b):
        (l1, t1, r1, b1), (l2, t2, r2, b2) = a.crop_box, b.crop_box
        overlap = max(0, min(r1, r2) - max(l1, l2)) * max(0, min(b1, b2) - max(t1, t2))
        return overlap / ((r1 - l1) * (b1 - t1) + (r2 - l2) * (b2 - t2) - overlap)

    assert iou(reduced, whole) > 0.95 and iou(planned, whole) > 0.95
    carved = reduced.seams["vertical"] * 1920 / work[0]
    assert carved == pytest.approx(whole.seams["vertical"], rel=0.05) and carved > 50
    for result in (reduced, whole, planned):
        assert 1.03 < result.stretch <= 1.05 + 1e-9


def test_the_whole_photo_carved_seam_by_seam_gives_up_the_seams_that_step_its_rim(large_jpeg):
    """160 x 120 of the 1920 x 1280 coffee carved on all of it: 106 seams stepped the saucer's
    rim (32 stepped junctions as counted at two pixels per output pixel); the policy keeps the
    seams under the limit. The reduced input's 24 seams step nothing and stay."""
    from compress_core.hybrid import MAX_SEAM_BREAKS

    _, data = large_jpeg
    kwargs = dict(target_width=160, target_height=120, format="png")
    reduced = _run(SemanticCompressor(GRADIENT), data, **kwargs)
    whole = _run(SemanticCompressor(GRADIENT, policy=HybridPolicy(working_oversample=None,
                                                                  plan_side=None)),
                 data, **kwargs)
    assert reduced.operations["seam_breaks"] == 0 and reduced.seams["vertical"] == 24
    assert 0 < whole.seams["vertical"] < 106
    assert whole.operations["seam_breaks"] < MAX_SEAM_BREAKS
    assert 1.03 < whole.stretch <= 1.05 + 1e-9


@pytest.mark.parametrize("method", ["hybrid", "smart_crop"])
def test_a_small_thumbnail_searches_faces_as_the_whole_photo_does(method):
    """A 64 x 64 thumbnail of a 1600 x 1200 photo with a face of 100 px (6% of its width):
    the whole photo's search (a copy of 448 px: faces from 20 px) finds it; a working picture
    of twice the output (171 x 128, faces from 20 px there: 187 px in the photo) did not, and
    the crop no longer had to keep it. The working picture is never smaller than the copy the
    face detector searches."""
    canvas = photo("coffee", 1600, 1200).copy()
    canvas[300:900, 1000:] = photo("astronaut", 600, 600)
    data = encode(canvas, "JPEG", quality=92)
    kwargs = dict(target_width=64, target_height=64, method=method, format="png")
    whole = _run(SemanticCompressor(policy=HybridPolicy(working_oversample=None)), data,
                 **kwargs)
    reduced = _run(SemanticCompressor(), data, **kwargs)
    assert whole.operations["faces"] == 1
    assert reduced.operations["faces"] == 1
    assert max(reduced.operations["working_size"]) == DETECT_SIDE


def test_keep_mask_of_a_large_photo_is_kept_at_the_working_size(compressor, large_jpeg):
    pixels, data = large_jpeg
    keep = np.zeros((1280, 1920), bool)
    keep[40:240, 30:230] = True  # the top-left corner, that a square crop would drop
    result = _run(compressor, data, target_width=128, target_height=128, keep_mask=keep,
                  format="png")
    assert "working_size" in result.operations
    ys, xs = np.divmod(result.source_map.astype(np.int64), 1920)
    assert xs.min() <= 30 + 10 and ys.min() <= 40 + 10  # the kept corner reaches the output
    assert result.crop_box[0] <= 30 and result.crop_box[1] <= 40


@pytest.mark.parametrize("kwargs", [
    dict(method="seam_carving", target_width=300, target_height=300),  # seams of the input
    dict(target_pixels=20_000, preserve_aspect=False),  # a free shape may keep a whole side
    dict(target_width=1000, target_height=600),  # reducing would not halve the pixels
    dict(method="jpeg"),
])
def test_the_geometry_works_on_the_whole_input_otherwise(compressor, kwargs):
    pixels = photo("coffee", 960, 640)
    result = _run(compressor, encode(pixels, "JPEG", quality=92), format="png", **kwargs)
    assert "working_size" not in result.operations
    assert result.original_size == (960, 640)


@pytest.mark.parametrize("value", [0.5, 0, float("nan"), float("inf"), "2", True])
def test_working_oversample_is_checked(value):
    with pytest.raises((TypeError, ValueError), match="working_oversample"):
        HybridPolicy(working_oversample=value)


@pytest.mark.parametrize("value", [0, -1, 2.5, "448", True])
def test_working_min_side_is_checked(value):
    with pytest.raises((TypeError, ValueError), match="working_min_side must be a positive int"):
        HybridPolicy(working_min_side=value)


def test_a_format_that_cannot_hold_the_output_is_refused_before_the_work():
    """Review 20: format='avif' on a 40000-pixel-wide strip computed the map and retargeted,
    then wrote an AVIF no decoder of this stack opens (quality='auto': PIL's "cannot identify
    image file"); format='auto' chose JPEG for a 70000-pixel-wide photo and failed in jpegli.
    Now the asked format's limit is checked before the energy map, and auto picks one that
    holds the picture."""
    from compress_core.energy import EnergyFunction
    from compress_core.errors import EncodingError

    class NoMap(EnergyFunction):
        name = "no_map"

        def compute(self, rgb):
            raise AssertionError("the energy map was computed")

    strip = np.tile(photo("coffee", 400, 2), (1, 100, 1))  # 40000 x 2
    with pytest.raises(EncodingError, match="AVIF holds at most 32768 pixels a side; the output "
                                            "is 40000x2: use format 'jpeg', 'png' or 'jxl'"):
        SemanticCompressor(NoMap()).compress(strip, scale=1.0, format="avif",
                                             show_progress=False)
    with pytest.raises(EncodingError, match="WEBP holds at most 16383"):
        SemanticCompressor(NoMap()).compress(strip, target_width=20000, target_height=1,
                                             format="webp", show_progress=False)
    wide = np.tile(strip, (1, 2, 1))[:, :70000]
    for targets in (dict(scale=1.0), dict(method="jpeg")):
        # (a two-row strip of a photo: its PNG is smaller than a JPEG, so lossless: PNG holds
        # any size; a photo's lossy choice is lossy_format's, test_codec.py)
        result = SemanticCompressor(GRADIENT).compress(wide, **targets, show_progress=False)
        assert result.format in ("PNG", "JXL") and decode(result.data).size == (70000, 2)
    # scaled under the limit, the asked format is written
    half = SemanticCompressor(GRADIENT).compress(strip, scale=0.5, format="avif",
                                                 show_progress=False)
    assert half.format == "AVIF" and decode(half.data).size == (20000, 1)


@pytest.mark.parametrize("method", METHODS)
def test_an_enlarging_scale_without_preserve_aspect_enlarges(compressor, method):
    """Review 20: scale=1.7 with preserve_aspect=False wrote the input's own size (the free
    shape of an area capped at the input's), with no word."""
    pixels = photo("chelsea", 180, 120)
    result = _run(compressor, pixels, scale=1.7, preserve_aspect=False, method=method,
                  format="png")
    assert result.size == (306, 204)
    smaller = _run(compressor, pixels, scale=0.5, preserve_aspect=False, method=method,
                   format="png")
    assert smaller.size[0] * smaller.size[1] <= 90 * 60


def test_seams_inserted_after_removals_still_count_the_removals(compressor):
    """Review 20: chelsea 451x300 to 300x300 by seam_carving lost 21% of its energy and was
    squeezed 1.03x; to 300x301 (one row inserted) it reported stretch 1.0 and retained 1.0,
    and to 300x600 the same. The removals' loss and squeeze now count, and inserted seams as
    if they widened everything by their share (an upper bound)."""
    pixels = photo("chelsea", 180, 120)
    removed = _run(compressor, pixels, target_width=120, target_height=120,
                   method="seam_carving", format="png")
    one_more = _run(compressor, pixels, target_width=120, target_height=121,
                    method="seam_carving", format="png")
    tall = _run(compressor, pixels, target_width=120, target_height=240,
                method="seam_carving", format="png")
    assert removed.stretch > 1.0 and removed.retained_energy_ratio < 0.95
    assert one_more.seams == {"vertical": 60, "horizontal": -1}
    # the net, and what it is made of: 60 columns removed, then one row inserted
    assert one_more.operations["seams_removed"] == {"vertical": 60, "horizontal": 0}
    assert one_more.operations["seams_inserted"] == {"vertical": 0, "horizontal": 1}
    assert one_more.stretch == pytest.approx(removed.stretch * 121 / 120, rel=1e-3)
    assert one_more.retained_energy_ratio == pytest.approx(
        removed.retained_energy_ratio * removed.stretch / one_more.stretch, rel=1e-3)
    assert tall.stretch == pytest.approx(removed.stretch * 2, rel=1e-3)
    wider = _run(compressor, pixels, target_width=240, target_height=120,
                 method="seam_carving", format="png")  # insertion alone: its share
    assert wider.stretch == pytest.approx(4 / 3) and wider.retained_energy_ratio == \
        pytest.approx(3 / 4)
