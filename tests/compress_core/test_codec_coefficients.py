"""A JPEG's coefficients read and written again without loss (compress_core.codec.coefficients)
and the baseline rewrite of small JPEGs (compress_core.codec.encoders.optimize_scans), on real
photos: every decoder sees the same pixels, the markers stay, components are numbered 1..n."""
import importlib.util
import io
import os
import tempfile

import cv2
import numpy as np
import pytest
from PIL import Image

from compress_core.codec import decode_pixels, encode
from compress_core.codec.coefficients import rewrite_jpeg
from compress_core.codec.encoders import BASELINE_BELOW, optimize_scans
from compress_core.errors import EncoderUnavailableError

from _core_data import photo, srgb_icc

pytest.importorskip("jpeglib")  # in requirements.txt; the library names it if missing


def _frame(data):
    """(SOF marker, component ids, [scan component ids ...], APP0 JFIF count) of a JPEG,
    read by Pillow's own parser where it can and by hand for the scan headers."""
    sof, ids, scans, jfif = None, None, [], 0
    i = 2
    while i + 4 <= len(data):
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xE0 and data[i + 4:i + 9] == b"JFIF\x00":
            jfif += 1
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            sof = marker
            ids = [data[i + 10 + 3 * k] for k in range(data[i + 9])]
        if marker == 0xDA:
            scans.append([data[i + 5 + 2 * k] for k in range(data[i + 4])])
            i += 2 + length
            while not (data[i] == 0xFF and data[i + 1] not in (0x00, *range(0xD0, 0xD8))):
                i += 1
            if data[i + 1] == 0xD9:
                break
            continue
        i += 2 + length
    return sof, ids, scans, jfif


def _pillow_jpeg(pixels, **kwargs):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def _decoded_by_all(data):
    """The pixels Pillow (libjpeg-turbo) and OpenCV (its own libjpeg) decode."""
    with Image.open(io.BytesIO(data)) as img:
        pillow = np.asarray(img)
    flag = cv2.IMREAD_COLOR if pillow.ndim == 3 else cv2.IMREAD_GRAYSCALE
    opencv = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    return pillow, (opencv[..., ::-1] if opencv.ndim == 3 else opencv)


CASES = {
    "jpegli 4:2:0": lambda p: encode(p, "jpeg", 75, _scans=False),
    "jpegli + mozjpeg progressive": lambda p: encode(p, "jpeg", 75),
    "libjpeg 4:4:4": lambda p: _pillow_jpeg(p, quality=90, subsampling=0),
    "libjpeg 4:2:2 progressive": lambda p: _pillow_jpeg(p, quality=60, subsampling=1,
                                                       progressive=True),
    "restart markers": lambda p: _pillow_jpeg(p, quality=80, restart_marker_rows=1),
    "grey": lambda p: _pillow_jpeg(np.asarray(Image.fromarray(p).convert("L")), quality=85),
}


@pytest.mark.parametrize("case", CASES)
def test_a_rewrite_without_changes_decodes_to_the_same_pixels_everywhere(case):
    pixels = photo("chelsea", 203)  # 203 x 152: partial blocks and MCUs on both edges
    data = CASES[case](pixels)
    rewritten = rewrite_jpeg(data)
    for before, after in zip(_decoded_by_all(data), _decoded_by_all(rewritten)):
        np.testing.assert_array_equal(before, after)
    sof, ids, scans, jfif = _frame(rewritten)
    assert sof == 0xC0 and scans == [ids]  # one baseline scan of every component
    assert ids == list(range(1, len(ids) + 1))  # as libjpeg, jpegli and mozjpeg number them
    assert jfif == _frame(data)[3]  # libjpeg's JFIF segment only where the input had one


def test_markers_stay():
    pixels = photo("coffee", 96)
    exif = Image.Exif()
    exif[0x010F] = "Semantic Compress test"
    data = encode(pixels, "jpeg", 75, icc_profile=srgb_icc(), exif=exif.tobytes())
    with Image.open(io.BytesIO(rewrite_jpeg(data))) as img:
        assert img.info["icc_profile"] == srgb_icc()
        assert img.getexif()[0x010F] == "Semantic Compress test"


