"""Heat maps and seam overlays."""
import numpy as np
import pytest
from PIL import Image

from compress_core.visualize import colormap_lut, draw_seams, energy_heatmap, overlay_energy


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return (rng.random((40, 60, 3)) * 255).astype(np.uint8)


def test_colormaps():
    inferno = colormap_lut("inferno")
    assert inferno.shape == (256, 3) and inferno.dtype == np.uint8
    assert tuple(inferno[0]) == (0, 0, 4) and tuple(inferno[255]) == (252, 255, 164)
    assert np.all(np.diff(inferno.astype(int).sum(axis=1)) >= -3)  # brightens steadily
    turbo = colormap_lut("turbo")
    assert int(turbo[0].sum()) < 120  # starts dark
    assert turbo[40, 2] > 200 and turbo[40, 2] > turbo[40, 0]  # then blue
    assert turbo[255, 0] > 100 and turbo[255, 0] > turbo[255, 2]  # ends red
    assert turbo[128, 1] > 200  # green in the middle
    gray = colormap_lut("gray")
    assert np.array_equal(gray[:, 0], np.arange(256)) and np.array_equal(gray[:, 0], gray[:, 2])
    with pytest.raises(ValueError, match="colormap"):
        colormap_lut("viridis")


def test_heatmap():
    energy = np.tile(np.linspace(0, 5, 50, dtype=np.float32), (10, 1))
    heat = energy_heatmap(energy, "gray")
    assert heat.shape == (10, 50, 3) and heat.dtype == np.uint8
    assert heat[0, 0, 0] == 0 and heat[0, -1, 0] == 255
    zero = energy_heatmap(np.zeros((3, 4)))
    assert np.all(zero == colormap_lut("inferno")[0])
    with pytest.raises(ValueError, match="2-D"):
        energy_heatmap(np.zeros((3, 4, 3)))


def test_overlay(photo):
    energy = np.random.default_rng(1).random(photo.shape[:2]).astype(np.float32)
    assert np.array_equal(overlay_energy(photo, energy, alpha=0.0), photo)
    assert np.array_equal(overlay_energy(photo, energy, alpha=1.0), energy_heatmap(energy))
    half = overlay_energy(Image.fromarray(photo), energy, alpha=0.5, colormap="turbo")
    assert half.shape == photo.shape and half.dtype == np.uint8
    with pytest.raises(ValueError, match="shape"):
        overlay_energy(photo, energy[:, :-1])
    with pytest.raises(ValueError, match="alpha"):
        overlay_energy(photo, energy, alpha=1.5)


def test_vertical_seams(photo):
    h, w = photo.shape[:2]
    seams = np.stack([np.full(h, 5), np.clip(np.arange(h) + 10, 0, w - 1)]).astype(np.int32)
    original = photo.copy()
    out = draw_seams(photo, seams_vertical=seams, color=(0, 255, 0))
    assert np.array_equal(photo, original)  # input untouched
    mask = np.zeros((h, w), bool)
    mask[np.arange(h), seams[0]] = True
    mask[np.arange(h), seams[1]] = True
    assert np.all(out[mask] == (0, 255, 0))
    assert np.array_equal(out[~mask], photo[~mask])


def test_horizontal_seams_and_width(photo):
    h, w = photo.shape[:2]
    seam = np.full(w, 20)
    out = draw_seams(photo, seams_horizontal=seam, width=3)
    assert np.all(out[19:22] == (255, 0, 0))
    assert np.array_equal(out[:19], photo[:19]) and np.array_equal(out[22:], photo[22:])


def test_both_directions_and_empty(photo):
    h, w = photo.shape[:2]
    out = draw_seams(photo, np.zeros((1, h), np.int64), np.zeros((1, w), np.int64))
    assert np.all(out[:, 0] == (255, 0, 0)) and np.all(out[0, :] == (255, 0, 0))
    assert np.array_equal(draw_seams(photo, np.zeros((0, h), np.int32)), photo)
    assert np.array_equal(draw_seams(photo), photo)


@pytest.mark.parametrize("kwargs,match", [
    ({"seams_vertical": np.zeros((2, 39), np.int32)}, "seams_vertical"),
    ({"seams_vertical": np.full((1, 40), 60)}, r"\[0, 60\)"),
    ({"seams_vertical": np.full((1, 40), -1)}, "seams_vertical"),
    ({"seams_vertical": np.zeros((1, 40), np.float32)}, "integer"),
    ({"seams_horizontal": np.full((1, 60), 40)}, "seams_horizontal"),
    ({"color": (255, 0)}, "color"),
    ({"color": (256, 0, 0)}, "color"),
    ({"color": "red"}, "color"),
    ({"width": 0}, "width"),
    ({"width": 2.5}, "width"),
])
def test_invalid_seams(photo, kwargs, match):
    with pytest.raises(ValueError, match=match):
        draw_seams(photo, **kwargs)


@pytest.mark.parametrize("bad, exc", [(np.full((3, 4), np.nan), ValueError),
                                      (np.full((3, 4), -np.inf, np.float32), ValueError),
                                      (np.zeros((3, 4), complex), TypeError)])
def test_maps_with_nan_inf_or_complex_values_are_refused(bad, exc):
    with pytest.raises(exc, match="energy"):
        energy_heatmap(bad)
    with pytest.raises(exc, match="energy"):
        overlay_energy(np.zeros((3, 4, 3), np.uint8), bad)
    with pytest.raises(TypeError, match="alpha"):
        overlay_energy(np.zeros((3, 4, 3), np.uint8), np.zeros((3, 4)), alpha="0.5")
