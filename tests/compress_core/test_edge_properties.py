"""Property-based edge test (issue 12): the public API on random shapes, dtypes, value ranges,
masks and energy maps.

The only acceptable outcomes are a result of exactly the requested size (and the input's
channels for the SeamCarver) or a ``ValueError`` / ``TypeError`` / ``SemanticCompressError``
whose message names the parameter at fault; never another exception, a crash or a hang.
A crash (segfault, abort) kills the pytest process, which fails the run; each example has a
deadline. The examples are derandomized so CI is reproducible.
"""
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image
from skimage import data as data_photos
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from compress_core import SemanticCompressor
from compress_core.energy import GradientEnergyFunction
from compress_core.energy.base import CarvingTerms
from compress_core.errors import SemanticCompressError
from compress_core.seams import SeamCarver, remove_object
from compress_core.targets import plan_size

EDGE = settings(derandomize=True, max_examples=400, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                database=None, print_blob=True)

_GOOD_DTYPES = ["uint8", "uint16", "int8", "int16", "int32", "int64", "uint32", "float16",
                "float32", "float64", "bool"]
_BAD_DTYPES = ["complex64", "object", "datetime64[s]"]
_ACCEPTED = (ValueError, TypeError, SemanticCompressError)


def _rare(draw):
    """True about once in eight draws: the broken variant of a parameter (a middle value, as
    hypothesis favours the ends of a range)."""
    return draw(st.integers(0, 15)) in (5, 11)


