"""Real photos and small helpers shared by the tests of the library core.

Photos come from scikit-image and scikit-learn's bundled samples, downscaled with Lanczos so
that the tests stay fast; every array is read-only so that no test can change another's input.
"""
import functools
import io

import numpy as np
from PIL import Image

from compress_core import GradientEnergyFunction

#: The fast energy most tests use (the default deep energy is exercised in a few tests only).
GRADIENT = GradientEnergyFunction()

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")
SKLEARN_PHOTOS = ("china", "flower")


# (kwargs, expected size) for a 180 x 120 input (aspect 1.5), worked out by hand from
# DESIGN.md section 3: exact sizes are exact, scale multiplies each side (rounded), caps round
# down and never enlarge, several targets -> the smallest area wins.
TARGET_INPUT = (180, 120)
TARGET_CASES = [
    (dict(scale=0.5), (90, 60)),
    (dict(scale=0.25), (45, 30)),
    (dict(scale=0.3), (54, 36)),
    (dict(scale=1.5), (270, 180)),
    (dict(scale=1.0), (180, 120)),
    (dict(target_width=120), (120, 80)),
    (dict(target_width=120, preserve_aspect=False), (120, 120)),
    (dict(target_height=60), (90, 60)),
    (dict(target_height=60, preserve_aspect=False), (180, 60)),
    (dict(target_width=100, target_height=100), (100, 100)),
    (dict(target_width=100, target_height=100, preserve_aspect=False), (100, 100)),
    (dict(target_width=100, target_height=40), (100, 40)),
    (dict(target_width=300, target_height=200), (300, 200)),
    (dict(target_pixels=5400), (90, 60)),
    (dict(target_pixels=5000), (86, 57)),  # 86.6 x 57.7 rounded down: 4902 <= 5000
    (dict(target_pixels=100_000), (180, 120)),  # a cap never enlarges
    (dict(max_dimension=90), (90, 60)),
    (dict(max_dimension=100), (100, 66)),  # 66.7 rounded down
    (dict(max_dimension=500), (180, 120)),
    (dict(scale=0.5, max_dimension=100), (90, 60)),  # scale is stricter
    (dict(scale=0.8, max_dimension=100), (100, 66)),  # the cap is stricter
    (dict(scale=0.5, target_pixels=4000, max_dimension=120), (77, 51)),  # target_pixels wins
    (dict(target_pixels=5400, max_dimension=80), (80, 53)),
    (dict(target_width=100, target_height=100, max_dimension=50), (50, 50)),
    (dict(target_width=100, target_height=100, scale=0.25), (37, 37)),  # area 1350 as a square
    (dict(target_width=90, target_height=90, target_pixels=10_000), (90, 90)),
    (dict(target_width=120, max_dimension=60), (60, 40)),
    (dict(target_width=120, preserve_aspect=False, target_pixels=3600), (60, 60)),
    (dict(target_height=60, preserve_aspect=False, scale=0.5), (127, 42)),  # 5400 px at 3:1
    (dict(scale=2.0, target_pixels=50_000), (273, 182)),  # caps bind an enlarging scale too
    (dict(scale=2.0, max_dimension=300), (300, 200)),
]


@functools.lru_cache(maxsize=None)
def _full(name: str) -> np.ndarray:
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        arr = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        arr = getattr(skimage.data, name)()
    if arr.ndim == 2:  # camera is gray
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr)


@functools.lru_cache(maxsize=None)
def photo(name: str, width: int = None, height: int = None) -> np.ndarray:
    """An RGB uint8 photo, resized to ``width`` (height by the aspect) or to width x height."""
    arr = _full(name)
    if width is not None:
        if height is None:
            height = max(1, round(arr.shape[0] * width / arr.shape[1]))
        arr = np.asarray(Image.fromarray(arr).resize((width, height), Image.Resampling.LANCZOS))
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


@functools.lru_cache(maxsize=None)
def grainy(name: str, width: int = None, sigma: float = 25.0) -> np.ndarray:
    """``photo(name, width)`` with Gaussian film grain of ``sigma`` levels (seeded): what a
    high-ISO photo carries, and the most bytes a pixel a photo needs."""
    arr = photo(name, width).astype(np.float64)
    arr += np.random.default_rng(0).normal(0.0, sigma, arr.shape)
    arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    arr.setflags(write=False)
    return arr


def encode(pixels, fmt: str = "JPEG", **kwargs) -> bytes:
    """Encode an array (or PIL image) with Pillow."""
    img = pixels if isinstance(pixels, Image.Image) else Image.fromarray(np.asarray(pixels))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@functools.lru_cache(maxsize=None)
def sample_file(name: str) -> bytes:
    """The bytes of a photo file as scikit-learn or scikit-image ship it (``china.jpg``,
    ``flower.jpg``: the 3,144-byte ``sRGB IEC61966-2.1`` profile embedded; ``rocket.jpg``:
    ``Adobe RGB (1998)``)."""
    import os

    import sklearn.datasets
    import skimage.data

    for package in (sklearn.datasets, skimage.data):
        folder = os.path.dirname(package.__file__)
        for path in (os.path.join(folder, "images", name), os.path.join(folder, name)):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    return f.read()
    raise FileNotFoundError(name)


