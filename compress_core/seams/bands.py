"""Contours that carved seams leave in smooth gradients (:func:`seam_bands`).

Two output pixels side by side across the seams were ``g`` input pixels apart where ``g - 1``
seam pixels lay between them. In a smooth gradient (a sky that darkens towards the top, a
blurred background's soft highlight) they differ by what the input climbs over those ``g``
pixels: where seams bunch at one place the climb of many pixels is made in one junction, where
an even squeeze would spread it over the whole span. Along a run of such junctions the gradient
breaks into a contour, a line where the sky steps from one shade to the next, and it waves
where the seams switch rows between columns (kodim21's sky at 600x314: 55 horizontal seams, a
darker band with a wavy outline seen at 1x; kodim23's blurred leaves at 320x400: a soft
highlight cut sharp along a seam; visual review 34). Neither a stepped edge nor a bent line
(:mod:`.breaks`) is there: no edge is strong enough to count.

So a pair of output pixels one output pixel apart across the seams counts where (1) the input
between them is smooth: the luma's mean slope over the span and its slope at both ends under
:data:`SMOOTH_SLOPE`, and the neighbourhood's mean gradient under :data:`MASKING_ACTIVITY`
(texture hides a contour: the rapids and rocks of kodim14, a grass verge), and (2) the pair's
luma difference exceeds what an even spread of the seams around it (:data:`LOCAL_SPREAD` output
pixels on each side) would leave there by :data:`BAND_EXCESS` levels or more. Pairs that count
join into contours (neighbours along the seams, bridging up to two missing rows, and across
them within about two pairs' widths). A contour shows where its length along the seams, as a
share of the output's, times its median excess is :data:`VISIBLE_BAND` or more (a tenth of the
picture at 3 levels), and it is :data:`SHORTEST_BAND` output pixels long or more.

Measured (session 35, scratch scripts on the 280 thumbnails of ``bench_seam_breaks.py``'s 35
photos x 8 sizes, 215 of them carved): the contours seen at 1x score 0.43-1.86 (kodim21's sky
at 600x314, 512x288 and 320x180; kodim22's at 600x314; kodim23's blurred leaves at four
sizes), two faint ones at 2x 0.32 and 0.38 (kodim03: a cloud's edge at 400x100, the wall's soft
shadow at 256x256); those not seen at most 0.26 (chelsea's blurred corner, the dark foliage
behind kodim17's head, china's sky at 600x314). Without the masking, kodim14's rocks (0.50) and
the grass at kodim18's feet (0.39) counted, with nothing to see. (Set with the whole row's
spread; with the spread around each pair, kodim03's cloud no longer counts, and the edge of a
band of seams squeezing chelsea's blurred background 4 to 1 at 320x180 does, 0.35, with no
contour to see: BENCHMARKS.md, "Contours in smooth gradients".)
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

from .breaks import _oriented, _reduced_gray

__all__ = ["ShadeField", "shade_field", "seam_bands", "band_candidates", "BAND_EXCESS",
           "SMOOTH_SLOPE", "MASKING_ACTIVITY", "VISIBLE_BAND", "SHORTEST_BAND", "LOCAL_SPREAD"]

#: Luma levels by which a pair's difference exceeds an even spread's for it to count.
BAND_EXCESS = 2.0
#: Luma levels per input pixel under which the input is a smooth gradient, not an edge (the mean
#: slope between the pair and the slope at each end; Sobel over its weights' sum, after a
#: Gaussian of 1 field pixel).
SMOOTH_SLOPE = 2.0
#: Mean gradient magnitude (levels per input pixel, a Gaussian of 3 field pixels) of the
#: neighbourhood from which texture hides a contour: 0.3-0.6 in kodim21's and kodim22's skies,
#: about 1 in kodim23's blurred background, 2.6-6.5 in kodim14's rocks.
MASKING_ACTIVITY = 2.0
#: Share of the output's length along the seams times the contour's median excess (levels)
#: from which a contour shows. (0.4 was tried: chelsea's blurred background at 320x180, 0.35
#: with nothing to see, kept its 14 seams, but the bisection then left kodim21's sky at
#: 600x314 a residual band under 0.4, faint at 2x, with 27 seams instead of 20.)
VISIBLE_BAND = 0.3
#: Output pixels along the seams under which a contour is a blemish, not a line: it never shows
#: (and one that shows is longer than the policy's limit, MAX_SEAM_BREAKS, alone).
SHORTEST_BAND = 6.0
#: Output pixels on each side of a pair across which the seams' even spread is read.
LOCAL_SPREAD = 16
_ACTIVITY_SIGMA = 3.0


class ShadeField:
    """A box of a picture's luma, smoothed, at the picture's resolution or reduced by a whole
    ``factor`` (:func:`shade_field`), with its slope across the seams of one direction and its
    neighbourhoods' activity."""

    def __init__(self, luma: np.ndarray, origin: Tuple[int, int], factor: int, width: int,
                 vertical: bool):
        self.luma = luma
        self.origin = origin  # (top, left) of the box in the picture
        self.factor = int(factor)
        self.width = int(width)  # the whole picture's (it splits the flat indices)
        self.vertical = bool(vertical)  # the seams whose across the slope is read
        gy = ndimage.sobel(luma, axis=0)
        gx = ndimage.sobel(luma, axis=1)
        per_pixel = 8.0 * self.factor  # Sobel's weights, and field pixels to input pixels
        self.slope = np.abs(gx if vertical else gy) / per_pixel
        self.activity = ndimage.gaussian_filter(np.hypot(gx, gy) / per_pixel, _ACTIVITY_SIGMA)

    def box(self) -> Tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` of the picture the field covers."""
        top, left = self.origin
        h, w = self.luma.shape
        return left, top, left + w * self.factor, top + h * self.factor

    def read(self, y: np.ndarray, x: np.ndarray):
        """(luma, slope across the seams, activity) at picture positions (y, x): the luma
        interpolated, the others at the field pixel holding each position."""
        top, left = self.origin
        f = self.factor
        h, w = self.luma.shape
        fy = (y - top + 0.5) / f - 0.5
        fx = (x - left + 0.5) / f - 0.5
        luma = ndimage.map_coordinates(self.luma, [np.clip(fy, 0, h - 1), np.clip(fx, 0, w - 1)],
                                       order=1, mode="nearest")
        iy = np.clip((y - top) // f, 0, h - 1)
        ix = np.clip((x - left) // f, 0, w - 1)
        return luma, self.slope[iy, ix], self.activity[iy, ix]


def shade_field(pixels: np.ndarray, box: Optional[Tuple[int, int, int, int]] = None,
                factor: int = 1, vertical: bool = True) -> ShadeField:
    """The smoothed luma of ``pixels`` (uint8 (H, W, C) or (H, W)) inside ``box``
    (``(left, top, right, bottom)``; default: all of it), each side reduced ``factor`` times
    (block means, as :func:`~compress_core.seams.breaks.edge_field`), with its slope across
    ``vertical`` (or horizontal) seams."""
    pixels = np.asarray(pixels)
    height, width = pixels.shape[:2]
    left, top, right, bottom = (0, 0, width, height) if box is None else box
    gray, factor = _reduced_gray(pixels[top:bottom, left:right], factor)
    luma = ndimage.gaussian_filter(gray, 1.0, truncate=3.0)
    return ShadeField(luma, (top, left), factor, width, vertical)


class BandCandidates:
    """The pairs of a carve's output, one output pixel (``m`` pixels) apart across the seams,
    whose sources lie far enough apart for a band (their gap exceeds an even spread's by more
    than :data:`BAND_EXCESS` / :data:`SMOOTH_SLOPE` pixels: under that, no smooth slope climbs
    the excess), oriented as for vertical seams. The even spread is the seams' around the pair,
    :data:`LOCAL_SPREAD` output pixels on each side (the pair's own gap left out): seams spread
    evenly through a band of a gradient make it steeper, not stepped (a gradient whose rows were
    removed three in four had counted as a contour across the whole width: diff review 35)."""

    def __init__(self, source: np.ndarray, vertical: bool, scale: float, picture_width: int,
                 oriented=None):
        self.width = int(picture_width)
        self.source, coord = oriented or _oriented(source, vertical, picture_width)
        self.shape = h, w = coord.shape
        self.m = m = max(1, int(round(scale)))
        self.i = self.j = np.zeros(0, np.int64)
        self.gap = self.even = np.zeros(0, np.float32)
        if w <= m or h < 1:
            return
        gap = coord[:, m:] - coord[:, :-m]
        least = BAND_EXCESS / SMOOTH_SLOPE
        # (no spread is under m: the pairs read at all are a superset of those that count)
        i, j = np.nonzero(gap > m + least)
        gap = gap[i, j].astype(np.float32)
        # the seams around the pair spread evenly: what a pair m output pixels apart spans
        reach = LOCAL_SPREAD * m
        a, b = np.maximum(j - reach, 0), np.minimum(j + m + reach, w - 1)
        around = (b - a - m).astype(np.float32)
        spans = (coord[i, b] - coord[i, a]).astype(np.float32) - gap
        even = np.where(around > 0, spans / np.maximum(around, 1.0) * m, float(m))
        counts = gap > even + least
        self.i, self.j = i[counts], j[counts]
        self.gap, self.even = gap[counts], even[counts].astype(np.float32)

    def __bool__(self):
        return bool(len(self.i))

    def positions(self):
        """Picture positions ((y, x) of the first pixels, (y, x) of the second) of the pairs."""
        first = np.divmod(self.source[self.i, self.j].astype(np.int64), self.width)
        second = np.divmod(self.source[self.i, self.j + self.m].astype(np.int64), self.width)
        return first, second

    def box(self) -> Tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in the picture holding every pixel of the pairs."""
        (ya, xa), (yb, xb) = self.positions()
        ys, xs = np.concatenate([ya, yb]), np.concatenate([xa, xb])
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def band_candidates(source: np.ndarray, vertical: bool, scale: float, picture_width: int,
                    oriented=None) -> BandCandidates:
    """The pairs :func:`seam_bands` reads (see :class:`BandCandidates`)."""
    return BandCandidates(source, vertical, scale, picture_width, oriented)


def seam_bands(source: np.ndarray, shade: ShadeField, vertical: bool, scale: float,
               pairs: Optional[BandCandidates] = None) -> float:
    """The length, in output pixels along the seams, of the contours that carved seams leave in
    smooth gradients and that show (module docstring).

    Parameters
    ----------
    source : int (h, w)
        The input's flat index of every output pixel of the carve (before any resampling).
    shade : ShadeField
        The input's smoothed luma (:func:`shade_field`, made for the same ``vertical``),
        covering every pair's pixels.
    vertical : bool
        Whether the seams were vertical (columns removed).
    scale : float
        Input pixels per output pixel: the pairs are ``round(scale)`` pixels apart across the
        seams, a contour's length is counted in output pixels.
    pairs : BandCandidates, optional
        :func:`band_candidates` of the same source, if made already.
    """
    if shade.vertical != bool(vertical):
        raise ValueError("shade was made for the slope across the other seams' direction")
    if pairs is None:
        pairs = band_candidates(source, vertical, scale, shade.width)
    if not pairs:
        return 0.0
    (ya, xa), (yb, xb) = pairs.positions()
    luma_a, slope_a, activity_a = shade.read(ya, xa)
    luma_b, slope_b, activity_b = shade.read(yb, xb)
    climb = np.abs(luma_b - luma_a)
    smooth = ((climb < SMOOTH_SLOPE * pairs.gap) & (slope_a < SMOOTH_SLOPE)
              & (slope_b < SMOOTH_SLOPE) & (np.maximum(activity_a, activity_b)
                                            < MASKING_ACTIVITY))
    excess = climb * (1.0 - pairs.even / pairs.gap)
    counts = smooth & (excess >= BAND_EXCESS)
    i, j, excess = pairs.i[counts], pairs.j[counts], excess[counts]
    if not len(i):
        return 0.0
    # contours: the counted pairs joined along the seams (up to two missing rows bridged) and
    # across them (up to about two pairs' widths), on the box they lie in
    m = pairs.m
    i0, j0 = int(i.min()), int(j.min())
    grid = np.zeros((int(i.max()) - i0 + 1, int(j.max()) - j0 + 1), bool)
    grid[i - i0, j - j0] = True
    # (a box's dilation is two lines': 16 ms -> under 1 of a thumbnail's carve, the same)
    grown = ndimage.maximum_filter1d(grid.view(np.uint8), 3, axis=0, mode="constant")
    grown = ndimage.maximum_filter1d(grown, 2 * m + 1, axis=1, mode="constant").view(bool)
    labels, n = ndimage.label(grown, np.ones((3, 3), bool))
    which = labels[i - i0, j - j0]
    index = np.arange(1, n + 1)
    median = np.asarray(ndimage.median(excess, which, index))
    rows = (np.asarray(ndimage.maximum(i, which, index))
            - np.asarray(ndimage.minimum(i, which, index)) + 1)
    shows = (rows / pairs.shape[0] * median >= VISIBLE_BAND) & (rows >= SHORTEST_BAND * scale)
    return float(rows[shows].sum()) / scale
