"""DeepEnergyFunction: real EfficientNet-Lite0 weights, semantic contrast on real photos."""
import json
import pickle
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from compress_core.energy import DeepEnergyFunction, GradientEnergyFunction
from compress_core.energy import backbones
from compress_core.energy.deep import (
    DEEP_GRADIENT_WEIGHT,
    DEFAULT_MAX_SIDE,
    DeepAggregate,
    inference_size,
)

from ._photos import BACKGROUNDS, REQUIRED_RATIO, SUBJECTS, contrast, photo


@pytest.fixture(scope="module")
def deep():
    return DeepEnergyFunction().load()


@pytest.fixture(scope="module")
def deep_maps(deep):
    return {name: deep(photo(name)) for name in SUBJECTS}


@pytest.fixture(scope="module")
def gradient_maps():
    fn = GradientEnergyFunction()
    return {name: fn(photo(name)) for name in SUBJECTS}


# -- the weights are real ---------------------------------------------------------------------

def test_classifier_head_knows_a_tabby_cat(deep):
    top = deep.predict(photo("chelsea"))
    assert 281 <= top[0][0] <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert sum(p for c, p in top if 281 <= c <= 285) > 0.5


def test_classifier_head_knows_an_espresso(deep):
    top = deep.predict(photo("coffee"), top_k=3)
    assert top[0][0] in (967, 968)  # espresso, cup
    assert top[0][1] > 0.5
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)


# -- semantic contrast -----------------------------------------------------------------------

@pytest.mark.parametrize("name,background,box,kind", BACKGROUNDS,
                         ids=[f"{n}-{b}" for n, b, _, _ in BACKGROUNDS])
def test_default_deep_energy_favours_the_subject(deep_maps, name, background, box, kind):
    ratio = contrast(deep_maps[name], name, box)
    assert ratio >= REQUIRED_RATIO[kind], f"{name}: subject / {background} = {ratio:.2f}"


TEXTURED = [(n, b, box) for n, b, box, kind in BACKGROUNDS if kind == "textured"]


@pytest.mark.parametrize("name,background,box", TEXTURED, ids=[f"{n}-{b}" for n, b, _ in TEXTURED])
def test_deep_beats_gradient_on_textured_backgrounds(deep_maps, gradient_maps, name, background,
                                                     box):
    assert contrast(deep_maps[name], name, box) > 1.2 * contrast(gradient_maps[name], name, box)


@pytest.mark.parametrize("name,background", [("astronaut", "flag"), ("coffee", "table grain"),
                                             ("china", "trees")])
def test_gradient_energy_fails_the_textured_background(gradient_maps, name, background):
    box = next(b for n, bg, b, _ in BACKGROUNDS if n == name and bg == background)
    assert contrast(gradient_maps[name], name, box) < REQUIRED_RATIO["textured"]


def test_gradient_energy_passes_smooth_backgrounds(gradient_maps):
    for name, _, box, kind in BACKGROUNDS:
        if kind == "smooth":
            assert contrast(gradient_maps[name], name, box) >= 2.0


@pytest.mark.parametrize("name", ["chelsea", "coffee", "china"])
def test_cam_alone_is_strong_on_imagenet_subjects(name):
    cam = DeepEnergyFunction(aggregate_method="cam")
    box = next(b for n, _, b, kind in BACKGROUNDS if n == name)
    assert contrast(cam(photo(name)), name, box) >= 4.0


# -- output contract -------------------------------------------------------------------------

def test_output_contract(deep_maps):
    for name, energy in deep_maps.items():
        assert energy.dtype == np.float32
        assert energy.shape == photo(name).shape[:2]
        assert np.isfinite(energy).all()
        assert energy.min() >= 0.0 and energy.max() <= 1.0
        assert energy.max() > 0.99  # normalised


@pytest.mark.parametrize("aggregate", [a.value for a in DeepAggregate])
def test_every_aggregate_gives_a_map(deep, aggregate):
    fn = DeepEnergyFunction(aggregate_method=aggregate)
    energy = fn(photo("rocket"))
    assert energy.shape == (427, 640) and energy.dtype == np.float32
    assert 0.0 <= energy.min() and energy.max() <= 1.0 and energy.std() > 0.05
    assert fn.describe()["aggregate_method"] == aggregate


