"""Quality searches: the largest quality under a byte budget, the smallest encoding at a score.

``target_bytes``: :func:`fit_budget` finds the largest quality whose encoding fits, reading its
steps off a per-format median size curve;
:class:`~compress_core.errors.TargetUnreachableError` says when even the lowest quality is too
big (the caller then tries fewer pixels).

``quality="auto"``: :func:`encode_to_score` finds a small encoding whose SSIMULACRA2 score
(:mod:`compress_core.perceptual`) reaches a target, in two or three encodes on most photos: the
first quality is read off a per-format median score curve (measured on the Kodak photos) a little
above the target; after one encode the photo's curve is taken as that curve shifted through the
measured point; later steps interpolate the measured (quality, score) points (secant inside the
bracket, the measured slope outside it). A large picture in JPEG (about 9.4 megapixels and up)
starts instead where the same search ends on a sample of its tiles (a 6 x 6 grid of 256-pixel
tiles): the median curve, read on 768x512 photos, started 24-megapixel ones at quality 73 where
they needed 34-51. The search keeps a passing encoding at most
:data:`_TOLERANCE` points above the target unless a failing one below it promises, by the
secant, more than :data:`_SAVING` fewer bytes; it never returns an encoding below the target.
When the top quality misses the target (chroma subsampling limits small saturated pictures),
JPEG and AVIF search again in 4:4:4, WebP and JPEG XL turn lossless. The reference's colour
transform and blurred moments are computed once per image
(:class:`~compress_core.perceptual.Reference`); JPEG candidates skip mozjpeg's scan
optimisation, applied once to the encoding returned.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from .. import deadline
from ..errors import EncodingError, TargetUnreachableError
from ..pixels import check_rgb8, has_transparency
from ..options import ImageFormat
from ..perceptual import Reference
from ..targets import check_real
from .encoders import (attached_for, decode_pixels, encode, flatten_for, jxl_srgb,
                       lowest_quality, optimize_scans, stored_bytes)
from .formats import QUALITY_RANGE, check_quality, require_encoder
from .semantic import requantize_jpeg

__all__ = ["fit_budget", "encode_to_score", "AlphaDrafts", "check_target_quality",
           "DEFAULT_TARGET_QUALITY", "predict_quality"]

#: The SSIMULACRA2 score ``quality="auto"`` aims at unless told otherwise: "high quality,
#: hard to notice artefacts without comparing with the original".
DEFAULT_TARGET_QUALITY = 70.0

# Median SSIMULACRA2 score at each encoder quality on the 24 Kodak photos (768x512), per format:
# (quality, score) knots, interpolated linearly; measured with the encoders of
# :mod:`~compress_core.codec.encoders` (JPEG: jpegli 4:2:0 without the scan optimisation, which
# keeps the pixels; AVIF: libaom tuned for SSIMULACRA2, which reaches a score at a quality ~14
# lower than libavif's default tuning).
_CURVE = {
    ImageFormat.JPEG: ((20, 41.1), (25, 48.0), (30, 51.7), (35, 53.4), (40, 55.6), (45, 57.4),
                       (50, 59.2), (55, 61.7), (60, 63.8), (65, 66.9), (70, 69.3), (75, 72.1),
                       (80, 75.1), (85, 78.8), (90, 83.2), (95, 88.4), (99, 92.7)),
    ImageFormat.WEBP: ((20, 35.8), (30, 44.6), (40, 52.6), (50, 58.1), (60, 62.3), (70, 66.7),
                       (80, 73.7), (90, 83.9), (95, 87.8), (99, 90.2)),
    ImageFormat.AVIF: ((20, 21.8), (30, 40.3), (40, 55.3), (50, 68.0), (60, 76.0), (70, 80.6),
                       (80, 85.0), (90, 88.8), (95, 90.9), (99, 91.9)),
    ImageFormat.JXL: ((20, 29.2), (30, 43.3), (40, 48.8), (50, 54.8), (60, 61.5), (70, 68.8),
                      (80, 76.5), (90, 86.0), (95, 91.1), (99, 95.6)),
}
# Median log-size at each encoder quality on 8 Kodak photos (every third) at 768x512 and
# 384x256, relative to the format's default quality: (quality, log(bytes / bytes at the default))
# knots, interpolated linearly. Every photo lay within 0.3 of the median (JPEG XL's dip at
# quality 20 smoothed out). :func:`fit_budget` reads its next quality along this curve.
_SIZE_CURVE = {
    ImageFormat.JPEG: ((1, -2.02), (5, -1.86), (10, -1.65), (15, -1.45), (20, -1.26),
                       (25, -1.10), (30, -1.01), (35, -0.96), (40, -0.91), (45, -0.85),
                       (50, -0.79), (55, -0.72), (60, -0.63), (65, -0.54), (70, -0.43),
                       (75, -0.31), (80, -0.18), (85, 0.0), (90, 0.26), (95, 0.67),
                       (100, 1.36)),
    ImageFormat.WEBP: ((1, -2.07), (5, -1.71), (10, -1.46), (15, -1.28), (20, -1.13),
                       (25, -1.02), (30, -0.89), (35, -0.80), (40, -0.71), (45, -0.63),
                       (50, -0.56), (55, -0.49), (60, -0.42), (65, -0.36), (70, -0.29),
                       (75, -0.21), (80, 0.0), (85, 0.22), (90, 0.52), (95, 0.90),
                       (100, 1.23)),
    ImageFormat.AVIF: ((1, -2.61), (5, -2.46), (10, -2.25), (15, -2.05), (20, -1.74),
                       (25, -1.54), (30, -1.32), (35, -1.11), (40, -0.86), (45, -0.59),
                       (50, -0.37), (55, -0.12), (60, 0.0), (65, 0.16), (70, 0.27),
                       (75, 0.38), (80, 0.56), (85, 0.79), (90, 0.98), (95, 1.26),
                       (100, 1.69)),
    ImageFormat.JXL: ((1, -2.10), (5, -1.89), (10, -1.64), (15, -1.42), (20, -1.32),
                      (25, -1.22), (30, -1.10), (35, -1.04), (40, -0.97), (45, -0.89),
                      (50, -0.81), (55, -0.71), (60, -0.60), (65, -0.47), (70, -0.34),
                      (75, -0.18), (80, 0.0), (85, 0.21), (90, 0.49), (95, 0.88),
                      (100, 2.04)),
}
# Bytes of a format's encoding that do not depend on the picture (headers, JPEG's tables): the
# size of a flat 8x8 grey picture at any quality. Taken off before the size curve is read, so
# that it fits small pictures too (a 150x100 AVIF is a third header).
_OVERHEAD = {ImageFormat.JPEG: 265, ImageFormat.WEBP: 44, ImageFormat.AVIF: 300,
             ImageFormat.JXL: 54}
# Qualities whose encoding is smaller than those just under them (JPEG XL: 8-15% smaller at
# 19 than at 18 on Kodak photos at 768 and 192 px, the encoder changing its mode there): where
# the search's bracket ends under one, that quality is tried too, and the search goes on above
# it where it fits (a budget of 19,703 B on kodim01 ended at quality 14, SSIMULACRA2 4.5, where
# quality 20 fits at 23.7).
_SIZE_DIPS = {ImageFormat.JXL: (19,)}
# Encodes after which :func:`fit_budget` only halves its bracket (a flat or tiny picture, far
# from the curve, then ends in about a binary search's count).
_CURVE_STEPS = 6
# Where the curve's guesses have missed twice, the lowest quality is tried next only if the last
# miss was this far over the budget (else the search halves on: kodim23 missed by 2.4% at
# quality 46, then quality 1 fitted, and the curve read from there took 11 encodes).
_FAR = 1.35
# Typical score points per quality step near the target (a fallback when two measured points
# on one side are flat).
_SLOPE = {ImageFormat.JPEG: 0.8, ImageFormat.WEBP: 0.6, ImageFormat.AVIF: 0.8,
          ImageFormat.JXL: 1.0}
_MARGIN = 0.5  # each step aims this many points above the target ...
_TOLERANCE = 1.5  # ... and a passing encoding at most this far above it is kept,
_SAVING = 0.03  # unless the secant from a failing one below promises more than 3% fewer bytes
_MAX_ENCODES = 6
# A large JPEG's search starts where the same search over a sample of its tiles ends: a grid of
# up to _SAMPLE_GRID x _SAMPLE_GRID tiles of _SAMPLE_TILE pixels (2.4 megapixels), taken when the
# picture has at least _SAMPLE_FACTOR times the sample's pixels (about 9.4 megapixels: 12 MP
# phones and up). The median curve above, read at 768x512, started 24-megapixel photos at
# quality 73 where they needed 34-51: 3-4 full-size encodes (about a second each: encode,
# decode, score), against 1-2 from the sample's quality (BENCHMARKS.md, "Large photos").
_SAMPLE_TILE = 256
_SAMPLE_GRID = 6
_SAMPLE_FACTOR = 4
# The sample aims this far above the target (on 24-megapixel photos it scored 0.1-3.9 points
# above the whole picture at the same quality).
_SAMPLE_MARGIN = 0.5


def check_target_quality(target_score) -> float:
    """``target_score`` validated: a finite number in 0..100 (``ValueError`` / ``TypeError``)."""
    # any real number, as the size targets take (Decimal(70) was a TypeError where
    # scale=Decimal('0.5') passed)
    value = check_real(target_score, "target_quality",
                       "a number in 0..100 (a SSIMULACRA2 score)")
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise ValueError(f"target_quality must be a number in 0..100 (a SSIMULACRA2 score); "
                         f"got {target_score!r}")
    return value


def predict_quality(fmt, target_score: float) -> int:
    """The first quality :func:`encode_to_score` tries for ``target_score``: where the format's
    median score curve reaches the target plus a small margin."""
    fmt = require_encoder(fmt)
    return _along_curve(fmt, target_score + _MARGIN)


def _along_curve(fmt: ImageFormat, score: float, shift: float = 0.0) -> int:
    """The quality (rounded up, in range) where the median curve shifted up by ``shift`` points
    reaches ``score``."""
    knots = np.array(_CURVE[fmt], dtype=float)
    lo, hi, _ = QUALITY_RANGE[fmt]
    q = float(np.interp(score - shift, knots[:, 1], knots[:, 0]))
    return int(min(hi, max(lo, math.ceil(q - 1e-9))))


def _curve_shift(fmt: ImageFormat, quality: int, score: float) -> float:
    """How far above the median curve a measured (quality, score) point lies."""
    knots = np.array(_CURVE[fmt], dtype=float)
    return score - float(np.interp(quality, knots[:, 0], knots[:, 1]))


def encode_to_score(pixels: np.ndarray, fmt, target_score: float,
                    icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None, *,
                    xmp: Optional[bytes] = None, iptc: Optional[bytes] = None
                    ) -> Tuple[bytes, Optional[int], float]:
    """The smallest encoding of ``pixels`` whose SSIMULACRA2 score reaches ``target_score``.

    Parameters
    ----------
    pixels : ndarray, uint8 (H, W, 3|4)
    fmt : {"jpeg", "webp", "avif", "jxl", "png"}
        A concrete format. PNG is lossless: its one encoding scores 100.
    target_score : float
        SSIMULACRA2 score to reach, 0..100 (:data:`DEFAULT_TARGET_QUALITY` is 70).
    icc_profile, exif, xmp, iptc : bytes, optional
        Written into every candidate where the format stores them (:func:`encode`; they count
        in its size).

    Returns
    -------
    data : bytes
    quality : int or None
        The encoder quality used (None for PNG).
    score : float
        The SSIMULACRA2 score of ``data`` (decoded) against ``pixels``; at least the target.

    Raises
    ------
    ValueError, TypeError
        Bad format or target, or ``pixels`` that are not uint8 RGB(A).
    EncoderUnavailableError
        The format's optional package is missing.
    TargetUnreachableError
        Even the format's highest quality scores below the target, also without chroma
        subsampling (JPEG, AVIF; WebP and JPEG XL turn lossless instead, quality None);
        ``exc.best`` holds ``(data, quality, score)`` of the best encoding tried (what
        ``compress()`` writes then, with its score).
    """
    target = check_target_quality(target_score)
    check_rgb8(pixels)
    fmt = require_encoder(fmt)
    if fmt is ImageFormat.AUTO:
        raise ValueError("encode_to_score() needs a concrete format; resolve 'auto' first")
    meta = attached_for(fmt, icc_profile, exif, xmp, iptc)
    if fmt not in QUALITY_RANGE:
        return encode(pixels, fmt, **meta), None, 100.0
    pixels = flatten_for(pixels, fmt)  # once, not at every encode (JPEG of RGBA)
    if fmt is ImageFormat.JXL and icc_profile:
        # JPEG XL stores sRGB (the encoder converts): score against that, convert once
        pixels, meta["icc_profile"] = jxl_srgb(pixels, icc_profile), None
    # scored as viewers show it: through the profile the encoding carries
    reference = Reference(pixels, meta["icc_profile"])
    sample = _tile_sample(pixels) if fmt is ImageFormat.JPEG else None  # see _first_quality
    sample = None if sample is None else (sample, Reference(sample, meta["icc_profile"]))
    try:
        return _search(pixels, fmt, target, reference, meta, full_chroma=False, sample=sample)
    except TargetUnreachableError as first:
        if fmt in (ImageFormat.WEBP, ImageFormat.JXL):  # the way up is lossless
            data = encode(pixels, fmt, lossless=True, **meta)
            return data, None, reference.score(decode_pixels(data))
        if fmt not in (ImageFormat.JPEG, ImageFormat.AVIF):
            raise
        try:
            return _search(pixels, fmt, target, reference, meta, full_chroma=True,
                           sample=sample)
        except TargetUnreachableError as second:
            raise (second if second.best[2] > first.best[2] else first) from None
        except EncodingError:  # 4:4:4 goes through another encoder (Pillow's), which can
            raise first from None  # fail where the first did not


def _tile_sample(pixels: np.ndarray) -> Optional[np.ndarray]:
    """A grid of tiles spread evenly over a large picture, side by side in one array (their
    corners on the 16-pixel grid of JPEG's 4:2:0 blocks, so that JPEG codes each tile's blocks
    as it codes them in the picture); None where the picture is not :data:`_SAMPLE_FACTOR`
    times larger."""
    tile, (height, width) = _SAMPLE_TILE, pixels.shape[:2]
    rows, cols = min(_SAMPLE_GRID, height // tile), min(_SAMPLE_GRID, width // tile)
    if rows * cols == 0 or height * width < _SAMPLE_FACTOR * rows * cols * tile * tile:
        return None
    ys = np.linspace(0, (height - tile) // 16, rows).round().astype(int) * 16
    xs = np.linspace(0, (width - tile) // 16, cols).round().astype(int) * 16
    return np.concatenate([np.concatenate([pixels[y:y + tile, x:x + tile] for x in xs], axis=1)
                           for y in ys], axis=0)


def _first_quality(fmt, target, full_chroma, sample) -> int:
    """Where the search starts: on a large picture in JPEG, the quality the same search finds on
    ``sample``, a sample of its tiles (:func:`_tile_sample`) with its :class:`Reference`, for a
    slightly higher target; else (``sample`` None) the format's median curve
    (:func:`predict_quality`).

    JPEG codes each 8x8 block on its own, so a tile codes as it does in the picture. WebP does
    not: a sample of a 24-megapixel photo scored 15-18 points under the whole picture at the
    same quality (71 -> 53 at quality 77), and its search took 3 full-size encodes where the
    median curve took 1-2."""
    if sample is None:
        return predict_quality(fmt, target)
    aim = min(target + _SAMPLE_MARGIN, 100.0)
    try:
        tiles, tiles_reference = sample
        return _search(tiles, fmt, aim, tiles_reference, {}, full_chroma, finish=False)[1]
    except TargetUnreachableError as exc:  # the sample misses it even at the top quality
        return exc.best[1]


class AlphaDrafts:
    """Lossy WebP encodings of a picture with transparency, searched on fast drafts.

    libwebp codes a lossy WebP's alpha plane losslessly at the method's effort (method 6: 2.4
    of a 384x384 cut-out's 2.5 s per encode; a byte budget's search of it took 47 s: bytes
    review 40), the same plane at every quality, and the colour (its VP8 chunk) does not
    depend on how the alpha is coded: an encoding whose alpha is coded at its lowest quality
    (0.03 s) holds the same VP8 chunk (checked on cut-outs at qualities 10-90), its file
    shorter by a constant. So a search encodes drafts, sizes each by that constant (measured
    once, against one real encoding: :meth:`calibrate`), scores its colour under the picture's
    own alpha (which the real file holds exactly: :meth:`shown`), and encodes for real only
    what it keeps (:meth:`real`): the same decisions, the same bytes, two slow encodes instead
    of one a step. Where a real encoding is not its draft's size (another libwebp), the
    search is made again on real encodings."""

    def __init__(self, pixels: np.ndarray, meta: dict, full_chroma: bool = False):
        self._pixels, self._meta, self._full_chroma = pixels, meta, full_chroma
        self._real = {}   # quality -> the real encoding
        self.extra: Optional[int] = None   # the real file's bytes over its draft's

    @staticmethod
    def wanted(pixels: np.ndarray, fmt: ImageFormat) -> bool:
        """Whether ``fmt`` encodings of ``pixels`` are drafted: lossy WebP with transparency."""
        return fmt is ImageFormat.WEBP and has_transparency(pixels)

    def draft(self, quality: int) -> bytes:
        return encode(self._pixels, ImageFormat.WEBP, quality, full_chroma=self._full_chroma,
                      _draft_alpha=True, **self._meta)

    def real(self, quality: int) -> bytes:
        if quality not in self._real:
            self._real[quality] = encode(self._pixels, ImageFormat.WEBP, quality,
                                         full_chroma=self._full_chroma, **self._meta)
        return self._real[quality]

    def calibrate(self, quality: int, draft: bytes, real: Optional[bytes] = None) -> None:
        """The constant, from the real encoding at ``quality`` (``real``, where made
        already) and its ``draft``."""
        if real is not None:
            self._real[quality] = real
        self.extra = len(self.real(quality)) - len(draft)

    def size(self, draft: bytes) -> int:
        """The bytes of the real encoding of ``draft``."""
        return len(draft) + self.extra

    def shown(self, draft: bytes) -> np.ndarray:
        """What the real encoding of ``draft`` decodes to: its colour, the picture's alpha."""
        decoded = decode_pixels(draft)
        if decoded.ndim == 3 and decoded.shape[2] == 4:
            decoded = decoded.copy()
            decoded[..., 3] = self._pixels[..., 3]
        return decoded

    def kept(self, quality: int, draft: bytes) -> Optional[bytes]:
        """The real encoding of the draft a search keeps, or None where its size is not the
        draft's (the drafts do not hold for this encoder: search again on real ones)."""
        data = self.real(quality)
        return data if len(data) == self.size(draft) else None


