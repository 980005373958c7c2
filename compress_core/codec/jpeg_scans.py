"""Whether a JPEG's compressed data holds its whole picture: damage libjpeg decodes silently.

libjpeg (through Pillow) decodes a JPEG whose entropy-coded data is damaged without an error:
it warns ("Corrupt JPEG data ...", which Pillow drops), takes what follows for more blocks and
fills those it finds no data for with grey. A kodim23 JPEG with 200 bytes changed mid-file
decoded with its lower half 58-67 levels off and was written as a good result, and a file cut
short but ending in an EOI marker decoded grey below the cut (formats review 41). Pillow's
"truncated" error comes only where the file ends without that marker.

:func:`damage` walks each Huffman-coded scan of an 8-bit baseline, extended or progressive
frame block by block (:mod:`._scan_kernels`; nothing is decoded to pixels) and names the first
thing no encoder writes: a bit string no Huffman table of the scan holds, a coefficient past
the end of its block, a DC value out of its range, a restart marker missing or out of order,
data that ends before the frame's blocks do, or a file that ends (at an EOI marker) before a
component has a scan, or before the first component's AC coefficients do (a progressive file
cut after its first scans decodes without an error, blocky and grey). Bytes after a scan's
(or a restart interval's) last block are not damage: devices write them (libjpeg's "N
extraneous bytes before marker": a scanner's 600-2,600 before each restart marker, webcams'
1-4, drones' and IP cameras' data after the picture), and the picture is whole; damaged data
that happens to decode to the end is therefore not always found (the review's change of 200
bytes at 20 places of a file: found at most of them; a file cut short: at every place inside
a scan; between two progressive scans only before the luma's AC, since later cuts look whole
and legal scripts stop there too). Other frames (12-bit, arithmetic-coded, lossless,
hierarchical) and headers it cannot read are left to the decoder: None.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _scan_kernels as kernels
from .jpeg_markers import SOS, scan_end, segments

__all__ = ["damage", "walk"]

_SEQUENTIAL, _PROGRESSIVE = (0xC0, 0xC1), 0xC2
_DHT, _DRI = 0xC4, 0xDD
_FRAMES = (*_SEQUENTIAL, _PROGRESSIVE)
_NOT_CHECKED = frozenset(range(0xC3, 0xD0)) - {_DHT, 0xC8, 0xCC}  # other SOFn
#: What each of the kernel's findings means.
_PROBLEMS = {
    kernels.BAD_CODE: "a bit string no Huffman table of the scan holds",
    kernels.PAST_BLOCK: "coefficients past the end of a block",
    kernels.DC_RANGE: "a DC value out of its range",
    kernels.ENDS_EARLY: "the data ends before the picture's last blocks",
    kernels.BAD_RESTART: "a restart marker missing or out of order",
    kernels.BAD_SYMBOL: "a Huffman symbol no encoder writes there",
}


def damage(data: bytes) -> Optional[str]:
    """What is damaged in the JPEG file ``data``'s compressed picture, or None (whole, or not
    a frame this reads: see the module notes). The message names the problem, the byte where
    it was found and the scan."""
    return walk(data)[0]


def walk(data: bytes) -> Tuple[Optional[str], Optional[dict], Optional[np.ndarray]]:
    """:func:`damage`'s message, the frame read (None where it is not read) and each frame
    component's blocks' AC coefficients found not zero (rows: components; columns: blocks of
    ``frame["mcus"][0] * h`` a row; bit k: the zig-zag coefficient k), to where the walk
    stopped."""
    parsed = _read_headers(data)
    if parsed is None:
        return None, None, None
    frame, scans = parsed
    if frame["blocks"] > 8 * len(data):
        # every block takes a bit at least: a header that names more blocks than the file has
        # bits is said so, before arrays of its size are made (65535 x 65535 pixels: 1.6 GB)
        return (f"the JPEG's compressed data is damaged ({_PROBLEMS[kernels.ENDS_EARLY]}: "
                f"{len(data):,} bytes for {frame['width']} x {frame['height']} pixels)",
                frame, None)
    buffer = np.frombuffer(data, np.uint8)
    nonzero = np.zeros((len(frame["comps"]), int(frame["blocks"])), np.uint64)
    grid = np.array([h * frame["mcus"][0] for _, h, _ in frame["comps"]], np.int64)
    for number, scan in enumerate(scans, 1):
        problem, where = kernels.walk_scan(
            buffer, scan["end"], scan["start"], scan["comps"], scan["maxcode"],
            scan["valptr"], scan["huffval"], scan["mcus"], grid, nonzero, scan["band"],
            scan["restart"], frame["progressive"])
        if problem == kernels.OK:
            continue
        return (f"the JPEG's compressed data is damaged ({_PROBLEMS[problem]}, at byte "
                f"{int(where):,} of {len(data):,}, scan {number} of {len(scans)}): decoded, "
                "the picture from there on would be other blocks' data or grey", frame, nonzero)
    missing = _missing_scans(frame, scans)
    if missing is not None:
        return (f"the JPEG's compressed data is damaged (the file ends before its last scans: "
                f"{missing}): decoded, the picture would be coarse or without colour", frame,
                nonzero)
    return None, frame, nonzero


def _missing_scans(frame: dict, scans: List[dict]) -> Optional[str]:
    """What a file cut between two scans (and ended with an EOI marker) lacks, or None: a
    component no scan codes, or a first (luma) component whose AC coefficients no scan codes
    (a progressive file cut after its first scans decodes without an error, blocky and grey:
    diff review 41). Said only where every segment up to the EOI marker was read (bytes
    between two segments, which libjpeg skips, stop the reading: the scans after them are
    not missing). Scans that stop before a coefficient's last bits, and chroma without AC
    coefficients, are legal and look whole: not said (a cut there is not found)."""
    if not frame.get("read_to_end"):
        return None
    count = len(frame["comps"])
    coded = np.zeros((count, 64), bool)
    for scan in scans:
        ss, se = int(scan["band"][0]), int(scan["band"][1])
        for f in scan["comps"][:, 0]:
            coded[f, ss:se + 1] = True
    for f in range(count):
        if not coded[f].any():
            return f"component {f + 1} of {count} has none"
    if not coded[0, 1:].any():
        return f"component 1 of {count} has its DC coefficients alone"
    return None


def _read_headers(data: bytes) -> Optional[Tuple[dict, List[dict]]]:
    """The frame and its scans as :func:`damage` walks them, or None where it does not. After
    a scan, a segment that cannot be read ends the list: damaged data had made a marker
    (0xFF and a byte), where libjpeg stops the scan, and the scans up to it are walked."""
    frame: Optional[dict] = None
    tables: Dict[Tuple[int, int], Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    restart, scans, stop = 0, [], 2
    for marker, start, end in segments(data):
        stop = end
        body = data[start + 4:end]
        readable = end <= len(data) and marker not in _NOT_CHECKED
        if readable and marker in _FRAMES:
            readable = frame is None and not scans
            frame = _frame(marker, body) if readable else frame
            readable = frame is not None
        elif readable and marker == _DHT:
            readable = _huffman_tables(body, tables)
        elif readable and marker == _DRI:
            readable = len(body) >= 2
            restart = int.from_bytes(body[:2], "big") if readable else restart
        elif readable and marker == SOS:
            scan = None if frame is None else _scan(body, frame, tables, restart)
            readable = scan is not None
            if readable:
                scan["start"], scan["end"] = end, scan_end(data, end)
                stop = scan["end"]
                scans.append(scan)
        if not readable:
            break
    else:   # every segment read: the scans are all the file's where the EOI marker follows
        if frame is not None:   # (a bounded look: an MPO's next picture follows the EOI)
            tail = data[stop:stop + 64]
            frame["read_to_end"] = tail[:1] == b"\xff" and tail.lstrip(b"\xff")[:1] == b"\xd9"
    return (frame, scans) if frame is not None and scans else None


def _frame(marker: int, body: bytes) -> Optional[dict]:
    """An SOF segment's frame: 8-bit samples and a height in the header, else None."""
    if len(body) < 6:
        return None
    precision, height, width, count = (body[0], int.from_bytes(body[1:3], "big"),
                                       int.from_bytes(body[3:5], "big"), body[5])
    if precision != 8 or height == 0 or width == 0 or not 1 <= count <= 4 \
            or len(body) < 6 + 3 * count:
        return None
    comps = [(body[6 + 3 * i], body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15)
             for i in range(count)]
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for _, h, v in comps):
        return None
    hmax, vmax = max(h for _, h, _ in comps), max(v for _, _, v in comps)
    mcus = (_ceil(width, 8 * hmax), _ceil(height, 8 * vmax))
    return dict(comps=comps, width=width, height=height, hmax=hmax, vmax=vmax, mcus=mcus,
                blocks=max(h * v for _, h, v in comps) * mcus[0] * mcus[1],
                progressive=marker == _PROGRESSIVE)