@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (7, 3), (10, 2000), (2000, 12)])
def test_tiny_and_extreme_images(deep, shape):
    rng = np.random.default_rng(0)
    image = (rng.random(shape + (3,)) * 255).astype(np.uint8)
    energy = deep(image)
    assert energy.shape == shape and np.isfinite(energy).all() and energy.min() >= 0


def test_gray_rgba_float_and_pil_inputs(deep):
    rgb = photo("chelsea")
    expected = deep(rgb)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    np.testing.assert_allclose(deep(rgba), expected, atol=1e-6)
    np.testing.assert_allclose(deep(Image.fromarray(rgb)), expected, atol=1e-6)
    np.testing.assert_allclose(deep(rgb / 255.0), expected, atol=1e-6)
    assert deep(rgb.mean(axis=2).astype(np.uint8)).shape == rgb.shape[:2]


# -- capped resolution, batching, caching ------------------------------------------------------

def test_inference_size():
    assert inference_size(3000, 4000, 320) == (240, 320)
    assert inference_size(300, 451, 320) == (213, 320)
    assert inference_size(100, 50, 320) == (320, 160)  # small images are enlarged too
    assert inference_size(10, 4000, 320) == (32, 320)  # short side at least 32


def test_cnn_runs_at_the_capped_size_whatever_the_input(deep, monkeypatch):
    seen = []
    loaded = deep._backbone()
    original = loaded.forward

    def spy(x, layers):
        seen.append(tuple(x.shape))
        return original(x, layers)

    monkeypatch.setattr(loaded, "forward", spy)
    big = np.asarray(Image.fromarray(photo("coffee")).resize((4000, 2667)))
    energy = deep(big)
    assert energy.shape == (2667, 4000)
    assert seen == [(1, 3, 213, DEFAULT_MAX_SIDE)]


def test_map_does_not_depend_on_the_input_resolution(deep):
    small = photo("china")
    big = np.asarray(Image.fromarray(small).resize((1280, 854), Image.BICUBIC))
    a = np.asarray(Image.fromarray(deep(big)).resize((640, 427), Image.BILINEAR))
    b = deep(small)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.97


def test_energy_batch_equals_single_calls(deep):
    images = [photo("chelsea"), photo("rocket"), photo("china"), photo("flower"),
              np.ascontiguousarray(photo("rocket")[:, ::-1])]
    maps = deep.energy_batch(images)
    assert len(maps) == len(images)
    for image, energy in zip(images, maps):
        np.testing.assert_allclose(energy, deep(image), atol=2e-5)


def test_energy_batch_of_nothing(deep):
    assert deep.energy_batch([]) == []


def test_energy_batch_of_one_image_is_refused(deep):
    """One (H, W, 3) array was taken as H one-row images (H maps, no error; edge review 37); a
    stack (N, H, W, 3) is N images."""
    chelsea = np.ascontiguousarray(photo("chelsea")[::4, ::4])
    with pytest.raises(TypeError, match=r"images must be an iterable .*pass \[image\]"):
        deep.energy_batch(chelsea)
    stacked = deep.energy_batch(np.stack([chelsea, chelsea]))
    assert len(stacked) == 2 and stacked[0].shape == chelsea.shape[:2]


def test_model_loads_once_per_process(deep):
    other = DeepEnergyFunction(aggregate_method="sum", max_side=256)
    assert other._backbone() is deep._backbone()
    assert backbones.load_backbone() is deep._backbone()


def test_pickles_without_the_model(deep):
    data = pickle.dumps(deep)
    assert len(data) < 10_000
    clone = pickle.loads(data)
    np.testing.assert_allclose(clone(photo("chelsea")), deep(photo("chelsea")), atol=1e-6)


def test_threads_share_one_model(deep):
    names = ["chelsea", "coffee", "rocket", "flower"]
    expected = {n: deep(photo(n)) for n in names}
    results, errors = {}, []

    def work(n):
        try:
            for _ in range(2):
                results[n] = deep(photo(n))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for n in names:
        np.testing.assert_allclose(results[n], expected[n], atol=1e-6)


def test_custom_layers(deep):
    fn = DeepEnergyFunction(aggregate_method="weighted", layers=["_blocks.4", "_blocks.15"])
    assert fn(photo("flower")).shape == (427, 640)
    assert fn.describe()["layers"] == ["_blocks.4", "_blocks.15"]


