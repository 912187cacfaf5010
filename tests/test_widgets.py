"""SaliencyViewer, Python side: trait contents, buffers, validation, repr."""

from __future__ import annotations

import io
import pathlib
import re

import numpy as np
import pytest
import traitlets
from PIL import Image

from xwidgets.saliency.result import Saliency
from xwidgets.widgets import COLORMAPS, BundleMissingError, SaliencyViewer
from xwidgets.widgets import base as widget_base
from xwidgets.widgets.serialise import array_payload, float16_safe, image_payload, png_bytes

ROOT = pathlib.Path(__file__).resolve().parents[1]
LABELS = ["cat", "dog", "car", "tree"]
STATE_TRAITS = ["classes", "colormap", "image", "maps", "method", "opacity", "selected", "title"]


def make_saliency(*, images=2, rows_per_image=3, size=(24, 32), scale=1.0, targets=None, seed=0) -> Saliency:
    """Rows interleaved across images (row r explains image r % images), classes in order."""
    rng = np.random.default_rng(seed)
    h, w = size
    b = images * rows_per_image
    probs = rng.random((images, len(LABELS))).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    return Saliency(
        maps=rng.random((b, h, w)).astype(np.float32) * scale,
        images=rng.integers(0, 256, (images, h, w, 3), dtype=np.uint8),
        image_index=np.arange(b) % images,
        targets=np.array(targets if targets is not None else [(r // images) % len(LABELS) for r in range(b)]),
        probabilities=probs,
        labels=LABELS,
        method="gradcam",
        elapsed=0.25,
        layer="features.7",
    )


# --------------------------------------------------------------------------- traits
def test_traits_hold_the_image_the_maps_and_the_classes():
    sal = make_saliency()
    v = SaliencyViewer(sal, image=1)
    rows = sal.rows_for_image(1)
    assert list(rows) == [1, 3, 5]

    # image: PNG of the display image, lossless
    assert v.image["width"] == 32 and v.image["height"] == 24
    assert isinstance(v.image["png"], bytes) and v.image["png"][:8] == b"\x89PNG\r\n\x1a\n"
    decoded = np.asarray(Image.open(io.BytesIO(v.image["png"])).convert("RGB"))
    np.testing.assert_array_equal(decoded, sal.images[1])

    # maps: all of the image's rows, float16 little-endian bytes, shape [K, H, W]
    assert v.maps["dtype"] == "float16" and v.maps_dtype == "float16"
    assert v.maps["shape"] == [3, 24, 32]
    assert isinstance(v.maps["data"], bytes) and len(v.maps["data"]) == 3 * 24 * 32 * 2
    sent = np.frombuffer(v.maps["data"], dtype="<f2").reshape(3, 24, 32)
    np.testing.assert_array_equal(sent, sal.maps[rows].astype(np.float16))

    # classes, in row order
    assert [c["index"] for c in v.classes] == [0, 1, 2]
    assert [c["label"] for c in v.classes] == ["cat", "dog", "car"]
    for c in v.classes:
        assert c["probability"] == pytest.approx(float(sal.probabilities[1, c["index"]]))
        assert isinstance(c["probability"], float)

    assert (v.selected, v.opacity, v.colormap) == (0, 0.5, "viridis")
    top = int(sal.probabilities[1].argmax())
    assert v.title == f"Image 1: predicted {LABELS[top]} ({sal.probabilities[1, top] * 100:.1f}%)"
    assert v.method == "gradcam \u00b7 layer features.7 \u00b7 250 ms for 6 maps"
    assert v.image_number == 1


def test_no_json_lists_of_floats_in_the_state():
    v = SaliencyViewer(make_saliency())
    state = v.report_state()
    assert sorted(state) == STATE_TRAITS
    for key, payload in (("image", v.image), ("maps", v.maps)):
        for value in payload.values():
            assert not (isinstance(value, list) and value and isinstance(value[0], float)), key


def test_the_esm_is_the_built_bundle():
    v = SaliencyViewer(make_saliency())
    assert v._esm == (ROOT / "xwidgets" / "static" / "saliency_viewer.js").read_text(encoding="utf-8")
    assert "_esm" not in v.report_state()
    assert v.report_module == "saliency_viewer"


def test_options_are_passed_through():
    v = SaliencyViewer(make_saliency(), image=0, opacity=0.8, colormap="cividis", selected=2, title="Mine")
    assert (v.opacity, v.colormap, v.selected, v.title) == (0.8, "cividis", 2, "Mine")
    assert v.selected_class == (2, 2, "car", pytest.approx(float(v.classes[2]["probability"])))
    assert v.selected_class.label == "car" and v.selected_class.index == 2


def test_callable_target_has_no_probability():
    sal = make_saliency(images=1, rows_per_image=2, targets=[-1, 3])
    v = SaliencyViewer(sal)
    assert v.classes[0] == {"index": -1, "label": "custom target", "probability": None}
    assert v.classes[1]["label"] == "tree"


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_maps_that_float16_cannot_carry_go_as_float32(scale):
    sal = make_saliency(scale=scale)
    v = SaliencyViewer(sal)
    assert v.maps["dtype"] == "float32" and v.maps_dtype == "float32"
    assert len(v.maps["data"]) == 3 * 24 * 32 * 4
    sent = np.frombuffer(v.maps["data"], dtype="<f4").reshape(v.maps["shape"])
    np.testing.assert_array_equal(sent, sal.maps[sal.rows_for_image(0)])


def test_float32_on_request():
    v = SaliencyViewer(make_saliency(), maps_dtype="float32")
    assert v.maps["dtype"] == "float32" and len(v.maps["data"]) == 3 * 24 * 32 * 4


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"image": 2}, r"image: expected an int image number in \[0, 2\); got 2"),
        ({"image": -1}, r"image: expected an int image number in \[0, 2\); got -1"),
        ({"image": 1.0}, r"image: expected an int image number in \[0, 2\); got 1\.0"),
        ({"image": True}, r"image: expected an int image number"),
        ({"colormap": "jet"}, r"colormap: expected one of 'viridis', .*'gray'; got 'jet'"),
        ({"colormap": None}, r"colormap: expected one of .*; got None"),
        ({"opacity": 1.5}, r"opacity: expected a number in \[0, 1\]; got 1\.5"),
        ({"opacity": -0.1}, r"opacity: expected a number in \[0, 1\]; got -0\.1"),
        ({"opacity": float("nan")}, r"opacity: expected a number in \[0, 1\]; got nan"),
        ({"opacity": "0.5"}, r"opacity: expected a number in \[0, 1\]; got '0\.5'"),
        ({"selected": 3}, r"selected: expected an int class position in \[0, 3\); got 3"),
        ({"maps_dtype": "float64"}, r"maps_dtype: expected one of 'float16', 'float32'; got 'float64'"),
        ({"title": 3}, r"title: expected a str or None; got 3"),
    ],
)
def test_bad_arguments_name_the_argument_the_expectation_and_the_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        SaliencyViewer(make_saliency(), **kwargs)


