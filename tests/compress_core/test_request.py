"""The one home of the options (compress_core/request.py): validation, canonical parameters,
and the agreement of the table, compress()'s signature and the code that offers options."""
import ast
import dataclasses
import inspect
import os

import numpy as np
import pytest

from compress_core import SemanticCompressor, codec
from compress_core.energy import registry
from compress_core.options import EnergyMode, ImageFormat, Method
from compress_core.quality import QualityMetric
from compress_core.request import OPTIONS, CompressRequest, option

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_table_and_the_request_have_the_same_options_in_the_same_order():
    assert [f.name for f in dataclasses.fields(CompressRequest)] == [o.name for o in OPTIONS]


def test_compress_takes_every_compress_option_and_nothing_else():
    params = inspect.signature(SemanticCompressor.compress).parameters
    runtime = {"self", "image", "show_progress"}  # what to compress, and a progress bar
    assert set(params) - runtime == {o.name for o in OPTIONS if o.scope == "compress"}
    for opt in OPTIONS:
        if opt.scope == "compress":  # compress()'s default means the request's default
            base = {"target_bytes": 1000} if opt.name == "scale" else {"scale": 0.5}
            given = {opt.name: params[opt.name].default}
            assert CompressRequest(**base, **given) == CompressRequest(**base), opt.name


def test_engine_options_are_the_compressor_s():
    request = CompressRequest(scale=0.5, energy="gradient", energy_mode="forward",
                              quality_metric="psnr", max_pixels=10**6)
    compressor = SemanticCompressor.from_request(request)
    assert compressor.energy_function.describe()["name"] == "gradient"
    assert (compressor.energy_mode, compressor.quality_metric, compressor.max_pixels) == \
        (EnergyMode.FORWARD, QualityMetric.PSNR, 10**6)


@pytest.mark.parametrize("name, enum_values", [
    ("method", [m.value for m in Method]), ("format", [m.value for m in ImageFormat] + list(ImageFormat.aliases())),
    ("energy", [m.value for m in registry.EnergyName] + list(registry.EnergyName.aliases())),
    ("energy_mode", [m.value for m in EnergyMode]),
    ("quality_metric", [m.value for m in QualityMetric]),
    ("model", list(registry.BACKBONE_NAMES)),
])
def test_choices_come_from_the_enums(name, enum_values):
    assert list(option(name).choices()) == enum_values


