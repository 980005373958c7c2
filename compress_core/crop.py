"""Smart crop: the exact best window of a given size over an energy map.

The window sums of every position come from one integral image (summed-area table), so the
search is O(H*W) and exact. Among windows within ``1e-9`` (relative) of the best sum, the one
whose centre is nearest the image centre wins, so flat images crop centrally.
A ``must_contain`` box (detected faces) restricts the search to windows that hold it whole; where
no window of the size can, to windows that lie inside it on the side where it is too large (so
the cut goes through the box as little as the size allows).
An optional centre prior (``center_weight``) trades energy for centrality: each window's score
is ``sum * (1 - center_weight * d)``, with ``d`` the window centre's distance from the image
centre normalised to [0, 1].

A banner (a target at least :data:`BANNER_ASPECT` times as wide as tall) keeps a band of the
picture, and in a band the tops of upright subjects are what name them: heads, roofs, a
rocket's nose. Its band may give up :data:`BANNER_RISE` of the best band's importance to stand
higher (``rise``; :func:`banner_rise`): the default maps are broad blobs over the subjects'
bodies, whose best band had held two macaws' chests and cut their eyes, the riders' bikes
without their helmets, a lighthouse without its lantern (visual review 38).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from .energy.base import as_energy_map
from .energy.faces import EYES_IN_CORE

__all__ = ["best_window", "window_sums", "integral_image", "smart_crop", "banner_rise"]

#: Targets at least this many times as wide as tall are banners (see the module notes).
BANNER_ASPECT = 2.0
#: The share of the best band's importance a banner's band may give up to stand higher.
#: Measured by eye on the 24 Kodak photos and six of scikit-image's and scikit-learn's at
#: 600x200 and 800x200 (visual review 38): at 0.03, 11 bands better (heads, roofs, masts,
#: sail tops whole), 2 worse (chelsea's nose at 600x200, a flower at kodim07's lower edge),
#: the rest the same; at 0.05 the bands rose further for no more heads. Taller targets keep
#: the best window: at 4:3 of a portrait photo, or 16:9 of a 3:2 one, the window holds most
#: of the subject, and rising had cut the hulls and crews under kodim09's and kodim10's sails.
BANNER_RISE = 0.03


def banner_rise(target: Tuple[int, int]) -> float:
    """:func:`best_window`'s ``rise`` for a target ``(width, height)``: :data:`BANNER_RISE`
    for a banner, else 0."""
    width, height = target
    return BANNER_RISE if width >= BANNER_ASPECT * height else 0.0


def integral_image(energy: np.ndarray) -> np.ndarray:
    """Summed-area table, shape (H+1, W+1), float64, with a zero first row and column."""
    h, w = energy.shape
    integral = np.zeros((h + 1, w + 1), dtype=np.float64)
    np.cumsum(np.cumsum(energy, axis=0, dtype=np.float64), axis=1, out=integral[1:, 1:])
    return integral


def window_sums(energy: np.ndarray, width: int, height: int, integral=None) -> np.ndarray:
    """Energy inside every ``width`` x ``height`` window, shape (H-height+1, W-width+1).

    ``out[y, x]`` is the sum of ``energy[y:y+height, x:x+width]`` (float64). Pass the
    :func:`integral_image` of ``energy`` to reuse it across window sizes.
    """
    h, w = energy.shape
    if integral is None and (height == h or width == w):
        # a window across the whole map slides one way: one line of sums, not a 2-D table
        # (at 24 megapixels 0.02 s instead of 0.4-0.8 s)
        along = 1 if height == h else 0
        line = np.zeros(energy.shape[along] + 1, dtype=np.float64)
        np.cumsum(energy.sum(axis=1 - along, dtype=np.float64), out=line[1:])
        size = width if along == 1 else height
        sums = line[size:] - line[:len(line) - size]
        return sums[None, :] if along == 1 else sums[:, None]
    if integral is None:
        integral = integral_image(energy)
    return (integral[height:, width:] - integral[:h - height + 1, width:]
            - integral[height:, :w - width + 1] + integral[:h - height + 1, :w - width + 1])


def _allowed_range(lo: int, hi: int, size: int, extent: int) -> Tuple[int, int]:
    """Window starts ``[first, last]`` (window ``size`` in ``[0, extent)``) keeping ``[lo, hi)``.

    When the span is larger than the window, the window stays inside the span.
    """
    if hi - lo <= size:
        first, last = hi - size, lo
    else:
        first, last = lo, hi - size
    first = min(max(first, 0), extent - size)
    last = min(max(last, 0), extent - size)
    return first, max(first, last)


def mask_box(mask: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """Bounding box ``(left, top, right, bottom)`` of a boolean mask's True pixels; None if
    there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def keep_boost(energy: np.ndarray) -> np.float32:
    """What a keep_mask pixel adds to ``energy`` when windows are chosen: more than the whole
    picture's importance, so the window that holds most of the mask wins (where none holds
    all of it; :func:`box_to_hold` makes it hold the mask's box where one can)."""
    return np.float32(10.0 * (float(np.max(energy)) + 1.0) * max(energy.shape))


