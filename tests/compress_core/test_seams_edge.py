"""The seam carver's edge: inputs checked before any kernel, callers' arrays never written,
gray in / gray out, explicit seam orders honoured, masks checked shape-first (issue 12)."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import seam_carving
from PIL import Image
from skimage import data

from compress_core.energy import EnergyFunction, GradientEnergyFunction, SaliencyEnergyFunction
from compress_core.energy.base import CarvingTerms
from compress_core.errors import UnsupportedImageError
from compress_core.seams import SeamCarver, kernels, remove_object


def _small(img, width):
    h = round(img.shape[0] * width / img.shape[1])
    return np.asarray(Image.fromarray(img).resize((width, h), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def chelsea():
    return _small(data.chelsea(), 80)  # 53 x 80


@pytest.fixture(scope="module")
def camera():
    return _small(data.camera(), 72)  # a real gray photo, 72 x 72


def _band_map(shape):
    """A real static map: the gradient of a photo plus a precious band of columns."""
    m = np.zeros(shape, np.float32)
    m[:, shape[1] // 3: shape[1] // 2] = 200.0
    return m


def _ramp(shape):
    """A static map that changes along every row (a carved copy differs from the original)."""
    return (np.add.outer(np.arange(shape[0]), 3 * np.arange(shape[1])) % 97 * 20).astype(
        np.float32)


# ------------------------------------------------- 1. every kernel input checked at the edge
def test_wrong_shape_map_that_used_to_abort_the_interpreter_is_a_value_error():
    """On the code before issue 12 this corrupted the heap and aborted Python: run it in a
    subprocess so that a crash fails this test instead of killing the test run."""
    code = textwrap.dedent("""
        import numpy as np
        from compress_core.energy.base import CarvingTerms
        from compress_core.seams import SeamCarver
        img = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
        try:
            SeamCarver().carve(img, target_width=60,
                               energy_terms=CarvingTerms(np.zeros((5, 5), np.float32), 1.0))
        except ValueError as exc:
            print("ValueError:", exc)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ValueError: energy_terms.static" in run.stdout
    assert "(60, 80)" in run.stdout and "(5, 5)" in run.stdout


@pytest.mark.parametrize("shape", [(53, 79), (52, 80), (80, 53), (53, 80, 1), (53 * 80,)])
def test_energy_terms_of_the_wrong_shape_are_refused(chelsea, shape):
    terms = CarvingTerms(np.zeros(shape, np.float32), 1.0)
    with pytest.raises(ValueError, match=r"energy_terms\.static must have the image's shape"):
        SeamCarver().carve(chelsea, target_width=60, energy_terms=terms)


class _WrongShapeTerms(EnergyFunction):
    name = "wrong_terms"

    def compute(self, rgb):
        return np.zeros(rgb.shape[:2], np.float32)

    def carving_terms(self, rgb):
        return CarvingTerms(np.zeros((5, 5), np.float32), 1.0)


class _WrongShapeMap(EnergyFunction):
    name = "wrong_map"

    def compute(self, rgb):
        return np.zeros((rgb.shape[0], rgb.shape[1] - 1), np.float32)


def test_energy_function_with_wrong_shape_terms_or_map_is_named(chelsea):
    with pytest.raises(ValueError, match=r"_WrongShapeTerms\.carving_terms\(\)\.static"):
        SeamCarver(energy_function=_WrongShapeTerms()).resize(chelsea, target_width=60)
    with pytest.raises(ValueError, match=r"_WrongShapeMap\.compute\(\).*shape"):
        SeamCarver(energy_function=_WrongShapeMap()).resize(chelsea, target_width=60)
    with pytest.raises(ValueError, match="shape"):
        SeamCarver(energy_function=_WrongShapeTerms()).find_seams(chelsea, 3)


@pytest.mark.parametrize("terms, exc, words", [
    ("not terms", TypeError, "energy_terms must be a CarvingTerms"),
    (CarvingTerms(np.zeros((53, 80), complex), 1.0), TypeError, "real numeric"),
    (CarvingTerms(None, float("nan")), ValueError, "gradient_weight must be finite"),
    (CarvingTerms(None, -1.0), ValueError, "gradient_weight must be finite and >= 0"),
    (CarvingTerms(None, "1"), TypeError, "gradient_weight must be a number"),
    (CarvingTerms(np.full((53, 80), 1e35, np.float32), 1.0), ValueError, "overflow"),
])
def test_energy_terms_types_and_weights_are_checked(chelsea, terms, exc, words):
    with pytest.raises(exc, match=words):
        SeamCarver().carve(chelsea, target_width=60, energy_terms=terms)


