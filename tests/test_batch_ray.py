"""The Ray engine of xw.explain_dataset (issue 11, deliverable 3): on a local Ray
instance with 2 CPUs (two model-replica actors), the run stores the same rows and
maps as the local engine, keeps a bad image's error, and a resumed run computes
nothing; without Ray, engine="ray" fails naming the extra."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import ray
import torch

import xwidgets as xw
from xwidgets.batch.ray_engine import init_local_ray
from xwidgets.data.synthetic import SyntheticParts

N = 48
BAD = 17  # a path that does not exist: its row records the error under both engines
VOLATILE = {"run_id", "elapsed"}


@pytest.fixture(scope="module")
def dataset():
    images, labels = SyntheticParts(N, seed=5).arrays()
    items = [(images[i], int(labels[i])) for i in range(N)]
    items[BAD] = ("/nonexistent/missing.png", int(labels[BAD]))
    return items


@pytest.fixture(scope="module")
def runs(dataset, tmp_path_factory):
    """The same Grad-CAM run with the local engine and with Ray, then a Ray resume."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each CPU actor runs
    toy = xw.models.toy_cnn()
    root = tmp_path_factory.mktemp("ray")
    local = xw.explain_dataset(toy, dataset, ["gradcam"], store=root / "local", batch_size=8, progress=False)
    init_local_ray(num_cpus=2, num_gpus=0)  # Ray's fixed 30 s raylet wait: a busy shared core can miss it once
    try:
        seen = []
        distributed = xw.explain_dataset(toy, dataset, ["gradcam"], store=root / "ray", batch_size=8, engine="ray",
                                         progress=False, callback=lambda done, total, rows: seen.append((done, total)))
        resumed = []
        again = xw.explain_dataset(toy, dataset, ["gradcam"], store=root / "ray", batch_size=8, engine="ray",
                                   progress=False, callback=lambda done, total, rows: resumed.append(len(rows)))
        yield local, distributed, again, seen, resumed
    finally:
        ray.shutdown()
        torch.set_num_threads(threads)


def test_ray_stores_the_same_rows_and_maps_as_local(runs):
    local, distributed, _, seen, _ = runs
    strip = lambda rows: [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]  # noqa: E731
    assert strip(distributed.table()) == strip(local.table())
    rows = distributed.table()
    assert len(rows) == N and sum(r["has_map"] for r in rows) == N - 1
    assert rows[BAD]["error_type"] == "ValueError" and "missing.png" in rows[BAD]["error"]
    good = [i for i in range(N) if i != BAD]
    maps = distributed.load_maps(good)
    assert maps.shape == (N - 1, 64, 64) and maps.std() > 0
    np.testing.assert_allclose(maps, local.load_maps(good), rtol=1e-5, atol=1e-6)
    for i in (0, 31, 47):
        assert np.array_equal(distributed.load_thumbnail(i), local.load_thumbnail(i))
    assert seen[-1] == (N, N) and [d for d, _ in seen] == sorted(d for d, _ in seen)  # progress reached the end
    run = distributed.runs()[0]
    assert run["engine"] == "ray" and run["status"] == "finished" and run["computed"] == N and run["errors"] == 1


def test_resume_with_ray_computes_nothing(runs):
    _, distributed, again, _, resumed = runs
    last = again.runs()[-1]
    assert len(again.runs()) == 2 and last["engine"] == "ray" and last["status"] == "finished"
    assert last["computed"] == 0 and last["skipped"] == N
    assert resumed and all(count == 0 for count in resumed)  # no batch produced rows
    assert {r["run_id"] for r in again.table()} == {distributed.runs()[0]["run_id"]}


def test_without_ray_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    monkeypatch.delitem(sys.modules, "xwidgets.batch.ray_engine", raising=False)
    with pytest.raises(ImportError, match=r'xwidgets\[ray\]'):
        xw.explain_dataset(xw.models.toy_cnn(), [np.zeros((64, 64, 3), np.uint8)], store=tmp_path / "s",
                           engine="ray", progress=False)
    assert not (tmp_path / "s").exists()  # failed before the store was touched


def test_init_local_ray_rejects_a_bad_attempt_count():
    with pytest.raises(ValueError, match="attempts"):
        init_local_ray(attempts=0)
