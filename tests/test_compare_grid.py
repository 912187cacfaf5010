"""CompareGrid, Python side: trait contents, buffers, validation, repr."""

from __future__ import annotations

import io
import pathlib
import re

import numpy as np
import pytest
import traitlets
from PIL import Image

import xwidgets
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import SHARED_SCALES, CompareGrid

ROOT = pathlib.Path(__file__).resolve().parents[1]
LABELS = ["cat", "dog", "car", "tree"]
STATE_TRAITS = [
    "cell_size", "colormap", "columns", "images", "maps", "methods", "opacity",
    "scale", "selected", "shared_scale", "targets", "title",
]


def make_results(*, images=3, rows_per_image=2, size=(12, 16), seed=0) -> dict[str, Saliency]:
    """Three methods for the same images: a CAM (>= 0), a signed gradient, a tiny gradient.

    Rows are grouped by image (row r explains image r // rows_per_image), classes 0, 1, ...
    """
    rng = np.random.default_rng(seed)
    h, w = size
    b = images * rows_per_image
    imgs = rng.integers(0, 256, (images, h, w, 3), dtype=np.uint8)
    probs = rng.random((images, len(LABELS))).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    common = dict(
        image_index=np.repeat(np.arange(images), rows_per_image),
        targets=np.tile(np.arange(rows_per_image), images),
        probabilities=probs,
        labels=LABELS,
    )
    return {
        "Grad-CAM": Saliency(maps=rng.random((b, h, w)).astype(np.float32), images=imgs.copy(), method="gradcam", layer="l4", elapsed=0.5, **common),
        "IG": Saliency(maps=rng.standard_normal((b, h, w)).astype(np.float32), images=imgs.copy(), method="integrated_gradients", elapsed=2.0, **common),
        "Occlusion": Saliency(maps=rng.random((b, h, w)).astype(np.float32) - 0.3, images=imgs.copy(), method="occlusion", **common),
    }


def test_traits_hold_images_maps_headers_and_targets():
    results = make_results()
    g = CompareGrid(results)
    # images: one PNG per column, lossless
    assert len(g.images) == 3
    for i, payload in enumerate(g.images):
        assert payload["width"] == 16 and payload["height"] == 12
        decoded = np.asarray(Image.open(io.BytesIO(payload["png"])).convert("RGB"))
        np.testing.assert_array_equal(decoded, results["IG"].images[i])
    # maps: one float16 buffer [N, M, H, W], the first row of each image per method
    assert g.maps["shape"] == [3, 3, 12, 16] and g.maps["dtype"] == "float16" and g.maps_dtype == "float16"
    sent = np.frombuffer(g.maps["data"], dtype="<f2").reshape(3, 3, 12, 16)
    for n, sal in enumerate(results.values()):
        for m in range(3):
            np.testing.assert_array_equal(sent[n, m], sal.maps[2 * m].astype(np.float16))
    assert g.methods == [
        {"name": "Grad-CAM", "detail": "gradcam \u00b7 layer l4 \u00b7 500 ms for 6 maps"},
        {"name": "IG", "detail": "integrated_gradients \u00b7 2.00 s for 6 maps"},
        {"name": "Occlusion", "detail": "occlusion"},
    ]
    probs = results["IG"].probabilities
    for m, col in enumerate(g.columns):
        top = int(probs[m].argmax())
        assert col == {"caption": f"Image {m}", "label": LABELS[top], "probability": pytest.approx(float(probs[m, top]))}
    assert len(g.targets) == 3 and all(len(row) == 3 for row in g.targets)
    assert g.targets[1][2] == {"index": 0, "label": "cat", "probability": pytest.approx(float(probs[2, 0]))}
    assert (g.shared_scale, g.scale, g.colormap, g.opacity, g.selected, g.cell_size, g.title) == (
        "cell", "auto", "viridis", 0.5, [], 160, ""
    )
    assert g.image_numbers == [0, 1, 2] and g.method_names == ["Grad-CAM", "IG", "Occlusion"]


