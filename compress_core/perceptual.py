"""SSIMULACRA2, the perceptual score that quality targets are expressed in.

SSIMULACRA2 (Jon Sneyers, Cloudinary, 2022; the metric of the JPEG XL reference software) scores
a distorted image against its reference on 0..100: 90 is visually lossless, 80 impossible to tell
apart side by side, 70 high quality, 50 medium, 30 low; negative values are possible.

This is a float32 re-implementation of the PyPI package ``ssimulacra2`` (0.3.0, the reference
the tests compare against: within 0.25 point on real photos), written for the quality search:

* :class:`Reference` converts the reference once (XYB pyramid, its blurred mean and variance
  per scale) and scores any number of candidates against it;
* only the planes and scales whose published weights are not all zero are computed (the X and
  B planes at full resolution need only the ringing term: one blur instead of three);
* float32 Numba kernels (:mod:`compress_core._perceptual_kernels`): separable 11-tap Gaussian
  passes row by row, the candidate's moments blurred and pooled in one sweep, vectorised
  pooling; about 8 ms per 768x512 candidate on one core (the PyPI package: 500 ms).

As in the reference code: XYB colour space, 6 scales (halved by 2x2 box means in linear RGB),
Gaussian sigma 1.5 with zero padding above and below and mirrored sides, SSIM and edge
(ringing / blurring) maps pooled by their mean and 4-norm, and the published weights and
final polynomial. Two additions for inputs the reference cannot score: images with alpha are
blended over a dark (0.1) and a light (0.9) background and the lower score is kept (as the C++
tool does), and images under 32 pixels on a side are enlarged by the nearest pixel so that the
short side is 32 (the reference skips the scales under 8 pixels, and scores an image under 8
pixels 100 whatever the distortion; the long side grows by the same factor up to 4096 pixels,
so that memory stays bounded).

Two departures below 225 pixels on the short side, where fewer than 6 scales exist (5 from 113
pixels, 4 from 57, 3 below):

* each published weight stays with its channel, scale and term. The package (like libjxl's
  tool) reads the weights in sequence over the scales present, so the weights of X's coarse
  scales land on Y's fine ones, and so on: a 160 px thumbnail scored so harshly that
  ``quality="auto"`` chose JPEG quality 97, 3x the bytes of quality 85, where the same photos
  at 384 px got 74. With 6 scales the two readings are the same; the tests compare the small
  sizes with the package's own terms weighted per scale.
* under 113 pixels (3 or 4 scales) the weighted sum stands in for the missing coarse scales:
  it is multiplied by the ratio that the full sum bears to the sum over the first 3 or 4
  scales on real photos (:data:`_MISSING_SCALES`). Read alone, the scales present scored 2.7
  (4 scales) to 4.6 points (3) above the full score of the same photo and encoding, so a 96 px
  thumbnail got JPEG quality 48-53 on the hardest photos, visibly smeared. The 5th scale is the
  last with weights (the 6th's are 3e-6 of the total weight), so 5 scales need no factor.

Both are measured in BENCHMARKS.md, "quality=auto on small pictures".
"""
from __future__ import annotations

import collections
from typing import Optional

import numpy as np

from ._fork_locks import ForkSafeLock
from . import _perceptual_kernels as kernels
from .colour import srgb_view
from .pixels import check_rgb8, has_transparency

__all__ = ["Reference", "ssimulacra2"]

_NUM_SCALES = 6
_MIN_SIDE = 8
_SMALL_SIDE = 32
_SIGMA = 1.5
_TRUNCATE = 3.33
_C2 = np.float32(0.0009)
#: Backgrounds (linear grey) that pictures with alpha are blended over; the lower score counts.
_BACKGROUNDS = (0.1, 0.9)
_BIAS = 0.0037930732552754493
_OPSIN = np.array([[0.30, 0.622, 0.078],
                   [0.23, 0.692, 0.078],
                   [0.24342268924547819, 0.20476744424496821,
                    1.0 - 0.24342268924547819 - 0.20476744424496821]], np.float32)
_CBRT_BIAS = np.float32(np.cbrt(_BIAS))

# weights[c][scale][n][k]: channel (X, Y, B), scale, pooling norm (1, 4), term (ssim, ringing,
# blurring); the 108 published values in the reference order.
_WEIGHTS = np.array([
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0, 0.0004371155730107379,
    0.0, 1.1041726426657346, 0.00066284834129271, 0.00015231632783718752, 0.0,
    0.0016406437456599754, 0.0, 1.8422455520539298, 11.441172603757666, 0.0,
    0.0007989109436015163, 0.000176816438078653, 0.0, 1.8787594979546387, 10.94906990605142, 0.0,
    0.0007289346991508072, 0.9677937080626833, 0.0, 0.00014003424285435884, 0.9981766977854967,
    0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398, 0.0, 0.0,
    0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262, 0.0006235601634041466, 0.0, 0.0,
    6.683678146179332, 0.00037724407979611296, 1.027889937768264, 225.20515300849274, 0.0, 0.0,
    19.213238186143016, 0.0011401524586618361, 0.001237755635509985, 176.39317598450694, 0.0,
    0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0,
    34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0,
    0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
    0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862,
    23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682, 0.9834382792465353,
    0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537,
])