def test_carve_while_cheap_checks_its_arrays(chelsea):
    carver = SeamCarver()
    with pytest.raises(ValueError, match="energy_terms.static"):
        carver.carve_while_cheap(chelsea, CarvingTerms(np.zeros((3, 3), np.float32), 1.0),
                                 10, True, 1e9)
    with pytest.raises(ValueError, match="pixels must be a uint8 array"):
        carver.carve_while_cheap(chelsea.astype(np.float32), CarvingTerms(None, 1.0), 10, True,
                                 1e9)
    with pytest.raises(ValueError, match="max_seams"):
        carver.carve_while_cheap(chelsea, CarvingTerms(None, 1.0), 0, True, 1e9)


def test_backtrack_stays_inside_the_row_whatever_the_costs():
    """The kernel itself never steps out of the row, even on infinite costs (defence in depth
    behind the edge checks)."""
    h, w = 6, 4
    cost = np.full((h, w), np.inf, np.float32)
    seam = np.empty(h, np.int32)
    kernels.backward_backtrack(cost, np.zeros(h, np.int32), h, w, seam)
    assert ((seam >= 0) & (seam < w)).all()


# --------------------------------------------------------------------- 2. NaN / inf maps
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_static_map_is_refused(chelsea, bad):
    m = np.zeros(chelsea.shape[:2], np.float32)
    m[10, 10] = bad
    with pytest.raises(ValueError, match=r"energy_terms\.static contains NaN or infinite"):
        SeamCarver().carve(chelsea, target_width=60, energy_terms=CarvingTerms(m, 1.0))


def test_all_nan_map_no_longer_crops_the_left_columns(chelsea):
    m = np.full(chelsea.shape[:2], np.nan, np.float32)
    with pytest.raises(ValueError, match="NaN"):
        SeamCarver().carve(chelsea, target_width=60, energy_terms=CarvingTerms(m, 0.0))


class _NaNEnergy(EnergyFunction):
    name = "nan"

    def compute(self, rgb):
        e = np.ones(rgb.shape[:2], np.float32)
        e[0, 0] = np.nan
        return e


class _InfTerms(EnergyFunction):
    name = "inf_terms"

    def compute(self, rgb):
        return np.ones(rgb.shape[:2], np.float32)

    def carving_terms(self, rgb):
        s = np.ones(rgb.shape[:2], np.float32)
        s[-1, -1] = np.inf
        return CarvingTerms(s, 1.0)


def test_non_finite_map_from_an_energy_function_is_named(chelsea):
    with pytest.raises(ValueError, match=r"_NaNEnergy\.compute\(\) returned contains NaN"):
        _NaNEnergy()(chelsea)
    with pytest.raises(ValueError, match="_NaNEnergy"):
        SeamCarver(energy_function=_NaNEnergy()).resize(chelsea, target_width=60)
    with pytest.raises(ValueError, match=r"_InfTerms\.carving_terms\(\)\.static contains NaN"):
        SeamCarver(energy_function=_InfTerms()).resize(chelsea, target_width=60)


# ------------------------------------------------ 3. the library never writes to caller arrays
def test_callers_static_map_is_not_carved_in_place(chelsea):
    m = np.ascontiguousarray(_band_map(chelsea.shape[:2]) + np.arange(80, dtype=np.float32))
    before = m.copy()
    terms = CarvingTerms(static=m, gradient_weight=1.0)
    first = SeamCarver().carve(chelsea, target_width=60, target_height=45, energy_terms=terms)
    np.testing.assert_array_equal(m, before)
    SeamCarver().carve(chelsea, target_width=100, energy_terms=terms)  # insertion too
    np.testing.assert_array_equal(m, before)
    second = SeamCarver().carve(chelsea, target_width=60, target_height=45, energy_terms=terms)
    np.testing.assert_array_equal(first.pixels, second.pixels)