def box_to_hold(kept: Optional[Tuple[int, int, int, int]],
                faces: Optional[Tuple[int, int, int, int]],
                window: Tuple[int, int],
                cores: Optional[Tuple[int, int, int, int]] = None,
                heads: Optional[Tuple[int, int, int, int]] = None,
                detected: Optional[Tuple[int, int, int, int]] = None,
                ) -> Optional[Tuple[int, int, int, int]]:
    """The box a crop window of ``window`` (width, height) must hold (``best_window``'s
    ``must_contain``): the box of the pixels the caller asked to keep, grown to the faces' box
    where one window holds both (what the caller asked for comes first); either alone when the
    other is None. On a side where the window cannot hold the faces' box (grown for the crops),
    the detector's boxes of the faces (``detected``, within it) take its place where it holds
    those: a window 13 rows short of the grown box had held only the cores and started at the
    brows, the spare rows going to the spacesuit below (edge review 35). Where it cannot hold
    those either, their ``cores`` (brows to mouth: :func:`compress_core.energy.faces.face_core`)
    take their place on that side (where it cannot hold those either, it stays inside them
    across, and holds its own height about the eyes, within them): a banner of a close-up face
    was held only somewhere inside the face, and the energy put it on the chin, without the
    eyes. Where the window holds the faces' box, or their detector's boxes, on a side, it holds
    as much of their ``heads`` (hair, chin: :func:`compress_core.energy.faces.heads_box`) as the
    room left by the caller's box and the faces allows there, shared two to one between the
    heads' top and bottom (left and right alike). Where it holds their cores but not their
    detector's boxes, it holds its own size of the detector's boxes about the cores, the chin
    before the forehead down (a crop through the forehead is the portrait's, through the chin
    a cut face), and as much on each side across: the energy had started such a window at the
    forehead's top, 20 of a face's 115 rows cut, with 18 of the suit's below the chin (diff
    review 35). Where the caller's box and the detector's boxes do not fit together, the
    cores are held with it, as before the detector's boxes were."""
    box = _held_box(kept, faces, window, cores, heads, detected)
    if detected is not None and kept is not None and faces is not None and box == kept:
        box = _held_box(kept, faces, window, cores, heads, None)
    return box


def _held_box(kept, faces, window, cores, heads, detected):
    """:func:`box_to_hold`, the detector's boxes taken where ``detected`` is given."""
    whole = []   # the sides on which the window holds the faces' box (then heads, below)
    if faces is not None and cores is not None:
        held = list(faces)
        for i in (0, 1):  # x, then y
            if faces[i + 2] - faces[i] <= window[i]:
                whole.append(i)
                continue
            if detected is not None and detected[i + 2] - detected[i] <= window[i]:
                held[i], held[i + 2] = detected[i], detected[i + 2]
                whole.append(i)
                continue
            lo, hi = cores[i], cores[i + 2]
            if i == 1 and hi - lo > window[1]:  # the window's height about the eyes, within
                eyes = lo + EYES_IN_CORE * (hi - lo)
                lo = min(max(lo, int(round(eyes - window[1] / 2.0))), hi - window[1])
                hi = lo + window[1]
            elif detected is not None:  # the window's size of the detector's boxes about them
                lo, hi = _towards(lo, hi, detected[i], detected[i + 2], window[i],
                                  (0, 1) if i == 1 else (1, 2))
            held[i], held[i + 2] = lo, hi
        faces = tuple(held)
    if kept is None or faces is None:
        box = faces if kept is None else kept
    else:
        union = (min(kept[0], faces[0]), min(kept[1], faces[1]), max(kept[2], faces[2]),
                 max(kept[3], faces[3]))
        if union[2] - union[0] > window[0] or union[3] - union[1] > window[1]:
            return kept
        box = union
    if heads is None or box is None or faces is None:
        return box
    held = list(box)     # the room left grown towards the heads (after the caller's box)
    for i in whole:
        held[i], held[i + 2] = _towards(box[i], box[i + 2], heads[i], heads[i + 2], window[i])
    return tuple(held)


