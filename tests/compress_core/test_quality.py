"""Quality metrics: SSIM and PSNR against scikit-image, and the score used for byte targets."""
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from compress_core.quality import QualityMetric, psnr, score, ssim

from _core_data import decode, encode, photo


def _luma(pixels):
    return pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def chelsea():
    return photo("chelsea", 150)


@pytest.fixture(scope="module")
def jpeg_versions(chelsea):
    return {q: np.asarray(decode(encode(chelsea, "JPEG", quality=q))) for q in (5, 20, 50, 90)}


def test_identical_images_score_perfectly(chelsea):
    assert ssim(chelsea, chelsea) == pytest.approx(1.0)
    assert psnr(chelsea, chelsea) == float("inf")
    assert score(chelsea, chelsea) == pytest.approx(100.0, abs=1e-3)  # SSIMULACRA2
    assert score(chelsea, chelsea, "ssim") == pytest.approx(1.0)
    assert score(chelsea, chelsea, "psnr") == float("inf")


def test_ssim_matches_scikit_image(chelsea, jpeg_versions):
    """Same definition as skimage's Gaussian-window SSIM on the luma (borders differ a little:
    skimage averages the map without its 5-px border, we average all of it)."""
    for q, version in jpeg_versions.items():
        ours = ssim(chelsea, version)
        reference = structural_similarity(
            _luma(chelsea), _luma(version), gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=255)
        assert ours == pytest.approx(reference, abs=0.005), q


def test_psnr_matches_scikit_image(chelsea, jpeg_versions):
    for version in jpeg_versions.values():
        assert psnr(chelsea, version) == pytest.approx(
            peak_signal_noise_ratio(chelsea, version, data_range=255), rel=1e-12)


def test_scores_rise_with_encoder_quality(chelsea, jpeg_versions):
    for metric in ("perceptual", "ssim", "psnr"):
        values = [score(jpeg_versions[q], chelsea, metric) for q in (5, 20, 50, 90)]
        assert values == sorted(values) and values[0] < values[-1], metric


def test_psnr_ignores_alpha():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    a = np.dstack([rgb, np.zeros((20, 30), np.uint8)])
    b = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])
    assert psnr(a, b) == float("inf")
    assert ssim(a, b) == pytest.approx(1.0)


def test_score_resamples_a_smaller_candidate(chelsea):
    small = np.asarray(Image.fromarray(chelsea).resize((75, 50), Image.Resampling.LANCZOS))
    tiny = np.asarray(Image.fromarray(chelsea).resize((15, 10), Image.Resampling.LANCZOS))
    s_small, s_tiny = score(small, chelsea, "ssim"), score(tiny, chelsea, "ssim")
    assert 0.3 < s_tiny < s_small < 1.0
    rgba = np.dstack([small, np.full(small.shape[:2], 255, np.uint8)])
    assert score(rgba, chelsea, "ssim") == pytest.approx(s_small, abs=1e-6)
    p_small, p_tiny = score(small, chelsea), score(tiny, chelsea)
    assert p_tiny < p_small < 100.0
    assert score(rgba, chelsea) == pytest.approx(p_small, abs=1e-6)


def test_noise_lowers_ssim_monotonically(chelsea):
    rng = np.random.default_rng(1)
    values = []
    for sigma in (0, 5, 15, 40):
        noisy = np.clip(chelsea + rng.normal(0, sigma, chelsea.shape), 0, 255).astype(np.uint8)
        values.append(ssim(chelsea, noisy))
    assert values == sorted(values, reverse=True)
    assert values[-1] < 0.6


def test_metric_names():
    assert {m.value for m in QualityMetric} == {"perceptual", "ssim", "psnr"}
    assert QualityMetric("psnr") is QualityMetric.PSNR


def test_unknown_metric_lists_the_accepted_ones(chelsea):
    with pytest.raises(ValueError, match=r"quality_metric must be one of 'perceptual', 'ssim', "
                                         r"'psnr'"):
        score(chelsea, chelsea, "lpips")


@pytest.mark.parametrize("bad", [np.zeros((10, 12, 3), np.float64), np.zeros((10, 12), np.uint8),
                                 np.zeros((10, 12, 0), np.uint8), np.zeros((0, 12, 3), np.uint8)])
def test_score_takes_uint8_images_only(chelsea, bad):
    """A float image in [0, 1] used to be scored as a near-black uint8 one."""
    with pytest.raises(ValueError, match="candidate must be a non-empty uint8 array"):
        score(bad, chelsea)
    with pytest.raises(ValueError, match="reference must be a non-empty uint8 array"):
        score(chelsea, bad)


def test_a_large_picture_is_scored_on_tiles_centred_in_its_quadrants():
    """Pictures over a megapixel are scored on four tiles, one centred in each quadrant (with
    the tiles in the corners, kodim23 at 2x scored 58.95 instead of 60.93; mutation review
    37); up to a megapixel on the whole picture."""
    from compress_core.quality import _TILED_ABOVE, _tiles

    for height, width in ((1024, 1536), (1100, 1000), (3000, 4000), (2000, 700)):
        tiles = _tiles(height, width)
        assert len(tiles) == 4
        centres = sorted(((l + r) / 2, (t + b) / 2) for l, t, r, b in tiles)
        wanted = sorted((cx, cy) for cx in (width / 4, 3 * width / 4)
                        for cy in (height / 4, 3 * height / 4))
        for (x, y), (cx, cy) in zip(centres, wanted):
            assert abs(x - cx) <= 1 and abs(y - cy) <= 1, (height, width, tiles)
        for l, t, r, b in tiles:
            assert 0 <= l < r <= width and 0 <= t < b <= height
            assert (r - l, b - t) == (min(384, width // 2), min(384, height // 2))
    assert _TILED_ABOVE == 1024 * 1024
