"""Energy-weighted pre-filtering (compress_core.codec.semantic) on real photos."""
import numpy as np
import pytest

from compress_core import GradientEnergyFunction
from compress_core.codec import decode_pixels, encode
from compress_core.codec.semantic import allocation_weights, prefilter

from _core_data import photo


@pytest.fixture(scope="module")
def astronaut():
    return photo("astronaut", 256)


def _importance(shape):
    """The centre third matters, the rest does not."""
    h, w = shape[:2]
    imp = np.zeros((h, w), np.float32)
    imp[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = 1.0
    return imp


def test_important_pixels_are_kept_and_the_rest_smoothed(astronaut):
    imp = _importance(astronaut.shape)
    out = prefilter(astronaut, imp, keep_share=0.11, sigma=2.0)
    h, w = imp.shape
    core = (slice(h // 3 + 24, 2 * h // 3 - 24), slice(w // 3 + 24, 2 * w // 3 - 24))
    np.testing.assert_array_equal(out[core], astronaut[core])
    corner = (slice(0, h // 4), slice(0, w // 4))
    detail = lambda a: np.abs(np.diff(a[corner].astype(float), axis=1)).mean()  # noqa: E731
    assert detail(out) < 0.7 * detail(astronaut)  # 7.8 -> 4.8 mean neighbour difference


def test_smoothing_saves_bytes_at_equal_quality(astronaut):
    energy = GradientEnergyFunction()(astronaut)
    out = prefilter(astronaut, energy)
    assert len(encode(out, "jpeg", 80)) < 0.9 * len(encode(astronaut, "jpeg", 80))
    assert decode_pixels(encode(out, "jpeg", 80)).shape == astronaut.shape


def test_alpha_is_untouched_and_flat_importance_keeps_everything(astronaut):
    rgba = np.dstack([astronaut, np.arange(256, dtype=np.uint8)[None].repeat(256, 0)])
    out = prefilter(rgba, _importance(rgba.shape))
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(prefilter(astronaut, np.zeros((256, 256))), astronaut)
    weights = allocation_weights(_importance(astronaut.shape), keep_share=0.5)
    assert weights.min() >= 0 and weights.max() <= 1 and weights.dtype == np.float32


@pytest.mark.parametrize("kwargs, match", [
    (dict(importance=np.ones((10, 10))), "importance must have the pixels' shape"),
    (dict(importance=-np.ones((256, 256))), "finite and >= 0"),
    (dict(sigma=0), "sigma must be a positive number"),
    (dict(keep_share=0), r"keep_share must be in \(0, 1\]"),
])
def test_bad_parameters(astronaut, kwargs, match):
    kwargs.setdefault("importance", np.ones((256, 256)))
    with pytest.raises(ValueError, match=match):
        prefilter(astronaut, **kwargs)