@st.composite
def images(draw):
    """An array of a random shape (2-D, or 0..5 channels; 1 px sides, sometimes 0), dtype and
    value range, and whether the library should accept it."""
    h = draw(st.integers(0, 9)) if _rare(draw) else draw(st.integers(1, 24))
    w = draw(st.integers(0, 9)) if _rare(draw) else draw(st.integers(1, 24))
    channels = draw(st.sampled_from([0, 2, 5])) if _rare(draw) else \
        draw(st.sampled_from([None, 1, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(st.sampled_from(_BAD_DTYPES)) if _rare(draw) else \
        draw(st.sampled_from(_GOOD_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    n = int(np.prod(shape))
    valid_shape = h >= 1 and w >= 1 and channels in (None, 1, 3, 4)
    valid_values = True
    if dtype not in _GOOD_DTYPES:
        arr = np.zeros(shape, dtype=dtype)
        valid_values = False
    elif dtype == "bool":
        arr = rng.random(shape) > 0.5
    elif dtype.startswith("float"):
        kind = draw(st.sampled_from(["0..255", "nan", "inf", "slightly out"])) if _rare(draw) \
            else "unit"
        if kind == "unit":
            arr = rng.random(shape)
        elif kind == "0..255":
            arr = rng.random(shape) * 255.0
        elif kind == "slightly out":
            arr = rng.random(shape) * 1.2 - 0.1
        else:
            arr = rng.random(shape)
            if n:
                arr.flat[rng.integers(n)] = np.nan if kind == "nan" else np.inf
        arr = arr.astype(dtype)
        if n:
            wide = arr.astype(np.float64)
            valid_values = bool(np.isfinite(wide).all() and wide.min() >= -0.5 / 255
                                and wide.max() <= 1 + 0.5 / 255)
    else:
        info = np.iinfo(dtype)
        top, low = min(255, int(info.max)), 0
        if _rare(draw):
            top, low = int(info.max), int(info.min)
        arr = rng.integers(low, top, size=shape, endpoint=True, dtype=dtype)
        if dtype != "uint16" and n:
            valid_values = bool(arr.min() >= 0 and arr.max() <= 255)
    return arr, bool(valid_shape and valid_values)


def _target(draw, side):
    if _rare(draw):
        return draw(st.sampled_from([0, -3, 2.5, "4", True, None]))
    return draw(st.integers(1, 2 * max(side, 1) + 2))


def _valid_target(t):
    return t is None or (isinstance(t, int) and not isinstance(t, bool) and t >= 1)


def _mask(draw, h, w, rng, required=False):
    """A keep/remove mask (or None), and whether it is valid."""
    if not required and draw(st.booleans()):
        return None, True
    if _rare(draw):
        kind = draw(st.sampled_from(["3-D", "transposed", "nan", "strings"]))
        if kind == "3-D":
            return rng.random((h, w, 3)) > 0.5, False
        if kind == "transposed":
            return rng.random((w + 1, h)) > 0.5, False
        if kind == "strings":
            return np.full((h, w), "x"), False
        m = rng.random((h, w)).astype(np.float32)
        if m.size:
            m.flat[0] = np.nan
        return m, m.size == 0
    return rng.random((h, w)) > draw(st.sampled_from([0.3, 0.8, 0.95, 1.0])), True


def _check_error(exc, names):
    event(f"error {type(exc).__name__}: {str(exc)[:40]}")
    assert isinstance(exc, _ACCEPTED), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert any(n in text for n in names), f"{type(exc).__name__} names none of {names}: {text}"


_GRADIENT = GradientEnergyFunction()
_NAMES = ("image", "target", "mask", "energy_terms", "scale", "pixel", "dtype", "nothing would",
          "cannot carve")


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Load the compiled kernels once, outside any example's deadline: the seam kernels, and
    the SSIMULACRA2 kernels of the default quality="auto" (a fresh Numba cache, as in CI's
    bounds-checked run, compiles them in seconds)."""
    SeamCarver().resize(np.zeros((6, 6, 3), np.uint8), target_width=8, target_height=4)
    compressor = SemanticCompressor(energy_function=_GRADIENT)
    for fmt in ("png", "jpeg"):
        compressor.compress(np.zeros((6, 6, 3), np.uint8), target_width=4, target_height=4,
                            show_progress=False, format=fmt)


@EDGE
@given(data=st.data())
def test_seam_carver_resize_and_carve(data):
    arr, valid = data.draw(images())
    h, w = (arr.shape[0], arr.shape[1]) if arr.ndim >= 2 else (0, 0)
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    tw, th = _target(data.draw, w), _target(data.draw, h)
    keep, keep_ok = _mask(data.draw, h, w, rng)
    remove, remove_ok = _mask(data.draw, h, w, rng) if _rare(data.draw) else (None, True)
    order = data.draw(st.sampled_from(["auto", "width_first", "height_first"]))
    mode = data.draw(st.sampled_from(["backward", "forward"]))
    terms_kind = data.draw(st.sampled_from(["wrong shape", "nan", "negative weight"])) \
        if _rare(data.draw) else data.draw(st.sampled_from([None, "ok"]))
    terms, terms_ok = None, True
    if terms_kind == "ok":
        terms = CarvingTerms(rng.random((h, w)).astype(np.float32) * 100, 0.5)
    elif terms_kind == "wrong shape":
        terms, terms_ok = CarvingTerms(np.zeros((h + 1, w), np.float32), 1.0), False
    elif terms_kind == "nan":
        s = np.zeros((h, w), np.float32)
        if s.size:
            s.flat[-1] = np.nan
        terms, terms_ok = CarvingTerms(s, 1.0), s.size == 0
    elif terms_kind == "negative weight":
        terms, terms_ok = CarvingTerms(None, -1.0), False
    carver = SeamCarver(energy_function=_GRADIENT, keep_mask=keep, remove_mask=remove,
                        order=order, energy_mode=mode)
    # a keep and a remove mask that share pixels are refused (their energies would cancel)
    overlap = (keep is not None and remove is not None and keep_ok and remove_ok
               and keep.shape == remove.shape and bool((keep & remove).any()))
    should_work = valid and keep_ok and remove_ok and terms_ok and _valid_target(tw) and \
        _valid_target(th) and not overlap
    use_resize = terms is None and data.draw(st.booleans())
    try:
        if use_resize:  # the public one-liner: pixels only
            out = carver.resize(arr, target_width=tw, target_height=th)
            result = None
        else:
            result = carver.carve(arr, target_width=tw, target_height=th, energy_terms=terms)
            out = result.pixels
    except Exception as exc:  # noqa: BLE001 - classified below
        _check_error(exc, _NAMES)
        if should_work:  # the only refusal of a valid request: a remove mask leaving nothing
            assert remove is not None and "nothing would be left" in str(exc), str(exc)
        return
    assert should_work, "invalid input accepted"
    event("resized")
    eh, ew = th or h, tw or w
    assert out.dtype == np.uint8
    if arr.ndim == 2:
        assert out.shape == (eh, ew)
    else:
        assert out.shape == (eh, ew, arr.shape[2])
    if result is not None and result.source_index is not None:
        assert result.source_index.shape == (eh, ew)
        assert (result.source_index >= 0).all() and (result.source_index < h * w).all()


@EDGE
@given(data=st.data())
def test_remove_object(data):
    arr, valid = data.draw(images())
    h, w = (arr.shape[0], arr.shape[1]) if arr.ndim >= 2 else (0, 0)
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    mask, mask_ok = _mask(data.draw, h, w, rng, required=True)
    should_work = valid and mask_ok and bool(np.asarray(mask).astype(bool).any())
    try:
        out = remove_object(arr, mask, energy_function=_GRADIENT)
    except Exception as exc:  # noqa: BLE001
        _check_error(exc, _NAMES)
        if should_work:  # the only refusal of a valid request: nothing would be left
            assert "nothing would be left" in str(exc), str(exc)
        return
    assert should_work, "invalid input accepted"
    event("object removed")
    assert out.shape == arr.shape
    assert out.dtype == np.uint8


@settings(EDGE, max_examples=250)
@given(data=st.data())
def test_compress(data):
    arr, valid = data.draw(images())
    h, w = (arr.shape[0], arr.shape[1]) if arr.ndim >= 2 else (0, 0)
    tw, th = _target(data.draw, w), _target(data.draw, h)
    method = data.draw(st.sampled_from(["hybrid", "seam_carving", "smart_crop"]))
    fmt = data.draw(st.sampled_from(["png", "webp", "jpeg", "auto"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    keep, keep_ok = _mask(data.draw, h, w, rng)
    compressor = SemanticCompressor(energy_function=_GRADIENT)
    should_work = valid and keep_ok and _valid_target(tw) and _valid_target(th) and \
        (tw is not None or th is not None)
    try:
        result = compressor.compress(arr, target_width=tw, target_height=th,
                                     preserve_aspect=False, method=method, format=fmt,
                                     keep_mask=keep, show_progress=False)
    except Exception as exc:  # noqa: BLE001
        _check_error(exc, _NAMES)
        assert not should_work, f"valid input refused: {type(exc).__name__}: {exc}"
        return
    assert should_work, "invalid input accepted"
    event("compressed")
    assert result.size == (tw or w, th or h)
    assert result.image.size == (tw or w, th or h)


_COFFEE = np.asarray(Image.fromarray(data_photos.coffee()).resize((120, 80), Image.LANCZOS))


@settings(EDGE, max_examples=150)
@given(data=st.data())
def test_compress_meets_every_size_target_at_once(data):
    """Any mix of size targets on a real photo of any shape, strips included: the output
    honours each cap (``target_pixels``, ``max_dimension``), is the exact size when only
    ``target_width`` and ``target_height`` are given, and keeps to the planned area when the
    shape is free (a 300 x 31 strip under max_dimension 8 came out 300 x 1; a 9 x 1 strip
    under target_pixels 1, 3 x 1)."""
    h, w = data.draw(st.integers(1, 80)), data.draw(st.integers(1, 120))
    pixels = np.ascontiguousarray(_COFFEE[:h, :w])
    targets = {}
    for name, values in (("scale", st.sampled_from([0.1, 0.3, 0.5, 0.9, 1.0, 1.5])),
                         ("target_width", st.integers(1, 140)),
                         ("target_height", st.integers(1, 100)),
                         ("target_pixels", st.integers(1, 4000)),
                         ("max_dimension", st.integers(1, 150))):
        if data.draw(st.booleans()):
            targets[name] = data.draw(values)
    if not targets:
        targets["scale"] = 0.5
    method = data.draw(st.sampled_from(["hybrid", "seam_carving", "smart_crop"]))
    aspect = data.draw(st.booleans())
    result = SemanticCompressor(energy_function=_GRADIENT).compress(
        pixels, method=method, preserve_aspect=aspect, format="png", show_progress=False,
        **targets)
    out_w, out_h = result.size
    assert result.image.size == (out_w, out_h)
    event(f"{method}, preserve_aspect={aspect}")
    if "target_pixels" in targets:
        assert out_w * out_h <= targets["target_pixels"], (targets, result.size)
    if "max_dimension" in targets:
        assert max(out_w, out_h) <= targets["max_dimension"], (targets, result.size)
    if targets.keys() == {"target_width", "target_height"}:
        assert (out_w, out_h) == (targets["target_width"], targets["target_height"])
    plan = plan_size(w, h, preserve_aspect=aspect, **targets)
    if plan.free_shape:
        assert out_w * out_h <= plan.width * plan.height
    else:
        assert (out_w, out_h) == plan.size
