"""The fidelity benchmark's distortion metric (bench/fidelity_geometry.py) on real photos:
crops and uniform scales score 1.00, squeezes score their factor, importance weights pick the
subject's stretch, seams through structure break the mapping, and the exact (source map) and
estimated (SIFT) versions agree."""
import numpy as np
import pytest
from PIL import Image

from bench import fidelity_geometry as fg


def _photo(name):
    if name == "china":
        from sklearn.datasets import load_sample_image

        return np.ascontiguousarray(load_sample_image("china.jpg"))
    import skimage.data

    return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])


def _resize(img, w, h):
    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.LANCZOS))


def _ones(img):
    return np.ones(img.shape[:2])


@pytest.fixture(scope="module", params=["astronaut", "china"])
def photo(request):
    img = _photo(request.param)
    return img, fg.OriginalFeatures(img)


def test_crops_and_uniform_scales_score_one(photo):
    img, feats = photo
    h, w = img.shape[:2]
    outputs = {
        "crop": img[h // 8:h - h // 6, w // 5:w - w // 10],
        "scale 0.5": _resize(img, w // 2, h // 2),
        "crop then scale 0.6": _resize(np.ascontiguousarray(img[:, w // 4:]),
                                       round(0.6 * (w - w // 4)), round(0.6 * h)),
    }
    for name, out in outputs.items():
        g = fg.estimate_geometry(img, out, _ones(img), feats)
        assert g.places > 50, name
        assert abs(g.stretch - 1.0) <= 0.01, (name, g)
        assert g.break_rate == 0.0, (name, g)


@pytest.mark.parametrize("factor", [1.1, 1.33, 1.5, 2.67])
def test_squeezes_score_their_factor(photo, factor):
    """Horizontally on the landscape photo, vertically on the square one (2.67: a 9:16 story
    squeezed out of a 3:2 photo, matched through the pre-squeezed original)."""
    img, feats = photo
    h, w = img.shape[:2]
    out = _resize(img, round(w / factor), h) if w > h else _resize(img, w, round(h / factor))
    g = fg.estimate_geometry(img, out, _ones(img), feats)
    assert abs(g.stretch / factor - 1.0) <= 0.02, (factor, out.shape, g)


def test_importance_weights_separate_subject_and_background():
    """The left half squeezed by 1.5, the right half kept: the right half's importance sees no
    stretch, the background (left) the squeeze."""
    img = _photo("astronaut")
    h, w = img.shape[:2]
    left = _resize(np.ascontiguousarray(img[:, :w // 2]), round(w / 2 / 1.5), h)
    out = np.ascontiguousarray(np.concatenate([left, img[:, w // 2:]], axis=1))
    importance = np.zeros((h, w))
    importance[:, w // 2:] = 1.0
    g = fg.estimate_geometry(img, out, importance)
    assert g.stretch < 1.03, g
    assert abs(g.background_stretch / 1.5 - 1.0) < 0.04, g
    assert g.stretch_p90 < 1.1 and g.background_p90 > 1.4, g


def test_coverage_is_the_share_of_importance_kept():
    img = _photo("china")
    h, w = img.shape[:2]
    importance = np.zeros((h, w))
    importance[:, : w // 2] = 1.0  # the left half matters
    out = img[:, w // 4:]  # keeps half of the left half and the right half
    g = fg.estimate_geometry(img, out, importance)
    assert abs(g.coverage - 0.5) < 0.04, g
    g = fg.estimate_geometry(img, _resize(img, w // 2, h), importance)  # a squeeze keeps all
    assert g.coverage > 0.98, g


def _random_seams(img, n, seed=0):
    """Remove ``n`` random vertical seams (random walks, not energy-guided: they cut straight
    through structure); returns the pixels and the source columns."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    cols = np.tile(np.arange(w), (h, 1))
    for _ in range(n):
        x = int(rng.integers(0, cols.shape[1]))
        path = np.clip(x + np.cumsum(rng.integers(-1, 2, size=h)), 0, cols.shape[1] - 1)
        keep = np.ones(cols.shape, dtype=bool)
        keep[np.arange(h), path] = False
        cols = cols[keep].reshape(h, -1)
    return np.ascontiguousarray(img[np.arange(h)[:, None], cols]), cols


def test_seam_carving_breaks_more_than_a_crop():
    """li-plus seam carving to 70% of the width (seams bundle where the energy is low and cut
    the structure beside them) against a crop of the same size."""
    import seam_carving

    img = _resize(_photo("astronaut"), 384, 384)
    h, w = img.shape[:2]
    carved = seam_carving.resize(img, (round(w * 0.7), h), energy_mode="backward",
                                 order="width-first")
    crop = img[:, w // 8:w // 8 + carved.shape[1]]
    feats = fg.OriginalFeatures(img)
    g_crop = fg.estimate_geometry(img, crop, _ones(img), feats)
    g_seams = fg.estimate_geometry(img, carved, _ones(img), feats)
    assert g_crop.break_rate == 0.0
    assert g_seams.break_rate > g_crop.break_rate + 0.02, g_seams
    assert g_seams.stretch > g_crop.stretch


def _grid_map(shape_out, fx, fy, x0=0, y0=0, size=None):
    """Source coordinates of an output drawn from a ``(fx, fy)``-scaled grid offset by
    ``(x0, y0)`` (nearest pixel, like a resampler's centre tap)."""
    ho, wo = shape_out
    oy, ox = np.mgrid[0:ho, 0:wo]
    h, w = size
    return (np.clip(np.floor((ox + 0.5) * fx + x0), 0, w - 1).astype(np.int32),
            np.clip(np.floor((oy + 0.5) * fy + y0), 0, h - 1).astype(np.int32))


def test_exact_geometry_on_synthetic_maps():
    h, w = 400, 600
    importance = np.zeros((h, w))
    importance[100:300, 200:400] = 1.0
    size = (h, w)
    crop = fg.exact_geometry(*_grid_map((200, 300), 1, 1, 250, 100, size), size, importance)
    assert crop.stretch == pytest.approx(1.0, abs=1e-6)
    assert crop.coverage == pytest.approx(150 / 200, abs=0.01)  # x 250..550 of 200..400
    scale = fg.exact_geometry(*_grid_map((200, 300), 2, 2, size=size), size, importance)
    assert scale.stretch == pytest.approx(1.0, abs=1e-6) and scale.coverage == 1.0
    for factor in (1.1, 1.33, 1.5):
        sq = fg.exact_geometry(*_grid_map((h, round(w / factor)), factor, 1, size=size), size,
                               importance)
        assert sq.stretch == pytest.approx(factor, rel=0.005) and sq.coverage == 1.0
    # the flat source map of the library splits into the same coordinates
    sx, sy = _grid_map((h, round(w / 1.5)), 1.5, 1, size=size)
    fx, fy = fg.source_coordinates(sy.astype(np.int64) * w + sx, w)
    assert np.array_equal(fx, sx) and np.array_equal(fy, sy)


def test_exact_geometry_rejects_bad_maps():
    with pytest.raises(ValueError, match="src_x and src_y"):
        fg.exact_geometry(np.zeros((4, 4), int), np.zeros((4, 5), int), (10, 10), np.ones((10, 10)))
    with pytest.raises(ValueError, match="inside the original"):
        fg.exact_geometry(np.full((4, 4), 10), np.zeros((4, 4), int), (10, 10), np.ones((10, 10)))


def test_estimate_agrees_with_exact_map():
    """The same outputs scored from the pixels (SIFT) and from their source maps."""
    img = _photo("astronaut")
    h, w = img.shape[:2]
    importance = np.zeros((h, w))
    importance[50:300, 150:400] = 1.0  # the astronaut's head and shoulders
    carved, cols = _random_seams(img, w // 5, seed=1)
    cases = {
        "crop then scale": (_resize(np.ascontiguousarray(img[:, 128:]), 288, 384),
                            _grid_map((384, 288), 4 / 3, 4 / 3, 128, 0, (h, w))),
        "squeeze 1.33": (_resize(img, 384, 512), _grid_map((512, 384), 4 / 3, 1, size=(h, w))),
        "seams": (carved, (cols, np.tile(np.arange(h)[:, None], (1, cols.shape[1])))),
    }
    for name, (out, (sx, sy)) in cases.items():
        est = fg.estimate_geometry(img, out, importance)
        exact = fg.exact_geometry(sx, sy, (h, w), importance)
        assert est.stretch == pytest.approx(exact.stretch, rel=0.02), (name, est, exact)
        assert est.coverage == pytest.approx(exact.coverage, abs=0.03), (name, est, exact)