def _literal_lists(path):
    """Tuples, lists and sets of two or more string constants in a Python file."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            yield node.lineno, {e.value for e in node.elts}


def test_no_literal_list_of_option_values_outside_their_definition():
    """Methods, formats, energies and models are listed where they are defined, only."""
    vocabularies = {
        "methods": {m.value for m in Method}, "formats": {m.value for m in ImageFormat},
        "energies": {m.value for m in registry.EnergyName},
        "models": set(registry.BACKBONE_NAMES),
    }
    defining = {os.path.join("compress_core", "options.py"),
                os.path.join("compress_core", "energy", "registry.py")}
    found = []
    for package in ("compress_core", "transforms", "pipeline"):
        for folder, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, REPO)
                if not name.endswith(".py") or rel in defining:
                    continue
                for line, values in _literal_lists(path):
                    for what, vocabulary in vocabularies.items():
                        if len(values & vocabulary) >= 2:
                            found.append(f"{rel}:{line} lists {what} {sorted(values)}")
    assert not found, "\n".join(found)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs, error, message", [
    (dict(method="crop"), ValueError, "method must be one of 'seam_carving', 'smart_crop'"),
    (dict(method=3), TypeError, "method must be a string"),
    (dict(energy="sobel"), ValueError, "energy must be one of 'gradient', 'saliency'"),
    (dict(model="alexnet"), ValueError, "model must be one of 'efficientnet_lite0', 'vgg16'"),
    (dict(energy_mode="sideways"), ValueError, "energy_mode must be one of 'backward'"),
    (dict(quality_metric="ssim2"), ValueError, "quality_metric must be one of 'perceptual'"),
    (dict(photo_format="png"), ValueError, "photo_format must be one of 'jpeg', 'webp'"),
    # an unknown name listed every format, 'auto' and 'png' too
    (dict(format="bmp"), ValueError, r"^format must be one of 'auto', 'jpeg', 'webp', 'png', "
                                     r"'avif', 'jxl' \(or 'jpg', an alias of 'jpeg'\); got 'bmp'$"),
    (dict(photo_format="bmp"), ValueError, "^photo_format must be one of 'jpeg', 'webp', "
                                           "'avif', 'jxl'; got 'bmp'$"),
    (dict(photo_format=3), TypeError, "^photo_format must be a string, one of 'jpeg', 'webp', "
                                      "'avif', 'jxl'; got 3$"),
    (dict(format="gif"), ValueError, "format must be one of 'auto', 'jpeg'"),
    (dict(format="jpeg", quality=101), ValueError, r"quality must be an integer in 1\.\.100 for jpeg"),
    (dict(quality=0), ValueError, r"quality must be an integer in the output format's range"),
    (dict(quality="best"), ValueError, r"quality must be an integer in the output format's "
                                       r"range \(.*\) or 'auto'; got 'best'"),
    (dict(quality="auto", target_bytes=1000), ValueError, "quality='auto' aims at target_quality "
                                                          "and does not combine with target_bytes"),
    (dict(max_stretch=0.5), ValueError, "max_stretch must be a finite number >= 1; got 0.5"),
    (dict(max_stretch=float("nan")), ValueError, "max_stretch must be a finite number >= 1"),
    (dict(max_stretch="1.1"), TypeError, "max_stretch must be a finite number >= 1"),
    (dict(target_quality=-1), ValueError, r"target_quality must be a number in 0\.\.100"),
    (dict(max_seconds=0), ValueError, "max_seconds must be a positive finite number"),
    (dict(max_pixels=0), ValueError, "max_pixels must be a positive integer"),
    (dict(preserve_aspect="no"), TypeError, "preserve_aspect must be True or False"),
    (dict(remove_mask=np.ones((2, 2), bool)), ValueError, "remove_mask needs method='seam_carving'"),
    # options the rest of the request would silently ignore
    (dict(format="png", quality=85), ValueError,
     "format='png' is lossless and takes no quality; got quality=85"),
    (dict(format="png", quality="auto"), ValueError, "format='png' is lossless"),
    (dict(quality=85, target_quality=80), ValueError,
     r"target_quality=80 is aimed at by quality='auto' only, and quality=85 fixes it"),
    (dict(target_bytes=1000, target_quality=80), ValueError,
     r"target_quality=80 .* a byte budget \(target_bytes\) chooses the quality"),
    (dict(format="png", target_quality=90), ValueError, r"target_quality=90 is aimed at by "
     r"quality='auto' only, and format='png' is lossless; drop it, or pick a lossy format"),
    (dict(quality=85, target_quality=70), ValueError,  # the default's value, given: refused too
     r"target_quality=70 is aimed at by quality='auto' only, and quality=85 fixes it"),
    (dict(format="webp", photo_format="avif"), ValueError,
     "photo_format='avif' chooses the photos' format of format='auto' only; format='webp'"),
    (dict(allocation="smart"), ValueError, "allocation must be one of 'uniform', 'semantic'"),
    (dict(allocation="semantic", format="webp"), ValueError,
     r"allocation='semantic' needs JPEG output \(format 'jpeg', or 'auto' with photo_format "
     r"'jpeg'\); got format='webp'"),
    (dict(allocation="semantic", format="png"), ValueError, "needs JPEG output"),
    (dict(allocation="semantic", photo_format="avif"), ValueError,
     "format='auto' writes photos as photo_format='avif' \\(give 'jpeg'\\)"),
])
def test_bad_values_name_the_parameter_and_the_accepted_values(kwargs, error, message):
    with pytest.raises(error, match=message):
        CompressRequest(scale=0.5, **kwargs)


def test_numbers_and_names_are_taken_as_the_other_surfaces_take_them():
    """Options review 48: a request alone refused model='RESNET18' (make_energy, the command
    line and the job take it as 'resnet18') and a max_stretch given as a Decimal or a
    Fraction (scale, target_quality and max_seconds take them)."""
    from decimal import Decimal
    from fractions import Fraction

    assert CompressRequest(scale=0.5, model="RESNET18").model == "resnet18"
    assert CompressRequest(scale=0.5, model=" efficientnet-lite0").model == "efficientnet_lite0"
    for stretch in (Decimal("1.2"), Fraction(6, 5), np.float32(1.2)):
        request = CompressRequest(target_width=300, target_height=200, max_stretch=stretch)
        assert request.max_stretch == pytest.approx(1.2) and type(request.max_stretch) is float
    for bad, error in ((np.bool_(True), TypeError), (Decimal("NaN"), ValueError),
                       (Fraction(1, 2), ValueError)):
        with pytest.raises(error, match="max_stretch must be a finite number >= 1"):
            CompressRequest(target_width=300, target_height=200, max_stretch=bad)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(quality=85), dict(target_bytes=4000), dict(format="png"),
    dict(quality="auto", target_quality=80), dict(method="jpeg", format="jxl"),
    dict(method="jpeg", quality=60), dict(target_bytes=4000, format="webp"),
    dict(allocation="semantic"), dict(method="jpeg", allocation="semantic", format="jpeg")])
def test_a_copy_made_field_by_field_is_the_same_valid_request(kwargs):
    """dataclasses.replace and asdict copy the stored target_quality; it is None wherever no
    search aims at it, so the copy is not refused as a target given with a fixed quality, a
    budget or a lossless output."""
    if kwargs.get("method") != "jpeg":
        kwargs = dict(scale=0.5, **kwargs)
    request = CompressRequest(**kwargs)
    assert CompressRequest(**dataclasses.asdict(request)) == request
    copy = dataclasses.replace(request, max_seconds=9.0)
    assert copy.params_hash() == request.params_hash()
    assert request.replace(max_seconds=9.0) == copy


def test_options_that_apply_are_accepted_together():
    # the default target is no request of the user's: nothing aims at it without a search
    assert CompressRequest(scale=0.5, quality=85).target_quality is None
    assert CompressRequest(scale=0.5).target_quality == 70.0  # quality="auto" by default
    assert CompressRequest(scale=0.5, quality=85).replace(quality="auto", target_quality=80) \
        .target_quality == 80.0
    # a default request changed to a fixed quality: its target was never given
    default = CompressRequest(scale=0.5)
    assert default.replace(quality=85).quality == 85
    assert default.replace(target_quality=70) == default  # explicit 70 is the same output
    assert default.replace(target_quality=70).params_hash() == default.params_hash()
    with pytest.raises(ValueError, match="target_quality=70 is aimed at"):
        default.replace(target_quality=70).replace(quality=85)
    assert CompressRequest(scale=0.5, target_bytes=4000).quality is None
    assert CompressRequest(scale=0.5, format="png").replace(format="webp").quality == "auto"
    assert CompressRequest(scale=0.5, photo_format="avif").photo_format == "avif"
    # archive mode: the score of inputs that are no JPEG file (bytes review 23: a PNG was
    # refused, the message speaking of keeping a JPEG file)
    archive = CompressRequest(method="jpeg", format="jxl", target_quality=80)
    assert archive.archive_mode and (archive.quality, archive.target_quality) == (None, 80.0)
    archive_to_score = CompressRequest(method="jpeg", format="jxl", quality="auto",
                                       target_quality=80)  # what the message offers
    assert (archive_to_score.quality, archive_to_score.target_quality) == ("auto", 80.0)


def test_allocation_names_only_the_outputs_it_changes():
    """allocation='semantic' is in the parameters (and the job's output names); the default is
    not, so outputs written before the option existed keep their names."""
    default = CompressRequest(scale=0.5)
    assert "allocation" not in default.params()
    assert CompressRequest(scale=0.5, allocation="uniform").params_hash() == default.params_hash()
    semantic = CompressRequest(scale=0.5, allocation="Semantic")
    assert semantic.allocation == "semantic" and semantic.params()["allocation"] == "semantic"
    assert semantic.params_hash() != default.params_hash()
    assert CompressRequest(method="jpeg", allocation="semantic").allocation == "semantic"
    assert CompressRequest(target_bytes=4000, allocation="semantic").quality is None


def test_metadata_names_only_the_outputs_it_changes_and_is_refused_where_ignored():
    """metadata='compact' (the default) is not in the parameters, so outputs written before the
    option existed keep their names; 'keep' and 'none' are. Archive mode keeps each JPEG file
    bit-exact: metadata='none' there would be ignored, so it is refused."""
    default = CompressRequest(scale=0.5)
    assert default.metadata == "compact" and "metadata" not in default.params()
    assert CompressRequest(scale=0.5, metadata="COMPACT").params_hash() == default.params_hash()
    for mode in ("keep", "none", "public"):
        request = CompressRequest(scale=0.5, metadata=mode)
        assert request.params()["metadata"] == mode
        assert request.params_hash() != default.params_hash()
    with pytest.raises(ValueError,
                       match="metadata must be one of 'compact', 'public', 'keep', 'none'"):
        CompressRequest(scale=0.5, metadata="strip")
    for mode in ("none", "public"):   # (a bit-exact JPEG keeps its position)
        with pytest.raises(ValueError, match=f"metadata='{mode}' cannot apply to archive mode"):
            CompressRequest(method="jpeg", format="jxl", metadata=mode)
    assert CompressRequest(method="jpeg", format="jxl", metadata="keep").metadata == "keep"
    assert CompressRequest(method="jpeg", format="jxl", quality="auto",
                           metadata="none").metadata == "none"
    # a byte budget encodes the pixels (no archive mode): nothing there to keep bit-exact
    assert CompressRequest(method="jpeg", format="jxl", target_bytes=20_000,
                           metadata="none").metadata == "none"
    assert CompressRequest(method="jpeg", format="jxl").archive_mode
    assert not any(CompressRequest(method="jpeg", format="jxl", **kw).archive_mode
                   for kw in ({"quality": 80}, {"quality": "auto"}, {"target_bytes": 20_000}))
    assert not CompressRequest(format="jxl", scale=0.5).archive_mode


def test_max_stretch_and_keep_mask_are_refused_where_nothing_uses_them():
    """Review 12, O11: max_stretch with smart_crop / seam_carving / jpeg, and keep_mask with
    method='jpeg' and uniform allocation, were accepted and ignored."""
    for method, why in (("smart_crop", "crops to the target's aspect"),
                        ("seam_carving", r"removes seams until the size is met \(the stretch "
                                         r"it records is not limited\)")):
        with pytest.raises(ValueError, match=rf"max_stretch=1.2 limits the hybrid method only; "
                                             rf"method='{method}' {why}"):
            CompressRequest(scale=0.5, method=method, max_stretch=1.2)
        assert CompressRequest(scale=0.5, method=method).max_stretch is None
    with pytest.raises(ValueError, match="max_stretch=1 limits the hybrid method only"):
        CompressRequest(method="jpeg", max_stretch=1.0)
    hybrid = CompressRequest(scale=0.5)
    assert hybrid.max_stretch == 1.05  # the default, filled where it is used
    assert hybrid.replace(method="smart_crop").max_stretch is None  # not given: not carried
    with pytest.raises(ValueError, match="max_stretch=1.2 limits the hybrid method only"):
        CompressRequest(scale=0.5, max_stretch=1.2).replace(method="smart_crop")
    mask = np.ones((4, 4), bool)
    with pytest.raises(ValueError, match="method='jpeg' with allocation='uniform' uses neither"):
        CompressRequest(method="jpeg", keep_mask=mask)
    assert CompressRequest(method="jpeg", keep_mask=mask, allocation="semantic").keep_mask is mask
    assert CompressRequest(scale=0.5, method="smart_crop", keep_mask=mask).keep_mask is mask


def test_engine_options_a_request_does_not_use_are_named():
    """Review 13, O6: quality_metric matters to byte budgets only, energy_mode to seams only;
    given elsewhere they changed nothing but the output names. The command line and the job
    refuse them (a compressor serves many calls, so compress() takes them as they are)."""
    assert CompressRequest(scale=0.5).unused_engine_options() == ()
    psnr = CompressRequest(scale=0.5, quality_metric="psnr").unused_engine_options()
    assert psnr == ("quality_metric='psnr' compares the candidates of a byte budget "
                    "(target_bytes), and there is none",)
    assert CompressRequest(target_bytes=4000, quality_metric="psnr").unused_engine_options() == ()
    assert CompressRequest(target_bytes=4000, max_dimension=300,
                           quality_metric="psnr").unused_engine_options() == ()
    # options review 48: a budget with a size asked for (or method jpeg, or PNG) tries one size,
    # so the metric compared nothing (same bytes under a new output name, no quality_score)
    for kw in (dict(scale=0.5), dict(target_width=300, target_height=200),
               dict(target_width=300), dict(target_height=200),   # (one side: review 51)
               dict(method="jpeg"), dict(format="png")):
        (why,) = CompressRequest(target_bytes=15000, quality_metric="ssim",
                                 **kw).unused_engine_options()
        assert why.startswith("quality_metric='ssim' compares the pixel sizes a byte budget "
                              "tries, and "), kw
    # options review 48: preserve_aspect=False where no target leaves the shape free (a
    # width and a height, a largest side, a byte budget alone) changed nothing but the names
    for kw, used in ((dict(target_width=300, target_height=300), False),
                     (dict(max_dimension=400), False), (dict(target_bytes=9000), False),
                     (dict(scale=1.0), False), (dict(target_width=300), True),
                     (dict(scale=0.5), True), (dict(target_pixels=90_000), True)):
        unused = CompressRequest(preserve_aspect=False, **kw).unused_engine_options()
        assert (unused == ()) == used, kw
        assert used or unused[0].startswith("preserve_aspect=False frees the shape"), kw
    for method, used in (("smart_crop", False), ("seam_carving", True), ("hybrid", True)):
        forward = CompressRequest(scale=0.5, method=method, energy_mode="forward")
        assert (forward.unused_engine_options() == ()) == used, method
    assert CompressRequest(method="jpeg", energy_mode="forward").unused_engine_options() == (
        "energy_mode='forward' is the seams' cost, and method='jpeg' carves none",)
    # method='jpeg' re-encodes: no importance map, unless allocation='semantic' spreads by one
    assert CompressRequest(method="jpeg", energy="gradient").unused_engine_options() == (
        "energy='gradient' makes the importance map, and method='jpeg' with "
        "allocation='uniform' reads none",)
    assert CompressRequest(method="jpeg", model="resnet18").unused_engine_options() == (
        "energy='deep', model='resnet18' makes the importance map, and method='jpeg' with "
        "allocation='uniform' reads none",)
    assert CompressRequest(method="jpeg", energy="gradient",
                           allocation="semantic").unused_engine_options() == ()
    # a model where the energy runs no CNN: dropped from the request, named here (review 18)
    gradient = CompressRequest(scale=0.5, energy="gradient", model="vgg16")
    assert gradient.model is None and gradient.unused_engine_options() == (
        "model='vgg16' is the CNN of the deep energies, and energy='gradient' runs none",)
    assert CompressRequest(scale=0.5, energy="gradient").unused_engine_options() == ()
    assert CompressRequest(scale=0.5, model="vgg16").unused_engine_options() == ()
    assert CompressRequest(scale=0.5).replace(energy="gradient").unused_engine_options() == ()
    # the default backbone given is given too (docs review 34: `-e gradient --model
    # efficientnet_lite0` ran where `--model resnet18` was refused); filled in, it is not
    default = CompressRequest(scale=0.5, energy="saliency", model="efficientnet_lite0")
    assert default.model is None and default.unused_engine_options() == (
        "model='efficientnet_lite0' is the CNN of the deep energies, and energy='saliency' "
        "runs none",)
    assert CompressRequest(scale=0.5, model="vgg16").replace(
        energy="gradient").unused_engine_options() == (
        "model='vgg16' is the CNN of the deep energies, and energy='gradient' runs none",)
    assert CompressRequest(scale=0.5).compress_kwargs().get("model", "absent") == "absent"


def test_options_an_analysis_does_not_use_are_named():
    """Review 18: --analyze --energy-mode forward (or --quality-metric psnr, or --model vgg16
    with the gradient energy) ran and ignored the flag."""
    analysis = dict(method="jpeg")
    assert CompressRequest(**analysis).unused_by_analysis() == ()
    forward = CompressRequest(**analysis, energy_mode="forward")
    assert forward.unused_by_analysis() == (
        "does not use energy_mode='forward' (the seams' cost: --visualize-seams)",)
    assert forward.unused_by_analysis(seams=True) == ()
    assert CompressRequest(**analysis, quality_metric="psnr").unused_by_analysis(seams=True) == (
        "does not use quality_metric='psnr' (it compares the candidates of a byte budget)",)
    assert CompressRequest(**analysis, energy="saliency", model="vgg16").unused_by_analysis() == (
        "does not use model='vgg16' (energy='saliency' runs no CNN)",)
    assert CompressRequest(**analysis, energy="deep", model="vgg16").unused_by_analysis() == ()


def test_photo_format_with_method_jpeg_is_taken():
    """method='jpeg' with format='auto' decides by content as the other methods do (review
    20), so photo_format names its photos' format there too (it was refused: auto was JPEG)."""
    assert CompressRequest(method="jpeg", photo_format="webp").photo_format == "webp"
    assert CompressRequest(method="jpeg", format="webp").format == "webp"


def test_targets_rules():
    with pytest.raises(ValueError, match="give at least one target"):
        CompressRequest()
    with pytest.raises(ValueError, match="method='jpeg' re-encodes without resizing"):
        CompressRequest(method="jpeg", max_dimension=100)
    assert CompressRequest(method="jpeg").scale is None
    assert CompressRequest(target_bytes=1000).target_bytes == 1000


def test_values_are_normalised():
    r = CompressRequest(scale=1, method="Seam-Carving", format="JPEG", quality=np.int64(90),
                        energy="GRADIENT", model="resnet50", target_width=100.0,
                        preserve_aspect=np.bool_(False))
    assert (r.scale, r.method, r.format, r.quality, r.energy, r.model, r.target_width,
            r.preserve_aspect) == (1.0, "seam_carving", "jpeg", 90, "gradient", None, 100, False)
    assert type(r.quality) is int and type(r.preserve_aspect) is bool
    assert CompressRequest(scale=0.5).model == registry.DEFAULT_BACKBONE
    assert CompressRequest(scale=0.5, format="jpeg").quality_range == (1, 100)
    assert CompressRequest(scale=0.5, format="png").quality_range is None
    jpg = CompressRequest(scale=0.5, format="jpg"), CompressRequest(scale=0.5, photo_format="JPG")
    assert (jpg[0].format, jpg[1].photo_format) == ("jpeg", "jpeg")  # the files' suffix
    assert jpg[0].params_hash() == CompressRequest(scale=0.5, format="jpeg").params_hash()


def test_none_is_the_default_of_every_option():
    defaults = {f.name: f.default for f in dataclasses.fields(CompressRequest)
                if f.default is not None}
    assert {"method", "preserve_aspect", "format", "photo_format", "allocation",
            "metadata"} <= set(defaults)
    request = CompressRequest(scale=0.5, **dict.fromkeys(defaults))
    assert request == CompressRequest(scale=0.5)
    assert request.params_hash() == CompressRequest(scale=0.5).params_hash()


def test_jpeg_accepts_the_quality_the_encoder_accepts():
    """Issue 12 item 8: one range table (codec.QUALITY_RANGE) for the request and the encoder."""
    for fmt, (lo, hi, _) in codec.QUALITY_RANGE.items():
        assert CompressRequest(scale=0.5, format=fmt.value, quality=hi).quality == hi
        codec.check_quality(fmt, hi)
    assert codec.QUALITY_RANGE[ImageFormat.JPEG][1] == 100


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CompressRequest(scale=0.5).scale = 0.6


# ------------------------------------------------------------------ canonical parameters
def test_params_leave_out_per_run_values_and_unused_new_options():
    r = CompressRequest(scale=0.5, energy="gradient", max_seconds=3, method="seam_carving",
                        quality=85)
    assert r.max_stretch is None
    assert set(r.params()) == {
        "scale", "target_width", "target_height", "target_pixels", "max_dimension",
        "target_bytes", "preserve_aspect", "method", "energy", "model", "energy_mode",
        "format", "quality", "quality_metric", "max_pixels"}
    assert set(r.replace(quality=None).params()) == set(r.params()) | {"target_quality"}
    hybrid = CompressRequest(scale=0.5, max_stretch=1.2, quality=90).params()
    assert hybrid["max_stretch"] == 1.2 and "target_quality" not in hybrid
    auto = CompressRequest(scale=0.5, quality="AUTO", target_quality=80).params()
    assert (auto["quality"], auto["target_quality"]) == ("auto", 80.0)


def test_output_name_hash_is_the_one_of_earlier_releases():
    """Names of earlier runs stay valid where the settings mean what they meant: these are
    tags the job gave before the request existed (transforms.compress.CompressSettings of commit
    36ab18c). A request without a quality is renamed on purpose since quality "auto" became the
    default (it was the fixed default quality): its outputs differ."""
    assert CompressRequest(method="smart_crop", target_bytes=5000, energy="deep",
                           format="webp", quality=70).params_hash() == "8988a8efe4"
    default = CompressRequest(method="seam_carving", scale=0.5, energy="gradient")
    assert default.params_hash() != "f886e05d85"  # the tag of the fixed default quality
    assert (default.params()["quality"], default.params()["target_quality"]) == ("auto", 70.0)
    hybrid = CompressRequest(scale=0.5)
    assert hybrid.params_hash() != hybrid.replace(max_stretch=1.2).params_hash()
    assert hybrid.params_hash() == hybrid.replace(max_seconds=5).params_hash()


def test_a_hash_length_is_1_to_64_hex_digits():
    """-3 gave 61 digits, 0 none and 'a' a TypeError of slicing (edge review 37)."""
    request = CompressRequest(scale=0.5)
    assert len(request.params_hash(64)) == 64 and request.params_hash(1) == request.params_hash()[0]
    for bad, error in ((-3, ValueError), (0, ValueError), (65, ValueError), ("a", TypeError)):
        with pytest.raises(error, match="length must be"):
            request.params_hash(bad)


def test_the_default_quality_is_auto_where_the_quality_is_free():
    """quality=None means "auto" (the smallest encoding at target_quality) unless the quality
    is chosen otherwise: a byte budget searches it, PNG has none, and re-encoding to JPEG XL
    without a quality is the archive mode of JPEG inputs."""
    assert CompressRequest(scale=0.5).quality == "auto"
    assert CompressRequest(scale=0.5, quality=None, format="webp").quality == "auto"
    assert CompressRequest(method="jpeg").quality == "auto"
    assert CompressRequest(scale=0.5, quality=85).quality == 85
    assert CompressRequest(scale=0.5, target_bytes=5000).quality is None
    assert CompressRequest(scale=0.5, format="png").quality is None
    assert CompressRequest(method="jpeg", format="jxl").quality is None
    # JPEG XL is archive mode only with method jpeg: resized to JPEG XL, the quality is free
    # (a mutation that kept it None for every JPEG XL output survived: review 51)
    for method in ("hybrid", "seam_carving", "smart_crop"):
        assert CompressRequest(scale=0.5, method=method, format="jxl").quality == "auto", method
    assert CompressRequest(method="jpeg", format="jxl", quality=80).quality == 80


@pytest.mark.parametrize("options, maps", [
    (dict(scale=0.5), False), (dict(max_dimension=256), False), (dict(target_pixels=9000), False),
    (dict(target_width=200), False), (dict(target_bytes=50_000), False),
    (dict(target_width=200, target_height=200), True),
    (dict(scale=0.5, allocation="semantic", format="jpeg"), True),
    (dict(scale=0.5, method="smart_crop"), False), (dict(method="jpeg"), False),
    (dict(target_width=200, target_height=200, method="smart_crop"), True),
    (dict(max_dimension=300, preserve_aspect=False), False),
    (dict(scale=1.5, preserve_aspect=False), False),
    (dict(scale=1.5, max_dimension=300, preserve_aspect=False), True),   # (a free shape: it
    # had said no, and the job's first picture loaded the CNN inside its time budget)
    (dict(scale=0.5, preserve_aspect=False), True),
    (dict(target_pixels=9000, preserve_aspect=False), True),
    (dict(target_width=200, preserve_aspect=False), True)])
def test_computes_maps_says_whether_any_picture_may_need_its_map(options, maps):
    """What the batch job loads its CNN by: the hybrid method's targets that keep every
    picture's aspect scale the whole picture and compute no map (session 29); a free shape,
    a width and height, one side without preserve_aspect, another method, or a semantic
    allocation do. Checked against what compress() does on three photos of other aspects."""
    from compress_core.energy import GradientEnergyFunction

    assert CompressRequest(**options).computes_maps is maps
    calls = []

    class Counting(GradientEnergyFunction):
        def importance(self, pixels):
            calls.append(pixels.shape)
            return super().importance(pixels)

    compressor = SemanticCompressor(Counting())
    for shape in ((240, 360, 3), (300, 300, 3), (400, 250, 3)):
        pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        compressor.compress(pixels, show_progress=False, **options)
    assert bool(calls) == maps, calls


@pytest.mark.parametrize("options, said", [
    (dict(scale=0.5, energy="gradient"), "energy='gradient' changes"),
    (dict(max_dimension=256, model="resnet50", energy_mode="forward"),
     "model='resnet50', energy_mode='forward' change"),
    (dict(target_width=200, max_stretch=1.3), "max_stretch=1.3 changes"),
    (dict(scale=0.5, method="smart_crop", energy="gradient"), "energy='gradient' changes"),
    (dict(scale=0.5), None), (dict(scale=0.5, max_stretch=1.05), None),
    (dict(target_width=200, target_height=200, energy="gradient"), None),
    (dict(scale=0.5, energy="gradient", method="seam_carving"), None),
    (dict(scale=0.5, energy="gradient", allocation="semantic", format="jpeg"), None),
    (dict(scale=0.5, energy="gradient", preserve_aspect=False), None)])
def test_options_without_a_map_names_what_targets_that_keep_the_aspect_ignore(options, said):
    """Where computes_maps is false (the hybrid method's aspect-keeping targets) the options
    that shape only the map or the stretch are named, for the command line's and the job's
    warning (new user's review 30); wherever a map is computed, nothing is."""
    request = CompressRequest(**options)
    messages = request.options_without_a_map()
    if said is None:
        assert messages == ()
    else:
        (message,) = messages
        assert message.startswith(said) and "no importance map is computed" in message
        assert not request.computes_maps


def test_missing_package_names_the_option_and_the_package(monkeypatch):
    """One answer for the command line and the job (each spells it in its flags): the output
    format's encoder (``format``, or ``photo_format`` under ``auto``), then jpeglib for
    ``allocation="semantic"``; None where everything it needs is installed."""
    from compress_core.codec import coefficients, formats

    assert CompressRequest(scale=0.5, allocation="semantic").missing_package() is None
    assert CompressRequest(scale=0.5, format="jxl").missing_package() is None
    monkeypatch.setattr(formats, "installed", lambda module: module not in ("jpeglib",
                                                                            "pillow_jxl"))
    monkeypatch.setattr(coefficients, "installed", formats.installed)
    option, reason = CompressRequest(scale=0.5, format="jxl").missing_package()
    assert option == "format" and reason.startswith("format 'jxl' cannot be written: it needs "
                                                    "the package pillow-jxl-plugin: pip install")
    option, reason = CompressRequest(scale=0.5, photo_format="jxl").missing_package()
    assert option == "photo_format" and "pillow-jxl-plugin" in reason
    assert CompressRequest(scale=0.5, format="jpeg").missing_package() is None
    assert CompressRequest(scale=0.5, format="jpeg", allocation="semantic").missing_package() == (
        "allocation", "rewriting JPEG coefficients needs the package jpeglib: "
                      "pip install jpeglib==1.0.2")


def test_output_extensions_are_every_suffix_the_request_can_write():
    """The command line's check that no output replaces another input and the job's search
    for an earlier output read one list (they were kept apart and had drifted: the job's
    missed the formats auto falls back to)."""
    assert CompressRequest(scale=0.5, format="png").output_extensions() == (".png",)
    assert CompressRequest(scale=0.5, format="jxl").output_extensions() == (".jxl",)
    # archive mode keeps a JPEG as it is where JPEG XL would not make it smaller
    assert CompressRequest(format="jxl", method="jpeg").output_extensions() == (".jxl", ".jpg")
    assert CompressRequest(format="jxl", method="jpeg", quality=80).output_extensions() == (
        ".jxl",)
    assert CompressRequest(scale=0.5).output_extensions()[:3] == (".jpg", ".png", ".webp")
    assert CompressRequest(scale=0.5, photo_format="webp").output_extensions()[:2] == (
        ".webp", ".png")
    for photo in ("jpeg", "webp", "avif", "jxl"):
        found = CompressRequest(scale=0.5, photo_format=photo).output_extensions()
        assert sorted(found) == [".avif", ".jpg", ".jxl", ".png", ".webp"], found


def test_auto_writes_a_photo_too_wide_for_jpeg_in_a_suffix_the_request_lists():
    """A photo wider than JPEG's 65,500 pixels is written as JPEG XL under format auto."""
    pytest.importorskip("pillow_jxl")   # (the "encoders" extra)
    from skimage import data

    photo = np.ascontiguousarray(np.tile(data.astronaut()[200:216], (1, 128, 1))[:, :65501])
    request = CompressRequest(scale=1.0)
    result = SemanticCompressor().compress(photo, **request.compress_kwargs())
    assert codec.extension(result.format) in request.output_extensions()
    assert result.format == "JXL" and request.output_extensions()[0] == ".jpg"