def _weights(scales: int) -> np.ndarray:
    """The weights (3, scales, 2, 3) of a pyramid of ``scales`` scales: each channel's first
    ``scales`` scales (a small image has no coarse scales; their weights go unused)."""
    return _WEIGHTS.reshape(3, 6, 2, 3)[:, :scales]


#: Scales present -> the factor on their weighted sum that stands in for the missing ones: the
#: median ratio of the full weighted sum to the sum over the first 3 or 4 scales, measured by
#: ``bench_bytes.py --sections small`` on the Kodak, scikit-image and scikit-learn photos at
#: 512 px coded by JPEG, WebP, AVIF and JPEG XL to scores 55-85 (301 encodings; 10th-90th
#: percentile 1.21-1.47 and 1.11-1.26; per encoder 1.27-1.35 and 1.16-1.19). With 5 or 6
#: scales nothing is missing that carries weight.
_MISSING_SCALES = {3: 1.31, 4: 1.17}


def _used(scales: int) -> np.ndarray:
    """``[c, scale]`` -> (ssim, ringing, blurring) terms with a non-zero weight (either norm),
    for a pyramid of ``scales`` scales. The X and B planes at full resolution need only the
    ringing term, which saves 4 of 9 blurs there."""
    return (_weights(scales) != 0).any(axis=2)


