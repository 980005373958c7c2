"""Small, dependency-free plots for the manifest report: inline SVG (HTML) or PNG (Markdown).

A plot is data (:class:`Histogram`, :class:`Scatter`); :func:`to_svg` and :func:`to_png` draw it
with the same layout code through two tiny canvases (SVG text, or Pillow's ``ImageDraw``), so the
HTML report needs no plotting library and no network at view time.
"""
from __future__ import annotations

import html
import math
import textwrap
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["Histogram", "Scatter", "histogram", "to_svg", "to_png"]

WIDTH, HEIGHT = 560, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 34, 46
_BAR = "#4c78a8"
_DOT = "#e45756"
_AXIS = "#444444"
_GRID = "#e6e6e6"


@dataclass(frozen=True)
class Histogram:
    """Counts of values in bins; ``edges`` has one more item than ``counts``; ``lowest`` and
    ``highest`` are the values' own (the edges of equal values are padded around them)."""

    title: str
    xlabel: str
    edges: Sequence[float]
    counts: Sequence[int]
    log_x: bool = False
    note: str = ""
    lowest: Optional[float] = None
    highest: Optional[float] = None


@dataclass(frozen=True)
class Scatter:
    """Points ``(xs[i], ys[i])`` (already sampled to a drawable number)."""

    title: str
    xlabel: str
    ylabel: str
    xs: Sequence[float]
    ys: Sequence[float]
    note: str = ""


def histogram(values: np.ndarray, title: str, xlabel: str, bins: int = 30,
              log_x: bool = False, note: str = "") -> Histogram:
    """A :class:`Histogram` of finite ``values`` (log-spaced bins when ``log_x`` and all > 0)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Histogram(title, xlabel, [], [], note=note or "no data")
    lo, hi = lowest, highest = float(values.min()), float(values.max())
    if log_x and lo > 0 and hi / lo > 100:
        edges = np.logspace(math.log10(lo), math.log10(hi), bins + 1)
    else:
        log_x = False
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
    counts, edges = np.histogram(values, bins=edges)
    return Histogram(title, xlabel, edges.tolist(), counts.tolist(), log_x=log_x, note=note,
                     lowest=lowest, highest=highest)


def _ticks(lo: float, hi: float, n: int = 5, whole: bool = False) -> List[float]:
    """About ``n`` round values from ``lo`` to ``hi``; whole numbers only where ``whole`` (a
    count: an axis of images had 0.25, 0.5, 0.75)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    if whole:
        raw = max(raw, 1.0)
    mag = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * mag for m in steps if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


class _SvgCanvas:
    def __init__(self, width: int, height: int, label: str):
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)}" '
            f'font-family="sans-serif" font-size="11">',
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        ]

    def rect(self, x0, y0, x1, y1, fill, title: Optional[str] = None):
        t = f"<title>{html.escape(title)}</title>" if title else ""
        self.parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0, 0):.1f}" '
                          f'height="{max(y1 - y0, 0):.1f}" fill="{fill}">{t}</rect>')

    def line(self, x0, y0, x1, y1, color):
        self.parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                          f'stroke="{color}" stroke-width="1"/>')

    def dot(self, x, y, r, color, alpha=0.45):
        self.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}" '
                          f'fill-opacity="{alpha:.2f}"/>')

    def text(self, x, y, s, anchor="middle", size=11, bold=False):
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
                          f'font-size="{size}"{weight}>{html.escape(s)}</text>')

    def result(self) -> str:
        return "".join(self.parts) + "</svg>"


