"""Numba kernels of the SSIMULACRA2 score (:mod:`compress_core.perceptual`).

Planes are C-contiguous float32 ``(H, W)`` with ``H, W >= 8``. The Gaussian (11 taps) is separable and
symmetric: a horizontal pass with zeros beyond the sides, then a vertical pass mirrored at the
top and bottom (scipy's ``"reflect"``: ``d c b a | a b c d``), as the reference package blurs.
Arithmetic is float32 (sums over a plane in float64). The tests compare the score with the PyPI
package.

The blur passes work row by row (:func:`_hrow`, :func:`_vrow`) so that a comparison blurs
the candidate's three moments in one sweep and pools each output row while it is in cache,
without whole-plane temporaries (rings of the last 16 rows of the horizontal pass). They are
compiled without ``fastmath``: IEEE arithmetic gives the same bits wherever LLVM inlines them,
so a candidate equal to the reference gets exactly the reference's blurred mean. It still
scores 1e-9..1e-7 below 100: the ringing and blurring terms of the X and B planes at full
resolution (the planes without SSIM) keep 1e-12..1e-9 of float32 noise, so
:meth:`~compress_core.perceptual.Reference.score` answers an equal candidate itself.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)
_QUARTER = np.float32(0.25)
# fastmath without "arcp" (divisions stay exact, not reciprocal estimates) and "afn"; the
# "numpy" error model lets the pooling loops vectorise (Python's raises on a division by zero:
# a branch per division; the denominators here are at least c2 and 1).
_FAST = {"nnan", "ninf", "nsz", "reassoc", "contract"}
_RADIUS = 5  # the Gaussian has 11 taps (sigma 1.5, truncated at 3.33 sigma)
_RING = 16  # rows of horizontal-pass results kept while the vertical pass runs (11 in use)


@njit(cache=True)
def _hrow(pad, weights, out):
    """One row of the horizontal pass: ``pad`` is the row with 5 zeros on each side. The
    11 taps are written out (a loop over the taps does not vectorise as well: 5x slower);
    mirrored taps are added before the multiply (the kernel is symmetric)."""
    w0 = weights[5]
    w1 = weights[6]
    w2 = weights[7]
    w3 = weights[8]
    w4 = weights[9]
    w5 = weights[10]
    for x in range(out.shape[0]):
        out[x] = (w0 * pad[x + 5] + w1 * (pad[x + 4] + pad[x + 6])
                  + w2 * (pad[x + 3] + pad[x + 7]) + w3 * (pad[x + 2] + pad[x + 8])
                  + w4 * (pad[x + 1] + pad[x + 9]) + w5 * (pad[x] + pad[x + 10]))


@njit(cache=True)
def _mirror(row, height):
    """Row index mirrored into 0..height-1 (``d c b a | a b c d``)."""
    if row < 0:
        return -row - 1
    if row >= height:
        return 2 * height - row - 1
    return row


@njit(cache=True)
def _vrow(src, y, height, weights, out):
    """Row ``y`` of the vertical pass, mirrored at the top and bottom of a plane of ``height``
    rows (``height > 5``) whose horizontal pass is held in ``src``: row ``r`` at
    ``src[r % len(src)]`` (the whole plane, or a ring of the last :data:`_RING` rows)."""
    ring = src.shape[0]
    w0 = weights[5]
    w1 = weights[6]
    w2 = weights[7]
    w3 = weights[8]
    w4 = weights[9]
    w5 = weights[10]
    c = src[y % ring]
    a1 = src[_mirror(y - 1, height) % ring]
    b1 = src[_mirror(y + 1, height) % ring]
    a2 = src[_mirror(y - 2, height) % ring]
    b2 = src[_mirror(y + 2, height) % ring]
    a3 = src[_mirror(y - 3, height) % ring]
    b3 = src[_mirror(y + 3, height) % ring]
    a4 = src[_mirror(y - 4, height) % ring]
    b4 = src[_mirror(y + 4, height) % ring]
    a5 = src[_mirror(y - 5, height) % ring]
    b5 = src[_mirror(y + 5, height) % ring]
    for x in range(out.shape[0]):
        out[x] = (w0 * c[x] + w1 * (a1[x] + b1[x]) + w2 * (a2[x] + b2[x])
                  + w3 * (a3[x] + b3[x]) + w4 * (a4[x] + b4[x]) + w5 * (a5[x] + b5[x]))


@njit(cache=True)
def _centre_row(row, offset, out):
    """``out = row - offset`` (IEEE, as numpy subtracts the reference's mean)."""
    for x in range(out.shape[0]):
        out[x] = row[x] - offset


@njit(cache=True, fastmath=True)
def blur_moments(src, weights, mu, sq, with_sq):
    """Blurred ``src`` into ``mu`` and, when ``with_sq``, blurred ``src**2`` into ``sq`` (the
    reference's mean and second moment)."""
    height, width = src.shape
    pad = np.zeros(width + 2 * _RADIUS, np.float32)
    pad2 = np.zeros(width + 2 * _RADIUS, np.float32)
    hmu = np.empty((_RING, width), np.float32)
    hsq = np.empty((_RING, width), np.float32)
    due = 0  # the next row whose horizontal pass is due
    for y in range(height):
        while due <= min(y + _RADIUS, height - 1):
            row = src[due]
            for x in range(width):
                v = row[x]
                pad[_RADIUS + x] = v
                pad2[_RADIUS + x] = v * v
            _hrow(pad, weights, hmu[due % _RING])
            if with_sq:
                _hrow(pad2, weights, hsq[due % _RING])
            due += 1
        _vrow(hmu, y, height, weights, mu[y])
        if with_sq:
            _vrow(hsq, y, height, weights, sq[y])


@njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _edge_pixel(value, mean, ref_value, ref_mean, shift):
    """Ringing and blurring of one pixel and their 4th powers: the relative change of the
    detail ``|x - blur(x)|`` (shifted back to the uncentred plane) from reference to candidate,
    ``(1 + |d|) / (1 + |d_ref|) - 1`` written as ``(|d| - |d_ref|) / (1 + |d_ref|)`` (exactly 0
    where the details are equal).
    """
    ref_detail = abs(ref_value - ref_mean + shift)
    ratio = (abs(value - mean + shift) - ref_detail) / (_ONE + ref_detail)
    ring = max(ratio, _ZERO)
    blur = max(-ratio, _ZERO)
    r2 = ring * ring
    b2 = blur * blur
    return ring, r2 * r2, blur, b2 * b2


@njit(cache=True, fastmath=_FAST, error_model="numpy")
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

    One sweep: each row's horizontal pass of the candidate's moments (centred, its square, the
    square of its difference to the reference) goes into a ring of the last :data:`_RING` rows,
    and each output row of the vertical pass is pooled at once: no plane-sized temporaries.
    """
    height, width = img.shape
    radius = _RADIUS
    c2 = np.float32(c2)
    pad = np.zeros(width + 2 * radius, np.float32)
    pad2 = np.zeros(width + 2 * radius, np.float32)
    pad3 = np.zeros(width + 2 * radius, np.float32)
    centred = np.empty(width, np.float32)
    hmu = np.empty((_RING, width), np.float32)
    hsq = np.empty((_RING, width), np.float32)
    hdsq = np.empty((_RING, width), np.float32)
    mu = np.empty(width, np.float32)
    sq = np.empty(width, np.float32)
    dsq = np.empty(width, np.float32)
    for i in range(6):
        sums[i] = 0.0
    due = 0  # the next row whose horizontal pass is due
    for y in range(height):
        while due <= min(y + radius, height - 1):
            _centre_row(img[due], offset, centred)
            pad[radius:radius + width] = centred
            _hrow(pad, weights, hmu[due % _RING])
            if with_ssim:
                ref_row = ref[due]
                for x in range(width):
                    c = centred[x]
                    d = c - ref_row[x]
                    pad2[radius + x] = c * c
                    pad3[radius + x] = d * d
                _hrow(pad2, weights, hsq[due % _RING])
                _hrow(pad3, weights, hdsq[due % _RING])
            due += 1
        _centre_row(img[y], offset, centred)
        _vrow(hmu, y, height, weights, mu)
        ref_row = ref[y]
        ref_mu_row = ref_mu[y]
        s2 = _ZERO
        s3 = _ZERO
        s4 = _ZERO
        s5 = _ZERO
        if with_ssim:
            _vrow(hsq, y, height, weights, sq)
            _vrow(hdsq, y, height, weights, dsq)
            ref_sq_row = ref_sq[y]
            s0 = _ZERO
            s1 = _ZERO
            for x in range(width):
                b = edge[x]
                shift = offset * (_ONE - b)
                extra = offset * shift * b
                m1 = ref_mu_row[x]
                m2 = mu[x]
                diff = m1 - m2
                diff2 = diff * diff
                var1 = ref_sq_row[x] - m1 * m1 + _TWO * m1 * shift + extra
                var2 = sq[x] - m2 * m2 + _TWO * m2 * shift + extra
                den_s = var1 + var2 + c2
                gap = dsq[x] - diff2
                num_s = den_s - gap
                d = max((gap + diff2 * num_s) / den_s, _ZERO)
                d2 = d * d
                s0 += d
                s1 += d2 * d2
                ring, ring4, blur, blur4 = _edge_pixel(centred[x], m2, ref_row[x], m1, shift)
                s2 += ring
                s3 += ring4
                s4 += blur
                s5 += blur4
            sums[0] += s0
            sums[1] += s1
        else:
            for x in range(width):
                shift = offset * (_ONE - edge[x])
                ring, ring4, blur, blur4 = _edge_pixel(centred[x], mu[x], ref_row[x],
                                                       ref_mu_row[x], shift)
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
    radius = _RADIUS
    pad = np.zeros(width + 2 * radius, np.float32)
    pad[radius:radius + width] = 1.0
    out = np.empty(width, np.float32)
    _hrow(pad, weights, out)
    return out


@njit(cache=True, fastmath=True)
def downsample(src, out):
    """2x2 box means of planes (3, H, W) float32 into ``out`` (3, ceil(H/2), ceil(W/2));
    partial edge blocks average what they have."""
    channels, height, width = src.shape
    out_w = out.shape[2]
    for c in range(channels):
        for oy in range(out.shape[1]):
            top = src[c, 2 * oy]
            bottom = src[c, min(2 * oy + 1, height - 1)]
            dst = out[c, oy]
            for ox in range(width // 2):
                dst[ox] = _QUARTER * (top[2 * ox] + top[2 * ox + 1]
                                      + bottom[2 * ox] + bottom[2 * ox + 1])
            if width % 2:
                dst[out_w - 1] = _QUARTER * _TWO * (top[width - 1] + bottom[width - 1])


@njit(cache=True)
def srgb_to_linear(pixels, table, out):
    """uint8 sRGB (H, W, 3|4) -> float32 linear RGB planes ``out`` (3, H, W) through a
    256-entry table (alpha ignored)."""
    height, width = pixels.shape[:2]
    for y in range(height):
        row = pixels[y]
        r = out[0, y]
        g = out[1, y]
        b = out[2, y]
        for x in range(width):
            r[x] = table[row[x, 0]]
            g[x] = table[row[x, 1]]
            b[x] = table[row[x, 2]]


@njit(cache=True, fastmath=True)
def opsin_mix(planes, opsin, bias):
    """Linear RGB planes (3, H, W) -> the three opsin mixtures, clamped at zero, in place."""
    height, width = planes.shape[1:]
    w00, w01, w02 = opsin[0, 0], opsin[0, 1], opsin[0, 2]
    w10, w11, w12 = opsin[1, 0], opsin[1, 1], opsin[1, 2]
    w20, w21, w22 = opsin[2, 0], opsin[2, 1], opsin[2, 2]
    for y in range(height):
        r = planes[0, y]
        g = planes[1, y]
        b = planes[2, y]
        for x in range(width):
            vr = r[x]
            vg = g[x]
            vb = b[x]
            r[x] = max(w00 * vr + w01 * vg + w02 * vb + bias, _ZERO)
            g[x] = max(w10 * vr + w11 * vg + w12 * vb + bias, _ZERO)
            b[x] = max(w20 * vr + w21 * vg + w22 * vb + bias, _ZERO)


@njit(cache=True, fastmath=True)
def xyb_from_cbrt(mixed, cbrt_bias):
    """Cube roots of the opsin mixtures (3, H, W) -> positive XYB, in place."""
    half = np.float32(0.5)
    height, width = mixed.shape[1:]
    for y in range(height):
        p0 = mixed[0, y]
        p1 = mixed[1, y]
        p2 = mixed[2, y]
        for x in range(width):
            m0 = p0[x] - cbrt_bias
            m1 = p1[x] - cbrt_bias
            m2 = p2[x] - cbrt_bias
            p0[x] = (m0 - m1) * np.float32(7.0) + np.float32(0.42)
            p1[x] = (m0 + m1) * half + np.float32(0.01)
            p2[x] = m2 - (m0 + m1) * half + np.float32(0.55)


_CBRT_MAGIC = np.uint32(709921077)   # a float32 cube root's bits ~ its bits / 3 + this


@njit(cache=True, fastmath={"nnan", "ninf", "nsz", "contract"}, error_model="numpy")
def cbrt_planes(planes, bits, scratch):
    """Cube roots of the opsin mixtures (3, H, W), in place: 0, or normal float32 values (the
    mixtures are at least their bias, 0.0038, or 0 where :func:`opsin_mix` clamped them),
    correctly rounded (as the float64 root rounded to float32); subnormal and negative values
    are not what it is for (a subnormal's seed is too far for three steps). ``bits`` is
    ``planes.view(np.uint32)``, ``scratch`` a float32 row. A seed from the bits (the exponent
    divided by 3) and three Halley steps in float64, which vectorise: numpy's np.cbrt calls
    libm per element where it has no SIMD loop (without AVX-512: 13 ns a sample, 2.9 ms of a
    384x256 score's 5 ms, 30% of the job's default compress(); speed review 45), and is 1 ULP
    off on a tenth of the values."""
    channels, height, width = planes.shape
    for c in range(channels):
        for y in range(height):
            row = planes[c, y]
            raw = bits[c, y]
            for x in range(width):
                scratch[x] = row[x]
            for x in range(width):
                raw[x] = raw[x] // np.uint32(3) + _CBRT_MAGIC
            for x in range(width):
                v = np.float64(scratch[x])
                r = np.float64(row[x])
                r3 = r * r * r
                r = r * (r3 + 2.0 * v) / (2.0 * r3 + v)
                r3 = r * r * r
                r = r * (r3 + 2.0 * v) / (2.0 * r3 + v)
                r3 = r * r * r
                r = r * (r3 + 2.0 * v) / (2.0 * r3 + v)
                row[x] = np.float32(r) if v > 0.0 else scratch[x]
