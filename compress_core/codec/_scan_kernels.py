"""Numba kernel of :mod:`compress_core.codec.jpeg_scans`: one Huffman-coded scan walked block
by block, nothing decoded to pixels. Array-only; :func:`compress_core.codec.jpeg_scans.damage`
checks every argument (shapes, dtypes, the tables' ranges) before it comes here."""
from __future__ import annotations

import numpy as np
from numba import njit

# what a scan's walk found (the first problem; OK: none)
OK, BAD_CODE, PAST_BLOCK, DC_RANGE, ENDS_EARLY, BAD_RESTART, BAD_SYMBOL = range(7)


@njit(cache=True)
def _bits(data, end, state, count):
    """The next ``count`` (<= 16) bits of the scan. ``state``: [byte position, bit buffer, bits
    in it, zero bits added past the data, 1 where a marker stopped the reading]. 0xFF00 is
    read as 0xFF; at a marker or the end of the data, zero bits are added (as libjpeg does),
    counted in ``state[3]``. (Bytes are read as the bits are needed: a look-up table of short
    codes over a buffer filled ahead was 4x slower here, 0.3 s against 0.08 s for a 12 MP
    JPEG.)"""
    while state[2] < count:
        pos = state[0]
        byte = 0
        if pos < end and state[4] == 0:
            byte = np.int64(data[pos])
            if byte == 0xFF:
                if pos + 1 < end and data[pos + 1] == 0:
                    state[0] = pos + 2
                else:   # a marker: the scan's data stops here
                    state[4] = 1
                    byte = 0
                    state[3] += 8
            else:
                state[0] = pos + 1
        else:
            state[3] += 8
        state[1] = ((state[1] << 8) | byte) & 0xFFFFFFFFFF
        state[2] += 8
    state[2] -= count
    return (state[1] >> state[2]) & ((1 << count) - 1)


@njit(cache=True)
def _decode(data, end, state, maxcode, valptr, huffval, table):
    """The next Huffman symbol of ``table`` (-1: no code of 16 bits or less matches), by
    F.16's ``maxcode`` and the symbols' offsets ``valptr`` (less each length's first code)."""
    code = 0
    for length in range(1, 17):
        code = (code << 1) | _bits(data, end, state, 1)
        if code <= maxcode[table, length]:
            return np.int64(huffval[table, valptr[table, length] + code])
    return np.int64(-1)


@njit(cache=True)
def _next_marker(data, pos, end):
    """Where the next marker at or after ``pos`` starts (0xFF and a byte neither 0x00 nor
    0xFF), or ``end``."""
    while pos + 1 < end:
        if data[pos] == 0xFF and data[pos + 1] != 0 and data[pos + 1] != 0xFF:
            return pos
        pos += 1
    return end


@njit(cache=True)
def _extend(value, size):
    """JPEG's signed value of ``size`` bits ``value`` (F.12 of the standard)."""
    if size == 0:
        return np.int64(0)
    if value < (1 << (size - 1)):
        return value - (1 << size) + 1
    return value


