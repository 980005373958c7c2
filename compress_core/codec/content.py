"""``format="auto"``: photos become a lossy format, graphics and alpha images a lossless one.

A photo has few runs of identical neighbouring pixels (sensor noise, gradients): on the 24 Kodak
photos at most 20% of pixels equal their right-hand neighbour, on scikit-image's photos at most
42% (a black sky or background). Graphics, screenshots and line art are mostly flat (55-99%).
Below :data:`PHOTO_RUN_SHARE` an image is a photo unless a fast PNG or lossless WebP of its
centre is under half its JPEG (a fine pattern resampled, a smooth gradient); above it the bytes
decide: a lossless WebP (PNG where WebP is missing) no larger than the JPEG at the default
quality means a graphic (a photo with a black sky still compresses far better lossily).

Graphics, and images with transparency (an alpha channel not 255 everywhere) where photos are
JPEG (no alpha), are written losslessly, as PNG or lossless WebP, whichever is smaller
(:func:`encode_lossless`); a transparent photo whose photo format has alpha is written in it
(:func:`compress_core.codec.resolve_format`).

A picture of at most :data:`PALETTE_SIZE` colours (a GIF, a PNG8, a chart, a logo) keeps that
few when its output is resampled (:func:`keep_palette`): the new in-between colours (a 16-colour
logo at half size held 14,328) are mapped to 256, which its exact encoding then codes with a
palette. Kept as they came, they cost a 42 KB PNG8 an 87 KB lossless WebP at a quarter of its
pixels; reduced, 30 KB.
"""
from __future__ import annotations

import io
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from ..pixels import check_rgb8, clear_hidden
from ..options import ImageFormat
from .encoders import _packed, encode
from .formats import holds, supported_formats

__all__ = ["PHOTO_RUN_SHARE", "PALETTE_SIZE", "run_share", "is_photo", "encode_lossless",
           "colour_count", "keep_palette"]

PHOTO_RUN_SHARE = 0.3
#: The lossless-or-lossy byte test runs on a centre window of at most this side (pixels are not
#: resampled, so a graphic stays a graphic): on a whole 12 MP image the two lossless encoders
#: took 48 s, on the window about a second.
SAMPLE_SIDE = 1024
#: The window of the quick test of pictures with few runs (a fast PNG against the JPEG): ~2 ms.
QUICK_SIDE = 128
#: :func:`run_share` reads every row up to this many pixels, evenly spaced rows beyond (a
#: 12-megapixel photo: 27 ms instead of 207, the share within 0.0002).
RUN_SHARE_PIXELS = 1_000_000
#: The most colours a palette holds (PNG's and GIF's 8-bit indices).
PALETTE_SIZE = 256
#: :func:`colour_count` first counts this many pixels spread over the picture: a photo has more
#: than :data:`PALETTE_SIZE` colours among them, and is let go without reading it all.
COLOUR_SAMPLE = 4096


