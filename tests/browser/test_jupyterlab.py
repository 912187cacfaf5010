"""The quickstart notebook in a real JupyterLab on 127.0.0.1: the widget renders, a
click in the browser changes the Python trait, and a Python assignment changes the
browser. Needs the anywidget lab extension (installed with the anywidget wheel)."""

from __future__ import annotations

import pathlib
import shutil

from playwright.sync_api import expect

from .jupyterlab_server import cell_errors, lab_notebook, run_all_cells, run_in_kernel

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "01_quickstart.ipynb"


def test_quickstart_runs_in_jupyterlab_and_the_class_trait_syncs_both_ways(chromium_browser, tmp_path, screenshot):
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / "quickstart.ipynb")
    with lab_notebook(chromium_browser, root, "quickstart.ipynb", {"width": 1280, "height": 900}) as page:
        run_all_cells(page, timeout_ms=240_000)
        assert cell_errors(page) == []

        viewer = page.locator('[data-testid="xw-saliency"]').first
        expect(viewer).to_be_visible(timeout=30_000)
        viewer.scroll_into_view_if_needed()
        screenshot(page, "jupyterlab-quickstart")

        # browser -> Python
        viewer.locator('[data-testid="xw-class-2"]').click()
        expect(viewer.locator('[data-testid="xw-class-2"]')).to_have_attribute("aria-checked", "true")
        page.wait_for_timeout(300)  # the change message travels over the websocket
        assert run_in_kernel(page, "print(viewer.selected)").strip() == "2"

        # Python -> browser
        run_in_kernel(page, "viewer.selected = 3")
        expect(viewer.locator('[data-testid="xw-class-3"]')).to_have_attribute("aria-checked", "true", timeout=10_000)
        expect(viewer.locator('[data-testid="xw-class-2"]')).to_have_attribute("aria-checked", "false")
