"""Seam carving kernels and SeamCarver, checked against slow references and li-plus."""
import os
import subprocess
import sys

import numpy as np
import pytest
import seam_carving
from PIL import Image
from scipy import ndimage
from skimage import data

from compress_core.energy import EnergyFunction, GradientEnergyFunction
from compress_core.energy.gradient import luma_u8
from compress_core.seams import SeamCarver, remove_object
from compress_core.seams.carver import DEFAULT_STEP_RATIO
from compress_core.seams import kernels

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _small(img, width):
    h = round(img.shape[0] * width / img.shape[1])
    mode = "RGBA" if img.ndim == 3 and img.shape[2] == 4 else None
    return np.asarray(Image.fromarray(img, mode).resize((width, h), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def chelsea():
    return _small(data.chelsea(), 120)


@pytest.fixture(scope="module")
def astronaut():
    return _small(data.astronaut(), 96)


@pytest.fixture(scope="module")
def coffee_600():
    return np.ascontiguousarray(data.coffee())  # 600 x 400


# ------------------------------------------------------------------ slow, obvious references
def _ref_energy(gray, static, gw):
    g = gray.astype(np.float32)
    e = gw * (np.abs(ndimage.sobel(g, axis=1)) + np.abs(ndimage.sobel(g, axis=0)))
    return e if static is None else static + e


def _ref_backward_seam(energy):
    """Naive DP over the full energy map, ties left, then middle, then right."""
    h, w = energy.shape
    cost = energy.astype(np.float32).copy()
    for i in range(1, h):
        for j in range(w):
            cands = [cost[i - 1, k] for k in (j - 1, j, j + 1) if 0 <= k < w]
            cost[i, j] = np.float32(min(cands)) + energy[i, j]
    seam = np.empty(h, dtype=int)
    seam[-1] = int(np.argmin(cost[-1]))
    for i in range(h - 1, 0, -1):
        c = seam[i]
        best = None
        for k in (c - 1, c, c + 1):
            if 0 <= k < w and (best is None or cost[i - 1, k] < cost[i - 1, best]):
                best = k
        seam[i - 1] = best
    return seam


def _ref_forward_seam(gray, static, gw):
    g = gray.astype(np.float32)
    h, w = g.shape
    pad = np.hstack([g[:, :1], g, g[:, -1:]])
    cost = np.zeros((h, w), dtype=np.float32)
    choice = np.zeros((h, w), dtype=int)
    st = static if static is not None else np.zeros((h, w), np.float32)
    for j in range(w):
        cost[0, j] = np.float32(gw * abs(pad[0, j + 2] - pad[0, j])) + st[0, j]
    for i in range(1, h):
        for j in range(w):
            cu = np.float32(gw * abs(pad[i, j + 2] - pad[i, j])) + st[i, j]
            cl = cu + np.float32(gw * abs(pad[i - 1, j + 1] - pad[i, j]))
            cr = cu + np.float32(gw * abs(pad[i - 1, j + 1] - pad[i, j + 2]))
            opts = []
            if j > 0:
                opts.append((cost[i - 1, j - 1] + cl, j - 1))
            opts.append((cost[i - 1, j] + cu, j))
            if j < w - 1:
                opts.append((cost[i - 1, j + 1] + cr, j + 1))
            v, k = min(opts, key=lambda o: o[0])  # first minimum: left, middle, right
            cost[i, j], choice[i, j] = v, k
    seam = np.empty(h, dtype=int)
    seam[-1] = int(np.argmin(cost[-1]))
    for i in range(h - 1, 0, -1):
        seam[i - 1] = choice[i, seam[i]]
    return seam


def _ref_carve(rgb, n, static=None, gw=1.0, forward=False):
    """Remove n seams, recomputing everything from scratch after each one."""
    gray = luma_u8(rgb)
    index = np.arange(gray.size).reshape(gray.shape)
    seams = []
    for _ in range(n):
        if forward:
            seam = _ref_forward_seam(gray, static, gw)
        else:
            seam = _ref_backward_seam(_ref_energy(gray, static, gw))
        seams.append(index[np.arange(gray.shape[0]), seam])
        keep = np.ones(gray.shape, bool)
        keep[np.arange(gray.shape[0]), seam] = False
        shape = (gray.shape[0], gray.shape[1] - 1)
        gray = gray[keep].reshape(shape)
        index = index[keep].reshape(shape)
        if static is not None:
            static = static[keep].reshape(shape)
    return index, np.array(seams)


def _kernel_carve(rgb, n, static=None, gw=1.0, forward=False):
    gray = luma_u8(rgb).copy()
    h, w = gray.shape
    st = static.copy() if static is not None else np.zeros((1, 1), np.float32)
    energy = np.empty((h, w), np.float32)
    cost = np.empty((h, w), np.float32)
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    off = np.zeros(h, np.int32)
    if not forward:
        kernels.fill_energy(gray, off, st, static is not None, gw, energy, h, w)
    removed = np.empty((n, h), np.int32)
    costs = np.empty(n, np.float32)
    new_w = kernels.carve_vertical(gray, st, static is not None, gw, forward, energy, index, cost,
                                   False, off, np.empty(h, np.int32), w, n, removed, costs)
    return _logical(index, off, new_w), removed


def _logical(a, off, w):
    out = np.empty((a.shape[0], w), a.dtype)
    kernels.compact(a, off, w, out)
    return out


@pytest.mark.parametrize("forward", [False, True])
@pytest.mark.parametrize("with_static", [False, True])
def test_kernel_matches_slow_reference(forward, with_static):
    rng = np.random.default_rng(3 + forward + 2 * with_static)
    rgb = (rng.random((17, 23, 3)) * 255).astype(np.uint8)
    rgb[:, 8:11] //= 6  # a dark band the seams should like
    static = (rng.random((17, 23)) * 300).astype(np.float32) if with_static else None
    gw = 0.5 if with_static else 1.0
    want_index, want_seams = _ref_carve(rgb, 9, static, gw, forward)
    got_index, got_seams = _kernel_carve(rgb, 9, static, gw, forward)
    np.testing.assert_array_equal(got_seams, want_seams)
    np.testing.assert_array_equal(got_index, want_index)


def test_kernel_on_photo_matches_reference(chelsea):
    crop = chelsea[:40, :50]
    want_index, want_seams = _ref_carve(crop, 12)
    got_index, got_seams = _kernel_carve(crop, 12)
    np.testing.assert_array_equal(got_seams, want_seams)
    np.testing.assert_array_equal(got_index, want_index)


def test_incremental_cost_update_equals_full_recompute(astronaut):
    """The incremental cumulative cost after each seam is bit-identical to a full DP."""
    gray = luma_u8(astronaut).copy()
    h, w = gray.shape
    st = np.zeros((1, 1), np.float32)
    off = np.zeros(h, np.int32)
    energy = np.empty((h, w), np.float32)
    kernels.fill_energy(gray, off, st, False, 1.0, energy, h, w)
    cost = np.empty((h, w), np.float32)
    kernels.backward_cost(energy, off, cost, h, w)
    seam = np.empty(h, np.int32)
    index = np.arange(h * w, dtype=np.int32).reshape(h, w)
    scratch = np.empty(w, np.float32)
    moved_right = 0
    for _ in range(30):
        kernels.backward_backtrack(cost, off, h, w, seam)
        kept_gray = _logical(gray, off, w)
        keep = np.ones(kept_gray.shape, bool)
        keep[np.arange(h), seam] = False
        kernels.remove_seam(gray, st, False, energy, index, cost, True, off, seam, h, w)
        w -= 1
        # the logical image lost exactly the seam, whichever side each row moved
        np.testing.assert_array_equal(_logical(gray, off, w), kept_gray[keep].reshape(h, w))
        kernels.update_energy_near_seam(gray, off, st, False, 1.0, energy, seam, h, w)
        np.testing.assert_array_equal(_logical(energy, off, w),
                                      _ref_energy(_logical(gray, off, w), None, 1.0))
        kernels.backward_cost_update(energy, off, cost, scratch, seam, h, w)
        full = np.empty((h, w), np.float32)
        kernels.backward_cost(_logical(energy, off, w), np.zeros(h, np.int32), full, h, w)
        np.testing.assert_array_equal(_logical(cost, off, w), full)
        moved_right = max(moved_right, int(off.max()))
    assert moved_right > 0  # some rows closed the gap from the left


# --------------------------------------------------------------------------- li-plus parity
@pytest.mark.parametrize("mode", ["backward", "forward"])
def test_same_result_as_li_plus_seam_carving(chelsea, mode):
    h, w = chelsea.shape[:2]
    for size in [(w - 30, h), (w, h - 20), (w - 25, h - 15)]:
        ours = SeamCarver(energy_mode=mode, order="width_first").resize(
            chelsea, target_width=size[0], target_height=size[1])
        theirs = seam_carving.resize(chelsea, size, energy_mode=mode, order="width-first")
        np.testing.assert_array_equal(ours, theirs)


def test_single_insertion_step_matches_li_plus_up_to_rounding(chelsea):
    """Documented difference: inserted pixels are rounded, li-plus truncates."""
    h, w = chelsea.shape[:2]
    ours = SeamCarver(order="width_first").resize(chelsea, target_width=w + 20)
    theirs = seam_carving.resize(chelsea, (w + 20, h), order="width-first")
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs).max() <= 1


# ----------------------------------------------------------------------------- behaviour
def test_seams_are_connected_paths_of_distinct_pixels(astronaut):
    h, w = astronaut.shape[:2]
    for mode in ("backward", "forward"):
        carver = SeamCarver(energy_mode=mode)
        seams = carver.find_seams(astronaut, 20)
        assert seams.shape == (20, h)
        assert (seams >= 0).all() and (seams < w).all()
        # in the carved coordinates each seam is 8-connected; in input coordinates the pixels
        # of all seams are distinct (no pixel removed twice)
        flat = (np.arange(h)[None, :] * w + seams).ravel()
        assert len(np.unique(flat)) == flat.size
        horizontal = carver.find_seams(astronaut, 10, direction="horizontal")
        assert horizontal.shape == (10, w)


def test_first_seam_is_connected_and_cheapest(astronaut):
    seam = SeamCarver().find_seams(astronaut, 1)[0]
    assert (np.abs(np.diff(seam)) <= 1).all()
    energy = _ref_energy(luma_u8(astronaut), None, 1.0)
    assert np.array_equal(seam, _ref_backward_seam(energy))


@pytest.mark.parametrize("order", ["auto", "width_first", "height_first"])
@pytest.mark.parametrize("size", [(80, 60), (96, 40), (50, 96), (120, 130), (60, 110)])
def test_exact_output_size_for_every_order(astronaut, order, size):
    out = SeamCarver(order=order).resize(astronaut, target_width=size[0], target_height=size[1])
    assert out.shape == (size[1], size[0], 3)
    assert out.dtype == np.uint8


def test_scale_arguments(astronaut):
    out = SeamCarver().resize(astronaut, scale_width=0.5, scale_height=0.75)
    assert out.shape[:2] == (72, 48)


def test_insertion_then_removal_gives_back_the_original(chelsea):
    h, w = chelsea.shape[:2]
    seams = SeamCarver().find_seams(chelsea, 15)
    mask = np.zeros((h, w), bool)
    mask[np.repeat(np.arange(h), 15), seams.T.ravel()] = True
    out = np.empty((h, w + 15, 3), np.float32)
    inserted = np.empty((h, w + 15), np.bool_)
    kernels.insert_seams(chelsea.astype(np.float32), mask, 15, out, inserted)
    assert (inserted.sum(axis=1) == 15).all()
    restored = out[~inserted].reshape(h, w, 3)
    np.testing.assert_array_equal(restored.astype(np.uint8), chelsea)


def test_keep_mask_pixels_survive(chelsea):
    h, w = chelsea.shape[:2]
    keep = np.zeros((h, w), bool)
    keep[20:60, 30:90] = True  # the cat's face region, wider than what carving alone keeps
    result = SeamCarver(keep_mask=keep).carve(chelsea, target_width=w - 50, target_height=h - 10)
    kept = result.kept_mask((h, w))
    assert kept[keep].all()
    # without the mask some of those pixels go
    plain = SeamCarver().carve(chelsea, target_width=w - 50, target_height=h - 10)
    assert not plain.kept_mask((h, w))[keep].all()


def test_remove_mask_object_disappears(chelsea):
    h, w = chelsea.shape[:2]
    img = chelsea.copy()
    img[30:50, 40:55] = (255, 0, 0)  # a red object
    mask = np.zeros((h, w), bool)
    mask[30:50, 40:55] = True
    carved = SeamCarver(remove_mask=mask).carve(img, target_width=w - 20)
    assert not carved.kept_mask((h, w))[mask].any()
    restored = remove_object(img, mask)
    assert restored.shape == img.shape
    red = (restored[..., 0] > 200) & (restored[..., 1] < 60) & (restored[..., 2] < 60)
    assert red.sum() == 0


def test_object_removal_crosses_no_kept_pixel_a_seam_can_go_around(coffee_600, caplog):
    """Two segments of an object offset by two columns, a kept line between them: one seam
    joined them through a kept pixel (the crossing cost one KEEP_ENERGY, leaving ten object
    pixels to the next seam cost ten REMOVE_ENERGY): 20 of 21 kept pixels were left."""
    import logging

    h, w = coffee_600.shape[:2]
    remove = np.zeros((h, w), bool)
    remove[:200, 100] = remove[200:, 102] = True
    keep = np.zeros((h, w), bool)
    keep[190:211, 101] = True
    with caplog.at_level(logging.WARNING, logger="compress_core.seams.carver"):
        for target in (w, w - 40):  # removed and filled back; removed and carved further
            result = SeamCarver(keep_mask=keep, remove_mask=remove).carve(coffee_600,
                                                                          target_width=target)
            assert result.pixels.shape[:2] == (h, target)
        kept = result.kept_mask((h, w))
        assert kept[keep].all() and not kept[remove].any()
        marked = coffee_600.copy()
        marked[keep], marked[remove] = (0, 255, 0), (255, 0, 255)
        out = remove_object(marked, remove, keep_mask=keep)
        assert (out == (0, 255, 0)).all(axis=2).sum() == keep.sum()
        assert not (out == (255, 0, 255)).all(axis=2).any()
        assert caplog.messages == []
        # object pixels walled in by kept ones (rows 200-210 of column 102 between kept
        # columns 101 and 103, under kept row 199): removed, crossing as few kept pixels
        keep[190:211, 101:104] = True
        keep &= ~remove
        result = SeamCarver(keep_mask=keep, remove_mask=remove).carve(coffee_600,
                                                                      target_width=w - 40)
        kept = result.kept_mask((h, w))
        assert not kept[remove].any() and (~kept[keep]).sum() <= 2
        assert caplog.messages == ["remove_mask: 12 of its pixels are walled in by keep_mask "
                                   "pixels; the seams that remove them cross the fewest kept "
                                   "pixels"]


@pytest.mark.parametrize("wall", [19, 20, 30])
def test_an_object_behind_a_thick_wall_of_kept_pixels_goes_by_its_own_seams(wall, caplog):
    """A 40 x 40 object inside a kept block whose wall is at least half the object thick (20
    px): the seams went around the wall pass after pass, 391 of 451 columns before they
    reached it, 340 inserted back, the picture smeared (stretch 2.9-3.9; edge review 36).
    Now the object's 40 seams, each crossing the wall (the fewest kept pixels it can), and no
    more: nothing inserted back at the same width."""
    import logging

    pixels = data.chelsea()   # 451 x 300
    h, w = pixels.shape[:2]
    remove = np.zeros((h, w), bool)
    remove[110:150, 210:250] = True
    keep = np.zeros((h, w), bool)
    keep[110 - wall:150 + wall, 210 - wall:250 + wall] = True
    keep &= ~remove
    with caplog.at_level(logging.WARNING, logger="compress_core.seams.carver"):
        carver = SeamCarver(GradientEnergyFunction(), keep_mask=keep, remove_mask=remove)
        narrower = carver.carve(pixels, target_width=w - 40)
        same = carver.carve(pixels, target_width=w)
    assert narrower.pixels.shape[:2] == (h, w - 40) and same.pixels.shape[:2] == (h, w)
    assert same.removal_index.shape == (h, w - 40)   # 40 seams out, 40 back in
    kept = narrower.kept_mask((h, w))
    assert not kept[remove].any()
    # each seam crosses the wall above and below the object (2 x wall kept pixels), no more
    assert (~kept[keep]).sum() == 40 * 2 * wall
    assert caplog.messages == ["remove_mask: 1600 of its pixels are walled in by keep_mask "
                               "pixels; the seams that remove them cross the fewest kept "
                               "pixels"] * 2


def test_objects_walled_in_apart_go_by_few_seams_crossing_their_own_walls():
    """Three objects on the astronaut, each inside a 12 px wall of kept pixels: the seams went
    around them for whole passes (110 seams); valued above any wall, their pixels drew the
    spare seams of a pass through side walls for scraps (89 seams, 3,120 kept pixels lost; the
    diff review of edge review 36). Each pass's seams now cross the line with the most object
    pixels at one of them: 70 seams (seams reach from one object to the next), about the
    2,400 kept pixels of the walls above and below the objects."""
    pixels = data.astronaut()
    h, w = pixels.shape[:2]
    keep, remove = np.zeros((h, w), bool), np.zeros((h, w), bool)
    for top, bottom, left, right in ((50, 80, 50, 80), (200, 260, 300, 330),
                                     (400, 430, 100, 140)):
        keep[top - 12:bottom + 12, left - 12:right + 12] = True
        remove[top:bottom, left:right] = True
    keep &= ~remove
    result = SeamCarver(GradientEnergyFunction(), keep_mask=keep,
                        remove_mask=remove).carve(pixels, target_width=w, target_height=h)
    kept = result.kept_mask((h, w))
    assert not kept[remove].any()
    assert w - result.removal_index.shape[1] <= 72
    assert (~kept[keep]).sum() <= 2400 * 1.1


def test_small_objects_walled_in_share_seams_and_the_static_map_comes_back_as_it_was():
    """40 objects of 4 x 4 px in 4 px walls on the astronaut: worth one kept pixel each, every
    object had seams of its own, 160 of 512 columns, the face squeezed (the second diff review
    of edge review 36); worth WALLED_WEIGHT, a seam goes on through the next object: under 50
    seams for about 1,400 kept pixels lost (1,280 at 160 seams). The static map the removal
    returns is the input's at the pixels kept: the line barred in each pass came back 4-64
    levels off (added and taken away again in float32)."""
    from compress_core.energy import SaliencyEnergyFunction
    from compress_core.seams.inputs import with_masks

    pixels = data.astronaut()
    h, w = pixels.shape[:2]
    keep, remove = np.zeros((h, w), bool), np.zeros((h, w), bool)
    rng = np.random.default_rng(3)
    step = 4 + 2 * 4 + 4
    grid = w // step
    for cell in rng.choice(grid * grid, 40, replace=False):
        y, x = (cell // grid) * step + 6, (cell % grid) * step + 6
        remove[y:y + 4, x:x + 4] = True
        keep[y - 4:y + 8, x - 4:x + 8] = True
    keep &= ~remove
    result = SeamCarver(GradientEnergyFunction(), keep_mask=keep,
                        remove_mask=remove).carve(pixels, target_width=w, target_height=h)
    kept = result.kept_mask((h, w))
    assert not kept[remove].any()
    removed_lines = (w - result.removal_index.shape[1]) + (h - result.removal_index.shape[0])
    assert removed_lines < 50 and (~kept[keep]).sum() < 1500
    saliency = SaliencyEnergyFunction()(pixels).astype(np.float32)
    static = with_masks(saliency, keep, remove, (h, w))
    carver = SeamCarver(GradientEnergyFunction())
    _, out, index = carver._remove_marked(pixels, static.copy(), 0.0)
    np.testing.assert_array_equal(out, static.ravel()[index])


def test_seam_reachable_follows_the_seams_own_moves():
    """A vertical seam moves at most one column a row: it slips between two kept pixels that
    touch at a corner, not through a whole row of them, and not into a pocket it cannot leave."""
    from compress_core.seams.carver import seam_reachable

    blocked = np.zeros((6, 6), bool)
    np.fill_diagonal(blocked, True)             # a diagonal line: every other pixel reached
    assert (seam_reachable(blocked) == ~blocked).all()
    blocked[:] = False
    blocked[2, :] = True                        # a whole row: nothing goes from top to bottom
    assert not seam_reachable(blocked).any()
    blocked[:] = False
    blocked[1:5, 1:5] = True
    blocked[2:4, 2:4] = False                   # a pocket walled in on every side
    reach = seam_reachable(blocked)
    assert not reach[2:4, 2:4].any() and reach[:, 0].all() and reach[:, 5].all()


class _RecordedBar:
    """A stand-in for tqdm that records its total and the seams it was told of."""
    bars = []

    def __init__(self, total, **_):
        self.total, self.n = total, 0
        _RecordedBar.bars.append(self)

    def update(self, step):
        self.n += step

    def refresh(self):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("target", ["same size", "narrower", "wider"])
def test_progress_counts_the_remove_masks_seams(chelsea, monkeypatch, target):
    """The bar's total left out the remove mask's seams: object removal at the same size
    (15 seams out, 15 back in) showed no bar at all (total 0), a narrower target a bar that
    ended short. Its total is every seam carved; with a wall of kept pixels (more seams than
    the object's extent) it grows to what was done."""
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", _RecordedBar)
    h, w = chelsea.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[30:50, 40:55] = True  # 15 columns, 20 rows: goes by 15 vertical seams
    width = {"same size": w, "narrower": w - 20, "wider": w + 6}[target]
    _RecordedBar.bars = []
    carver = SeamCarver(remove_mask=mask, show_progress=True)
    result = carver.carve(chelsea, target_width=width, target_height=h - 4)
    assert result.pixels.shape[:2] == (h - 4, width)
    (bar,) = _RecordedBar.bars
    assert bar.n == bar.total == 15 + abs(w - 15 - width) + 4
    keep = np.zeros((h, w), bool)
    keep[20:60, 38] = keep[20:60, 56] = keep[20, 38:57] = keep[59, 38:57] = True  # walled in
    _RecordedBar.bars = []
    SeamCarver(remove_mask=mask, keep_mask=keep, show_progress=True).carve(
        chelsea, target_width=width)
    (bar,) = _RecordedBar.bars
    assert bar.n == bar.total >= 15 + abs(w - 15 - width)


@pytest.mark.parametrize("columns", [399, 401, 450, 590])
def test_an_object_over_every_row_goes_column_by_column(coffee_600, columns):
    """A mask over 401 of a 600 x 400 picture's columns, every row, was refused ("nothing
    would be left"): it fills whole columns, so the horizontal seams it chose first could not
    pass, though 199 columns stay."""
    h, w = coffee_600.shape[:2]
    remove = np.zeros((h, w), bool)
    remove[:, :columns] = True
    result = SeamCarver(remove_mask=remove).carve(coffee_600, target_width=w - columns)
    assert result.pixels.shape[:2] == (h, w - columns)
    assert not result.kept_mask((h, w))[remove].any()
    remove[:, :] = True  # every row and every column: refused
    with pytest.raises(ValueError, match="nothing would be left"):
        SeamCarver(remove_mask=remove).carve(coffee_600, target_width=10)


def test_alpha_is_carved_with_the_pixels(astronaut):
    h, w = astronaut.shape[:2]
    alpha = (np.add.outer(np.arange(h), np.arange(w)) % 256).astype(np.uint8)
    rgba = np.dstack([astronaut, alpha])
    result = SeamCarver().carve(rgba, target_width=w - 30, target_height=h - 10)
    assert result.pixels.shape == (h - 10, w - 30, 4)
    np.testing.assert_array_equal(result.pixels[..., 3], alpha.ravel()[result.source_index])
    np.testing.assert_array_equal(result.pixels[..., :3],
                                  astronaut.reshape(-1, 3)[result.source_index])
    bigger = SeamCarver().resize(rgba, target_width=w + 10)
    assert bigger.shape == (h, w + 10, 4)


class _ColumnEnergy(EnergyFunction):
    """A static energy that makes a band of columns precious."""

    name = "band"

    def compute(self, rgb):
        e = np.zeros(rgb.shape[:2], np.float32)
        e[:, 40:60] = 1.0
        return e


def test_static_energy_is_carved_along_and_respected(chelsea):
    h, w = chelsea.shape[:2]
    result = SeamCarver(energy_function=_ColumnEnergy()).carve(chelsea, target_width=w - 60)
    kept = result.kept_mask((h, w))
    assert kept[:, 40:60].all()


def test_enlarge_by_more_than_one_step(astronaut):
    h, w = astronaut.shape[:2]
    out = SeamCarver(step_ratio=0.3).resize(astronaut, target_width=2 * w, target_height=h + 7)
    assert out.shape == (h + 7, 2 * w, 3)


def test_gray_and_float_inputs(astronaut):
    gray = astronaut[..., 0]
    assert SeamCarver().resize(gray, target_width=50).shape == (96, 50)
    assert SeamCarver().resize(gray[..., None], target_width=50).shape == (96, 50, 1)
    assert SeamCarver().resize(astronaut / 255.0, target_height=50).shape == (50, 96, 3)


def test_tiny_images():
    one_col = np.full((5, 2, 3), 7, np.uint8)
    assert SeamCarver().resize(one_col, target_width=1).shape == (5, 1, 3)
    assert SeamCarver().resize(np.zeros((1, 1, 3), np.uint8), target_width=3).shape == (1, 3, 3)


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(target_width=0), ValueError, "target_width"),
    (dict(scale_width=-1.0), ValueError, "scale_width"),
    (dict(target_width="10"), TypeError, "target_width"),
    (dict(target_width=10, scale_width=0.5), ValueError, "either"),
    (dict(target_width=10 ** 30), ValueError, r"target size 10+x\d+ \(target_width\) has more"),
    (dict(scale_width=1e6, target_height=600), ValueError, r"\(scale_width, target_height\)"),
])
def test_resize_validation(astronaut, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        SeamCarver().resize(astronaut, **kwargs)


def test_constructor_validation(astronaut):
    with pytest.raises(ValueError, match="energy_mode.*'backward', 'forward'"):
        SeamCarver(energy_mode="sideways")
    with pytest.raises(ValueError, match="order.*'auto'"):
        SeamCarver(order="random")
    with pytest.raises(ValueError, match="step_ratio"):
        SeamCarver(step_ratio=2.0)
    assert SeamCarver(step_ratio=None).step_ratio == DEFAULT_STEP_RATIO == 0.5   # (a default)
    with pytest.raises(TypeError, match="show_progress must be True or False"):
        SeamCarver(show_progress="no")
    # the class for an instance passed the check and failed in resize() (edge review 37)
    with pytest.raises(TypeError, match="got the class GradientEnergyFunction .pass an instance"):
        SeamCarver(energy_function=GradientEnergyFunction)
    # a plain function was taken, then resize() raised AttributeError (docs review 34)
    with pytest.raises(TypeError, match="energy_function must be an EnergyFunction.*function"):
        SeamCarver(energy_function=lambda image: np.ones(image.shape[:2], np.float32))

    class Passing:   # an object that passes an energy's carving terms on is taken (review 34)
        def __init__(self):
            self.inner = GradientEnergyFunction()

        def carving_terms(self, rgb):
            return self.inner.carving_terms(rgb)

    small = astronaut[::4, ::4]
    np.testing.assert_array_equal(SeamCarver(Passing()).resize(small, target_width=100),
                                  SeamCarver().resize(small, target_width=100))
    with pytest.raises(ValueError, match="keep_mask.*shape"):
        SeamCarver(keep_mask=np.ones((3, 3), bool)).resize(astronaut, target_width=10)
    with pytest.raises(ValueError, match="empty"):
        remove_object(astronaut, np.zeros(astronaut.shape[:2], bool))


def test_gradient_energy_matches_the_kernel_term(astronaut):
    """GradientEnergyFunction's map is exactly what the kernel maintains."""
    gray = luma_u8(astronaut)
    h, w = gray.shape
    energy = np.empty((h, w), np.float32)
    kernels.fill_energy(gray, np.zeros(h, np.int32), np.zeros((1, 1), np.float32), False, 1.0,
                        energy, h, w)
    np.testing.assert_array_equal(energy, GradientEnergyFunction()(astronaut))


_FORK_AFTER_USE = r"""
import multiprocessing, numba
from skimage import data
from compress_core import GradientEnergyFunction, SemanticCompressor

compressor = SemanticCompressor(GradientEnergyFunction())

def thumbnail(side):
    return compressor.compress(data.chelsea(), target_width=side, target_height=side,
                               show_progress=False).size

print(thumbnail(128), numba.threading_layer(), flush=True)
with multiprocessing.get_context("fork").Pool(2) as pool:
    print(pool.map(thumbnail, [96, 64]), flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork and the tbb wheel: Linux")
def test_a_process_forked_after_a_compression_compresses_too():
    """The kernels run on TBB, which a forked child can use: on GNU OpenMP a child forked after
    one thumbnail was killed ("fork() called from a process already using GNU OpenMP") and a
    multiprocessing Pool made then hung for good (integrator review 26)."""
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("NUMBA_THREADING_LAYER", None)
    proc = subprocess.run([sys.executable, "-c", _FORK_AFTER_USE], env=env, timeout=120,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    first, children = proc.stdout.splitlines()
    assert first == "(128, 128) tbb"
    assert children == "[(96, 96), (64, 64)]"


_FORK_AFTER_THE_CNN = r"""
import multiprocessing, sys
import torch
from skimage import data
if sys.argv[1] == "own model":   # the host's own torch ran first, then the library, no map
    torch.nn.functional.conv2d(torch.rand(1, 16, 256, 256), torch.rand(16, 16, 3, 3))
from compress_core import SemanticCompressor

compressor = SemanticCompressor()   # the default energy: the CNN and the face search

def thumbnail(side):
    size = compressor.compress(data.astronaut()[::2, ::2], target_width=side,
                               target_height=side * 3 // 4, show_progress=False).size
    return size, torch.get_num_threads()

if sys.argv[1] == "own model":      # the library without a map: no CNN, no handler of its own
    print(compressor.compress(data.astronaut()[::4, ::4], scale=0.5, show_progress=False).size,
          flush=True)
else:
    print(thumbnail(128)[0], flush=True)
with multiprocessing.get_context("fork").Pool(2) as pool:
    result = pool.map_async(thumbnail, [96, 64])
    print(result.get(timeout=90), flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork and torch's GNU OpenMP: Linux")
@pytest.mark.parametrize("parent", ["the library's map", "own model"])
def test_a_process_forked_after_the_cnn_ran_compresses_too(parent):
    """torch's GNU OpenMP pool does not survive fork(): a child forked after one compress()
    with the default energy waited for good in its first parallel operator (API review 29;
    the test above used the gradient energy, which runs no torch), and so did one whose
    parent ran torch itself, then the library without a map (diff review 29). In the child
    torch runs on one thread."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", _FORK_AFTER_THE_CNN, parent], env=env,
                          timeout=240, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, children = proc.stdout.splitlines()
    assert first == ("(64, 64)" if parent == "own model" else "(128, 96)")
    assert children == "[((96, 72), 1), ((64, 48), 1)]"


_THREADS_ON_WORKQUEUE = r"""
import threading, numba
from skimage import data
from compress_core import GradientEnergyFunction, SaliencyEnergyFunction, SemanticCompressor

photos = [data.chelsea(), data.astronaut(), data.coffee(), data.rocket()]
compressors = [SemanticCompressor(GradientEnergyFunction()),
               SemanticCompressor(SaliencyEnergyFunction(method="fine_grained"))]
sizes, errors = {}, []

def work(k):
    try:
        for round in range(3):
            result = compressors[k % 2].compress(photos[k], target_width=150 + round,
                                                 target_height=120, method="seam_carving",
                                                 show_progress=False)
            sizes[k, round] = result.size
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(numba.threading_layer(), len(sizes), errors, flush=True)
"""


def test_threads_carve_at_once_on_a_layer_that_is_not_thread_safe():
    """Numba's workqueue layer (macOS, where pip installs neither TBB nor an OpenMP runtime)
    aborts the process when two threads enter parallel kernels at once ("Concurrent access
    has been detected", exit 134): the kernels let one thread in at a time there (portability
    review 27)."""
    env = dict(os.environ, PYTHONPATH=REPO, NUMBA_THREADING_LAYER="workqueue")
    proc = subprocess.run([sys.executable, "-c", _THREADS_ON_WORKQUEUE], env=env, timeout=300,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split(None, 2) == ["workqueue", "12", "[]\n"], proc.stdout