@njit(cache=True)
def walk_scan(data, end, start, comps, maxcode, valptr, huffval, mcus, grid, nonzero, band,
              restart, progressive):
    """Walk one scan of ``data[start:end]``; returns ``(problem, byte position)``.

    ``comps``: per component of the scan ``[frame index, DC table, AC table, h, v]`` (tables:
    rows of ``maxcode``, ``valptr``, ``huffval``; h, v: its blocks per MCU, 1 and 1 where the
    scan holds one component). ``mcus``: MCUs across and down (of blocks, for one component).
    ``grid``: the frame components' block columns (``nonzero``'s rows are their blocks,
    row-major). ``band``: ``[Ss, Se, Ah, Al]``. ``nonzero``: each block's AC coefficients
    (zig-zag bit k) known non-zero so far, updated (the successive approximation of a
    progressive frame needs them; the tests compare them with libjpeg's coefficients).
    ``restart``: MCUs per restart interval (0: none)."""
    state = np.zeros(5, np.int64)
    state[0] = start
    ss, se, ah, al = band[0], band[1], band[2], band[3]
    ncomp = comps.shape[0]
    pred = np.zeros(ncomp, np.int64)
    eobrun = np.int64(0)
    expected_rst = 0
    total = mcus[0] * mcus[1]
    for mcu in range(total):
        if restart > 0 and mcu > 0 and mcu % restart == 0:
            # the rest of the byte is padding; then (after bytes some devices add, which
            # libjpeg skips: a scanner's 600-2,600, a webcam's 1-4) RSTn, n counting 0..7
            if state[3] > state[2]:
                return ENDS_EARLY, state[0]
            pos = _next_marker(data, state[0], end)
            if pos + 1 >= end or data[pos + 1] != 0xD0 + expected_rst:
                return BAD_RESTART, pos
            state[0] = pos + 2
            state[1] = 0
            state[2] = 0
            state[3] = 0
            state[4] = 0
            expected_rst = (expected_rst + 1) & 7
            for c in range(ncomp):
                pred[c] = 0
            eobrun = 0
        my, mx = mcu // mcus[0], mcu % mcus[0]
        for c in range(ncomp):
            f, dct, act, h, v = comps[c, 0], comps[c, 1], comps[c, 2], comps[c, 3], comps[c, 4]
            for by in range(v):
                for bx in range(h):
                    block = (my * v + by) * grid[f] + mx * h + bx
                    if ss == 0:   # the DC coefficient
                        if ah == 0:
                            s = _decode(data, end, state, maxcode, valptr, huffval, dct)
                            if s < 0:
                                return BAD_CODE, state[0]
                            if s > 11:
                                return BAD_SYMBOL, state[0]
                            pred[c] += _extend(_bits(data, end, state, s), s) if s else 0
                            if abs(pred[c] << al) > 2047:
                                return DC_RANGE, state[0]
                        else:
                            _bits(data, end, state, 1)
                        if not progressive:
                            problem = _ac_sequential(data, end, state, maxcode, valptr,
                                                     huffval, act, nonzero, f, block)
                            if problem != OK:
                                return problem, state[0]
                    elif ah == 0:   # a progressive band, first pass
                        if eobrun > 0:
                            eobrun -= 1
                            continue
                        k = ss
                        while k <= se:
                            rs = _decode(data, end, state, maxcode, valptr, huffval, act)
                            if rs < 0:
                                return BAD_CODE, state[0]
                            r, s = rs >> 4, rs & 15
                            if s:
                                k += r
                                if k > se:
                                    return PAST_BLOCK, state[0]
                                if s > 10:
                                    return BAD_SYMBOL, state[0]
                                _bits(data, end, state, s)
                                nonzero[f, block] |= np.uint64(1) << np.uint64(k)
                                k += 1
                            elif r == 15:
                                k += 16
                            else:
                                eobrun = (1 << r) - 1
                                if r:
                                    eobrun += _bits(data, end, state, r)
                                break
                    else:   # a progressive band, refined by one bit
                        problem, eobrun = _ac_refine(data, end, state, maxcode, valptr,
                                                     huffval, act, nonzero, f, block, ss, se,
                                                     eobrun)
                        if problem != OK:
                            return problem, state[0]
    if state[3] > state[2]:   # more bits read than the data held: its blocks end early
        return ENDS_EARLY, state[0]
    return OK, state[0]


@njit(cache=True)
def _ac_sequential(data, end, state, maxcode, valptr, huffval, table, nonzero, f, block):
    """One block's AC coefficients of a sequential scan (``OK`` or the problem), those not
    zero marked in ``nonzero``."""
    k = 1
    while k < 64:
        rs = _decode(data, end, state, maxcode, valptr, huffval, table)
        if rs < 0:
            return BAD_CODE
        r, s = rs >> 4, rs & 15
        if s:
            k += r
            if k > 63:
                return PAST_BLOCK
            if s > 10:
                return BAD_SYMBOL
            _bits(data, end, state, s)
            nonzero[f, block] |= np.uint64(1) << np.uint64(k)
            k += 1
        elif r == 15:
            k += 16
        elif r == 0:
            break
        else:   # (no such symbol in a sequential scan; libjpeg takes it for the block's end)
            return BAD_SYMBOL
    return OK


@njit(cache=True)
def _ac_refine(data, end, state, maxcode, valptr, huffval, table, nonzero, f, block, ss, se,
               eobrun):
    """One block of a progressive band's refinement scan, as libjpeg's decode_mcu_AC_refine
    reads it: ``(problem, end-of-band run left)``."""
    known = nonzero[f, block]
    k = ss
    if eobrun == 0:
        while k <= se:
            rs = _decode(data, end, state, maxcode, valptr, huffval, table)
            if rs < 0:
                return BAD_CODE, eobrun
            r, s = rs >> 4, rs & 15
            if s:
                if s != 1:
                    return BAD_SYMBOL, eobrun
                _bits(data, end, state, 1)
            elif r != 15:
                eobrun = 1 << r
                if r:
                    eobrun += _bits(data, end, state, r)
                break
            # past the known non-zero coefficients (a correction bit each) and r zeros
            while k <= se:
                if known & (np.uint64(1) << np.uint64(k)):
                    _bits(data, end, state, 1)
                else:
                    if r == 0:
                        break
                    r -= 1
                k += 1
            if s:
                if k > se:
                    return PAST_BLOCK, eobrun
                known |= np.uint64(1) << np.uint64(k)
            k += 1
    if eobrun > 0:
        while k <= se:
            if known & (np.uint64(1) << np.uint64(k)):
                _bits(data, end, state, 1)
            k += 1
        eobrun -= 1
    nonzero[f, block] = known
    return OK, eobrun
