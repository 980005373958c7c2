"""The public surface: the ``semantic_compress`` facade and the original README's examples.

Each test below is one of ORIGINAL_README.md's snippets, run as written on real photos (the
file names it uses are created first). The examples that name VGG16 / ResNet-50 need
torchvision weights that are not on this machine: they must fail with a clear
``WeightsNotFoundError`` naming the file to fetch; the default ``DeepEnergyFunction()``
(embedded EfficientNet-Lite0) must just work.
"""
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import compress_core
import semantic_compress
from compress_core.energy import backbones

from _core_data import decode, encode, photo

SECTION_3_NAMES = {
    "SemanticCompressor", "CompressionResult", "compress_image", "SeamCarver", "remove_object",
    "GradientEnergyFunction", "SaliencyEnergyFunction", "DeepEnergyFunction",
    "HybridEnergyFunction", "EnergyFunction", "__version__",
}


@pytest.fixture
def offline_hub(empty_torch_hub):
    """An empty torch hub cache with downloads off: torchvision weights are missing."""
    backbones.clear_model_cache()
    yield empty_torch_hub
    backbones.clear_model_cache()


@pytest.fixture
def photos_dir(tmp_path, monkeypatch):
    """cwd with the README's file names: photo.jpg, image.jpg, family_photo.jpg, photos/."""
    monkeypatch.chdir(tmp_path)
    Path("photo.jpg").write_bytes(encode(photo("chelsea", 180, 120), "JPEG", quality=90))
    Path("image.jpg").write_bytes(encode(photo("coffee", 180, 120), "JPEG", quality=90))
    Path("family_photo.jpg").write_bytes(encode(photo("astronaut", 160), "JPEG", quality=90))
    Path("photos").mkdir()
    for name in ("rocket", "china", "camera"):
        Path(f"photos/{name}.jpg").write_bytes(encode(photo(name, 150), "JPEG", quality=90))
    Path("photos/readme.txt").write_text("not a photo, not matched by *.jpg")
    return tmp_path


# ------------------------------------------------------------- start-up without torch
_NO_TORCH_SCRIPT = """
import sys
import compress_core, semantic_compress, pipeline.main
from pipeline.main import build_pipeline
from pipeline.options import parse_args
import apache_beam as beam
job, _ = parse_args(["--input", "/nowhere/*.jpg", "--output", "/tmp/unused-out"])
build_pipeline(beam.Pipeline(), job, {})  # a launcher builds the graph, deep energy included
assert job.settings.energy == "deep", job.settings
from compress_core import SemanticCompressor, make_energy
from compress_core.cli import build_parser
import numpy as np
from _core_data import photo
energy = make_energy("gradient")
out = SemanticCompressor(energy).compress(photo("coffee", 120), scale=0.5, format="png",
                                          show_progress=False)
assert out.size == (60, 40), out.size
assert "torch" not in sys.modules, "torch was imported"
from semantic_compress import DeepEnergyFunction
from transforms.compress import _Engine
from transforms.settings import CompressSettings
deep = SemanticCompressor()      # the default deep energy, built
assert isinstance(deep.energy_function, DeepEnergyFunction)
assert deep.compress(photo("coffee", 120), scale=0.5, show_progress=False).size == (60, 40)
engine = _Engine(CompressSettings(scale=0.5), 1)   # the default job's engine, warmed up
assert not engine.loads_model
assert "torch" not in sys.modules, "torch was imported for pictures that keep their aspect"
thumb = deep.compress(photo("coffee", 120), target_width=50, target_height=50,
                      show_progress=False)
assert "torch" in sys.modules and thumb.size == (50, 50)   # a map: the CNN
print("ok")
"""


def test_import_and_gradient_use_do_not_load_torch():
    """``import compress_core``, the facade, a Beam launcher building the default (deep energy)
    graph and a gradient-energy compression run without torch (~1.4 s of start-up); so do
    building the default deep energy, compressing with it where the aspect stays and the
    default job's engine (session 29: about 470 MB less per worker process); its first map
    imports torch."""
    import subprocess
    import sys

    here = Path(__file__).resolve().parent
    root = here.parent.parent
    env = dict(__import__("os").environ, PYTHONPATH=f"{root}:{here}")
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH_SCRIPT], capture_output=True,
                          text=True, env=env, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


