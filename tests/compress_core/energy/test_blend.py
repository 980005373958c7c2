"""BlendEnergyFunction (formerly HybridEnergyFunction): common scale, weights, adaptive rule,
carving split."""
import json
import pickle
import threading

import numpy as np
import pytest

from compress_core.energy import (
    BlendEnergyFunction,
    DeepEnergyFunction,
    EnergyFunction,
    GradientEnergyFunction,
    HybridEnergyFunction,
    SaliencyEnergyFunction,
    make_energy,
    normalize_map,
)
from compress_core.energy.base import ENERGY_UNIT
from compress_core.energy.blend import concentration

from ._photos import BACKGROUNDS, REQUIRED_RATIO, contrast, photo


class Constant(EnergyFunction):
    """A flat map (every pixel equally important): spread over the whole frame."""

    name = "constant"

    def compute(self, rgb):
        return np.full(rgb.shape[:2], 3.0, np.float32)


class Spot(EnergyFunction):
    """All the energy in one corner block: as concentrated as a map gets."""

    name = "spot"

    def compute(self, rgb):
        out = np.zeros(rgb.shape[:2], np.float32)
        out[: rgb.shape[0] // 4, : rgb.shape[1] // 4] = 1000.0
        return out


@pytest.fixture(scope="module")
def image():
    return photo("coffee")


def test_weighted_sum_of_normalised_maps(image):
    members = [GradientEnergyFunction(), SaliencyEnergyFunction("spectral")]
    hybrid = BlendEnergyFunction(members, [3.0, 1.0])
    expected = 0.75 * normalize_map(members[0](image)) + 0.25 * normalize_map(members[1](image))
    energy = hybrid(image)
    np.testing.assert_allclose(energy, expected, atol=1e-5)
    assert energy.dtype == np.float32 and 0 <= energy.min() and energy.max() <= 1.0
    assert hybrid.weights == (0.75, 0.25)
    assert hybrid.last_weights == {"gradient": 0.75, "saliency": 0.25}


def test_scale_of_a_member_does_not_matter(image):
    """Normalising first: a member multiplied by 1000 weighs the same."""

    class Loud(GradientEnergyFunction):
        def compute(self, rgb):
            return super().compute(rgb) * 1000.0

    a = BlendEnergyFunction([GradientEnergyFunction(), SaliencyEnergyFunction()])(image)
    b = BlendEnergyFunction([Loud(), SaliencyEnergyFunction()])(image)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_default_weights_are_equal():
    hybrid = BlendEnergyFunction([GradientEnergyFunction(), Constant(), Spot()])
    assert hybrid.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_concentration():
    assert concentration(np.ones((64, 64))) == 0.0
    assert concentration(np.zeros((8, 8))) == 0.0
    spot = np.zeros((160, 160), np.float32)
    spot[:50, :50] = 1.0
    assert concentration(spot) == pytest.approx(1.0)
    half = np.zeros((160, 160), np.float32)
    half[:, :80] = 1.0
    assert 0.0 < concentration(half) < 0.5
    # thin edges all over the frame are not "concentrated"
    stripes = np.zeros((320, 320), np.float32)
    stripes[:, ::8] = 1.0
    assert concentration(stripes) < 0.05


def test_adaptive_weights_favour_the_concentrated_map(image):
    hybrid = BlendEnergyFunction([Constant(), Spot()], [0.5, 0.5], adaptive_weights=True)
    energy = hybrid(image)
    flat, spot = hybrid.last_weights["constant"], hybrid.last_weights["spot"]
    assert spot > 0.9 and flat > 0  # the floor keeps the flat member in play
    assert flat + spot == pytest.approx(1.0)
    stats = hybrid.weight_stats()
    assert stats["adaptive_weights"] is True
    assert stats["weights"] == {"constant": pytest.approx(flat, abs=1e-6),
                                "spot": pytest.approx(spot, abs=1e-6)}
    json.dumps(stats)
    np.testing.assert_allclose(energy, flat * 1.0 + spot * normalize_map(Spot()(image)),
                               atol=1e-5)


def test_adaptive_keeps_configured_weights_as_priors(image):
    hybrid = BlendEnergyFunction([Spot(), Spot()], [0.2, 0.8], adaptive_weights=True)
    hybrid(image)
    assert list(hybrid.last_weights.values()) == pytest.approx([0.2, 0.8])
    assert list(hybrid.last_weights) == ["spot", "spot_2"]


def test_weight_stats_before_any_image_and_with_duplicate_names():
    hybrid = BlendEnergyFunction([Spot(), Spot(), Constant()])
    assert hybrid.weight_stats()["weights"] is None
    hybrid(np.zeros((16, 16, 3), np.uint8))
    assert set(hybrid.weight_stats()["weights"]) == {"spot", "spot_2", "constant"}


def test_describe_is_stable_and_json(image):
    hybrid = BlendEnergyFunction([GradientEnergyFunction(), SaliencyEnergyFunction()],
                                  [0.4, 0.6], adaptive_weights=True)
    before = hybrid.describe()
    hybrid(image)
    assert hybrid.describe() == before
    assert before == {
        "name": "blend",
        "energies": [{"name": "gradient", "operator": "sobel"},
                     {"name": "saliency", "method": "spectral"}],
        "weights": [0.4, 0.6],
        "adaptive_weights": True,
    }
    json.dumps(before)
    assert repr(hybrid).startswith("BlendEnergyFunction([GradientEnergyFunction(")


def test_compute_with_weights_for_shared_instances(image):
    hybrid = BlendEnergyFunction([Constant(), Spot()], adaptive_weights=True)
    energy, weights = hybrid.compute_with_weights(image)
    np.testing.assert_allclose(energy, hybrid(image), atol=1e-6)
    assert weights == hybrid.last_weights
    assert list(weights) == ["constant", "spot"]


# -- carving split ---------------------------------------------------------------------------

def test_sobel_member_goes_to_the_dynamic_term(image):
    gradient, saliency = GradientEnergyFunction(), SaliencyEnergyFunction()
    hybrid = BlendEnergyFunction([gradient, saliency], [0.3, 0.7])
    terms = hybrid.carving_terms(image)
    sobel = gradient(image)
    p = float(np.percentile(sobel, 99.5))
    assert terms.gradient_weight == pytest.approx(0.3 * ENERGY_UNIT / p)
    np.testing.assert_allclose(terms.static, 0.7 * ENERGY_UNIT * normalize_map(saliency(image)),
                               atol=1e-3)
    # what the kernel sees equals ENERGY_UNIT x the hybrid map (below the Sobel clip point)
    seen = terms.static + terms.gradient_weight * sobel
    below = sobel <= p
    np.testing.assert_allclose(seen[below], ENERGY_UNIT * hybrid(image)[below], rtol=1e-4,
                               atol=1e-2)


def test_terms_from_map_reuses_the_members(image):
    hybrid = BlendEnergyFunction([GradientEnergyFunction(), SaliencyEnergyFunction()], [0.3, 0.7])
    direct = hybrid.carving_terms(image)
    energy = hybrid(image)
    reused = hybrid.terms_from_map(energy)
    assert reused.gradient_weight == pytest.approx(direct.gradient_weight)
    np.testing.assert_allclose(reused.static, direct.static, atol=1e-4)
    # a map it did not compute: whole map static, tie-break gradient weight
    foreign = hybrid.terms_from_map(energy.copy())
    np.testing.assert_allclose(foreign.static, normalize_map(energy) * ENERGY_UNIT, atol=1e-4)
    assert foreign.gradient_weight == pytest.approx(0.15)


def test_terms_without_a_sobel_member(image):
    terms = BlendEnergyFunction([SaliencyEnergyFunction(), Spot()]).carving_terms(image)
    assert terms.gradient_weight == pytest.approx(0.15)
    assert terms.static.max() <= ENERGY_UNIT + 1e-3


def test_terms_with_only_sobel(image):
    terms = BlendEnergyFunction([GradientEnergyFunction()]).carving_terms(image)
    assert terms.static is None
    assert terms.gradient_weight > 0


def test_scharr_member_stays_static(image):
    terms = BlendEnergyFunction([GradientEnergyFunction("scharr")]).carving_terms(image)
    assert terms.static is not None and terms.gradient_weight == pytest.approx(0.15)


def test_pickle_and_threads(image):
    hybrid = BlendEnergyFunction([GradientEnergyFunction(), SaliencyEnergyFunction()])
    clone = pickle.loads(pickle.dumps(hybrid))
    np.testing.assert_allclose(clone(image), hybrid(image), atol=1e-6)
    results = []
    threads = [threading.Thread(target=lambda: results.append(hybrid.carving_terms(image)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({round(t.gradient_weight, 9) for t in results}) == 1


# -- semantic default blend ------------------------------------------------------------------

def test_default_blend_keeps_subjects_on_top():
    hybrid = make_energy("hybrid")
    for name in ("astronaut", "coffee", "china"):
        energy = hybrid(photo(name))
        for n, _, box, kind in BACKGROUNDS:
            if n == name:
                assert contrast(energy, name, box) >= REQUIRED_RATIO[kind]


# -- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("energies,weights,match", [
    ([], None, "at least one"),
    (GradientEnergyFunction(), None, "list or tuple"),
    ([GradientEnergyFunction(), "deep"], None, r"energies\[1\]"),
    ([GradientEnergyFunction()], [1.0, 2.0], "one value per energy"),
    ([GradientEnergyFunction(), Spot()], [1.0, -1.0], ">= 0"),
    ([GradientEnergyFunction(), Spot()], [0.0, 0.0], "not all zero"),
    ([GradientEnergyFunction(), Spot()], [float("nan"), 1.0], "finite"),
    ([GradientEnergyFunction(), Spot()], ["a", 1.0], "numbers"),
    ([GradientEnergyFunction(), Spot()], 3.0, "numbers"),
])
def test_invalid_arguments(energies, weights, match):
    with pytest.raises(ValueError, match=match):
        BlendEnergyFunction(energies, weights)


def test_adaptive_must_be_a_bool():
    """A TypeError, as the library's other flags (faces, preserve_aspect, show_progress)."""
    with pytest.raises(TypeError, match="adaptive_weights must be True or False"):
        BlendEnergyFunction([Spot()], adaptive_weights="yes")


def test_deep_member_is_not_loaded_twice():
    a = DeepEnergyFunction()
    hybrid = BlendEnergyFunction([a, DeepEnergyFunction(aggregate_method="cam")])
    hybrid(photo("chelsea"))
    assert hybrid.energies[0]._backbone() is hybrid.energies[1]._backbone()


def test_former_names_are_aliases():
    """``HybridEnergyFunction`` and ``make_energy("hybrid")`` still work: the same class and
    the same blend as ``make_energy("blend")`` (the new name keeps it apart from
    ``method="hybrid"``)."""
    assert HybridEnergyFunction is BlendEnergyFunction
    a, b = make_energy("hybrid"), make_energy("blend")
    assert type(a) is type(b) is BlendEnergyFunction
    assert a.describe() == b.describe() and a.describe()["name"] == "blend"


def test_concentration_is_the_share_of_the_brightest_tenth_of_cells():
    """The module's formula: the share of the total in the brightest 10% of a 16 x 16 grid of
    cells, 0 for an even map and 1 for all of it in a tenth (review 51: reading the brightest
    fifth survived every test)."""
    cells = np.zeros((16, 16), np.float32)
    cells.flat[:48] = 1.0                          # 48 of 256 cells, equally bright
    energy = np.kron(cells, np.ones((10, 10), np.float32))   # 160 x 160, cells of 10 px
    k = round(0.1 * 256)                           # the brightest 26 cells hold 26/48
    expected = (k / 48 - k / 256) / (1 - k / 256)
    assert concentration(energy) == pytest.approx(expected, abs=1e-6)


@pytest.mark.timeout(30)   # (a numbering that does not count up loops for ever)
def test_three_members_of_one_name_are_numbered():
    """Review 51: a numbering that did not count up hung on the third member of a name."""
    assert BlendEnergyFunction([Spot(), Spot(), Spot()]).member_names == (
        "spot", "spot_2", "spot_3")


def test_faces_of_every_member_are_the_blend_s(image):
    """A blend's importance carries the faces of every member, not of the first alone: crops
    keep them whole with a blend whose face-finding member comes second (review 51)."""
    from compress_core.energy.base import Importance

    class Faced(Constant):
        name = "faced"

        def importance(self, image):
            return Importance(self.compute(np.asarray(image)), ("a face",), True)

    found = BlendEnergyFunction([Spot(), Faced()]).importance(image)
    assert found.faces == ("a face",) and found.faces_sought is True