def _search(pixels, fmt, target, reference, meta, full_chroma, finish=True, sample=None,
            drafts_ok=True):
    hi = QUALITY_RANGE[fmt][1]
    lo = lowest_quality(fmt, pixels)   # (a JPEG XL's transparency kept exact)
    if fmt is ImageFormat.JXL:
        hi = min(hi, 99)  # 100 is lossless, the fallback above
    seen = {}  # quality -> (score, data: a draft's, where drafts)
    carried = stored_bytes(fmt, meta)  # metadata bytes: the same at any quality
    drafts = (AlphaDrafts(pixels, meta, full_chroma)
              if drafts_ok and AlphaDrafts.wanted(pixels, fmt) else None)

    def evaluate(q: int) -> float:
        deadline.check("an encoding of the quality search")
        if drafts is None:
            data = encode(pixels, fmt, q, full_chroma=full_chroma, _scans=False, **meta)
            shown = decode_pixels(data)
        else:
            data = drafts.draft(q)
            if drafts.extra is None:
                drafts.calibrate(q, data)
            shown = drafts.shown(data)
        seen[q] = (reference.score(shown), data)
        return seen[q][0]

    def kept(q: int):
        """The encoding kept at ``q`` (a draft's real one); None: search again, no drafts."""
        data = seen[q][1]
        return _finish(fmt, data, finish) if drafts is None else drafts.kept(q, data)

    q = max(lo, min(hi, _first_quality(fmt, target, full_chroma, sample)))
    for _ in range(_MAX_ENCODES):
        evaluate(q)
        best_pass = min((k for k, (s, _) in seen.items() if s >= target), default=None)
        worst_fail = max((k for k, (s, _) in seen.items() if s < target
                          and (best_pass is None or k < best_pass)), default=None)
        if best_pass is not None and (best_pass == lo or worst_fail == best_pass - 1
                                      or _good_enough(seen, target, best_pass, worst_fail,
                                                      carried - (drafts.extra or 0)
                                                      if drafts else carried)):
            break
        if best_pass is None and worst_fail == hi:
            break
        q = _next_quality(fmt, seen, target, best_pass, worst_fail, lo, hi)
        if q in seen:
            break
    passing = [k for k, (s, _) in seen.items() if s >= target]
    if not passing:
        if hi not in seen:
            evaluate(hi)
        score, data = seen[hi]
        best = hi
    else:
        best = min(passing, key=lambda k: (len(seen[k][1]), k))
        score = seen[best][0]
    data = kept(best)
    if data is None:   # (a draft's real encoding of another size: no drafts)
        return _search(pixels, fmt, target, reference, meta, full_chroma, finish, sample,
                       drafts_ok=False)
    if score >= target:
        return data, best, score
    exc = TargetUnreachableError(
        f"target_quality={target:g} is above the best {fmt.value.upper()} encoding of "
        f"{pixels.shape[1]}x{pixels.shape[0]} pixels: quality {best} scores {score:.1f}")
    exc.best = (data, best, score)
    raise exc


