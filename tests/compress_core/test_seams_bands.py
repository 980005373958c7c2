"""Contours that carved seams leave in smooth gradients: the measure on a drawn sky and on a real
one (scikit-learn's china), the fields made only where a carve could leave one, and the meter
that counts them with the steps and bends."""
import numpy as np
import pytest

from compress_core.seams.bands import (BAND_EXCESS, MASKING_ACTIVITY, SHORTEST_BAND,
                                       VISIBLE_BAND, band_candidates, seam_bands, shade_field)
from compress_core.seams.breaks import edge_field, field_factor, seam_bends, seam_breaks
from compress_core.seams.meter import StepMeter

from _core_data import photo


def sky(size=(400, 240), top=80.0, bottom=200.0, grain=0.0) -> np.ndarray:
    """A sky that brightens evenly from ``top`` to ``bottom`` (levels), with Gaussian grain."""
    w, h = size
    luma = np.linspace(top, bottom, h)[:, None] * np.ones((1, w))
    luma = luma + np.random.default_rng(0).normal(0.0, grain, luma.shape) if grain else luma
    blue = np.clip(np.rint(np.stack([luma * 0.8, luma, luma * 1.2], axis=-1)), 0, 255)
    return blue.astype(np.uint8)


def rows_bunched(shape, count: int, row: int, wave: float = 6.0, columns=None) -> np.ndarray:
    """Sources after ``count`` horizontal seams that all pass just below ``row``, waving by
    ``wave`` rows across the picture (in ``columns`` only, a slice; elsewhere they spread
    evenly)."""
    h, w = shape
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    columns = slice(0, w) if columns is None else columns
    spread = np.linspace(0, h - 1, count + 2)[1:-1].round().astype(int)
    kept = []
    for x in range(w):
        if columns.start <= x < columns.stop:
            y0 = row + int(round(wave * np.sin(x / 15.0)))
            removed = np.arange(y0, y0 + count)
        else:
            removed = spread
        kept.append(np.delete(index[:, x], removed))
    return np.stack(kept, axis=1)


def rows_spread(shape, count: int) -> np.ndarray:
    """Sources after ``count`` horizontal seams spread evenly down the picture."""
    h, w = shape
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    return np.delete(index, np.linspace(0, h - 1, count + 2)[1:-1].round().astype(int), axis=0)


#: the sky's luma climb per row: 120 levels over 240 rows, in the blue's luma (0.972 of its green)
CLIMB = 120 / 240 * (0.2125 * 0.8 + 0.7154 + 0.0721 * 1.2)


def test_seams_bunched_in_a_smooth_sky_leave_a_contour_an_even_squeeze_does_not():
    """kodim21 at 600x314 (visual review 34): 55 horizontal seams through a smooth blue sky
    left a darker band with a wavy outline. Here 30 rows of a sky that climbs half a level a row
    go at one place: the pair across them differs by 15 levels where an even squeeze leaves
    about half a level; the contour runs the whole width."""
    pixels = sky()
    shade = shade_field(pixels, vertical=False)
    bunched = rows_bunched(pixels.shape[:2], 30, 100)
    # the contour's length in output pixels along the seams: the whole width, as at scale 1
    assert seam_bands(bunched, shade, False, 1.0) == pytest.approx(400, abs=2)
    assert seam_bands(bunched, shade, False, 2.0) == pytest.approx(200, abs=1)
    assert seam_bands(rows_spread(pixels.shape[:2], 30), shade, False, 1.0) == 0
    # 3 rows at one place: the pair 4 rows apart climbs 4 rows' worth where an even squeeze of
    # 3 rows in 240 leaves about 1: the excess under BAND_EXCESS; 8 rows: over it
    assert (4 - 240 / 237) * CLIMB < BAND_EXCESS < (9 - 240 / 232) * CLIMB
    assert seam_bands(rows_bunched(pixels.shape[:2], 3, 100), shade, False, 1.0) == 0
    assert seam_bands(rows_bunched(pixels.shape[:2], 8, 100), shade, False, 1.0) > 0


def test_no_contour_where_nothing_climbs_or_texture_hides_it():
    flat = np.full((240, 400, 3), 140, np.uint8)
    bunched = rows_bunched(flat.shape[:2], 30, 100)
    assert seam_bands(bunched, shade_field(flat, vertical=False), False, 1.0) == 0
    # grain of 20 levels: the neighbourhood's mean gradient 2.4-3.5 everywhere (kodim14's
    # rocks: 2.6-6.5), over MASKING_ACTIVITY
    shade = shade_field(sky(grain=20.0), vertical=False)
    assert np.percentile(shade.activity, 1) > MASKING_ACTIVITY
    assert seam_bands(bunched, shade, False, 1.0) == 0
    # light grain (2 levels) hides nothing
    assert seam_bands(bunched, shade_field(sky(grain=2.0), vertical=False), False, 1.0) > 300