@functools.lru_cache(maxsize=None)
def srgb_icc() -> bytes:
    """A real ICC profile (Little CMS' built-in sRGB), made once: its header holds the time it
    was made, so two profiles made a second apart differ in bytes (a test comparing two calls
    failed where a second ended between them: fresh-clone CI of session 26)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _fixed(x) -> bytes:
    import struct

    return struct.pack(">i", int(round(x * 65536)))


def _xyz(x, y, z) -> bytes:
    return b"XYZ " + bytes(4) + _fixed(x) + _fixed(y) + _fixed(z)


def _curve(gamma: float) -> bytes:
    import struct

    return b"curv" + bytes(4) + struct.pack(">IH", 1, int(round(gamma * 256))) + bytes(2)


def _icc(space: bytes, name: str, tags) -> bytes:
    """An ICC v2 display profile of colour space ``space`` (``b"RGB "``, ``b"GRAY"``) holding
    ``tags`` ((signature, body) pairs) besides its description and copyright."""
    import struct

    name = name.encode() + b"\0"
    tags = [(b"desc", b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(78)),
            *tags, (b"cprt", b"text" + bytes(4) + b"none\0")]
    table, data = b"", b""
    start = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        data += bytes(-(start + len(data)) % 4)
        table += sig + struct.pack(">II", start + len(data), len(body))
        data += body
    body = struct.pack(">I", len(tags)) + table + data
    header = (struct.pack(">I", 128 + len(body)) + bytes(4) + struct.pack(">I", 0x02100000)
              + b"mntr" + space + b"XYZ " + bytes(12) + b"acsp" + bytes(28) + _fixed(0.9642)
              + _fixed(1.0) + _fixed(0.8249) + bytes(48))
    return header + body


def gamma_icc(gamma: float) -> bytes:
    """A real ICC v2 RGB profile that is not sRGB: sRGB's primaries (D50-adapted) with a pure
    power-law tone curve of ``gamma`` (sRGB's curve is piecewise, ~2.2). Built here: Little CMS
    creates only sRGB, and no profile files ship with the test data."""
    return curve_icc(f"gamma {gamma:g}", _curve(gamma))


def curve_icc(name: str, curve: bytes) -> bytes:
    """An ICC v2 RGB profile of sRGB's primaries (D50-adapted) whose three tone curves are the
    tag ``curve`` (a ``curv`` or ``para`` tag's bytes)."""
    return _icc(b"RGB ", name, [
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def wide_icc(gamma: float) -> bytes:
    """:func:`gamma_icc` with Adobe RGB (1998)'s primaries (D50-adapted): a wide-gamut profile,
    which ``metadata="compact"`` carries (one with sRGB's primaries is applied to the pixels)."""
    curve = _curve(gamma)
    return _icc(b"RGB ", f"wide gamut, gamma {gamma:g}", [
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", _xyz(0.2053, 0.6257, 0.0609)), (b"bXYZ", _xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def large_icc(gamma: float, size: int) -> bytes:
    """:func:`gamma_icc` with a private tag of zeros that makes it about ``size`` bytes (a
    camera's or a printer's profile with its lookup tables: tens of kilobytes)."""
    curve = _curve(gamma)
    return _icc(b"RGB ", f"gamma {gamma:g}, large", [
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"zzzz", bytes(size))])


def gray_icc(gamma: float) -> bytes:
    """A real ICC v2 grey profile with a pure power-law tone curve of ``gamma`` (1.0: the
    stored values are linear light, as in some scanners' files)."""
    return _icc(b"GRAY", f"grey gamma {gamma:g}",
                [(b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"kTRC", _curve(gamma))])


#: How a viewer turns the stored pixels into the upright picture, per EXIF orientation tag
#: (the EXIF 2.3 table), written with NumPy so that it does not reuse Pillow's code.
EXIF_UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored horizontally
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1],  # mirrored vertically
    5: lambda a: a.transpose(1, 0, 2),  # transpose (mirror + rotate 270 CW)
    6: lambda a: np.rot90(a, -1),  # stored rotated: turn 90 degrees clockwise to view
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),  # transverse
    8: lambda a: np.rot90(a, 1),  # turn 90 degrees counter-clockwise to view
}


def exif_bytes(orientation: int, **tags) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = tags.get("make", "TestCam")
    return exif.tobytes()


def orientation_of(data: bytes):
    """The EXIF orientation tag of encoded bytes (None when absent)."""
    return decode(data).getexif().get(0x0112)


def lanczos(pixels, width, height):
    """Pillow's Lanczos of uint8 RGB(A) ``pixels`` to ``width`` x ``height``."""
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels), mode).resize(
        (width, height), Image.Resampling.LANCZOS))


def covers(box, working_box, work, size):
    """``box`` (input coordinates) is ``working_box`` (of the input reduced to ``work``) in the
    input of ``size``: the input pixels it covers, edges rounded outwards."""
    (w0, h0), (ww, wh) = size, work
    left, top, right, bottom = box
    wl, wt, wr, wb = working_box
    return (0 <= left <= wl * w0 / ww < left + 1 and 0 <= top <= wt * h0 / wh < top + 1
            and right - 1 < wr * w0 / ww <= right <= w0
            and bottom - 1 < wb * h0 / wh <= bottom <= h0)
