"""The SAGViewer's front end in the plain harness page of ``harness.py`` (no Jupyter), and
in an offline report.

Most tests use a hand-built ``AttentionGraph`` on a uniform grey 3 x 3-patch image with hard
patch edges, so what the canvas must show is known exactly: revealed cells keep the grey
(180), hidden ones are dimmed to 25% (45), and the selected cells are outlined in white.
One test renders a real graph of the toy CNN.
"""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.report import write_report
from xwidgets.sag import AttentionGraph, SAGNode, drop_class
from xwidgets.widgets import SAGViewer

from .harness import canvas_rgba, model_get, open_harness
from .test_report_offline import open_offline

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-sag"][data-ready="true"]'
IMAGE = '[data-testid="xw-image"]'
SALIENCY = '[data-testid="xw-saliency"]'
GREY = 180
# (patches, probability, parent, removed)
SPEC = [
    ((0, 4, 8), 0.90, None, None),  # 0: root A
    ((2, 6), 0.88, None, None),  # 1: root B
    ((4, 8), 0.80, 0, 0),  # 2: drop 10 (small)
    ((0, 8), 0.50, 0, 4),  # 3: drop 40 (medium)
    ((0, 4), 0.20, 0, 8),  # 4: drop 70 (large)
    ((8,), 0.45, 2, 4),  # 5: drop 35 (medium)
]


def hand_graph() -> AttentionGraph:
    nodes = []
    for i, (patches, p, parent, removed) in enumerate(SPEC):
        root = i if parent is None else nodes[parent].root
        drop = None if parent is None else 100 * (SPEC[parent][1] - p)
        depth = 0 if parent is None else nodes[parent].depth + 1
        nodes.append(SAGNode(i, patches, p, p / 0.95, parent, removed, drop, depth, root))
    saliency = np.tile(np.linspace(0, 1, 63, dtype=np.float32), (63, 1))
    return AttentionGraph(
        image=np.full((63, 63, 3), GREY, np.uint8), grid=(3, 3), target=1, label="thing <b>1</b>",
        full_probability=0.95, threshold=0.9, nodes=nodes,
        minimal_sets=[((0, 4, 8), 0.9), ((2, 6), 0.88), ((1, 5), 0.86)], shown_roots=[0, 1],
        ranking=np.zeros((3, 3), np.float32), ranked_patches=tuple(range(9)), saliency=saliency,
        method="gradcam", soft_edges=False,
    )


def open_viewer(page, graph=None, **kwargs) -> SAGViewer:
    viewer = SAGViewer(graph or hand_graph(), **kwargs)
    open_harness(page, viewer, READY)
    return viewer


def cell_levels(page, selector=IMAGE) -> np.ndarray:
    """(3, 3) mean grey of each cell's central pixels on the canvas."""
    rgba = canvas_rgba(page.locator(selector)).astype(float)
    size = rgba.shape[0] / 3
    out = np.zeros((3, 3))
    for r in range(3):
        for c in range(3):
            y, x = int((r + 0.5) * size), int((c + 0.5) * size)
            out[r, c] = rgba[y - 4:y + 5, x - 4:x + 5, :3].mean()
    return out


def lit_cells(page) -> set[int]:
    levels = cell_levels(page)
    assert np.all((np.abs(levels - GREY) < 3) | (np.abs(levels - 0.25 * GREY) < 3)), levels
    return {int(k) for k in np.flatnonzero(levels.reshape(-1) > GREY / 2)}


def outlined(page, cell: int) -> bool:
    """Whether the saliency canvas has the white outline inside ``cell``'s left edge."""
    rgba = canvas_rgba(page.locator(SALIENCY))
    size = rgba.shape[0] / 3
    r, c = divmod(cell, 3)
    y, x = int((r + 0.5) * size), int(c * size)
    return bool((rgba[y, x:x + 4, :3] == 255).all(axis=1).any())


