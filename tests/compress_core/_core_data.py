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


def srgb_icc() -> bytes:
    """A real ICC profile (Little CMS' built-in sRGB)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


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