def faces_one_window_holds(faces: Sequence[Tuple[Tuple[int, int, int, int], ...]],
                           window: Tuple[int, int],
                           shape: Tuple[int, int]) -> Tuple[list, list]:
    """The subjects' faces a crop window of ``window`` (width, height) in a picture of
    ``shape`` (H, W) holds, and the others (each face ``(box, core, whole, ...)``, boxes
    ``(left, top, right, bottom)``: the box the crops hold, grown for hair and chin; the core;
    the detector's box, which a face left out is never cut through).

    A side counts where the faces' cores do not fit the window together and do not share a
    band across it (side by side in a banner too low for one core, their common eye line
    holds them all). Where no side counts, all of them (:func:`box_to_hold` holds their
    boxes, or their cores). Else one face anchors the window, the largest first (by box
    area), with each other face whose box fits beside it on the sides that count (its core,
    on a side the anchor's box does not fit), or, in a row or a column, any run of its
    neighbours that fits with it; the others are for ``never_cut``, held whole or
    left out, never in part (the callers add their heads and their persons after them: a
    window that left out the face's box had kept a strip of its hair, one that left out the
    head a strip of the shoulders). An anchor is taken where some window holds
    it and its company and cuts none of the others (carving brings faces closer: one window
    left had cut a face it was to leave out); where none does, the largest's. A window
    that stayed inside every face's core had cut the face at either end (two people at both
    ends of a panorama: 13% of one face's width in every thumbnail), or held none of them
    (visual review 30). Companies are made of the boxes grown for hair and of the detector's
    boxes; of the companies that cut none of the others, the one with the most faces, then of
    grown boxes, then of the larger anchor, then the larger faces."""
    faces = list(faces)
    if len(faces) < 2:
        return faces, []
    cores = [f[1] for f in faces]
    spread = [i for i in (0, 1) if _extent(cores, i) > window[i]
              and max(c[i] for c in cores) >= min(c[i + 2] for c in cores)]
    if not spread:
        return faces, []
    area = lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1])  # noqa: E731
    order = sorted(faces, key=lambda f: -area(f))
    first, found = None, []
    for rank, anchor in enumerate(order):
        # the companies of each anchor that leave the others whole, by the boxes grown for hair
        # and by the detector's (five faces in a row, 534 px from the first's detector box to
        # the fourth's and 546 with the room for their hair, in a 535 px window, had no company
        # of grown boxes that left the others whole, and the largest's cut the second face in
        # half: faces review 40; not by the cores: a company whose cores fit and detector's
        # boxes do not has a face cut inside it, the largest too: diff review 40)
        for kind in (0, 2):
            # on each side, boxes of that kind where the anchor's fits the window, else cores
            part = {i: kind if anchor[kind][i + 2] - anchor[kind][i] <= window[i] else 1
                    for i in (0, 1)}
            taken = [anchor]
            for face in order:
                if face is not anchor and all(
                        _extent([f[part[i]] for f in taken + [face]], i) <= window[i]
                        for i in spread):
                    taken.append(face)
            if first is None:
                first = (taken, [f for f in order if not any(f is t for t in taken)])
            companies = [taken]
            if len(spread) == 1:   # a row (or a column): also every run of neighbours
                companies += _runs_with(anchor, faces, part, spread[0], window)
            for company in companies:
                held = tuple(min(f[part[i % 2]][i] for f in company) if i < 2 else
                             max(f[part[i % 2]][i] for f in company) for i in range(4))
                others = [f for f in order if not any(f is g for g in company)]
                if _avoids(held, [f[2] for f in others], window, shape):
                    found.append((len(company), kind == 0, -rank, sum(map(area, company)),
                                  company, others))
    if found:   # the most faces, then the grown boxes, then the larger anchor, then the faces
        best = max(found, key=lambda c: c[:4])
        return best[4], best[5]
    return first


def _runs_with(anchor, faces, part, axis: int, window) -> list:
    """The runs of neighbouring faces along ``axis`` (by their centres) that hold ``anchor``
    and fit ``window`` (boxes of ``part``). The anchor's company in order of size takes the
    largest faces that fit beside it, which may be on both sides of a face it cannot take:
    five faces spread evenly across a 761 px picture, a 533 px window, and each anchor's
    company held a face at one end and cut the next; the three in the middle fit together,
    the ends left out whole (faces review 40)."""
    key = part[axis]
    line = sorted(faces, key=lambda f: f[key][axis] + f[key][axis + 2])
    at = next(i for i, f in enumerate(line) if f is anchor)
    return [line[lo:hi + 1] for lo in range(at + 1) for hi in range(at, len(line))
            if _extent([f[key] for f in line[lo:hi + 1]], axis) <= window[axis]]


