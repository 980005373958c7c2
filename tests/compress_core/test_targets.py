"""Size targets: exact sizes for every combination, caps, aspect, strictest-wins, validation."""
import math

import numpy as np
import pytest
from PIL import Image

from compress_core.errors import ImageTooLargeError
from compress_core.targets import (
    SizePlan,
    check_positive_int,
    check_positive_number,
    free_shape,
    may_change_aspect,
    plan_size,
    working_size,
)

from _core_data import TARGET_CASES, TARGET_INPUT, photo

W, H = TARGET_INPUT
CASES = TARGET_CASES


def _id(case):
    kwargs, size = case
    return ",".join(f"{k}={v}" for k, v in kwargs.items()) + f"->{size[0]}x{size[1]}"


@pytest.mark.parametrize("kwargs, expected", CASES, ids=[_id(c) for c in CASES])
def test_exact_sizes(kwargs, expected):
    plan = plan_size(W, H, **kwargs)
    assert plan.size == expected
    assert (plan.width, plan.height) == expected
    assert plan.free_shape is False


def test_may_change_aspect_holds_for_every_input_whose_plan_changes_it():
    """What a batch is planned by (CompressRequest.computes_maps: whether the job loads its
    CNN) agrees with plan_size on every input: where it says no target of the set changes
    an aspect, no random input's plan is a free shape or more than a pixel off its aspect;
    and each way of changing the aspect is seen by it (scale=1.5 with max_dimension and no
    preserve_aspect is a free shape wherever the cap binds: it had said no)."""
    from compress_core.hybrid import aspect_changes

    rng = np.random.default_rng(13)
    seen = set()
    for _ in range(4000):
        targets = {}
        for name, draw in (("target_width", lambda: int(rng.integers(1, 900))),
                           ("target_height", lambda: int(rng.integers(1, 900))),
                           ("scale", lambda: float(rng.choice([0.3, 0.5, 0.99, 1.0, 1.5]))),
                           ("target_pixels", lambda: int(rng.integers(1, 400_000))),
                           ("max_dimension", lambda: int(rng.integers(1, 900)))):
            if rng.random() < 0.3:
                targets[name] = draw()
        if not targets:
            continue
        targets["preserve_aspect"] = bool(rng.random() < 0.5)
        may = may_change_aspect(**targets)
        for _ in range(5):
            w, h = (int(v) for v in rng.integers(1, 1200, 2))
            plan = plan_size(w, h, **targets)
            changes = plan.free_shape or aspect_changes((w, h), plan.size)
            assert may or not changes, (targets, (w, h), plan)
            seen.add((may, changes))
    assert seen == {(False, False), (True, False), (True, True)}
    assert may_change_aspect(scale=1.5, max_dimension=100, preserve_aspect=False)
    assert not may_change_aspect(scale=1.5, preserve_aspect=False)
    assert not may_change_aspect(max_dimension=100, preserve_aspect=False)
    assert not may_change_aspect(target_width=100, scale=0.5)


def test_no_target_gives_none():
    assert plan_size(640, 480) is None
    assert plan_size(640, 480, preserve_aspect=False) is None


@pytest.mark.parametrize("kwargs, free", [
    (dict(scale=0.5, preserve_aspect=False), True),
    (dict(target_pixels=5000, preserve_aspect=False), True),
    (dict(scale=0.5, max_dimension=100, preserve_aspect=False), True),
    (dict(max_dimension=100, preserve_aspect=False), False),  # a side cap fixes the shape
    (dict(target_width=100, target_height=50, preserve_aspect=False), False),
    (dict(target_width=100, scale=0.5, preserve_aspect=False), False),
    (dict(scale=0.5), False),
    # enlarging removes nothing: the input's aspect, enlarged (review 20: scale=1.7 wrote the
    # input's own size, the free shape of an area capped at the input's)
    (dict(scale=1.7, preserve_aspect=False), False),
    (dict(scale=1.0, preserve_aspect=False), False),
    (dict(target_pixels=W * H * 2, preserve_aspect=False), False),
])
def test_free_shape_only_for_area_targets_without_aspect(kwargs, free):
    plan = plan_size(W, H, **kwargs)
    assert plan.free_shape is free
    if free:  # the plan still carries the aspect-preserving size of the same area
        assert plan.width * plan.height <= W * H


