"""Seam carving half the width away with deep energy keeps the subject."""
import numpy as np
import pytest

from compress_core import seams  # the project's own module: a broken import must fail, not skip
from compress_core.energy import DeepEnergyFunction, GradientEnergyFunction

from ._photos import CARVE_CORES, photo


@pytest.fixture(scope="module")
def deep():
    return DeepEnergyFunction().load()


def _seams_crossing(seam_columns: np.ndarray, box) -> int:
    left, top, right, bottom = box
    rows = seam_columns[:, top:bottom]
    return int(((rows >= left) & (rows < right)).any(axis=1).sum())


@pytest.mark.parametrize("name", sorted(CARVE_CORES))
def test_half_width_carve_keeps_the_subject(deep, name):
    image = photo(name)
    h, w = image.shape[:2]
    carver = seams.SeamCarver(energy_function=deep)
    removed = carver.find_seams(image, w // 2)
    assert removed.shape == (w // 2, h)
    assert _seams_crossing(removed, CARVE_CORES[name]) == 0
    out = carver.resize(image, target_width=w - w // 2)
    assert out.shape == (h, w - w // 2, 3)


def test_gradient_energy_cuts_the_subjects():
    crossing = {}
    for name, box in CARVE_CORES.items():
        image = photo(name)
        removed = seams.SeamCarver(energy_function=GradientEnergyFunction()).find_seams(
            image, image.shape[1] // 2)
        crossing[name] = _seams_crossing(removed, box)
    assert sum(1 for n in crossing.values() if n > 0) >= 4, crossing
