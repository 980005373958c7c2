"""Numba kernels for seam carving: array in, array out, no Python objects.

Layout: every working array is 2-D ``(H, capacity)``. Row ``i`` holds its valid data in
``[off[i], off[i] + w)``: removing a vertical seam closes the gap from the *shorter* side (the
pixels right of the seam move left, or those left of it move right and ``off[i]`` grows), which
halves the memory moved per seam on average; ``w`` shrinks by one and no array is reallocated.
Kernels address pixel ``(i, j)`` of the logical image at ``a[i, off[i] + j]`` and work on row
views. Horizontal seams are handled by the Python layer transposing (compacted) arrays.

The arrays carved together:

``gray``   uint8 luma, the source of the dynamic gradient / forward costs;
``static`` float32 static energy (deep / saliency / mask terms) carved with the pixels;
``energy`` float32 per-pixel energy ``static + gradient_weight * SobelL1(gray)`` (backward mode),
           updated only in a band around each removed seam;
``index``  int32 flat index ``row * W0 + col`` of each pixel in the original image: it maps the
           result back to the source pixels (all channels, alpha included) and records seams.

Backward energy follows li-plus ``seam-carving`` exactly (Sobel with reflected borders, ties broken
left, then middle, then right); forward energy follows Rubinstein et al. 2008 with the same
conventions, so both can be compared with that package pixel for pixel.

Numba 0.68.1 corrupts overlapping slice assignments that shift right: rows are shifted with
LLVM's memmove (overlap-safe, and 10-30x faster than Numba's element loops), and the kernels
are tested against slow references.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._threading_layer import choose_layer


# TBB, then OpenMP, then workqueue; the parallel kernel here is entered through
# _threading_layer.parallel_region (compress_core/energy/gradient.py).
choose_layer()


@intrinsic
def _move_within(typingctx, arr, dst, src, count):
    """``memmove`` of ``count`` elements inside a 1-D contiguous array (overlap-safe).

    Numba lowers slice assignments to element loops (0.4 ns per element here, and wrong for
    overlapping right shifts in 0.68.1); LLVM's memmove intrinsic is 10-30x faster and correct
    in both directions.
    """
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None
    sig = types.void(arr, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        dst_ptr = builder.gep(ary.data, [args[1]])
        src_ptr = builder.gep(ary.data, [args[2]])
        cgutils.raw_memmove(builder, dst_ptr, src_ptr, args[3], itemsize)
        return context.get_dummy_value()

    return sig, codegen

INF = np.float32(np.inf)


@njit(cache=True)
def sobel_l1_at(gray, off, h, w, i, j):
    """``|Sobel_x| + |Sobel_y|`` of the logical image at (i, j) with reflected borders."""
    im = i - 1 if i > 0 else 0
    ip = i + 1 if i < h - 1 else h - 1
    jm = j - 1 if j > 0 else 0
    jp = j + 1 if j < w - 1 else w - 1
    om, o0, op = off[im], off[i], off[ip]
    a = np.float32(gray[im, om + jm])
    b = np.float32(gray[im, om + j])
    c = np.float32(gray[im, om + jp])
    d = np.float32(gray[i, o0 + jm])
    f = np.float32(gray[i, o0 + jp])
    g = np.float32(gray[ip, op + jm])
    k = np.float32(gray[ip, op + j])
    m = np.float32(gray[ip, op + jp])
    gx = (c - a) + np.float32(2.0) * (f - d) + (m - g)
    gy = (g - a) + np.float32(2.0) * (k - b) + (m - c)
    return abs(gx) + abs(gy)


@njit(cache=True, parallel=True)
def sobel_l1_image(gray, out):
    """``|Sobel_x| + |Sobel_y|`` of a whole uint8 image (reflected borders), rows in parallel."""
    h, w = gray.shape
    off = np.zeros(h, dtype=np.int32)
    for i in prange(h):
        for j in range(w):
            out[i, j] = sobel_l1_at(gray, off, h, w, i, j)


@njit(cache=True)
def fill_energy(gray, off, static, has_static, gradient_weight, energy, h, w):
    """Full backward energy ``static + gradient_weight * SobelL1(gray)`` of the logical image."""
    gw = np.float32(gradient_weight)
    for i in range(h):
        o = off[i]
        for j in range(w):
            e = np.float32(0.0)
            if gw != 0:
                e = gw * sobel_l1_at(gray, off, h, w, i, j)
            if has_static:
                e = static[i, o + j] + e
            energy[i, o + j] = e


@njit(cache=True)
def backward_cost(energy, off, cost, h, w):
    """Cumulative minimum cost of vertical seams (Avidan & Shamir), logical ``cost[i, j]``."""
    o = off[0]
    for j in range(w):
        cost[0, o + j] = energy[0, o + j]
    if w == 1:
        for i in range(1, h):
            cost[i, off[i]] = cost[i - 1, off[i - 1]] + energy[i, off[i]]
        return
    for i in range(1, h):
        prev = cost[i - 1, off[i - 1]:]
        cur = cost[i, off[i]:]
        row = energy[i, off[i]:]
        cur[0] = min(prev[0], prev[1]) + row[0]
        for j in range(1, w - 1):
            cur[j] = min(prev[j - 1], min(prev[j], prev[j + 1])) + row[j]
        cur[w - 1] = min(prev[w - 2], prev[w - 1]) + row[w - 1]


@njit(cache=True, inline="always")
def _step_back(left, mid, right, c, w):
    """Column in the row above: the cheapest parent, ties to the left, then the middle.

    Never leaves ``[0, w)``, whatever the costs (inf or NaN included).
    """
    if c > 0 and left <= mid and left <= right:
        return c - 1
    if c < w - 1 and right < mid:
        return c + 1
    return c


@njit(cache=True, inline="always")
def _argmin_last_row(cost, off, h, w):
    last = cost[h - 1, off[h - 1]:]
    c = 0
    best = last[0]
    for j in range(1, w):
        if last[j] < best:
            best = last[j]
            c = j
    return c, best


@njit(cache=True)
def backward_backtrack(cost, off, h, w, seam):
    """Trace the cheapest seam back from the last row; ties go left, then middle."""
    c, best = _argmin_last_row(cost, off, h, w)
    seam[h - 1] = c
    for i in range(h - 1, 0, -1):
        prev = cost[i - 1, off[i - 1]:]
        left = prev[c - 1] if c > 0 else INF
        right = prev[c + 1] if c < w - 1 else INF
        c = _step_back(left, prev[c], right, c, w)
        seam[i - 1] = c
    return best


@njit(cache=True, inline="always")
def _forward_terms(g, gu, st, has_static, gw, j, w):
    """Forward-energy transition costs (left, up, right) into pixel j of row view ``g``
    (``gu``: the row above, ``st``: the static row)."""
    jm = j - 1 if j > 0 else 0
    jp = j + 1 if j < w - 1 else w - 1
    a = np.float32(g[jm])
    b = np.float32(g[jp])
    up = np.float32(gu[j])
    cu = gw * abs(b - a)
    if has_static:
        cu = cu + st[j]
    cl = cu + gw * abs(up - a)
    cr = cu + gw * abs(up - b)
    return cl, cu, cr


@njit(cache=True)
def _forward_edge(g, gu, st, has_static, gw, prev, j, w):
    cl, cu, cr = _forward_terms(g, gu, st, has_static, gw, j, w)
    best = prev[j] + cu
    if j > 0:
        best = min(prev[j - 1] + cl, best)
    if j < w - 1:
        best = min(best, prev[j + 1] + cr)
    return best


@njit(cache=True)
def _forward_row(g, gu, st, has_static, gw, prev, cur, w):
    """Interior of one forward-cost row (columns 1..w-2), branch-free so that it vectorises."""
    if has_static:
        for j in range(1, w - 1):
            a = np.float32(g[j - 1])
            b = np.float32(g[j + 1])
            u = np.float32(gu[j])
            cu = gw * abs(b - a) + st[j]
            cl = cu + gw * abs(u - a)
            cr = cu + gw * abs(u - b)
            cur[j] = min(prev[j - 1] + cl, min(prev[j] + cu, prev[j + 1] + cr))
    else:
        for j in range(1, w - 1):
            a = np.float32(g[j - 1])
            b = np.float32(g[j + 1])
            u = np.float32(gu[j])
            cu = gw * abs(b - a)
            cl = cu + gw * abs(u - a)
            cr = cu + gw * abs(u - b)
            cur[j] = min(prev[j - 1] + cl, min(prev[j] + cu, prev[j + 1] + cr))


@njit(cache=True, inline="always")
def _static_row(static, off, has_static, i):
    return static[i, off[i]:] if has_static else static[0]


@njit(cache=True)
def forward_cost(gray, off, static, has_static, gradient_weight, cost, h, w):
    """Cumulative cost with forward energy (Rubinstein, Shamir & Avidan 2008)."""
    gw = np.float32(gradient_weight)
    g0 = gray[0, off[0]:]
    st0 = _static_row(static, off, has_static, 0)
    c0row = cost[0, off[0]:]
    for j in range(w):
        jm = j - 1 if j > 0 else 0
        jp = j + 1 if j < w - 1 else w - 1
        c0 = gw * abs(np.float32(g0[jp]) - np.float32(g0[jm]))
        if has_static:
            c0 = c0 + st0[j]
        c0row[j] = c0
    for i in range(1, h):
        g = gray[i, off[i]:]
        gu = gray[i - 1, off[i - 1]:]
        st = _static_row(static, off, has_static, i)
        prev = cost[i - 1, off[i - 1]:]
        cur = cost[i, off[i]:]
        cur[0] = _forward_edge(g, gu, st, has_static, gw, prev, 0, w)
        if w > 1:
            _forward_row(g, gu, st, has_static, gw, prev, cur, w)
            cur[w - 1] = _forward_edge(g, gu, st, has_static, gw, prev, w - 1, w)


@njit(cache=True)
def forward_backtrack(gray, off, static, has_static, gradient_weight, cost, h, w, seam):
    """Trace the cheapest forward-energy seam; ties go left, then middle."""
    gw = np.float32(gradient_weight)
    c, best = _argmin_last_row(cost, off, h, w)
    seam[h - 1] = c
    for i in range(h - 1, 0, -1):
        g = gray[i, off[i]:]
        gu = gray[i - 1, off[i - 1]:]
        st = _static_row(static, off, has_static, i)
        cl, cu, cr = _forward_terms(g, gu, st, has_static, gw, c, w)
        prev = cost[i - 1, off[i - 1]:]
        left = prev[c - 1] + cl if c > 0 else INF
        right = prev[c + 1] + cr if c < w - 1 else INF
        c = _step_back(left, prev[c] + cu, right, c, w)
        seam[i - 1] = c
    return best


@njit(cache=True, inline="always")
def _close_gap(a, i, o, s, w, right_side):
    """Remove logical column ``s`` of row ``i`` (data at ``a[i, o:o+w]``) with one memmove."""
    row = a[i]
    if right_side:  # the part right of the seam moves left
        _move_within(row, o + s, o + s + 1, w - 1 - s)
    else:  # the part left of the seam moves right; the row now starts at o + 1
        _move_within(row, o + 1, o, s)


@njit(cache=True)
def remove_seam(gray, static, has_static, energy, index, cost, with_cost, off, seam, h, w):
    """Delete ``seam`` (one logical column per row) from every carved array; width becomes w-1.

    Each row closes the gap from its shorter side. ``energy`` and ``cost`` are carved only when
    ``with_cost`` (backward mode).
    """
    for i in range(h):
        s = seam[i]
        o = off[i]
        right_side = (w - 1 - s) <= s
        _close_gap(gray, i, o, s, w, right_side)
        _close_gap(index, i, o, s, w, right_side)
        if with_cost:
            _close_gap(energy, i, o, s, w, right_side)
            _close_gap(cost, i, o, s, w, right_side)
        if has_static:
            _close_gap(static, i, o, s, w, right_side)
        if not right_side:
            off[i] = o + 1


@njit(cache=True, inline="always")
def _seam_band(seam, h, i, margin_lo, margin_hi, w):
    """Columns of row i whose inputs a removed seam can change (new coordinates)."""
    lo = seam[i]
    hi = seam[i]
    if i > 0:
        lo = min(lo, seam[i - 1])
        hi = max(hi, seam[i - 1])
    if i < h - 1:
        lo = min(lo, seam[i + 1])
        hi = max(hi, seam[i + 1])
    return max(lo - margin_lo, 0), min(hi + margin_hi, w - 1)


@njit(cache=True)
def update_energy_near_seam(gray, off, static, has_static, gradient_weight, energy, seam, h, w):
    """Recompute the energy of the pixels whose 3x3 window the removed seam changed.

    ``w`` is the width after removal. In row i only columns between
    ``min(seam[i-1:i+2]) - 2`` and ``max(seam[i-1:i+2]) + 1`` can have a new neighbourhood:
    further left nothing moved, further right the whole window moved with the pixel.
    """
    gw = np.float32(gradient_weight)
    if gw == 0:
        return
    for i in range(h):
        lo, hi = _seam_band(seam, h, i, 2, 1, w)
        o = off[i]
        for j in range(lo, hi + 1):
            e = gw * sobel_l1_at(gray, off, h, w, i, j)
            if has_static:
                e = static[i, o + j] + e
            energy[i, o + j] = e


@njit(cache=True)
def backward_cost_update(energy, off, cost, scratch, seam, h, w):
    """Bring a shifted cumulative-cost map up to date after removing ``seam``.

    ``cost`` holds the previous map with the seam removed (shifted like the other arrays);
    ``w`` is the new width. Only entries whose inputs can have changed are recomputed: in
    each row the band around the seam plus one column beyond what changed in the row above
    (typically a fifth of the map). New values go to ``scratch`` (one row, vectorised loop),
    the changed span is found by scanning in from both ends, and the result is bit-identical
    to :func:`backward_cost`.
    """
    lo_prev = 1
    hi_prev = 0
    for i in range(h):
        a, b = _seam_band(seam, h, i, 2, 1, w)
        if lo_prev <= hi_prev:
            a = min(a, max(lo_prev - 1, 0))
            b = max(b, min(hi_prev + 1, w - 1))
        row = energy[i, off[i]:]
        cur = cost[i, off[i]:]
        if i == 0:
            for j in range(a, b + 1):
                scratch[j] = row[j]
        else:
            prev = cost[i - 1, off[i - 1]:]
            j0 = a
            if a == 0:
                scratch[0] = (min(prev[0], prev[1]) if w > 1 else prev[0]) + row[0]
                j0 = 1
            j1 = b + 1 if b < w - 1 else w - 1
            for j in range(j0, j1):
                scratch[j] = min(prev[j - 1], min(prev[j], prev[j + 1])) + row[j]
            if b == w - 1 and w > 1:
                scratch[w - 1] = min(prev[w - 2], prev[w - 1]) + row[w - 1]
        lo_c = a
        while lo_c <= b and scratch[lo_c] == cur[lo_c]:
            lo_c += 1
        hi_c = b
        while hi_c >= lo_c and scratch[hi_c] == cur[hi_c]:
            hi_c -= 1
        for j in range(lo_c, hi_c + 1):
            cur[j] = scratch[j]
        lo_prev = lo_c
        hi_prev = hi_c


@njit(cache=True)
def carve_vertical(gray, static, has_static, gradient_weight, forward, energy, index, cost,
                   cost_valid, off, seam, w, n_seams, removed, seam_costs):
    """Remove ``n_seams`` vertical seams in place; return the new valid width.

    Parameters
    ----------
    gray : uint8 (H, C)
    static, energy : float32 (H, C)
        Working arrays (``energy`` must hold the full backward energy of ``[:, :w]`` when
        ``forward`` is False; it is carved but not read in forward mode).
    index : int32 (H, C)
        Flat original index of each pixel, carved along.
    cost : float32 (H, C)
        Cumulative cost, carved along and updated incrementally after each seam.
    cost_valid : bool
        Whether ``cost`` already holds the map of the current arrays (else computed in full).
    off : int32 (H,)
        Start of each row's valid data (updated in place).
    seam : int32 (H,)
        Scratch for one seam.
    w : int
        Valid width on entry.
    n_seams : int
        Seams to remove (``n_seams < w``).
    removed : int32 (n_seams, H)
        Output: flat original index of every removed pixel, one row per seam, in removal order.
    seam_costs : float32 (n_seams,)
        Output: cumulative cost of each removed seam.
    """
    h = gray.shape[0]
    scratch = np.empty(gray.shape[1], dtype=np.float32)
    if not cost_valid:
        if forward:
            forward_cost(gray, off, static, has_static, gradient_weight, cost, h, w)
        else:
            backward_cost(energy, off, cost, h, w)
    for k in range(n_seams):
        if forward:
            seam_costs[k] = forward_backtrack(gray, off, static, has_static, gradient_weight,
                                              cost, h, w, seam)
        else:
            seam_costs[k] = backward_backtrack(cost, off, h, w, seam)
        for i in range(h):
            removed[k, i] = index[i, off[i] + seam[i]]
        remove_seam(gray, static, has_static, energy, index, cost, not forward, off, seam, h, w)
        w -= 1
        if forward:
            # Forward costs change over a wide cone below the seam: a full, vectorised
            # recompute is faster than tracking the changed region.
            forward_cost(gray, off, static, has_static, gradient_weight, cost, h, w)
        else:
            update_energy_near_seam(gray, off, static, has_static, gradient_weight, energy, seam,
                                    h, w)
            backward_cost_update(energy, off, cost, scratch, seam, h, w)
    return w


@njit(cache=True)
def cheapest_seam_cost(gray, off, static, has_static, gradient_weight, forward, energy, cost, w):
    """Cost of the cheapest vertical seam of the logical image without removing it."""
    h = gray.shape[0]
    if forward:
        forward_cost(gray, off, static, has_static, gradient_weight, cost, h, w)
    else:
        backward_cost(energy, off, cost, h, w)
    return _argmin_last_row(cost, off, h, w)[1]


@njit(cache=True)
def compact(a, off, w, out):
    """``out[i, j] = a[i, off[i] + j]``: the logical image as a contiguous array."""
    for i in range(out.shape[0]):
        out[i, :] = a[i, off[i]:off[i] + w]


@njit(cache=True)
def gather_pixels(flat_pixels, index, h, w, out):
    """``out[i, j, :] = flat_pixels[index[i, j], :]`` for the valid ``[:h, :w]`` region."""
    c = flat_pixels.shape[1]
    for i in range(h):
        for j in range(w):
            src = index[i, j]
            for ch in range(c):
                out[i, j, ch] = flat_pixels[src, ch]


@njit(cache=True)
def insert_seams(pixels, seam_mask, n_insert, out, inserted):
    """Duplicate every masked pixel, as the average of itself and its left neighbour.

    The new pixel goes immediately left of the seam pixel (li-plus convention): removing the
    pixels flagged in ``inserted`` gives back ``pixels`` exactly.

    Parameters
    ----------
    pixels : float32 (H, W, C)
    seam_mask : bool (H, W)
        ``n_insert`` pixels flagged in every row.
    out : float32 (H, W + n_insert, C)
    inserted : bool (H, W + n_insert)
        Output: where the new pixels are.
    """
    h, w, c = pixels.shape
    for i in range(h):
        dst = 0
        for j in range(w):
            if seam_mask[i, j]:
                left = j - 1 if j > 0 else 0
                for ch in range(c):
                    out[i, dst, ch] = (pixels[i, left, ch] + pixels[i, j, ch]) * np.float32(0.5)
                inserted[i, dst] = True
                dst += 1
            for ch in range(c):
                out[i, dst, ch] = pixels[i, j, ch]
            inserted[i, dst] = False
            dst += 1