# ------------------------------------------------------------- the facade
def test_facade_re_exports_the_library():
    assert semantic_compress.__all__ == compress_core.__all__
    for name in compress_core.__all__:
        assert getattr(semantic_compress, name) is getattr(compress_core, name), name
    assert semantic_compress.__version__ == compress_core.__version__
    assert SECTION_3_NAMES <= set(compress_core.__all__)


def _readme_imports(path):
    """Names the README's Python examples import from the library."""
    import re

    text = Path(path).read_text(encoding="utf-8")
    names = set()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        for what in re.findall(r"^from (?:semantic_compress|compress_core) import \(?([^)\n]+)",
                               block, re.M):
            names.update(n.strip() for n in what.split(",") if n.strip())
    return names


def test_public_names_exist_and_nothing_private_leaks():
    """``__all__`` is the whole public surface: every public attribute of the package is in it
    (or is a submodule), every name in it is a documented object of this library, and every
    name the READMEs' examples import is in it."""
    import types

    public = {n for n in dir(compress_core) if not n.startswith("_")}
    stray = {n for n in public - set(compress_core.__all__)
             if not isinstance(getattr(compress_core, n), types.ModuleType)}
    assert not stray, f"public but not in __all__: {sorted(stray)}"
    for name in compress_core.__all__:
        if name == "__version__":
            continue
        obj = getattr(compress_core, name)
        assert not name.startswith("_"), name
        assert getattr(obj, "__module__", "").startswith("compress_core."), name
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
    repo = Path(__file__).resolve().parents[2]
    for readme in (repo / "README.md", repo.parent / "shared" / "ORIGINAL_README.md"):
        if readme.exists():
            imported = _readme_imports(readme)
            assert "SemanticCompressor" in imported, readme.name  # the examples were found
            assert imported <= set(compress_core.__all__), (readme.name, imported)


def test_console_script_is_declared():
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("semantic-compress") == "compress_core.cli:main"


def test_error_hierarchy():
    from semantic_compress import (
        ImageDecodeError,
        ImageReadError,
        ImageTooLargeError,
        SemanticCompressError,
        TargetUnreachableError,
        UnsupportedImageError,
        WeightsNotFoundError,
    )

    for exc in (ImageDecodeError, ImageReadError, ImageTooLargeError, TargetUnreachableError,
                UnsupportedImageError, WeightsNotFoundError):
        assert issubclass(exc, SemanticCompressError)
    assert issubclass(ImageDecodeError, ValueError) and issubclass(TargetUnreachableError,
                                                                   ValueError)
    assert issubclass(ImageReadError, OSError)
    assert issubclass(WeightsNotFoundError, FileNotFoundError)


def test_options_accept_plain_strings():
    from semantic_compress import ImageFormat, Method

    assert [m.value for m in Method] == ["seam_carving", "smart_crop", "hybrid", "jpeg"]
    assert Method("hybrid") is Method.HYBRID and Method.HYBRID == "hybrid"
    assert ImageFormat("webp") is ImageFormat.WEBP


def test_make_energy_names():
    from semantic_compress import make_energy

    for name in ("gradient", "saliency", "deep", "blend"):
        assert make_energy(name).describe()["name"] == name
    assert make_energy("hybrid").describe()["name"] == "blend"  # the former name, an alias
    with pytest.raises(ValueError, match="energy must be one of 'gradient', 'saliency', 'deep', "
                                         "'blend' \\(or 'hybrid', an alias of 'blend'\\)"):
        make_energy("sobel")


# ------------------------------------------------------------- API reference signatures
def _defaults(func):
    return {name: p.default for name, p in inspect.signature(func).parameters.items()
            if name != "self"}


def test_semantic_compressor_signature_matches_the_readme():
    from semantic_compress import SemanticCompressor

    init = _defaults(SemanticCompressor.__init__)
    assert init["energy_function"] is None and init["quality_metric"] == "perceptual"
    compress = _defaults(SemanticCompressor.compress)
    assert list(compress)[:9] == ["image", "target_bytes", "target_pixels", "max_dimension",
                                  "scale", "method", "preserve_aspect", "show_progress",
                                  "target_width"]
    assert {k: compress[k] for k in ("target_bytes", "target_pixels", "max_dimension", "scale",
                                     "method", "preserve_aspect", "show_progress",
                                     "target_width", "target_height")} == {
        "target_bytes": None, "target_pixels": None, "max_dimension": None, "scale": None,
        "method": "hybrid", "preserve_aspect": True, "show_progress": True,
        "target_width": None, "target_height": None}


