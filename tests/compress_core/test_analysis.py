"""Energy statistics and content analysis."""
import numpy as np
import pytest

from compress_core.analysis import (
    HIGH_IMPORTANCE_THRESHOLD,
    center_of_mass,
    content_summary,
    energy_statistics,
    important_region,
    retained_energy_ratio,
)


def blob(shape=(120, 200), box=(50, 30, 90, 70), value=1.0):
    energy = np.zeros(shape, np.float32)
    left, top, right, bottom = box
    energy[top:bottom, left:right] = value
    return energy


def test_statistics_keys_and_values():
    energy = np.tile(np.linspace(0, 1, 101, dtype=np.float32), (10, 1))
    stats = energy_statistics(energy)
    assert set(stats) == {"mean_energy", "std_energy", "p05", "p25", "p50", "p75", "p95",
                          "high_importance_ratio"}
    assert stats["mean_energy"] == pytest.approx(0.5, abs=0.01)
    assert stats["p50"] == pytest.approx(0.5, abs=0.01)
    assert stats["high_importance_ratio"] == pytest.approx(0.5, abs=0.02)
    assert HIGH_IMPORTANCE_THRESHOLD == 0.5


def test_statistics_do_not_depend_on_the_scale():
    energy = blob()
    assert energy_statistics(energy * 1000) == pytest.approx(energy_statistics(energy))


def test_zero_map():
    stats = energy_statistics(np.zeros((5, 5)))
    assert stats["mean_energy"] == 0 and stats["high_importance_ratio"] == 0


def test_retained_energy_ratio():
    energy = blob()
    kept = np.zeros(energy.shape, bool)
    assert retained_energy_ratio(energy, kept) == 0.0
    kept[:, :90] = True
    assert retained_energy_ratio(energy, kept) == 1.0
    kept[:, 70:] = False
    assert retained_energy_ratio(energy, kept) == pytest.approx(0.5)
    assert retained_energy_ratio(np.zeros((3, 3)), kept[:3, :3]) == 1.0


def test_center_of_mass():
    assert center_of_mass(blob()) == pytest.approx((69.5, 49.5))
    assert center_of_mass(np.zeros((11, 21))) == (10.0, 5.0)


def test_important_region_is_the_box():
    assert important_region(blob()) == (50, 30, 90, 70)


def test_important_region_ignores_faint_and_stray_pixels():
    energy = blob() + 0.2  # faint everywhere: below the threshold
    energy[5, 190] = 1.0  # one stray hot pixel: trimmed
    assert important_region(energy) == (50, 30, 90, 70)
    assert important_region(np.zeros((4, 4))) is None


def test_content_summary():
    summary = content_summary(blob())
    assert summary["important_region"] == (50, 30, 90, 70)
    assert summary["important_region_ratio"] == pytest.approx(40 * 40 / (120 * 200))
    assert summary["center_of_mass"] == pytest.approx((69.5, 49.5))
    assert summary["center_of_mass_relative"] == pytest.approx((69.5 / 199, 49.5 / 119))
    assert (summary["width"], summary["height"]) == (200, 120)
    assert summary["high_importance_threshold"] == 0.5
    assert set(energy_statistics(blob())) <= set(summary)
    # a side of one pixel: its middle, as for a flat map (edge review 42: a 1x1 map said 0, 0)
    for shape in ((1, 1), (1, 50), (50, 1)):
        assert content_summary(np.ones(shape))["center_of_mass_relative"] == pytest.approx(
            (0.5, 0.5)), shape


def test_content_summary_of_a_real_photo():
    from skimage.data import chelsea

    from compress_core.energy import DeepEnergyFunction

    summary = content_summary(DeepEnergyFunction()(chelsea()))
    left, top, right, bottom = summary["important_region"]
    # the cat's face (eyes at x 130-345, y 80-165; nose at y 215-265) is inside the region
    assert left <= 150 and right >= 330 and top <= 90 and bottom >= 250
    cx, cy = summary["center_of_mass"]
    assert 150 <= cx <= 320 and 80 <= cy <= 250


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((0, 4)), np.zeros((2, 2, 2))])
def test_invalid_maps(bad):
    for fn in (energy_statistics, center_of_mass, important_region, content_summary):
        with pytest.raises(ValueError, match="2-D"):
            fn(bad)


@pytest.mark.parametrize("threshold", [0, -0.5, 1.5])
def test_invalid_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        important_region(blob(), threshold=threshold)


@pytest.mark.parametrize("bad, exc, match", [
    (np.full((4, 4), np.nan, np.float32), ValueError, "NaN or infinite"),
    (np.full((4, 4), np.inf), ValueError, "NaN or infinite"),
    (np.zeros((4, 4), complex), TypeError, "real numeric"),
    (np.empty((4, 4), object), TypeError, "real numeric"),
])
def test_non_finite_or_non_numeric_maps_are_refused(bad, exc, match):
    """They used to give all-zero statistics silently."""
    for fn in (energy_statistics, center_of_mass, important_region, content_summary):
        with pytest.raises(exc, match=match):
            fn(bad)
    with pytest.raises(exc, match=match):
        retained_energy_ratio(bad, np.ones((4, 4), bool))


def test_retained_energy_ratio_checks_the_kept_mask():
    energy = np.ones((4, 4), np.float32)
    assert retained_energy_ratio(energy, np.eye(4, dtype=bool)) == 0.25
    for kept in (None, np.ones((4, 5), bool), np.ones((4, 4, 3), bool)):
        with pytest.raises(ValueError, match="kept must be"):
            retained_energy_ratio(energy, kept)
