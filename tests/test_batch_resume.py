"""Kill a dataset run with SIGKILL at a random point, resume it: every image ends with
exactly one stored result, nothing stored is recomputed, nothing is lost (issue 11)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import torch

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts

N, SEED, BATCH = 240, 7, 8

CHILD = textwrap.dedent(f"""
    import sys, time, torch
    torch.set_num_threads(1)
    import xwidgets as xw
    from xwidgets.data.synthetic import SyntheticParts
    # the callback runs after each batch is stored; sleeping there leaves time to kill
    xw.explain_dataset(xw.models.toy_cnn(), SyntheticParts({N}, seed={SEED}), "gradcam", store=sys.argv[1],
                       metrics=["sparseness"], batch_size={BATCH}, progress=False,
                       callback=lambda done, total, rows: time.sleep(0.03))
    print("finished")
""")


def _stored(db_path) -> dict:
    """{image_id: (run_id, map bytes, sparseness)} as committed, read by a separate connection."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT r.image_id, r.run_id, r.map, m.value FROM results r LEFT JOIN metrics m ON "
                          "m.version = r.version AND m.image_id = r.image_id AND m.rank = r.rank").fetchall()
    return {image_id: (run_id, bytes(blob), value) for image_id, run_id, blob, value in rows}


def _count(db_path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def test_kill_at_a_random_point_then_resume(tmp_path):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    threshold = rng.randrange(2 * BATCH, N - 8 * BATCH)
    delay = rng.uniform(0.0, 0.08)
    note = f"random seed {seed}: kill after {threshold} rows + {delay:.3f} s"
    path = tmp_path / "store"
    db_path = path / "store.sqlite"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while _count(db_path) < threshold:
            assert child.poll() is None, f"the run ended before the kill ({note}): {child.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, note
            time.sleep(0.01)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, f"the run was not killed ({note})"
    before = _stored(db_path)
    assert threshold <= len(before) < N, note
    assert {run for run, _, _ in before.values()} == {1}
    assert all(value is not None for _, _, value in before.values()), "a map was stored without its metric"

    torch.set_num_threads(1)
    toy = xw.models.toy_cnn()
    parts = SyntheticParts(N, seed=SEED)
    store = xw.explain_dataset(toy, parts, "gradcam", store=path, metrics=["sparseness"], batch_size=BATCH,
                               progress=False)
    after = _stored(db_path)
    assert sorted(after) == list(range(N)), note  # none lost; the primary key allows one row per image
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == N
        assert db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == N
    for image_id, row in before.items():  # none recomputed: same run, same bytes
        assert after[image_id] == row, f"image {image_id} changed ({note})"
    assert {after[i][0] for i in after if i not in before} == {2}
    runs = store.runs()
    # the killed run never closed; its lock, dropped by the OS when the process died, tells
    assert [r["status"] for r in runs] == ["killed", "finished"]
    assert not any((store.path / "running").iterdir())  # the finished run released its lock
    assert runs[1]["computed"] == N - len(before) and runs[1]["skipped"] == len(before), note
    assert not store.errors()

    images, _ = parts.arrays()
    reference = xw.explain(toy, images, "gradcam").maps
    np.testing.assert_allclose(store.load_maps(range(N)), reference, rtol=2e-3, atol=2e-3 * reference.max())

    # resuming again computes nothing, from a map-style dataset or from a plain generator
    for dataset in (parts, (images[i] for i in range(N))):
        store = xw.explain_dataset(toy, dataset, "gradcam", store=path, metrics=["sparseness"], batch_size=BATCH,
                                   progress=False)
        assert store.runs()[-1]["computed"] == 0 and store.runs()[-1]["skipped"] == N
    assert _stored(db_path) == after


def test_a_live_run_is_not_taken_for_a_killed_one(tmp_path):
    # flock locks belong to an open file: another reader, even in the writer's own
    # process, sees the lock held and leaves the run "running" until it closes
    from xwidgets.batch.store import DatasetStore

    writer = DatasetStore.create(tmp_path / "s")
    run_id = writer.begin_run("local", "test", {}, xw.__version__)
    reader = DatasetStore.open(tmp_path / "s")
    assert [r["status"] for r in reader.runs()] == ["running"]
    writer.end_run(run_id, "finished", 0, 0, 0)
    assert [r["status"] for r in reader.runs()] == ["finished"]
    assert not (tmp_path / "s" / "running" / f"{run_id}.lock").exists()
