"""Encoding to a byte budget: quality search per candidate size, best candidate on the metric."""
import io
import re

import numpy as np
import pytest
from PIL import Image

from compress_core.budget import encode_to_budget
from compress_core.codec.encoders import stored_bytes
from compress_core.errors import TargetUnreachableError
from compress_core.options import ImageFormat
from compress_core.quality import QualityMetric

from _core_data import large_icc, photo, srgb_icc


@pytest.fixture(scope="module")
def coffee():
    return photo("coffee", 240, 160)


def test_a_loose_budget_stops_at_full_size_and_top_quality(coffee):
    data, quality, pixels, _ = encode_to_budget(coffee, ImageFormat.JPEG, 10**6, 85,
                                             QualityMetric.SSIM)
    assert quality == 85 and len(data) < 10**6
    assert pixels is coffee  # the retargeted image itself: no downscale tried
    assert Image.open(io.BytesIO(data)).size == (240, 160)


def test_a_budget_is_met_with_a_quality_below_the_top(coffee):
    full, _, _, _ = encode_to_budget(coffee, ImageFormat.JPEG, 10**6, 90, QualityMetric.SSIM)
    budget = len(full) // 2
    data, quality, _, _ = encode_to_budget(coffee, ImageFormat.JPEG, budget, 90, QualityMetric.SSIM)
    assert len(data) <= budget
    assert 1 <= quality < 90


def test_a_tight_budget_gets_fewer_pixels(coffee):
    data, quality, pixels, _ = encode_to_budget(coffee, ImageFormat.JPEG, 1200, None,
                                             QualityMetric.SSIM)
    assert len(data) <= 1200
    assert pixels.shape[1] < 240 and pixels.shape[0] < 160
    assert Image.open(io.BytesIO(data)).size == (pixels.shape[1], pixels.shape[0])


@pytest.mark.parametrize("fmt", [ImageFormat.JPEG, ImageFormat.WEBP])
def test_sizes_that_cannot_fit_are_skipped_with_the_same_result(fmt, monkeypatch):
    """A budget far under the full size's smallest encoding: the sizes whose predicted
    smallest encoding is far over it are skipped (a 50 KB budget for a 24-megapixel photo
    tried 8 such sizes, 28 s), and the result is what trying every size gives."""
    from compress_core import budget as module
    from compress_core.hybrid import resample

    big = photo("coffee", 960, 640)
    tried = []

    def counted(pixels, width, height):
        tried.append((width, height))
        return resample(pixels, width, height)

    monkeypatch.setattr(module, "resample", counted)
    args = (big, fmt, 2500, None, QualityMetric.SSIM)
    skipping = encode_to_budget(*args)
    skipped = list(tried)
    monkeypatch.setattr(module, "_SKIP_SHARE", 0.0)  # never skip: every size in turn
    tried.clear()
    every = encode_to_budget(*args)
    assert skipping[0] == every[0] and skipping[1] == every[1]
    np.testing.assert_array_equal(skipping[2], every[2])
    assert len(every[0]) <= 2500 and every[2].shape[1] < 400
    assert set(skipped) < set(tried) and len(skipped) <= len(tried) - 3, (skipped, tried)


def test_without_resizing_an_unreachable_budget_names_the_smallest_size(coffee):
    with pytest.raises(TargetUnreachableError, match=r"target_bytes=300 .*JPEG.*240x160"):
        encode_to_budget(coffee, ImageFormat.JPEG, 300, None, QualityMetric.SSIM,
                         allow_resize=False)


