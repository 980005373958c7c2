"""The bad-input corpus: generated in memory by the tests, never committed as binaries.

:func:`file_kinds` returns encoded files (name -> bytes and the decided outcome) that go
through the library *and* the pipeline; :func:`array_kinds` returns in-memory inputs and
impossible parameters that only the library can receive (arrays, masks, targets).

Every kind has one decided outcome:

* ``Expect.error(ErrorClass, "words")``: the library raises exactly that class with a message
  containing the words; the pipeline writes an ``error`` row with ``error_type`` = the class
  name and writes no output.
* ``Expect.ok(size=(w, h), mode="RGB"|"RGBA", fmt="JPEG"|...)``: a correct result with that
  output size, mode and format at ``scale=0.5``; the pipeline writes an ``ok`` row and that file.
  ``format="auto"`` decides by content (``codec.resolve_format``): photos -> JPEG, alpha and
  graphics -> lossless, the smaller of PNG and lossless WebP (``LOSSLESS``); ``fmt=None``
  (random-noise tiny images, whose photo / graphic call is arbitrary) checks no format.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageCms, PngImagePlugin

from compress_core.errors import (
    ImageDecodeError,
    ImageTooLargeError,
    NotAnImageError,
    TargetUnreachableError,
    UnsupportedImageError,
)

SCALE = 0.5


#: What format="auto" writes for alpha and graphics: the smaller lossless encoding.
LOSSLESS = ("PNG", "WEBP")


@dataclass(frozen=True)
class Expect:
    status: str                      # "ok" or "error"
    error: Optional[type] = None
    words: str = ""
    size: Optional[Tuple[int, int]] = None
    mode: Optional[str] = None
    fmt: Optional[Union[str, Tuple[str, ...]]] = None

    @staticmethod
    def err(cls, words=""):
        return Expect("error", error=cls, words=words)

    @staticmethod
    def ok(size, mode="RGB", fmt=None):
        return Expect("ok", size=size, mode=mode, fmt=fmt)

    def formats(self) -> Tuple[str, ...]:
        """The accepted output formats (empty: any)."""
        if self.fmt is None:
            return ()
        return (self.fmt,) if isinstance(self.fmt, str) else tuple(self.fmt)

    def describe(self) -> str:
        if self.status == "error":
            return f"error `{self.error.__name__}`"
        return f"ok {self.size[0]}x{self.size[1]} {self.mode} {'/'.join(self.formats())}".rstrip()


@dataclass
class Kind:
    name: str                         # the kind, e.g. "truncated JPEG at 50%"
    filename: str                     # file name in the corpus folder
    data: bytes
    expect: Expect
    kwargs: Dict[str, Any] = field(default_factory=dict)   # extra library arguments


def _with_alpha_ramp(img: Image.Image) -> Image.Image:
    """``img`` (LA or RGBA) with its alpha falling from 255 to 0 left to right."""
    bands = list(img.split())
    ramp = np.linspace(255, 0, img.width).round().astype(np.uint8)
    bands[-1] = Image.fromarray(np.repeat(ramp[None], img.height, 0))
    return Image.merge(img.mode, bands)


def _enc(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _half(w: int, h: int) -> Tuple[int, int]:
    return max(1, round(w * SCALE)), max(1, round(h * SCALE))


def _patch_png_size(png: bytes, width: int, height: int) -> bytes:
    """Declare another size in a PNG's IHDR chunk (with a correct CRC): a decompression bomb."""
    assert png[12:16] == b"IHDR"
    ihdr = bytearray(png[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return png[:16] + bytes(ihdr) + crc + png[33:]


#: The transpose that undoes each EXIF orientation's (what a camera stores for an upright scene).
_STORED = {1: None, 2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM,
           5: Image.TRANSPOSE, 6: Image.ROTATE_90, 7: Image.TRANSVERSE, 8: Image.ROTATE_270}


def exif_oriented(upright: Image.Image, orientation: int) -> bytes:
    """A JPEG that stores ``upright`` as a camera would with this orientation tag, so that every
    orientation decodes (after the tag is applied) to the same upright picture."""
    stored = upright if _STORED[orientation] is None else upright.transpose(_STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "ReliabilityCam"     # Make: a tag besides the orientation, to be kept
    return _enc(stored, "JPEG", quality=95, exif=exif.tobytes())


def file_kinds(photo: Image.Image) -> List[Kind]:
    """Encoded bad or unusual files. ``photo`` is a real RGB photo (about 256 px)."""
    rng = np.random.default_rng(20261125)
    photo = photo.convert("RGB").resize((96, 64), Image.LANCZOS)
    w, h = photo.size
    half = _half(w, h)
    jpg, png, webp = _enc(photo, "JPEG", quality=90), _enc(photo, "PNG"), _enc(photo, "WEBP")
    dec = ImageDecodeError
    kinds: List[Kind] = [
        Kind("zero bytes", "zero.jpg", b"", Expect.err(dec, "empty file")),
    ]
    for label, cut in [("10 bytes", 10), ("1/3", len(jpg) // 3), ("90%", int(len(jpg) * 0.9)),
                       ("all but EOI", len(jpg) - 2)]:
        kinds.append(Kind(f"truncated JPEG ({label})", f"trunc_{cut}.jpg", jpg[:cut],
                          Expect.err(dec)))
    for label, cut in [("signature only", 8), ("1/2", len(png) // 2), ("90%", int(len(png) * 0.9))]:
        kinds.append(Kind(f"truncated PNG ({label})", f"trunc_{cut}.png", png[:cut],
                          Expect.err(dec)))
    # Every pixel is there, only the IEND chunk is missing: decoded (documented).
    kinds.append(Kind("PNG without IEND", "no_iend.png", png[:-12], Expect.ok(half, fmt="JPEG")))
    for label, cut in [("20 bytes", 20), ("1/2", len(webp) // 2), ("90%", int(len(webp) * 0.9))]:
        kinds.append(Kind(f"truncated WebP ({label})", f"trunc_{cut}.webp", webp[:cut],
                          Expect.err(dec)))
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    kinds += [
        Kind("random bytes as .jpg", "random.jpg", noise, Expect.err(dec, "not a recognised")),
        Kind("random bytes as .png", "random.png", noise[::-1], Expect.err(dec)),
        Kind("JPEG header then garbage", "corrupt.jpg", jpg[:200] + noise,
             Expect.err(dec)),
        Kind("text file", "notes.txt", b"meeting notes, not a picture\n" * 30,
             Expect.err(NotAnImageError, "not a recognised")),
        Kind("HTML saved as .jpg", "page.jpg",
             b"<!doctype html><html><body><img src='x.jpg'></body></html>\n" * 10,
             Expect.err(dec, "not a recognised")),
        Kind("CMYK JPEG", "cmyk.jpg", _enc(photo.convert("CMYK"), "JPEG", quality=90),
             Expect.ok(half, "RGB", "JPEG")),
        Kind("16-bit PNG (I;16)", "deep16.png",
             _enc(Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257)), "PNG"),
             Expect.ok(half, "RGB", "JPEG")),
        Kind("palette PNG with transparency", "palette_t.png",
             _enc(photo.convert("P", palette=Image.ADAPTIVE, colors=16), "PNG", transparency=0),
             Expect.ok(half, "RGBA", LOSSLESS)),
        # an alpha channel that is 255 everywhere hides nothing: the photo stays a photo
        Kind("LA PNG, opaque", "la.png", _enc(photo.convert("LA"), "PNG"),
             Expect.ok(half, "RGBA", "JPEG")),
        Kind("LA PNG with transparency", "la_t.png", _enc(_with_alpha_ramp(photo.convert("LA")),
                                                           "PNG"),
             Expect.ok(half, "RGBA", LOSSLESS)),
        Kind("L (gray) JPEG", "gray.jpg", _enc(photo.convert("L"), "JPEG"),
             Expect.ok(half, None, "JPEG")),
        # dithered bilevel photo, resampled to gray levels: a photo again
        Kind("1-bit PNG", "bilevel.png", _enc(photo.convert("1"), "PNG"),
             Expect.ok(half, None, "JPEG")),
        Kind("32-bit float TIFF (F)", "float.tif",
             _enc(Image.fromarray(np.asarray(photo.convert("L"), np.float32) / 255.0), "TIFF"),
             Expect.ok(half, "RGB", "JPEG")),
    ]
    frames = [photo, photo.transpose(Image.FLIP_LEFT_RIGHT), photo.convert("L").convert("RGB")]
    kinds += [
        Kind("animated GIF (first frame)", "anim_gif.gif",
             _enc(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
             Expect.ok(half, "RGB", "JPEG")),
        Kind("animated WebP (first frame)", "anim_webp.webp",
             _enc(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100),
             Expect.ok(half, "RGB", "JPEG")),
    ]
    for o in range(1, 9):   # stored sideways for 5-8; upright 96x64 after the tag is applied
        kinds.append(Kind(f"EXIF orientation {o}", f"exif_{o}.jpg", exif_oriented(photo, o),
                          Expect.ok(half, "RGB", "JPEG")))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    kinds.append(Kind("embedded ICC profile", "icc.jpg",
                      _enc(photo, "JPEG", quality=90, icc_profile=icc),
                      Expect.ok(half, "RGB", "JPEG")))
    for (sw, sh) in [(1, 1), (2, 2), (1, 50), (50, 1), (10000, 3)]:
        img = Image.fromarray(rng.integers(0, 256, (sh, sw, 3), dtype=np.uint8))
        kinds.append(Kind(f"{sw}x{sh} image", f"tiny_{sw}x{sh}.png", _enc(img, "PNG"),
                          Expect.ok(_half(sw, sh), "RGB", None)))
    app1 = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + b"\xff" * 50     # IFD pointing nowhere
    broken_exif = jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpg[2:]
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "A" * (20 * 2**20), zip=True)     # 20 MiB of text in ~20 kB
    sof = jpg.find(b"\xff\xc0")
    huge_jpeg = bytearray(jpg)
    huge_jpeg[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    kinds += [
        Kind("JPEG with a corrupt EXIF block", "broken_exif.jpg", broken_exif,
             Expect.ok(half, "RGB", "JPEG")),
        Kind("PNG with a zTXt text bomb", "ztxt_bomb.png", _enc(photo, "PNG", pnginfo=text),
             Expect.err(dec, "too large")),
        Kind("GIF with transparency", "transparent.gif",
             _enc(photo.convert("P", palette=Image.ADAPTIVE, colors=16), "GIF", transparency=0),
             Expect.ok(half, "RGBA", LOSSLESS)),
        # distinct stems for the animations: with format auto they all become JPEG, and the
        # job names outputs by stem (anim.gif, anim.webp and anim.png would share one name)
        Kind("animated PNG (APNG, first frame)", "anim_apng.png",
             _enc(photo, "PNG", save_all=True, append_images=[photo.rotate(180)], duration=100),
             Expect.ok(half, "RGB", "JPEG")),
        Kind("multi-page TIFF (first page)", "pages.tif",
             _enc(photo, "TIFF", save_all=True, append_images=[photo.convert("L")]),
             Expect.ok(half, "RGB", "JPEG")),
        Kind("BMP", "plain.bmp", _enc(photo, "BMP"), Expect.ok(half, "RGB", "JPEG")),
        Kind("PSD signature then zeros", "fake.psd", b"8BPS" + bytes(100), Expect.err(dec)),
        Kind("JPEG declaring 65500x65500", "huge_header.jpg", bytes(huge_jpeg),
             Expect.err(ImageTooLargeError, "pixels")),
    ]
    bomb = _patch_png_size(_enc(Image.new("RGB", (1, 1)), "PNG"), 100_000, 100_000)
    kinds += [
        Kind("decompression bomb header (100000x100000 PNG)", "bomb.png", bomb,
             Expect.err(ImageTooLargeError, "pixels")),
        Kind("over a low max_pixels (96x64 > 5000)", "over_limit.jpg", jpg,
             Expect.err(ImageTooLargeError, "max_pixels"), {"max_pixels": 5000}),
    ]
    return kinds


@dataclass
class CallKind:
    """An input only the library can receive, with its arguments and decided outcome."""

    name: str
    image: Any
    kwargs: Dict[str, Any]
    expect: Expect


def array_kinds(photo: Image.Image) -> List[CallKind]:
    photo = photo.convert("RGB").resize((96, 64), Image.LANCZOS)
    arr = np.asarray(photo)
    flt = arr.astype(np.float32) / 255.0
    nan, inf = flt.copy(), flt.copy()
    nan[3, 4, 1] = np.nan
    inf[5, 6, 0] = np.inf
    jpg = _enc(photo, "JPEG", quality=90)
    s = {"scale": SCALE}
    return [
        CallKind("NaN in a float array", nan, s, Expect.err(UnsupportedImageError, "NaN")),
        CallKind("inf in a float array", inf, s, Expect.err(UnsupportedImageError, "infinite")),
        CallKind("float array in [0, 1]", flt, s, Expect.ok((48, 32), "RGB", "JPEG")),
        CallKind("empty array (0x5x3)", np.zeros((0, 5, 3), np.uint8), s,
                 Expect.err(UnsupportedImageError, "empty")),
        CallKind("array with 2 channels", np.zeros((8, 8, 2), np.uint8), s,
                 Expect.err(UnsupportedImageError, "shape")),
        CallKind("uint16 RGB array", arr.astype(np.uint16) * 257, s, Expect.ok((48, 32), "RGB", "JPEG")),
        # a bilevel picture is a graphic: format "auto" picks PNG or lossless WebP by size
        CallKind("bool (bilevel) array", arr[..., 0] > 127, s, Expect.ok((48, 32), "RGB")),
        CallKind("RGBA float array, opaque", np.dstack([flt, np.ones((64, 96, 1), np.float32)]),
                 s, Expect.ok((48, 32), "RGBA", "JPEG")),
        CallKind("RGBA float array with transparency",
                 np.dstack([flt, np.linspace(0, 1, 96, dtype=np.float32)[None, :, None]
                            .repeat(64, 0)]), s, Expect.ok((48, 32), "RGBA", LOSSLESS)),
        CallKind("int64 array out of 0..255", arr.astype(np.int64) * 1000, s,
                 Expect.err(UnsupportedImageError, "0..255")),
        CallKind("PIL image object", photo, s, Expect.ok((48, 32), "RGB", "JPEG")),
        # issue 12: one meaning per dtype, never silently wrong; masks 2-D only
        CallKind("float64 array holding 0..255", arr.astype(np.float64), s,
                 Expect.err(UnsupportedImageError, "[0, 1]")),
        CallKind("float array beyond [0, 1] (-0.5..1.5)", flt * 2 - 0.5, s,
                 Expect.err(UnsupportedImageError, "[0, 1]")),
        CallKind("float16 array in [0, 1]", flt.astype(np.float16), s,
                 Expect.ok((48, 32), "RGB", "JPEG")),
        CallKind("gray 2-D uint8 array", arr[..., 1].copy(), s, Expect.ok((48, 32), "RGB", "JPEG")),
        CallKind("array with 0 channels", np.zeros((8, 8, 0), np.uint8), s,
                 Expect.err(UnsupportedImageError, "shape")),
        CallKind("1x1 array", arr[:1, :1].copy(), s, Expect.ok((1, 1), "RGB")),
        CallKind("1 px tall strip (200x1)", np.ascontiguousarray(np.resize(arr[0], (1, 200, 3))),
                 s, Expect.ok((100, 1), "RGB")),
        CallKind("3-channel keep_mask", jpg, {**s, "keep_mask": np.ones((64, 96, 3), bool)},
                 Expect.err(ValueError, "keep_mask must be a 2-D array")),
        CallKind("keep_mask with NaN", jpg,
                 {**s, "keep_mask": np.full((64, 96), np.nan, np.float32)},
                 Expect.err(ValueError, "keep_mask contains NaN")),
        CallKind("keep_mask of the wrong shape", jpg,
                 {**s, "keep_mask": np.ones((10, 10), bool)}, Expect.err(ValueError, "keep_mask")),
        CallKind("remove_mask of the wrong shape", jpg,
                 {"scale": SCALE, "method": "seam_carving", "remove_mask": np.ones((64, 95), bool)},
                 Expect.err(ValueError, "remove_mask")),
        CallKind("scale 0", jpg, {"scale": 0}, Expect.err(ValueError, "scale")),
        CallKind("scale -1", jpg, {"scale": -1.0}, Expect.err(ValueError, "scale")),
        CallKind("scale NaN", jpg, {"scale": float("nan")}, Expect.err(ValueError, "scale")),
        CallKind("target_bytes 10 (below any encoding)", jpg, {"target_bytes": 10},
                 Expect.err(TargetUnreachableError, "")),
        CallKind("target_bytes 0", jpg, {"target_bytes": 0}, Expect.err(ValueError, "target_bytes")),
        CallKind("target_width 0", jpg, {"target_width": 0}, Expect.err(ValueError, "target_width")),
        CallKind("no target at all", jpg, {}, Expect.err(ValueError, "target")),
        CallKind("unknown method", jpg, {**s, "method": "magic"}, Expect.err(ValueError, "method")),
        CallKind("quality 0", jpg, {**s, "quality": 0}, Expect.err(ValueError, "quality")),
        CallKind("max_pixels -1", jpg, {**s, "max_pixels": -1}, Expect.err(ValueError, "max_pixels")),
    ]
