"""Smart crop: the integral-image search against a brute-force search on small maps."""
import math

import numpy as np
import pytest

from compress_core.crop import BANNER_RISE, banner_rise, best_window, smart_crop, window_sums

from _core_data import GRADIENT, photo


def _brute_sums(energy, width, height):
    h, w = energy.shape
    out = np.empty((h - height + 1, w - width + 1))
    for y in range(h - height + 1):
        for x in range(w - width + 1):
            out[y, x] = float(np.sum(energy[y:y + height, x:x + width], dtype=np.float64))
    return out


def _brute_best(energy, width, height, center_weight=0.0):
    """Every window, scored as documented; ties (to 1e-9 relative) go to the window whose
    centre is nearest the image centre (distance normalised by the half-sides), then to the
    first in reading order."""
    h, w = energy.shape
    scored = []
    for y in range(h - height + 1):
        for x in range(w - width + 1):
            s = float(np.sum(energy[y:y + height, x:x + width], dtype=np.float64))
            cy, cx = y + (height - 1) / 2.0, x + (width - 1) / 2.0
            d = math.hypot((cy - (h - 1) / 2.0) / max(h / 2.0, 1.0),
                           (cx - (w - 1) / 2.0) / max(w / 2.0, 1.0)) / math.sqrt(2.0)
            scored.append((s * (1.0 - center_weight * d), d, y, x))
    best = max(s for s, _, _, _ in scored)
    ties = [(d, y, x) for s, d, y, x in scored if s >= best - abs(best) * 1e-9]
    _, y, x = min(ties)
    return x, y


def test_window_sums_equal_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(30):
        h, w = rng.integers(1, 12, size=2)
        energy = rng.random((h, w)).astype(np.float32)
        width, height = int(rng.integers(1, w + 1)), int(rng.integers(1, h + 1))
        np.testing.assert_allclose(window_sums(energy, width, height),
                                   _brute_sums(energy, width, height), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("kind", ["float", "integer", "sparse"])
def test_best_window_equals_brute_force_on_small_random_maps(kind):
    """Float maps (unique maxima), small-integer and sparse maps (many ties)."""
    rng = np.random.default_rng({"float": 2, "integer": 3, "sparse": 4}[kind])
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        if kind == "float":
            energy = rng.random((h, w)).astype(np.float32)
        elif kind == "integer":
            energy = rng.integers(0, 3, size=(h, w)).astype(np.float32)
        else:
            energy = (rng.random((h, w)) < 0.1).astype(np.float32)
        width, height = int(rng.integers(1, w + 1)), int(rng.integers(1, h + 1))
        assert best_window(energy, width, height) == _brute_best(energy, width, height), (
            energy, width, height)


def test_centre_prior_equals_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(2, 10, size=2))
        energy = rng.random((h, w)).astype(np.float32)
        width, height = int(rng.integers(1, w + 1)), int(rng.integers(1, h + 1))
        cw = float(rng.choice([0.1, 0.5, 1.0]))
        assert best_window(energy, width, height, cw) == _brute_best(energy, width, height, cw)


def test_a_rising_window_is_the_highest_within_its_share_of_the_best():
    """``rise``: among the windows that give up at most that share of the best score, the
    highest, then the one nearest the centre (a brute force over small random maps)."""
    rng = np.random.default_rng(11)
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(2, 12, size=2))
        energy = rng.random((h, w)).astype(np.float32) ** 3
        width, height = int(rng.integers(1, w + 1)), int(rng.integers(1, h))
        rise = float(rng.choice([0.01, 0.03, 0.2]))
        sums = [(float(np.sum(energy[y:y + height, x:x + width], dtype=np.float64)), y, x)
                for y in range(h - height + 1) for x in range(w - width + 1)]
        best = max(v for v, _, _ in sums)
        top = min(y for v, y, _ in sums if v >= best * (1 - rise) * (1 + 1e-6))
        left, found = best_window(energy, width, height, rise=rise)
        assert found <= top and energy[found:found + height, left:left + width].sum(
            dtype=np.float64) >= best * (1 - rise) * (1 - 1e-6), (energy, width, height, rise)