def _finish(fmt: ImageFormat, data: bytes, finish: bool = True) -> bytes:
    """The encoding returned: JPEG's scans optimised (``finish``: not for a sample's)."""
    return optimize_scans(data) if finish and fmt is ImageFormat.JPEG else data


def _good_enough(seen, target, best_pass, worst_fail, carried: int = 0) -> bool:
    """Whether the passing encoding at ``best_pass`` is worth keeping without another step: at
    most :data:`_TOLERANCE` points above the target, and, when a failing quality lies below it,
    the secant between them promises at most :data:`_SAVING` fewer bytes of picture (the
    ``carried`` metadata bytes apart, so that the quality chosen does not depend on them)."""
    s_pass, data = seen[best_pass]
    if s_pass - target > tolerance(target):
        return False
    if worst_fail is None:
        return True
    s_fail, fail_data = seen[worst_fail]
    gap = 1.0 - max(len(fail_data) - carried, 1) / max(len(data) - carried, 1)
    return gap <= 0 or (s_pass - target) / max(s_pass - s_fail, 1e-9) * gap <= _SAVING


def tolerance(target: float) -> float:
    """How far above ``target`` a passing encoding is kept without another step:
    :data:`_TOLERANCE` up to a target of 70, then shrinking with the room left under 100 (the
    score's curve flattens there: at 90 a point cost 10-20% of the bytes, and the first
    encoding, kept at 0.9-1.4 points over, was up to 21% over the smallest passing one)."""
    return _TOLERANCE * min(1.0, max(100.0 - target, 0.0) / 30.0)