def test_metadata_goes_into_the_encoding(coffee):
    exif = Image.Exif()
    exif[0x010F] = "budget-test"
    data, _, _, _ = encode_to_budget(coffee, ImageFormat.JPEG, 8000, None, QualityMetric.SSIM,
                                  exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get(0x010F) == "budget-test"
    assert np.asarray(Image.open(io.BytesIO(data))).shape == (160, 240, 3)


def test_a_budget_shrinks_a_png_down_to_the_size_that_fits():
    """README: a PNG's size shrinks until its exact encoding fits. The search stopped at the
    first size of 8 px or less that missed (and at 0.85 to the 29th of the size): the
    astronaut under 200 bytes was refused as "280 bytes at the smallest", 7 x 7, where
    5 x 5 takes 182 (fuzz review 51). The error's smallest is the smallest there is."""
    astronaut = photo("astronaut", 512)
    data, quality, pixels, _ = encode_to_budget(astronaut, ImageFormat.PNG, 200, None,
                                                QualityMetric.PERCEPTUAL)
    size = Image.open(io.BytesIO(data)).size
    assert quality is None and len(data) <= 200 and 2 <= max(size) <= 7, (size, len(data))
    assert size == pixels.shape[1::-1]
    with pytest.raises(TargetUnreachableError) as caught:
        encode_to_budget(astronaut, ImageFormat.PNG, 60, None, QualityMetric.PERCEPTUAL)
    from compress_core import codec
    assert caught.value.smallest_bytes <= len(codec.encode(astronaut[:1, :1], ImageFormat.PNG))


def test_an_unreachable_budget_says_how_much_the_carried_metadata_weighs(coffee):
    """A 40 KB ICC profile goes into every candidate: a 30000-byte budget cannot be met at any
    size, and the message said only 'the smallest JPEG encoding found is 40.9 KB'."""
    icc = srgb_icc() + bytes(range(256)) * 156  # 40 KB: one APP2 segment
    with pytest.raises(TargetUnreachableError, match=r"target_bytes=30000 cannot be met: the "
                       r"smallest JPEG encoding found is \d+ bytes; every candidate carries "
                       rf"the input's metadata \({len(icc)} bytes; "
                       r"metadata='none' drops it\)"):
        encode_to_budget(coffee, ImageFormat.JPEG, 30000, None, QualityMetric.SSIM,
                         icc_profile=icc)


def test_a_pngs_carried_profile_is_counted_as_its_iccp_chunk_stores_it(coffee):
    """Edge review 42: a PNG stores its profile zlib-compressed, and counted whole the message
    said that every candidate carried more metadata than the smallest candidate held."""
    icc = srgb_icc() + bytes(256) * 156   # 43 KB, most of it compressible
    with pytest.raises(TargetUnreachableError) as caught:
        encode_to_budget(coffee, ImageFormat.PNG, 300, None, QualityMetric.SSIM,
                         icc_profile=icc)
    found = re.search(r"smallest PNG encoding found is (\d+) bytes; every candidate carries "
                      r"the input's metadata \((\d+) bytes", str(caught.value))
    smallest, carried = int(found.group(1)), int(found.group(2))
    assert carried < smallest and carried < len(icc) // 4
    assert carried == stored_bytes(ImageFormat.PNG, {"icc_profile": icc})
    tagged, plain = io.BytesIO(), io.BytesIO()
    Image.fromarray(coffee).save(tagged, "PNG", icc_profile=icc)
    Image.fromarray(coffee).save(plain, "PNG")
    assert abs(len(tagged.getvalue()) - len(plain.getvalue()) - carried) <= 8
    assert stored_bytes(ImageFormat.JPEG, {"icc_profile": icc}) == len(icc)
    assert stored_bytes(ImageFormat.JXL, {"icc_profile": icc}) == 0


@pytest.mark.parametrize("fmt, share", [(ImageFormat.JPEG, 14), (ImageFormat.WEBP, 7)])
def test_a_tight_budget_takes_the_best_scoring_size_past_the_third(fmt, share):
    """Review 21: the search over sizes stopped at the third size that fits, while the score
    still rose (Kodak photos at 15% of their default JPEG's bytes: the best size lay 3-6 steps
    below the first that fits). Now it goes on while the score rises and stops after two
    sizes in a row that score no better; the size written scores at least as well as each
    size down to two below it, checked here against every size that fits (the best of all
    on these two; JPEG's score at qualities 8-34 wobbles by 2 points from size to size, so
    elsewhere the search can stop at a local best)."""
    from compress_core import codec
    from compress_core.budget import _size_factors
    from compress_core.hybrid import resample
    from compress_core.quality import score

    big = photo("coffee", 480, 320)
    budget = len(codec.encode(big, fmt, codec.default_quality(fmt))) // share
    data, quality, pixels, value = encode_to_budget(big, fmt, budget, None,
                                                    QualityMetric.PERCEPTUAL)
    assert len(data) <= budget
    scores = {}
    for factor in _size_factors(480, 320):
        w, h = max(1, round(480 * factor)), max(1, round(320 * factor))
        try:
            fitted, _ = codec.fit_budget(resample(big, w, h) if factor < 1 else big, fmt, budget)
        except TargetUnreachableError:
            continue
        scores[w] = score(codec.decode_pixels(fitted), big, QualityMetric.PERCEPTUAL)
    fitting = sorted(scores, reverse=True)
    chosen = fitting.index(pixels.shape[1])
    assert chosen >= 3 and value == pytest.approx(scores[pixels.shape[1]])
    assert value >= max(scores.values()) - 1e-9, (chosen, scores)


def test_a_dip_of_two_sizes_does_not_end_the_search():
    """Bytes review 38: at the encoders' lowest qualities the score is not unimodal in the
    size, and two sizes in a row scoring no better ended the search: the astronaut at 256 px
    under 3,000 B as JPEG XL was written at its full size, quality 2 (score 11.8), where 134 px
    at quality 47 scores 26.9. Candidates under quality 20 count half (budget._DIP_QUALITY)."""
    big = photo("astronaut", 256)
    data, quality, pixels, value = encode_to_budget(big, ImageFormat.JXL, 3000, None,
                                                    QualityMetric.PERCEPTUAL)
    assert len(data) <= 3000 and pixels.shape[1] < 200 and value > 20, (pixels.shape, value)


def test_a_jpeg_xl_budget_with_a_large_profile_keeps_a_useful_size():
    """Review 21: a JPEG XL stores no profile (its pixels are converted to sRGB), but the size
    search counted a 48 KB profile as carried by every candidate: the predicted smallest size
    grew as the pixels shrank, every size was skipped down to 8 px, and a 384x256 photo that
    had to shrink to fit 4,000 bytes came out 8x5 (76 B) where about 300x200 fits."""
    from compress_core import codec

    pixels = photo("coffee", 384, 256)
    icc = large_icc(1.8, 48_000)
    converted = codec.encoders.jxl_srgb(pixels, icc)
    budget = len(codec.encode(converted, "jxl", 1)) * 2 // 3  # the full size cannot fit
    data, _, chosen, _ = encode_to_budget(pixels, ImageFormat.JXL, budget, None,
                                          QualityMetric.SSIM, icc_profile=icc)
    assert len(data) <= budget and chosen.shape[1] >= 100, chosen.shape  # (it was 8)
    # the same sizes are tried as for the picture already in sRGB (resampled before or after
    # the conversion: scores a few thousandths apart, so the best of them can differ)
    plain = encode_to_budget(converted, ImageFormat.JXL, budget, None, QualityMetric.SSIM)
    assert abs(chosen.shape[1] - plain[2].shape[1]) <= 0.3 * plain[2].shape[1]


def test_a_transparent_picture_as_jpeg_is_scored_over_white():
    """Review 22: a transparent picture under a JPEG budget was scored against itself, over a
    dark and a light ground, while its JPEG shows it over white: the astronaut with an alpha
    ramp recorded -69 where its JPEG scores 68 over white, and the wrong scores chose the
    size (227 px instead of 314 at 8,000 bytes)."""
    from compress_core.codec.encoders import flatten_for
    from compress_core.perceptual import ssimulacra2

    picture = photo("astronaut", 256, 256)
    ramp = np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1))
    rgba = np.dstack([picture, ramp])
    flat = flatten_for(rgba, "jpeg")
    budget = 2500  # under what the full size needs at the top quality: the size search runs
    data, _, chosen, reached = encode_to_budget(rgba, ImageFormat.JPEG, budget, None,
                                                QualityMetric.PERCEPTUAL)
    shown = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    if chosen.shape[:2] == (256, 256):
        assert abs(reached - ssimulacra2(flat, shown)) < 0.01
    assert reached > 20  # (it was below -60)
    same = encode_to_budget(flat, ImageFormat.JPEG, budget, None, QualityMetric.PERCEPTUAL)
    assert chosen.shape[:2] == same[2].shape[:2]
    assert abs(reached - same[3]) < 1.0


