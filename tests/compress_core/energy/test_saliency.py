"""Saliency energies against OpenCV contrib's reference implementations (test-only dependency)."""
import numpy as np
import pytest

from compress_core.energy import SaliencyEnergyFunction
from compress_core.energy.saliency import fine_grained, spectral_residual

from ._photos import BACKGROUNDS, contrast, photo

cv2 = pytest.importorskip("cv2")
if not hasattr(cv2, "saliency"):  # pragma: no cover - plain opencv without contrib
    pytest.skip("opencv-contrib (cv2.saliency) is not installed", allow_module_level=True)

FOUR_PHOTOS = ["astronaut", "coffee", "chelsea", "rocket"]
ALL_PHOTOS = FOUR_PHOTOS + ["china", "flower"]


def pearson(a, b) -> float:
    return float(np.corrcoef(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))[0, 1])


def opencv(kind: str, rgb: np.ndarray) -> np.ndarray:
    algo = (cv2.saliency.StaticSaliencySpectralResidual_create() if kind == "spectral"
            else cv2.saliency.StaticSaliencyFineGrained_create())
    ok, result = algo.computeSaliency(np.ascontiguousarray(rgb[..., ::-1]))  # OpenCV wants BGR
    assert ok
    return result


@pytest.mark.parametrize("name", FOUR_PHOTOS)
def test_spectral_residual_matches_opencv(name):
    rgb = photo(name)
    assert pearson(spectral_residual(rgb), opencv("spectral", rgb)) >= 0.9


@pytest.mark.parametrize("name", ALL_PHOTOS)
def test_spectral_residual_equals_opencv_given_the_same_reduction(name):
    """The only documented difference is the 64 x 64 reduction (area vs. 2 x 2 bilinear taps).

    Handing OpenCV an image already area-reduced to 64 x 64 removes it: what is left (DFT,
    residual, phase, blur, normalisation, upsampling) agrees almost exactly.
    """
    rgb = photo(name)
    small = cv2.resize(np.ascontiguousarray(rgb[..., ::-1]), (64, 64), interpolation=cv2.INTER_AREA)
    algo = cv2.saliency.StaticSaliencySpectralResidual_create()
    ok, ref = algo.computeSaliency(small)
    ref = cv2.resize(ref, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    assert pearson(spectral_residual(rgb), ref) >= 0.98


@pytest.mark.parametrize("name", FOUR_PHOTOS)
def test_fine_grained_matches_opencv(name):
    rgb = photo(name)
    assert pearson(fine_grained(rgb), opencv("fine_grained", rgb)) >= 0.99


@pytest.mark.parametrize("method", ["spectral", "fine_grained"])
def test_output_contract(method):
    fn = SaliencyEnergyFunction(method)
    for name in ("coffee", "rocket"):
        energy = fn(photo(name))
        assert energy.dtype == np.float32 and energy.shape == photo(name).shape[:2]
        assert np.isfinite(energy).all() and energy.min() >= 0 and energy.max() <= 1.0
        assert energy.max() > 0.9


@pytest.mark.parametrize("method", ["spectral", "fine_grained"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1, 50), (50, 1), (3, 700)])
def test_tiny_images(method, shape):
    rng = np.random.default_rng(0)
    energy = SaliencyEnergyFunction(method)((rng.random(shape + (3,)) * 255).astype(np.uint8))
    assert energy.shape == shape and np.isfinite(energy).all() and energy.min() >= 0


@pytest.mark.parametrize("method", ["spectral", "fine_grained"])
def test_flat_image_has_no_saliency(method):
    energy = SaliencyEnergyFunction(method)(np.full((40, 60, 3), 128, np.uint8))
    assert np.isfinite(energy).all()
    assert energy.max() <= 1e-3 or energy.std() < 1e-3


def test_spectral_salience_of_a_lone_object():
    """A small bright square on a flat field is the most salient place."""
    image = np.full((200, 300, 3), 90, np.uint8)
    image[80:110, 200:230] = 230
    energy = SaliencyEnergyFunction("spectral")(image)
    y, x = np.unravel_index(np.argmax(energy), energy.shape)
    assert 70 <= y <= 120 and 190 <= x <= 240


def test_spectral_favours_subjects_on_smooth_backgrounds():
    for name, _, box, kind in BACKGROUNDS:
        if kind == "smooth" and name != "chelsea":  # the cat fills the frame
            energy = SaliencyEnergyFunction("spectral")(photo(name))
            assert contrast(energy, name, box) >= 2.0


def test_params_and_validation():
    assert SaliencyEnergyFunction().describe() == {"name": "saliency", "method": "spectral"}
    assert SaliencyEnergyFunction("Fine-Grained").method.value == "fine_grained"
    with pytest.raises(ValueError, match="method") as info:
        SaliencyEnergyFunction("itti")
    assert "'spectral'" in str(info.value) and "'fine_grained'" in str(info.value)