def test_seam_carver_signature_matches_the_readme():
    from semantic_compress import SeamCarver

    init = _defaults(SeamCarver.__init__)
    assert list(init)[:3] == ["energy_function", "keep_mask", "remove_mask"]
    assert all(init[k] is None for k in ("energy_function", "keep_mask", "remove_mask"))
    resize = _defaults(SeamCarver.resize)
    assert list(resize) == ["image", "target_height", "target_width", "scale_height",
                            "scale_width"]


# ------------------------------------------------------------- README: Quick Start
def test_quick_start_with_vgg16_names_the_missing_weights(photos_dir, offline_hub):
    from semantic_compress import DeepEnergyFunction, SemanticCompressor, WeightsNotFoundError

    compressor = SemanticCompressor(energy_function=DeepEnergyFunction(model_name="vgg16"))
    with pytest.raises(WeightsNotFoundError) as info:   # (a thumbnail: the map is needed)
        compressor.compress("photo.jpg", target_width=90, target_height=90, method="hybrid")
    message = str(info.value)
    assert "vgg16-397923af.pth" in message and str(offline_hub) in message
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert not Path("compressed.jpg").exists()


def test_quick_start_with_the_default_deep_energy(photos_dir, capsys):
    from semantic_compress import DeepEnergyFunction, SemanticCompressor

    compressor = SemanticCompressor(energy_function=DeepEnergyFunction())
    result = compressor.compress("photo.jpg", scale=0.5, method="hybrid")
    result.save("compressed.jpg")
    print(f"Compression ratio: {result.compression_ratio:.1%}")

    assert decode(Path("compressed.jpg").read_bytes()).size == (90, 60)
    assert Path("compressed.jpg").read_bytes() == result.data
    ratio = result.compressed_bytes / Path("photo.jpg").stat().st_size
    assert capsys.readouterr().out == f"Compression ratio: {ratio:.1%}\n"
    assert result.energy["model_name"] == "efficientnet_lite0"


# ------------------------------------------------------------- README: Energy Functions
def test_energy_function_examples(offline_hub):
    from semantic_compress import (
        DeepEnergyFunction,
        GradientEnergyFunction,
        HybridEnergyFunction,
        SaliencyEnergyFunction,
    )

    pixels = photo("chelsea", 160)
    energy_fn = GradientEnergyFunction()
    maps = [energy_fn(pixels)]
    for model in ("vgg16", "vgg19", "resnet18", "resnet50", "efficientnet_b0"):
        for aggregate in ("sum", "max", "weighted"):
            deep = DeepEnergyFunction(model_name=model, aggregate_method=aggregate)
            assert deep.describe()["model_name"] == model
            assert deep.describe()["aggregate_method"] == aggregate
    maps.append(SaliencyEnergyFunction(method="spectral")(pixels))
    maps.append(SaliencyEnergyFunction(method="fine_grained")(pixels))
    energy_fn = HybridEnergyFunction(
        energies=[
            GradientEnergyFunction(),
            DeepEnergyFunction(),
            SaliencyEnergyFunction(),
        ],
        weights=[0.3, 0.5, 0.2],
        adaptive_weights=False,  # Set True to auto-adjust per image
    )
    maps.append(energy_fn(pixels))
    for energy in maps:
        assert energy.shape == pixels.shape[:2] and energy.dtype == np.float32
        assert np.isfinite(energy).all() and energy.min() >= 0 and energy.max() > 0
    with pytest.raises(ValueError, match="model_name must be one of"):
        DeepEnergyFunction(model_name="vgg99")


@pytest.mark.parametrize("model", ["vgg16", "vgg19", "resnet18", "resnet50", "efficientnet_b0"])
def test_torchvision_backbones_without_weights_say_where_to_put_them(offline_hub, model):
    from semantic_compress import DeepEnergyFunction, WeightsNotFoundError

    spec = backbones.get_backbone_spec(model)
    with pytest.raises(WeightsNotFoundError, match=spec.weights_file_name):
        DeepEnergyFunction(model_name=model)(photo("coffee", 64))