def test_a_band_rises_to_the_top_of_a_subject_taller_than_it():
    """Visual review 38: the default maps are broad blobs over the subjects' bodies, and the
    band of most importance held two macaws' chests without their eyes. A subject (rows 20 to
    90) taller than the band (30 rows), densest low down (rows 75 to 85): the best band holds
    the dense part; giving up 5% of it, the band stands at row 52; 15%, at the subject's top."""
    energy = np.zeros((100, 40), np.float32)
    energy[20:90] = 1.0
    energy[75:85] += 0.5
    assert best_window(energy, 40, 30) == (0, 55)
    assert best_window(energy, 40, 30, rise=0.05) == (0, 52)
    assert best_window(energy, 40, 30, rise=0.15) == (0, 20)
    # faces and kept pixels place the window by their own rules; a full-height window has
    # nowhere to rise
    assert best_window(energy, 40, 30, rise=0.15, must_contain=(0, 70, 40, 80)) == (0, 55)
    sideways = np.zeros((50, 100), np.float32)   # (a full-height window moves sideways only:
    sideways[:, 60:80], sideways[:, 40:60] = 1.0, 0.99   # the rise is not a pull to the left)
    assert best_window(sideways, 30, 50, rise=0.03) == best_window(sideways, 30, 50) == (50, 0)
    for bad in (-0.01, 1.0, float("nan")):
        with pytest.raises(ValueError, match="rise must be in"):
            best_window(energy, 40, 30, rise=bad)


def test_banners_rise_and_taller_targets_do_not():
    assert banner_rise((600, 200)) == banner_rise((400, 200)) == BANNER_RISE > 0
    assert banner_rise((399, 200)) == banner_rise((320, 180)) == banner_rise((200, 600)) == 0


def test_flat_map_crops_the_centre():
    assert best_window(np.zeros((10, 10), np.float32), 4, 4) == (3, 3)
    assert best_window(np.ones((9, 15), np.float32), 5, 3) == (5, 3)
    # an even slack has two centres: the first in reading order
    assert best_window(np.ones((1, 10), np.float32), 5, 1) == (2, 0)


def test_tie_goes_to_the_window_nearest_the_centre():
    energy = np.zeros((9, 30), np.float32)
    energy[4, 2] = 1.0  # two equal dots, one near the left edge, one right of centre
    energy[4, 18] = 1.0
    left, top = best_window(energy, 5, 3)
    assert left <= 18 < left + 5 and top <= 4 < top + 3
    # among the windows holding the right dot, the most central one
    assert (left, top) == (14, 3)


def test_best_window_finds_a_subject_on_a_flat_background():
    face = photo("astronaut", 120)[15:55, 40:80]  # the astronaut's face, 40 x 40
    canvas = np.full((120, 300, 3), 128, np.uint8)
    canvas[60:100, 230:270] = face
    energy = GRADIENT(canvas)
    cropped, box = smart_crop(canvas, energy, 60, 60)
    left, top, right, bottom = box
    assert (right - left, bottom - top) == (60, 60) == cropped.shape[1::-1]
    assert left <= 230 and right >= 270 and top <= 60 and bottom >= 100
    np.testing.assert_array_equal(cropped, canvas[top:bottom, left:right])


def _brute_best_never_cut(energy, width, height, boxes):
    """:func:`_brute_best` over the windows that hold each box whole or leave it out, box by
    box, a box that every window still allowed cuts ignored (pixel by pixel: a window holds a
    box when every pixel of the box is in it, cuts it when some are and some are not)."""
    h, w = energy.shape
    allowed = [(y, x) for y in range(h - height + 1) for x in range(w - width + 1)]
    for l, t, r, b in boxes:
        def cuts(y, x):
            inside = [(y <= j < y + height and x <= i < x + width)
                      for j in range(t, b) for i in range(l, r)]
            return any(inside) and not all(inside)
        allowed = [p for p in allowed if not cuts(*p)] or allowed
    scored = []
    for y, x in allowed:
        s = float(np.sum(energy[y:y + height, x:x + width], dtype=np.float64))
        d = math.hypot((y + (height - 1) / 2.0 - (h - 1) / 2.0) / max(h / 2.0, 1.0),
                       (x + (width - 1) / 2.0 - (w - 1) / 2.0) / max(w / 2.0, 1.0))
        scored.append((s, d / math.sqrt(2.0), y, x))
    best = max(s for s, _, _, _ in scored)
    _, y, x = min((d, y, x) for s, d, y, x in scored if s >= best - abs(best) * 1e-9)
    return x, y


