"""Numba kernels of the SSIMULACRA2 score (:mod:`compress_core.perceptual`).

Planes are C-contiguous float32 ``(H, W)`` with ``H, W >= 8``. The Gaussian is separable: a
horizontal pass with zeros beyond the sides, then a vertical pass mirrored at the top and bottom
(scipy's ``"reflect"``: ``d c b a | a b c d``), as the reference package blurs. Arithmetic is
float32 (sums over a plane in float64). The tests compare the score with the PyPI package.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)
_QUARTER = np.float32(0.25)


@njit(cache=True, fastmath=True)
def _horizontal(src, weights, out):
    """Zero-padded horizontal pass of ``src`` into ``out``."""
    height, width = src.shape
    radius = weights.shape[0] // 2
    pad = np.zeros(width + 2 * radius, np.float32)
    for y in range(height):
        pad[radius:radius + width] = src[y]
        dst = out[y]
        dst[:] = _ZERO
        for k in range(2 * radius + 1):
            w = weights[k]
            for x in range(width):
                dst[x] += w * pad[x + k]


@njit(cache=True, fastmath=True)
def _vertical(src, weights, out):
    """Mirrored vertical pass (``H > radius``)."""
    height, width = src.shape
    radius = weights.shape[0] // 2
    for y in range(height):
        dst = out[y]
        dst[:] = _ZERO
        for k in range(-radius, radius + 1):
            row = y + k
            if row < 0:
                row = -row - 1
            elif row >= height:
                row = 2 * height - row - 1
            w = weights[k + radius]
            line = src[row]
            for x in range(width):
                dst[x] += w * line[x]


@njit(cache=True, fastmath=True)
def _blur(src, weights, tmp, out):
    _horizontal(src, weights, tmp)
    _vertical(tmp, weights, out)


@njit(cache=True, fastmath=True)
def blur_moments(src, weights, mu, sq):
    """Blurred ``src`` and ``src**2`` (the reference's mean and second moment)."""
    tmp = np.empty_like(src)
    _blur(src, weights, tmp, mu)
    _blur(src * src, weights, tmp, sq)


@njit(cache=True, fastmath=True, inline="always")
def _edge_pixel(value, mean, ref_value, ref_mean, shift):
    """Ringing and blurring of one pixel and their 4th powers: the relative change of the
    detail ``|x - blur(x)|`` (shifted back to the uncentred plane) from reference to candidate.
    """
    ratio = (_ONE + abs(value - mean + shift)) / (_ONE + abs(ref_value - ref_mean + shift)) - _ONE
    ring = max(ratio, _ZERO)
    blur = max(-ratio, _ZERO)
    r2 = ring * ring
    b2 = blur * blur
    return ring, r2 * r2, blur, b2 * b2


@njit(cache=True, fastmath=True)
def compare_plane(ref, ref_mu, ref_sq, img, offset, edge, weights, c2, with_ssim, sums):
    """Pooled SSIM and edge-difference terms of one candidate plane against the reference's.

    ``ref``, ``ref_mu`` and ``ref_sq`` are the reference plane minus ``offset`` (its mean) and
    that plane's blurred moments; ``img`` is the candidate plane (not centred). Two rewrites keep
    float32 exact where it matters:

    * centring keeps the variances' cancellation small; ``edge`` (W,) is the blur of a plane of
      ones (below 1 near the zero-padded sides), which restores the exact uncentred moments
      there: with ``x = x' + c`` and ``b = blur(1)``, ``blur(x) = blur(x') + c b`` and
      ``blur(x y) - blur(x) blur(y) = [blur(x' y') - blur(x') blur(y')]
      + c (blur(x') + blur(y')) (1 - b) + c^2 b (1 - b)``;
    * the SSIM term ``1 - (1 - dm^2) num / den`` is computed as ``(D + dm^2 num) / den`` with
      ``D = den - num = blur((x - y)^2) - dm^2`` (``dm`` the difference of the means), so a
      candidate equal to the reference scores exactly 0 instead of float32 noise.

    ``sums`` (6,) float64 receives the sums of: ssim, ssim**4, ringing, ringing**4, blurring,
    blurring**4 over the plane (the caller divides by the pixel count). ``with_ssim=False``
    skips the SSIM terms (left 0) and their two blurs: the published weights of some planes
    and scales use only the edge terms.
    """
    height, width = img.shape
    centred = img - offset
    tmp = np.empty_like(img)
    mu = np.empty_like(img)
    _blur(centred, weights, tmp, mu)
    for i in range(6):
        sums[i] = 0.0
    if not with_ssim:
        _edge_terms(ref, ref_mu, centred, mu, offset, edge, sums)
        return
    delta = centred - ref
    sq = np.empty_like(img)
    dsq = np.empty_like(img)
    _blur(centred * centred, weights, tmp, sq)
    _blur(delta * delta, weights, tmp, dsq)
    c2 = np.float32(c2)
    for y in range(height):
        s0 = _ZERO
        s1 = _ZERO
        s2 = _ZERO
        s3 = _ZERO
        s4 = _ZERO
        s5 = _ZERO
        for x in range(width):
            b = edge[x]
            shift = offset * (_ONE - b)
            extra = offset * shift * b
            m1 = ref_mu[y, x]
            m2 = mu[y, x]
            diff = m1 - m2
            diff2 = diff * diff
            var1 = ref_sq[y, x] - m1 * m1 + _TWO * m1 * shift + extra
            var2 = sq[y, x] - m2 * m2 + _TWO * m2 * shift + extra
            den_s = var1 + var2 + c2
            gap = dsq[y, x] - diff2
            num_s = den_s - gap
            d = max((gap + diff2 * num_s) / den_s, _ZERO)
            d2 = d * d
            s0 += d
            s1 += d2 * d2
            ring, ring4, blur, blur4 = _edge_pixel(centred[y, x], m2, ref[y, x], m1, shift)
            s2 += ring
            s3 += ring4
            s4 += blur
            s5 += blur4
        sums[0] += s0
        sums[1] += s1
        sums[2] += s2
        sums[3] += s3
        sums[4] += s4
        sums[5] += s5


@njit(cache=True, fastmath=True)
def _edge_terms(ref, ref_mu, centred, mu, offset, edge, sums):
    """The ringing and blurring sums alone (see :func:`compare_plane`)."""
    height, width = centred.shape
    for y in range(height):
        s2 = _ZERO
        s3 = _ZERO
        s4 = _ZERO
        s5 = _ZERO
        for x in range(width):
            shift = offset * (_ONE - edge[x])
            ring, ring4, blur, blur4 = _edge_pixel(centred[y, x], mu[y, x], ref[y, x],
                                                   ref_mu[y, x], shift)
            s2 += ring
            s3 += ring4
            s4 += blur
            s5 += blur4
        sums[2] += s2
        sums[3] += s3
        sums[4] += s4
        sums[5] += s5


def edge_weights(width: int, weights) -> np.ndarray:
    """The horizontal blur of a row of ones (zeros beyond the sides), float32 (W,)."""
    ones = np.ones((1, width), np.float32)
    out = np.empty_like(ones)
    _horizontal(ones, weights, out)
    return out[0]


@njit(cache=True, fastmath=True)
def downsample(src):
    """2x2 box means of (H, W, 3) float32; partial edge blocks average what they have."""
    height, width, channels = src.shape
    out_h, out_w = (height + 1) // 2, (width + 1) // 2
    out = np.empty((out_h, out_w, channels), np.float32)
    for oy in range(out_h):
        y0 = 2 * oy
        y1 = min(y0 + 1, height - 1)
        for ox in range(out_w):
            x0 = 2 * ox
            x1 = min(x0 + 1, width - 1)
            for c in range(channels):
                out[oy, ox, c] = _QUARTER * (src[y0, x0, c] + src[y0, x1, c]
                                             + src[y1, x0, c] + src[y1, x1, c])
    return out


@njit(cache=True, fastmath=True)
def opsin_mix(linear, opsin, bias):
    """Linear RGB (H, W, 3) -> the three opsin mixtures (3, H, W), clamped at zero."""
    height, width = linear.shape[:2]
    out = np.empty((3, height, width), np.float32)
    for y in range(height):
        for x in range(width):
            r = linear[y, x, 0]
            g = linear[y, x, 1]
            b = linear[y, x, 2]
            for c in range(3):
                out[c, y, x] = max(opsin[c, 0] * r + opsin[c, 1] * g + opsin[c, 2] * b + bias,
                                   _ZERO)
    return out


@njit(cache=True, fastmath=True)
def xyb_from_cbrt(mixed, cbrt_bias):
    """Cube roots of the opsin mixtures (3, H, W) -> positive XYB, in place."""
    half = np.float32(0.5)
    height, width = mixed.shape[1:]
    for y in range(height):
        for x in range(width):
            m0 = mixed[0, y, x] - cbrt_bias
            m1 = mixed[1, y, x] - cbrt_bias
            m2 = mixed[2, y, x] - cbrt_bias
            mixed[0, y, x] = (m0 - m1) * np.float32(7.0) + np.float32(0.42)
            mixed[1, y, x] = (m0 + m1) * half + np.float32(0.01)
            mixed[2, y, x] = m2 - (m0 + m1) * half + np.float32(0.55)
