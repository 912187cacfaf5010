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
STATE_TRAITS = ["classes", "colormap", "image", "maps", "method", "method_index", "methods", "opacity", "scale", "selected", "title"]


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


# --------------------------------------------------------------------------- several methods
def other_method(sal: Saliency, method: str, *, targets=None, scale=1.0, signed=False, seed=5) -> Saliency:
    """A result for the same images as `sal`, as another method would give."""
    rng = np.random.default_rng(seed)
    maps = rng.random(sal.maps.shape).astype(np.float32) * scale
    if signed:
        maps = maps * 2 - scale
    return Saliency(
        maps=maps,
        images=sal.images.copy(),
        image_index=sal.image_index.copy(),
        targets=np.array(targets) if targets is not None else sal.targets.copy(),
        probabilities=sal.probabilities.copy(),
        labels=list(sal.labels),
        method=method,
        elapsed=1.5,
    )


def test_several_methods_send_every_map_once_in_one_buffer():
    a = make_saliency()
    b = other_method(a, "integrated_gradients", signed=True)
    v = SaliencyViewer([a, b], image=1)
    rows = a.rows_for_image(1)
    assert v.maps["shape"] == [6, 24, 32] and v.maps["dtype"] == "float16"
    sent = np.frombuffer(v.maps["data"], dtype="<f2").reshape(6, 24, 32)
    np.testing.assert_array_equal(sent[:3], a.maps[rows].astype(np.float16))
    np.testing.assert_array_equal(sent[3:], b.maps[rows].astype(np.float16))
    assert v.methods == [
        {"name": "gradcam", "detail": "gradcam \u00b7 layer features.7 \u00b7 250 ms for 6 maps", "start": 0, "count": 3},
        {"name": "integrated_gradients", "detail": "integrated_gradients \u00b7 1.50 s for 6 maps", "start": 3, "count": 3},
    ]
    assert [c["label"] for c in v.classes] == ["cat", "dog", "car"] * 2
    assert v.method == "gradcam, integrated_gradients"
    assert (v.method_index, v.selected, v.scale) == (0, 0, "auto")
    assert v.method_names == ["gradcam", "integrated_gradients"] and v.shown_method == "gradcam"


def test_a_dict_names_the_methods_and_each_method_has_its_own_classes():
    a = make_saliency(images=1, rows_per_image=3)  # cat, dog, car
    b = other_method(a, "integrated_gradients", targets=[1, 3, 0])  # dog, tree, cat
    v = SaliencyViewer({"Grad-CAM": a, "IG": b}, method_index=1, selected=1)
    assert [m["name"] for m in v.methods] == ["Grad-CAM", "IG"]
    assert v.methods[1]["detail"].startswith("IG: integrated_gradients")
    assert v.selected_class.label == "tree" and v.shown_method == "IG"
    assert repr(v) == (
        "SaliencyViewer(methods=['Grad-CAM', 'IG'], method_index=1, image=0, "
        "classes=['dog', 'tree', 'cat'], selected=1, colormap='viridis', opacity=0.5)"
    )


def test_switching_method_from_python_keeps_the_class():
    a = make_saliency(images=1, rows_per_image=3)  # cat, dog, car
    b = other_method(a, "ig", targets=[1, 3, 0])  # dog, tree, cat
    v = SaliencyViewer({"A": a, "B": b}, selected=1)  # dog
    v.method_index = 1
    assert (v.selected, v.selected_class.label) == (0, "dog")
    v.selected = 1  # tree, which A does not explain: back to A's first class
    v.method_index = 0
    assert (v.selected, v.selected_class.label) == (0, "cat")


def test_the_front_end_sends_method_and_class_together():
    a = make_saliency(images=1, rows_per_image=3)
    b = other_method(a, "ig", targets=[1, 3, 0])
    v = SaliencyViewer({"A": a, "B": b}, selected=2)  # car
    v.set_state({"method_index": 1, "selected": 2})  # what the method picker sends
    assert (v.method_index, v.selected, v.selected_class.label) == (1, 2, "cat")
    with pytest.raises(traitlets.TraitError, match=r"method_index: expected a method position in \[0, 2\); got 2"):
        v.set_state({"method_index": 2})
    with pytest.raises(traitlets.TraitError, match=r"selected: expected a class position of method 'B' in \[0, 3\); got 3"):
        v.set_state({"selected": 3})
    with pytest.raises(traitlets.TraitError, match=r"scale: expected one of 'auto', 'minmax', 'signed'; got 'log'"):
        v.set_state({"scale": "log"})
    v.set_state({"scale": "signed"})
    assert v.scale == "signed" and "scale='signed'" in repr(v)


