"""Encoding to a byte budget: the best candidate that fits ``target_bytes``.

Used by :meth:`compress_core.compressor.SemanticCompressor.compress` when ``target_bytes`` is
given: the encoder quality is searched per candidate pixel size
(:func:`compress_core.codec.fit_budget`), and candidates are compared on the quality metric.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import codec, deadline
from .colour import srgb_view
from .codec.encoders import attached_for, flatten_for, stored_bytes
from .codec.semantic import resize_map
from .errors import TargetUnreachableError
from .hybrid import resample
from .options import ImageFormat
from .quality import QualityMetric, score

__all__ = ["encode_to_budget"]

#: The step between two sizes tried when a byte budget needs fewer pixels (Lanczos, applied
#: to the retargeted image).
_BUDGET_STEP = 0.85
#: Sizes whose longer side is at most this many pixels are resampled from one copy of the
#: picture of :data:`_SMALL_SOURCE` px, not from the whole picture (a 24-megapixel photo took
#: 0.14-0.41 s a size for a dozen sizes of a few pixels that a budget no size meets tries:
#: 7 s where such a search took 3.5 s before it went below 8 px; diff review 51). Lanczos
#: in two steps of 8x and more: colours within 2 levels of one step's (with alpha, more only
#: where it is near 0, invisible over any ground); a candidate's bytes move by a few, and a
#: choice between sizes that score within the metric's noise at such sizes may flip. Pictures
#: of up to 512 px are resampled whole for every size, as before.
_SMALL_SIDE = 64
_SMALL_SOURCE = 512
#: A smaller size is skipped while even this share of its predicted smallest encoding is over
#: the budget. The prediction: the lowest quality's bytes at the last size that did not fit,
#: less the metadata, scaled by the pixel count. Pictures' bytes fall slower than their pixel
#: count (measured 0.96-2.1x the prediction over 1-9 steps of 0.85 on Kodak photos at 768 px
#: and 24 MP, JPEG and WebP), so a skipped size would not have fit either; without the skip a
#: 50 KB budget for a 24-megapixel photo tried 8 sizes that could not fit.
_SKIP_SHARE = 0.7
#: The search over sizes stops after this many fitting candidates in a row that score no
#: better than the best so far (see :func:`encode_to_budget`); one encoded below
#: :data:`_DIP_QUALITY` counts half.
_PATIENCE = 2
#: At the encoders' lowest qualities the score is not unimodal in the size: kodim01 at
#: 384 x 256 under 3,000 B as JPEG XL scored -14.3 at its full size (quality 4), -24.8 and
#: -22.7 at the next two sizes, 0.0 at half size (192 px, a reviewer's 24-px grid), and two
#: sizes in a row ended the search at the first (bytes review 38; it now goes on to 170 x 114
#: at quality 57, -4.1). Candidates encoded under this quality count half towards
#: :data:`_PATIENCE`. Against every 24-px step of width, on 8 Kodak photos x JPEG, WebP, JPEG
#: XL x 2,000 and 5,000 B at 384 x 256: the largest shortfall 16.0 -> 4.9 points (mean 1.20 ->
#: 0.91) for 6.73 candidates a search instead of 6.52; 24 searches at 768 x 512 (JPEG, AVIF,
#: 15% and 35% of the default quality's bytes) 4.42 instead of 4.38, the same scores. A
#: patience of 3 for every candidate did as well on the small ones (4.1 points, 7.25
#: candidates) but cost 25% more candidates at 768 px (5.46) for +0.08 points of mean score.
_DIP_QUALITY = 20


def _size_factors(w: int, h: int) -> Tuple[float, ...]:
    """1, then :data:`_BUDGET_STEP` to the power 1, 2 ... down to the first factor that leaves
    the longer side one pixel: a budget fits if any size does. (The search stopped at 0.85 to
    the 29th, 4 px of a 512 px picture, and at the first size of 8 px or less that missed: a
    PNG of the astronaut under 200 bytes was refused as "280 bytes at the smallest" where
    5 x 5 takes 182; fuzz review 51.) The smallest sizes are made from a small copy
    (:data:`_SMALL_SIDE`), and encode in milliseconds."""
    factors, factor = [1.0], 1.0
    while max(w, h) * factor >= 1.5:   # (the longer side still rounds above one pixel)
        factor *= _BUDGET_STEP
        factors.append(factor)
    return tuple(factors)


def encode_to_budget(pixels: np.ndarray, fmt: ImageFormat, target_bytes: int,
                     max_quality: Optional[int], quality_metric: QualityMetric, *,
                     icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None,
                     xmp: Optional[bytes] = None, iptc: Optional[bytes] = None,
                     allow_resize: bool = True, importance: Optional[np.ndarray] = None,
                     keep_size: bool = False
                     ) -> Tuple[bytes, Optional[int], np.ndarray, float]:
    """Best candidate that fits ``target_bytes``: quality search, then fewer pixels.

    Candidates are the retargeted image and Lanczos downscales of it by 0.85**k; each gets
    the highest quality that fits, and the one scoring best on ``quality_metric`` (against
    the retargeted image) wins. From the largest size that fits, the search goes on to
    smaller ones while the score rises, and stops after two in a row that score no better
    than the best (the score is nearly unimodal in the size, but dips at the encoders' lowest
    qualities: a candidate under quality 20 counts half, :data:`_DIP_QUALITY`),
    or at the first candidate that fits at full quality. A tight budget's best size can lie
    many steps below the first that fits; the search used to stop at the third fitting
    size.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (H, W, C)
        The retargeted image.
    fmt : ImageFormat
        A resolved output format.
    target_bytes : int
        The byte budget.
    max_quality : int, optional
        Highest encoder quality tried (default: the format's default quality).
    quality_metric : QualityMetric
        How fitting candidates are compared.
    icc_profile, exif, xmp, iptc : bytes, optional
        Metadata written into every candidate where the format stores it
        (:func:`compress_core.codec.encode`).
    allow_resize : bool
        False: only ``pixels`` at its own size (``method="jpeg"``).
    keep_size : bool
        The size is the caller's (an exact size or a scale): the first size that fits wins,
        ``pixels``' own wherever it fits at some quality (a 226 x 150 chelsea under 4,000
        bytes fit at quality 59, and a better-scoring 192 x 128 was written without a word).
    importance : ndarray (H, W), optional
        JPEG only: ``allocation="semantic"``, every candidate encoding with the small
        coefficients of its unimportant blocks dropped
        (:func:`compress_core.codec.semantic.requantize_jpeg`); the map is resampled
        (bilinear) for the smaller candidates.

    Returns
    -------
    data : bytes
    quality : int or None
        The encoder quality used (None for formats without one).
    pixels : ndarray
        The candidate that was encoded.
    score : float
        Its ``quality_metric`` score against ``pixels`` (the one it was chosen by; results
        record it where the metric is SSIMULACRA2: a budget output scoring 9 said nothing).

    Raises
    ------
    TargetUnreachableError
        No candidate fits; the message gives the smallest encoding found.
    """
    meta = attached_for(fmt, icc_profile, exif, xmp, iptc)
    top_quality = max_quality if max_quality is not None else codec.default_quality(fmt)
    h, w = pixels.shape[:2]
    carried = stored_bytes(fmt, meta)  # (what every candidate holds)
    # scored against what a decoder shows: a JPEG XL holds its pixels converted to sRGB, a
    # JPEG a transparent picture over white (against the transparent picture itself, scored
    # over a dark and a light ground, its JPEGs scored -65 to -151 where they score 45-84 over
    # white, and the wrong scores chose the size)
    reference = (codec.encoders.jxl_srgb(pixels, icc_profile)
                 if fmt is ImageFormat.JXL and icc_profile else flatten_for(pixels, fmt))
    # and as sRGB through the profile the others carry (Adobe RGB's values read as sRGB had
    # scored 1-3.7 points above what viewers show: colour review 26)
    shown = None if fmt is ImageFormat.JXL else srgb_view(icc_profile)
    if shown is not None:
        reference = shown(reference)
    best = None
    worse = 0  # fitting candidates since the best one
    smallest = None
    missed = None  # (pixels, lowest quality's bytes) of the last size that did not fit
    last_size = None
    small = None   # (the picture at _SMALL_SOURCE px, made once where a size needs it)
    for factor in (_size_factors(w, h) if allow_resize else (1.0,)):
        cw, ch = max(1, int(round(w * factor))), max(1, int(round(h * factor)))
        if (cw, ch) == last_size:
            continue
        if best is None and missed is not None and max(cw, ch) > 8:
            area, lowest = missed
            predicted = carried + (lowest - carried) * (cw * ch) / area
            if predicted * _SKIP_SHARE > target_bytes:
                continue  # cannot fit either (see _SKIP_SHARE)
        last_size = (cw, ch)
        deadline.check("a byte-budget candidate")
        if factor == 1.0:
            candidate = pixels
        elif max(cw, ch) <= _SMALL_SIDE and max(w, h) > _SMALL_SOURCE:
            if small is None:
                shrink = _SMALL_SOURCE / max(w, h)
                small = resample(pixels, max(1, round(w * shrink)), max(1, round(h * shrink)))
            candidate = resample(small, cw, ch)
        else:
            candidate = resample(pixels, cw, ch)
        try:
            data, q = codec.fit_budget(
                candidate, fmt, target_bytes, top_quality, **meta,
                importance=None if importance is None else resize_map(importance, cw, ch))
        except TargetUnreachableError as exc:
            smallest = exc.smallest_bytes if smallest is None else min(smallest, exc.smallest_bytes)
            missed = (cw * ch, exc.smallest_bytes)
            if best is not None:
                break
            continue
        full_quality = q is None or q >= (top_quality or 0)
        decoded = codec.decode_pixels(data)
        value = score(decoded if shown is None else shown(decoded), reference, quality_metric)
        if best is None or value > best[0]:
            best, worse = (value, data, q, candidate), 0
        else:   # (a candidate at the encoder's lowest qualities may be a dip: it counts half)
            worse += 1 if q is None or q >= _DIP_QUALITY else 0.5
        if full_quality or keep_size or worse >= _PATIENCE:
            break
    if best is None:
        exc = TargetUnreachableError(
            f"target_bytes={target_bytes} cannot be met: the smallest {fmt.value.upper()} "
            f"encoding found is {smallest} bytes"
            + ("" if allow_resize else f" at {w}x{h} (method='jpeg' does not resize)")
            + (f"; every candidate carries the input's metadata ({carried} bytes; "
               f"metadata='none' drops it)" if carried else ""))
        exc.smallest_bytes = smallest
        raise exc
    return best[1], best[2], best[3], float(best[0])
