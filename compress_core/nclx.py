"""ICC profiles for pixels whose colours a description other than a profile gives: a HEIF's
or an AVIF's nclx box (ITU-T H.273), a PNG's cICP chunk (the same code points) and a PNG's
gAMA and cHRM chunks.

HEIF files say what their pixels' colours mean by an ICC profile (iPhones: Display P3) or by
an nclx box: code points for the primaries, the transfer curve and the YCbCr matrix. Pillow
and the encoders know ICC profiles only, so a HEIF with Display P3 or BT.2020 primaries and no
profile (as some Android phones write them) was written out untagged: every viewer showed it
as sRGB, washed out: Display P3 photos of skimage's coffee, astronaut and chelsea showed
9-12% less saturation on average, channels off by up to 30-53 levels. AVIFs (darktable and
libheif write wide-gamut ones so) and PNGs (third edition's cICP) say it by bare code points,
which Pillow does not report (:func:`code_points` reads them; a Display P3 AVIF's green was
shown 44 levels off).

:func:`nclx_icc` builds the ICC profile that says the same thing: the primaries and white
point from the description (adapted to the D50 connection space by the Bradford transform, as
ICC profiles do) and the sRGB tone curve. From there the colour path is the one for embedded
profiles (:mod:`compress_core.metadata`: ``compact`` carries the profile, ``none`` converts the
pixels to sRGB).

Only the primaries are acted on. The transfer code points that SDR photos use (sRGB, 13;
BT.709/601/2020, 1, 6, 14, 15; unspecified, 2) are shown with the sRGB curve by browsers and
phones alike, so the curve stays sRGB's. HDR transfers (PQ, 16; HLG, 18) and linear light (8)
would need tone mapping, which is not done: those pictures are written as decoded, untagged, as
before (a debug message says so).
"""
from __future__ import annotations

import logging
import struct
from typing import Mapping, Optional

import numpy as np

__all__ = ["nclx_icc", "png_gamma_icc", "code_points", "SRGB_PRIMARIES"]

_LOG = logging.getLogger(__name__)

#: sRGB's (BT.709's) primaries and D65 white point, as CIE xy: red, green, blue, white.
SRGB_PRIMARIES = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290))
#: How far (in CIE xy) a description's primaries may lie from sRGB's and still be taken as sRGB
#: (libheif reports them as 32-bit floats of the H.273 values).
_SAME_XY = 0.002
#: Transfer code points shown with the sRGB curve (see the module's text).
_SDR_TRANSFERS = frozenset([1, 2, 6, 13, 14, 15])
_D50 = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614],
                      [-0.7502, 1.7135, 0.0367],
                      [0.0389, -0.0685, 1.0296]])
#: sRGB's tone curve as ICC parametric curve type 3: Y = (aX + b)^g for X >= d, else cX.
_SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)


def _primaries(nclx: Mapping):
    keys = [("color_primary_red_x", "color_primary_red_y"),
            ("color_primary_green_x", "color_primary_green_y"),
            ("color_primary_blue_x", "color_primary_blue_y"),
            ("color_primary_white_x", "color_primary_white_y")]
    try:
        xy = tuple((float(nclx[kx]), float(nclx[ky])) for kx, ky in keys)
    except (KeyError, TypeError, ValueError):
        return None
    if not all(0.0 < x < 1.0 and 0.0 < y < 1.0 for x, y in xy):
        return None
    return xy


#: H.273 colour primaries (code point -> red, green, blue, white CIE xy) of SDR pictures.
_CODE_POINT_PRIMARIES = {
    1: SRGB_PRIMARIES,
    4: ((0.67, 0.33), (0.21, 0.71), (0.14, 0.08), (0.310, 0.316)),
    5: ((0.64, 0.33), (0.29, 0.60), (0.15, 0.06), (0.3127, 0.3290)),
    6: ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070), (0.3127, 0.3290)),
    7: ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070), (0.3127, 0.3290)),
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), (0.3127, 0.3290)),
    11: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.314, 0.351)),
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290)),
    22: ((0.630, 0.340), (0.295, 0.605), (0.155, 0.077), (0.3127, 0.3290)),
}