class _CachingEnergy(EnergyFunction):
    """Computes its map once and hands the same array out every time (a common cache)."""

    name = "caching"

    def __init__(self):
        self.cached = None

    def compute(self, rgb):
        return np.zeros(rgb.shape[:2], np.float32)

    def carving_terms(self, rgb):
        if self.cached is None:
            self.cached = _ramp(rgb.shape[:2])
        return CarvingTerms(self.cached, 0.05)


def test_an_energy_function_that_caches_its_map_gives_the_same_result_twice(chelsea):
    energy = _CachingEnergy()
    carver = SeamCarver(energy_function=energy)
    for size in [dict(target_width=55), dict(target_width=100),
                 dict(target_width=55, target_height=45)]:
        first = carver.resize(chelsea, **size)
        cached = energy.cached.copy()
        second = carver.resize(chelsea, **size)
        np.testing.assert_array_equal(energy.cached, cached)
        np.testing.assert_array_equal(first, second)


def _insert_reference(pixels, static, gw, n):
    """One insertion step by hand: seams found on the map, inserted into the *original* map."""
    h, w = pixels.shape[:2]
    # find_seams gets a copy: the reference must not depend on the code under test leaving
    # its map alone
    found = _find(pixels, static.copy(), gw, n)
    mask = np.zeros((h, w), bool)
    mask[np.repeat(np.arange(h), n), found.T.ravel()] = True
    out = np.empty((h, w + n, pixels.shape[2]), np.float32)
    inserted = np.empty((h, w + n), np.bool_)
    kernels.insert_seams(pixels.astype(np.float32), mask, n, out, inserted)
    s_out = np.empty((h, w + n, 1), np.float32)
    kernels.insert_seams(static[:, :, None].copy(), mask, n, s_out, inserted)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), s_out[:, :, 0]


class _Fixed(EnergyFunction):
    name = "fixed"

    def __init__(self, static, gw):
        self.static, self.gw = static, gw

    def compute(self, rgb):
        return self.static

    def carving_terms(self, rgb):
        return CarvingTerms(self.static, self.gw)


def _find(pixels, static, gw, n):
    return SeamCarver(energy_function=_Fixed(static, gw)).find_seams(pixels, n)


@pytest.mark.parametrize("energy", ["ramp", "saliency"])
def test_multi_step_enlarging_inserts_into_the_uncarved_map(chelsea, energy):
    """Each insertion step finds its seams on the map and inserts them into a fresh copy of
    it; the next step must see that map, not the one carved while finding seams."""
    h, w = chelsea.shape[:2]
    if energy == "ramp":
        terms = CarvingTerms(_ramp((h, w)), 0.05)
    else:
        terms = SaliencyEnergyFunction().carving_terms(chelsea)
    px, st = chelsea, terms.static
    for n in (40, 20):  # step_ratio 0.5: 80 -> 120 -> 140
        px, st = _insert_reference(px, st, terms.gradient_weight, n)
    ours = SeamCarver().carve(chelsea, target_width=w + 60, energy_terms=terms).pixels
    np.testing.assert_array_equal(ours, px)


def test_width_then_height_enlarging_with_a_keep_mask(chelsea):
    h, w = chelsea.shape[:2]
    keep = np.zeros((h, w), bool)
    keep[15:35, 20:50] = True
    ramp = _ramp((h, w))
    static = ramp + np.where(keep, np.float32(1e5), np.float32(0.0)).astype(np.float32)
    px, st = _insert_reference(chelsea, static, 0.05, 30)
    pxt, _ = _insert_reference(np.ascontiguousarray(px.transpose(1, 0, 2)),
                               np.ascontiguousarray(st.T), 0.05, 20)
    expected = pxt.transpose(1, 0, 2)
    ours = SeamCarver(energy_function=_Fixed(ramp, 0.05), keep_mask=keep,
                      order="width_first").resize(chelsea, target_width=w + 30,
                                                  target_height=h + 20)
    np.testing.assert_array_equal(ours, expected)


# ---------------------------------------------------------------- 5. gray in, gray out
@pytest.mark.parametrize("mode", ["backward", "forward"])
def test_gray_is_carved_like_li_plus_and_stays_gray(camera, mode):
    h, w = camera.shape
    for size in [(w - 20, h), (w, h - 15), (w - 12, h - 10)]:
        ours = SeamCarver(energy_mode=mode, order="width_first").resize(
            camera, target_width=size[0], target_height=size[1])
        theirs = seam_carving.resize(camera, size, energy_mode=mode, order="width-first")
        assert ours.shape == theirs.shape == (size[1], size[0])
        np.testing.assert_array_equal(ours, theirs)