def test_a_short_contour_does_not_show():
    """A contour shows by its length along the seams, as a share of the output's, times its
    median excess: 30 rows at one place in 6 of 400 columns (the rest spread evenly) score
    0.015 x 14.6, under VISIBLE_BAND (though as long as SHORTEST_BAND); in 60 of them,
    0.15 x 14.6."""
    pixels = sky()
    shade = shade_field(pixels, vertical=False)
    h, w = pixels.shape[:2]
    excess = (31 - 1) * CLIMB  # (the seams around the pair spread one row a column)
    assert 6 / w * excess < VISIBLE_BAND < 60 / w * excess and 6 >= SHORTEST_BAND
    short = rows_bunched((h, w), 30, 100, wave=0.0, columns=slice(100, 106))
    assert seam_bands(short, shade, False, 1.0) == 0
    longer = rows_bunched((h, w), 30, 100, wave=0.0, columns=slice(100, 160))
    assert seam_bands(longer, shade, False, 1.0) == pytest.approx(60, abs=2)


def test_seams_bunched_in_a_real_sky_leave_a_contour():
    """scikit-learn's china: its sky brightens by 0.16 levels a pixel to the right. Twenty
    columns removed at one place in it leave a contour down the sky (the pagoda and trees below
    are edges and texture: nothing counted there); the same twenty spread evenly, or ten at one
    place, none."""
    pixels = photo("china", 320)
    h, w = pixels.shape[:2]
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    shade = shade_field(pixels)

    def bunched(count, at):
        rows = []
        for y in range(h):
            x = at + int(round(6 * np.sin(y / 9)))
            rows.append(np.delete(index[y], np.s_[x:x + count]))
        return np.stack(rows)

    contour = seam_bands(bunched(20, 200), shade, True, 1.0)
    assert 60 <= contour <= 0.7 * h  # the sky's rows, not the trees'
    assert seam_bands(bunched(10, 200), shade, True, 1.0) == 0
    spread = np.delete(index, np.linspace(0, w - 1, 22)[1:-1].round().astype(int), axis=1)
    assert seam_bands(spread, shade, True, 1.0) == 0


def test_only_pairs_far_enough_apart_are_read():
    pixels = sky()
    h, w = pixels.shape[:2]
    pairs = band_candidates(rows_spread((h, w), 30), False, 1.0, w)
    assert not pairs  # an even spread: every gap within a pixel of the even one
    pairs = band_candidates(rows_bunched((h, w), 30, 100), False, 1.0, w)
    assert len(pairs.i) == w  # one pair a column: the one across the bunched rows
    left, top, right, bottom = pairs.box()
    assert (left, right) == (0, w) and 90 <= top and bottom <= 140


def turned(pixels, source):
    """A picture and a carve of it turned by 90 degrees: horizontal seams become vertical."""
    h, w = pixels.shape[:2]
    y, x = np.divmod(source, w)
    return (np.ascontiguousarray(pixels.transpose(1, 0, 2)),
            np.ascontiguousarray((x * h + y).T).astype(np.int32))


@pytest.mark.parametrize("vertical", [False, True])
def test_the_meter_counts_steps_bends_and_contours_as_on_whole_fields(vertical):
    pixels, source = sky(), rows_bunched((240, 400), 30, 100)
    if vertical:
        pixels, source = turned(pixels, source)
    meter = StepMeter(pixels)
    whole = np.arange(pixels.shape[0] * pixels.shape[1], dtype=np.int32).reshape(
        pixels.shape[:2])
    assert meter(whole, vertical, 1.0) == 0
    assert meter.field is None and meter.shade is None  # nothing removed: nothing made
    want = (seam_breaks(source, edge_field(pixels), vertical, 1.0)
            + seam_bends(source, edge_field(pixels), vertical, 1.0)
            + seam_bands(source, shade_field(pixels, vertical=vertical), vertical, 1.0))
    assert want == pytest.approx(400, abs=2)
    assert meter(source, vertical, 1.0) == pytest.approx(want)
    # the shade covers the pairs (and the filters' reach), not the whole sky
    left, top, right, bottom = meter.shade.box()
    if vertical:
        left, top, right, bottom = top, left, bottom, right
    assert top > 0 and bottom < 240 and bottom - top < 120


def test_the_field_reduction_follows_the_scale():
    pixels = sky((800, 480), grain=1.0)
    source = rows_bunched(pixels.shape[:2], 60, 200, wave=12.0)
    meter = StepMeter(pixels)
    assert meter(source, False, 4.0) > 0
    assert meter.shade.factor == field_factor(4.0) == 2


def bands_kept(result, pixels, size) -> float:
    """seam_bands of the seams ``result`` kept, measured on the picture they were carved from."""
    from compress_core.hybrid import resample

    work = result.operations.get("working_size")
    pixels = pixels if work is None else resample(pixels, *work)
    source = result.source_before_resampling
    vertical = result.seams["vertical"] > 0
    scale = source.shape[0] / size[1] if vertical else source.shape[1] / size[0]
    return seam_bands(source, shade_field(pixels, factor=field_factor(scale), vertical=vertical),
                      vertical, scale)