def code_points(primaries: int, transfer: int) -> Optional[dict]:
    """An nclx description as pillow-heif gives it (:func:`nclx_icc`'s argument) from bare
    H.273 code points: an AVIF's ``colr`` box of type ``nclx`` (Pillow's AVIF reader reports
    none) or a PNG's ``cICP`` chunk (Pillow reads none); None for primaries not in the table."""
    xy = _CODE_POINT_PRIMARIES.get(primaries)
    if xy is None:
        return None
    names = ("red", "green", "blue", "white")
    described = {"color_primaries": primaries, "transfer_characteristics": transfer}
    for name, (x, y) in zip(names, xy):
        described[f"color_primary_{name}_x"], described[f"color_primary_{name}_y"] = x, y
    return described


def nclx_icc(nclx: Optional[Mapping]) -> Optional[bytes]:
    """An ICC v4 RGB display profile describing pixels of the nclx colour description
    ``nclx`` (pillow-heif's ``info["nclx_profile"]``: H.273 code points and the primaries' CIE
    xy); None when its primaries are sRGB's, its transfer is not an SDR one (see the module's
    text) or it gives no usable primaries."""
    if not nclx:
        return None
    xy = _primaries(nclx)
    if xy is None:
        return None
    if all(abs(a - b) <= _SAME_XY for p, q in zip(xy, SRGB_PRIMARIES) for a, b in zip(p, q)):
        return None
    transfer = nclx.get("transfer_characteristics")
    if transfer not in _SDR_TRANSFERS:
        _LOG.debug("an nclx description with transfer %s (not an SDR curve) is not turned into "
                   "a colour profile: the pixels are written as decoded", transfer)
        return None
    return _rgb_profile(_name(nclx.get("color_primaries")), xy, _para(_SRGB_CURVE))


#: How far a PNG's decoding exponent (1 / gAMA) may lie from 2.2 and still be taken as sRGB's
#: curve. Viewers that apply gAMA show 0.45455 without an sRGB chunk as a pure 2.2 curve,
#: which differs from sRGB's by up to 8.5 levels in the shadows (2 on average, 9.6 at 2.25):
#: not worth a profile of about 600 bytes on every output of the many PNGs written that way.
_SAME_EXPONENT = 0.05


def png_gamma_icc(gamma: Optional[float], chromaticity=None) -> Optional[bytes]:
    """An ICC v4 RGB display profile saying what a PNG's gAMA chunk (``gamma``, the file's
    encoding exponent: 0.45455 for 1/2.2, 1.0 for linear light) and cHRM chunk
    (``chromaticity``: white, red, green and blue CIE xy, as Pillow's ``info`` gives them)
    say; None where they say sRGB (a decoding exponent within 0.05 of 2.2, sRGB's primaries or
    none given) or nothing usable. Browsers apply gAMA: a linear-light PNG (gAMA 1.0) written
    out untagged was shown 35% darker (mean level 150 -> 99 on skimage's coffee). The caller
    ignores the chunks where an iCCP or sRGB chunk is present, as the PNG specification says;
    a cHRM chunk without gAMA is not acted on (the curve is unknown: sRGB's is assumed, as
    for an untagged picture)."""
    try:
        gamma = float(gamma)
    except (TypeError, ValueError):
        return None
    if not 0.01 <= gamma <= 10.0:  # (0 is invalid; the rest would not be a picture)
        return None
    xy = SRGB_PRIMARIES
    if chromaticity is not None:
        try:
            values = [float(v) for v in chromaticity]
        except (TypeError, ValueError):
            values = []
        if len(values) == 8 and all(0.0 < v < 1.0 for v in values):
            white, red, green, blue = zip(values[0::2], values[1::2])
            xy = (red, green, blue, white)
    same_primaries = all(abs(a - b) <= _SAME_XY
                         for p, q in zip(xy, SRGB_PRIMARIES) for a, b in zip(p, q))
    if same_primaries and abs(1.0 / gamma - 2.2) <= _SAME_EXPONENT:
        return None
    name = (f"gamma {1.0 / gamma:.3g}" + ("" if same_primaries else ", the file's primaries")
            + " (from the PNG's gAMA and cHRM chunks)")
    return _rgb_profile(name, xy, _para((1.0 / gamma,)))