def _next_quality(fmt, seen, target, best_pass, worst_fail, lo, hi) -> int:
    """The next quality to try, aiming :data:`_MARGIN` above the target: secant inside the
    bracket (halving it where its failing end is the range's lowest quality, just reached by
    a long step); after one encode, the format's median curve shifted through the measured
    point; else the slope of the measured points.

    Two passing points on a flat stretch (a texture, a synthetic picture: 82 at quality 49
    and 88 at 73) extrapolate to quality 1, far under the aim (42 there); the secant from so
    low a score creeps down from the top a few qualities a step (brick in JPEG XL tried 36, 29,
    24 and kept 29, 25% larger than quality 21, which passes). Halving the bracket once
    instead ends within 2-9% of the smallest passing encoding on those pictures, in as many
    encodes (BENCHMARKS.md, "quality='auto': the search's steps")."""
    aim = target + _MARGIN
    if best_pass is not None and worst_fail is not None:
        s_pass, s_fail = seen[best_pass][0], seen[worst_fail][0]
        frac = (aim - s_fail) / (s_pass - s_fail) if s_pass > s_fail else 0.5
        if worst_fail == lo and next(reversed(seen)) == lo and len(seen) > 2:
            frac = 0.5   # (the range's end, just reached by a long step, and failing)
        q = worst_fail + frac * (best_pass - worst_fail)
        return int(min(best_pass - 1, max(worst_fail + 1, math.ceil(q))))
    if len(seen) == 1:
        (known, (score, _)), = seen.items()
        q = _along_curve(fmt, aim, _curve_shift(fmt, known, score))
    else:  # same side twice: the slope of the two outermost points
        a, b = min(seen), max(seen)
        slope = (seen[b][0] - seen[a][0]) / (b - a)
        slope = slope if slope > 0.05 else _SLOPE[fmt]
        base = best_pass if best_pass is not None else worst_fail
        q = math.ceil(base + (aim - seen[base][0]) / slope)
    if best_pass is not None:
        return int(max(lo, min(best_pass - 1, q)))
    return int(min(hi, max(worst_fail + 1, q)))