class _PilCanvas:
    def __init__(self, width: int, height: int, label: str):
        from PIL import Image, ImageDraw, ImageFont

        self.image = Image.new("RGB", (width, height), "white")
        self.draw = ImageDraw.Draw(self.image, "RGBA")
        self._font = ImageFont.load_default
        self._fonts = {}

    def _f(self, size):
        if size not in self._fonts:
            try:
                self._fonts[size] = self._font(size=size)
            except TypeError:  # pragma: no cover - Pillow without FreeType
                self._fonts[size] = self._font()
        return self._fonts[size]

    def rect(self, x0, y0, x1, y1, fill, title=None):
        if x1 - x0 > 0 and y1 - y0 > 0:
            self.draw.rectangle([x0, y0, x1, y1], fill=fill)

    def line(self, x0, y0, x1, y1, color):
        self.draw.line([x0, y0, x1, y1], fill=color, width=1)

    def dot(self, x, y, r, color, alpha=0.45):
        rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
        self.draw.ellipse([x - r, y - r, x + r, y + r], fill=rgb + (int(255 * alpha),))

    def text(self, x, y, s, anchor="middle", size=11, bold=False):
        a = {"middle": "ms", "start": "ls", "end": "rs"}[anchor]
        self.draw.text((x, y), s, fill="black", font=self._f(size + (1 if bold else 0)), anchor=a)

    def result(self):
        return self.image


def _frame(c, title: str, xlabel: str, ylabel: str, xr: Tuple[float, float],
           yr: Tuple[float, float], log_x: bool = False, note: str = "",
           counts: bool = False):
    """Axes, ticks and labels (``counts``: the y axis counts, whole ticks); returns a
    ``(sx, sy)`` pair mapping data to canvas coordinates."""
    x0, x1, y0, y1 = _LEFT, WIDTH - _RIGHT, HEIGHT - _BOTTOM, _TOP
    lx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    a, b = lx(xr[0]), lx(xr[1])
    if b == a:
        b = a + 1
    ylo, yhi = yr if yr[1] > yr[0] else (yr[0], yr[0] + 1)

    def sx(v):
        return x0 + (lx(v) - a) / (b - a) * (x1 - x0)

    def sy(v):
        return y0 - (v - ylo) / (yhi - ylo) * (y0 - y1)

    c.text(WIDTH / 2, 16, title, size=13, bold=True)
    for t in _ticks(ylo, yhi, whole=counts):
        c.line(x0, sy(t), x1, sy(t), _GRID)
        c.text(x0 - 6, sy(t) + 4, _fmt(t), anchor="end")
    if log_x:
        ticks = [10 ** e for e in range(math.floor(a), math.ceil(b) + 1) if a <= e <= b]
        if len(ticks) < 2:
            ticks = [xr[0], xr[1]]
    else:
        ticks = _ticks(xr[0], xr[1])
    for t in ticks:
        c.line(sx(t), y0, sx(t), y0 + 4, _AXIS)
        c.text(sx(t), y0 + 16, _fmt(t))
    c.line(x0, y0, x1, y0, _AXIS)
    c.line(x0, y0, x0, y1, _AXIS)
    c.text(WIDTH / 2, HEIGHT - 8, xlabel + (" (log scale)" if log_x else ""))
    c.text(12, _TOP - 4, ylabel, anchor="start")
    if note:  # (a line of at most NOTE_CHARS: a longer one ran over the plot's edges)
        c.text(x1, _TOP - 4, note, anchor="end", size=10)
    return sx, sy


#: The longest note a plot's frame holds on one line (beside its axis label, at font size 10);
#: a plot without data shows a longer one on several lines (:func:`_middle`).
NOTE_CHARS = 72


def _middle(c, text: str) -> None:
    """``text`` centred in the canvas, on as many lines as it takes (a note of 125 characters
    had run off both edges of an empty plot: README review 39)."""
    lines = textwrap.wrap(text, 80) or [""]
    top = HEIGHT / 2 - 8 * (len(lines) - 1)
    for i, line in enumerate(lines):
        c.text(WIDTH / 2, top + 16 * i, line)