def _huffman_tables(body: bytes, tables: dict) -> bool:
    """Read a DHT segment's tables into ``tables`` (``(class, id)``: F.16's maxcode, the
    symbols' offsets less each length's first code, the symbols); False where it is malformed."""
    at = 0
    while at < len(body):
        if at + 17 > len(body):
            return False
        kind, ident = body[at] >> 4, body[at] & 15
        counts = list(body[at + 1:at + 17])
        symbols = body[at + 17:at + 17 + sum(counts)]
        if kind > 1 or ident > 3 or len(symbols) != sum(counts) or sum(counts) > 256:
            return False
        maxcode = np.full(17, -1, np.int64)
        valptr = np.zeros(17, np.int64)
        code = index = 0
        for length in range(1, 17):
            if counts[length - 1]:
                valptr[length] = index - code
                code += counts[length - 1]
                index += counts[length - 1]
                maxcode[length] = code - 1
                if code > (1 << length):   # more codes than the length has
                    return False
            code <<= 1
        values = np.zeros(256, np.uint8)
        values[:len(symbols)] = np.frombuffer(symbols, np.uint8)
        tables[(kind, ident)] = (maxcode, valptr, values)
        at += 17 + len(symbols)
    return True


def _scan(body: bytes, frame: dict, tables: dict, restart: int) -> Optional[dict]:
    """An SOS segment's scan over ``frame``, with the tables in force, or None where it names
    a component or a table that is not there, or a band no decoder reads."""
    if not body:
        return None
    count = body[0]
    if not 1 <= count <= 4 or len(body) < 4 + 2 * count:
        return None
    ids = [c[0] for c in frame["comps"]]
    ss, se, ah, al = body[1 + 2 * count], body[2 + 2 * count], body[3 + 2 * count] >> 4, \
        body[3 + 2 * count] & 15
    progressive = frame["progressive"]
    if not progressive:   # (libjpeg reads any band of a sequential scan as all of it: "some
        ss, se, ah, al = 0, 63, 0, 0   # baseline files out there" have zeroes there)
    if (se > 63 or ss > se or al > 13 or (progressive and (ss == 0) != (se == 0))
            or (ss > 0 and count != 1)):
        return None
    maxcode = np.full((8, 17), -1, np.int64)
    valptr = np.zeros((8, 17), np.int64)
    huffval = np.zeros((8, 256), np.uint8)
    comps = np.zeros((count, 5), np.int64)
    for i in range(count):
        ident, chosen = body[1 + 2 * i], body[2 + 2 * i]
        if ident not in ids:
            return None
        f = ids.index(ident)
        dc, ac = chosen >> 4, chosen & 15
        needs = [(0, dc)] if ss == 0 and (ah == 0 or not progressive) else []
        needs += [(1, ac)] if ss > 0 or not progressive else []
        for kind, ident_ in needs:
            if (kind, ident_) not in tables:
                return None
            slot = kind * 4 + ident_
            maxcode[slot], valptr[slot], huffval[slot] = tables[(kind, ident_)]
        _, h, v = frame["comps"][f]
        # (a table the scan does not read may have any number: kept inside the arrays)
        dc, ac = dc & 3, ac & 3
        comps[i] = (f, dc, 4 + ac, h, v) if count > 1 else (f, dc, 4 + ac, 1, 1)
    if count > 1:
        mcus = frame["mcus"]
    else:   # one component: its own blocks, one an MCU
        _, h, v = frame["comps"][int(comps[0, 0])]
        mcus = (_ceil(_ceil(frame["width"] * h, frame["hmax"]), 8),
                _ceil(_ceil(frame["height"] * v, frame["vmax"]), 8))
    return dict(comps=comps, maxcode=maxcode, valptr=valptr, huffval=huffval,
                mcus=np.array(mcus, np.int64), band=np.array((ss, se, ah, al), np.int64),
                restart=restart)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)
