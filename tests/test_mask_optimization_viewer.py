"""MaskOptimizationViewer, Python side: the trait contract, the callback (frames appended,
rows image-major, batches, the cap with even subsampling), the record synced by flush,
validation of arguments and of state from the front end, and a real meaningful
perturbation run on the toy CNN feeding it."""

from __future__ import annotations

import io
import pathlib
import re

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.report import encode_state
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import VALUE_RANGES, MaskOptimizationViewer
from xwidgets.widgets.base import bundle_path

ROOT = pathlib.Path(__file__).resolve().parents[1]
H, W = 12, 16


def pixels(n: int = 3, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def masks_at(step: int, k: int = 2, b: int = 3, h: int = H, w: int = W) -> np.ndarray:
    """(K, B, H, W) masks whose every value encodes (step, pass, image, pixel): easy to trace."""
    kk, bb, yy, xx = np.meshgrid(np.arange(k), np.arange(b), np.arange(h), np.arange(w), indexing="ij")
    return (step * 1e-3 + kk * 0.1 + bb * 0.2 + (yy * w + xx) / (4.0 * h * w)).astype(np.float32)


def decode(payload: dict) -> np.ndarray:
    dtype = {"float16": "<f2", "float32": "<f4", "uint8": "u1"}[payload["dtype"]]
    return np.frombuffer(payload["data"], dtype=dtype).reshape(payload["shape"])


@pytest.fixture(scope="module")
def model():
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def images():
    data = SyntheticParts(4, seed=3)
    return [data.image(i) for i in range(2)]


# --------------------------------------------------------------------------- construction
def test_the_esm_is_the_built_bundle_and_xw_exposes_the_class():
    v = MaskOptimizationViewer(pixels())
    assert v._esm == bundle_path("mask_optimization_viewer").read_text(encoding="utf-8")
    assert xw.MaskOptimizationViewer is MaskOptimizationViewer
    assert "MaskOptimizationViewer" in xw.__all__
    assert "mask_optimization_viewer.js" in (ROOT / "js" / "build.mjs").read_text()
    assert "xwidgets/static/mask_optimization_viewer.js" in (ROOT / "pyproject.toml").read_text()


def test_traits_before_any_callback(model, images):
    v = MaskOptimizationViewer(model, images, opacity=0.7, colormap="magma", value_range="frame", title="MP")
    # the images as the model sees them (xw.explain's display images), lossless PNG
    _, display = xw.wrap(model).prepare(images)
    assert len(v.images) == 2 and v.num_images == 2
    for payload, expected in zip(v.images, display):
        assert payload["width"] == 64 and payload["height"] == 64
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(payload["png"])).convert("RGB")), expected)
    assert v.rows == [] and v.frames == {} and v.live == {} and v.kept_steps == []
    assert (v.step, v.follow, v.row) == (0, True, 0)
    assert (v.opacity, v.colormap, v.value_range, v.title) == (0.7, "magma", "frame", "MP")
    assert v.status.startswith("Waiting for masks: pass callback=viewer.callback")
    assert v.steps == [] and v.shown_step is None and v.memory_bytes == 0
    # without a model: the images as they are
    plain = MaskOptimizationViewer(pixels(2))
    assert [p["width"] for p in plain.images] == [W, W]