def test_classes_of_different_lengths_per_method():
    a = make_saliency(images=1, rows_per_image=3)
    b = Saliency(
        maps=a.maps[:1] * 2, images=a.images, image_index=[0], targets=[0],
        probabilities=a.probabilities, labels=a.labels, method="ig",
    )
    v = SaliencyViewer([a, b], selected=2)
    assert [(m["start"], m["count"]) for m in v.methods] == [(0, 3), (3, 1)]
    v.method_index = 1  # car is not there: the only class
    assert v.selected == 0
    with pytest.raises(ValueError, match=r"selected: expected an int class position in \[0, 1\); got 2"):
        SaliencyViewer([a, b], selected=2, method_index=1)


def test_one_method_needing_float32_sends_all_as_float32():
    a = make_saliency()
    b = other_method(a, "saliency", scale=1e-6)
    assert SaliencyViewer([a, b]).maps["dtype"] == "float32"
    assert SaliencyViewer([a, other_method(a, "x")]).maps["dtype"] == "float16"


def test_repeated_method_names_are_told_apart():
    a = make_saliency()
    v = SaliencyViewer([a, other_method(a, "gradcam")])
    assert [m["name"] for m in v.methods] == ["gradcam", "gradcam (2)"]


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (lambda a: [], r"saliency: expected at least one Saliency result; got list of length 0"),
        (lambda a: {}, r"saliency: expected at least one Saliency result"),
        (lambda a: [a, "x"], r"saliency\[1\]: expected a Saliency result \(from xw\.explain\); got 'x'"),
        (lambda a: {"A": a, 3: a}, r"saliency keys: expected non-empty str method names; got 3"),
        (lambda a: {"A": a, "B": None}, r"saliency\['B'\]: expected a Saliency result"),
        (lambda a: "gradcam", r"saliency: expected a Saliency result \(from xw\.explain\), or a list or dict of them; got 'gradcam'"),
    ],
)
def test_bad_result_lists(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        SaliencyViewer(build(make_saliency()))


def test_results_for_other_images_are_refused_saying_which_differs():
    a = make_saliency()
    b = other_method(a, "integrated_gradients")
    b.images[1, 3, 4, 0] ^= 0x40
    with pytest.raises(
        ValueError,
        match=r"saliency\[1\] \('integrated_gradients'\): expected the same images as saliency\[0\] \('gradcam'\); "
        r"image 1 differs \(largest pixel difference 64\)",
    ):
        SaliencyViewer([a, b])
    fewer = make_saliency(images=3)
    with pytest.raises(ValueError, match=r"saliency\['B'\]: expected the same images as saliency\['A'\]; got 3 images where it has 2"):
        SaliencyViewer({"A": a, "B": fewer})
    bigger = make_saliency(size=(24, 40))
    with pytest.raises(ValueError, match=r"got images of 40x24 pixels where it has 32x24"):
        SaliencyViewer([a, bigger])


def test_an_image_without_rows_in_one_method_names_it():
    a = make_saliency(images=2, rows_per_image=1)
    b = other_method(a, "ig")
    b.image_index[:] = 0
    with pytest.raises(ValueError, match=r"Image 1 has no rows in saliency\[1\] \('ig'\)"):
        SaliencyViewer([a, b], image=1)


def test_scale_argument():
    assert SaliencyViewer(make_saliency(), scale="minmax").scale == "minmax"
    with pytest.raises(ValueError, match=r"scale: expected one of 'auto', 'minmax', 'signed'; got 'symlog'"):
        SaliencyViewer(make_saliency(), scale="symlog")
    with pytest.raises(ValueError, match=r"method_index: expected an int method position in \[0, 1\); got 1"):
        SaliencyViewer(make_saliency(), method_index=1)


def test_single_result_state_is_unchanged_by_methods():
    """One Saliency: one method owning every row, so maps/classes/selected keep their meaning."""
    v = SaliencyViewer(make_saliency(), image=1)
    assert v.methods == [{"name": "gradcam", "detail": v.method, "start": 0, "count": 3}]
    assert v.method == "gradcam \u00b7 layer features.7 \u00b7 250 ms for 6 maps"
    assert v.method_index == 0 and v.scale == "auto"


def test_scales_and_diverging_map_match_the_front_end():
    from xwidgets.widgets import DIVERGING_COLORMAP, SCALES, SHARED_SCALES

    normalise = (ROOT / "js" / "lib" / "normalise.ts").read_text(encoding="utf-8")
    assert tuple(re.findall(r'"(\w+)"', re.search(r"SCALES = \[([^\]]*)\]", normalise).group(1))) == SCALES
    scales = (ROOT / "js" / "lib" / "scales.ts").read_text(encoding="utf-8")
    assert tuple(re.findall(r'"(\w+)"', re.search(r"SHARED_SCALES = \[([^\]]*)\]", scales).group(1))) == SHARED_SCALES
    colormaps = (ROOT / "js" / "lib" / "colormaps.ts").read_text(encoding="utf-8")
    assert f'DIVERGING_COLORMAP = "{DIVERGING_COLORMAP}"' in colormaps