PHOTO_SIZES = [(512, 512), (451, 300), (600, 400), (640, 427), (427, 640), (3, 1053),
               (2048, 5), (1, 1), (2, 2)]


def _aspect_ok(w, h, aspect):
    return min(w, h) == 1 or abs(w - h * aspect) <= 1 or abs(h - w / aspect) <= 1


def test_random_combinations_meet_every_cap_and_keep_the_aspect():
    rng = np.random.default_rng(20260507)
    checked = 0
    for _ in range(3000):
        w, h = PHOTO_SIZES[rng.integers(len(PHOTO_SIZES))]
        if rng.random() < 0.5:
            w, h = int(rng.integers(1, 4000)), int(rng.integers(1, 4000))
        kwargs = {}
        if rng.random() < 0.25:
            kwargs["target_width"] = int(rng.integers(1, 3000))
        if rng.random() < 0.25:
            kwargs["target_height"] = int(rng.integers(1, 3000))
        if rng.random() < 0.4:
            kwargs["scale"] = float(rng.uniform(0.01, 2.5))
        if rng.random() < 0.4:
            kwargs["target_pixels"] = int(rng.integers(1, 10_000_000))
        if rng.random() < 0.4:
            kwargs["max_dimension"] = int(rng.integers(1, 5000))
        if not kwargs:
            continue
        pa = bool(rng.random() < 0.6)
        out_w, out_h = plan_size(w, h, preserve_aspect=pa, **kwargs).size
        tw, th = kwargs.get("target_width"), kwargs.get("target_height")
        if tw and th:
            aspect = tw / th
        elif tw:
            aspect = tw / (h * tw / w if pa else h)
        elif th:
            aspect = (w * th / h if pa else w) / th
        else:
            aspect = w / h
        where = f"{w}x{h} {kwargs} preserve_aspect={pa} -> {out_w}x{out_h}"
        assert out_w >= 1 and out_h >= 1, where
        if "target_pixels" in kwargs and min(out_w, out_h) > 1:
            assert out_w * out_h <= kwargs["target_pixels"], where
        if "max_dimension" in kwargs:
            assert max(out_w, out_h) <= kwargs["max_dimension"], where
        assert _aspect_ok(out_w, out_h, aspect), where
        if not (tw or th or "scale" in kwargs):  # caps alone never enlarge
            assert out_w <= w and out_h <= h, where
        checked += 1
    assert checked > 2500


def test_caps_are_met_tightly():
    """Rounding down for a cap loses at most one pixel per side."""
    for w, h in [(451, 300), (640, 427), (512, 512), (1000, 3)]:
        for tp in (1000, 5000, 12345, 50_000, 100_001):
            out_w, out_h = plan_size(w, h, target_pixels=tp).size
            if tp >= w * h:
                assert (out_w, out_h) == (w, h)
                continue
            f = math.sqrt(tp / (w * h))
            assert out_w * out_h <= tp
            assert out_w >= math.floor(w * f) - 1 and out_h >= math.floor(h * f) - 1
        for md in (1, 10, 99, 300, 2000):
            out_w, out_h = plan_size(w, h, max_dimension=md).size
            assert max(out_w, out_h) == min(md, max(w, h))