# --------------------------------------------------------------------------- the callback
def test_each_callback_pushes_its_masks_rows_image_major():
    v = MaskOptimizationViewer(pixels(3))
    loss = np.arange(6, dtype=np.float32).reshape(2, 3)  # (K, B)
    v.callback(10, torch.from_numpy(masks_at(10)), loss=torch.from_numpy(loss))
    # rows: image-major, (image i, pass k) is row i * K + k, as in a Saliency result
    assert [(r["image"], r["detail"]) for r in v.rows] == [
        (0, "target pass 0"), (0, "target pass 1"), (1, "target pass 0"), (1, "target pass 1"), (2, "target pass 0"), (2, "target pass 1"),
    ]
    live = v.live
    assert (live["seq"], live["step"], live["start"], live["kept"]) == (1, 10, 0, True)
    assert live["masks"]["dtype"] == "float16" and live["masks"]["shape"] == [6, H, W]
    sent = decode(live["masks"])
    expected = masks_at(10).transpose(1, 0, 2, 3).reshape(6, H, W)
    np.testing.assert_array_equal(sent, expected.astype(np.float16))
    np.testing.assert_array_equal(decode(live["losses"]), loss.T.reshape(-1))
    assert v.kept_steps == [10]
    # frames is the record at the last flush: not sent on every callback
    assert v.frames == {}
    v.callback(20, masks_at(20))
    assert v.kept_steps == [10, 20] and v.live["seq"] == 2 and v.live["losses"] is None
    assert "step 20, 2 callbacks, 2 frames kept" in v.status
    v.flush()
    assert v.frames["steps"] == [10, 20] and v.frames["seq"] == 2
    record = decode(v.frames["masks"])
    assert record.shape == (2, 6, H, W)
    np.testing.assert_array_equal(record[1], masks_at(20).transpose(1, 0, 2, 3).reshape(6, H, W).astype(np.float16))
    losses = decode(v.frames["losses"])
    np.testing.assert_array_equal(losses[0], loss.T.reshape(-1))
    assert np.isnan(losses[1]).all()  # the second callback had no loss
    np.testing.assert_allclose(v.mask(10, row=3), expected[3], atol=1e-3)
    assert v.loss(10, row=3) == loss[1, 1]
    assert v.shown_step == 20 and v.memory_bytes == 2 * 6 * H * W * 2


def test_the_cap_keeps_evenly_spaced_steps_and_the_newest():
    v = MaskOptimizationViewer(pixels(1), max_frames=5)
    for n in range(1, 24):
        v.callback(n * 10, masks_at(n, k=1, b=1))
        assert len(v.steps) <= 5
        assert v.steps[-1] == n * 10  # the newest is always kept
        assert v.steps[0] == 10  # and the first
    # 23 recorded steps: every 8th (ordinals 0, 8, 16) plus the newest
    assert v.steps == [10, 90, 170, 230]
    assert v.recorded == 23
    assert v.memory_bytes == 4 * H * W * 2
    v.finish()
    assert v.status == "Done: 4 frames kept of 23 recorded steps (every 8th, evenly subsampled: max_frames=5)"
    assert v.frames["steps"] == [10, 90, 170, 230]
    np.testing.assert_allclose(decode(v.frames["masks"])[1, 0], masks_at(9, k=1, b=1)[0, 0], atol=1e-3)
    # a dropped step is reported as such to the front end
    v2 = MaskOptimizationViewer(pixels(1), max_frames=2)
    for n in (1, 2, 3):
        v2.callback(n, masks_at(n, k=1, b=1))
    assert v2.steps == [1, 3] and v2.live["kept"] is True


def test_batches_fill_the_next_images_rows_and_a_new_run_starts_over():
    v = MaskOptimizationViewer(pixels(3))
    a = masks_at(5, k=1, b=2)
    v.callback(5, a[:, :2])
    v.callback(10, a[:, :2])
    v.callback(5, masks_at(7, k=1, b=1))  # steps start again: the next batch (image 2)
    assert v.live["start"] == 2
    assert v.steps == [5, 10]
    np.testing.assert_allclose(v.mask(5, row=2), masks_at(7, k=1, b=1)[0, 0], atol=1e-3)
    assert np.isnan(v.mask(10, row=2)).all()  # not reached yet in the second batch
    assert "images 2-2" in v.status
    # a run that does not fit the remaining images starts over
    v.callback(5, masks_at(1, k=1, b=3))
    assert v.steps == [5] and v.live["start"] == 0 and v.recorded == 1
    # a different number of target passes starts over too
    v.callback(5, masks_at(1, k=2, b=3))
    assert len(v.rows) == 6 and v.steps == [5]


def test_areas_of_extremal_perturbation_are_rows():
    v = MaskOptimizationViewer(pixels(2))
    m = np.random.default_rng(0).random((1, 2, 3, H, W)).astype(np.float32)  # (K, B, A, H, W)
    v.callback(1, m, loss=np.ones((1, 2), np.float32))
    assert [(r["image"], r["detail"]) for r in v.rows] == [(0, "area 0"), (0, "area 1"), (0, "area 2"), (1, "area 0"), (1, "area 1"), (1, "area 2")]
    np.testing.assert_allclose(v.mask(1, row=4), m[0, 1, 1], atol=1e-3)