def test_gray_levels_survive_without_the_rgb_round_trip():
    """Every level 0..255 in a gray ramp: a seam-free resize returns it unchanged (the RGB
    round trip used to carve on g - 1 for 54 levels, and output 3 channels)."""
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    out = SeamCarver().resize(ramp, target_height=3)
    assert out.shape == (3, 256)
    np.testing.assert_array_equal(out, ramp[:3])


def test_gray_insertion_and_object_removal_stay_gray(camera):
    h, w = camera.shape
    wider = SeamCarver().resize(camera, target_width=w + 10)
    theirs = seam_carving.resize(camera, (w + 10, h))
    assert wider.shape == theirs.shape == (h, w + 10)
    assert np.abs(wider.astype(int) - theirs).max() <= 1  # rounded vs truncated averages
    mask = np.zeros((h, w), bool)
    mask[20:30, 30:38] = True
    assert remove_object(camera, mask).shape == (h, w)
    pil = SeamCarver().resize(Image.fromarray(camera), target_width=w - 5)
    assert pil.shape == (h, w - 5)
    np.testing.assert_array_equal(pil, seam_carving.resize(camera, (w - 5, h)))


# ---------------------------------------------------------------- 6. explicit seam orders
@pytest.mark.parametrize("order, size", [("height_first", (60, 63)), ("width_first", (95, 45))])
def test_explicit_order_is_honoured_when_one_side_grows(chelsea, order, size):
    """height_first with the height growing and the width shrinking inserts rows first, then
    removes columns from the taller image (and width_first the other way round)."""
    carver = SeamCarver(order=order)
    ours = carver.resize(chelsea, target_width=size[0], target_height=size[1])
    by_height = carver.resize(carver.resize(chelsea, target_height=size[1]), target_width=size[0])
    by_width = carver.resize(carver.resize(chelsea, target_width=size[0]), target_height=size[1])
    expected, other = (by_height, by_width) if order == "height_first" else (by_width, by_height)
    assert ours.shape == (size[1], size[0], 3)
    np.testing.assert_array_equal(ours, expected)
    assert not np.array_equal(ours, other)  # the order matters on this photo
    # what the input kept is known only where every removal came before the insertions
    # (review 20: a removal after an insertion reported every input pixel kept)
    h, w = chelsea.shape[:2]
    inserts_first = carver.carve(chelsea, target_width=size[0], target_height=size[1])
    assert inserts_first.removal_index is None and inserts_first.kept_mask((h, w)) is None
    other_size = (95, 45) if order == "height_first" else (60, 63)  # removes first
    removes_first = carver.carve(chelsea, target_width=other_size[0],
                                 target_height=other_size[1])
    assert removes_first.source_index is None  # (seams were inserted after)
    kept = removes_first.kept_mask((h, w))
    assert kept.sum() == removes_first.removal_index.size < h * w


# ------------------------------------------------------------------------------ 7. masks
def test_three_channel_masks_are_refused_like_the_message_says(chelsea):
    h, w = chelsea.shape[:2]
    mask3 = np.zeros((h, w, 3), bool)
    mask3[10:20, 10:20] = True
    with pytest.raises(ValueError, match=r"keep_mask must be a 2-D array.*\(53, 80\)"):
        SeamCarver(keep_mask=mask3).resize(chelsea, target_width=60)
    with pytest.raises(ValueError, match=r"remove_mask must be a 2-D array"):
        SeamCarver(remove_mask=mask3).resize(chelsea, target_width=60)
    with pytest.raises(ValueError, match=r"mask must be a 2-D array"):
        remove_object(chelsea, mask3)


def test_mask_shape_is_checked_before_emptiness(chelsea):
    with pytest.raises(ValueError, match=r"mask must be a 2-D array with the image's shape"):
        remove_object(chelsea, np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match="mask is empty"):
        remove_object(chelsea, np.zeros(chelsea.shape[:2], bool))


