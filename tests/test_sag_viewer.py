"""SAGViewer (Python side): the trait contract, the linked saliency map, checks of what the
front end sends, bad arguments, and reports. The drawing is tested in the browser
(tests/browser/test_sag_viewer_harness.py); the selection logic in js/tests/sag_viewer.test.ts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.sag import AttentionGraph, SAGNode
from xwidgets.widgets import SAGViewer
from xwidgets.widgets.serialise import ARRAY_DTYPES

torch.set_num_threads(1)


def small_graph(**overrides) -> AttentionGraph:
    nodes = [
        SAGNode(0, (0, 4, 8), 0.9, 0.9 / 0.95, None, None, None, 0, 0),
        SAGNode(1, (4, 8), 0.5, 0.5 / 0.95, 0, 0, 40.0, 1, 0),
        SAGNode(2, (2, 6), 0.88, 0.88 / 0.95, None, None, None, 0, 2),
    ]
    fields = dict(
        image=np.full((30, 30, 3), 100, np.uint8), grid=(3, 3), target=1, label="thing", full_probability=0.95,
        threshold=0.9, nodes=nodes, minimal_sets=[((0, 4, 8), 0.9), ((2, 6), 0.88)], shown_roots=[0, 1],
        ranking=np.zeros((3, 3), np.float32), ranked_patches=tuple(range(9)),
        saliency=np.arange(900, dtype=np.float32).reshape(30, 30), method="igos", soft_edges=False,
    )
    fields.update(overrides)
    return AttentionGraph(**fields)


def test_traits_follow_the_contract():
    viewer = SAGViewer(small_graph())
    assert viewer.grid == [3, 3] and viewer.soft_edges is False
    assert viewer.label == "thing" and viewer.probability == pytest.approx(0.95) and viewer.minimal_sets == 2
    assert viewer.selected == 0  # the first root
    assert [n["parent"] for n in viewer.nodes] == [-1, 0, -1]
    assert viewer.nodes[1] == {"id": 1, "patches": [4, 8], "probability": 0.5, "relative": pytest.approx(0.5 / 0.95),
                               "parent": 0, "removed": 0, "drop": 40.0, "depth": 1, "root": 0}
    assert viewer.nodes[0]["drop"] is None and viewer.nodes[0]["removed"] == -1
    sal = viewer.saliency
    assert sal["dtype"] == "float16" and sal["shape"] == [30, 30] and isinstance(sal["data"], bytes)
    values = np.frombuffer(sal["data"], ARRAY_DTYPES["float16"]).reshape(30, 30)
    assert values.min() == 0 and values.max() == 1  # min-max normalised
    assert viewer.image["width"] == 30 and viewer.image["png"][:4] == b"\x89PNG"
    assert viewer.saliency_method == "igos"
    assert viewer.selected_patches == (0, 4, 8)
    assert repr(viewer) == "SAGViewer(label='thing', roots=2, nodes=3, selected=0, saliency_method='igos')"
    state = viewer.report_state()
    assert {"image", "saliency", "nodes", "selected", "grid", "drop_bins"} <= set(state)
    assert viewer.report_module == "sag_viewer"


def test_front_end_values_are_checked():
    viewer = SAGViewer(small_graph(), selected=-1)
    viewer.selected = 2
    assert viewer.selected_node.patches == (2, 6)
    for bad in (3, -2):
        with pytest.raises(traitlets.TraitError, match=r"selected: expected a node id in \[0, 3\) or -1"):
            viewer.selected = bad
    with pytest.raises(traitlets.TraitError, match="opacity: expected a number in"):
        viewer.opacity = 1.5
    with pytest.raises(traitlets.TraitError, match="colormap: expected one of"):
        viewer.colormap = "jet"


def test_bad_arguments():
    graph = small_graph()
    with pytest.raises(ValueError, match="graph: expected an AttentionGraph"):
        SAGViewer("graph")
    with pytest.raises(ValueError, match=r"selected: expected a node id in \[0, 3\) or -1"):
        SAGViewer(graph, selected=3)
    with pytest.raises(ValueError, match="opacity: expected a number in"):
        SAGViewer(graph, opacity=2)
    with pytest.raises(ValueError, match="colormap: expected one of"):
        SAGViewer(graph, colormap="jet")
    with pytest.raises(ValueError, match=r"saliency: expected None, a Saliency result, or an \(30, 30\) map"):
        SAGViewer(graph, saliency=np.zeros((5, 5)))
    with pytest.raises(ValueError, match="title: expected a str"):
        SAGViewer(graph, title=3)


def test_linked_to_another_saliency_method_of_the_same_image():
    model = xw.models.toy_cnn()
    image = SyntheticParts(n=7, seed=3).image(6)
    graph = xw.sag(model, image, ranking="gradcam", max_rows=64)
    assert graph.method == "gradcam"
    viewer = graph.widget(saliency=xw.explain(model, image, method="saliency"))
    assert viewer.saliency_method == "saliency" and len(viewer.nodes) == len(graph.nodes)
    other = xw.explain(model, SyntheticParts(n=7, seed=3).image(5), method="gradcam")
    with pytest.raises(ValueError, match="saliency: expected a result for the same image as the graph"):
        SAGViewer(graph, saliency=other)
    with pytest.raises(ValueError, match=r"row: expected a row of the saliency result in \[0, 1\)"):
        SAGViewer(graph, saliency=other, row=1)


def test_export_in_a_report(tmp_path):
    from xwidgets.report import write_report

    path = write_report(tmp_path / "sag.html", [SAGViewer(small_graph())], title="SAG")
    text = path.read_text()
    assert 'data-xw-module="sag_viewer"' in text


def test_registered_in_the_build_the_report_runtime_and_the_package():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    assert 'join(root, "js", "sag_viewer.ts")' in (root / "js" / "build.mjs").read_text()
    runtime = (root / "js" / "report_runtime.ts").read_text()
    assert 'import sagViewer from "./sag_viewer"' in runtime and "sag_viewer: sagViewer" in runtime
    assert (root / "pyproject.toml").read_text().count("xwidgets/static/sag_viewer.js") == 2
    assert xw.SAGViewer is SAGViewer and "SAGViewer" in xw.__all__ and "sag" in xw.__all__
    assert callable(xw.sag) and xw.AttentionGraph is AttentionGraph