def box_to_hold_apart(kept, faces, window: Tuple[int, int], cores, heads, apart,
                      shape: Tuple[int, int], detected=None):
    """:func:`box_to_hold`, whose room for the heads is given up where it leaves no window
    in a picture of ``shape`` (H, W) that cuts none of the boxes ``apart`` (the faces left
    out: a head's hair is held where the room allows, another face is never cut for it; a
    face beside the one held had been cut to make room for its head: diff review 30)."""
    box = box_to_hold(kept, faces, window, cores, heads, detected)
    if box is None or not apart or _avoids(box, apart, window, shape):
        return box
    if heads is not None:
        box = box_to_hold(kept, faces, window, cores, None, detected)
        if _avoids(box, apart, window, shape):
            return box
    # nor the detector's boxes (the face held is cut to its core, never the one left out:
    # diff review 35)
    return box if detected is None else box_to_hold(kept, faces, window, cores, None, None)


def _extent(boxes, i: int) -> int:
    """The span of ``boxes`` across (``i`` 0) or down (1)."""
    return max(b[i + 2] for b in boxes) - min(b[i] for b in boxes)


def _avoids(held, others, window: Tuple[int, int], shape: Tuple[int, int]) -> bool:
    """Whether some window of ``window`` in a picture of ``shape`` holds ``held`` (or stays
    inside it where it is larger) and cuts none of the boxes ``others``."""
    (h, w), (width, height) = shape, window
    x0, x1 = _allowed_range(held[0], held[2], width, w)
    y0, y1 = _allowed_range(held[1], held[3], height, h)
    free = np.zeros((h - height + 1, w - width + 1), bool)
    free[y0:y1 + 1, x0:x1 + 1] = True
    for box in others:
        cut = _cutting(box, width, height, free.shape)
        if cut is not None:
            free &= ~cut
    return bool(free.any())