def test_never_cut_equals_brute_force_with_boxes_at_the_edges():
    """Boxes the window must hold whole or leave out, against a pixel-by-pixel brute force:
    boxes touching the map's edges (a face cut by the frame), boxes the window's size, several
    boxes. A window starting on a box's first row or column holds it (mutation review 37: with
    '<' there, a face touching the top was left out of every crop)."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(2, 10, size=2))
        energy = rng.random((h, w)).astype(np.float32)
        width, height = int(rng.integers(1, w + 1)), int(rng.integers(1, h + 1))
        boxes = []
        for _ in range(int(rng.integers(1, 3))):
            bw, bh = int(rng.integers(1, width + 1)), int(rng.integers(1, height + 1))
            l = int(rng.choice([0, w - bw, rng.integers(0, w - bw + 1)]))
            t = int(rng.choice([0, h - bh, rng.integers(0, h - bh + 1)]))
            boxes.append((l, t, l + bw, t + bh))
        assert best_window(energy, width, height, never_cut=boxes) == \
            _brute_best_never_cut(energy, width, height, boxes), (energy, width, height, boxes)


def test_a_face_at_the_top_of_the_frame_is_held_not_left_out():
    """The astronaut with her hair cut by the frame: her face box starts on row 0, the energy
    is highest there; every window that holds the box starts on row 0."""
    pixels = photo("astronaut", 256)[24:]
    energy = GRADIENT(pixels)
    energy = energy / energy.max()
    face = (85, 0, 120, 36)
    energy[0:36, 85:120] = 1.0
    for width, height in ((128, 128), (200, 100), (100, 150)):
        left, top = best_window(energy, width, height, never_cut=[face])
        assert top == 0 and left <= 85 and left + width >= 120, (width, height, left, top)


def test_smart_crop_on_photos_keeps_the_most_energy():
    for name in ("chelsea", "rocket", "coffee"):
        pixels = photo(name, 120)
        energy = GRADIENT(pixels)
        h, w = energy.shape
        cropped, box = smart_crop(pixels, energy, h, h)  # square crop of a wide photo
        sums = _brute_sums(energy, h, h)[0]
        assert sums[box[0]] == pytest.approx(sums.max(), rel=1e-9)
        assert cropped.shape == (h, h, 3)


def test_smart_crop_returns_the_box_of_the_pixels_it_returns():
    """Windows that are not square: the box is (left, top, left + width, top + height) and
    holds exactly the pixels returned (every test had square windows; mutation review 37)."""
    pixels = photo("coffee", 300)          # 300 x 200
    energy = GRADIENT(pixels)
    for width, height in ((150, 100), (100, 180), (299, 7), (3, 200)):
        cropped, (l, t, r, b) = smart_crop(pixels, energy, width, height)
        assert (r - l, b - t) == (width, height) and cropped.shape == (height, width, 3)
        assert 0 <= l and 0 <= t and r <= 300 and b <= 200
        np.testing.assert_array_equal(cropped, pixels[t:b, l:r])


def test_smart_crop_refuses_a_map_of_another_shape_than_the_photo():
    """A map of another shape used to give an empty or wrong-size crop and a box outside the
    photo, silently (best_window checks the window against the map only)."""
    pixels = photo("chelsea", 160)
    energy = GRADIENT(pixels)
    h, w = energy.shape
    twice = np.kron(energy, np.ones((2, 2), np.float32))
    for wrong, size in ((twice, (w // 2, h // 2)), (np.ascontiguousarray(energy.T), (h, h))):
        with pytest.raises(ValueError, match=rf"energy must have the image's shape \({h}, {w}\); "
                                             rf"got \({wrong.shape[0]}, {wrong.shape[1]}\)"):
            smart_crop(pixels, wrong, *size)
    with pytest.raises(TypeError, match="energy must be a real numeric array"):
        smart_crop(pixels, energy.astype(complex), w // 2, h // 2)
    nan = energy.copy()
    nan[3, 4] = np.nan
    with pytest.raises(ValueError, match="energy contains NaN"):
        smart_crop(pixels, nan, w // 2, h // 2)
    with pytest.raises(ValueError, match=r"pixels must be an \(H, W\) or \(H, W, C\) array"):
        smart_crop(pixels[None], energy, w // 2, h // 2)
    cropped, box = smart_crop(pixels[..., 0], energy, w // 2, h // 2)  # grey pixels are fine
    assert cropped.shape == (h // 2, w // 2)


def test_center_weight_pulls_toward_the_centre():
    energy = np.zeros((10, 40), np.float32)
    energy[:, 1:4] = 1.05  # slightly stronger at the edge
    energy[:, 19:22] = 1.0  # centre
    assert best_window(energy, 5, 10)[0] <= 1
    assert best_window(energy, 5, 10, center_weight=1.0)[0] in range(17, 20)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((5, 5)), 6, 1), "must fit"),
    ((np.zeros((5, 5)), 0, 1), "must fit"),
    ((np.zeros((5, 5)), 1, 6), "must fit"),
    ((np.zeros((5, 5, 3)), 1, 1), "2-D"),
    ((np.zeros(5), 1, 1), "2-D"),
    ((np.full((5, 5), np.nan), 1, 1), "NaN"),
    ((np.full((5, 5), np.inf), 2, 2), "infinite"),
])
def test_bad_windows_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        best_window(*args)


@pytest.mark.parametrize("args", [(np.zeros((5, 5), complex), 1, 1), (np.zeros((5, 5)), 2.5, 1),
                                  (np.zeros((5, 5)), 2, "3")])
def test_non_numeric_maps_and_sizes_are_type_errors(args):
    with pytest.raises(TypeError):
        best_window(*args)


@pytest.mark.parametrize("cw", [-0.1, 1.5])
def test_center_weight_range(cw):
    with pytest.raises(ValueError, match="center_weight"):
        best_window(np.zeros((5, 5)), 2, 2, center_weight=cw)


def test_full_size_window_is_the_whole_map():
    energy = np.random.default_rng(0).random((7, 11))
    assert best_window(energy, 11, 7) == (0, 0)


def test_mask_box_bounds_the_true_pixels():
    from compress_core.crop import mask_box

    mask = np.zeros((40, 60), bool)
    assert mask_box(mask) is None
    mask[5, 59] = mask[30, 7] = True
    assert mask_box(mask) == (7, 5, 60, 31)


def test_box_to_hold_puts_the_caller_s_box_first():
    from compress_core.crop import box_to_hold

    kept, faces = (100, 10, 120, 30), (0, 0, 50, 50)
    assert box_to_hold(kept, None, (80, 80)) == kept
    assert box_to_hold(None, faces, (80, 80)) == faces
    assert box_to_hold(None, None, (80, 80)) is None
    assert box_to_hold(kept, faces, (120, 50)) == (0, 0, 120, 50)  # one window holds both
    assert box_to_hold(kept, faces, (119, 50)) == kept  # it does not: the kept box alone


def test_never_cut_holds_a_box_whole_or_leaves_it_out():
    """The most energy lies across a box: the window that would cut it is refused for one
    that holds it whole (or, narrower, leaves it out); where every window cuts it, it is
    ignored."""
    energy = np.zeros((10, 100), np.float32)
    energy[:, 40:60] = 1.0
    box = (35, 2, 45, 8)
    assert best_window(energy, 20, 10) == (40, 0)  # (the best window cuts the box)
    assert best_window(energy, 20, 10, never_cut=[box]) == (35, 0)  # holds it whole
    assert best_window(energy, 8, 10, never_cut=[box]) == (46, 0)  # leaves it out (centred)
    assert best_window(energy, 100, 4, never_cut=[box]) == (0, 3)  # all cut it: ignored
    # after a must_contain, only what it allows counts
    assert best_window(energy, 20, 10, must_contain=(50, 0, 60, 10),
                       never_cut=[box]) == (45, 0)


def test_box_to_hold_takes_the_faces_cores_where_the_faces_do_not_fit():
    """A close-up face (its box 0-50 down, its core 10-40: brows to mouth, the eyes at 15): a
    window of its height holds the face; a shorter one its core; one shorter than the core its
    own height about the eyes, within the core. Across, a narrow window stays inside the core.
    The kept box still comes first."""
    from compress_core.crop import box_to_hold

    faces, cores = (20, 0, 70, 50), (28, 10, 62, 40)
    assert box_to_hold(None, faces, (100, 50), cores) == faces
    assert box_to_hold(None, faces, (100, 30), cores) == (20, 10, 70, 40)  # x: fits; y: core
    assert box_to_hold(None, faces, (100, 20), cores) == (20, 10, 70, 30)  # within the core
    assert box_to_hold(None, faces, (100, 6), cores) == (20, 12, 70, 18)  # about the eyes
    assert box_to_hold(None, faces, (40, 50), cores) == (28, 0, 62, 50)
    assert box_to_hold(None, faces, (20, 50), cores) == (28, 0, 62, 50)  # inside it, across
    assert box_to_hold(None, None, (20, 20), cores) is None
    kept = (90, 20, 95, 25)
    assert box_to_hold(kept, faces, (100, 30), cores) == (20, 10, 95, 40)
    assert box_to_hold(kept, faces, (60, 30), cores) == kept


def test_box_to_hold_holds_as_much_of_the_heads_as_the_window_can():
    """The faces' box 100-150 down, their heads 75-163 (hair above, chin below): a window that
    holds the heads holds them; a shorter one the faces' box and two parts of its spare room
    above it for one below (the top of the head before the neck); one shorter than the faces'
    box falls back to the cores as before. Across likewise."""
    from compress_core.crop import box_to_hold

    faces, cores, heads = (20, 100, 70, 150), (28, 110, 62, 140), (15, 75, 75, 163)
    assert box_to_hold(None, faces, (100, 100), cores, heads) == heads
    assert box_to_hold(None, faces, (100, 80), cores, heads) == (15, 80, 75, 160)
    assert box_to_hold(None, faces, (100, 56), cores, heads) == (15, 96, 75, 152)
    assert box_to_hold(None, faces, (100, 50), cores, heads) == (15, 100, 75, 150)
    assert box_to_hold(None, faces, (100, 30), cores, heads) == (15, 110, 75, 140)   # cores
    assert box_to_hold(None, faces, (54, 100), cores, heads) == (18, 75, 72, 163)
    # a head that has no room above (the picture's top): the room goes below
    assert box_to_hold(None, faces, (100, 70), cores, (15, 100, 75, 163)) == \
        (15, 100, 75, 163)
    assert box_to_hold(None, faces, (100, 60), cores, (15, 100, 75, 163)) == \
        (15, 100, 75, 160)
    assert box_to_hold(None, faces, (100, 80), cores) == (20, 100, 70, 150)   # no heads: as before
    # the caller's box first, then the faces, then the heads in the room left (diff review 25:
    # the heads took the whole window first, and a kept box and faces that fit lost the faces)
    kept = (0, 0, 10, 5)
    assert box_to_hold(kept, (40, 60, 80, 95), (100, 100), (45, 70, 75, 90),
                       (40, 40, 80, 110)) == (0, 0, 80, 100)
    assert box_to_hold(kept, faces, (100, 160), cores, heads) == (0, 0, 75, 160)
    assert box_to_hold(kept, faces, (100, 140), cores, heads) == kept   # as before: no room


def test_box_to_hold_holds_the_detector_s_box_where_the_grown_one_does_not_fit():
    """Edge review 35: the faces' box grown for the crops 14-156 down (the detector's 24-146,
    the core 60-128), a window of 135 rows: it went straight to the core, and the energy
    started the window at the brows (36 of the face's rows cut), the spare rows on the suit
    below. Now the detector's box is held where it fits, with the spare shared two to one
    towards the head above and below; where it does not fit either, the core, as before."""
    from compress_core.crop import box_to_hold

    faces, detected, cores = (170, 14, 270, 156), (182, 24, 270, 146), (190, 60, 262, 128)
    heads = (160, 0, 270, 177)
    assert box_to_hold(None, faces, (270, 135), cores, heads, detected) == (160, 16, 270, 151)
    assert box_to_hold(None, faces, (270, 135), cores, None, detected) == (170, 24, 270, 146)
    assert box_to_hold(None, faces, (270, 122), cores, heads, detected) == (160, 24, 270, 146)
    # a row short of the detector's box: its own height of it about the core, the chin first
    # (a row of forehead cut), where the energy had started it at the forehead (diff review 35)
    assert box_to_hold(None, faces, (270, 121), cores, heads, detected) == (160, 25, 270, 146)
    assert box_to_hold(None, faces, (270, 90), cores, heads, detected) == (160, 56, 270, 146)
    assert box_to_hold(None, faces, (270, 60), cores, heads, detected) == (160, 60, 270, 120)
    # without the detector's box: the core, as before
    assert box_to_hold(None, faces, (270, 135), cores, heads) == (160, 60, 270, 128)
    # across likewise: a window 95 wide holds the detector's 88 columns, and the heads' room;
    # one 80 wide 80 of them about the core, evenly
    assert box_to_hold(None, faces, (95, 300), cores, heads, detected) == (175, 0, 270, 177)
    assert box_to_hold(None, faces, (80, 300), cores, heads, detected) == (186, 0, 266, 177)


def test_a_kept_box_that_does_not_fit_with_the_detector_s_box_is_held_with_the_cores():
    """Diff review 35: a keep box and a detector's box that fit alone but not together gave the
    keep box alone (the face dropped: 96 of its 119 rows cut); the cores are held with it, as
    before the detector's boxes were."""
    from compress_core.crop import box_to_hold

    kept, faces, detected = (10, 20, 60, 30), (80, 30, 170, 150), (90, 40, 160, 135)
    cores, heads = (95, 60, 155, 110), (70, 0, 180, 160)
    assert box_to_hold(kept, faces, (200, 100), cores, heads, detected) == (10, 20, 180, 110)


def test_the_face_left_out_is_never_cut_for_the_detector_s_box_of_the_one_held():
    """Diff review 35: a face held beside one left out whose detector's box overlaps its own
    (90 wide in a window of 100): holding that box left no window that avoids the neighbour;
    the held face falls back to its core instead."""
    from compress_core.crop import box_to_hold_apart

    shape, window = (300, 400), (100, 300)
    faces, detected, cores = (96, 60, 200, 180), (100, 70, 190, 170), (120, 90, 170, 150)
    heads, apart = (80, 0, 210, 200), [(186, 70, 250, 170)]
    box = box_to_hold_apart(None, faces, window, cores, heads, apart, shape, detected)
    assert box == (120, 60, 170, 180)
    left, _ = best_window(np.ones(shape, np.float32), *window, must_contain=box,
                          never_cut=apart)
    assert left + window[0] <= apart[0][0]


@pytest.mark.parametrize("method", ["smart_crop", "hybrid"])
@pytest.mark.parametrize("left", [0, 100])
def test_a_banner_a_little_shorter_than_a_face_s_grown_box_holds_the_face(method, left):
    """skimage's astronaut cropped so that her face lies at the edge or in the middle, to
    200x100: the window (130-143 rows) could hold the detector's box (115-122) but not the box
    grown for the crops; 30-36 of the face's rows were cut at the top (edge review 35)."""
    from PIL import Image

    from compress_core import DeepEnergyFunction, SemanticCompressor

    picture = np.asarray(Image.fromarray(photo("astronaut")).crop((left, 30, left + 270, 330)))
    energy = DeepEnergyFunction()
    face = energy.importance(picture).faces[0]
    result = SemanticCompressor(energy).compress(picture, method=method, target_width=200,
                                                 target_height=100, show_progress=False)
    _, top, _, bottom = result.crop_box
    assert bottom - top < 1.25 * (face.box[3] - face.box[1])  # no room for the whole head
    assert top <= face.box[1] and bottom >= face.box[3]


@pytest.mark.parametrize("shape", [(1, 1), (7, 9), (120, 80)])
def test_windows_across_the_whole_map_slide_on_one_line_of_sums(shape):
    """A window as tall (or as wide) as the map: its sums from the one line of column (row)
    totals agree with the summed-area table's, within rounding, and have its shape."""
    from compress_core.crop import integral_image, window_sums

    energy = np.random.default_rng(1).random(shape).astype(np.float32)
    h, w = shape
    for width, height in [(w, h), (max(1, w // 2), h), (w, max(1, h // 3)), (1, h), (w, 1)]:
        line = window_sums(energy, width, height)
        table = window_sums(energy, width, height, integral_image(energy))
        assert line.shape == table.shape == (h - height + 1, w - width + 1)
        np.testing.assert_allclose(line, table, rtol=1e-12, atol=1e-12)


def test_faces_one_window_holds_takes_the_largest_face_and_those_that_fit_with_it():
    """Faces spread wider than the window (people at both ends of a panorama): the largest
    first, then each whose box fits with it; the rest left for never_cut. Faces whose cores
    fit together, or side by side in a banner too low for one core, keep them all; stacked
    ones in that banner keep the largest alone (the cores' common eye line fell between them:
    visual review 30)."""
    from compress_core.crop import faces_one_window_holds

    def face(box, core, tag, grown=0):   # (held box, core, detector's box, tag)
        l, t, r, b = box
        return ((l - grown, t - grown, r + grown, b + grown), core, box, tag)

    shape = (500, 1500)
    small = face((50, 60, 150, 180), (70, 90, 130, 150), "small")
    large = face((1200, 130, 1500, 500), (1240, 220, 1460, 420), "large")
    near = face((1000, 150, 1150, 330), (1020, 190, 1130, 300), "near")
    taken, left = faces_one_window_holds([small, large, near], (525, 500), shape)
    assert [f[3] for f in taken] == ["large", "near"] and [f[3] for f in left] == ["small"]
    assert faces_one_window_holds([small, near], (1200, 500), shape) == ([small, near], [])
    # a banner too low for one core, the faces side by side: the eye line of all of them
    beside = face((50, 160, 150, 300), (70, 190, 130, 280), "beside")
    assert faces_one_window_holds([beside, near], (1500, 40), shape) == ([beside, near], [])
    assert faces_one_window_holds([large], (100, 100), shape) == ([large], [])
    # stacked faces in such a banner: the largest alone
    top = face((100, 10, 400, 200), (150, 60, 350, 180), "top")
    bottom = face((100, 300, 350, 480), (140, 340, 320, 450), "bottom")
    taken, left = faces_one_window_holds([bottom, top], (500, 100), shape)
    assert [f[3] for f in taken] == ["top"] and [f[3] for f in left] == ["bottom"]
    # a window that must cut the face it leaves out takes the next face as its anchor; the
    # face left out is avoided by its detector's box, not the grown one (diff review 30: two
    # faces 30 px apart, the grown boxes overlapping, and the smaller one was cut)
    a = face((100, 100, 350, 300), (140, 140, 310, 260), "a", grown=19)
    b = face((380, 100, 580, 300), (410, 140, 550, 260), "b", grown=15)
    taken, left = faces_one_window_holds([a, b], (400, 400), (400, 1000))
    assert [f[3] for f in taken] == ["b"] and [f[3] for f in left] == ["a"]


def test_faces_in_a_row_are_held_by_the_detectors_boxes_where_the_grown_ones_cut_one():
    """Faces review 40: five faces in a row across a 754 px picture, a 535 px window. Their
    boxes grown for hair span 546 px from the first to the fourth, their detector's boxes 534:
    no company of grown boxes left the others whole, and the largest face's company (the
    three on the right) cut the second face in half. The detector's boxes of the four on the
    left fit, leaving the fifth out whole."""
    from compress_core.crop import _avoids, faces_one_window_holds

    boxes = [  # (grown, core, detector's box) as the hybrid policy made them (traced)
        ((18, 169, 109, 287), (33, 204, 92, 264), (24, 177, 103, 279)),
        ((178, 173, 262, 286), (199, 210, 252, 264), (184, 181, 256, 278)),
        ((333, 184, 416, 285), (349, 210, 398, 266), (339, 191, 410, 278)),
        ((479, 174, 564, 278), (502, 206, 554, 257), (485, 181, 558, 271)),
        ((635, 169, 735, 297), (650, 201, 710, 273), (642, 178, 728, 288))]
    faces = [(*b, f"face{i + 1}") for i, b in enumerate(boxes)]
    taken, left = faces_one_window_holds(faces, (535, 512), (512, 754))
    assert sorted(f[3] for f in taken) == ["face1", "face2", "face3", "face4"]
    assert [f[3] for f in left] == ["face5"]
    held = (min(f[2][0] for f in taken), 0, max(f[2][2] for f in taken), 512)
    assert _avoids(held, [f[2] for f in left], (535, 512), (512, 754))
    # five faces spread evenly across a 761 px picture, a 533 px window: every anchor's
    # company in order of size took a face at one end and cut the next (37% of it kept at
    # 256x256); the three in the middle fit together, the two ends left out whole
    spread = [((6, 181, 70, 255), (21, 201, 61, 242), (11, 186, 65, 250)),
              ((181, 184, 240, 260), (196, 209, 234, 243), (185, 189, 236, 255)),
              ((348, 182, 408, 267), (353, 209, 390, 254), (352, 188, 404, 261)),
              ((519, 191, 578, 261), (533, 213, 571, 246), (523, 196, 574, 256)),
              ((681, 184, 748, 264), (698, 206, 736, 250), (686, 190, 743, 258))]
    faces = [(*b, f"face{i + 1}") for i, b in enumerate(spread)]
    taken, left = faces_one_window_holds(faces, (533, 512), (512, 761))
    assert sorted(f[3] for f in taken) == ["face2", "face3", "face4"]
    assert sorted(f[3] for f in left) == ["face1", "face5"]
    # faces whose cores fit a window and detector's boxes do not are no company: one of them
    # would be cut inside it, the largest too; the largest's company keeps it whole (diff
    # review 40: a pass over the cores had taken A and B, cutting A by 16%)
    a = ((10, 100, 200, 300), (60, 150, 150, 250), (20, 110, 190, 290), "A")
    b = ((190, 120, 360, 280), (230, 160, 320, 250), (200, 130, 350, 270), "B")
    c = ((440, 120, 570, 280), (470, 160, 540, 250), (450, 130, 560, 270), "C")
    taken, left = faces_one_window_holds([a, b, c], (300, 400), (400, 620))
    assert [f[3] for f in taken] == ["A"] and sorted(f[3] for f in left) == ["B", "C"]


def test_the_room_for_a_head_yields_where_it_would_cut_a_face_left_out():
    """Diff review 30: the window held the kept face and as much of its head as it could, so
    it reached into the face beside it, which was to be left out whole, and cut it."""
    from compress_core.crop import box_to_hold, box_to_hold_apart

    faces, cores, heads = (380, 100, 580, 300), (410, 140, 550, 260), (320, 0, 640, 350)
    grown = box_to_hold(None, faces, (400, 400), cores, heads)
    assert grown[0] < 350    # the head's room reaches into the other face (100..350)
    assert box_to_hold_apart(None, faces, (400, 400), cores, heads, [], (400, 1000)) == grown
    held = box_to_hold_apart(None, faces, (400, 400), cores, heads, [(100, 100, 350, 300)],
                             (400, 1000))
    assert held == box_to_hold(None, faces, (400, 400), cores, None)
    left, _ = best_window(np.ones((400, 1000), np.float32), 400, 400, must_contain=held,
                          never_cut=[(100, 100, 350, 300)])
    assert left >= 350
