"""CompareGrid and a two-method SaliencyViewer in a real JupyterLab on 127.0.0.1: the
binary state (a list of PNG buffers, one map buffer) reaches the browser through the
comm, clicks change the Python traits, and Python assignments change the browser.
Synthetic results, so no model weights are needed."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from .jupyterlab_server import cell_errors, lab_notebook, run_all_cells, run_in_kernel

SETUP = """
import numpy as np
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import CompareGrid, SaliencyViewer

yy, xx = np.mgrid[0:48, 0:48].astype(np.float32) / 47
images = np.stack([np.stack([xx * 200 + 20 * m, yy * 180, xx * 0 + 90], -1).astype(np.uint8) for m in range(3)])
probs = np.tile(np.array([[0.7, 0.2, 0.1]], np.float32), (3, 1))
def result(maps, method, targets):
    return Saliency(maps=np.stack(maps), images=images, image_index=np.repeat(np.arange(3), len(targets)),
                    targets=np.tile(targets, 3), probabilities=probs, labels=["cat", "dog", "car"], method=method)
cam = result([xx * (i + 1) for i in range(9)], "gradcam", [0, 1, 2])
gxi = result([(2 * yy - 1) * (i + 1) for i in range(6)], "gradient_x_input", [1, 0])
grid = CompareGrid({"Grad-CAM": cam, "Gradient x input": gxi}, title="Grid in Lab")
grid
"""

VIEWER = """
viewer = SaliencyViewer({"Grad-CAM": cam, "Gradient x input": gxi}, image=1, selected=1)
viewer
"""


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None} for c in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_compare_grid_and_method_switching_sync_with_the_kernel(chromium_browser, tmp_path, screenshot):
    root = tmp_path / "lab"
    root.mkdir()
    (root / "widgets.ipynb").write_text(json.dumps(notebook([SETUP, VIEWER])))
    with lab_notebook(chromium_browser, root, "widgets.ipynb", {"width": 1280, "height": 1000}) as page:
        run_all_cells(page, timeout_ms=120_000)
        assert cell_errors(page) == []

        grid = page.locator('[data-testid="xw-compare"]').first
        expect(grid).to_have_attribute("data-ready", "true", timeout=30_000)
        expect(grid.locator('[role="gridcell"]')).to_have_count(6)
        assert grid.locator('[data-testid="xw-title"]').inner_text() == "Grid in Lab"
        assert grid.locator('[data-testid="xw-error"]').is_hidden()
        grid.scroll_into_view_if_needed()
        screenshot(page, "jupyterlab-compare-grid")

        # browser -> Python
        grid.locator('[data-testid="xw-cell-1-2"]').click()
        expect(grid.locator('[data-testid="xw-cell-1-2"]')).to_have_attribute("aria-selected", "true")
        page.wait_for_timeout(300)
        assert run_in_kernel(page, "print(grid.selected, grid.selected_cell)").strip() == "[1, 2] ('Gradient x input', 2)"
        grid.locator('[data-testid="xw-shared-global"]').click()
        page.wait_for_timeout(300)
        assert run_in_kernel(page, "print(grid.shared_scale)").strip() == "global"
        # Python -> browser
        run_in_kernel(page, "grid.shared_scale = 'method'; grid.selected = []")
        expect(grid.locator('[data-testid="xw-shared-method"]')).to_have_attribute("aria-checked", "true", timeout=10_000)
        expect(grid.locator('[aria-selected="true"]')).to_have_count(0)

        # the viewer's method picker: one message carries method and class
        viewer = page.locator('[data-testid="xw-saliency"]').first
        expect(viewer).to_have_attribute("data-ready", "true", timeout=30_000)
        viewer.locator('[data-testid="xw-method-1"]').click()
        expect(viewer.locator('[data-testid="xw-class-0"]')).to_have_attribute("aria-checked", "true")
        page.wait_for_timeout(300)
        out = run_in_kernel(page, "print(viewer.method_index, viewer.selected, viewer.selected_class.label)")
        assert out.strip() == "1 0 dog"
        run_in_kernel(page, "viewer.method_index = 0")  # keeps "dog": position 1
        expect(viewer.locator('[data-testid="xw-method-0"]')).to_have_attribute("aria-checked", "true", timeout=10_000)
        expect(viewer.locator('[data-testid="xw-class-1"]')).to_have_attribute("aria-checked", "true")