def _towards(lo: int, hi: int, outer_lo: int, outer_hi: int, room: int,
             share: Tuple[int, int] = (2, 3)) -> Tuple[int, int]:
    """The span ``lo..hi`` grown towards ``outer_lo..outer_hi`` (which holds it) to at most
    ``room``: all of it where it fits, else ``share`` of the spare before ``lo`` (two thirds:
    headroom before the chin) and the rest after ``hi``, what one side cannot take going to the
    other."""
    outer_lo, outer_hi = min(outer_lo, lo), max(outer_hi, hi)
    if outer_hi - outer_lo <= room:
        return outer_lo, outer_hi
    spare = room - (hi - lo)
    before = min(lo - outer_lo, (share[0] * spare) // share[1])
    after = min(outer_hi - hi, spare - before)
    before = min(lo - outer_lo, spare - after)
    return lo - before, hi + after


def best_window(energy: np.ndarray, width: int, height: int,
                center_weight: float = 0.0, integral=None,
                must_contain: Optional[Tuple[int, int, int, int]] = None,
                never_cut: Sequence[Tuple[int, int, int, int]] = (),
                rise: float = 0.0) -> Tuple[int, int]:
    """Top-left corner ``(left, top)`` of the window holding the most energy.

    Parameters
    ----------
    energy : ndarray (H, W)
        Non-negative importance map.
    width, height : int
        Window size, ``1 <= width <= W`` and ``1 <= height <= H``.
    center_weight : float in [0, 1]
        Strength of the centre prior (0: pure energy).
    integral : ndarray, optional
        :func:`integral_image` of ``energy``, when the caller already has it.
    must_contain : (left, top, right, bottom), optional
        A box the window must hold whole (faces); on a side where the box is larger than the
        window, the window stays inside the box instead.
    never_cut : sequence of (left, top, right, bottom)
        Boxes the window holds whole or leaves out, never in part (faces in a scene), each
        where some window allowed by the boxes before it does (in order).
    rise : float in [0, 1)
        Share of the best score a window may give up to stand higher: among the windows
        within it, the highest (then the one nearest the centre). Banners
        (:func:`banner_rise`). Not where ``must_contain`` holds a box: faces and kept pixels
        place the window by their own rules.

    Raises
    ------
    ValueError
        If the window does not fit, or ``center_weight`` or ``rise`` is out of range.
    """
    energy = as_energy_map(energy, "energy")
    h, w = energy.shape
    for value, name in ((width, "width"), (height, "height")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer; got {value!r}")
    if not (1 <= width <= w and 1 <= height <= h):
        raise ValueError(f"window {width}x{height} must fit in the {w}x{h} map")
    if not 0.0 <= center_weight <= 1.0:
        raise ValueError(f"center_weight must be in [0, 1]; got {center_weight}")
    if not 0.0 <= rise < 1.0:
        raise ValueError(f"rise must be in [0, 1); got {rise}")
    sums = window_sums(energy, width, height, integral)
    ny, nx = sums.shape
    if must_contain is not None:
        l, t, r, b = (int(v) for v in must_contain)
        if not (0 <= l < r <= w and 0 <= t < b <= h):
            raise ValueError(f"must_contain box {must_contain} must lie inside the {w}x{h} map")
        x0, x1 = _allowed_range(l, r, width, w)
        y0, y1 = _allowed_range(t, b, height, h)
        masked = np.full_like(sums, -np.inf)
        masked[y0:y1 + 1, x0:x1 + 1] = sums[y0:y1 + 1, x0:x1 + 1]
        sums = masked
    for box in never_cut:
        cut = _cutting(box, width, height, (ny, nx))
        if cut is not None and np.isfinite(sums[~cut]).any():
            sums = np.where(cut, -np.inf, sums)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    sy, sx = max(h / 2.0, 1.0), max(w / 2.0, 1.0)

    def distance(top, left):
        """Window centre's distance from the image centre, normalised to [0, 1]."""
        dy = (top + (height - 1) / 2.0 - cy) / sy
        dx = (left + (width - 1) / 2.0 - cx) / sx
        return np.hypot(dy, dx) / np.sqrt(2.0)

    if center_weight:
        tops, lefts = np.mgrid[0:ny, 0:nx]
        score = np.where(np.isfinite(sums), sums * (1.0 - center_weight * distance(tops, lefts)),
                         -np.inf)
    else:
        score = sums
    best = float(score.max())
    if rise and must_contain is None and height < h and best > 0:
        tops, lefts = np.nonzero(score >= best * (1.0 - rise))
        higher = tops == tops.min()
        tops, lefts = tops[higher], lefts[higher]
    else:
        tops, lefts = np.nonzero(score >= best - abs(best) * 1e-9)
    k = int(np.argmin(distance(tops, lefts)))  # nearest to the centre among (near-)ties
    return int(lefts[k]), int(tops[k])


def _cutting(box, width: int, height: int, positions: Tuple[int, int]) -> Optional[np.ndarray]:
    """Boolean (ny, nx) map of the window positions (top, left) whose window holds part of
    ``box`` but not all of it; None for a box outside every window."""
    l, t, r, b = (int(v) for v in box)
    if r <= l or b <= t:
        return None
    ny, nx = positions
    ys, xs = np.arange(ny), np.arange(nx)
    meets_y, meets_x = (ys < b) & (ys + height > t), (xs < r) & (xs + width > l)
    holds_y, holds_x = (ys <= t) & (ys + height >= b), (xs <= l) & (xs + width >= r)
    return (meets_y[:, None] & meets_x[None, :]) & ~(holds_y[:, None] & holds_x[None, :])


def smart_crop(pixels: np.ndarray, energy: np.ndarray, width: int, height: int,
               center_weight: float = 0.0, must_contain=None):
    """Crop ``pixels`` to ``width`` x ``height`` around the most energy.

    ``pixels`` is an (H, W) or (H, W, C) array and ``energy`` its (H, W) map.

    Returns
    -------
    cropped : ndarray
    box : tuple of int
        ``(left, top, right, bottom)`` in input coordinates (PIL convention).

    Raises
    ------
    ValueError
        ``pixels`` is not 2-D or 3-D, or ``energy`` is not a finite map of the pixels'
        (H, W) shape (as :func:`best_window`, for the window and ``center_weight``).
    TypeError
        ``energy`` is not numeric.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim not in (2, 3):
        raise ValueError(f"pixels must be an (H, W) or (H, W, C) array; got shape {pixels.shape}")
    energy = as_energy_map(energy, "energy", shape=pixels.shape[:2])
    left, top = best_window(energy, width, height, center_weight, must_contain=must_contain)
    box = (left, top, left + width, top + height)
    return np.ascontiguousarray(pixels[top:top + height, left:left + width]), box
