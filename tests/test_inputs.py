"""Input conversion at the boundary: accepted forms and clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from xwidgets.models import Preprocess
from xwidgets.models.inputs import prepare_images

PRE = Preprocess(size=(32, 32), resize=None)


def test_every_accepted_form_gives_the_same_inputs(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(pixels).save(path)
    forms = [pixels, Image.fromarray(pixels), str(path), path, [pixels], pixels[None], torch.from_numpy(pixels).permute(2, 0, 1)]
    results = [prepare_images(form, PRE, "cpu") for form in forms]
    for inputs, display in results:
        assert inputs.shape == (1, 3, 32, 32) and inputs.dtype == torch.float32
        np.testing.assert_array_equal(display[0], pixels)
        torch.testing.assert_close(inputs, results[0][0])
    # a preprocessed float tensor round-trips to the same display pixels
    inputs, display = prepare_images(results[0][0], PRE, "cpu")
    np.testing.assert_array_equal(display[0], pixels)


def test_resize_and_centre_crop():
    pre = Preprocess(size=(4, 8), resize=8)  # 16x32 -> 8x16 -> centre 4x8 (columns 4..12)
    image = np.zeros((16, 32, 3), np.uint8)
    image[:, 12:20] = 255  # a bright vertical band in the middle: columns 6..10 after resize
    _, display = prepare_images(image, pre, "cpu")
    assert display.shape == (1, 4, 8, 3)
    assert display[0, :, 3:5].min() > 200 and display[0, :, 0].max() < 60 and display[0, :, 7].max() < 60


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((8, 8), np.uint8), r"images\[0\]: expected an HxWx3 RGB array; got ndarray of shape \(8, 8\)"),
        (np.zeros((8, 8, 4), np.uint8), r"images\[0\].*RGB.*shape \(8, 8, 4\)"),
        (Image.new("L", (8, 8)), r"images\[0\]: expected an RGB image; got a PIL image in mode 'L'"),
        (Image.new("RGBA", (8, 8)), r"mode 'RGBA'.*convert\('RGB'\)"),
        (np.zeros((8, 8, 3), np.float32), r"images\[0\]: expected uint8 pixels"),
        ("/no/such/file.png", r"images\[0\]: expected an existing image file"),
        (torch.zeros(1, 3, 16, 16), r"images: expected spatial size \(32, 32\)"),
        (torch.full((3, 32, 32), float("nan")), "finite"),
        ([], "at least one image"),
        (3.5, "images: expected a PIL image"),
    ],
)
def test_bad_images_get_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        prepare_images(bad, PRE, "cpu")