def fit_budget(pixels: np.ndarray, fmt, target_bytes: int, max_quality: Optional[int] = None,
               icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None,
               importance: Optional[np.ndarray] = None, *, xmp: Optional[bytes] = None,
               iptc: Optional[bytes] = None, _drafts: bool = True
               ) -> Tuple[bytes, Optional[int]]:
    """Largest quality (at most ``max_quality``) whose encoding is at most ``target_bytes``.

    ``max_quality`` first (1 encode when it fits); then the qualities read off the format's
    median size curve (:data:`_SIZE_CURVE`) through the sizes measured so far, until a fitting
    quality and the one above it that does not are known (:func:`_budget_quality`). On photos
    (12 Kodak photos at 768 and 192 px, budgets at qualities 5-82) that is 4.1 encodes on
    average in JPEG, 4.3 in WebP, 4.6 in AVIF (at most 7-8) and 4.8 in JPEG XL (at most 12),
    where a binary search takes 7-9. Two steps that land on one side of the answer are
    followed by one that halves the bracket, and from :data:`_CURVE_STEPS` encodes on every
    step does: a flat, tiny or noisy picture, far from the curve, takes up to 13 (a binary
    search 9). Where two of the curve's guesses are far over the budget, the lowest quality
    is tried next: a size that cannot fit is known after 2-4 encodes (a byte budget's search
    over smaller pixel sizes meets many such sizes; JPEG XL tries quality 19 as well).

    The search assumes that the size grows with the quality. Photos' sizes do, give or take
    a few per cent (WebP's and AVIF's by a few bytes), so the answer is the largest fitting
    quality or one a few per cent of bytes below it. JPEG XL's drop by 8-15% at quality 19
    (:data:`_SIZE_DIPS`): where the bracket ends under it, quality 19 is tried as well, and
    the search goes on above it where it fits (also where quality 1 does not: a picture of
    a few pixels is smaller at 19-21). Flat
    graphics' sizes jitter by a few bytes over the whole range (a grey 64x64 JPEG XL:
    62-77 bytes at qualities 1-80): the answer can be far below the largest fitting quality
    (which looks the same there), and a budget a few bytes above the smallest size can raise
    :class:`TargetUnreachableError` though some qualities fit (that picture at 62 bytes:
    qualities 13-17 do, quality 1 takes 63). Searching those would take 15-60 more encodes
    per miss and as many wherever nothing fits (measured on 8 pictures, every budget: 2 such
    misses in 6,000 searches, none for photos), so they are left. The result is never over
    budget. A JPEG XL output stores no ICC profile (its pixels are converted to sRGB, once
    here): the profile is not counted in the budget. A lossy WebP with transparency is
    searched on drafts (:class:`AlphaDrafts`; ``_drafts`` False: not), two slow encodes.

    ``importance`` (an (H, W) map, JPEG only): semantic allocation, every encoding tried with
    the small coefficients of its unimportant blocks dropped
    (:func:`compress_core.codec.semantic.requantize_jpeg`), so the budget buys a higher quality.

    Returns
    -------
    data : bytes
    quality : int or None (PNG)

    Raises
    ------
    ValueError, TypeError
        Bad format or quality, or ``pixels`` that are not uint8 RGB(A).
    TargetUnreachableError
        Even the lowest quality is larger than ``target_bytes`` (and no quality the search
        tried fits); ``exc.smallest_bytes`` holds the size at the lowest quality.
    """
    check_rgb8(pixels)
    fmt = require_encoder(fmt)
    meta = attached_for(fmt, icc_profile, exif, xmp, iptc)
    if fmt is ImageFormat.JXL and icc_profile:
        # JPEG XL stores sRGB (the encoder converts; the same bytes): converted once, and the
        # profile, which the file does not hold, not counted as carried bytes
        pixels, meta["icc_profile"] = jxl_srgb(pixels, icc_profile), None
    if fmt not in QUALITY_RANGE:
        data = encode(pixels, fmt, **meta)
        if len(data) > target_bytes:
            raise _unreachable(len(data), target_bytes, pixels, fmt, None)
        return data, None
    if importance is not None and fmt is not ImageFormat.JPEG:
        raise ValueError(f"importance (semantic allocation) applies to JPEG only; got "
                         f"format {fmt.value!r}")

    def encoded(quality: int) -> bytes:
        if importance is None:
            return encode(pixels, fmt, quality, **meta)
        return requantize_jpeg(encode(pixels, fmt, quality, _scans=False, **meta), importance)

    lo = lowest_quality(fmt, pixels)   # (a JPEG XL's transparency kept exact)
    hi = (check_quality(fmt, max_quality) if max_quality is not None
          else QUALITY_RANGE[fmt][2])
    hi = max(hi, lo)
    data = encoded(hi)
    if len(data) <= target_bytes:
        return data, hi
    drafts = (AlphaDrafts(pixels, meta) if _drafts and importance is None
              and AlphaDrafts.wanted(pixels, fmt) else None)
    if drafts is not None:
        drafts.calibrate(hi, drafts.draft(hi), real=data)

    def sized(quality: int) -> Tuple[bytes, int]:
        """An encoding at ``quality`` (a draft, where drafts) and its real size."""
        if drafts is None:
            found = encoded(quality)
            return found, len(found)
        found = drafts.draft(quality)
        return found, drafts.size(found)

    sizes = {hi: len(data)}  # quality -> bytes, of every encoding tried
    carried = stored_bytes(fmt, meta)  # metadata: the same at any quality
    best = None  # (data, quality) of the highest fitting quality
    fails = hi  # the lowest quality above it that does not fit
    dips = [d for d in _SIZE_DIPS.get(fmt, ()) if lo < d < hi]
    while True:
        q, sides = hi, []  # the quality tried last; whether each step fitted
        while (best[1] if best else lo - 1) < fails - 1:
            deadline.check("an encoding of the quality search")
            fits = best[1] if best else lo - 1
            if best is None and len(sizes) > 2 and sizes[fails] > _FAR * target_bytes:
                q = lo  # the curve's guesses far over the budget: is any quality that small?
            elif sides[-2:] in ([True, True], [False, False]) or len(sizes) >= _CURVE_STEPS:
                q = (fits + fails + 1) // 2  # the curve is off here: halve the bracket
            else:
                q = _budget_quality(fmt, sizes, target_bytes, fits, fails, carried,
                                    last_fit=q == fits)
            data, sizes[q] = sized(q)
            if sizes[q] <= target_bytes:
                best = (data, q)
            else:
                fails = q
            # (a bisection starts the count again: two steps read off the curve that land on
            # one side of the answer are followed by one that halves the bracket)
            sides = [] if sides[-2:] in ([True, True], [False, False]) else \
                sides + [sizes[q] <= target_bytes]
        dip = next((d for d in dips if (best is None or best[1] < d) and d not in sizes),
                   None)
        if dip is None:
            break
        data, sizes[dip] = sized(dip)  # a size that drops below the qualities under it: past
        if sizes[dip] > target_bytes:  # the bracket
            continue  # (the next dip, if any)
        best = (data, dip)
        fails = min(k for k, size in sizes.items() if k > dip and size > target_bytes)
    if best is None:  # the lowest quality was tried and did not fit
        raise _unreachable(sizes[lo], target_bytes, pixels, fmt, lo)
    if drafts is not None:
        data = drafts.kept(best[1], best[0])
        if data is None:   # (a draft's real encoding of another size: no drafts)
            return fit_budget(pixels, fmt, target_bytes, max_quality, icc_profile, exif,
                              importance, xmp=xmp, iptc=iptc, _drafts=False)
        best = (data, best[1])
    return best