def test_a_wide_gamut_picture_is_scored_as_viewers_show_it():
    """Candidates carrying an Adobe RGB profile are scored through it, as a viewer shows them
    (their values read as sRGB scored 1-3.7 points high: colour review 26)."""
    from PIL import ImageCms

    from compress_core.codec import decode_pixels
    from compress_core.perceptual import ssimulacra2

    from _core_data import decode, sample_file

    adobe = decode(sample_file("rocket.jpg")).info["icc_profile"]
    srgb = ImageCms.createProfile("sRGB")

    def shown(pixels):
        return np.asarray(ImageCms.profileToProfile(
            Image.fromarray(pixels), ImageCms.ImageCmsProfile(io.BytesIO(adobe)), srgb,
            outputMode="RGB"))

    pixels = photo("rocket", 320, 214)
    data, _, _, score = encode_to_budget(pixels, ImageFormat.WEBP, 6000, 90,
                                         QualityMetric.PERCEPTUAL, icc_profile=adobe,
                                         allow_resize=False)
    assert score == pytest.approx(ssimulacra2(shown(pixels), shown(decode_pixels(data))),
                                  abs=0.3)


def test_the_smallest_sizes_are_not_each_resampled_from_the_whole_picture(monkeypatch):
    """A budget no size meets tries every size down to one pixel; each of those resampled
    the whole picture (0.14-0.41 s apiece at 24 MP: a JPEG budget no size fits took 7 s
    where it took 3.5 s before the search went below 8 px; diff review 51). Sizes of 64 px
    and less are made from one copy of 512 px."""
    import compress_core.budget as budget

    calls = []
    real = budget.resample

    def counted(pixels, width, height):
        calls.append((pixels.shape[1], width))
        return real(pixels, width, height)

    monkeypatch.setattr(budget, "resample", counted)
    big = np.asarray(Image.fromarray(photo("astronaut", 512)).resize((1024, 1024)))
    with pytest.raises(TargetUnreachableError):
        encode_to_budget(big, ImageFormat.JPEG, 60, None, QualityMetric.PERCEPTUAL)
    whole = [width for source, width in calls if source == 1024]
    assert whole and min(whole) > 64 and whole.count(512) == 1, calls
    from_copy = {width for source, width in calls if source == 512}
    assert 1 in from_copy and max(from_copy) <= 64, calls