def test_bad_saliency():
    with pytest.raises(ValueError, match=r"saliency: expected a Saliency result .*; got ndarray of shape \(3, 4\)"):
        SaliencyViewer(np.zeros((3, 4)))


def test_image_without_rows():
    sal = make_saliency(images=2, rows_per_image=1)
    sal.image_index[:] = 0  # both rows explain image 0; image 1 has none
    with pytest.raises(ValueError, match=r"image: expected an image with at least one map; got 1\. Image 1 has no rows"):
        SaliencyViewer(sal, image=1)


@pytest.mark.parametrize(
    ("state", "pattern"),
    [
        ({"selected": 3}, r"selected: expected a class position in \[0, 3\); got 3"),
        ({"selected": -1}, r"selected: expected a class position in \[0, 3\); got -1"),
        ({"opacity": 1.01}, r"opacity: expected a number in \[0, 1\]; got 1\.01"),
        ({"opacity": float("inf")}, r"opacity: expected a number in \[0, 1\]; got inf"),
        ({"colormap": "rainbow"}, r"colormap: expected one of .*; got 'rainbow'"),
    ],
)
def test_out_of_range_state_from_the_front_end_raises_a_trait_error(state, pattern):
    v = SaliencyViewer(make_saliency())
    with pytest.raises(traitlets.TraitError, match=pattern):
        v.set_state(state)  # what ipywidgets calls with a front-end update
    assert (v.selected, v.opacity, v.colormap) == (0, 0.5, "viridis")


