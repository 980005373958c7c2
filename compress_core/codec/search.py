"""Quality searches: the largest quality under a byte budget, the smallest encoding at a score.

``target_bytes``: :func:`fit_budget` binary-searches the largest quality whose encoding fits;
:class:`~compress_core.errors.TargetUnreachableError` says when even the lowest quality is too
big (the caller then tries fewer pixels).

``quality="auto"``: :func:`encode_to_score` finds the smallest encoding whose SSIMULACRA2 score
(:mod:`compress_core.perceptual`) reaches a target, in a few encodes: the first quality is
predicted from the target (a per-format table fitted on the Kodak photos), each next one is
interpolated on the measured (quality, score) points (secant inside the bracket, a typical
slope outside it), and the search stops when the passing and failing qualities are adjacent.
When the top quality misses the target (chroma subsampling limits small saturated pictures), JPEG
and AVIF search again in 4:4:4, WebP and JPEG XL turn lossless. The reference's colour transform and
blurred moments are computed once per image; JPEG
candidates skip mozjpeg's scan optimisation, applied once to the encoding returned.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from .. import deadline
from ..errors import TargetUnreachableError
from ..options import ImageFormat
from ..perceptual import Reference
from .encoders import decode_pixels, encode, optimize_scans
from .formats import QUALITY_RANGE, check_quality, require_encoder

__all__ = ["fit_budget", "encode_to_score", "check_target_quality", "DEFAULT_TARGET_QUALITY",
           "predict_quality"]

#: The SSIMULACRA2 score ``quality="auto"`` aims at unless told otherwise: "high quality,
#: hard to notice artefacts without comparing with the original".
DEFAULT_TARGET_QUALITY = 70.0

# Median encoder quality reaching a SSIMULACRA2 score on the 24 Kodak photos (768x512), per
# format: (score, quality) knots, interpolated linearly (bench/bench_bytes.py --calibrate).
_PREDICTION = {
    ImageFormat.JPEG: ((30, 30), (50, 50), (60, 62), (70, 74), (80, 87), (90, 95)),
    ImageFormat.WEBP: ((30, 20), (50, 50), (60, 66), (70, 80), (80, 90), (90, 99)),
    ImageFormat.AVIF: ((30, 20), (50, 40), (60, 52), (70, 64), (80, 78), (90, 92)),
    ImageFormat.JXL: ((30, 30), (50, 50), (60, 62), (70, 74), (80, 84), (90, 94)),
}
# Typical score points per quality step near the target (used until two points are known).
_SLOPE = {ImageFormat.JPEG: 0.8, ImageFormat.WEBP: 0.6, ImageFormat.AVIF: 0.8,
          ImageFormat.JXL: 1.0}
_MAX_ENCODES = 6


def check_target_quality(target_score) -> float:
    """``target_score`` validated: a finite number in 0..100 (``ValueError`` / ``TypeError``)."""
    if isinstance(target_score, bool) or not isinstance(target_score, (int, float, np.integer,
                                                                       np.floating)):
        raise TypeError(f"target_quality must be a number in 0..100 (a SSIMULACRA2 score); "
                        f"got {target_score!r}")
    value = float(target_score)
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise ValueError(f"target_quality must be a number in 0..100 (a SSIMULACRA2 score); "
                         f"got {target_score!r}")
    return value


def predict_quality(fmt, target_score: float) -> int:
    """The first quality :func:`encode_to_score` tries for ``target_score``."""
    fmt = require_encoder(fmt)
    knots = np.array(_PREDICTION[fmt], dtype=float)
    lo, hi, _ = QUALITY_RANGE[fmt]
    q = float(np.interp(target_score, knots[:, 0], knots[:, 1]))
    return int(min(hi, max(lo, round(q))))


def _reference_pixels(pixels: np.ndarray, fmt: ImageFormat) -> np.ndarray:
    """What a decoder should show: JPEG flattens alpha over white before encoding."""
    if fmt is ImageFormat.JPEG and pixels.shape[2] == 4:
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        flat = pixels[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(np.rint(flat), 0, 255).astype(np.uint8))
    return pixels


def encode_to_score(pixels: np.ndarray, fmt, target_score: float,
                    icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None
                    ) -> Tuple[bytes, Optional[int], float]:
    """The smallest encoding of ``pixels`` whose SSIMULACRA2 score reaches ``target_score``.

    Parameters
    ----------
    pixels : ndarray, uint8 (H, W, 3|4)
    fmt : {"jpeg", "webp", "avif", "jxl", "png"}
        A concrete format. PNG is lossless: its one encoding scores 100.
    target_score : float
        SSIMULACRA2 score to reach, 0..100 (:data:`DEFAULT_TARGET_QUALITY` is 70).
    icc_profile, exif : bytes, optional
        Written into every candidate (they count in its size).

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
        Bad format or target.
    EncoderUnavailableError
        The format's optional package is missing.
    TargetUnreachableError
        Even the format's highest quality scores below the target, also without chroma
        subsampling (JPEG, AVIF; WebP and JPEG XL turn lossless instead, quality None);
        ``exc.best`` holds
        ``(data, quality, score)`` of the best encoding tried.
    """
    target = check_target_quality(target_score)
    fmt = require_encoder(fmt)
    if fmt is ImageFormat.AUTO:
        raise ValueError("encode_to_score() needs a concrete format; resolve 'auto' first")
    meta = dict(icc_profile=icc_profile, exif=exif)
    if fmt not in QUALITY_RANGE:
        return encode(pixels, fmt, **meta), None, 100.0
    reference = Reference(_reference_pixels(pixels, fmt))
    try:
        return _search(pixels, fmt, target, reference, meta, full_chroma=False)
    except TargetUnreachableError as first:
        if fmt in (ImageFormat.WEBP, ImageFormat.JXL):  # the way up is lossless
            data = encode(pixels, fmt, lossless=True, **meta)
            return data, None, reference.score(decode_pixels(data))
        if fmt not in (ImageFormat.JPEG, ImageFormat.AVIF):
            raise
        try:
            return _search(pixels, fmt, target, reference, meta, full_chroma=True)
        except TargetUnreachableError as second:
            raise (second if second.best[2] > first.best[2] else first) from None


def _search(pixels, fmt, target, reference, meta, full_chroma):
    lo, hi, _ = QUALITY_RANGE[fmt]
    if fmt is ImageFormat.JXL:
        hi = min(hi, 99)  # 100 is lossless, the fallback above
    seen = {}  # quality -> (score, data)

    def evaluate(q: int) -> float:
        deadline.check("an encoding of the quality search")
        data = encode(pixels, fmt, q, full_chroma=full_chroma, _scans=False, **meta)
        seen[q] = (reference.score(decode_pixels(data)), data)
        return seen[q][0]

    q = predict_quality(fmt, target)
    for _ in range(_MAX_ENCODES):
        evaluate(q)
        passing = [k for k, (s, _) in seen.items() if s >= target]
        failing = [k for k, (s, _) in seen.items() if s < target]
        best_pass = min(passing) if passing else None
        worst_fail = max((k for k in failing if best_pass is None or k < best_pass),
                         default=None)
        if best_pass is not None and (best_pass == lo or worst_fail == best_pass - 1):
            break
        if best_pass is None and worst_fail == hi:
            break
        q = _next_quality(seen, target, best_pass, worst_fail, lo, hi, _SLOPE[fmt])
        if q in seen:
            break
    passing = [k for k, (s, _) in seen.items() if s >= target]
    if not passing:
        if hi not in seen:
            evaluate(hi)
        score, data = seen[hi]
        if score >= target:
            return _finish(fmt, data), hi, score
        exc = TargetUnreachableError(
            f"target_quality={target:g} is above the best {fmt.value.upper()} encoding of "
            f"{pixels.shape[1]}x{pixels.shape[0]} pixels: quality {hi} scores {score:.1f}")
        exc.best = (_finish(fmt, data), hi, score)
        raise exc
    best = min(passing, key=lambda k: (len(seen[k][1]), k))
    score, data = seen[best]
    return _finish(fmt, data), best, score


def _finish(fmt: ImageFormat, data: bytes) -> bytes:
    return optimize_scans(data) if fmt is ImageFormat.JPEG else data


def _next_quality(seen, target, best_pass, worst_fail, lo, hi, slope) -> int:
    """The next quality to try: secant inside the bracket, else a step by the typical slope."""
    if best_pass is not None and worst_fail is not None:
        s_pass, s_fail = seen[best_pass][0], seen[worst_fail][0]
        frac = (target - s_fail) / (s_pass - s_fail) if s_pass > s_fail else 0.5
        q = worst_fail + frac * (best_pass - worst_fail)
        return int(min(best_pass - 1, max(worst_fail + 1, math.ceil(q))))
    known = sorted(seen)
    if len(known) >= 2:  # same side twice: the slope of the two nearest points
        a, b = known[0], known[-1]
        measured = (seen[b][0] - seen[a][0]) / (b - a)
        slope = measured if measured > 0.05 else slope
    if best_pass is not None:  # every point passes: step down
        q = best_pass - (seen[best_pass][0] - target) / slope
        return int(max(lo, min(best_pass - 1, math.floor(q))))
    q = worst_fail + (target - seen[worst_fail][0]) / slope
    return int(min(hi, max(worst_fail + 1, math.ceil(q) + 1)))


def fit_budget(pixels: np.ndarray, fmt, target_bytes: int, max_quality: Optional[int] = None,
               icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None
               ) -> Tuple[bytes, Optional[int]]:
    """Largest quality (at most ``max_quality``) whose encoding is at most ``target_bytes``.

    Returns
    -------
    data : bytes
    quality : int or None (PNG)

    Raises
    ------
    TargetUnreachableError
        Even the lowest quality is larger than ``target_bytes``; ``exc.smallest_bytes`` holds
        the size at the lowest quality.
    """
    fmt = require_encoder(fmt)
    meta = dict(icc_profile=icc_profile, exif=exif)
    if fmt not in QUALITY_RANGE:
        data = encode(pixels, fmt, **meta)
        if len(data) > target_bytes:
            raise _unreachable(len(data), target_bytes, pixels, fmt, None)
        return data, None
    lo, hi, default = QUALITY_RANGE[fmt]
    hi = check_quality(fmt, max_quality) if max_quality is not None else default
    data = encode(pixels, fmt, hi, **meta)
    if len(data) <= target_bytes:
        return data, hi
    best = None
    low_q = lo
    high_q = hi - 1
    smallest = None
    while low_q <= high_q:
        deadline.check("an encoding of the quality search")
        mid = (low_q + high_q) // 2
        candidate = encode(pixels, fmt, mid, **meta)
        if mid == lo:
            smallest = len(candidate)
        if len(candidate) <= target_bytes:
            best = (candidate, mid)
            low_q = mid + 1
        else:
            high_q = mid - 1
    if best is None:
        if smallest is None:
            smallest = len(encode(pixels, fmt, lo, **meta))
        raise _unreachable(smallest, target_bytes, pixels, fmt, lo)
    return best


def _unreachable(smallest: int, target: int, pixels, fmt, quality) -> TargetUnreachableError:
    q = "" if quality is None else f" at quality {quality}"
    exc = TargetUnreachableError(
        f"target_bytes={target} is below the smallest {fmt.value.upper()} encoding of "
        f"{pixels.shape[1]}x{pixels.shape[0]} pixels{q}: {smallest} bytes")
    exc.smallest_bytes = smallest
    return exc