_SRGB_TO_LINEAR = np.where(
    np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92,
    ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _linear(pixels: np.ndarray, background: float | None, out: np.ndarray) -> np.ndarray:
    """uint8 sRGB (H, W, 3|4) -> float32 linear RGB planes ``out`` (3, H, W), alpha blended
    over ``background``."""
    if background is None or pixels.shape[2] == 3:
        kernels.srgb_to_linear(np.ascontiguousarray(pixels), _SRGB_TO_LINEAR, out)
        return out
    rgb = pixels[..., :3].astype(np.float32) / np.float32(255.0)
    alpha = pixels[..., 3:4].astype(np.float32) / np.float32(255.0)
    rgb = alpha * rgb + (1 - alpha) * np.float32(background)
    linear = np.where(rgb <= 0.04045, rgb / np.float32(12.92),
                      ((rgb + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4))
    out[...] = linear.transpose(2, 0, 1)
    return out


def _to_xyb(planes: np.ndarray) -> np.ndarray:
    """Linear RGB planes (3, H, W) -> the positive XYB planes SSIMULACRA2 compares, in place."""
    kernels.opsin_mix(planes, _OPSIN, np.float32(_BIAS))
    kernels.cbrt_planes(planes, planes.view(np.uint32), np.empty(planes.shape[2], np.float32))
    kernels.xyb_from_cbrt(planes, _CBRT_BIAS)
    return planes


def _scale_shapes(height: int, width: int) -> list:
    """(3, h, w) of each scale of the pyramid: halving (rounding up) while both sides are at
    least 8, at most 6 scales."""
    shapes = []
    while len(shapes) < _NUM_SCALES and height >= _MIN_SIDE and width >= _MIN_SIDE:
        shapes.append((3, height, width))
        height, width = (height + 1) // 2, (width + 1) // 2
    return shapes


def _xyb_pyramid(linear: np.ndarray, planes: list):
    """The XYB planes of each scale, from linear RGB planes of full resolution (``planes[0]``,
    converted in place). Each scale is downsampled into ``planes[i + 1]`` (linear RGB) before
    its own planes turn XYB."""
    for index in range(len(planes)):
        if index + 1 < len(planes):
            kernels.downsample(linear, planes[index + 1])
        yield _to_xyb(linear)
        if index + 1 < len(planes):
            linear = planes[index + 1]


_GAUSS = np.exp(-0.5 * (np.arange(-5, 6) / _SIGMA) ** 2)
_GAUSS = (_GAUSS / _GAUSS.sum()).astype(np.float32)  # scipy's kernel for sigma 1.5, truncate 3.33


def _final(terms: np.ndarray, scales: int) -> float:
    """Weighted sum of the pooled terms (3, scales, 2, 3), standing in for the missing scales
    under 5 (:data:`_MISSING_SCALES`) -> the 0..100 score."""
    value = float(np.sum(_weights(scales) * np.abs(terms))) * _MISSING_SCALES.get(scales, 1.0)
    value *= 0.9562382616834844
    value = (2.326765642916932 * value - 0.020884521182843837 * value ** 2
             + 6.248496625763138e-05 * value ** 3)
    return 100.0 - 10.0 * value ** 0.6276336467831387 if value > 0 else 100.0


class _Scale:
    """What one scale of the reference contributes to every comparison: its XYB planes minus
    their means (``offset``), their blurred moments, and the blur of ones (``edge``).

    ``needed`` (3, 3): per plane, which (ssim, ringing, blurring) terms carry a weight; the
    blurred mean is kept for planes with any term, the blurred square only for SSIM (else
    ``sq[c]`` is ``mu[c]``, never read)."""

    __slots__ = ("xyb", "offset", "mu", "sq", "edge")

    def __init__(self, xyb: np.ndarray, needed: np.ndarray):
        self.offset = xyb.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
        xyb -= self.offset[:, None, None]  # centred in place: the array is ours
        self.xyb = xyb
        self.mu = [None] * 3
        self.sq = [None] * 3
        for c in range(3):
            if needed[c].any():
                self.mu[c] = np.empty_like(xyb[c])
                self.sq[c] = np.empty_like(xyb[c]) if needed[c, 0] else self.mu[c]
                kernels.blur_moments(xyb[c], _GAUSS, self.mu[c], self.sq[c], bool(needed[c, 0]))
        self.edge = kernels.edge_weights(xyb.shape[2], _GAUSS)


#: Longest side an enlarged small image's long side may reach (it is never shrunk).
_ENLARGED_MAX_SIDE = 4096


def _enlarge_small(pixels: np.ndarray) -> np.ndarray:
    """Images under 32 pixels on a side, enlarged by the nearest pixel so that the short side
    is 32 (the score then has 3 scales to look at) and the long side by the same factor, up to
    :data:`_ENLARGED_MAX_SIDE` (a 1 x 20000 strip enlarged on both axes was 32 x 640000 pixels:
    1.6 GB and 9 s to score; its long side stays 20000 now).

    The factor is 32 / short side, not the next integer: repeating each pixel twice made a 31
    px picture a magnified view of itself (its content on the pyramid's heavier scales), so
    ``quality="auto"`` chose JPEG quality 89 at 31 px and 64.5 at 32 px (Kodak medians; 1.5x
    the bytes), and a 1 x 128 strip scored 64 points below a 1 x 129 one. With a factor that
    tends to 1, scores change smoothly across 32 px and across the long side's limit."""
    h, w = pixels.shape[:2]
    side = min(h, w)
    if side >= _SMALL_SIDE:
        return pixels
    factor = _SMALL_SIDE / side

    def grown(n: int) -> int:
        return _SMALL_SIDE if n == side else max(n, min(round(n * factor), _ENLARGED_MAX_SIDE))

    new_h, new_w = grown(h), grown(w)
    rows = ((np.arange(new_h) + 0.5) * (h / new_h)).astype(np.intp)
    cols = ((np.arange(new_w) + 0.5) * (w / new_w)).astype(np.intp)
    return pixels[rows[:, None], cols[None, :]]


class _PlanePool:
    """Candidate planes (one float32 (3, h, w) array per scale) kept between scores, of this
    and later references of the same size: fresh plane-sized arrays for every candidate cost
    ~2300 page faults on a 768x512 picture (as much time as the arithmetic) and churn the
    allocator for the encoder's buffers too. At most ``limit`` bytes are kept (64 MiB: ten
    768x512 sets), the sets given back last; thread-safe (each score takes a set of its own).
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._free = collections.OrderedDict()  # shapes -> [plane sets], least recent first
        self._lock = ForkSafeLock()

    def take(self, shapes: list) -> list:
        key = tuple(shapes)
        with self._lock:
            sets = self._free.get(key)
            if sets:
                planes = sets.pop()
                if not sets:
                    del self._free[key]
                return planes
        return [np.empty(shape, np.float32) for shape in shapes]

    def give(self, shapes: list, planes: list) -> None:
        size = sum(p.nbytes for p in planes)
        if size > self.limit:
            return
        key = tuple(shapes)
        with self._lock:
            self._free.setdefault(key, []).append(planes)
            self._free.move_to_end(key)
            held = sum(p.nbytes for sets in self._free.values() for ps in sets for p in ps)
            while held > self.limit:
                oldest = next(iter(self._free))
                sets = self._free[oldest]
                held -= sum(p.nbytes for p in sets.pop(0))
                if not sets:
                    del self._free[oldest]


_PLANES = _PlanePool(64 << 20)


class Reference:
    """A reference image prepared once, to score many candidates against it.

    Parameters
    ----------
    pixels : ndarray, uint8 (H, W, 3) or (H, W, 4)
        The reference. With alpha, candidates are scored over a dark and a light
        background and the lower score counts; so is a candidate with alpha against an opaque
        reference (a candidate without alpha is opaque).
    icc_profile : bytes, optional
        The RGB profile the pixels (the reference's and every candidate's) carry: both are
        scored as sRGB, converted through it as a colour-managed viewer shows them
        (:func:`~compress_core.colour.srgb_view`; nothing to convert for an sRGB profile or
        none). Read as sRGB, Adobe RGB photos at JPEG and WebP had scored 70.1-71.1 where
        they show 67.1-68.5 (colour review 26).

    Raises
    ------
    ValueError
        ``pixels`` is not a non-empty uint8 RGB(A) array.
    """

    def __init__(self, pixels: np.ndarray, icc_profile: Optional[bytes] = None):
        pixels = check_rgb8(pixels, "reference")
        self.shape = pixels.shape
        self._pixels = pixels.copy()  # a candidate equal to it scores 100 exactly
        self._shown = srgb_view(icc_profile)
        if self._shown is not None:
            pixels = self._shown(pixels)
        pixels = _enlarge_small(pixels)
        self._shapes = _scale_shapes(*pixels.shape[:2])
        needed = _used(len(self._shapes))
        # a picture whose candidate planes the shared pool does not keep (over 64 MiB: above
        # about 4 megapixels) keeps its candidates' sets in a pool of its own while it lives: a
        # search scores several, and fresh planes for each cost page faults (a 24-megapixel
        # JPEG's quality="auto" search: 5.0-5.3 s of CPU, 4.2-4.3 s with its own set;
        # BENCHMARKS.md, "Large photos")
        too_large = 4 * sum(int(np.prod(shape)) for shape in self._shapes) > _PLANES.limit
        self._planes = _PlanePool(float("inf")) if too_large else _PLANES
        self._pyramids = {}
        for bg in (_BACKGROUNDS if pixels.shape[2] == 4 else (None,)):
            planes = [np.empty(shape, np.float32) for shape in self._shapes]
            linear = _linear(pixels, bg, planes[0])
            self._pyramids[bg] = [_Scale(xyb, needed[:, index]) for index, xyb
                                  in enumerate(_xyb_pyramid(linear, planes))]

    def score(self, candidate: np.ndarray) -> float:
        """SSIMULACRA2 of ``candidate`` (same shape as the reference) against the reference.

        Raises
        ------
        ValueError
            ``candidate`` is not uint8 RGB(A) of the reference's height and width.
        """
        candidate = check_rgb8(candidate, "candidate")
        if candidate.shape[:2] != self.shape[:2]:
            raise ValueError(f"candidate is {candidate.shape[1]}x{candidate.shape[0]}, the "
                             f"reference {self.shape[1]}x{self.shape[0]}; they must match")
        if candidate.shape == self._pixels.shape and np.array_equal(candidate, self._pixels):
            # the score's float32 arithmetic leaves 1e-9..1e-7 below 100 here, and a lossless
            # encoding (quality="auto"'s way up) would miss target_quality=100 (0.15 ms, 2% of
            # a 768x512 score)
            return 100.0
        if self._shown is not None:
            candidate = self._shown(candidate)
        candidate = _enlarge_small(candidate)
        pyramids = list(self._pyramids.items())
        if None in self._pyramids and has_transparency(candidate):
            # an opaque reference, a candidate with alpha: what shows through counts too
            pyramids = [(bg, self._pyramids[None]) for bg in _BACKGROUNDS]
        planes = self._planes.take(self._shapes)
        try:
            return min(self._score(pyramid, _linear(candidate, bg, planes[0]), planes)
                       for bg, pyramid in pyramids)
        finally:
            self._planes.give(self._shapes, planes)

    @staticmethod
    def _score(pyramid: list, linear: np.ndarray, planes: list) -> float:
        terms = np.zeros((3, len(pyramid), 2, 3))
        sums = np.zeros(6)
        needed = _used(len(pyramid))
        for index, (ref, img) in enumerate(zip(pyramid, _xyb_pyramid(linear, planes))):
            count = img.shape[1] * img.shape[2]
            for c in range(3):
                used = needed[c, index]
                if not used.any():  # no published weight reads this plane at this scale
                    continue
                kernels.compare_plane(ref.xyb[c], ref.mu[c], ref.sq[c], img[c], ref.offset[c],
                                      ref.edge, _GAUSS, _C2, bool(used[0]), sums)
                means = sums / count
                terms[c, index, 0] = means[0::2]
                terms[c, index, 1] = means[1::2] ** 0.25
        return _final(terms, len(pyramid))


def ssimulacra2(reference: np.ndarray, candidate: np.ndarray) -> float:
    """SSIMULACRA2 score of ``candidate`` against ``reference`` (same-size uint8 RGB(A)).

    For several candidates of one reference, build a :class:`Reference` once instead.
    """
    return Reference(reference).score(candidate)