def test_state_is_buffers_and_json():
    g = CompareGrid(make_results())
    state = g.report_state()
    assert sorted(state) == STATE_TRAITS
    assert isinstance(state["maps"]["data"], bytes)
    assert all(isinstance(p["png"], bytes) for p in state["images"])
    assert g.report_module == "compare_grid"
    assert g._esm == (ROOT / "xwidgets" / "static" / "compare_grid.js").read_text(encoding="utf-8")


def test_options():
    results = make_results(images=4)
    g = CompareGrid.from_results(
        list(results.values()),
        images=[3, 1],
        target_row=1,
        captions=["four", "two"],
        shared_scale="method",
        scale="signed",
        colormap="magma",
        opacity=0.8,
        selected=(2, 1),
        cell_size=96,
        title="Methods",
    )
    assert g.image_numbers == [3, 1]
    assert [c["caption"] for c in g.columns] == ["four", "two"]
    sent = np.frombuffer(g.maps["data"], dtype="<f2").reshape(3, 2, 12, 16)
    np.testing.assert_array_equal(sent[1, 0], results["IG"].maps[3 * 2 + 1].astype(np.float16))
    assert [t["label"] for t in g.targets[0]] == ["dog", "dog"]
    assert [m["name"] for m in g.methods] == ["gradcam", "integrated_gradients", "occlusion"]
    assert g.methods[0]["detail"] == "layer l4 \u00b7 500 ms for 8 maps"  # the name is the method
    assert (g.shared_scale, g.scale, g.colormap, g.opacity, g.cell_size, g.title) == ("method", "signed", "magma", 0.8, 96, "Methods")
    assert g.selected == [2, 1] and g.selected_cell == ("occlusion", 1)
    # a target row per result
    g2 = CompareGrid(results, target_row=[0, 1, 0])
    assert [g2.targets[n][0]["label"] for n in range(3)] == ["cat", "dog", "cat"]


def test_one_result_is_a_one_row_grid():
    g = CompareGrid(make_results()["IG"])
    assert g.maps["shape"][:2] == [1, 3] and g.method_names == ["integrated_gradients"]