def _budget_quality(fmt: ImageFormat, sizes: dict, target_bytes: int, fits: int, fails: int,
                    carried: int = 0, last_fit: bool = False) -> int:
    """The next quality :func:`fit_budget` tries, strictly between ``fits`` (the highest
    fitting quality so far, or one below the lowest) and ``fails`` (the lowest that does not
    fit): where the picture's log-size (less the ``carried`` metadata bytes and the format's
    headers, :data:`_OVERHEAD`) reaches the
    budget, read along the format's median curve (log-size is close to linear in the curve's
    coordinate) through the measured sizes at the bracket's ends: interpolated between the
    fitting and the failing size, else the curve shifted through the failing size. Rounded
    up after a step that fitted (``last_fit``; the next step then tends to fail and close the
    bracket from above), else down (it tends to fit)."""
    knots = np.array(_SIZE_CURVE[fmt], dtype=float)

    def log_size(size: int) -> float:
        return math.log(max(size - carried - _OVERHEAD[fmt], 1))

    aim = log_size(target_bytes)
    u_fail = float(np.interp(fails, knots[:, 0], knots[:, 1]))
    l_fail = log_size(sizes[fails])
    if fits in sizes:   # (else one below the lowest quality: nothing fitted yet)
        u_fit, l_fit = float(np.interp(fits, knots[:, 0], knots[:, 1])), log_size(sizes[fits])
        frac = (aim - l_fit) / (l_fail - l_fit) if l_fail > l_fit else 0.5
        u = u_fit + min(max(frac, 0.0), 1.0) * (u_fail - u_fit)
    else:
        u = u_fail - (l_fail - aim)
    q = float(np.interp(u, knots[:, 1], knots[:, 0]))
    q = math.ceil(q - 1e-9) if last_fit else math.floor(q + 1e-9)
    return int(min(fails - 1, max(fits + 1, q)))


def _unreachable(smallest: int, target: int, pixels, fmt, quality) -> TargetUnreachableError:
    q = "" if quality is None else f" at quality {quality}, the lowest"
    exc = TargetUnreachableError(
        f"target_bytes={target} is below the size of {pixels.shape[1]}x{pixels.shape[0]} "
        f"pixels as {fmt.value.upper()}{q}: {smallest} bytes")
    exc.smallest_bytes = smallest
    return exc