def _name(code) -> str:
    known = {9: "BT.2020", 11: "DCI-P3", 12: "Display P3", 22: "EBU 3213"}
    return f"{known.get(code, f'nclx primaries {code}')} (from the file's nclx description)"


def _xyz_of(xy) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _adaptation(white: np.ndarray) -> np.ndarray:
    """The Bradford matrix taking colours seen under ``white`` (XYZ) to D50."""
    scale = (_BRADFORD @ _D50) / (_BRADFORD @ white)
    return np.linalg.inv(_BRADFORD) @ np.diag(scale) @ _BRADFORD


def _d50_colorants(xy) -> np.ndarray:
    """The XYZ (D50) of the red, green and blue primaries at full intensity: the columns of
    the RGB -> XYZ matrix whose white is the description's, adapted to D50."""
    primaries = np.stack([_xyz_of(p) for p in xy[:3]], axis=1)
    white = _xyz_of(xy[3])
    matrix = primaries * np.linalg.solve(primaries, white)[None, :]
    return _adaptation(white) @ matrix


def _s15(value: float) -> bytes:
    return struct.pack(">i", int(round(float(value) * 65536)))


def _xyz(values) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in values)


def _sf32(matrix: np.ndarray) -> bytes:
    return b"sf32" + bytes(4) + b"".join(_s15(v) for v in matrix.reshape(-1))


def _para(curve) -> bytes:
    """An ICC parametric curve: ``(g,)`` is type 0 (Y = X^g), five parameters type 3."""
    kind = {1: 0, 5: 3}[len(curve)]
    return b"para" + bytes(4) + struct.pack(">HH", kind, 0) + b"".join(_s15(v) for v in curve)


def _rgb_profile(name: str, xy, curve: bytes) -> bytes:
    """A display profile named ``name`` for RGB pixels of primaries and white ``xy`` (CIE xy:
    red, green, blue, white) and tone curve ``curve`` (:func:`_para`) on every channel."""
    columns = _d50_colorants(xy)
    return _profile([(b"desc", _mluc(name)), (b"cprt", _mluc("No copyright, use freely")),
                     (b"wtpt", _xyz(_D50)), (b"chad", _sf32(_adaptation(_xyz_of(xy[3])))),
                     (b"rXYZ", _xyz(columns[:, 0])), (b"gXYZ", _xyz(columns[:, 1])),
                     (b"bXYZ", _xyz(columns[:, 2])),
                     (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def _mluc(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return (b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + b"enUS"
            + struct.pack(">II", len(encoded), 28) + encoded)


def _profile(tags) -> bytes:
    """An ICC v4.3 display profile (RGB, PCS XYZ) holding ``tags`` ((signature, body) pairs);
    tags with the same body share it."""
    table, data, placed = b"", b"", {}
    start = 128 + 4 + 12 * len(tags)
    for signature, body in tags:
        if body not in placed:
            data += bytes(-(start + len(data)) % 4)
            placed[body] = start + len(data)
            data += body
        table += signature + struct.pack(">II", placed[body], len(body))
    data += bytes(-(start + len(data)) % 4)
    body = struct.pack(">I", len(tags)) + table + data
    header = (struct.pack(">I", 128 + len(body)) + bytes(4) + struct.pack(">I", 0x04300000)
              + b"mntr" + b"RGB " + b"XYZ " + bytes(12) + b"acsp" + bytes(24)
              + struct.pack(">I", 0)  # rendering intent: perceptual
              + b"".join(_s15(v) for v in _D50) + bytes(48))
    return header + body