def test_renders_the_trees_with_edges_by_drop(browser_page, screenshot):
    page = browser_page
    graph = hand_graph()
    open_viewer(page, graph)
    screenshot(page, "sag_initial")
    assert page.locator('[data-testid^="xw-tree-"]').count() == 2
    assert page.locator(".xw-node").count() == len(SPEC)
    for node in graph.nodes:
        if node.parent is not None:
            edge = page.locator(f'[data-testid="xw-edge-{node.id}"]')
            assert edge.get_attribute("data-drop") == drop_class(node.drop) == graph.drop_class(node.id)
    assert [page.get_attribute(f'[data-testid="xw-edge-{i}"]', "data-drop") for i in (2, 3, 4, 5)] == [
        "small", "medium", "large", "medium"]
    subtitle = page.text_content('[data-testid="xw-subtitle"]')
    assert subtitle.startswith("thing <b>1</b>: p 95.0%") and "3 minimal sufficient sets" in subtitle and "2 shown" in subtitle
    assert page.locator('[data-testid="xw-subtitle"] b').count() == 0  # labels are text, never HTML
    # the first root is selected: its patches lit, the rest dimmed
    assert model_get(page, "selected") == 0
    assert lit_cells(page) == {0, 4, 8}
    assert page.get_attribute('[data-testid="xw-node-0"]', "aria-selected") == "true"
    # the thumbnails are masked images too
    thumb = canvas_rgba(page.locator('[data-testid="xw-node-1"] canvas')).astype(float)
    n = thumb.shape[0] // 3
    assert abs(thumb[n // 2, 5 * n // 2, :3].mean() - GREY) < 3 and abs(thumb[n // 2, n // 2, :3].mean() - 45) < 3
    assert page.locator('[data-testid="xw-error"]').is_hidden()
    assert page.errors == [] and page.blocked == []


def test_clicking_a_node_shows_its_patches_on_the_image_and_the_saliency_map(browser_page):
    page = browser_page
    open_viewer(page)
    assert outlined(page, 0) and outlined(page, 4) and not outlined(page, 2)
    page.click('[data-testid="xw-node-3"]')
    assert model_get(page, "selected") == 3
    assert page.evaluate("window.model.saves") == 1
    assert page.get_attribute('[data-testid="xw-sag"]', "data-patches") == "0,8"
    assert lit_cells(page) == {0, 8}
    assert outlined(page, 0) and outlined(page, 8) and not outlined(page, 4)
    assert page.get_attribute('[data-testid="xw-node-3"]', "aria-selected") == "true"
    assert page.get_attribute('[data-testid="xw-node-0"]', "aria-selected") == "false"
    caption = page.text_content('[data-testid="xw-caption"]')
    assert "2 patches" in caption and "p 50.0%" in caption and "\u221240.0 points without patch 4" in caption
    page.click('[data-testid="xw-node-1"]')
    assert lit_cells(page) == {2, 6} and outlined(page, 2) and outlined(page, 6) and not outlined(page, 8)
    # the keyboard walks the trees: End (last root), Home, down, right, up
    page.focus('[data-testid="xw-node-1"]')
    page.keyboard.press("Home")
    assert model_get(page, "selected") == 0
    page.keyboard.press("ArrowDown")
    assert model_get(page, "selected") == 2 and lit_cells(page) == {4, 8}
    page.keyboard.press("ArrowDown")
    assert model_get(page, "selected") == 5 and lit_cells(page) == {8}
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowRight")
    assert model_get(page, "selected") == 3
    assert page.evaluate("document.activeElement.dataset.testid") == "xw-node-3"
    assert page.errors == []


def test_selection_and_display_from_python(browser_page):
    page = browser_page
    open_viewer(page, selected=-1, opacity=1.0, colormap="gray")
    assert lit_cells(page) == set(range(9)) and model_get(page, "selected") == -1
    assert page.text_content('[data-testid="xw-caption"]') == "Click a node to see its patches."
    # opacity 1, gray: the saliency canvas shows the map, a left-to-right ramp
    levels = cell_levels(page, SALIENCY)
    assert levels[1, 0] < levels[1, 1] < levels[1, 2] and levels[1, 2] > 200
    page.evaluate("window.model.set('selected', 4)")
    assert lit_cells(page) == {0, 4}
    page.evaluate("window.model.set('selected', 99)")  # out of range from the kernel side: none
    assert page.get_attribute('[data-testid="xw-sag"]', "data-selected") == "-1"
    assert page.errors == []


def test_a_toy_cnn_graph(browser_page):
    import xwidgets as xw
    from xwidgets.data.synthetic import SyntheticParts

    page = browser_page
    model = xw.models.toy_cnn()
    image = SyntheticParts(n=7, seed=3).image(6)
    graph = xw.sag(model, image, ranking="gradcam", max_rows=64)
    viewer = open_viewer(page, graph, saliency=xw.explain(model, image, method="gradcam"))
    assert viewer.saliency_method == "gradcam"
    assert page.locator(".xw-node").count() == len(graph.nodes)
    leaf = max(graph.nodes, key=lambda n: n.depth)
    page.click(f'[data-testid="xw-node-{leaf.id}"]')
    assert model_get(page, "selected") == leaf.id
    assert page.get_attribute('[data-testid="xw-sag"]', "data-patches") == ",".join(map(str, leaf.patches))
    assert page.errors == [] and page.blocked == []


def test_renders_offline_in_a_report(browser_page, tmp_path):
    page = browser_page
    path = write_report(tmp_path / "sag.html", [SAGViewer(hand_graph(), selected=4)], title="SAG")
    _, aborted = open_offline(page, path)
    root = page.locator('[data-testid="xw-sag"]')
    expect(root).to_have_attribute("data-ready", "true")
    assert lit_cells(page) == {0, 4}
    page.click('[data-testid="xw-node-1"]')
    assert lit_cells(page) == {2, 6}
    assert aborted == [] and page.errors == []