def test_valid_state_from_the_front_end_is_accepted():
    v = SaliencyViewer(make_saliency())
    v.set_state({"selected": 2, "opacity": 1, "colormap": "magma"})
    assert (v.selected, v.opacity, v.colormap) == (2, 1.0, "magma")
    assert v.selected_class.label == "car"


def test_missing_bundle_says_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setattr(widget_base, "STATIC_DIR", tmp_path)
    with pytest.raises(BundleMissingError, match=r"saliency_viewer\.js is missing.*npm run build"):
        SaliencyViewer(make_saliency())


# --------------------------------------------------------------------------- repr
def test_repr_is_deterministic_and_has_no_address():
    a = SaliencyViewer(make_saliency(), image=1, selected=1)
    b = SaliencyViewer(make_saliency(), image=1, selected=1)
    assert repr(a) == repr(b)
    assert not re.search(r"0x[0-9a-f]+", repr(a))
    assert repr(a) == (
        "SaliencyViewer(method='gradcam', image=1, classes=['cat', 'dog', 'car'], "
        "selected=1, colormap='viridis', opacity=0.5)"
    )
    data, _ = a._repr_mimebundle_()
    assert data["text/plain"] == repr(a)


def test_repr_shortens_long_class_lists():
    sal = make_saliency(images=1, rows_per_image=8, targets=[0, 1, 2, 3, 0, 1, 2, 3])
    assert "classes=['cat', 'dog', 'car', 'tree', 'cat', '... 3 more']" in repr(SaliencyViewer(sal))


# --------------------------------------------------------------------------- serialisers and front end
def test_colormaps_match_the_front_end():
    source = (ROOT / "js" / "lib" / "colormaps.ts").read_text(encoding="utf-8")
    names = re.search(r"COLORMAP_NAMES = \[([^\]]*)\]", source).group(1)
    assert tuple(re.findall(r'"([a-z]+)"', names)) == COLORMAPS
    assert COLORMAPS[0] == "viridis"


def test_array_payload():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    p = array_payload(a, "float32")
    assert p["shape"] == [2, 3] and p["dtype"] == "float32"
    assert p["data"] == a.astype("<f4").tobytes()
    assert array_payload(np.asfortranarray(a), "uint8")["data"] == bytes(range(6))
    with pytest.raises(ValueError, match=r"array: expected values in \[0, 255\] to send as uint8"):
        array_payload(a * 100, "uint8")
    with pytest.raises(ValueError, match=r"dtype: expected one of"):
        array_payload(a, "int64")


def test_float16_safe():
    assert float16_safe(np.array([0.0, 0.5, 1.0]))
    assert float16_safe(np.zeros(3))
    assert float16_safe(np.array([np.nan]))
    assert not float16_safe(np.array([1e-5, 2e-6]))
    assert not float16_safe(np.array([1.0, 7e4]))


def test_image_payload_validates():
    with pytest.raises(ValueError, match=r"image: expected an \(H, W, 3\) RGB image; got ndarray of shape \(4, 4\)"):
        image_payload(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"image: expected dtype uint8; got ndarray of shape \(2, 2, 3\) and dtype float32"):
        png_bytes(np.zeros((2, 2, 3), np.float32))