def test_mask_values_are_checked(chelsea):
    bad = np.zeros(chelsea.shape[:2], np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="keep_mask contains NaN"):
        SeamCarver(keep_mask=bad).resize(chelsea, target_width=60)
    with pytest.raises(TypeError, match="remove_mask must be an array of bool or numbers"):
        SeamCarver(remove_mask=np.full(chelsea.shape[:2], "x")).resize(chelsea, target_width=60)


# ------------------------------------------------------ 4. image values at the carver's edge
def test_float_image_holding_0_to_255_is_refused(chelsea):
    with pytest.raises(UnsupportedImageError, match=r"\[0, 1\].*uint8"):
        SeamCarver().resize(chelsea.astype(np.float64), target_width=60)


def test_targets_over_the_pixel_limit_are_refused(chelsea):
    with pytest.raises(ValueError, match="pixel limit"):
        SeamCarver().resize(chelsea, scale_width=1e6, scale_height=1e6)


def test_gradient_energy_is_fast_default_for_the_edge_cases():
    one = np.full((1, 1, 3), 9, np.uint8)
    assert GradientEnergyFunction()(one).shape == (1, 1)
    assert SeamCarver().resize(one, target_width=4, target_height=2).shape == (2, 4, 3)


def test_keep_and_remove_masks_that_overlap_are_refused(chelsea):
    """+KEEP_ENERGY and -REMOVE_ENERGY cancel where both masks are set: such an object was
    neither removed nor protected, silently."""
    h, w = chelsea.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[10:30, 20:40] = True
    carver = SeamCarver(GradientEnergyFunction(), keep_mask=mask, remove_mask=mask)
    with pytest.raises(ValueError, match="keep_mask and remove_mask overlap on 400 pixels"):
        carver.resize(chelsea, target_width=w - 10)
    with pytest.raises(ValueError, match="overlap on 400 pixels"):
        carver.find_seams(chelsea, 3)
    apart = np.zeros((h, w), bool)
    apart[40:50, 20:40] = True
    out = SeamCarver(GradientEnergyFunction(), keep_mask=apart, remove_mask=mask).resize(
        chelsea, target_width=w - 10)
    assert out.shape == (h, w - 10, 3)


def test_callers_static_map_is_not_written_by_the_masks(chelsea):
    """The keep and remove masks add +-KEEP_ENERGY to the static map on a copy: a caller's
    float32 map (handed on uncopied by the edge check) stays as it was, and a second carve
    with the same terms gives the same picture (mutation review 50: with the masks added in
    place the caller's map grew by 1e5 on the kept pixels at every call, the tests passed)."""
    h, w = chelsea.shape[:2]
    m = np.ascontiguousarray(_band_map((h, w)) + np.arange(w, dtype=np.float32))
    before = m.copy()
    keep, remove = np.zeros((h, w), bool), np.zeros((h, w), bool)
    keep[10:30, 50:60] = True
    remove[35:45, 5:15] = True
    terms = CarvingTerms(static=m, gradient_weight=1.0)
    carver = SeamCarver(keep_mask=keep, remove_mask=remove)
    first = carver.carve(chelsea, target_width=60, energy_terms=terms)
    np.testing.assert_array_equal(m, before)
    second = carver.carve(chelsea, target_width=60, energy_terms=terms)
    np.testing.assert_array_equal(first.pixels, second.pixels)


def test_integer_and_float_masks_mean_what_a_bool_mask_means(chelsea):
    """'Non-zero means set': a mask drawn as 0/255 (a PNG) or 0.0/1.0 carves as the same bool
    mask does (mutation review 50: uncast, a uint8 mask indexed rows 0 and 255, a float one
    failed, and no test gave anything but bool)."""
    h, w = chelsea.shape[:2]
    keep = np.zeros((h, w), bool)
    keep[5:45, 30:50] = True
    want = SeamCarver(keep_mask=keep).resize(chelsea, target_width=50)
    for drawn in (keep.astype(np.uint8) * 255, keep.astype(np.float32)):
        np.testing.assert_array_equal(SeamCarver(keep_mask=drawn).resize(
            chelsea, target_width=50), want)
        np.testing.assert_array_equal(SeamCarver(remove_mask=drawn).resize(
            chelsea, target_width=50), SeamCarver(remove_mask=keep).resize(
            chelsea, target_width=50))