def test_an_edit_reaches_the_coefficients():
    pixels = photo("astronaut", 64)
    data = encode(pixels, "jpeg", 80, _scans=False)

    def flat(coded):  # every AC coefficient of the luma zeroed: 8x8 flat blocks
        y = coded.Y.copy()
        y[..., 1:] = 0
        y[..., 1:, 0] = 0
        coded.Y = y

    grey = np.asarray(Image.open(io.BytesIO(rewrite_jpeg(data, flat))).convert("L"), np.int16)
    blocks = grey.reshape(8, 8, 8, 8).transpose(0, 2, 1, 3).reshape(64, 64)
    assert np.ptp(blocks, axis=1).max() <= 1  # each block one grey level (rounding aside)


def test_small_jpegs_come_out_baseline_and_smaller_large_ones_progressive():
    """Each progressive scan has its own header and Huffman tables: on a small picture a
    baseline file with optimised tables is smaller (BENCHMARKS.md, "Small JPEGs: baseline or
    progressive"). Same pixels either way."""
    import mozjpeg_lossless_optimization as mozjpeg

    small = photo("astronaut", 64)
    raw = encode(small, "jpeg", 75, _scans=False)
    progressive = mozjpeg.optimize(raw, copy=mozjpeg.COPY_MARKERS.ALL)
    out = optimize_scans(raw)
    assert _frame(out)[0] == 0xC0 and len(out) < 0.97 * len(progressive)
    np.testing.assert_array_equal(decode_pixels(out), decode_pixels(raw))
    assert encode(small, "jpeg", 75) == out  # what the encoder writes
    large = photo("astronaut", 512)
    out = encode(large, "jpeg", 75)
    assert len(out) > BASELINE_BELOW and _frame(out)[0] == 0xC2


def test_without_jpeglib_small_jpegs_stay_progressive(monkeypatch):
    pixels = photo("astronaut", 64)
    with_baseline = encode(pixels, "jpeg", 75)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jpeglib" else real(name, *a))
    out = encode(pixels, "jpeg", 75)
    assert _frame(out)[0] == 0xC2 and len(out) > len(with_baseline)
    with pytest.raises(EncoderUnavailableError, match=r"pip install jpeglib==1\.0\.2"):
        rewrite_jpeg(out)


def test_without_a_temporary_folder_small_jpegs_are_written_progressive(tmp_path, monkeypatch):
    """The baseline rewrite is an optimisation: where jpeglib cannot work (no writable
    temporary folder) the encoder writes what it wrote before."""
    pixels = photo("astronaut", 64)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    out = encode(pixels, "jpeg", 75)
    assert _frame(out)[0] == 0xC2
    np.testing.assert_array_equal(decode_pixels(out), decode_pixels(encode(pixels, "jpeg", 75,
                                                                           _scans=False)))


def test_bad_input_is_named_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = encode(photo("chelsea", 128, 96), "jpeg", 80)
    with pytest.raises(ValueError, match="data must be a JPEG file"):
        rewrite_jpeg(b"GIF89a")
    with pytest.raises(ValueError, match="data is not a readable JPEG"):
        rewrite_jpeg(data[:2] + b"\xff\xc0\x00\x02" + data[40:])
    rewrite_jpeg(data)
    assert os.listdir(tmp_path) == []


def test_damaged_tables_leave_no_copy_behind(tmp_path, monkeypatch):
    """jpeglib's reader copies the file into the temporary folder and leaves the copy there
    when libjpeg fails on it after the header (session 11's review: 9 of 300 mutated files;
    here 5 of 60 files with bytes changed before the scan, on Huffman or quantisation
    tables)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = encode(photo("chelsea", 128, 96), "jpeg", 80, _scans=False)
    sos = data.index(b"\xff\xda")
    keep = tmp_path / "tmpkept.jpeg"  # a file of the same name pattern, not a copy, stays
    keep.write_bytes(b"\xff\xd8 not ours")
    failed = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        damaged = bytearray(data)
        for _ in range(3):
            damaged[int(rng.integers(2, sos))] = int(rng.integers(0, 256))
        try:
            rewrite_jpeg(bytes(damaged))
        except ValueError:
            failed += 1
    assert failed > 20
    assert os.listdir(tmp_path) == ["tmpkept.jpeg"]
