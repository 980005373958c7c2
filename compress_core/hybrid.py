"""Hybrid retargeting: crop, carve and scale, split per image (multi-operator retargeting in
the spirit of Rubinstein, Shamir & Avidan 2009), never stretching what matters.

For an input W x H and a target w x h the policy first makes the aspect right, then scales:

1. **Aspect change** (the target is relatively narrower or wider): ``D`` columns (or rows)
   must go. In order:

   a. *Margin crop*: the largest crop of the ``D`` whose removed margins hold less than
      ``crop_density`` (0.5) of the image's mean energy density: cheap, no distortion.
   b. *Carve*: seams are removed while the mean energy of a seam stays under
      ``carve_density`` (0.6) of the image's mean kernel energy: they run through sky, walls and
      grass, where nobody sees the distortion, and stop before they reach the subject.
   c. *Squeeze*: the final resampling may absorb a uniform stretch of at most
      ``max_stretch / seam_stretch`` (``max_stretch`` defaults to :data:`DEFAULT_MAX_STRETCH`,
      1.05) between the two axes, so that seams and squeeze together stay within the limit:
      people see a stretched face from about 1.1 (Niu et al. 2010), and a classifier judge barely
      notices even 1.5 (ImageNet training jitters the aspect), so the limit is set by people, not
      by the judge.
   d. *Best-window crop*: whatever is left is cropped around the most energy.

   Where seams bunch up they squeeze what lies between them: :func:`seam_stretch` measures the
   local squeeze they leave in every neighbourhood of the input, weighted by importance, on what
   the crop keeps. The squeeze follows that measure (wider when the crop dropped bunched seams,
   narrower when it kept them); if seams and squeeze together still exceed ``max_stretch``,
   carving is retried with half the seams (at most four times, then none). A retry does not
   carve again: seams are removed one at a time, greedily, so the carve with fewer seams is a
   prefix of the first one, taken from its record (:class:`~compress_core.seams.cheap.CheapCarve`).
   Seams bunched beside a strong, straight edge of low importance (a saucer's rim, mortar lines,
   a roof) step it where they cross it, which no stretch measure sees: while the seams kept
   step such edges visibly at :data:`MAX_SEAM_BREAKS` junctions
   (:func:`~compress_core.seams.breaks.seam_breaks`), or bend a long line that runs along them
   where they cross it one by one (a horizon under horizontal seams:
   :func:`~compress_core.seams.breaks.seam_bends`, counted with the steps), or leave a contour
   in a smooth gradient where they bunch (a sky, a blurred background:
   :func:`~compress_core.seams.bands.seam_bands`, its length counted with them), carving is
   retried with the most seams of the first carve whose count stays under that, found by
   bisection on its prefixes.

   Detected faces (the deep energy's face term) are never cut by the crops of (a) and (d) when a
   window of the size holds all of them, with as much of their heads (hair, chin:
   :func:`~compress_core.energy.faces.heads_box`) as it holds; where none does, the crops hold
   as much of their detector's boxes as they can about their cores (brows to mouth), or the
   window's height about the eyes (:func:`~compress_core.crop.box_to_hold`). A small face alone
   (:func:`~compress_core.energy.faces.subject_faces`) is held whole or left out, never cut.
   Seams avoid faces because they carry full energy, and never cross a face's head (its
   :func:`~compress_core.energy.faces.heads_box`, kept as a keep_mask is: the hair is no
   part of the face term, and seams through it flattened heads and took the room above them;
   where every seam would cross a head, none is carved and the crops and the squeeze do the
   rest: ``SeamCarver.record_while_cheap`` keeps no seam through a kept pixel). The caller's
   ``keep_mask`` comes first: the crops hold its bounding box (with the faces where one
   window holds both), and seams avoid it.

   *Planned on a reduced copy*: seams run through the least important pixels, which the crop of
   (d) then often drops (a landscape to a 9:16 story carves its sky and crops it away). On a
   picture whose long side exceeds twice ``plan_side`` (:data:`DEFAULT_PLAN_SIDE`, 768) every
   seam costs a pass over megapixels (a 24-megapixel portrait to 1920 x 1080 carved 241 seams
   in 24 s, all of them cropped), so the policy is first run on the picture reduced to
   ``plan_side`` on its long side (the size it was tuned and judged at). Where none of the
   seams carved there survives its crops, the full-size picture is not carved, only cropped and
   squeezed; otherwise it is carved only within the span the reduced copy kept (with the held
   boxes), cropped to it first (:attr:`HybridPlan.plan_crop`), under the carving limit of the
   whole picture.

2. **Scale**: the result is resampled with Lanczos to exactly w x h. With the aspect kept (the
   free-aspect regime) this is the whole picture scaled, which keeps an image's meaning best
   when the aspect may stay; no importance map is read (:func:`reads_importance`), so the
   compressor computes none. A policy with ``free_crop_density`` (off by default) first crops
   margins whose density is under it ("nearly empty": 0.25 was the default until session 29),
   so that the content keeps more pixels, never in a graphic or a picture with transparency
   (``scale_whole``). Off, because what it cost and what it bought were measured apart: with
   the default deep energy it cropped 2 of 306 photos and crops at half size (a few dark or
   grey sky lines each) while its map took 90 of the 125 ms of CPU per photo at scale 0.5; on the
   gradient map it cropped 13, cutting the tail of an aeroplane and the edge of a flower
   (BENCHMARKS.md, "The aspect kept: the whole picture, no map").

Enlarging sides are resampled. Every step is recorded in :class:`HybridPlan` (and in
``CompressionResult.operations``), including the stretch the resampling applied.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage

from .crop import (banner_rise, best_window, box_to_hold, box_to_hold_apart,
                   faces_one_window_holds, integral_image, keep_boost, mask_box, window_sums)
from .energy.base import CarvingTerms, resize_map
from .energy.faces import (DETECT_SIDE, clipped_box, cores_box, face_boxes, faces_box,
                           heads_box, subject_faces, union_box)
from .seams.meter import StepMeter
from .seams.cheap import kept_sources
from .seams.inputs import KEEP_ENERGY, kept_pixels, with_masks
from .targets import check_non_negative_number, check_positive_int, check_stretch

__all__ = ["HybridPolicy", "HybridPlan", "retarget", "resample_whole", "reads_importance",
           "aspect_changes", "resample", "resampling_stretch", "seam_stretch",
           "stretch_weights", "DEFAULT_MAX_STRETCH", "DEFAULT_WORKING_OVERSAMPLE",
           "DEFAULT_WORKING_MIN_SIDE", "DEFAULT_PLAN_SIDE"]

#: Largest local stretch (ratio of the x and y scale factors) the hybrid policy may apply to
#: content by default: people see a stretched face at about 1.1 (Niu et al. 2010), so the
#: default stays below it. ``compress(max_stretch=)`` overrides it per call.
DEFAULT_MAX_STRETCH = 1.05
#: The least anisotropy reported where the aspect is kept to within one target pixel: what the
#: default limit calls no visible stretch (a side of more than 10 pixels rounded by half a
#: pixel, as :func:`compress_core.targets.plan_size` rounds, stays under it; a side of up to 20
#: pixels a whole pixel off, as a width and height given may be, can pass it). The hybrid
#: policy's stretch limit counts it too: targets with a side under 10 pixels may carve fewer
#: seams than before it was reported.
ROUNDING_STRETCH = DEFAULT_MAX_STRETCH

#: Input pixels per output pixel, along each side, the geometry works at by default
#: (:attr:`HybridPolicy.working_oversample`): a seam there is half an output pixel wide.
DEFAULT_WORKING_OVERSAMPLE = 2.0

#: Shortest long side of the picture the geometry works at (:attr:`HybridPolicy.
#: working_min_side`): the copy the face detector searches
#: (:data:`compress_core.energy.faces.DETECT_SIDE`, more than the deep energy's 320). Smaller,
#: a 64-pixel thumbnail of a 1600-pixel photo was decided on 171 x 128 pixels, where a face of
#: 6% of the photo's width (28 px in the detector's copy of the whole photo, 11 px there) was
#: not searched for, and the crop did not have to keep it.
DEFAULT_WORKING_MIN_SIDE = DETECT_SIDE

#: Long side of the reduced copy on which a large picture's carve is planned
#: (:attr:`HybridPolicy.plan_side`): the Kodak photos' 768 x 512, where the policy was tuned
#: and judged. Pictures up to twice as long are not planned (their seams are cheap: 0.2-0.4 s
#: for a whole 768 x 512 retarget).
DEFAULT_PLAN_SIDE = 768


@dataclass(frozen=True)
class HybridPolicy:
    """Thresholds of the hybrid policy (see module docs). Densities are relative to the mean.

    The largest stretch is not a threshold of the policy but an option of each call
    (``compress(max_stretch=)``, default :data:`DEFAULT_MAX_STRETCH`).

    ``working_oversample``: the hybrid method and ``smart_crop`` decide their crops, seams and
    squeeze on the input reduced (Lanczos; a JPEG decoded at a DCT scale, a camera RAW at half
    size, where that is still large enough) to this many times the output's size, when the
    input is larger (:func:`compress_core.targets.working_size`); None: on the whole input,
    whatever its size (a 24-megapixel photo to a 256-pixel square took 6-25 s instead of 0.3 s;
    BENCHMARKS.md, "Large photos"). ``working_min_side``: the reduced input's long side is
    never shorter (:data:`DEFAULT_WORKING_MIN_SIDE`: the energy sees what it sees of the whole
    input, faces included).

    ``plan_side``: a picture (at the working size) whose long side exceeds twice this plans its
    carve on a copy reduced to this long side first, and is carved only where seams survive the
    crops there (module docs; :data:`DEFAULT_PLAN_SIDE`); None: carved seam by seam on all of
    it, whatever its size.

    ``free_crop_density``: where the aspect stays, crop margins whose energy density is under
    this share of the mean before scaling (0.25 was the default before session 29); None (the
    default): the whole picture is scaled, and no importance map is computed for it.
    """

    crop_density: float = 0.5
    carve_density: float = 0.6
    free_crop_density: Optional[float] = None
    working_oversample: Optional[float] = DEFAULT_WORKING_OVERSAMPLE
    working_min_side: int = DEFAULT_WORKING_MIN_SIDE
    plan_side: Optional[int] = DEFAULT_PLAN_SIDE

    def __post_init__(self):
        for name in ("crop_density", "carve_density", "free_crop_density"):
            value = getattr(self, name)
            if value is None and name == "free_crop_density":
                continue  # off
            # (NumPy's numbers too: np.float32(0.5) was refused as "not a finite number >= 0")
            object.__setattr__(self, name, check_non_negative_number(value, name))
        if self.working_oversample is not None:
            check_stretch(self.working_oversample, "working_oversample")
        object.__setattr__(self, "working_min_side",
                           check_positive_int(self.working_min_side, "working_min_side"))
        if self.plan_side is not None:
            object.__setattr__(self, "plan_side", check_positive_int(self.plan_side, "plan_side"))


@dataclass
class HybridPlan:
    """What the hybrid method did to one image."""

    input_size: Tuple[int, int]
    target_size: Tuple[int, int]
    margin_crop: Optional[Tuple[int, int, int, int]] = None  # input coordinates
    carved_vertical: int = 0
    carved_horizontal: int = 0
    extra_crop: Optional[Tuple[int, int, int, int]] = None  # coordinates after carving
    squeeze: float = 1.0  # (x scale) / (y scale) of the final resampling, inverted: w1/tw / h1/th
    seam_stretch: float = 1.0  # importance-weighted local stretch the output keeps from seams
    stretch: float = 1.0  # max(squeeze, 1/squeeze) * seam_stretch: the stretch of the content
    max_stretch: float = DEFAULT_MAX_STRETCH
    faces: int = 0  # faces the crops kept whole
    scaled_from: Optional[Tuple[int, int]] = None
    # the reduced copy the carve was planned on (None: not planned), and the pixels of its seams
    # that survived its crops there (0: the full-size picture was not carved)
    planned_on: Optional[Tuple[int, int]] = None
    planned_seam_pixels: Optional[int] = None
    plan_crop: Optional[Tuple[int, int, int, int]] = None  # to the planned span, after margin_crop
    # junctions where the seams kept step a strong, straight edge visibly and points where they
    # bend a line, counted as at two input pixels per output pixel (seams.breaks), plus the
    # length in output pixels of the contours they leave in smooth gradients (seams.bands);
    # under MAX_SEAM_BREAKS, or the carve would have been retried with fewer seams
    seam_breaks: float = 0.0

    def as_dict(self):
        return asdict(self)




def resampling_stretch(w1: int, h1: int, tw: int, th: int) -> float:
    """Anisotropy ``max(s, 1/s)`` of resampling ``w1 x h1`` to ``tw x th``, ``s`` the ratio of
    the two scale factors; 1.0 when the aspect is kept to within one target pixel
    (:func:`aspect_changes`) and that rounding stretches under :data:`ROUNDING_STRETCH`. A
    side of a few pixels is stretched by its rounding, and that is what is reported: a 3 x 300
    strip to 1 x 500 keeps one column, 1.67x (it was reported as 1.0; edge review 35)."""
    s = (w1 / tw) / (h1 / th)
    s = float(max(s, 1.0 / s))
    if s < ROUNDING_STRETCH and not aspect_changes((w1, h1), (tw, th)):
        return 1.0
    return s


def resample(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Lanczos resampling of uint8 (H, W, C) pixels to ``width`` x ``height``."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    img = Image.fromarray(np.ascontiguousarray(pixels), mode)
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS))


def _kernel_mean_energy(pixels: np.ndarray, terms: CarvingTerms, forward: bool,
                        kept_share: float = 0.0) -> float:
    """Mean per-pixel energy as the seam kernel sees it (static + gradient term), without the
    ``KEEP_ENERGY`` its static map adds on the ``kept_share`` of the pixels that a keep_mask
    holds (one 8 x 8 mask in a 400 px photo raised the mean, the limit of a cheap seam, 3x)."""
    from .energy.gradient import luma_u8, sobel_l1

    gray = luma_u8(pixels[..., :3])
    if forward:
        gray = gray.astype(np.float32)
        grad = np.abs(gray[:, 2:] - gray[:, :-2]).mean() if gray.shape[1] > 2 else 0.0
    else:   # (8-bit: the kernels' Sobel, scipy's values in half its time)
        grad = float(sobel_l1(gray).mean())
    static = float(terms.static.mean()) if terms.static is not None else 0.0
    if kept_share:
        static -= float(KEEP_ENERGY) * kept_share
    return static + terms.gradient_weight * float(grad)


def _margin_crop_amount(profile_sums, removed_max: int, density: float) -> int:
    """Largest ``c <= removed_max`` whose best (W-c)-window loses < density * mean per line."""
    total = float(profile_sums[-1]) if len(profile_sums) else 0.0
    n = len(profile_sums) - 1
    if total <= 0 or removed_max <= 0:
        return removed_max if total <= 0 else 0
    mean_line = total / n
    best = 0
    for c in range(1, removed_max + 1):
        keep = n - c
        window = np.max(profile_sums[keep:] - profile_sums[:n - keep + 1])
        if total - window <= density * mean_line * c:
            best = c
    return best


#: Long side of the energy map on which the free-aspect margin search runs (block means).
_SEARCH_SIDE = 512


def _free_margin_share(energy: np.ndarray, target, density: float, max_share: float) -> float:
    """Largest share x (steps of 5%, at most ``max_share``) of each side whose best
    ``(1-x)``-window keeps all but ``density`` of the energy density of what it removes.

    Searched on a block-mean copy of the map at most :data:`_SEARCH_SIDE` pixels long (a 12 MP
    photo: 0.02 s instead of 1.3 s); the chosen window is then placed on the full map.
    """
    h0, w0 = energy.shape
    tw, th = target
    k = max(1, int(np.ceil(max(h0, w0) / _SEARCH_SIDE)))
    hs, ws = h0 // k, w0 // k
    small = energy[:hs * k, :ws * k].reshape(hs, k, ws, k).mean(axis=(1, 3)) if k > 1 else energy
    total = float(small.sum())
    if total <= 0 or hs < 1 or ws < 1:
        return 0.0
    integral = integral_image(small)
    best_x = 0.0
    for x in np.linspace(0.05, max_share, num=max(1, int(round(max_share / 0.05)))):
        if round(w0 * (1 - x)) < tw or round(h0 * (1 - x)) < th:
            break
        cw, ch = max(1, int(round(ws * (1 - x)))), max(1, int(round(hs * (1 - x))))
        kept = float(window_sums(small, cw, ch, integral).max())
        removed_share = 1.0 - (cw * ch) / float(ws * hs)
        if total - kept <= density * total * removed_share:
            best_x = float(x)
    return best_x


def _heads_mask(faces, shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """Each face's head (:func:`~compress_core.energy.faces.heads_box`: the hair, the ears,
    the chin and a little room), bool (H, W); None without faces."""
    if not faces:
        return None
    mask = np.zeros(shape, bool)
    for face in faces:
        left, top, right, bottom = heads_box([face], shape)
        mask[top:bottom, left:right] = True
    return mask


def _plan_on_reduced(pixels, energy, terms, target, carver, policy, max_stretch, faces, keep,
                     vertical: bool):
    """Run the policy on the picture reduced to ``policy.plan_side`` on its long side.

    Returns the reduced size ``(ws, hs)``, the pixels of the seams carved there that its crops
    kept (0: every seam was cropped away, or none was carved), and the span ``(lo, hi)`` of the
    kept pixels along the carved axis (columns for vertical seams), in the input's coordinates
    (the reduced span scaled back, grown outwards by one reduced pixel).
    """
    h0, w0 = pixels.shape[:2]
    k = max(h0, w0) / policy.plan_side
    ws, hs = max(2, int(round(w0 / k))), max(2, int(round(h0 / k)))
    fx, fy = ws / w0, hs / h0
    def reduced(values):  # by area averages
        return resize_map(values, ws, hs, Image.Resampling.BOX)

    small_terms = CarvingTerms(static=None if terms.static is None else reduced(terms.static),
                               gradient_weight=terms.gradient_weight)

    small_faces = _scaled_faces(faces, fx, fy)
    small_keep = None if keep is None else reduced(keep) > 0
    _, _, source = retarget(resample(pixels, ws, hs), reduced(energy), small_terms,
                            target, carver, policy, max_stretch, small_faces, small_keep,
                            check_steps=False)
    ys, xs = np.divmod(source, ws)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    seam_pixels = (box[2] - box[0]) * (box[3] - box[1]) - source.size  # the box's carved pixels
    f, extent = (w0 / ws, w0) if vertical else (h0 / hs, h0)
    lo, hi = (box[0], box[2]) if vertical else (box[1], box[3])
    span = (max(0, int(np.floor((lo - 1) * f))), min(extent, int(np.ceil((hi + 1) * f))))
    return (ws, hs), seam_pixels, span


def _scaled_faces(faces, fx: float, fy: float):
    """``faces`` with their boxes and cores scaled by ``fx`` across and ``fy`` down, in
    fractional pixels: the masks made of them round outwards, and a face keeps its share of
    the picture (boxes rounded outwards here grew a small face by up to 2 px of the reduced
    copy, so that one of 0.0997 of the shorter side, a face of the scene at full size, counted
    as a subject, 0.1007, in the plan)."""
    def scaled(box):
        return None if box is None else (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)

    return [f._replace(box=scaled(f.box), core=scaled(f.core)) for f in faces]


def _boxes_mask(boxes, shape: Tuple[int, int]) -> np.ndarray:
    """Bool ``shape`` (H, W): the pixels inside any of ``boxes`` (left, top, right, bottom)."""
    mask = np.zeros(shape, bool)
    for left, top, right, bottom in boxes:
        mask[top:bottom, left:right] = True
    return mask


def _window_rules(protect, window):
    """:func:`~compress_core.crop.best_window`'s ``must_contain`` and ``never_cut`` for a window
    of ``window`` (width, height) from the held boxes ``protect``: the keep mask's, the
    subjects' faces', their cores', their heads' (each None or a box;
    :func:`~compress_core.crop.box_to_hold`), the boxes of the faces in the scene, where
    there are several subjects' faces a function giving each one's boxes (:func:`_faces_here`;
    faces spread wider than the window: :func:`~compress_core.crop.faces_one_window_holds`),
    and the subjects' detector's boxes (None or a box)."""
    kept, faces, cores, heads, scene, each, detected = protect
    if each is not None and cores is not None and (cores[2] - cores[0] > window[0]
                                                   or cores[3] - cores[1] > window[1]):
        # faces spread wider than the window: the largest it holds, the rest whole or left out
        found, shape = each()
        taken, left_out = faces_one_window_holds(found, window, shape)
        if left_out and taken:
            faces, cores, detected, heads = (union_box([t[k] for t in taken])
                                             for k in (0, 1, 2, 3))
            # the faces left out, then their heads, then their persons, each where a window
            # still leaves it out too (a window beside the detector's box had kept a sliver of
            # the hair; one beside the head a strip of the shoulders)
            scene = tuple(scene) + tuple(t[k] for k in (2, 3, 4) for t in left_out)
            return dict(must_contain=box_to_hold_apart(kept, faces, window, cores, heads,
                                                       [t[2] for t in left_out], shape,
                                                       detected),
                        never_cut=scene)
    return dict(must_contain=box_to_hold(kept, faces, window, cores, heads, detected),
                never_cut=scene)


def _faces_here(each, source: np.ndarray, width: int):
    """A function giving, in the current picture, whose pixels come from the input's flat
    indices ``source``, the boxes of each subject face (``each``: its
    :func:`~compress_core.energy.faces.face_boxes` in the input, of ``width`` columns; a face
    none of whose detector's box is left is dropped, and one whose core is gone has its box
    for a core) and the picture's shape. Worked out only when a window asks (faces spread
    wider than it: :func:`~compress_core.crop.faces_one_window_holds`)."""
    def here():
        rows, cols = np.divmod(source, width)
        found = []
        for boxes in each:
            now = [mask_box((cols >= l) & (cols < r) & (rows >= t) & (rows < b))
                   for l, t, r, b in boxes]
            if now[2] is not None:
                found.append(tuple(now[2] if box is None else box for box in now))
        return found, source.shape
    return here


def _plan_box(span, margin_crop, shape, vertical: bool, protect, least: int):
    """The crop (coordinates after the margin crop ``margin_crop``) to the ``span`` of
    :func:`_plan_on_reduced` (input coordinates), grown to hold the held boxes ``protect``
    whole and to at least ``least`` lines (the target's aspect at this height or width);
    None when it would keep everything."""
    h, w = shape
    offset = 0 if margin_crop is None else (margin_crop[0] if vertical else margin_crop[1])
    extent = w if vertical else h
    lo, hi = max(0, span[0] - offset), min(extent, span[1] - offset)
    for held in protect[:3]:  # (the faces of the scene may be left out)
        if held is not None:
            lo, hi = min(lo, held[0 if vertical else 1]), max(hi, held[2 if vertical else 3])
    if hi - lo < least:  # grow evenly, within the picture
        lo = max(0, min(lo - (least - (hi - lo)) // 2, extent - least))
        hi = min(extent, max(hi, lo + least))
    for box in protect[4]:  # a face of the scene: held whole or left out, never cut
        start, end = box[0 if vertical else 1], box[2 if vertical else 3]
        if start < hi and end > lo and (start < lo or end > hi):
            lo, hi = min(lo, start), max(hi, end)
    if hi - lo >= extent:
        return None
    return (lo, 0, hi, h) if vertical else (0, lo, w, hi)


def retarget(pixels: np.ndarray, energy: np.ndarray, terms: CarvingTerms, target: Tuple[int, int],
             carver, policy: HybridPolicy = HybridPolicy(), max_stretch: Optional[float] = None,
             faces: Sequence = (), keep: Optional[np.ndarray] = None,
             scale_whole: Optional[Callable[[], bool]] = None, check_steps: bool = True):
    """Run the hybrid policy.

    Parameters
    ----------
    pixels : uint8 (H, W, C)
    energy : float32 (H, W)
        Importance map (for crops, densities and the stretch measures), without any boost on
        ``keep`` (the windows raise the kept pixels themselves).
    terms : CarvingTerms
        The seam kernel's view of the same energy (with ``KEEP_ENERGY`` on ``keep``).
    target : (width, height)
    carver : SeamCarver
        Carries the seam options (energy mode, progress).
    policy : HybridPolicy
    max_stretch : float >= 1, optional
        Largest uniform stretch the final resampling may apply (default
        :data:`DEFAULT_MAX_STRETCH`).
    faces : sequence of Face
        Detected faces (``Importance.faces``): crops keep them whole where a window can.
    keep : bool (H, W), optional
        Pixels the caller asked to keep (``keep_mask``): crops hold their bounding box whole
        (where a window can: else the window lies inside it), with the faces where one window
        holds both. Seams avoid them through ``terms``.
    scale_whole : callable () -> bool, optional
        Whether the picture is scaled whole where its aspect stays, asked only where a margin
        would be cropped: true for a graphic (a screenshot, a chart), whose flat shapes are
        content that a gradient energy has none inside (with ``energy="gradient"`` a 640x400
        screenshot at half size lost its title bar, the first letter of every line and half
        of two shapes to a "nearly empty" margin crop), and for a picture with transparency,
        whose transparent margins are layout (a cut-out at half size had lost its padding and
        7 columns of the subject).
    check_steps : bool
        Whether seams that step strong edges are given up (:data:`MAX_SEAM_BREAKS`); False for
        the run on a reduced copy that only plans which span to carve
        (:attr:`HybridPolicy.plan_side`), whose pixels are not the output's: the full-size
        carve is checked.

    Returns
    -------
    out : uint8 (h, w, C)
    plan : HybridPlan
    source : int32 (h', w')
        Flat input index of each pixel before the final resampling (for retained energy).
    """
    max_stretch = check_stretch(DEFAULT_MAX_STRETCH if max_stretch is None else max_stretch)
    h0, w0 = pixels.shape[:2]
    tw, th = target
    plan = HybridPlan(input_size=(w0, h0), target_size=(tw, th), max_stretch=max_stretch)
    source = np.arange(h0 * w0, dtype=np.int32).reshape(h0, w0)
    cur, cur_energy, cur_static = pixels, np.asarray(energy), terms.static
    faces = list(faces)
    subjects, scene = subject_faces(faces, (h0, w0))
    # seams never cross a head: the face term ranks the face, not the hair above it or the
    # room over it, and horizontal seams through the cameraman's dark hair flattened his head
    # (``terms`` stays as given: a plan on a reduced copy keeps the heads at its own scale)
    heads = _heads_mask(faces, (h0, w0))
    if heads is not None:
        if terms.static is not None:   # (pixels a keep_mask holds are kept already)
            heads &= ~kept_pixels(terms.static)
        cur_static = with_masks(terms.static, heads, None, (h0, w0))
    seams_keep = keep if heads is None else (heads if keep is None else keep | heads)
    seams_keep = None if seams_keep is None else seams_keep.ravel()
    # the pixels the crops must hold (flat, input's coordinates): the keep mask's and the
    # subjects' faces and their cores, held where the faces' box does not fit
    # (crop.box_to_hold); then each face of the scene, which the crops hold or leave out whole
    faces_mask = cores_mask = heads_mask = detected_mask = None
    if subjects:
        faces_mask, cores_mask, heads_mask = (
            _boxes_mask([box(subjects, (h0, w0))], (h0, w0))
            for box in (faces_box, cores_box, heads_box))
        # the detector's boxes, held where the faces' (grown for the crops) do not fit
        detected_mask = _boxes_mask([clipped_box(f.box, (h0, w0)) for f in subjects], (h0, w0))
    held = tuple(None if mask is None or not mask.any() else mask.ravel()
                 for mask in (keep, faces_mask, cores_mask, heads_mask))
    detected_flat = (None if detected_mask is None or not detected_mask.any()
                     else detected_mask.ravel())
    whole = [_boxes_mask([clipped_box(face.box, (h0, w0))], (h0, w0)).ravel()
             for face in scene]
    plan.faces = len(faces)
    # windows are chosen with the kept pixels above everything else (where no window holds the
    # mask's box, the one inside it that holds most of the mask); densities, the carve's limit
    # and the stretch measures read the importance alone: the boost in them made an 8 x 8 mask
    # turn every margin "empty" (a plain crop, no seams) and measured the stretch only around
    # a one-pixel mask (1.106 reported as 1.048 under a limit of 1.05)
    boost = None if held[0] is None else keep_boost(energy)

    def windows():  # the importance that chooses windows in the current image
        return cur_energy if boost is None else cur_energy + held[0][source] * boost

    def kept_share():  # the share of the current image's pixels no seam crosses
        return 0.0 if seams_keep is None else float(seams_keep[source].mean())

    # each subject face's boxes, where there are several (a window narrower than their
    # spread holds the largest: crop.faces_one_window_holds)
    each = [face_boxes(face, (h0, w0)) for face in subjects] if len(subjects) > 1 else None

    def boxes():  # the boxes of the held pixels in the current image (see _window_rules)
        return tuple(None if flat is None else mask_box(flat[source]) for flat in held) + (
            tuple(box for box in (mask_box(flat[source]) for flat in whole) if box is not None),
            None if each is None else _faces_here(each, source, w0),
            None if detected_flat is None else mask_box(detected_flat[source]))

    protect = boxes()

    def hold(window):
        return _window_rules(protect, window)

    def crop(box):
        nonlocal cur, cur_energy, cur_static, source, protect
        l, t, r, b = box
        cur = cur[t:b, l:r]
        cur_energy = cur_energy[t:b, l:r]
        source = source[t:b, l:r]
        if cur_static is not None:
            cur_static = np.ascontiguousarray(cur_static[t:b, l:r])
        protect = boxes()

    target_aspect = tw / th
    if aspect_changes((w0, h0), (tw, th)):
        vertical = w0 / h0 > target_aspect  # too wide: remove columns
        # at most all lines but one (tiny images: 2x1 -> 1x2 would otherwise remove them all)
        if vertical:
            need = min(int(round(w0 - h0 * target_aspect)), w0 - 1)
            profile = np.concatenate([[0.0], np.cumsum(cur_energy.sum(axis=0))])
        else:
            need = min(int(round(h0 - w0 / target_aspect)), h0 - 1)
            profile = np.concatenate([[0.0], np.cumsum(cur_energy.sum(axis=1))])
        # a. margin crop
        c = _margin_crop_amount(profile, need, policy.crop_density)
        if c:
            if vertical:
                left, _ = best_window(windows(), w0 - c, h0, **hold((w0 - c, h0)))
                box = (left, 0, left + w0 - c, h0)
            else:
                _, top = best_window(windows(), w0, h0 - c, rise=banner_rise((tw, th)),
                                     **hold((w0, h0 - c)))
                box = (0, top, w0, top + h0 - c)
            plan.margin_crop = box
            crop(box)
        remaining = need - c
        # b-d. carve while cheap, squeeze what the limit leaves, crop the rest; while what the
        # output keeps is stretched beyond the limit, the squeeze gives way, then the seams
        budget = remaining if policy.carve_density > 0 else 0
        planned = budget and policy.plan_side is not None and max(h0, w0) > 2 * policy.plan_side
        if planned:
            plan.planned_on, plan.planned_seam_pixels, span = _plan_on_reduced(
                pixels, energy, terms, target, carver, policy, max_stretch, faces, keep,
                vertical)
            if not plan.planned_seam_pixels:
                budget = 0  # the crops drop every seam: crop and squeeze only
        if budget:
            local_terms = CarvingTerms(static=cur_static, gradient_weight=terms.gradient_weight)
            forward = carver.energy_mode.value == "forward"
            # the limit is the picture's after the margin crop, planned or not
            limit = policy.carve_density * _kernel_mean_energy(cur, local_terms, forward,
                                                               kept_share())
            if planned:  # carve only the span the reduced copy kept (and the held boxes)
                axis = 1 if vertical else 0
                least = int(np.ceil(cur.shape[0] * target_aspect if vertical
                                    else cur.shape[1] / target_aspect))
                box = _plan_box(span, plan.margin_crop, cur.shape[:2], vertical, protect, least)
                if box is not None:
                    before = cur.shape[axis]
                    plan.plan_crop = box
                    crop(box)
                    remaining = max(0, remaining - (before - cur.shape[axis]))
                    budget = remaining
                    local_terms = CarvingTerms(static=cur_static,
                                               gradient_weight=terms.gradient_weight)
        start = (cur, cur_energy, cur_static, source, protect)

        # the input's importance filtered once for every stretch measure of this carve
        weights = stretch_weights(energy, vertical) if budget else None

        def content_stretch():  # seams and the final resampling together
            return plan.seam_stretch * resampling_stretch(cur.shape[1], cur.shape[0], tw, th)

        steps_of = StepMeter(pixels)  # its fields made where a carve could step or band

        def broken():  # the kept seams step an edge, bend a line or band a gradient visibly
            steps = steps_of(source, vertical, cur.shape[0] / th if vertical
                             else cur.shape[1] / tw)
            plan.seam_breaks = float(np.floor(steps * 100) / 100)  # (2.995: 2.99, not 3.0)
            return steps >= MAX_SEAM_BREAKS

        record = None  # the first carve: a retry with fewer seams is a prefix of it
        exact = False  # the budget is a prefix the steps were measured on, not a new limit
        for attempt in range(_CARVE_TRIES + 1):
            cur, cur_energy, cur_static, source, protect = start
            removed = 0
            if budget and record is None:
                record = carver.record_while_cheap(np.ascontiguousarray(cur), local_terms, budget,
                                                   vertical, limit)
                out, new_static, local, removed = record.result
            elif budget:
                # (a carve with a smaller budget may stop sooner than the prefix measured: of
                # kodim19's 4 seams that stepped nothing at 320x180, fewer(4) kept 1)
                out, new_static, local, removed = (record.prefix(budget) if exact
                                                   else record.fewer(budget))
            if removed:
                cur, cur_static = out, new_static
                cur_energy, source = cur_energy.ravel()[local], source.ravel()[local]
                protect = boxes()  # after carving: where the held pixels went
            plan.seam_stretch = (seam_stretch(source, energy, vertical, weights) if removed
                                 else 1.0)
            carved = (cur, cur_energy, cur_static, source, protect)
            # squeeze what the seams leave of the limit, crop the rest, measure the seams on what
            # the crop kept: less stretched (the crop dropped bunched seams) -> squeeze more and
            # crop less; more -> squeeze less. The last crop within the limit is kept.
            kept = None
            for _ in range(3):
                if plan.seam_stretch > max_stretch:
                    break
                cur, cur_energy, cur_static, source, protect = carved
                used = plan.seam_stretch
                plan.extra_crop = _squeeze_crop(windows(), target_aspect, remaining - removed,
                                                max_stretch / used, vertical, protect,
                                                banner_rise((tw, th)))
                if plan.extra_crop is not None:
                    crop(plan.extra_crop)
                    if removed:
                        plan.seam_stretch = seam_stretch(source, energy, vertical, weights)
                if content_stretch() <= max_stretch:
                    kept = (cur, cur_energy, cur_static, source, protect, plan.extra_crop,
                            plan.seam_stretch)
                    if plan.extra_crop is None or plan.seam_stretch >= used - 1e-3:
                        break  # nothing more to gain
                elif kept is not None:
                    break
            if kept is not None:
                cur, cur_energy, cur_static, source, protect, plan.extra_crop, plan.seam_stretch = kept
            plan.seam_breaks = 0.0
            if not removed or (content_stretch() <= max_stretch
                               and not (check_steps and broken())):
                break
            # the seams squeezed what matters, or broke the picture (a step, a bend, a contour):
            # carve fewer (none at the last attempt); seams go one at a time, greedily, so the
            # carve of fewer seams is the first carve's prefix: half of them, or, for breaks
            # alone, the most whose breaks stay under the limit (a break in one place does not
            # cost every other seam: each seam given up is squeezed or cropped instead)
            exact = plan.seam_breaks >= MAX_SEAM_BREAKS and attempt < _CARVE_TRIES - 1
            if attempt >= _CARVE_TRIES - 1:
                budget = 0
            elif exact:
                budget = _seams_without_steps(record, removed, start[3], steps_of, vertical,
                                              cur.shape[0] / th if vertical else cur.shape[1] / tw)
            else:
                budget = removed // 2
        plan.carved_vertical, plan.carved_horizontal = (removed, 0) if vertical else (0, removed)
    else:
        # free-aspect regime: where the policy asks, crop nearly empty margins, keeping the
        # aspect; then scale
        f = min(tw / w0, th / h0)
        if f < 1.0 and policy.free_crop_density is not None:
            best_x = _free_margin_share(cur_energy, (tw, th), policy.free_crop_density, 1.0 - f)
            if best_x > 0 and not (scale_whole is not None and scale_whole()):
                cw, ch = int(round(w0 * (1 - best_x))), int(round(h0 * (1 - best_x)))
                # the window of the margins by the importance and the held boxes but the keep
                # mask's; a keep mask that reaches past it marks the margin as not empty: no
                # crop (held, it had moved the window into the margin and cut 81 px of the
                # content on the other side; edge review 36)
                left, top = best_window(cur_energy, cw, ch,
                                        **_window_rules((None,) + tuple(protect[1:]), (cw, ch)))
                kept_box = protect[0]
                if kept_box is None or (left <= kept_box[0] and top <= kept_box[1]
                                        and kept_box[2] <= left + cw
                                        and kept_box[3] <= top + ch):
                    plan.margin_crop = (left, top, left + cw, top + ch)
                    crop(plan.margin_crop)
    return _scaled(cur, plan, source)


def _seams_without_steps(record, removed: int, source: np.ndarray, steps_of, vertical: bool,
                         scale: float) -> int:
    """The most of a carve's first ``removed`` seams whose kept pixels break the picture under
    :data:`MAX_SEAM_BREAKS` (stepped junctions, bent points and contour pixels together:
    :class:`~compress_core.seams.meter.StepMeter`), to within a sixteenth of them (bisection on
    the record's prefixes, measured on the whole carved picture, before any crop; 0 where
    even one seam does).

    ``record``: the :class:`~compress_core.seams.cheap.CheapCarve`; ``source``: the input's flat
    index of every pixel the carve started from; ``steps_of``: the input's
    :class:`~compress_core.seams.meter.StepMeter`; ``scale``: input pixels per output pixel
    across the seams."""
    flat = source.ravel()
    fewest, most = 0, removed  # no seams step nothing; ``removed`` step too much
    # to within a sixteenth of the seams (each step gathers the whole carved picture: 0.3 s
    # at 10 megapixels)
    while most - fewest > max(1, removed // 16):
        k = (fewest + most) // 2
        kept = flat[kept_sources(record.seams[:k], record.shape, record.vertical)]
        if steps_of(kept, vertical, scale) < MAX_SEAM_BREAKS:
            fewest = k
        else:
            most = k
    return fewest


def _scaled(cur: np.ndarray, plan: HybridPlan, source: Optional[np.ndarray]):
    """The last step: ``cur`` resampled to the plan's target, recorded in ``plan``."""
    tw, th = plan.target_size
    h1, w1 = cur.shape[:2]
    plan.scaled_from = (w1, h1)
    plan.squeeze = float((w1 / tw) / (h1 / th))
    plan.stretch = resampling_stretch(w1, h1, tw, th) * plan.seam_stretch
    out = resample(np.ascontiguousarray(cur), tw, th)
    return out, plan, source


def aspect_changes(size: Tuple[int, int], target: Tuple[int, int]) -> bool:
    """Whether ``target`` (width, height) changes the aspect of ``size``: it is more than a
    pixel off the input's aspect, in target pixels (:func:`compress_core.targets.plan_size`
    rounds aspect-keeping sizes to within one pixel)."""
    (w0, h0), (tw, th) = size, target
    return abs(tw - th * w0 / h0) > 1.0 and abs(th - tw * h0 / w0) > 1.0


def reads_importance(size: Tuple[int, int], target: Tuple[int, int],
                     policy: HybridPolicy) -> bool:
    """Whether the hybrid method reads the importance map of a ``size`` picture (the input's
    own size, not a working copy's, whose rounding may be a pixel off its aspect) made
    ``target``: where the aspect changes, or where a policy crops nearly empty margins before
    scaling (``free_crop_density``); the whole picture scaled reads none
    (:func:`resample_whole`)."""
    return aspect_changes(size, target) or (
        policy.free_crop_density is not None and min(target[0] / size[0],
                                                     target[1] / size[1]) < 1.0)


def resample_whole(pixels: np.ndarray, target: Tuple[int, int],
                   max_stretch: Optional[float] = None):
    """:func:`retarget` where it reads no importance map (:func:`reads_importance` false):
    the whole picture resampled to ``target``; returns what :func:`retarget` returns, the
    source None: every pixel stays in place, and the identity is not built (4 bytes per input
    pixel: 96 MB of a 24-megapixel photo on the job's default path)."""
    max_stretch = check_stretch(DEFAULT_MAX_STRETCH if max_stretch is None else max_stretch)
    h0, w0 = pixels.shape[:2]
    plan = HybridPlan(input_size=(w0, h0), target_size=tuple(target), max_stretch=max_stretch)
    return _scaled(pixels, plan, None)


#: Carving is retried with half the seams at most this many times while seams and squeeze stretch
#: what matters beyond ``max_stretch`` (then no carving at all); a retry is a prefix of the first
#: carve (:meth:`CheapCarve.fewer <compress_core.seams.cheap.CheapCarve.fewer>`), not a new one.
_CARVE_TRIES = 4

#: Carving is retried with fewer seams while the seams kept step strong, straight edges at this
#: many junctions or more (:func:`~compress_core.seams.breaks.seam_breaks`): of 118 carved
#: thumbnails of 35 photos, the 6 with 4.7 to 24 showed a step at 1x or 2x (a saucer's rim, mortar
#: lines, a roof), the 3 with 1 or 2 a faint one or none (session 32; ``bench_seam_breaks.py``).
#: Points where the seams bend a line along them (:func:`~compress_core.seams.breaks.seam_bends`)
#: count with the junctions (kodim06's horizon at 600x314: 19.5, seen at 1x; session 34), and
#: so does the length in output pixels of the contours the seams leave in smooth gradients, only
#: those that show (:func:`~compress_core.seams.bands.seam_bands`; kodim21's sky at 600x314: 482
#: px; any that shows is over the limit alone; session 35).
MAX_SEAM_BREAKS = 3

#: Radius of the neighbourhood over which :func:`seam_stretch` measures the local squeeze, as a
#: share of the input's long side (48 px of a 768 px photo): about a face in a portrait thumbnail,
#: and close to the radius over which the fidelity benchmark fits its local mappings.
STRETCH_RADIUS = 1 / 16
#: Side of the box over which :func:`seam_stretch` averages the importance, as a share of the long
#: side: seams run between the edges a contrast energy marks, not through them.
_WEIGHT_BOX = 1 / 24
#: Lines :func:`seam_stretch` samples along the seams (about this many; the measure is smooth).
_STRETCH_LINES = 128


def stretch_weights(importance: np.ndarray, vertical: bool) -> np.ndarray:
    """The importance as :func:`seam_stretch` weighs it, half made: averaged over its box
    across the seams' lines (oriented with the lines as rows, transposed for horizontal seams;
    float64); each measure then averages its sampled lines along themselves. Made once, it
    serves every measure of one carve (``seam_stretch(..., weights=)``): at 24 megapixels each
    measure otherwise filtered the whole map again (0.15 s)."""
    importance = np.asarray(importance, dtype=np.float64)
    box = max(1, int(round(max(importance.shape) * _WEIGHT_BOX)))
    oriented = importance if vertical else importance.T
    return ndimage.uniform_filter1d(oriented, box, axis=0, mode="nearest")


def seam_stretch(source: np.ndarray, importance: np.ndarray, vertical: bool,
                 weights: Optional[np.ndarray] = None) -> float:
    """Importance-weighted local stretch that carved seams leave behind.

    Seams keep the pixels' order, so along each line the kept pixels are an increasing subset of
    the input's. Around every input position ``x`` the kept pixels within ``x +- r`` (``r`` =
    :data:`STRETCH_RADIUS` of the input's long side), ``k`` of them from the first to the last
    one ``d`` positions apart, show the content there squeezed by ``d / (k - 1)``: 1 where no
    seam passed; a gap of removed pixels wider than the neighbourhood (a background carved away
    beside a subject, or cropped) is a cut, not a squeeze, as in a local fit of the mapping. The
    result is the geometric mean of that local stretch over the input's positions, weighted by
    their importance (averaged over a box of :data:`_WEIGHT_BOX` of the long side).

    Measuring per input position, over a neighbourhood, with the importance of the pixels the
    seams removed, is what makes the measure honest: seams follow the least important pixels, so
    a weight on the pixels they cut reads "flat" even inside a subject, and seams bunched in a
    narrow passage (all the seams of a sky funnelled through a gap in the rocks) squeeze many
    input pixels into few output pixels, which a mean over output pixels undercounts.

    Parameters
    ----------
    source : int (h, w)
        Flat input index (``y * W + x``) of every pixel after carving (and cropping).
    importance : (H, W)
        The input's importance map (energy); its width ``W`` splits the flat indices.
    vertical : bool
        Vertical seams (columns removed) or horizontal ones (rows removed).
    weights : float64 array, optional
        :func:`stretch_weights` of the same ``importance`` and ``vertical``, when the caller
        measures several carves of one input (the same result, the whole map filtered once).

    Returns
    -------
    float
        The stretch, >= 1.
    """
    importance = np.asarray(importance)
    width = importance.shape[1]
    source = source if vertical else np.asarray(source).T
    if source.shape[1] < 2:
        return 1.0
    r = max(1, int(round(max(importance.shape) * STRETCH_RADIUS)))
    lines = source[::max(1, source.shape[0] // _STRETCH_LINES)].astype(np.int64)
    coord, across = (lines % width, lines[:, 0] // width) if vertical else \
        (lines // width, lines[:, 0] % width)
    n = importance.shape[1] if vertical else importance.shape[0]
    # every sampled line's kept positions, offset per line, so one search serves all lines;
    # input positions every r/8 (the measure is smooth at that scale)
    offset = (np.arange(len(lines)) * (n + 2 * r + 2))[:, None]
    kept = (np.sort(coord, axis=1) + offset).ravel()
    step = max(1, r // 8)
    x = np.arange(0, n, step)[None, :] + offset
    lo = np.searchsorted(kept, x - r)  # first kept pixel within x - r
    hi = np.searchsorted(kept, x + r, side="right") - 1  # last one within x + r
    k = hi - lo + 1
    fits = k >= 2
    span = kept[np.where(fits, hi, 0)] - kept[np.where(fits, lo, 0)]
    log_s = np.log(np.maximum(span, 1) / np.maximum(k - 1, 1))
    box = max(1, int(round(max(importance.shape) * _WEIGHT_BOX)))
    if weights is None:
        weights = stretch_weights(importance, vertical)
    w = ndimage.uniform_filter1d(weights[across], box, axis=1, mode="nearest")  # box mean,
    w = w[:, ::step] * fits  # sampled
    total = float(w.sum())
    mean = float((w * log_s).sum() / total) if total > 0 else 0.0
    return float(np.exp(mean))


def _squeeze_crop(energy: np.ndarray, target_aspect: float, remaining: int, allowed: float,
                  vertical: bool, protect, rise: float = 0.0
                  ) -> Optional[Tuple[int, int, int, int]]:
    """The best-energy window that leaves the final resampling a squeeze of at most ``allowed``
    (>= 1) and removes at most ``remaining`` lines, holding ``protect`` (the kept pixels',
    the faces' and their cores' boxes, each None or ``(left, top, right, bottom)``, and the
    scene's faces' boxes: :func:`_window_rules`); None when no crop is needed. ``rise``: a
    banner's (:func:`~compress_core.crop.banner_rise`)."""
    h1, w1 = energy.shape
    allowed = max(1.0, allowed)
    if vertical:  # the widest width the resampling may squeeze into the target aspect
        # (min first: max_stretch=1e308 made the product inf, whose int() overflowed)
        keep = min(max(int(np.floor(min(h1 * target_aspect * allowed, w1))), w1 - remaining),
                   w1)
        if keep < w1:
            left, _ = best_window(energy, keep, h1, **_window_rules(protect, (keep, h1)))
            return (left, 0, left + keep, h1)
    else:
        keep = min(max(int(np.floor(min(w1 / target_aspect * allowed, h1))), h1 - remaining),
                   h1)
        if keep < h1:
            _, top = best_window(energy, w1, keep, rise=rise,
                                 **_window_rules(protect, (w1, keep)))
            return (0, top, w1, top + keep)
    return None

