"""Semantic bit allocation (compress_core.codec.semantic) on real photos: dead zones in a
JPEG's coefficients (checked block by block against a slow reference read with jpeglib), and
energy-weighted pre-filtering."""
import importlib.util
import io
import os

import numpy as np
import pytest
from PIL import Image

from compress_core import GradientEnergyFunction
from compress_core.codec import decode_pixels, encode
from compress_core.codec.semantic import (
    DEAD_ZONES,
    allocation_weights,
    prefilter,
    requantize_jpeg,
)
from compress_core.errors import EncoderUnavailableError

from _core_data import photo, srgb_icc

jpeglib = pytest.importorskip("jpeglib")  # in requirements.txt; the library names it if missing


@pytest.fixture(scope="module")
def astronaut():
    return photo("astronaut", 256)


def _importance(shape):
    """The centre third matters, the rest does not."""
    h, w = shape[:2]
    imp = np.zeros((h, w), np.float32)
    imp[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = 1.0
    return imp


def test_important_pixels_are_kept_and_the_rest_smoothed(astronaut):
    imp = _importance(astronaut.shape)
    out = prefilter(astronaut, imp, keep_share=0.11, sigma=2.0)
    h, w = imp.shape
    core = (slice(h // 3 + 24, 2 * h // 3 - 24), slice(w // 3 + 24, 2 * w // 3 - 24))
    np.testing.assert_array_equal(out[core], astronaut[core])
    corner = (slice(0, h // 4), slice(0, w // 4))
    detail = lambda a: np.abs(np.diff(a[corner].astype(float), axis=1)).mean()  # noqa: E731
    assert detail(out) < 0.7 * detail(astronaut)  # 7.8 -> 4.8 mean neighbour difference


def test_smoothing_saves_bytes_at_equal_quality(astronaut):
    energy = GradientEnergyFunction()(astronaut)
    out = prefilter(astronaut, energy)
    assert len(encode(out, "jpeg", 80)) < 0.9 * len(encode(astronaut, "jpeg", 80))
    assert decode_pixels(encode(out, "jpeg", 80)).shape == astronaut.shape


def test_alpha_is_untouched_and_flat_importance_keeps_everything(astronaut):
    rgba = np.dstack([astronaut, np.arange(256, dtype=np.uint8)[None].repeat(256, 0)])
    out = prefilter(rgba, _importance(rgba.shape))
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(prefilter(astronaut, np.zeros((256, 256))), astronaut)
    weights = allocation_weights(_importance(astronaut.shape), keep_share=0.5)
    assert weights.min() >= 0 and weights.max() <= 1 and weights.dtype == np.float32


@pytest.mark.parametrize("kwargs, match", [
    (dict(importance=np.ones((10, 10))), "importance must have the pixels' shape"),
    (dict(importance=-np.ones((256, 256))), "finite and >= 0"),
    (dict(sigma=0), "sigma must be a positive number"),
    (dict(keep_share=0), r"keep_share must be in \(0, 1\]"),
])
def test_bad_parameters(astronaut, kwargs, match):
    kwargs.setdefault("importance", np.ones((256, 256)))
    with pytest.raises(ValueError, match=match):
        prefilter(astronaut, **kwargs)


# ------------------------------------------------------------------ coefficients (dead zones)
def _coefficients(data: bytes, tmp_path, name="c.jpg"):
    path = os.path.join(tmp_path, name)
    with open(path, "wb") as f:
        f.write(data)
    return jpeglib.read_dct(path)


def _expected(before, importance, zones, v_block, h_block):
    """Slow reference: each block's dead zone from its most important pixel, block by block."""
    peak = importance.max()
    out = before.copy()
    for by in range(before.shape[0]):
        for bx in range(before.shape[1]):
            cell = importance[by * v_block:(by + 1) * v_block, bx * h_block:(bx + 1) * h_block]
            top = cell.max() / peak if cell.size and peak > 0 else 0.0
            steps = next(s for level, s in zones if top >= level)
            for u in range(8):
                for v in range(8):
                    if (u, v) != (0, 0) and abs(int(before[by, bx, u, v])) <= steps:
                        out[by, bx, u, v] = 0
    return out


def _left_important(shape, width_share=0.5):
    """Importance 1 on the left part, falling to 0 at the right edge (all three zones used)."""
    h, w = shape[:2]
    imp = np.tile(np.linspace(1.0, 0.0, w, dtype=np.float32), (h, 1))
    imp[:, : int(w * width_share)] = 1.0
    return imp


THREE_ZONES = ((0.5, 0), (0.25, 1), (0.0, 2))


@pytest.mark.parametrize("zones", [DEAD_ZONES, THREE_ZONES])
@pytest.mark.parametrize("subsampling", [2, 1, 0])  # 4:2:0, 4:2:2, 4:4:4
def test_each_block_loses_just_its_dead_zone(tmp_path, subsampling, zones):
    pixels = photo("chelsea", 203)  # 203 x 152: partial blocks and MCUs on both edges
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=80, subsampling=subsampling)
    importance = _left_important(pixels.shape) * 3.0  # levels are fractions of the maximum
    after = _coefficients(requantize_jpeg(buf.getvalue(), importance, zones), tmp_path,
                          "after.jpg")
    before = _coefficients(buf.getvalue(), tmp_path)
    factors = np.asarray(before.samp_factor)
    for index, name in enumerate(("Y", "Cb", "Cr")):
        v_block = 8 * factors[:, 0].max() // factors[index, 0]
        h_block = 8 * factors[:, 1].max() // factors[index, 1]
        want = _expected(getattr(before, name), importance, zones, v_block, h_block)
        np.testing.assert_array_equal(getattr(after, name), want, err_msg=name)
    np.testing.assert_array_equal(after.qt, before.qt)


def test_important_blocks_decode_exactly_and_the_rest_costs_fewer_bytes(tmp_path):
    pixels = photo("astronaut", 256)
    importance = _left_important(pixels.shape)
    uniform = encode(pixels, "jpeg", 80)
    allocated = requantize_jpeg(uniform, importance)
    assert len(allocated) < 0.95 * len(uniform)
    a, b = decode_pixels(uniform), decode_pixels(allocated)
    # left half kept (chroma is upsampled across one 16-px block, so stay 16 px inside)
    np.testing.assert_array_equal(a[:, :128 - 16], b[:, :128 - 16])
    assert np.abs(a[:, 192:].astype(int) - b[:, 192:]).mean() > 0.5


def test_markers_stay_and_a_map_of_ones_changes_no_pixel(tmp_path):
    pixels = photo("coffee", 160)
    exif = Image.Exif()
    exif[0x010F] = "Semantic Compress test"
    data = requantize_jpeg(encode(pixels, "jpeg", 75, icc_profile=srgb_icc(),
                                  exif=exif.tobytes()), np.ones(pixels.shape[:2]))
    with Image.open(io.BytesIO(data)) as img:
        assert img.info["icc_profile"] == srgb_icc()
        assert img.getexif()[0x010F] == "Semantic Compress test"
    np.testing.assert_array_equal(decode_pixels(data),
                                  decode_pixels(encode(pixels, "jpeg", 75)))


def test_grey_jpegs_and_zero_maps(tmp_path):
    grey = np.asarray(Image.fromarray(photo("camera", 120)).convert("L"))
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "JPEG", quality=85)
    out = requantize_jpeg(buf.getvalue(), np.zeros(grey.shape))  # every block: the last zone
    before, after = _coefficients(buf.getvalue(), tmp_path), _coefficients(out, tmp_path, "a.jpg")
    assert after.Cb is None
    np.testing.assert_array_equal(after.Y, _expected(before.Y, np.zeros(grey.shape),
                                                     DEAD_ZONES, 8, 8))
    assert len(out) < len(buf.getvalue())


def _app0_segments(data):
    """The JFIF/APP0 segments before the first scan."""
    found, i = [], 2
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if data[i + 1] == 0xE0:
            found.append(data[i + 4:i + 2 + length])
        i += 2 + length
    return found


@pytest.mark.parametrize("size, full_chroma", [(16, False), (48, False), (48, True)])
def test_one_jfif_segment(size, full_chroma):
    """jpeglib kept the input's JFIF APP0 segment and libjpeg wrote its own: two in the file
    (18 bytes) wherever mozjpeg's scan pass, which drops the copy, did not win (small
    pictures: a 48 x 32 coffee at quality 90 came out at 1053 bytes instead of 1035). One
    now, with the input's version and density."""
    pixels = photo("coffee", size)
    data = encode(pixels, "jpeg", 90, full_chroma=full_chroma)
    dropped = requantize_jpeg(data, np.zeros(pixels.shape[:2]))
    assert len(dropped) < len(data)
    assert _app0_segments(dropped) == _app0_segments(data)  # one JFIF segment
    big = photo("coffee", 160)
    allocated = requantize_jpeg(encode(big, "jpeg", 75), np.zeros(big.shape[:2]))
    assert _app0_segments(allocated) == _app0_segments(encode(big, "jpeg", 75))


@pytest.mark.parametrize("call, error, match", [
    (lambda p, d: requantize_jpeg(d, np.ones((10, 10))), ValueError,
     r"importance must have the JPEG's shape \(96, 128\)"),
    (lambda p, d: requantize_jpeg(d, np.full((96, 128), np.nan)), ValueError,
     "importance must be a finite"),
    (lambda p, d: requantize_jpeg(d, -np.ones((96, 128))), ValueError, ">= 0"),
    (lambda p, d: requantize_jpeg(d, np.ones(96 * 128)), ValueError, r"\(H, W\) map"),
    (lambda p, d: requantize_jpeg(b"GIF89a", np.ones((96, 128))), ValueError,
     "data must be a JPEG file"),
    (lambda p, d: requantize_jpeg(d, np.ones((96, 128)), [(0.5, 0)]), ValueError,
     "dead_zones must be"),
    (lambda p, d: requantize_jpeg(d, np.ones((96, 128)), [(0.2, 0), (0.5, 1), (0.0, 2)]),
     ValueError, "dead_zones must be"),
    (lambda p, d: requantize_jpeg(encode(p, "webp", 80), np.ones((96, 128))), ValueError,
     "data must be a JPEG file"),
])
def test_bad_allocation_input_is_named(call, error, match):
    pixels = photo("chelsea", 128, 96)
    with pytest.raises(error, match=match):
        call(pixels, encode(pixels, "jpeg", 80))


def test_missing_jpeglib_is_named(monkeypatch):
    pixels = photo("chelsea", 64)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jpeglib" else real(name, *a))
    with pytest.raises(EncoderUnavailableError, match=r"allocation='semantic' needs the package "
                                                      r"jpeglib: pip install jpeglib==1\.0\.2"):
        requantize_jpeg(encode(pixels, "jpeg", 80), np.ones(pixels.shape[:2]))


def test_a_byte_budget_with_allocation_fits_and_buys_quality():
    from compress_core.codec import fit_budget

    pixels = photo("astronaut", 192)
    importance = _left_important(pixels.shape)
    plain, q_plain = fit_budget(pixels, "jpeg", 6000)
    allocated, q_allocated = fit_budget(pixels, "jpeg", 6000, importance=importance)
    assert len(allocated) <= 6000 and len(plain) <= 6000 and q_allocated > q_plain
    assert allocated == requantize_jpeg(encode(pixels, "jpeg", q_allocated, _scans=False),
                                        importance)
    with pytest.raises(ValueError, match="applies to JPEG only; got format 'webp'"):
        fit_budget(pixels, "webp", 6000, importance=importance)


def test_the_rewrite_is_never_larger_than_its_input(monkeypatch):
    """Where nothing is worth dropping, rewriting the coefficients can only add bytes (a JFIF
    segment, other Huffman tables): the input comes back unchanged."""
    from compress_core.codec import semantic

    pixels = photo("coffee", 160)
    data = encode(pixels, "jpeg", 80)
    monkeypatch.setattr(semantic, "optimize_scans", lambda jpeg, **_: jpeg + b"\0" * 64)
    assert requantize_jpeg(data, np.ones(pixels.shape[:2])) == data
    smaller = requantize_jpeg(data, np.zeros(pixels.shape[:2]))
    assert len(smaller) < len(data) and smaller != data


def test_a_corrupt_jpeg_and_no_temporary_folder_are_clear_errors(tmp_path, monkeypatch):
    import tempfile

    from compress_core.errors import EncodingError

    pixels = photo("chelsea", 128, 96)
    data = encode(pixels, "jpeg", 80)
    with pytest.raises(ValueError, match="data is not a readable JPEG"):
        requantize_jpeg(data[:2] + b"\xff\xc0\x00\x02" + data[40:], np.ones((96, 128)))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(EncodingError, match="needs a writable temporary folder"):
        requantize_jpeg(data, np.ones((96, 128)))


def test_a_block_at_exactly_half_the_maximum_keeps_every_coefficient():
    """DEAD_ZONES: blocks at half the map's maximum *or more* keep everything. A map of
    plateaus (a subject at 2, its surroundings at 1, the rest 0) puts whole blocks at exactly
    0.5: they decode as the uniform JPEG does, and only the blocks at 0 lose their +-1
    coefficients (mutation review 50: '>' for '>=' dropped the surroundings' detail too)."""
    pixels = photo("astronaut", 256)
    importance = np.zeros(pixels.shape[:2], np.float32)
    importance[:, :96] = 2.0
    importance[:, 96:192] = 1.0          # exactly half the maximum
    uniform = encode(pixels, "jpeg", 80)
    allocated = requantize_jpeg(uniform, importance)
    a, b = decode_pixels(uniform), decode_pixels(allocated)
    # (chroma is upsampled across one 16-px block, so stay 16 px inside)
    np.testing.assert_array_equal(a[:, :192 - 16], b[:, :192 - 16])
    assert np.abs(a[:, 208:].astype(int) - b[:, 208:]).mean() > 0.5
