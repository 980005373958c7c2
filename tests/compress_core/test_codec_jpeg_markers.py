"""A JPEG's marker segments read from its bytes (compress_core.codec.jpeg_markers), on real
photos coded by Pillow (libjpeg-turbo): restart markers, several scans, metadata."""
import io

import numpy as np
from PIL import Image

from compress_core.codec.jpeg_markers import SOF, SOS, frame, segments

from _core_data import photo


def _jpeg(pixels, **kwargs):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def test_segments_of_a_baseline_file_with_restart_markers_and_exif():
    exif = Image.Exif()
    exif[0x010F] = "Semantic Compress test"
    data = _jpeg(photo("chelsea", 120), quality=80, restart_marker_rows=1, exif=exif.tobytes())
    found = list(segments(data))
    markers = [m for m, _, _ in found]
    assert markers[:2] == [0xE0, 0xE1] and markers.count(SOS) == 1 and 0xDD in markers  # DRI
    assert markers.index(0xC0) < markers.index(SOS)
    for marker, start, end in found:  # each segment starts with its marker and its length
        assert data[start] == 0xFF and data[start + 1] == marker
        assert end - start == 2 + int.from_bytes(data[start + 2:start + 4], "big")
    assert data[found[-1][1]:].count(b"\xff\xd0") > 0  # RST0 inside the scan, skipped


def test_every_scan_header_of_a_progressive_file():
    data = _jpeg(photo("astronaut", 96), quality=75, progressive=True)
    scans = [(start, end) for marker, start, end in segments(data) if marker == SOS]
    assert len(scans) > 5  # libjpeg's progressive script: DC, then AC bands per component
    for start, end in scans:
        count = data[start + 4]
        assert {data[start + 5 + 2 * k] for k in range(count)} <= {1, 2, 3}
    assert frame(data) == (0xC2, 3) and SOF[0xC2] == "progressive"


def test_frame_of_grey_and_damaged_files():
    grey = np.asarray(Image.fromarray(photo("camera", 64)).convert("L"))
    data = _jpeg(grey, quality=90)
    assert frame(data) == (0xC0, 1)
    assert frame(data[:2] + b"\x00" * 20) is None  # not a marker where one must be
    sos = data.index(b"\xff\xda")
    dqt = data.index(b"\xff\xdb")
    assert frame(data[:dqt] + data[sos:]) is None  # a scan before any frame header