def summary(plot) -> str:
    """What a plot shows, in one sentence: its text alternative (the SVG's ``aria-label``;
    the bars' values had been in ``<title>`` elements a screen reader does not expose under
    ``role="img"``, the scatter's nowhere: manifest review 29)."""
    if isinstance(plot, Histogram):
        if not len(plot.counts):
            return f"{plot.title}: {plot.note or 'no data'}"
        counts, edges = plot.counts, plot.edges
        lo = edges[0] if plot.lowest is None else plot.lowest     # the values', not the
        hi = edges[-1] if plot.highest is None else plot.highest  # padded axis's (review 30)
        images = f"{sum(counts):,} image{'' if sum(counts) == 1 else 's'}"
        if _fmt(lo) == _fmt(hi):   # (as they are written: "from 1 to 1" said nothing)
            return (f"{plot.title}: {images}, {plot.xlabel} {_fmt(lo)}"
                    + ("" if sum(counts) == 1 else " in every one"))
        top = int(np.argmax(counts))
        said = (f"{plot.title}: {images}, {plot.xlabel} from {_fmt(lo)} to {_fmt(hi)}")
        if counts[top] == 1:   # ("most (1) between ..." where each bar held one)
            return said
        return (f"{said}; most ({counts[top]:,}) between {_fmt(edges[top])} "
                f"and {_fmt(edges[top + 1])}")
    xs = np.asarray(plot.xs, dtype=np.float64)
    ys = np.asarray(plot.ys, dtype=np.float64)
    if xs.size == 0:
        return f"{plot.title}: {plot.note or 'no data'}"
    r = float(np.corrcoef(xs, ys)[0, 1]) if xs.size > 2 and xs.std() > 0 and ys.std() > 0 \
        else None
    return (f"{plot.title}: {xs.size:,} images, {plot.xlabel} {_fmt(xs.min())} to "
            f"{_fmt(xs.max())}, {plot.ylabel} {_fmt(ys.min())} to {_fmt(ys.max())}"
            + ("" if r is None else f"; correlation {r:.2f}"))


def _draw(plot, canvas_cls):
    c = canvas_cls(WIDTH, HEIGHT, summary(plot))
    if isinstance(plot, Histogram):
        if not len(plot.counts):
            c.text(WIDTH / 2, 20, plot.title, size=13, bold=True)
            _middle(c, plot.note or "no data")
            return c.result()
        edges, counts = plot.edges, plot.counts
        sx, sy = _frame(c, plot.title, plot.xlabel, "images", (edges[0], edges[-1]),
                        (0, max(max(counts), 1) * 1.05), plot.log_x, plot.note, counts=True)
        for lo, hi, n in zip(edges[:-1], edges[1:], counts):
            if n:
                c.rect(sx(lo) + 0.5, sy(n), sx(hi) - 0.5, sy(0), _BAR,
                       title=f"{_fmt(lo)} to {_fmt(hi)}: {n} images")
        return c.result()
    xs = np.asarray(plot.xs, dtype=np.float64)
    ys = np.asarray(plot.ys, dtype=np.float64)
    if xs.size == 0:
        c.text(WIDTH / 2, 20, plot.title, size=13, bold=True)
        _middle(c, plot.note or "no data")
        return c.result()
    xpad = (xs.max() - xs.min()) * 0.03 or 0.5
    ypad = (ys.max() - ys.min()) * 0.03 or 0.5
    sx, sy = _frame(c, plot.title, plot.xlabel, plot.ylabel,
                    (xs.min() - xpad, xs.max() + xpad), (ys.min() - ypad, ys.max() + ypad),
                    note=plot.note)
    few = xs.size < 200  # few points: bigger and opaque; many: small and translucent
    for x, y in zip(xs.tolist(), ys.tolist()):
        c.dot(sx(x), sy(y), 3.5 if few else 2.5, _DOT, 0.85 if few else 0.45)
    return c.result()


def to_svg(plot) -> str:
    """The plot as an inline ``<svg>`` element (text)."""
    return _draw(plot, _SvgCanvas)


def to_png(plot, file) -> None:
    """Write the plot as a PNG to ``file`` (a path or a binary file object)."""
    _draw(plot, _PilCanvas).save(file, format="PNG")