# ------------------------------------------------------------- README: Compression Methods
def test_compression_method_examples(photos_dir):
    from semantic_compress import GradientEnergyFunction, SemanticCompressor

    compressor = SemanticCompressor(energy_function=GradientEnergyFunction())
    result = compressor.compress("image.jpg", scale=0.7, method="seam_carving")
    assert result.size == (126, 84) and result.seams == {"vertical": 54, "horizontal": 36}

    result = compressor.compress("image.jpg", target_pixels=1000000, method="smart_crop")
    assert result.size == (180, 120)  # already under ~1 MP: a cap never enlarges
    big = np.asarray(Image.fromarray(photo("coffee")).resize((1500, 1000)))
    Path("big.jpg").write_bytes(encode(big, "JPEG"))
    result = compressor.compress("big.jpg", target_pixels=1000000, method="smart_crop")
    w, h = result.size
    assert w * h <= 1_000_000 and (w, h) == (1224, 816)
    # the best window of the target's aspect at the largest scale, then scaled (as libvips
    # thumbnail(crop=...)): with the aspect kept, that window is the whole frame (no crop)
    assert result.crop_box is None and result.stretch == 1.0
    square = compressor.compress("big.jpg", target_width=500, target_height=500,
                                 method="smart_crop")
    left, top, right, bottom = square.crop_box
    assert (right - left, bottom - top) == (1000, 1000) and square.size == (500, 500)

    result = compressor.compress("image.jpg", scale=0.5, method="hybrid")
    assert result.size == (90, 60)


# ------------------------------------------------------------- README: Examples 1-3
def test_example_1_one_liner(photos_dir):
    from semantic_compress import compress_image

    result = compress_image(
        "family_photo.jpg",
        scale=0.6,
        method="hybrid",
    )
    result.save("family_compressed.jpg")
    assert decode(Path("family_compressed.jpg").read_bytes()).size == (96, 96)


def test_example_2_batch_processing(photos_dir):
    from semantic_compress import DeepEnergyFunction, SemanticCompressor

    compressor = SemanticCompressor(energy_function=DeepEnergyFunction())

    images = list(Path("photos/").glob("*.jpg"))
    results = compressor.compress_batch(
        images,
        scale=0.5,
        method="hybrid",
    )

    for img_path, result in zip(images, results):
        result.save(f"compressed/{img_path.name}")

    assert len(images) == 3
    for img_path in images:
        original = decode(img_path.read_bytes()).size
        out = decode(Path("compressed", img_path.name).read_bytes()).size
        assert out == (round(original[0] / 2), round(original[1] / 2))


def test_example_3_content_analysis(photos_dir, capsys):
    from semantic_compress import DeepEnergyFunction, SemanticCompressor

    compressor = SemanticCompressor(energy_function=DeepEnergyFunction())
    stats = compressor.analyze_content("image.jpg")

    print(f"High importance region: {stats['high_importance_ratio']:.1%}")
    print(f"Mean energy: {stats['mean_energy']:.3f}")

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("High importance region: ") and out[0].endswith("%")
    assert out[1].startswith("Mean energy: 0.")
    for key in ("mean_energy", "std_energy", "p05", "p25", "p50", "p75", "p95"):
        assert 0.0 <= stats[key] <= 1.0, key


# ------------------------------------------------------------- README: SeamCarver
def test_seam_carver_low_level_interface():
    from semantic_compress import GradientEnergyFunction, SeamCarver, remove_object

    image = photo("chelsea", 120)  # 120 x 80
    carver = SeamCarver(
        energy_function=GradientEnergyFunction(),
        keep_mask=None,
        remove_mask=None,
    )
    resized = carver.resize(image, target_height=60, target_width=100)
    assert isinstance(resized, np.ndarray) and resized.shape == (60, 100, 3)
    assert carver.resize(image, scale_height=0.5, scale_width=0.75).shape == (40, 90, 3)
    assert carver.resize(image, target_width=150).shape == (80, 150, 3)  # insertion enlarges

    pixels = np.array(image)
    pixels[20:40, 50:65] = (255, 0, 255)
    mask = np.zeros((80, 120), bool)
    mask[20:40, 50:65] = True
    restored = remove_object(pixels, mask, energy_function=GradientEnergyFunction())
    assert restored.shape == (80, 120, 3)
    magenta = (restored[..., 0] > 200) & (restored[..., 1] < 60) & (restored[..., 2] > 200)
    assert magenta.sum() == 0
