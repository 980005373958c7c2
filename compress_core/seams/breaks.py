"""Edges that carved seams break (:func:`seam_breaks`).

A seam keeps the order of what it leaves, but not every neighbour: two output pixels ``m`` apart
along a row were ``m + g`` apart in the input where ``g`` seam pixels lay between them, and two
pixels ``m`` rows apart in one column come from columns ``d`` apart where the rows lost a
different number of pixels to their left. An edge that runs through such a pair is displaced
across itself there: a shallow edge (a saucer's rim, a slanted mortar line, a roof) through a
pair along a row by ``g * |n_x|``, a steep one through a pair down a column by ``d * |n_x|``
(``n_x``: the horizontal part of the edge's unit normal; rows and columns swap for horizontal
seams). Seams bunched in a flat region next to such an edge shift it by pixels at one place: a
step, which the eye sees on a line it can follow (vernier acuity), not in texture.

So a junction counts only where (1) the edge is strong and coherent (a structure tensor's
coherence: one line, not water, foliage or grain), (2) the edge, followed along its own line
across the removed pixels, goes on to the far side, (3) it runs straight, in the same
direction, for :data:`STRAIGHT_RUN` output pixels on both sides (not a knitted outline or a
fold that bends anyway), (4) the junction lies that far inside the output (a stub at the frame's
edge is no broken line), and (5) the step is :data:`VISIBLE_STEP` output pixels or more, with
pairs one output pixel apart (``m``: the resampling's scale, rounded) so that a step split over
neighbouring junctions counts whole.

The junctions are counted as at two input pixels per output pixel (a thumbnail's working
picture; each step is a band of junctions whose count grows with the square of the scale), on a
field made at about that resolution (:func:`field_factor`), only from the pairs whose sources lie
far enough apart to step anything: a 9:16 story or a 1920x1080 output of a camera photo pays
0.1-0.2 s for it, about a second where the policy gives seams up (BENCHMARKS.md).

A line that runs along the seams (a horizon under horizontal seams) is not stepped where they
cross it one at a time: each crossing moves it by one input pixel, under a visible step, and the
line descends in a staircase that the eye reads as a bent horizon. :func:`seam_bends` counts
the points of such a line, straight for :data:`BEND_SPAN` output pixels on both sides, displaced
across itself by :data:`VISIBLE_BEND` output pixels or more within :data:`BEND_SPAN` along it
(kodim06's horizon at 600x314, 14 horizontal seams: 19.5, where the junctions counted 2.4;
visual review 34). The policy counts both together, with the contours seams leave in smooth
gradients (:class:`~compress_core.seams.meter.StepMeter`).

Measured on 35 photos (the 24 Kodak photos, 9 of skimage's, 2 of scikit-learn's) x 4
aspect-changing thumbnail sizes, 118 of them carved (``bench/bench_seam_breaks.py``, session 32):
the outputs with 3 or more stepped junctions (4.7 to 24) are the ones where a step shows at 1x or
2x (coffee's saucer rim, brick's mortar lines, a roof's edge in kodim19, a wall's edge in
kodim03, the cup's rim at the top of a 320x180 coffee); those with 1 to 2 mix a faint step
(kodim03's wall at 256x256) with none to see (a knitted sleeve, a beach).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage

from ..energy.gradient import LUMA_WEIGHTS

__all__ = ["EdgeField", "edge_field", "field_factor", "seam_breaks", "seam_bends", "STRONG_EDGE",
           "EDGE_COHERENCE", "VISIBLE_STEP", "STRAIGHT_RUN", "BEND_SPAN", "VISIBLE_BEND"]

#: Gradient (luma levels per pixel, Sobel over its weights' sum, after a Gaussian of 1 px) from
#: which an edge is strong enough for a step in it to show.
STRONG_EDGE = 8.0
#: Coherence of the structure tensor (over a Gaussian of :data:`_COHERENCE_SIGMA`) from which an
#: edge is one line, not texture: 0 for isotropic texture, 1 for a straight edge.
EDGE_COHERENCE = 0.7
_COHERENCE_SIGMA = 4.0
#: Displacement of an edge at one junction, in output pixels, that a person sees as a step.
VISIBLE_STEP = 1.0
#: Length (output pixels) over which the edge must run on, straight, on both sides of a junction
#: for its step to count: the eye extends a rim or a mortar line across the step, not the
#: outline of a knitted sleeve, a ripple or a fold that bends within a few pixels anyway.
STRAIGHT_RUN = 6.0
#: The edge's normal at half and at the whole :data:`STRAIGHT_RUN` agrees with the junction's
#: this much (cosine): within about 25 degrees.
_SAME_DIRECTION = 0.9
#: A long line along the seams (a horizon under horizontal seams) is bent, not stepped, where
#: seams cross it one by one: each crossing moves it by a pixel, under :data:`VISIBLE_STEP`,
#: and the line descends in a staircase (kodim06's horizon, 600x314: 8 px down across the
#: frame's right half, seen at 1x: visual review 34). A bend counts where such a line, straight
#: for :data:`BEND_SPAN` output pixels on both sides of a point, is displaced across itself by
#: :data:`VISIBLE_BEND` output pixels or more between that point and one :data:`BEND_SPAN`
#: along it.
BEND_SPAN = 24.0
VISIBLE_BEND = 2.0
#: A line along the seams: its normal within 15 degrees of the seams' across (cosine). Lines
#: across the seams' direction at an angle are what the junctions above judge: a uniform
#: squeeze turns such a line, which no one sees as a bend.
_ALONG_SEAMS = 0.966
#: Pixels at the picture's border are not edges here (scanned frames and the pictures' own
#: borders are cut by any crop).
_BORDER = 4
_DIAGONAL = float(np.sqrt(0.5))


#: The field is made with about this many of its pixels per output pixel: the working picture's
#: own resolution for the outputs the policy makes (twice the output), where the thresholds
#: were set.
_FIELD_PER_OUTPUT = 2.0


@dataclass(frozen=True)
class EdgeField:
    """The strong, coherent edges of a box of a picture (:func:`edge_field`), made once per
    carve, at the picture's resolution or reduced by a whole ``factor``.

    Attributes
    ----------
    edge : bool (h, w)
        Pixels on a strong, coherent edge.
    normal_x, normal_y : float32 (h, w)
        The unit normal of each pixel's edge (its gradient's direction, signed).
    origin : (top, left)
        Where the box lies in the picture.
    factor : int >= 1
        Picture pixels per field pixel along each side.
    width : int
        The whole picture's width (it splits the flat indices :func:`seam_breaks` reads).
    """

    edge: np.ndarray
    normal_x: np.ndarray
    normal_y: np.ndarray
    origin: Tuple[int, int]
    factor: int
    width: int


def field_factor(scale: float) -> int:
    """The reduction :func:`edge_field` is made at for an output ``scale`` input pixels per
    output pixel across the seams: about :data:`_FIELD_PER_OUTPUT` field pixels per output
    pixel (1 for a thumbnail's working picture, and for every working picture the policy
    makes, twice the output). The thresholds hold at that resolution only: a field reduced
    twice as much for a 1920x1080 output of a 24-megapixel picture (a cap of 4 megapixels,
    session 32's first version) counted 66 stepped junctions in skimage's coffee where there
    are 5, and made the policy give up 131 of its brick's 150 seams, which step nothing."""
    return max(1, int(round(scale / _FIELD_PER_OUTPUT)))


#: Rows of the field worked out at a time (with :data:`_STRIP_MARGIN` more on each side): the
#: temporaries of a 10-megapixel box (about 7 float32 maps, 280 MB at once) stay near 50 MB.
_STRIP_ROWS = 512
_STRIP_MARGIN = 16  # the filters' reach: 3 (Gaussian of 1) + 1 (Sobel) + 8 (Gaussian of 4)


def _strip_edges(gray: np.ndarray):
    """(edge, normal_x, normal_y) of a strip of a picture's luma (float32)."""
    # (Gaussians cut at 3 and 2 sigmas: 35 -> 22 ms of CPU for a 768 x 512 working picture;
    # every temporary freed as soon as it is read)
    smooth = ndimage.gaussian_filter(gray, 1.0, truncate=3.0)
    gx = ndimage.sobel(smooth, axis=1)
    gy = ndimage.sobel(smooth, axis=0)
    del smooth
    gx /= 8
    gy /= 8
    jxx = ndimage.gaussian_filter(gx * gx, _COHERENCE_SIGMA, truncate=2.0)
    jyy = ndimage.gaussian_filter(gy * gy, _COHERENCE_SIGMA, truncate=2.0)
    jxy = ndimage.gaussian_filter(gx * gy, _COHERENCE_SIGMA, truncate=2.0)
    # coherence: sqrt((jxx - jyy)^2 + 4 jxy^2) / (jxx + jyy), in place
    trace = jxx + jyy
    jxx -= jyy
    del jyy
    np.square(jxx, out=jxx)
    np.square(jxy, out=jxy)
    jxy *= 4
    jxx += jxy
    del jxy
    np.sqrt(jxx, out=jxx)
    coherent = jxx > EDGE_COHERENCE * trace
    coherent &= trace > 1e-6
    del jxx, trace
    magnitude = np.hypot(gx, gy)
    edge = coherent & (magnitude > STRONG_EDGE)
    np.maximum(magnitude, 1e-6, out=magnitude)
    gx /= magnitude
    gy /= magnitude
    return edge, gx, gy


def _reduced_gray(region: np.ndarray, factor: int):
    """(luma float32, the factor used) of ``region`` (uint8 (h, w, C) or (h, w)), each side
    reduced ``factor`` times (means of ``factor`` x ``factor`` blocks, 8-bit; a last partial
    block left out; at most the region's shorter side)."""
    if region.ndim == 3:
        region = region[..., 0] if region.shape[2] < 3 else region[..., :3]
    factor = max(1, min(int(factor), region.shape[0], region.shape[1]))
    if factor > 1:  # block means by Pillow (before the luma: a third of the work)
        h, w = region.shape[0] // factor, region.shape[1] // factor
        region = np.asarray(Image.fromarray(np.ascontiguousarray(region)).reduce(
            factor, box=(0, 0, w * factor, h * factor)))
    gray = region @ LUMA_WEIGHTS if region.ndim == 3 else region.astype(np.float32)
    return gray, factor


def edge_field(pixels: np.ndarray, box: Optional[Tuple[int, int, int, int]] = None,
               factor: int = 1) -> EdgeField:
    """The strong, coherent edges of ``pixels`` (uint8 (H, W, C) or (H, W)) inside ``box``
    (``(left, top, right, bottom)``; default: all of it), each side reduced ``factor`` times
    (means of ``factor`` x ``factor`` blocks, 8-bit; a last partial block is left out; at most
    the box's shorter side). Worked out in strips of rows: the same values as at once."""
    pixels = np.asarray(pixels)
    height, width = pixels.shape[:2]
    left, top, right, bottom = (0, 0, width, height) if box is None else box
    gray, factor = _reduced_gray(pixels[top:bottom, left:right], factor)
    h, w = gray.shape
    edge = np.zeros((h, w), bool)
    normal_x = np.empty((h, w), np.float32)
    normal_y = np.empty((h, w), np.float32)
    for y0 in range(0, h, _STRIP_ROWS):
        y1 = min(h, y0 + _STRIP_ROWS)
        a, b = max(0, y0 - _STRIP_MARGIN), min(h, y1 + _STRIP_MARGIN)
        strip = _strip_edges(gray[a:b])
        for whole, part in zip((edge, normal_x, normal_y), strip):
            whole[y0:y1] = part[y0 - a:y1 - a]
    n = _BORDER
    edge[:n] = edge[-n:] = False
    edge[:, :n] = edge[:, -n:] = False
    return EdgeField(edge=edge, normal_x=normal_x, normal_y=normal_y, origin=(top, left),
                     factor=int(factor), width=width)


def _oriented(source: np.ndarray, vertical: bool, picture_width: int):
    """``source`` oriented as for vertical seams (transposed for horizontal ones), and each
    pixel's position across the seams (its column in the picture: the rows stay; its row, for
    horizontal seams)."""
    source = np.asarray(source)
    if vertical:
        rows = source[:, :1] // picture_width
        return source, source - rows * picture_width
    source = source.T
    return source, source // picture_width


class _Pairs:
    """The pairs of a carve's output whose sources lie far enough apart to step an edge (a few
    hundred of the millions of a large output; every pair read the field in 5.8 s of a
    1920x1080 output's 9), oriented as for vertical seams (rows and columns swapped for
    horizontal ones): ``along``: ``m`` apart along a row, ``gap`` picture pixels removed
    between; ``across``: ``m`` rows apart down a column, their columns ``apart`` apart."""

    def __init__(self, source: np.ndarray, vertical: bool, scale: float, picture_width: int,
                 span: Optional[float] = None, oriented=None):
        self.vertical, self.width = bool(vertical), int(picture_width)
        # (``oriented``: :func:`_oriented` of the same source, worked out once for the steps'
        # pairs and the bends' of a carve: a pass over a 10-megapixel source each)
        self.source, coord = oriented or _oriented(source, vertical, picture_width)
        h, w = coord.shape
        # pairs one output pixel apart (``scale`` input pixels, at least 1): a step split
        # between two neighbouring junctions, each under the threshold, shows as one; with a
        # ``span`` (output pixels), the pairs of a bend, that far apart along lines down the
        # seams only (``across``), and straight as far on both sides
        self.step, self.run = VISIBLE_STEP * scale, STRAIGHT_RUN * scale
        apart_by = 1.0
        if span is not None:
            self.step, self.run, apart_by = VISIBLE_BEND * scale, span * scale, span
        self.m = m = max(1, min(int(round(apart_by * scale)), w - 1, h - 1))
        # a junction closer than the run to the output's border shows a stub of the edge, not
        # a line broken (a drape's fold in the corner of a portrait)
        r = int(np.ceil(self.run))
        empty = (np.zeros(0, np.int64),) * 3
        self.along = self.across = empty
        if w < 2:
            return
        need = int(np.ceil(self.step))  # (whole pixels: no float copy of a 10 MP array)
        j_end = min(w - r, w - m)
        if span is None and h - r > r and j_end > r:
            gap = coord[r:h - r, r + m:j_end + m] - coord[r:h - r, r:j_end] - m
            i, j = np.nonzero(gap >= need)
            self.along = (i + r, j + r, gap[i, j])
        i_end = min(h - r, h - m)
        if i_end > r and w - r > r:
            apart = np.abs(coord[r + m:i_end + m, r:w - r] - coord[r:i_end, r:w - r])
            i, j = np.nonzero(apart >= need)
            self.across = (i + r, j + r, apart[i, j])

    def __bool__(self):
        return bool(len(self.along[0]) or len(self.across[0]))

    def position(self, i, j):
        """(row, column) in the picture of output pixels (i, j), oriented as the pairs."""
        y, x = np.divmod(self.source[i, j].astype(np.int64), self.width)
        return (y, x) if self.vertical else (x, y)

    def box(self) -> Tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in the picture (not oriented) that every pixel the
        pairs' steps are judged on lies in: the pairs' own, grown by the straight run and the
        widest gap (where the edge is followed across it); not clipped."""
        grow = int(np.ceil(self.run)) + int(max(self.along[2].max(initial=0),
                                                 self.across[2].max(initial=0)))
        ys, xs = [], []
        for (i, j, _), (di, dj) in ((self.along, (0, self.m)), (self.across, (self.m, 0))):
            for a, b in ((i, j), (i + di, j + dj)):
                y, x = self.position(a, b)
                ys.append(y)
                xs.append(x)
        ys, xs = np.concatenate(ys), np.concatenate(xs)
        if not self.vertical:
            ys, xs = xs, ys
        return (int(xs.min()) - grow, int(ys.min()) - grow, int(xs.max()) + 1 + grow,
                int(ys.max()) + 1 + grow)


class _FieldReader:
    """An :class:`EdgeField` read at picture positions, oriented as the pairs (rows and
    columns swapped for horizontal seams)."""

    def __init__(self, field: EdgeField, vertical: bool):
        edge, ux, uy = field.edge, field.normal_x, field.normal_y
        (top, left), self.factor = field.origin, field.factor
        if not vertical:
            edge, ux, uy = edge.T, uy.T, ux.T
            top, left = left, top
        self.edge, self.ux, self.uy, self.top, self.left = edge, ux, uy, top, left

    def on_edge(self, y, x):
        """(on an edge, the normal's x, its y) at picture positions (y, x), rounded."""
        height, width = self.edge.shape
        y = (np.rint(y).astype(np.int64) - self.top) // self.factor
        x = (np.rint(x).astype(np.int64) - self.left) // self.factor
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        y, x = np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)
        return inside & self.edge[y, x], self.ux[y, x], self.uy[y, x]

    def straight(self, y, x, nx, ny, way, run: float, shares) -> np.ndarray:
        """The edge through (y, x) with normal (nx, ny) goes on along its tangent
        ``way * (-ny, nx)`` (x, y) in the same direction at each share of ``run`` pixels."""
        ok = np.ones(np.shape(y), bool)
        for share in shares:
            there, tx, ty = self.on_edge(y + way * share * run * nx, x - way * share * run * ny)
            ok &= there & (np.abs(tx * nx + ty * ny) > _SAME_DIRECTION)
        return ok


def _down_the_seams(read: _FieldReader, pairs: _Pairs, steep: float, shares) -> np.ndarray:
    """Whether each pair down a column (``pairs.across``) displaces an edge through its first
    pixel (the normal's part across the seams over ``steep``) by ``pairs.step`` or more: the
    edge (moving -n_y / n_x per row) goes on to the second's row, and runs straight at each
    share of ``pairs.run`` above the first and below the second."""
    i, j, apart = pairs.across
    (y, x), y2 = pairs.position(i, j), pairs.position(i + pairs.m, j)[0]
    here, nx, ny = read.on_edge(y, x)
    stepped = here & (np.abs(nx) > steep) & (apart * np.abs(nx) >= pairs.step)
    y, x, y2, nx, ny = y[stepped], x[stepped], y2[stepped], nx[stepped], ny[stepped]
    below = x - (y2 - y) * ny / nx
    up = np.where(nx >= 0, -1.0, 1.0)  # the tangent's way whose y decreases
    return (read.on_edge(y2, below)[0] & read.straight(y, x, nx, ny, up, pairs.run, shares)
            & read.straight(y2, below, nx, ny, -up, pairs.run, shares))


def seam_breaks(source: np.ndarray, field: EdgeField, vertical: bool, scale: float,
                pairs: Optional[_Pairs] = None) -> float:
    """Junctions where carved seams displace a strong, coherent edge by a visible step.

    A junction counts where its first pixel lies on an edge that goes on, in the input, to the
    far side of the junction (the edge's own line, followed across the removed pixels, meets an
    edge pixel there), runs straight for :data:`STRAIGHT_RUN` output pixels on both sides, and
    shows in the output displaced across itself by :data:`VISIBLE_STEP` output pixels or more.

    Parameters
    ----------
    source : int (h, w)
        Flat input index (``y * W + x``) of every pixel after carving (and cropping).
    field : EdgeField
        :func:`edge_field` of the input, or of a box of it (no edge outside the box).
    vertical : bool
        Vertical seams (columns removed) or horizontal ones (rows removed).
    scale : float > 0
        Input pixels per output pixel across the seams (the final resampling's).

    Returns
    -------
    float
        Junctions whose edge moves by :data:`VISIBLE_STEP` output pixels or more, counted as at
        two input pixels per output pixel (times ``(2 / scale) ** 2``): the same steps count
        the same at any working size.
    """
    if pairs is None:
        pairs = _Pairs(source, vertical, scale, field.width)
    if not pairs:
        return 0.0
    read, run, m, shares = _FieldReader(field, vertical), pairs.run, pairs.m, (0.5, 1.0)
    # along a row: a shallow edge through the first (rising -n_x / n_y per column) steps by
    # gap * |n_x| where it reaches the second's column; straight to the left of the first, and
    # to the right of where it reaches
    i, j, gap = pairs.along
    (y, x), x2 = pairs.position(i, j), pairs.position(i, j + m)[1]
    here, nx, ny = read.on_edge(y, x)
    stepped = here & (np.abs(nx) <= _DIAGONAL) & (gap * np.abs(nx) >= pairs.step)
    y, x, x2, nx, ny = y[stepped], x[stepped], x2[stepped], nx[stepped], ny[stepped]
    far = y + (x2 - x) * (-nx / ny)
    left_way = np.where(ny >= 0, 1.0, -1.0)  # the tangent's way whose x decreases
    along = (read.on_edge(far, x2)[0] & read.straight(y, x, nx, ny, left_way, run, shares)
             & read.straight(far, x2, nx, ny, -left_way, run, shares))
    # down a column: a steep edge through the first steps by apart * |n_x|
    across = _down_the_seams(read, pairs, _DIAGONAL, shares)
    # counted as at two input pixels per output pixel, where the thresholds were set: each
    # step is a band of junctions whose count grows with the square of the scale (921 at
    # 1920 px for a 160 x 120 output, where a 448 px copy of the same carve counts a few)
    return float(along.sum() + across.sum()) * (_FIELD_PER_OUTPUT / scale) ** 2


def seam_bends(source: np.ndarray, field: EdgeField, vertical: bool, scale: float,
               pairs: Optional[_Pairs] = None) -> float:
    """Points where carved seams bend a long line that runs along them: the line (its normal
    within 15 degrees of the seams' across), straight for :data:`BEND_SPAN` output pixels on
    both sides, is displaced across itself by :data:`VISIBLE_BEND` output pixels or more
    between the point and one :data:`BEND_SPAN` along it (a horizon under horizontal seams
    that cross it one at a time: no junction steps it visibly, the line descends).

    Parameters and the count as :func:`seam_breaks` (``pairs``: ``_Pairs`` made with
    ``span=BEND_SPAN``)."""
    if pairs is None:
        pairs = _Pairs(source, vertical, scale, field.width, span=BEND_SPAN)
    if not pairs:
        return 0.0
    bent = _down_the_seams(_FieldReader(field, vertical), pairs, _ALONG_SEAMS,
                           (0.25, 0.5, 0.75, 1.0))
    return float(bent.sum()) * (_FIELD_PER_OUTPUT / scale) ** 2