@pytest.mark.parametrize("w, h", [(451, 300), (640, 427), (512, 512), (300, 451)])
def test_the_strictest_target_alone_gives_the_same_size(w, h):
    """Several targets at once give exactly the size of the strictest one on its own."""
    singles = [dict(scale=0.6), dict(scale=0.35), dict(target_pixels=40_000),
               dict(target_pixels=9_000), dict(max_dimension=200), dict(max_dimension=90)]
    rng = np.random.default_rng(w * 1000 + h)
    for _ in range(40):
        pick = rng.choice(len(singles), size=int(rng.integers(2, 4)), replace=False)
        combo = {}
        for i in pick:
            key, value = next(iter(singles[i].items()))
            if key in combo:
                value = min(value, combo[key])
            combo[key] = value
        sizes = {k: plan_size(w, h, **{k: v}).size for k, v in combo.items()}
        strictest = min(sizes.values(), key=lambda s: s[0] * s[1])
        areas = sorted(s[0] * s[1] for s in sizes.values())
        if len(areas) > 1 and areas[0] == areas[1]:
            continue
        assert plan_size(w, h, **combo).size == strictest, combo


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "rocket", "china"])
def test_scale_keeps_the_aspect_of_real_photos_within_a_pixel(name):
    h, w = photo(name).shape[:2]
    for scale in (0.1, 0.25, 0.33, 0.5, 0.77, 1.3):
        out_w, out_h = plan_size(w, h, scale=scale).size
        assert (out_w, out_h) == (round(w * scale), round(h * scale))
        assert _aspect_ok(out_w, out_h, w / h)


def test_a_side_at_one_pixel_lets_the_other_give_way_to_a_cap():
    """A 9 x 1 strip capped at 1 pixel was 3 x 1, a 17 x 224 logo at scale 0.1 capped at 10
    pixels 1 x 11, a 90 x 1 exact size capped at 1 pixel 9 x 1."""
    assert plan_size(9, 1, target_pixels=1).size == (1, 1)
    assert plan_size(17, 224, scale=0.1, target_pixels=10).size == (1, 10)
    assert plan_size(100, 2, target_width=90, target_height=1, target_pixels=1,
                     preserve_aspect=False).size == (1, 1)


@pytest.mark.parametrize("w, h", [(9, 1), (1, 9), (100, 2), (150, 5), (17, 224), (1000, 3),
                                  (3, 1053), (451, 300)])
def test_caps_hold_on_strips_and_photos_for_any_mix_of_targets(w, h):
    for tp in (1, 2, 3, 7, 10, 50, 333):
        for md in (None, 1, 4, 40):
            for extra in ({}, {"scale": 0.1}, {"scale": 1.5}, {"max_dimension": md}):
                kwargs = dict(target_pixels=tp, **extra)
                out_w, out_h = plan_size(w, h, **kwargs).size
                assert out_w * out_h <= tp, (w, h, kwargs)
                assert kwargs.get("max_dimension") is None or max(out_w, out_h) <= md


def test_tiny_images_never_go_below_one_pixel():
    assert plan_size(1, 1, scale=0.01).size == (1, 1)
    assert plan_size(2, 1000, scale=0.1).size == (1, 100)  # round(0.2) -> at least 1
    assert plan_size(1000, 2, target_pixels=10).size[0] * 1 >= 1
    assert plan_size(3, 3, max_dimension=1).size == (1, 1)


# ------------------------------------------------------------------------- validation
@pytest.mark.parametrize("name", ["target_width", "target_height", "target_pixels",
                                  "max_dimension"])
@pytest.mark.parametrize("value, exc", [(0, ValueError), (-5, ValueError), (2.5, TypeError),
                                        ("100", TypeError), (True, TypeError),
                                        ([100], TypeError)])
def test_integer_targets_are_validated(name, value, exc):
    with pytest.raises(exc, match=name):
        plan_size(W, H, **{name: value})


@pytest.mark.parametrize("value, exc", [(0, ValueError), (-0.5, ValueError),
                                        (float("nan"), ValueError), (float("inf"), ValueError),
                                        ("0.5", TypeError), (True, TypeError), (None, None)])
def test_scale_is_validated(value, exc):
    if exc is None:
        assert plan_size(W, H, scale=value) is None
        return
    with pytest.raises(exc, match="scale"):
        plan_size(W, H, scale=value)


