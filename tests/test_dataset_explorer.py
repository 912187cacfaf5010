"""DatasetExplorer (issue 11, deliverable 4): the columns and thumbnails it sends equal the
store's, the filters and sorting (mirrored in js/dataset_explorer.ts) pick the right rows,
a selection opens the stored maps in a SaliencyViewer (over the dataset's image or the
stored thumbnail, said so) or the linked ConceptExplorer, thumbnail pages answer
requests, versions switch, and bad arguments and bad front-end state are named."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.widgets import ConceptExplorer, ExplanationData, SaliencyViewer
from xwidgets.widgets.dataset_explorer import PRELOAD_LIMIT, DatasetExplorer, matching_rows, sorted_rows

N = 36
FLIPPED = (2, 9, 17, 30)  # labels changed: the prediction is wrong
BAD = 5  # a path that does not exist: the image fails


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy():
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def dataset(toy):
    images, labels = SyntheticParts(N, seed=3).arrays()
    items = [(images[i], int(labels[i])) for i in range(N)]
    for i in FLIPPED:
        items[i] = (images[i], (int(labels[i]) + 1) % len(toy.labels))
    items[BAD] = ("/nonexistent/xw-image.png", int(labels[BAD]))
    return items


@pytest.fixture(scope="module")
def store(toy, dataset, tmp_path_factory):
    torch.set_num_threads(1)
    return xw.explain_dataset(toy, dataset, ["gradcam", "saliency"], metrics=["sparseness", "complexity"],
                              store=tmp_path_factory.mktemp("dx") / "store", batch_size=16, progress=False)


def i32(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i4")


def f32(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<f4")


def nan(value):
    return math.nan if value is None else value


# ----------------------------------------------------------------------------- payload


def test_columns_thumbnails_and_repr_carry_the_store(store, toy):
    dx = DatasetExplorer(store, method="gradcam", title="Synthetic parts")
    rows = store.table(method="gradcam")
    cols = dx.columns
    assert cols["n"] == N and cols["ids"]["kind"] == "int32"
    # every column is bytes (buffers), none a JSON list of numbers
    assert all(isinstance(cols[k], bytes) for k in ("label", "pred", "confidence", "correct", "error"))
    assert i32(cols["ids"]["data"]).tolist() == [r["image_id"] for r in rows] == list(range(N))
    assert i32(cols["label"]).tolist() == [r["label"] for r in rows]
    assert i32(cols["pred"]).tolist() == [-1 if r["pred"] is None else r["pred"] for r in rows]
    np.testing.assert_array_equal(f32(cols["confidence"]), np.array([nan(r["confidence"]) for r in rows], np.float32))
    correct = np.frombuffer(cols["correct"], np.int8)
    assert correct.tolist() == [-1 if r["correct"] is None else int(r["correct"]) for r in rows]
    assert sorted(np.flatnonzero(correct == 0).tolist()) == list(FLIPPED)  # the flipped labels are the wrong rows
    assert [m["name"] for m in cols["metrics"]] == ["complexity", "sparseness"]
    for m in cols["metrics"]:
        np.testing.assert_array_equal(f32(m["data"]), np.array([nan(r[m["name"]]) for r in rows], np.float32))
    errors = i32(cols["error"])
    assert np.flatnonzero(errors >= 0).tolist() == [BAD]
    assert dx.error_texts[errors[BAD]].startswith(rows[BAD]["error_type"] + ": ")
    assert dx.class_names == toy.labels
    assert [v["method"] for v in dx.versions] == ["gradcam", "saliency"] and dx.version == store.latest_version("gradcam")

    # N <= PRELOAD_LIMIT: every stored PNG, cut out of one buffer by offsets
    assert N <= PRELOAD_LIMIT and dx.preloaded
    t = dx.thumbnails
    assert t["version"] == dx.version and set(t) == {"version", "rows", "offsets", "data"}
    offsets = np.frombuffer(t["offsets"], "<u4")
    assert i32(t["rows"]).tolist() == list(range(N)) and offsets.size == N + 1 and offsets[-1] == len(t["data"])
    for i in (0, 17, N - 1):
        assert t["data"][offsets[i]:offsets[i + 1]] == store.load_thumbnail(i, format="png")
    assert offsets[BAD] == offsets[BAD + 1]  # the failed image has no thumbnail
    assert repr(dx) == (
        f"DatasetExplorer(title='Synthetic parts', method='gradcam', version={dx.version[:10]!r}, images={N}, "
        f"shown={N}, correct={N - len(FLIPPED) - 1}, wrong={len(FLIPPED)}, failed=1, metrics='complexity, sparseness', "
        "sort='image_id asc', mode='grid', page=0, selected=None, view='saliency', preloaded=True)")
    assert repr(dx) == repr(DatasetExplorer(store.path, method="gradcam", title="Synthetic parts"))  # a path works too


def test_thumbnail_pages_are_sent_on_request_in_one_buffer(store):
    dx = DatasetExplorer(store, preload=False, page_size=10)
    assert dx.thumbnails == {} and not dx.preloaded
    sent = []
    dx.send = lambda content, buffers=None: sent.append((content, buffers))
    dx._on_message(dx, {"type": "thumbnails", "version": dx.version, "rows": [0, 7, BAD, 7]}, [])
    (content, buffers), = sent
    assert content["type"] == "thumbnails" and content["version"] == dx.version and content["rows"] == [0, 7, BAD]
    data, offsets = buffers[0], content["offsets"]
    assert data[offsets[0]:offsets[1]] == store.load_thumbnail(0, format="png")
    assert data[offsets[1]:offsets[2]] == store.load_thumbnail(7, format="png")
    assert offsets[2] == offsets[3] == len(data)  # none stored for the failed image
    # a request for another version (stale), rows out of range or another message: no answer
    dx._on_message(dx, {"type": "thumbnails", "version": "old", "rows": [1]}, [])
    dx._on_message(dx, {"type": "thumbnails", "version": dx.version, "rows": [N]}, [])
    dx._on_message(dx, {"type": "thumbnails", "version": dx.version, "rows": [True]}, [])
    dx._on_message(dx, {"type": "other"}, [])
    assert len(sent) == 1
    # an offline report carries the thumbnails of the rows in the shown order
    dx.sort("confidence", "desc")
    state = dx.report_state()
    order = [dx.visible.index(i) for i in i32(state["thumbnails"]["rows"]).tolist()[: N - 1]]
    assert order == list(range(N - 1))


# ----------------------------------------------------------------------------- filters and sorting


def test_filters_sorting_and_pages_pick_the_right_rows(store):
    dx = DatasetExplorer(store, method="gradcam", page_size=8)
    rows = {r["image_id"]: r for r in store.table(method="gradcam")}
    assert dx.visible == list(range(N)) and dx.pages == 5 and dx.page_ids == list(range(8))
    assert dx.filter(correctness="wrong") == list(FLIPPED)
    assert dx.filter(correctness="correct") == [i for i in range(N) if i not in FLIPPED and i != BAD]
    assert dx.filter(correctness="all", status="failed") == [BAD]
    assert dx.filter(status="ok") == [i for i in range(N) if i != BAD]
    pred = rows[0]["pred"]
    assert dx.filter(status="all", predicted_class=pred) == [i for i, r in rows.items() if r["pred"] == pred]
    label = rows[FLIPPED[0]]["label"]
    both = dx.filter(predicted_class=-1, true_class=label, correctness="wrong")
    assert both == [i for i in FLIPPED if rows[i]["label"] == label] and FLIPPED[0] in both
    dx.filter(true_class=-1, correctness="all")
    conf = sorted(r["confidence"] for r in rows.values() if r["confidence"] is not None)
    lo, hi = conf[5], conf[20]
    expected = [i for i, r in rows.items() if r["confidence"] is not None and lo <= r["confidence"] <= hi]
    assert dx.filter(confidence_range=(lo, hi)) == expected and len(expected) >= 16
    dx.filter(confidence_range=(0, 1))
    s = sorted(r["sparseness"] for r in rows.values() if r["sparseness"] is not None)[N // 2]
    assert dx.filter(metric_ranges={"sparseness": (s, None)}) == [
        i for i, r in rows.items() if r["sparseness"] is not None and r["sparseness"] >= s]
    assert dx.page == 0
    dx.filter(metric_ranges={})

    # sorting: stable, missing values (the failed image) last in either order
    by = dx.sort("sparseness", "desc")
    values = [rows[i]["sparseness"] for i in by]
    assert by[-1] == BAD and values[:-1] == sorted(values[:-1], reverse=True)
    assert dx.sort("confidence")[-1] == BAD
    assert dx.sort("correct", "desc")[: N - len(FLIPPED) - 1] == [i for i in range(N) if i not in FLIPPED and i != BAD]
    assert dx.sort("error", "asc")[0] == BAD
    assert dx.sort("image_id", "desc") == list(range(N - 1, -1, -1))
    dx.page = 4
    assert dx.page_ids == [3, 2, 1, 0]
    dx.page = 99  # the front end clamps to the last page; so does page_ids
    assert dx.page_ids == [3, 2, 1, 0]


def test_matching_and_sorting_of_string_ids_and_nan():
    from xwidgets.widgets.dataset_explorer import Columns

    c = Columns(ids=[3, "b", 1, "a"], label=np.array([0, 1, -1, 1], np.int32), pred=np.array([0, 0, 1, 1], np.int32),
                confidence=np.array([0.5, np.nan, 0.9, 0.3], np.float32), correct=np.array([1, 0, -1, 1], np.int8),
                error=np.array([-1, 0, -1, -1], np.int32), metrics={"m": np.array([np.nan, 2, 1, 2], np.float32)},
                error_texts=["ValueError: x"])
    assert sorted_rows(c, range(4), "image_id", "asc") == [2, 0, 3, 1]  # numbers before strings
    assert sorted_rows(c, range(4), "m", "asc") == [2, 1, 3, 0]  # ties keep row order, NaN last
    assert sorted_rows(c, range(4), "m", "desc") == [1, 3, 2, 0]
    assert sorted_rows(c, range(4), "label", "desc") == [1, 3, 0, 2]
    assert matching_rows(c, confidence_range=(0.3, 0.5)).tolist() == [0, 3]
    assert matching_rows(c, confidence_range=(0.3, 0.3)).tolist() == [3]  # bounds rounded to float32, as in JS
    assert matching_rows(c, metric_ranges={"m": (None, 1.5)}).tolist() == [2]
    assert matching_rows(c, true_class=1, predicted_class=0).tolist() == [1]
    payload = c.payload()
    assert payload["ids"] == {"kind": "json", "values": [3, "b", 1, "a"]}


# ----------------------------------------------------------------------------- opening an image


def test_selection_opens_the_stored_maps_over_the_thumbnail_or_the_dataset_image(store, dataset):
    dx = DatasetExplorer(store, method="gradcam", opacity=0.3)
    assert dx.opened == {} and dx.viewer is None
    dx.selected = 7  # what a click sends
    opened = dx.opened
    assert opened["image_id"] == 7 and opened["version"] == dx.version and opened["view"] == "saliency"
    assert opened["note"] == "image: the stored 64\u00d764 thumbnail"  # the toy model's input is 64 px
    viewer = dx.viewer
    assert isinstance(viewer, SaliencyViewer) and opened["state"] == viewer.report_state()
    maps = np.frombuffer(opened["state"]["maps"]["data"], "<f2").reshape(opened["state"]["maps"]["shape"])
    np.testing.assert_allclose(maps[0], store.load_map(7, method="gradcam"), rtol=2e-3, atol=1e-3)
    assert viewer.title.startswith("Image 7: predicted ") and viewer.title.endswith("stored 64\u00d764 thumbnail")
    png = Image.open(io.BytesIO(opened["state"]["image"]["png"]))
    np.testing.assert_array_equal(np.asarray(png.convert("RGB")), store.load_thumbnail(7))
    assert viewer.opacity == 0.3
    dx.opacity = 0.8  # the explorer's overlay traits reach the viewer
    dx.colormap = "magma"
    assert (viewer.opacity, viewer.colormap) == (0.8, "magma")
    # a viewer of its own (not shown inside), same maps
    own = dx.viewer_for(7)
    assert isinstance(own, SaliencyViewer) and own is not viewer and own.maps == viewer.maps
    with pytest.raises(ValueError, match="no gradcam map: it failed"):
        dx.viewer_for(BAD)
    dx.selected = 8  # another image replaces (and closes) the viewer
    assert dx.viewer is not viewer and viewer.comm is None and dx.opened["image_id"] == 8
    dx.close_image()
    assert dx.opened == {} and dx.viewer is None and dx.selected is None

    # with the dataset: its image, preprocessed like the model's input
    with_data = DatasetExplorer(store, method="gradcam", dataset=dataset)
    viewer = with_data.open_image(9)
    assert with_data.opened["note"] == "image from the dataset"
    png = Image.open(io.BytesIO(with_data.opened["state"]["image"]["png"]))
    np.testing.assert_array_equal(np.asarray(png.convert("RGB")), dataset[9][0])
    assert "true " in viewer.title  # image 9's label was flipped: predicted and true differ
    # a failed image says why, in the widget and from open_image
    with_data.selected = BAD
    assert "failed" in with_data.opened["error"] and with_data.viewer is None
    with pytest.raises(ValueError, match="no gradcam map: it failed"):
        with_data.open_image(BAD)
    # numpy ints are ids too
    assert with_data.open_image(np.int64(3)) is with_data.viewer and with_data.selected == 3


def test_small_thumbnails_are_upscaled_and_a_mismatched_dataset_is_refused(toy, tmp_path):
    images, labels = SyntheticParts(6, seed=8).arrays()
    store = xw.explain_dataset(toy, images, "gradcam", store=tmp_path / "s", thumbnail_size=32, progress=False)
    dx = DatasetExplorer(store)
    dx.selected = 2
    assert dx.opened["note"] == "image: the stored 32\u00d732 thumbnail, upscaled to 64\u00d764 (pass dataset= for the full image)"
    assert dx.opened["state"]["image"]["width"] == 64
    assert "upscaled" in dx.viewer.title
    # another dataset whose labels disagree with the store's
    other = [(images[i], (int(labels[i]) + 1) % len(toy.labels)) for i in range(6)]
    store2 = xw.explain_dataset(toy, [(images[i], int(labels[i])) for i in range(6)], "gradcam",
                                store=tmp_path / "t", progress=False)
    dx2 = DatasetExplorer(store2, dataset=other)
    with pytest.raises(ValueError, match="has label .* there but .* in the store"):
        dx2.open_image(1)
    # SyntheticParts, a dict {id: image} and a callable work as datasets
    synthetic = DatasetExplorer(store, dataset=SyntheticParts(6, seed=8))
    synthetic.open_image(2)
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(synthetic.opened["state"]["image"]["png"])).convert("RGB")), images[2])
    assert DatasetExplorer(store, dataset={i: images[i] for i in range(6)}).open_image(4) is not None
    seen = []
    dx3 = DatasetExplorer(store, dataset=lambda i: seen.append(i) or images[i])
    dx3.open_image(5)
    assert seen == [5] and dx3.opened["note"] == "image from the dataset"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(dx3.opened["state"]["image"]["png"])).convert("RGB")),
                                  images[5])


def test_topk_rows_show_one_rank_and_the_viewer_every_rank(toy, tmp_path):
    images, _ = SyntheticParts(5, seed=2).arrays()
    store = xw.explain_dataset(toy, images, "gradcam", target=xw.TopK(2), store=tmp_path / "k", progress=False)
    dx = DatasetExplorer(store, rank=1)
    table = [r for r in store.table() if r["rank"] == 1]
    assert dx.columns["n"] == 5 and dx.rows == table
    viewer = dx.open_image(3)
    assert [c["index"] for c in viewer.classes] == [r["target"] for r in store.rows([3]) if r["image_id"] == 3]
    assert viewer.selected == 1  # the rank the rows show
    np.testing.assert_allclose(np.frombuffer(viewer.maps["data"], "<f2").reshape(2, 64, 64)[1],
                               store.load_map(3, rank=1), rtol=2e-3, atol=2e-3)


def test_concepts_open_in_the_linked_explorer(store, dataset):
    calls = []

    def concepts(image_id, image):
        calls.append((image_id, np.asarray(image).shape))
        return ExplanationData.example(1)

    dx = DatasetExplorer(store, method="gradcam", concepts=concepts)
    assert dx.views == ["saliency", "concepts"] and dx.view == "concepts"
    dx.selected = 11
    assert calls == [(11, (64, 64, 3))]  # the stored thumbnail (no dataset)
    assert isinstance(dx.viewer, ConceptExplorer) and "graphs" in dx.opened["state"]
    assert dx.opened["view"] == "concepts"
    dx.view = "saliency"  # the other view of the same image
    assert isinstance(dx.viewer, SaliencyViewer) and dx.opened["view"] == "saliency" and len(calls) == 1
    bad = DatasetExplorer(store, concepts=lambda i, im: "not a graph")
    bad.selected = 1
    assert "expected a ConceptGraph or an ExplanationData" in bad.opened["error"]
    failing = DatasetExplorer(store, concepts=lambda i, im: 1 / 0)
    with pytest.raises(ValueError, match="concepts: explaining image 2 failed: ZeroDivisionError"):
        failing.open_image(2)


def test_a_concept_explainer_explains_the_dataset_image(store, dataset):
    explainer = xw.ConceptExplainer.pretrained("toy_cnn")
    dx = DatasetExplorer(store, method="gradcam", dataset=dataset, concepts=explainer)
    viewer = dx.open_image(0)
    assert isinstance(viewer, ConceptExplorer)
    state = dx.opened["state"]
    assert state["saliency"]  # the stored Grad-CAM map is the explorer's overlay
    assert viewer.data.true_class == dataset[0][1] and viewer.data.predicted == store.table(method="gradcam")[0]["pred"]
    assert viewer.title.endswith("image from the dataset")


def test_switching_the_version_reloads_the_rows(store):
    dx = DatasetExplorer(store, method="gradcam", sort_by="sparseness", metric_ranges={"sparseness": (0.1, None)})
    dx.selected = 4
    gradcam = dx.opened["state"]["maps"]["data"]
    other = store.latest_version("saliency")
    dx.version = other  # what the version select sends
    assert dx.method == "saliency" and dx.version == other and dx.page == 0
    sal = {r["image_id"]: r for r in store.table(method="saliency")}
    np.testing.assert_array_equal(f32(next(m for m in dx.columns["metrics"] if m["name"] == "sparseness")["data"]),
                                  np.array([nan(sal[i]["sparseness"]) for i in range(N)], np.float32))
    assert dx.sort_by == "sparseness" and dx.metric_ranges == {"sparseness": [0.1, None]}  # both versions have it
    assert dx.opened["version"] == other and dx.opened["state"]["maps"]["data"] != gradcam
    np.testing.assert_allclose(
        np.frombuffer(dx.opened["state"]["maps"]["data"], "<f2" if dx.viewer.maps_dtype == "float16" else "<f4").reshape(64, 64),
        store.load_map(4, method="saliency"), rtol=2e-3, atol=2e-3 * float(np.abs(store.load_map(4, method="saliency")).max()))
    with pytest.raises(traitlets.TraitError, match="version: expected a version of the store"):
        dx.version = "nope"


# ----------------------------------------------------------------------------- validation


def test_bad_arguments_are_named(store, tmp_path, dataset, toy):
    assert len(toy.labels) == 7
    cases = [
        (dict(store=tmp_path / "none"), "store: expected a directory holding store.sqlite"),
        (dict(store=3), "store: expected a DatasetStore or the directory of one"),
        (dict(method="rise"), "method: expected None or a method stored here (gradcam, saliency); got 'rise'"),
        (dict(version="v0"), "version: expected None or a version stored here"),
        (dict(method="saliency", version=store.latest_version("gradcam")), "version: expected a version of method 'saliency'"),
        (dict(rank=2), "rank: expected a rank stored for gradcam (0); got 2"),
        (dict(rank=-1), "rank: expected an int >= 0"),
        (dict(preload="yes"), "preload: expected True, False or 'auto'; got 'yes'"),
        (dict(true_class=99), "true_class: expected None or a class index in [0, 7); got 99"),
        (dict(predicted_class=True), "predicted_class: expected None or a class index"),
        (dict(correctness="maybe"), "correctness: expected one of 'all', 'correct', 'wrong'; got 'maybe'"),
        (dict(status="done"), "status: expected one of 'all', 'ok', 'failed'"),
        (dict(confidence_range=(0.8, 0.2)), "confidence_range: expected (low, high) with 0 <= low <= high <= 1; got [0.8, 0.2]"),
        (dict(confidence_range=0.5), "confidence_range: expected (low, high)"),
        (dict(metric_ranges={"deletion": (0, 1)}), "metric_ranges: expected keys among the stored metrics (complexity, sparseness); got 'deletion'"),
        (dict(metric_ranges={"sparseness": (2, 1)}), "metric_ranges['sparseness']: expected [low, high] with low <= high"),
        (dict(sort_by="size"), "sort_by: expected one of 'image_id', 'label', 'pred', 'confidence', 'correct', 'error', 'complexity', 'sparseness'"),
        (dict(sort_order="up"), "sort_order: expected one of 'asc', 'desc'"),
        (dict(mode="list"), "mode: expected one of 'grid', 'table'"),
        (dict(page_size=0), "page_size: expected an int in [1, 500]; got 0"),
        (dict(selected=99), "selected: expected None or an image id of the rows shown; got 99"),
        (dict(view="concepts"), "view: expected one of 'saliency'; got 'concepts'"),
        (dict(concepts=3), "concepts: expected None, a ConceptExplainer or a callable"),
        (dict(dataset=iter(dataset)), "dataset: expected None, a map-style dataset"),
        (dict(dataset=dataset[:10]), "dataset: expected the dataset the store was made from (image ids up to 35); got a dataset of 10 items"),
        (dict(dataset="images/"), "dataset: expected an iterable or torch Dataset of images (not one image)"),
        (dict(opacity=2), "opacity: expected a number in [0, 1]"),
        (dict(colormap="jet"), "colormap: expected one of"),
        (dict(title=3), "title: expected a str or None; got 3"),
    ]
    for kwargs, message in cases:
        kwargs = {"store": store, **kwargs}
        with pytest.raises(ValueError) as info:
            DatasetExplorer(**kwargs)
        assert str(info.value).startswith(message), (kwargs, str(info.value))
    dx = DatasetExplorer(store)
    with pytest.raises(ValueError, match="image_id: expected None or an image id of the rows shown"):
        dx.open_image(N)
    with pytest.raises(ValueError, match="by: expected one of"):
        dx.sort("size")
    with pytest.raises(ValueError, match=r"true_class: expected -1 \(any\) or a class index in \[0, 7\); got 7"):
        dx.filter(true_class=7)


def test_front_end_state_out_of_range_is_refused(store):
    dx = DatasetExplorer(store)
    bad = [
        ("selected", N, rf"selected: expected None or an image id of the rows shown \({N} images of gradcam\); got {N}"),
        ("selected", "7", "selected: expected None or an image id"),
        ("true_class", 7, r"true_class: expected -1 \(any\) or a class index in \[0, 7\); got 7"),
        ("predicted_class", -2, "predicted_class: expected -1"),
        ("correctness", "maybe", "correctness: expected one of 'all', 'correct', 'wrong'; got 'maybe'"),
        ("status", "x", "status: expected one of"),
        ("confidence_range", [0.9, 0.1], r"confidence_range: expected \[low, high\] with 0 <= low <= high <= 1"),
        ("confidence_range", [0.1], "confidence_range: expected"),
        ("metric_ranges", {"deletion": [0, 1]}, "metric_ranges: expected keys among the stored metrics"),
        ("metric_ranges", {"sparseness": [1, 0]}, r"metric_ranges\['sparseness'\]: expected \[low, high\]"),
        ("sort_by", "size", "sort_by: expected one of"),
        ("sort_order", "up", "sort_order: expected one of 'asc', 'desc'"),
        ("mode", "list", "mode: expected one of 'grid', 'table'"),
        ("page", -1, "page: expected an int >= 0; got -1"),
        ("page_size", 501, r"page_size: expected an int in \[1, 500\]; got 501"),
        ("view", "concepts", "view: expected one of 'saliency'; got 'concepts'"),
        ("opacity", 1.5, r"opacity: expected a number in \[0, 1\]; got 1.5"),
        ("colormap", "jet", "colormap: expected one of"),
    ]
    for name, value, message in bad:
        with pytest.raises(traitlets.TraitError, match=message):
            setattr(dx, name, value)
    assert dx.selected is None and dx.opened == {}
    dx.metric_ranges = {"sparseness": [None, 0.5]}  # open ends are fine
    dx.confidence_range = [0, 1]