def run_share(pixels: np.ndarray) -> float:
    """Share of pixels whose colour (and alpha) equals their right-hand neighbour's."""
    if pixels.shape[1] < 2:
        return 1.0
    rows = pixels[::max(1, pixels.shape[0] * pixels.shape[1] // RUN_SHARE_PIXELS)]
    same = rows[:, 1:, 0] == rows[:, :-1, 0]   # channel by channel: np.all over an axis of
    for c in range(1, rows.shape[2]):          # 3 or 4 was 6x slower (12 ms of a 1200 x 630)
        same &= rows[:, 1:, c] == rows[:, :-1, c]
    return float(np.mean(same))


def is_photo(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` (uint8 RGB(A)) should be encoded lossily (see the module notes)."""
    if run_share(check_rgb8(pixels)) < PHOTO_RUN_SHARE:
        # few runs: a photo, unless even a fast PNG of a centre window is under half its
        # JPEG (a fine pattern resampled has few runs: a 220 x 150 checkerboard of 10-px
        # squares at half size was a JPEG 13x its PNG; its fast PNG is 0.16-0.28x its JPEG).
        # Photos' fast PNGs are 3.6-12x their JPEG at 10-100% of their size, ~2x at 5%, and
        # near 1x as 16-px thumbnails, where the JPEG's headers weigh (those stay JPEG).
        # A smooth gradient has few runs too, and deflate codes it poorly: its fast PNG was
        # 0.7x its JPEG, a lossless WebP (whose predictors follow a gradient) 0.08x, and it was
        # written as a 1,908-byte JPEG where the lossless WebP took 164 (bytes review 42):
        # the smaller of the two decides (photos' fast WebPs are 0.7-0.9x their fast PNGs).
        sample = _centre(pixels, QUICK_SIDE)
        return 2 * _quick_lossless_size(sample) > len(encode(sample, ImageFormat.JPEG,
                                                             _scans=False))
    sample = _centre(pixels, SAMPLE_SIDE)
    return _lossless_size(sample) > len(encode(sample, ImageFormat.JPEG, _scans=False))


def _lossless_size(sample: np.ndarray) -> int:
    """About the size of ``sample``'s lossless encoding: a lossless WebP at a fast setting
    (method 2, quality 25: 4-10% over what :func:`encode_lossless` writes, in a tenth of its
    time; a 1024-px window of an upscaled photo took 2.7 s at the output's settings), or
    :func:`encode_lossless` where WebP is missing."""
    if ImageFormat.WEBP not in supported_formats():
        return len(encode_lossless(sample)[0])
    buffer = io.BytesIO()
    Image.fromarray(sample).save(buffer, "WEBP", lossless=True, quality=25, method=2)
    return len(buffer.getvalue())


def _centre(pixels: np.ndarray, side: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return np.ascontiguousarray(pixels[top:top + side, left:left + side])


def _png_fast(pixels: np.ndarray) -> bytes:
    """A PNG at zlib's fastest level: a size to compare, not an output."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _quick_lossless_size(sample: np.ndarray) -> int:
    """The smaller of a fast PNG and a lossless WebP at its fastest setting (method 0, under a
    millisecond on a 128-px window) of ``sample``: sizes to compare, not outputs."""
    size = len(_png_fast(sample))
    if ImageFormat.WEBP in supported_formats():
        buffer = io.BytesIO()
        Image.fromarray(sample).save(buffer, "WEBP", lossless=True, quality=0, method=0)
        size = min(size, len(buffer.getvalue()))
    return size


def encode_lossless(pixels: np.ndarray, icc_profile: Optional[bytes] = None,
                    exif: Optional[bytes] = None, *, xmp: Optional[bytes] = None,
                    iptc: Optional[bytes] = None) -> Tuple[bytes, ImageFormat]:
    """The smaller of PNG and lossless WebP (PNG alone where WebP is missing, or where a side
    is over WebP's 16383 pixels: :data:`~.formats.MAX_SIDE`)."""
    meta = dict(icc_profile=icc_profile, exif=exif, xmp=xmp, iptc=iptc)
    best = (encode(pixels, ImageFormat.PNG, **meta), ImageFormat.PNG)
    h, w = pixels.shape[:2]
    if ImageFormat.WEBP in supported_formats() and holds(ImageFormat.WEBP, w, h):
        webp = encode(pixels, ImageFormat.WEBP, lossless=True, **meta)
        if len(webp) < len(best[0]):
            best = (webp, ImageFormat.WEBP)
    return best


def colour_count(pixels: np.ndarray, most: int = PALETTE_SIZE) -> Optional[int]:
    """The number of distinct colours (alpha included) of uint8 RGB(A) ``pixels``, where it is
    at most ``most``; else None (a photo says so from a sample of :data:`COLOUR_SAMPLE`
    pixels, in about 0.1 ms)."""
    flat = check_rgb8(pixels).reshape(-1, pixels.shape[2])
    if len(flat) > COLOUR_SAMPLE:
        sample = flat[::len(flat) // COLOUR_SAMPLE].astype(np.uint32)
        if len(np.unique(_packed(sample))) > most:
            return None
    colours = Image.fromarray(np.ascontiguousarray(pixels)).getcolors(most)
    return None if colours is None else len(colours)


def keep_palette(out: np.ndarray, input_pixels: np.ndarray) -> Optional[np.ndarray]:
    """``out`` reduced to :data:`PALETTE_SIZE` colours, where the input held at most that many
    and the output (resampled: its edges blended) holds more; else None. Both are uint8
    RGB(A); ``out`` with hidden colours cleared (:func:`~compress_core.pixels.clear_hidden`),
    the input's are cleared here where its colours are counted (not for a photo, whose
    output's count stops first).

    Pillow's fast octree, no dithering (a 512 px text at half size: each colour within 1.4
    levels on average, 20 at most, on anti-aliased edges; its median cut and max-coverage
    methods, closer on text, took 30-200x longer and gave 1.6-2x the bytes). Opaque, clear
    and translucent pixels are reduced apart, so that alpha 255 and 0 stay exact (reduced
    together, the octree averaged them with the blended edges': 14,004 opaque pixels of a
    transparent PNG8 at half size kept 76; diff review 44); the translucent ones, a blended
    edge's, share the palette by their number (16 entries at least, 128 at most)."""
    if colour_count(out) is not None or colour_count(clear_hidden(input_pixels)) is None:
        return None
    if out.shape[2] == 3:
        return _octree(out.reshape(-1, 3), PALETTE_SIZE).reshape(out.shape)
    flat = out.reshape(-1, 4)
    reduced = flat.copy()
    alpha = flat[:, 3]
    translucent = (alpha > 0) & (alpha < 255)
    opaque = alpha == 255
    entries = PALETTE_SIZE - 1   # (one for the clear pixels, which clear_hidden made one)
    if translucent.any():
        share = int(np.clip(round(entries * translucent.mean()), 16, 128))
        reduced[translucent] = _octree(flat[translucent], share)
        entries -= share
    if opaque.any():
        reduced[opaque, :3] = _octree(flat[opaque, :3], entries)
    return reduced.reshape(out.shape)


def _octree(colours: np.ndarray, most: int) -> np.ndarray:
    """(N, 3|4) uint8 ``colours`` mapped to at most ``most``: the entries Pillow's fast octree
    chooses, each colour then mapped to its nearest entry (the octree's own mapping, bucket by
    bucket, moved translucent edges' alpha by up to 239 levels; nearest, an entry's alpha
    stays between 1 and 254 where all of them are)."""
    mode = "RGBA" if colours.shape[1] == 4 else "RGB"
    row = Image.fromarray(np.ascontiguousarray(colours[None]), mode)
    chosen = row.quantize(most, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    entries = np.unique(np.asarray(chosen.convert(mode))[0], axis=0)
    if mode == "RGB":   # (Pillow maps RGB to a given palette, nearest first, in C)
        palette = Image.new("P", (1, 1))
        palette.putpalette(entries.tobytes(), "RGB")
        nearest = row.quantize(palette=palette, dither=Image.Dither.NONE)
        return np.asarray(nearest.convert("RGB"))[0]
    from scipy.spatial import cKDTree

    return entries[cKDTree(entries.astype(np.float32)).query(colours.astype(np.float32))[1]]