def test_integral_floats_and_numpy_numbers_are_accepted():
    assert plan_size(W, H, target_width=120.0).size == (120, 80)
    assert plan_size(W, H, target_width=np.int64(120)).size == (120, 80)
    assert plan_size(W, H, scale=np.float32(0.5)).size == (90, 60)
    assert check_positive_int(None, "x") is None
    assert check_positive_int(np.uint16(7), "x") == 7
    assert check_positive_number(2, "x") == 2.0
    with pytest.raises(ValueError, match="x must be"):
        check_positive_number(-1, "x")
    # any real number (review 20: scale=Fraction(1, 2) was "must be a positive number")
    from decimal import Decimal
    from fractions import Fraction

    assert plan_size(W, H, scale=Fraction(1, 2)).size == (90, 60)
    assert check_positive_number(Decimal("0.25"), "x") == 0.25
    for bad in (True, np.bool_(True), "0.5", 1j):
        with pytest.raises(TypeError, match="x must be a positive number"):
            check_positive_number(bad, "x")


def test_size_plan_is_a_frozen_value():
    plan = SizePlan(10, 20)
    assert plan.size == (10, 20) and plan.free_shape is False
    with pytest.raises(Exception):
        plan.width = 3


# ------------------------------------------------------------------------- free shape
def test_free_shape_removes_columns_when_the_content_is_a_vertical_band():
    energy = np.zeros((100, 200), np.float32)
    energy[:, 90:110] = 1.0  # everything important is in 20 central columns
    w, h = free_shape(energy, 100 * 200 // 4)
    assert w * h <= 5000
    assert h == 100 and w == 50  # "remove only columns" keeps every row: 4x the aspect is taken
    # where it keeps no more than 1.25x the best shape within twice the aspect, it is not
    assert free_shape(energy + 0.25, 5000) == (71, 70)


def test_free_shape_removes_rows_when_the_content_is_a_horizontal_band():
    energy = np.zeros((200, 100), np.float32)
    energy[95:105, :] = 1.0
    w, h = free_shape(energy, 5000)
    assert (w, h) == (100, 50)


@pytest.mark.parametrize("scale", [0.25, 0.1, 0.03])
def test_free_shape_keeps_a_photo_within_twice_its_aspect(scale):
    """The proxy's separate row and column sums favour extremes by small margins where the
    importance is spread: the astronaut at 0.03 of each side came out 3 x 75."""
    grey = np.asarray(Image.fromarray(photo("astronaut")).convert("L"), np.float32)
    energy = np.abs(np.gradient(grey, axis=1)) + np.abs(np.gradient(grey, axis=0))
    energy[80:230, 160:330] += 50.0  # a peaky importance map: the face raised
    area = round(512 * scale) ** 2
    w, h = free_shape(energy, area)
    assert w * h <= area and 0.5 / 1.01 <= w / h <= 2.0 * 1.01
    assert free_shape(energy, area, max_aspect_change=1.0) == (round(512 * scale),) * 2
    with pytest.raises(ValueError, match="max_aspect_change"):
        free_shape(energy, area, max_aspect_change=0.5)


def test_free_shape_prefers_the_balanced_shape_on_uniform_energy():
    w, h = free_shape(np.ones((120, 180), np.float32), 5400)
    assert w * h <= 5400
    assert abs(w / h - 1.5) < 0.05


@pytest.mark.parametrize("area, max_dimension", [(8, 8), (8, None), (40, 10), (250, 40),
                                                 (1, None)])
def test_free_shape_keeps_to_the_area_and_the_longest_side(area, max_dimension):
    """A 300 x 31 strip (coffee) given 8 pixels and sides of at most 8 was 300 x 1: the shape
    that keeps every column had its one row forced in above the area."""
    energy = np.asarray(Image.fromarray(photo("coffee")).convert("L").resize(
        (300, 31), Image.Resampling.LANCZOS), np.float32)
    energy = np.abs(np.gradient(energy, axis=1)) + np.abs(np.gradient(energy, axis=0))
    w, h = free_shape(energy, area, max_dimension=max_dimension)
    assert 1 <= w * h <= area
    assert max_dimension is None or max(w, h) <= max_dimension
    plan = plan_size(300, 31, scale=0.9, max_dimension=8, preserve_aspect=False)
    assert plan.free_shape and plan.max_dimension == 8 and plan.size == (8, 1)


def test_free_shape_never_exceeds_the_image():
    w, h = free_shape(np.random.default_rng(0).random((50, 80)).astype(np.float32), 10**6)
    assert (w, h) == (80, 50)


@pytest.mark.parametrize("kwargs", [dict(scale=1e300), dict(scale=float(2 ** 20)),
                                    dict(target_width=10 ** 9),
                                    dict(target_width=3000, target_height=3001)])
def test_outputs_over_max_pixels_are_refused_before_rounding(kwargs):
    """scale=1e300 was an OverflowError (int of inf); a size over max_pixels an allocation."""
    with pytest.raises(ImageTooLargeError, match="max_pixels"):
        plan_size(640, 480, max_pixels=3000 * 3000, **kwargs)
    assert plan_size(640, 480, target_width=3000, target_height=3000,
                     max_pixels=3000 * 3000).size == (3000, 3000)


def test_the_working_size_has_a_long_side_of_min_side_at_least():
    """Twice a 64 x 64 output of a 1600 x 1200 photo is 171 x 128; with a floor of 448 on the
    long side, 448 x 336; a floor that leaves over half the pixels: the input itself."""
    assert working_size(1600, 1200, (64, 64), 2.0) == (171, 128)
    assert working_size(1600, 1200, (64, 64), 2.0, 448) == (448, 336)
    assert working_size(1600, 1200, (256, 256), 2.0, 448) == (683, 512)  # twice is more
    assert working_size(600, 400, (32, 32), 2.0, 448) is None  # 448 x 299: 56% of the pixels


@pytest.mark.parametrize("width, height, caps", [
    (1000, 1000, dict(target_pixels=999_999)),     # one pixel over the area cap
    (1001, 500, dict(max_dimension=1000)),         # one pixel over the longest-side cap
    (500, 1001, dict(max_dimension=1000)),
])
def test_a_cap_one_pixel_below_the_input_is_met(width, height, caps):
    """'Caps are met exactly': an input one pixel over a cap is made smaller, not left as it
    is (mutation review 50: a cap that bound only from two pixels over passed every test)."""
    plan = plan_size(width, height, **caps)
    assert plan is not None
    if "target_pixels" in caps:
        assert plan.width * plan.height <= caps["target_pixels"]
    if "max_dimension" in caps:
        assert max(plan.width, plan.height) <= caps["max_dimension"]


def _gradient_energy(name):
    from skimage import data

    from compress_core.energy import GradientEnergyFunction

    pixels = np.ascontiguousarray(getattr(data, name)()[..., :3])
    return GradientEnergyFunction()(pixels)


def test_a_free_shape_keeps_the_input_s_aspect_unless_another_gains_5_percent():
    """FREE_SHAPE_MIN_GAIN: the astronaut (a square portrait) at a quarter of its pixels
    stays 256 x 256; without the rule it became 181 x 362 on the gradient's proxy, the
    hands cut (visual review 19; mutation review 50: the rule could be dropped with every
    test passing)."""
    energy = _gradient_energy("astronaut")
    assert free_shape(energy, 512 * 512 // 4) == (256, 256)


def test_a_free_shape_holds_max_dimension_on_both_sides():
    """A tall strip of a photo (512 x 100) given 20,000 pixels and a largest side of 150:
    neither side is over 150 (mutation review 50: the height's cap could be dropped)."""
    energy = np.ascontiguousarray(_gradient_energy("astronaut")[:, 200:300])
    w, h = free_shape(energy, 20_000, max_dimension=150)
    assert max(w, h) <= 150 and w * h <= 20_000