def test_a_thumbnail_keeps_no_contour_in_its_sky(monkeypatch):
    """scikit-learn's china at 300x150, the default deep energy: its hazy sky is what matters
    least, and 70 horizontal seams bunched in it left a contour there (and cut the pagoda's
    finial off at the top). The policy now gives seams up until no contour shows."""
    from compress_core import SemanticCompressor
    import compress_core.seams.meter as meter

    compressor = SemanticCompressor()
    pixels, size = photo("china"), (300, 150)
    result = compressor.compress(pixels, target_width=300, target_height=150,
                                 show_progress=False)
    assert result.seams["horizontal"] > 0  # still carved, only less
    assert bands_kept(result, pixels, size) == 0
    assert result.stretch <= 1.05 + 1e-9
    monkeypatch.setattr(meter, "seam_bands", lambda *args, **kwargs: 0.0)
    unchecked = compressor.compress(pixels, target_width=300, target_height=150,
                                    show_progress=False)
    assert unchecked.seams["horizontal"] > result.seams["horizontal"]
    assert bands_kept(unchecked, pixels, size) > 0


def test_a_gradient_squeezed_evenly_is_steeper_not_stepped():
    """Diff review 35: a sky whose top half climbs 1.2 levels a row, 90 of its 120 rows
    removed three in four, evenly: the output's gradient is steeper there, with no step; the
    seams' spread read over the whole column had counted the width as a contour."""
    h, w = 240, 400
    luma = np.concatenate([np.linspace(20, 164, 120), np.full(120, 164.0)])
    pixels = np.repeat(np.repeat(luma[:, None, None], w, axis=1), 3, axis=2).astype(np.uint8)
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    removed = [y for y in range(120) if y % 4]
    even = np.delete(index, removed, axis=0)
    shade = shade_field(pixels, vertical=False)
    assert seam_bands(even, shade, False, 1.0) == 0
    # the same 90 rows at one place: a step across the whole width
    assert seam_bands(np.delete(index, np.s_[10:100], axis=0), shade, False, 1.0) > 390


def test_a_contour_shorter_than_the_shortest_does_not_show():
    """A contour shows by its length share times its excess, and only from SHORTEST_BAND output
    pixels along the seams: 30 rows at one place in 4 columns of a 40-wide sky score 0.1 x 14.5
    but are 4 pixels long; in 8 columns, 8."""
    pixels = sky((40, 240))
    shade = shade_field(pixels, vertical=False)
    assert 4 < SHORTEST_BAND < 8
    assert 4 / 40 * (31 - 240 / 210) * CLIMB > VISIBLE_BAND
    four = rows_bunched((240, 40), 30, 100, wave=0.0, columns=slice(10, 14))
    assert seam_bands(four, shade, False, 1.0) == 0
    eight = rows_bunched((240, 40), 30, 100, wave=0.0, columns=slice(10, 18))
    assert seam_bands(eight, shade, False, 1.0) == pytest.approx(8)


@pytest.mark.parametrize("vertical", [False, True])
def test_the_meter_reads_reduced_fields_as_whole_ones(vertical):
    """Diff review 35: at a field factor of 2, a box starting one pixel off the whole field's
    grid of blocks read other blocks' means (7.6 levels apart), and a carve counted 0 or 4.35
    with the box's edge. The meter's boxes start on the grid: the counts are the whole fields'."""
    pixels, scale = photo("coffee", 480), 4.0
    h, w = pixels.shape[:2]
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    if vertical:
        source = np.stack([np.delete(index[y], np.s_[201 + y % 7:241 + y % 7]) for y in range(h)])
    else:
        source = np.stack([np.delete(index[:, x], np.s_[101 + x % 5:131 + x % 5])
                           for x in range(w)], axis=1)
    factor = field_factor(scale)
    assert factor == 2
    whole_edges = edge_field(pixels, factor=factor)
    want = (seam_breaks(source, whole_edges, vertical, scale)
            + seam_bends(source, whole_edges, vertical, scale)
            + seam_bands(source, shade_field(pixels, factor=factor, vertical=vertical), vertical,
                         scale))
    meter = StepMeter(pixels)
    assert meter(source, vertical, scale) == pytest.approx(want)
    left, top, _, _ = meter.shade.box()
    assert left % factor == 0 and top % factor == 0


def test_the_meter_makes_its_fields_again_at_another_factor():
    pixels = sky((800, 480), grain=1.0)
    source = rows_bunched(pixels.shape[:2], 60, 200, wave=12.0)
    meter = StepMeter(pixels)
    meter(source, False, 6.2)
    assert meter.shade.factor == field_factor(6.2) == 3
    assert meter(source, False, 1.0) == StepMeter(pixels)(source, False, 1.0)
    assert meter.shade.factor == 1