def test_tiny_maps_go_as_float32():
    results = make_results()
    results["IG"].maps *= 1e-6
    g = CompareGrid(results)
    assert g.maps["dtype"] == "float32" and g.maps_dtype == "float32"
    sent = np.frombuffer(g.maps["data"], dtype="<f4").reshape(3, 3, 12, 16)
    np.testing.assert_array_equal(sent[1, 0], results["IG"].maps[0])


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"images": []}, r"images: expected a non-empty list of image numbers; got list of length 0"),
        ({"images": [0, 3]}, r"images\[1\]: expected an int image number in \[0, 3\); got 3"),
        ({"images": 1}, r"images: expected a non-empty list of image numbers; got 1"),
        ({"target_row": 2}, r"target_row: expected a row position that every image shown has; got 2\. "
                            r"results\['Grad-CAM'\] has 2 rows for image 0"),
        ({"target_row": -1}, r"target_row: expected a non-negative int"),
        ({"target_row": [0, 1]}, r"target_row: expected .* \(3 values\); got list of length 2"),
        ({"target_row": [0, 1, True]}, r"target_row\[2\]: expected a non-negative int; got True"),
        ({"captions": ["a"]}, r"captions: expected a list of 3 str, one per image shown; got list of length 1"),
        ({"captions": ["a", "b", 3]}, r"captions\[2\]: expected a str; got 3"),
        ({"shared_scale": "row"}, r"shared_scale: expected one of 'cell', 'method', 'global'; got 'row'"),
        ({"scale": "log"}, r"scale: expected one of 'auto', 'minmax', 'signed'; got 'log'"),
        ({"colormap": "jet"}, r"colormap: expected one of 'viridis', .*; got 'jet'"),
        ({"opacity": 2}, r"opacity: expected a number in \[0, 1\]; got 2"),
        ({"selected": (3, 0)}, r"selected\[0\]: expected an int method position in \[0, 3\); got 3"),
        ({"selected": (0, 3)}, r"selected\[1\]: expected an int image position in \[0, 3\); got 3"),
        ({"selected": 1}, r"selected: expected None or \(method position, image position\); got 1"),
        ({"cell_size": 20}, r"cell_size: expected an int in \[48, 512\] \(CSS pixels\); got 20"),
        ({"cell_size": 160.0}, r"cell_size: expected an int in \[48, 512\] \(CSS pixels\); got 160\.0"),
        ({"title": None}, r"title: expected a str; got None"),
        ({"maps_dtype": "uint8"}, r"maps_dtype: expected one of 'float16', 'float32'; got 'uint8'"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        CompareGrid(make_results(), **kwargs)


def test_bad_results():
    with pytest.raises(ValueError, match=r"results: expected at least one Saliency result; got list of length 0"):
        CompareGrid([])
    with pytest.raises(ValueError, match=r"results: expected a Saliency result \(from xw\.explain\), or a list or dict of them; got 3"):
        CompareGrid(3)
    with pytest.raises(ValueError, match=r"results\[1\]: expected a Saliency result"):
        CompareGrid([make_results()["IG"], np.zeros(3)])


def test_results_for_other_images_say_which_differs():
    results = make_results()
    results["Occlusion"].images[2, 0, 0] = 255 - results["Occlusion"].images[2, 0, 0]
    with pytest.raises(ValueError, match=r"results\['Occlusion'\]: expected the same images as results\['Grad-CAM'\]; image 2 differs"):
        CompareGrid(results)
    a = make_results()["IG"]
    small = Saliency(
        maps=a.maps[:, :6, :8], images=a.images, image_index=a.image_index, targets=a.targets,
        probabilities=a.probabilities, labels=a.labels, method="cam",
    )
    with pytest.raises(ValueError, match=r"results\[1\] \('cam'\): expected maps of the same size as results\[0\] \('integrated_gradients'\) \(16x12\); got 8x6"):
        CompareGrid([a, small])


@pytest.mark.parametrize(
    ("state", "pattern"),
    [
        ({"shared_scale": "rows"}, r"shared_scale: expected one of 'cell', 'method', 'global'; got 'rows'"),
        ({"scale": "abs"}, r"scale: expected one of 'auto', 'minmax', 'signed'; got 'abs'"),
        ({"colormap": "jet"}, r"colormap: expected one of .*; got 'jet'"),
        ({"opacity": -0.5}, r"opacity: expected a number in \[0, 1\]; got -0\.5"),
        ({"selected": [3, 0]}, r"selected: expected \[\] or \[method, image\] in \[0, 3\) x \[0, 3\); got list of length 2"),
        ({"selected": [0]}, r"selected: expected \[\] or \[method, image\]"),
        ({"cell_size": 4000}, r"cell_size: expected an int in \[48, 512\]; got 4000"),
    ],
)
def test_out_of_range_state_from_the_front_end(state, pattern):
    g = CompareGrid(make_results())
    with pytest.raises(traitlets.TraitError, match=pattern):
        g.set_state(state)
    assert (g.shared_scale, g.scale, g.selected, g.cell_size) == ("cell", "auto", [], 160)


def test_valid_state_from_the_front_end():
    g = CompareGrid(make_results())
    g.set_state({"shared_scale": "global", "selected": [1, 2], "opacity": 0.3, "colormap": "gray", "scale": "minmax"})
    assert (g.shared_scale, g.selected_cell, g.opacity, g.colormap, g.scale) == ("global", ("IG", 2), 0.3, "gray", "minmax")
    g.set_state({"selected": []})
    assert g.selected_cell is None


# --------------------------------------------------------------------------- repr and API
def test_repr_is_deterministic():
    a, b = CompareGrid(make_results(), selected=(1, 0)), CompareGrid(make_results(), selected=(1, 0))
    assert repr(a) == repr(b)
    assert not re.search(r"0x[0-9a-f]+", repr(a))
    assert repr(a) == (
        "CompareGrid(methods=['Grad-CAM', 'IG', 'Occlusion'], images=[0, 1, 2], shared_scale='cell', "
        "scale='auto', colormap='viridis', opacity=0.5, selected=('IG', 0))"
    )
    assert a._repr_mimebundle_()[0]["text/plain"] == repr(a)


def test_public_names():
    assert xwidgets.CompareGrid is CompareGrid
    assert "CompareGrid" in xwidgets.__all__
    assert SHARED_SCALES == ("cell", "method", "global")
