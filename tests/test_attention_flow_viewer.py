"""AttentionFlowViewer, Python side: the trait contract (image, the per-block maps, the
accumulated flow and the raw sums as binary buffers of shape [R, L, h, w], block names,
classes), the consistency of what it shows with the DAAM result, validation of arguments
and of state from the front end, clear errors for results that are not DAAM's, and the
offline report. DAAM runs on the bundled toy ViT (6 blocks, 8x8 patches)."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import traitlets
from PIL import Image

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.report import encode_state, write_report
from xwidgets.widgets import VIEWS, AttentionFlowViewer
from xwidgets.widgets.base import bundle_path

ROOT = pathlib.Path(__file__).resolve().parents[1]


def decode(payload: dict) -> np.ndarray:
    dtype = {"float16": "<f2", "float32": "<f4", "uint8": "u1"}[payload["dtype"]]
    return np.frombuffer(payload["data"], dtype=dtype).reshape(payload["shape"])


@pytest.fixture(scope="module")
def toy():
    return xw.models.toy_vit()


@pytest.fixture(scope="module")
def images():
    return list(SyntheticParts(3, seed=4).arrays()[0])


@pytest.fixture(scope="module")
def daam(toy, images):
    """DAAM of 3 images, 2 classes each: 6 rows of 6 blocks of 8x8 maps."""
    return xw.explain(toy, images, method="daam", target=xw.TopK(2))


# --------------------------------------------------------------------------- construction
def test_the_esm_is_the_built_bundle_and_the_class_is_registered(daam):
    v = AttentionFlowViewer(daam)
    assert v._esm == bundle_path("attention_flow_viewer").read_text(encoding="utf-8")
    assert xw.AttentionFlowViewer is AttentionFlowViewer and "AttentionFlowViewer" in xw.__all__
    assert 'join(root, "js", "attention_flow_viewer.ts")' in (ROOT / "js" / "build.mjs").read_text()
    assert (ROOT / "pyproject.toml").read_text().count("xwidgets/static/attention_flow_viewer.js") == 2
    assert "attention_flow_viewer" in (ROOT / "xwidgets" / "static" / "report_runtime.js").read_text()


def test_traits_carry_the_images_maps_per_class_and_block(daam):
    v = AttentionFlowViewer(daam, image=1)
    extras = daam.params["extras"]
    rows = daam.rows_for_image(1)  # rows 2 and 3: image 1's two classes
    assert list(rows) == [2, 3]
    assert v.image["width"] == 64 and v.image["height"] == 64
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(v.image["png"])).convert("RGB")), daam.images[1])
    for trait, key in (("block_maps", "block_maps"), ("flow", "flow"), ("accumulated", "accumulated")):
        payload = getattr(v, trait)
        assert payload["dtype"] == "float16" and payload["shape"] == [2, 6, 8, 8], trait
        np.testing.assert_allclose(decode(payload), extras[key][rows], atol=2e-3, rtol=1e-3, err_msg=trait)
    assert v.blocks == [f"encoder.layers.encoder_layer_{b}.self_attention" for b in range(6)]
    assert v.num_blocks == 6
    assert [c["index"] for c in v.classes] == list(daam.targets[rows])
    assert [c["label"] for c in v.classes] == [daam.labels[t] for t in daam.targets[rows]]
    assert v.classes[0]["probability"] == pytest.approx(float(daam.probabilities[1, daam.targets[2]]))
    # defaults: the last block, accumulated (the result's own map), first class
    assert (v.block, v.view, v.selected, v.opacity, v.colormap) == (5, "accumulated", 0, 0.5, "viridis")
    top = int(daam.probabilities[1].argmax())
    assert v.title == f"Image 1: predicted {daam.labels[top]} ({daam.probabilities[1, top] * 100:.1f}%)"
    assert v.method.startswith("daam \u00b7 ") and v.method.endswith("6 blocks, 8x8 patches")
    assert v.selected_class.label == v.classes[0]["label"] and v.selected_class.position == 0


def test_the_last_accumulated_map_shown_is_the_results_map(daam):
    v = AttentionFlowViewer(daam, image=2, selected=1)
    row = int(daam.rows_for_image(2)[1])
    shown = torch.tensor(v.shown_map())[None, None]  # the last block's flow, class position 1
    up = F.interpolate(shown, size=(64, 64), mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(up, daam.maps[row], atol=1e-5)
    # the block view shows the block's own map; the flow's last is the sum of them, mapped
    extras = daam.params["extras"]
    for b in range(6):
        np.testing.assert_array_equal(v.shown_map("block", b), extras["block_maps"][row, b])
        np.testing.assert_array_equal(v.shown_map("accumulated", b), extras["flow"][row, b])
    np.testing.assert_allclose(extras["accumulated"][row, -1], extras["block_maps"][row].sum(0), atol=1e-5)
    # the flow grows from block to block: its un-normalised sums never shrink
    assert (np.diff(extras["accumulated"][row], axis=0) >= -1e-6).all()


def test_options_and_dtype(daam):
    v = AttentionFlowViewer(daam, block=0, view="block", selected=1, opacity=0.8, colormap="magma", title="Flow", maps_dtype="float32")
    assert (v.block, v.view, v.selected, v.opacity, v.colormap, v.title) == (0, "block", 1, 0.8, "magma", "Flow")
    assert v.maps_dtype == "float32" and v.block_maps["dtype"] == "float32"
    np.testing.assert_array_equal(decode(v.block_maps), daam.params["extras"]["block_maps"][:2])
    assert VIEWS == ("accumulated", "block")


def test_repr_is_deterministic(daam):
    v = AttentionFlowViewer(daam)
    labels = [c["label"] for c in v.classes]
    assert repr(v) == (
        f"AttentionFlowViewer(image=0, classes={labels!r}, selected=0, blocks=6, block=5, view='accumulated', "
        "colormap='viridis', opacity=0.5)"
    )
    assert repr(v) == repr(AttentionFlowViewer(daam))


# --------------------------------------------------------------------------- errors
def test_results_that_are_not_daams_get_a_clear_error(toy, images, daam):
    rollout = xw.explain(toy, images[:1], method="attention_rollout")
    with pytest.raises(ValueError, match=r"saliency: expected a DAAM result .*'block_maps', 'accumulated' and 'flow'; "
                       r"got a 'attention_rollout' result with 1 image\(s\) and 1 row\(s\)\. Only DAAM records a map per attention block"):
        AttentionFlowViewer(rollout)
    with pytest.raises(ValueError, match=r"saliency: expected a Saliency result of DAAM .*; got 'not a result'"):
        AttentionFlowViewer("not a result")
    with pytest.raises(ValueError, match="saliency: expected a Saliency result of DAAM"):
        AttentionFlowViewer([daam])
    # a DAAM result whose per-block arrays were lost (saved as shape descriptions)
    extras = {k: (f"<array shape={v.shape}>" if isinstance(v, np.ndarray) else v) for k, v in daam.params["extras"].items()}
    stripped = dataclasses.replace(daam, params={**daam.params, "extras": extras})
    with pytest.raises(ValueError, match=r"got a 'daam' result with 3 image\(s\) and 6 row\(s\)\. Its per-block maps are missing"):
        AttentionFlowViewer(stripped)
    # arrays of the wrong shape name the key
    bad = dict(daam.params["extras"], flow=daam.params["extras"]["flow"][:, :3])
    with pytest.raises(ValueError, match=r"saliency.params\['extras'\]\['flow'\]: expected shape \(6, L, h, w\) like 'block_maps' \(6, 6, 8, 8\)"):
        AttentionFlowViewer(dataclasses.replace(daam, params={**daam.params, "extras": bad}))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image": 3}, r"image: expected an int image number in \[0, 3\); got 3"),
        ({"image": True}, "image: expected an int image number"),
        ({"block": 6}, r"block: expected an int block number in \[0, 6\); got 6"),
        ({"block": -1}, r"block: expected an int block number in \[0, 6\)"),
        ({"view": "sum"}, "view: expected one of 'accumulated', 'block'; got 'sum'"),
        ({"selected": 2}, r"selected: expected an int class position in \[0, 2\); got 2"),
        ({"opacity": 1.5}, r"opacity: expected a number in \[0, 1\]; got 1.5"),
        ({"colormap": "jet"}, "colormap: expected one of 'viridis'"),
        ({"maps_dtype": "float64"}, "maps_dtype: expected one of 'float16', 'float32'"),
        ({"title": 3}, "title: expected a str or None; got 3"),
    ],
)
def test_bad_arguments_get_clear_errors(daam, kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttentionFlowViewer(daam, **kwargs)


def test_out_of_range_state_from_the_front_end_is_rejected(daam):
    v = AttentionFlowViewer(daam)
    v.block = 2
    v.view = "block"
    v.selected = 1
    assert (v.block, v.view, v.selected) == (2, "block", 1)
    np.testing.assert_array_equal(v.shown_map(), daam.params["extras"]["block_maps"][1, 2])
    for name, value, message in [
        ("block", 6, r"block: expected a block number in \[0, 6\); got 6"),
        ("block", -1, r"block: expected a block number in \[0, 6\)"),
        ("selected", 2, r"selected: expected a class position in \[0, 2\); got 2"),
        ("view", "sum", "view: expected one of 'accumulated', 'block'; got 'sum'"),
        ("colormap", "jet", "colormap: expected one of"),
        ("opacity", 2.0, r"opacity: expected a number in \[0, 1\]; got 2.0"),
    ]:
        with pytest.raises(traitlets.TraitError, match=message):
            setattr(v, name, value)
    assert (v.block, v.view, v.selected) == (2, "block", 1)
    with pytest.raises(ValueError, match=r"block: expected an int block number in \[0, 6\); got 9"):
        v.shown_map(block=9)


# --------------------------------------------------------------------------- report
def test_the_offline_report_carries_the_viewer(daam, tmp_path):
    v = AttentionFlowViewer(daam, image=1, block=2)
    state = encode_state(v.report_state())
    json.dumps(state)  # everything is JSON once bytes are encoded
    assert set(state) >= {"image", "block_maps", "flow", "accumulated", "blocks", "classes", "block", "view"}
    assert state["block"] == 2 and state["block_maps"]["shape"] == [2, 6, 8, 8]
    path = write_report(tmp_path / "flow.html", [v], title="DAAM flow")
    text = path.read_text(encoding="utf-8")
    assert 'data-xw-module="attention_flow_viewer"' in text and "<title>DAAM flow</title>" in text


def test_show_opens_the_flow_viewer_for_daam_and_survives_save_and_load(daam, tmp_path):
    assert isinstance(daam.show(1), AttentionFlowViewer) and daam.show(1).image_number == 1
    loaded = xw.Saliency.load(daam.save(tmp_path / "daam.npz"))
    np.testing.assert_array_equal(loaded.params["extras"]["block_maps"], daam.params["extras"]["block_maps"])
    assert isinstance(loaded.show(), AttentionFlowViewer)
    text = daam.save_html(tmp_path / "daam.html", image=0).read_text(encoding="utf-8")
    assert 'data-xw-module="attention_flow_viewer"' in text