def test_masks_float16_cannot_carry_go_as_float32():
    v = MaskOptimizationViewer(pixels(1))
    v.callback(1, masks_at(1, k=1, b=1) * 1e-5)
    assert v.live["masks"]["dtype"] == "float32"
    np.testing.assert_array_equal(decode(v.live["masks"])[0], masks_at(1, k=1, b=1)[0, 0] * 1e-5)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "args, kwargs, pattern",
    [
        ((), {}, r"^images: expected the images being explained; got None"),
        (("not a model", pixels()), {}, r"^model: expected a ModelAdapter, an nn.Module or None; got 'not a model'"),
        ((pixels(),), {"max_frames": 1}, r"^max_frames: expected an int >= 2"),
        ((pixels(),), {"max_frames": 2.5}, r"^max_frames: expected an int >= 2"),
        ((pixels(),), {"opacity": 1.5}, r"^opacity: expected a number in \[0, 1\]; got 1.5"),
        ((pixels(),), {"colormap": "jet"}, r"^colormap: expected one of 'viridis'.*; got 'jet'"),
        ((pixels(),), {"value_range": "log"}, r"^value_range: expected one of 'unit', 'frame', 'run'; got 'log'"),
        ((pixels(),), {"title": 3}, r"^title: expected a str; got 3"),
        ((torch.rand(1, 3, 8, 8),), {}, r"^images: expected uint8 pixels.*Pass the model too"),
        ((np.zeros((8, 8, 4), np.uint8),), {}, r"^images\[0\]: expected an HxWx3 RGB array"),
    ],
)
def test_bad_arguments_name_the_argument(args, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        MaskOptimizationViewer(*args, **kwargs)


def test_the_model_needs_images(model):
    with pytest.raises(ValueError, match=r"^images: expected the images being explained \(after the model\)"):
        MaskOptimizationViewer(model)


@pytest.mark.parametrize(
    "step, masks, loss, pattern",
    [
        (-1, masks_at(1), None, r"^step: expected an int >= 0"),
        (True, masks_at(1), None, r"^step: expected an int >= 0"),
        (1.5, masks_at(1), None, r"^step: expected an int >= 0"),
        (1, masks_at(1).tolist(), None, r"^masks: expected a torch.Tensor or numpy array; got list"),
        (1, masks_at(1)[0], None, r"^masks: expected shape \(K, B, H, W\) or \(K, B, A, H, W\).*shape \(3, 12, 16\)"),
        (1, masks_at(1, b=4), None, r"^masks: expected at most 3 images \(the viewer's\) on axis 1"),
        (1, masks_at(1, h=16, w=12), None, r"^masks: expected masks with the images' aspect ratio \(16x12\).*Pass the model"),
        (1, masks_at(1), np.zeros(5), r"^loss: expected None or shape \(2, 3\): one per target pass and image; got ndarray of shape \(5,\)"),
    ],
)
def test_bad_callback_arguments_name_the_argument(step, masks, loss, pattern):
    v = MaskOptimizationViewer(pixels(3))
    with pytest.raises(ValueError, match=pattern):
        v.callback(step, masks, loss=loss)
    assert v.steps == []


def test_state_from_the_front_end_is_checked():
    v = MaskOptimizationViewer(pixels(3))
    with pytest.raises(traitlets.TraitError, match=r"^step: expected 0 before any frame is recorded; got 5"):
        v.set_state({"step": 5})
    for s in (10, 20, 30, 40):
        v.callback(s, masks_at(s))
    # what the slider sends: step and follow together; a step that is not kept (dropped
    # while the message travelled) moves to the nearest kept one
    v.set_state({"step": 24, "follow": False})
    assert (v.step, v.follow, v.shown_step) == (20, False, 20)
    v.set_state({"step": 30, "follow": True})
    assert (v.step, v.follow, v.shown_step) == (30, True, 40)
    with pytest.raises(traitlets.TraitError, match=r"^step: expected a recorded step in \[10, 40\]; got 41"):
        v.set_state({"step": 41})
    with pytest.raises(traitlets.TraitError, match=r"^row: expected a row position in \[0, 6\); got 6"):
        v.set_state({"row": 6})
    with pytest.raises(traitlets.TraitError, match=r"^opacity: expected a number in \[0, 1\]; got -0.1"):
        v.set_state({"opacity": -0.1})
    with pytest.raises(traitlets.TraitError, match=r"^colormap: expected one of .*; got 'jet'"):
        v.set_state({"colormap": "jet"})
    with pytest.raises(traitlets.TraitError, match=r"^value_range: expected one of 'unit', 'frame', 'run'; got 'x'"):
        v.set_state({"value_range": "x"})
    v.set_state({"row": 5, "value_range": "run", "colormap": "gray"})
    assert (v.row, v.value_range, v.colormap) == (5, "run", "gray")
    assert VALUE_RANGES == ("unit", "frame", "run")


def test_a_step_set_from_python_stops_following():
    v = MaskOptimizationViewer(pixels(1))
    for s in (1, 2, 3):
        v.callback(s, masks_at(s, k=1, b=1))
    assert v.follow and v.shown_step == 3
    v.step = 2
    assert not v.follow and v.shown_step == 2
    v.follow = True
    assert v.shown_step == 3
    # a new run follows again
    v.step = 1
    v.callback(1, masks_at(1, k=1, b=1))  # steps start again with every image: a new run
    assert v.follow and v.steps == [1]


def test_a_view_that_missed_callbacks_asks_for_the_record():
    v = MaskOptimizationViewer(pixels(1))
    v.callback(1, masks_at(1, k=1, b=1))
    v.callback(2, masks_at(2, k=1, b=1))
    assert v.frames == {}
    v._on_message(v, {"type": "sync"}, [])
    assert v.frames["steps"] == [1, 2] and v.frames["seq"] == 2
    v._on_message(v, {"type": "other"}, [])  # ignored


# --------------------------------------------------------------------------- a real run
def test_a_meaningful_perturbation_run_feeds_the_viewer(model, images):
    v = MaskOptimizationViewer(model, images, max_frames=3)
    params = dict(iterations=8, init="ones", callback_every=2, progress=False)
    sal = xw.explain(model, images, method="meaningful_perturbation", callback=v.callback, **params)
    assert v.recorded == 4  # steps 2, 4, 6, 8
    assert v.steps == [2, 6, 8]  # max_frames=3: every 2nd recorded step and the newest
    masks = np.stack([v.mask(s, row=r) for s in v.steps for r in range(2)])
    assert masks.shape == (6, 64, 64) and 0 <= masks.min() and masks.max() <= 1
    assert np.abs(v.mask(8, 0) - v.mask(2, 0)).max() > 1e-3  # the mask moved
    v.finish(sal)
    # rows named after the classes explained, losses of the kept steps from loss_history
    top = sal.probabilities.argmax(1)
    assert [r["label"] for r in v.rows] == [
        f"Image {i}: {sal.labels[top[i]]} ({sal.probabilities[i, top[i]] * 100:.1f}%)" for i in range(2)
    ]
    history = sal.params["extras"]["loss_history"]  # (rows, iterations)
    for s in v.steps:
        for r in range(2):
            assert v.loss(s, r) == pytest.approx(float(history[r, s - 1]), rel=1e-6)
    assert decode(v.frames["losses"]).shape == (3, 2)
    assert v.status == "meaningful_perturbation: 8 iterations, 3 frames kept of 4 recorded steps (every 2nd, evenly subsampled: max_frames=3)"

    # the one-call form runs the same optimisation (deterministic) and finishes
    v2 = MaskOptimizationViewer(model, images, max_frames=3)
    sal2 = v2.explain("meaningful_perturbation", **params)
    np.testing.assert_array_equal(sal2.maps, sal.maps)
    assert v2.steps == v.steps and v2.rows == v.rows
    np.testing.assert_array_equal(v2.mask(6, 1), v.mask(6, 1))


def test_explain_needs_a_model_and_a_mask_optimisation(model, images):
    with pytest.raises(ValueError, match=r"^model: expected the viewer built with a model"):
        MaskOptimizationViewer(images).explain("meaningful_perturbation")
    v = MaskOptimizationViewer(model, images)
    with pytest.raises(ValueError, match=r"^method: expected a mask optimisation that takes a callback; got 'gradcam'"):
        v.explain("gradcam")
    with pytest.raises(ValueError, match=r"^callback: expected no callback: the viewer passes its own"):
        v.explain("meaningful_perturbation", callback=print)


def test_finish_checks_the_result():
    v = MaskOptimizationViewer(pixels(3))
    v.callback(1, masks_at(1, k=2, b=3))
    with pytest.raises(ValueError, match=r"^result: expected a Saliency result \(from xw.explain\); got 3"):
        v.finish(3)
    two = make_result(images=2, k=2)
    with pytest.raises(ValueError, match=r"^result: expected a result for the viewer's 3 images; got a 'meaningful_perturbation' result with 2 image\(s\) and 4 row\(s\)"):
        v.finish(two)
    with pytest.raises(ValueError, match=r"^result: expected 2 target passes per image, as the masks had"):
        v.finish(make_result(images=3, k=1))


# --------------------------------------------------------------------------- from a result
def make_result(images: int = 2, k: int = 1, steps: int | None = None) -> Saliency:
    rows = images * k
    rng = np.random.default_rng(1)
    extras = {"iterations": 9, "loss_history": rng.random((rows, 9)).astype(np.float32), "stopped_at": np.array([9, 4] * (rows // 2) + [9] * (rows % 2))}
    if steps is not None:
        extras["mask_history"] = rng.random((rows, steps, H, W)).astype(np.float32)
        extras["mask_steps"] = np.arange(1, steps + 1) * 3
    return Saliency(
        maps=rng.random((rows, H, W)).astype(np.float32),
        images=pixels(images),
        image_index=np.repeat(np.arange(images), k),
        targets=np.tile(np.arange(k), images),
        probabilities=np.full((images, 3), 1 / 3, np.float32),
        labels=["cat", "dog", "car"],
        method="meaningful_perturbation",
        params={"extras": extras},
    )


def test_from_saliency_reads_the_recorded_masks():
    sal = make_result(images=2, k=1, steps=3)
    v = MaskOptimizationViewer.from_saliency(sal, colormap="gray")
    assert v.steps == [3, 6, 9] and v.colormap == "gray"
    np.testing.assert_allclose(v.mask(6, row=1), sal.params["extras"]["mask_history"][1, 1], atol=1e-3)
    assert v.loss(6, row=1) == pytest.approx(sal.params["extras"]["loss_history"][1, 5])
    assert v.rows[0]["label"] == "Image 0: cat (33.3%)"
    assert v.rows[1]["detail"] == "stopped early after 4 steps"
    assert v.frames["steps"] == [3, 6, 9]
    with pytest.raises(ValueError, match=r"^saliency: expected a result whose extras hold 'mask_history'.*Stream the masks instead"):
        MaskOptimizationViewer.from_saliency(make_result())
    with pytest.raises(ValueError, match=r"^saliency: expected a Saliency result"):
        MaskOptimizationViewer.from_saliency("x")


# --------------------------------------------------------------------------- reports, repr
def test_report_state_holds_the_whole_record_as_bytes():
    v = MaskOptimizationViewer(pixels(3))
    for s in (1, 2, 3):
        v.callback(s, masks_at(s))
    state = v.report_state()
    assert state["live"] == {} and state["frames"]["steps"] == [1, 2, 3]
    assert sorted(state) == sorted(["images", "rows", "frames", "live", "kept_steps", "step", "follow", "row", "opacity", "colormap", "value_range", "title", "status"])

    def floats_in_lists(value):
        if isinstance(value, list):
            return any(isinstance(x, float) for x in value) or any(floats_in_lists(x) for x in value)
        if isinstance(value, dict):
            return any(floats_in_lists(x) for x in value.values())
        return False

    assert not floats_in_lists(state)  # maps travel as buffers, never JSON floats
    encode_state(state, compress=True)  # JSON-ready


def test_reset_and_repr():
    v = MaskOptimizationViewer(pixels(3))
    v.callback(4, masks_at(4))
    text = repr(v)
    assert text == "MaskOptimizationViewer(images=3, rows=6, frames=1, steps='4..4', shown_step=4, row=0, colormap='viridis', opacity=0.5)"
    assert not re.search(r"0x[0-9a-f]{6,}", text)
    v.reset()
    assert v.steps == [] and v.rows == [] and v.live == {} and v.follow
    assert repr(v) == "MaskOptimizationViewer(images=3, rows=0, frames=0, shown_step=None, row=0, colormap='viridis', opacity=0.5)"
