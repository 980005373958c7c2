"""compress_core/pixels.py: the arrays and PIL images a caller passes, as the library takes them
(dtypes and ranges through load_image are in test_images.py, beside the files' decoding)."""
import io

import numpy as np
import pytest
from PIL import Image

from compress_core import UnsupportedImageError, load_image
from compress_core.pixels import as_pixel_array, as_rgb_array, image_list, to_pil

from _core_data import encode, photo


@pytest.fixture(scope="module")
def chelsea():
    return photo("chelsea", 90)  # 90 x 60


@pytest.fixture(scope="module")
def chelsea_png(chelsea):
    return encode(chelsea, "PNG")


def test_gray_arrays_stay_gray_in_as_pixel_array(chelsea):
    gray = chelsea[..., 1]
    assert as_pixel_array(gray).shape == (60, 90, 1)
    np.testing.assert_array_equal(as_pixel_array(gray)[..., 0], gray)
    np.testing.assert_array_equal(as_pixel_array(Image.fromarray(gray))[..., 0], gray)
    assert as_pixel_array(Image.fromarray(chelsea)).shape == (60, 90, 3)


@pytest.mark.parametrize("array", [np.zeros((4, 5, 0), np.uint8), np.zeros((4, 0), np.uint8),
                                   np.zeros((4, 5, 2), np.float32), np.zeros((), np.uint8),
                                   np.array([[object()]])])
def test_zero_channel_empty_and_odd_arrays(array):
    with pytest.raises(UnsupportedImageError):
        as_rgb_array(array)


def test_as_pixel_array_takes_the_frame_a_pil_image_stands_at(chelsea):
    """A caller walking an animation's frames gets each frame, and the image stays where it
    was (each call went back to the first frame, 43x slower: diff review 37); load_image, a
    file's reader, takes the first frame."""
    frames = [Image.fromarray(chelsea), Image.fromarray(255 - chelsea),
              Image.fromarray(chelsea[::-1].copy())]
    for fmt in ("GIF", "WEBP", "PNG"):
        buf = io.BytesIO()
        frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], lossless=True)
        with Image.open(buf) as img:
            seen = []
            for index in range(3):
                img.seek(index)
                seen.append(as_pixel_array(img).astype(int))
                assert img.tell() == index, fmt
            assert np.abs(seen[1] - (255 - chelsea)).mean() < 8, fmt
            assert np.abs(seen[2] - chelsea[::-1]).mean() < 8, fmt
            img.seek(2)
            assert np.abs(load_image(img).pixels.astype(int) - chelsea).mean() < 8, fmt


def test_image_list_refuses_one_image(chelsea, chelsea_png, tmp_path):
    """What a batch takes: an iterable of images; one image, which iterating cuts into rows,
    characters or bytes, is a TypeError naming ``images`` and saying what to call."""
    for one in (chelsea, chelsea[..., 0], chelsea_png, str(tmp_path), tmp_path,
                Image.fromarray(chelsea), io.BytesIO(chelsea_png)):
        with pytest.raises(TypeError, match=r"images must be an iterable.*got one .*call f\(\)"):
            image_list(one, "f()")
    for nothing in (None, 5):
        with pytest.raises(TypeError, match="images must be an iterable"):
            image_list(nothing, "f()")
    assert len(image_list(np.stack([chelsea] * 3), "f()")) == 3
    assert len(image_list(iter([chelsea, chelsea_png]), "f()")) == 2


def test_as_rgb_array_and_to_pil(chelsea):
    rgba = np.dstack([chelsea, np.full((60, 90), 9, np.uint8)])
    assert as_rgb_array(rgba).shape == (60, 90, 4)
    np.testing.assert_array_equal(as_rgb_array(rgba, drop_alpha=True), chelsea)
    assert as_rgb_array(Image.fromarray(chelsea).convert("L")).shape == (60, 90, 3)
    with pytest.raises(TypeError):
        as_rgb_array("chelsea.png")
    assert to_pil(chelsea).mode == "RGB" and to_pil(rgba).mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(to_pil(rgba)), rgba)
