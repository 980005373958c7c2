"""What the hybrid policy measures on each carve it considers (:class:`StepMeter`): the
junctions where the seams step a strong edge and the points where they bend a line along them
(:mod:`.breaks`), and the contours they leave in smooth gradients (:mod:`.bands`), together."""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np

from ..energy.faces import union_box
from .bands import ShadeField, band_candidates, seam_bands, shade_field
from .breaks import (BEND_SPAN, EdgeField, _oriented, _Pairs, edge_field, field_factor,
                     seam_bends, seam_breaks)

__all__ = ["StepMeter"]

#: Picture pixels around the pairs' box, besides the straight run, that a field is made over
#: (per field pixel): the edge field's Gaussians' and Sobel's reach (3 + 8 + 1) and its border
#: (4); the shade field's Gaussians' and Sobel's (3 + 1 + 12). The box starts on the field's
#: grid of blocks (a multiple of its factor): inside the box either is then what a field of the
#: whole picture would be (a box one pixel off at factor 2 read other blocks' means, 7.6 levels
#: apart, and the count of one carve flipped between 0 and 4.35 with the box's edge: diff
#: review 35).
_FIELD_MARGIN = 16
#: A field is made over the whole picture where the box it must cover is this share of the
#: picture's area or more, and where a later carve's pairs reach beyond the box made (which is
#: then grown by half its longer side, were the whole picture more than that share): a field made
#: three times per thumbnail, over 85%, 97% and 98% of kodim03's working picture (the
#: bisection's carves reaching a little further each time), cost 0.25 s of the thumbnail's
#: 0.44 (session 40). Inside the box a field of the whole picture holds the same values, to
#: float32 rounding (1-2 ULPs of the luma's matrix product; the edges identical on 3,968
#: comparisons: diff review 40), and 186 thumbnails came out pixel-identical.
_WHOLE_SHARE = 0.5

Box = Tuple[int, int, int, int]


class _Covering:
    """A field of a picture made over the union of the boxes asked for so far, grown by the
    filters' reach, and made again, larger, when a later box reaches beyond it (or at another
    factor, when the scale asks for one)."""

    def __init__(self, make: Callable[[Box, int], object], shape: Tuple[int, int]):
        self._make, self._shape = make, shape
        self.made = None
        self._needed: Optional[Box] = None  # the boxes asked for so far
        self._factor: Optional[int] = None

    def covering(self, needed: Box, factor: int):
        height, width = self._shape
        # (within the picture: the pairs' boxes reach past it by a bend's span, and a box
        # past it was never covered, even by a field of the whole picture: made again at
        # each carve, three times per kodim03 thumbnail)
        needed = (max(0, needed[0]), max(0, needed[1]), min(width, needed[2]),
                  min(height, needed[3]))
        if factor != self._factor:
            self._needed = None
        if self._needed is None or union_box([needed, self._needed]) != self._needed:
            again = self._needed is not None
            if again:
                needed = union_box([needed, self._needed])
            grow = _FIELD_MARGIN * factor
            if again:   # (grown: a next carve is likely to reach further still)
                grow += max(needed[2] - needed[0], needed[3] - needed[1]) // 2
            left, top = max(0, needed[0] - grow), max(0, needed[1] - grow)
            right, bottom = min(width, needed[2] + grow), min(height, needed[3] + grow)
            if (right - left) * (bottom - top) >= _WHOLE_SHARE * width * height:
                left, top, right, bottom = 0, 0, width, height
            left, top = left - left % factor, top - top % factor
            # what the field holds as a field of the whole picture would: all but the
            # filters' reach inside the box's edges that are not the picture's (and at the
            # right and bottom, a last partial block, which the field leaves out)
            reach = _FIELD_MARGIN * factor
            covered = (left + reach if left else 0, top + reach if top else 0,
                       right - reach - factor if right < width else width,
                       bottom - reach - factor if bottom < height else height)
            self.made = self._make((left, top, right, bottom), factor)
            self._needed, self._factor = union_box([needed, covered]), factor
        return self.made


class StepMeter:
    """:func:`~.breaks.seam_breaks`, :func:`~.breaks.seam_bends` and :func:`~.bands.seam_bands`
    of the carves of one picture. Each field is made only where some pair of a carve could step
    or bend an edge (in 62 of 118 carved thumbnails none could step one; elsewhere the pairs'
    box was a median 13% of the picture) or leave a contour, and made again, larger, when a
    later carve's pairs reach beyond it."""

    def __init__(self, pixels: np.ndarray):
        self._pixels = pixels
        shape = pixels.shape[:2]
        self._edges = _Covering(lambda box, factor: edge_field(pixels, box, factor), shape)
        self._shades = {  # one for each seams' direction (the slope across them)
            vertical: _Covering(
                lambda box, factor, v=vertical: shade_field(pixels, box, factor, v), shape)
            for vertical in (True, False)}
        self._last_shade: Optional[ShadeField] = None

    @property
    def field(self) -> Optional[EdgeField]:
        """The edge field made so far (None before any carve whose pairs could step)."""
        return self._edges.made

    @property
    def shade(self) -> Optional[ShadeField]:
        """The shade field the last carve whose pairs could leave a contour was read on (None
        before any)."""
        return self._last_shade

    def __call__(self, source: np.ndarray, vertical: bool, scale: float) -> float:
        """The visible breaks of ``source`` (a carve of the meter's picture): junctions that
        step an edge and points that bend a line, both counted as at two input pixels per
        output pixel, plus the length in output pixels of the contours that show."""
        width = self._pixels.shape[1]
        oriented = _oriented(source, vertical, width)
        factor = field_factor(scale)
        total = 0.0
        steps = _Pairs(source, vertical, scale, width, oriented=oriented)
        bends = _Pairs(source, vertical, scale, width, span=BEND_SPAN, oriented=oriented)
        boxes = [pairs.box() for pairs in (steps, bends) if pairs]
        if boxes:
            field = self._edges.covering(union_box(boxes), factor)
            total += (seam_breaks(source, field, vertical, scale, steps)
                      + seam_bends(source, field, vertical, scale, bends))
        contours = band_candidates(source, vertical, scale, width, oriented)
        if contours:
            shade = self._shades[bool(vertical)].covering(contours.box(), factor)
            self._last_shade = shade
            total += seam_bands(source, shade, vertical, scale, contours)
        return total