def test_layer_without_a_feature_map(deep):
    fn = DeepEnergyFunction(aggregate_method="sum", layers=["_blocks.4", "_fc"])
    with pytest.raises(ValueError, match="_fc"):
        fn(photo("flower"))


def test_device_auto_and_cuda_fall_back_to_cpu_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert DeepEnergyFunction(device="cuda")._backbone().device.type == "cpu"
    assert DeepEnergyFunction(device="auto")._backbone().device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_cuda_maps_and_faces_match_the_cpu(deep):
    """On a GPU the maps are the CPU's within float noise and the same faces are found.
    Measured on an H200: map differences <= 0.003 of the maximum, face boxes within 2 px;
    asserted with room for other GPUs: 0.01 and 4 px."""
    gpu = DeepEnergyFunction(device="cuda").load()
    assert gpu._backbone().device.type == "cuda"
    names = ["astronaut", "flower", "coffee"]
    for name in names:
        rgb = photo(name)
        (cpu_map, cpu_faces), (gpu_map, gpu_faces) = deep.importance(rgb), gpu.importance(rgb)
        assert gpu_map.dtype == np.float32 and gpu_map.shape == cpu_map.shape
        assert np.isfinite(gpu_map).all()
        assert np.abs(gpu_map - cpu_map).max() <= 0.01 * cpu_map.max()
        assert len(gpu_faces) == len(cpu_faces)
        for a, b in zip(sorted(f.box for f in cpu_faces), sorted(f.box for f in gpu_faces)):
            assert np.abs(np.subtract(a, b)).max() <= 4
    batch = gpu.energy_batch([photo(n) for n in names])
    for name, got in zip(names, batch):
        np.testing.assert_allclose(got, gpu(photo(name)), atol=0.01)


# -- description and carving -------------------------------------------------------------------

def test_describe_is_json(deep):
    described = deep.describe()
    assert described == {"name": "deep", "model_name": "efficientnet_lite0",
                         "aggregate_method": "cam_contrast", "max_side": 320, "top_k": 5,
                         "faces": True}
    json.dumps(described)
    assert "DeepEnergyFunction(" in repr(deep)


def test_carving_terms(deep, deep_maps):
    terms = deep.carving_terms(photo("coffee"))
    assert terms.gradient_weight == DEEP_GRADIENT_WEIGHT
    assert terms.static.dtype == np.float32 and terms.static.shape == (400, 600)
    assert terms.static.min() >= 0 and terms.static.max() <= 255.0 + 1e-3
    np.testing.assert_allclose(deep.terms_from_map(deep_maps["coffee"]).static, terms.static,
                               atol=1e-3)


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,name", [
    ({"model_name": "alexnet"}, "model_name"),
    ({"aggregate_method": "mean"}, "aggregate_method"),
    ({"layers": "_blocks.4"}, "layers"),
    ({"layers": []}, "layers"),
    ({"layers": ["_blocks.99"]}, "layers"),
    ({"layers": [3]}, "layers"),
    ({"layers": 5}, "layers"),
    ({"device": "gpu"}, "device"),
    ({"max_side": 0}, "max_side"),
    ({"max_side": 8}, "max_side"),
    ({"max_side": 100000}, "max_side"),
    ({"max_side": 320.0}, "max_side"),
    ({"max_side": True}, "max_side"),
    ({"top_k": 0}, "top_k"),
    ({"top_k": 1001}, "top_k"),
    ({"batch_size": 0}, "batch_size"),
])
def test_invalid_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DeepEnergyFunction(**kwargs)


def test_aggregate_error_lists_the_accepted_values():
    with pytest.raises(ValueError) as info:
        DeepEnergyFunction(aggregate_method="mean")
    for value in ("sum", "max", "weighted", "cam", "contrast", "cam_contrast"):
        assert repr(value) in str(info.value)


def test_missing_torchvision_weights_raise_on_load(tmp_path, monkeypatch):
    from compress_core.errors import WeightsNotFoundError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(backbones.OFFLINE_ENV, "1")
    fn = DeepEnergyFunction(model_name="vgg16")  # construction is lazy
    with pytest.raises(WeightsNotFoundError, match="vgg16-397923af.pth"):
        fn.load()
    with pytest.raises(WeightsNotFoundError):
        fn(photo("chelsea"))
