"""xw.explain_dataset and the DatasetStore (issue 11, deliverables 1 and 2): maps equal
xw.explain, metrics equal xw.evaluate, thumbnails, versions never mixed, errors stay
with their image, bad arguments named."""

from __future__ import annotations

import copy
import sqlite3

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import xwidgets as xw
from xwidgets.batch import DatasetStore
from xwidgets.data.synthetic import SyntheticParts


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
def parts():
    return SyntheticParts(100, seed=3)


@pytest.fixture(scope="module")
def e2e(toy, parts, tmp_path_factory):
    """100 synthetic images, Grad-CAM, a ground-truth and a map-only metric, float32 maps."""
    calls = []
    path = tmp_path_factory.mktemp("e2e") / "store"
    store = xw.explain_dataset(
        toy, parts, ["gradcam"], store=path, metrics=["energy_pointing_game", "sparseness"], batch_size=16,
        map_dtype="float32", progress=False, callback=lambda done, total, rows: calls.append((done, total, rows)),
    )
    return store, path, calls


def test_end_to_end_maps_metrics_predictions_and_thumbnails(toy, parts, e2e):
    store, _, _ = e2e
    images, labels = parts.arrays()
    samples = [parts.sample(i) for i in range(len(parts))]
    reference = xw.explain(toy, images, "gradcam")
    maps = store.load_maps(range(100))
    assert maps.shape == (100, 64, 64)
    np.testing.assert_allclose(maps, reference.maps, rtol=1e-5, atol=1e-6)

    rows = store.table()
    assert [r["image_id"] for r in rows] == list(range(100))
    assert all(r["has_map"] and r["error"] is None and r["method"] == "gradcam" and r["rank"] == 0 for r in rows)
    assert [r["label"] for r in rows] == labels.tolist()
    assert [r["pred"] for r in rows] == reference.predictions().tolist()
    np.testing.assert_allclose([r["confidence"] for r in rows], reference.probabilities.max(axis=1), rtol=1e-5)
    assert [r["correct"] for r in rows] == (labels == reference.predictions()).tolist()
    assert rows[0]["label_name"] == toy.labels[labels[0]]
    assert [r["target"] for r in rows] == reference.targets.tolist()
    np.testing.assert_allclose(store.load_probabilities(7), reference.probabilities[7], rtol=1e-5)

    energy = xw.evaluate(toy, reference, "energy_pointing_game", ground_truth=samples).scores
    stored = np.array([np.nan if r["energy_pointing_game"] is None else r["energy_pointing_game"] for r in rows])
    np.testing.assert_allclose(stored, energy, rtol=1e-4, equal_nan=True)
    assert np.isfinite(stored).sum() > 50  # most images have defining parts
    sparseness = xw.evaluate(toy, reference, "sparseness").scores
    np.testing.assert_allclose([r["sparseness"] for r in rows], sparseness, rtol=1e-4)

    for i in (0, 41, 99):
        assert np.array_equal(store.load_thumbnail(i), images[i])  # 64 px images: the thumbnail is the image
        png = store.load_thumbnail(i, format="png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(store) == 100 and 5 in store and 100 not in store
    assert store.image_ids() == list(range(100))


def test_table_to_pandas_repr_runs_and_callback(e2e):
    store, path, calls = e2e
    frame = store.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 100
    assert {"image_id", "pred", "confidence", "correct", "energy_pointing_game", "sparseness"} <= set(frame.columns)
    # other tools read the same file: plain SQL
    with sqlite3.connect(path / "store.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM results WHERE map IS NOT NULL").fetchone()[0] == 100
    assert (path / "README.md").is_file()
    version = store.latest_version("gradcam")
    assert repr(store) == f"DatasetStore({str(path)!r}, 100 images; gradcam: 100 maps, 0 errors, 1 version)"
    (run,) = store.runs()
    assert run["status"] == "finished" and run["computed"] == 100 and run["skipped"] == 0
    assert run["config"]["versions"] == {"gradcam": version}
    assert [c[0] for c in calls] == [16, 32, 48, 64, 80, 96, 100] and all(c[1] == 100 for c in calls)
    assert [r["image_id"] for c in calls for r in c[2]] == list(range(100))
    model = store.model()
    assert model["name"] == "toy_cnn" and model["fingerprint"].startswith("ToyCNN:")
    assert xw.Preprocess(**model["preprocess"]) == xw.models.toy_cnn().preprocess and len(model["labels"]) == 7
    assert store.table(limit=10, offset=20)[0]["image_id"] == 20 and len(store.table(limit=10, offset=95)) == 5
    assert [r["image_id"] for r in store.rows([3, 1])] == [1, 3]


def test_item_formats_string_ids_labels_as_target_topk_and_float16(toy, tmp_path):
    parts = SyntheticParts(12, seed=5)
    images, labels = parts.arrays()
    items = [{"image": images[i], "label": int(labels[i]), "id": f"img-{i:02d}"} for i in range(12)]
    store = xw.explain_dataset(toy, iter(items), "gradcam", store=tmp_path / "a", target="label", batch_size=5,
                               progress=False, thumbnail_size=32)
    reference = xw.explain(toy, images, "gradcam", target=labels.tolist())
    rows = store.table()
    assert [r["image_id"] for r in rows] == [f"img-{i:02d}" for i in range(12)]
    assert [r["target"] for r in rows] == labels.tolist()
    got = store.load_maps([f"img-{i:02d}" for i in range(12)])
    np.testing.assert_allclose(got, reference.maps, rtol=2e-3, atol=2e-3 * reference.maps.max())  # float16
    assert store.load_thumbnail("img-03").shape == (32, 32, 3)
    # a dict {image_id: image} keeps its keys as ids
    store = xw.explain_dataset(toy, {f"k{i}": images[i] for i in range(3)}, "gradcam", store=tmp_path / "c",
                               progress=False)
    assert store.image_ids() == ["k0", "k1", "k2"] and [r["label"] for r in store.table()] == [None] * 3

    # a DataLoader of (uint8 image, label) batches is unbatched; TopK(2) gives ranks 0 and 1
    loader = torch.utils.data.DataLoader(list(zip(torch.from_numpy(images), torch.from_numpy(labels))), batch_size=4)
    store = xw.explain_dataset(toy, loader, "gradcam", store=tmp_path / "b", target=xw.TopK(2), progress=False,
                               map_dtype="float32")
    top = xw.explain(toy, images, "gradcam", target=xw.TopK(2))
    rows = store.table()
    assert len(rows) == 24 and [r["rank"] for r in rows[:4]] == [0, 1, 0, 1]
    assert [r["label"] for r in rows[::2]] == labels.tolist()
    np.testing.assert_allclose(store.load_map(5, rank=1), top.maps[11], rtol=1e-5, atol=1e-6)
    assert store.table()[11]["target"] == int(top.targets[11])


def test_versions_new_params_and_new_weights_never_mix(toy, tmp_path):
    parts = SyntheticParts(20, seed=1)
    path = tmp_path / "store"
    first = xw.explain_dataset(toy, parts, "gradcam", store=path, batch_size=8, progress=False)
    v1 = first.latest_version("gradcam")
    second = xw.explain_dataset(toy, parts, "gradcam", store=path, params={"gradcam": {"relu": False}}, batch_size=8,
                                progress=False)
    v2 = second.latest_version("gradcam")
    assert v2 != v1
    assert [r["run_id"] for r in second.table()] == [2] * 20  # computed again, not skipped
    assert all(r["version"] == v2 for r in second.table())
    assert {r["run_id"] for r in second.table(version=v1)} == {1}
    relu_off = xw.explain(toy, parts.arrays()[0], "gradcam", relu=False).maps
    assert relu_off.min() < 0
    np.testing.assert_allclose(second.load_maps(range(20)), relu_off, rtol=2e-3, atol=2e-3 * np.abs(relu_off).max())
    assert second.load_maps(range(20), version=v1).min() >= 0

    changed = copy.deepcopy(toy.model)
    with torch.no_grad():
        changed.fc.bias[0] += 1.0
    third = xw.explain_dataset(xw.wrap(changed, preprocess=toy.preprocess, labels=toy.labels), parts, "gradcam",
                               store=path, batch_size=8, progress=False)
    v3 = third.latest_version("gradcam")
    assert v3 not in (v1, v2)
    assert {r["run_id"] for r in third.table()} == {3}
    versions = third.versions("gradcam")
    assert [v["version"] for v in versions] == [v1, v2, v3]
    assert versions[0]["fingerprint"] != versions[2]["fingerprint"] and versions[0]["params"] == {"relu": True}
    assert [v["latest"] for v in versions] == [False, False, True]

    # the first settings again: nothing computed, and v1 is the newest again
    again = xw.explain_dataset(toy, parts, "gradcam", store=path, batch_size=8, progress=False)
    assert again.latest_version("gradcam") == v1
    assert again.runs()[-1]["computed"] == 0 and again.runs()[-1]["skipped"] == 20
    assert {r["run_id"] for r in again.table()} == {1}


class _FailsOnMarker(nn.Module):
    """The toy CNN, except that a forward raises when an input holds a huge value."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x.abs() > 1e4).any()):
            raise RuntimeError("marker pixel: this image breaks the model")
        return self.net(x)


def test_a_bad_image_only_records_its_error(toy, tmp_path):
    parts = SyntheticParts(40, seed=2)
    images, labels = parts.arrays()
    model = xw.wrap(_FailsOnMarker(toy.model), preprocess=toy.preprocess, labels=toy.labels, cam_layer="net.layer4")
    inputs = toy.preprocess.normalise(images)
    dataset: list = [(images[i], int(labels[i])) for i in range(40)]
    dataset[17] = (images[17][..., 0], int(labels[17]))  # grayscale: wrong shape
    nan = inputs[23].clone()
    nan[0, 5, 5] = float("nan")
    dataset[23] = (nan, int(labels[23]))  # NaN in a preprocessed tensor
    marked = inputs[30].clone()
    marked[1, 2, 3] = 1e5
    dataset[30] = (marked, int(labels[30]))  # fails inside the model: its batch is retried image by image
    store = xw.explain_dataset(model, dataset, "gradcam", store=tmp_path / "s", metrics=["sparseness"], batch_size=8,
                               progress=False)
    errors = store.errors()
    assert [e["image_id"] for e in errors] == [17, 23, 30]
    assert [e["error_type"] for e in errors] == ["ValueError", "ValueError", "RuntimeError"]
    assert "HxWx3" in errors[0]["error"] and "finite" in errors[1]["error"] and "marker" in errors[2]["error"]
    rows = store.table()
    good = [i for i in range(40) if i not in (17, 23, 30)]
    assert [r["image_id"] for r in rows if r["has_map"]] == good
    assert all(r["sparseness"] is not None for r in rows if r["has_map"])
    reference = xw.explain(toy, images[good], "gradcam")
    np.testing.assert_allclose(store.load_maps(good), reference.maps, rtol=2e-3, atol=2e-3 * reference.maps.max())
    with pytest.raises(KeyError, match="marker"):
        store.load_map(30)
    assert store.runs()[-1]["errors"] == 3 and "3 errors" in repr(store)
    # errors are results too: not retried unless asked; retried, they fail again and stay single
    again = xw.explain_dataset(model, dataset, "gradcam", store=tmp_path / "s", metrics=["sparseness"], batch_size=8,
                               progress=False)
    assert again.runs()[-1]["computed"] == 0
    again = xw.explain_dataset(model, dataset, "gradcam", store=tmp_path / "s", metrics=["sparseness"], batch_size=8,
                               progress=False, retry_errors=True)
    assert again.runs()[-1]["computed"] == 3 and len(again.errors()) == 3 and len(again.table()) == 40


def test_a_new_metric_fills_stored_rows_and_keeps_their_maps(toy, tmp_path):
    parts = SyntheticParts(10, seed=4)
    store = xw.explain_dataset(toy, parts, "gradcam", store=tmp_path / "s", progress=False)
    before = store.load_maps(range(10))
    store = xw.explain_dataset(toy, parts, "gradcam", store=tmp_path / "s", metrics={"complexity": {}},
                               progress=False)
    assert all(r["complexity"] is not None and r["run_id"] == 1 for r in store.table())  # maps kept from run 1
    assert np.array_equal(store.load_maps(range(10)), before)
    assert store.runs()[-1]["computed"] == 10
    again = xw.explain_dataset(toy, parts, "gradcam", store=store, metrics=["complexity"], progress=False)
    assert again is store and store.runs()[-1]["computed"] == 0  # an open store is written in place


def _images(n: int = 4) -> np.ndarray:
    return SyntheticParts(n, seed=0).arrays()[0]


BAD_CALLS = [
    (dict(methods="nope"), ValueError, "method"),
    (dict(methods=[]), ValueError, "methods: expected"),
    (dict(methods=["gradcam", "gradcam"]), ValueError, "methods: expected each method once"),
    (dict(batch_size=0), ValueError, "batch_size: expected a positive int"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(batch_size=True), ValueError, "batch_size"),
    (dict(engine="spark"), ValueError, "engine: expected one of 'local', 'ray'"),
    (dict(params={"rise": {"n_masks": 10}}), ValueError, "params: expected keys among the methods"),
    (dict(params={"gradcam": {"bogus": 1}}), TypeError, "unknown parameter"),
    (dict(params=[1]), ValueError, "params: expected a dict"),
    (dict(metrics=["nope"]), ValueError, "metric: expected one of"),
    (dict(metrics={"sparseness": {"bogus": 1}}), ValueError, r"metrics\['sparseness'\]"),
    (dict(metrics=["pointing_game"]), ValueError, "metrics: expected metrics the dataset can score"),
    (dict(metrics=["sparseness", "sparseness"]), ValueError, "metrics: expected each metric once"),
    (dict(target="foo"), ValueError, "target"),
    (dict(target=[1, 2, 3, 4]), ValueError, "target: expected"),
    (dict(thumbnail_size=-1), ValueError, "thumbnail_size"),
    (dict(map_dtype="int8"), ValueError, "map_dtype: expected one of 'float16', 'float32'"),
    (dict(callback=3), ValueError, "callback"),
    (dict(progress="yes"), ValueError, "progress"),
    (dict(layer="nolayer"), KeyError, "layer: expected the dotted name"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_CALLS, ids=[str(c[0])[:40] for c in BAD_CALLS])
def test_bad_arguments_are_named_and_nothing_is_written(toy, tmp_path, kwargs, error, message):
    path = tmp_path / "store"
    with pytest.raises(error, match=message):
        xw.explain_dataset(toy, _images(), store=path, **{"progress": False, **kwargs})
    assert not path.exists()


def test_bad_datasets_and_store_paths(toy, tmp_path):
    image = _images(1)[0]
    for dataset, message in ((image, "dataset: expected a batch of images"), (42, "dataset: expected an iterable"),
                             ("photo.png", "dataset: expected an iterable")):
        with pytest.raises(ValueError, match=message):
            xw.explain_dataset(toy, dataset, store=tmp_path / "x", progress=False)
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a store")
    with pytest.raises(ValueError, match="store: expected a directory"):
        xw.explain_dataset(toy, _images(), store=a_file, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="store: expected a new or empty directory"):
        xw.explain_dataset(toy, _images(), store=tmp_path / "busy", progress=False)
    with pytest.raises(ValueError, match="store: expected a directory holding store.sqlite"):
        DatasetStore(tmp_path / "missing")
    with pytest.raises(ValueError, match="store: expected a directory path"):
        DatasetStore(3)


def test_bad_reads(toy, tmp_path):
    store = xw.explain_dataset(toy, _images(), store=tmp_path / "s", progress=False)
    store = DatasetStore.open(tmp_path / "s")  # a second reader
    with pytest.raises(KeyError, match="no result for 99"):
        store.load_map(99)
    with pytest.raises(ValueError, match="version: expected a version stored here"):
        store.table(version="zzz")
    with pytest.raises(ValueError, match="method: expected a method stored here"):
        store.table(method="rise")
    with pytest.raises(ValueError, match="format"):
        store.load_thumbnail(0, format="jpg")
    with pytest.raises(KeyError, match="not in this store"):
        store.load_thumbnail(12)
    with pytest.raises(ValueError, match="limit"):
        store.table(limit=-1)
    with pytest.raises(ValueError, match="image_id"):
        store.load_map(1.5)


def test_progress_bar_and_device(toy, capsys):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = xw.explain_dataset(toy, _images(5), store=tmp, batch_size=2, device="cpu", progress=True)
        assert len(store.table()) == 5
        store.close()
    err = capsys.readouterr().err
    assert "explain_dataset" in err and "5/5" in err
