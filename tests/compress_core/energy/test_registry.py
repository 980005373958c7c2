"""make_energy: the names the CLI and the pipeline use."""
import pytest

import compress_core.energy as energy_pkg
from compress_core.energy import (
    BlendEnergyFunction,
    DeepEnergyFunction,
    GradientEnergyFunction,
    HybridEnergyFunction,
    SaliencyEnergyFunction,
    energy_names,
    make_energy,
)
from compress_core.energy.registry import DEFAULT_BLEND_WEIGHTS, DEFAULT_HYBRID_WEIGHTS


def test_names():
    assert energy_names() == ("gradient", "saliency", "deep", "blend")
    assert energy_names(aliases=True) == ("gradient", "saliency", "deep", "blend", "hybrid")
    assert DEFAULT_HYBRID_WEIGHTS is DEFAULT_BLEND_WEIGHTS


@pytest.mark.parametrize("name,cls", [
    ("gradient", GradientEnergyFunction),
    ("saliency", SaliencyEnergyFunction),
    ("deep", DeepEnergyFunction),
    ("blend", BlendEnergyFunction),
    ("hybrid", HybridEnergyFunction),  # the former name, an alias
    ("Deep", DeepEnergyFunction),
])
def test_builds_each_energy(name, cls):
    assert type(make_energy(name)) is cls


def test_unknown_name_lists_the_accepted_ones():
    with pytest.raises(ValueError, match="energy") as info:
        make_energy("sobel")
    for name in energy_names():
        assert repr(name) in str(info.value)
    assert "(or 'hybrid', an alias of 'blend')" in str(info.value)


def test_model_and_deep_options():
    fn = make_energy("deep", model="resnet50", max_side=256, aggregate_method="cam")
    assert (fn.model_name, fn.max_side, fn.aggregate_method.value) == ("resnet50", 256, "cam")
    assert make_energy("deep").model_name == "efficientnet_lite0"
    with pytest.raises(ValueError, match="model_name"):
        make_energy("deep", model="alexnet")


def test_model_is_ignored_where_there_is_no_cnn():
    assert make_energy("gradient", model="vgg16").describe() == {"name": "gradient",
                                                                   "operator": "sobel"}
    assert make_energy("saliency", model="vgg16", method="fine_grained").method.value == \
        "fine_grained"


def test_default_hybrid():
    fn = make_energy("hybrid")
    deep, gradient, saliency = fn.energies
    assert isinstance(deep, DeepEnergyFunction) and deep.model_name == "efficientnet_lite0"
    assert isinstance(gradient, GradientEnergyFunction) and gradient.operator.value == "sobel"
    assert isinstance(saliency, SaliencyEnergyFunction) and saliency.method.value == "spectral"
    assert fn.weights == pytest.approx(DEFAULT_BLEND_WEIGHTS)
    assert fn.adaptive_weights is False


def test_hybrid_options():
    fn = make_energy("hybrid", model="resnet18", weights=[1, 1, 2], adaptive_weights=True,
                     max_side=224)
    assert fn.energies[0].model_name == "resnet18" and fn.energies[0].max_side == 224
    assert fn.weights == pytest.approx((0.25, 0.25, 0.5)) and fn.adaptive_weights


def test_wrong_keywords():
    with pytest.raises(TypeError):
        make_energy("gradient", method="spectral")
    with pytest.raises(TypeError):
        make_energy("deep", weights=[1, 2, 3])
    with pytest.raises(ValueError, match="operator"):
        make_energy("gradient", operator="prewitt")


def test_default_energy():
    from compress_core.energy import default_energy

    fn = default_energy()
    # the embedded class-activation + contrast deep energy (chosen by bench_fidelity.py)
    assert fn.describe() == make_energy("deep").describe()
    assert fn.describe()["model_name"] == "efficientnet_lite0"
    assert fn.describe()["aggregate_method"] == "cam_contrast"


def test_package_exports():
    for name in ("EnergyFunction", "CarvingTerms", "normalize_map", "GradientEnergyFunction",
                 "SaliencyEnergyFunction", "DeepEnergyFunction", "BlendEnergyFunction", "HybridEnergyFunction",
                 "make_energy", "default_energy", "energy_names", "available_backbones"):
        assert name in energy_pkg.__all__ and hasattr(energy_pkg, name)
