"""A notebook exported to HTML with nbconvert's command line (executed, so that the widget
state is saved, and converted by xwidgets' exporter in one call), opened as file:// with
every other request aborted: the ConceptExplorer and the ExplanationGallery are drawn from
the saved state and stay interactive, with no kernel and no network."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from playwright.sync_api import expect

from .harness import canvas_rgba
from .test_report_offline import open_offline

pytestmark = pytest.mark.browser

CELLS = [
    "# Linked explorer\n\nExported with `jupyter nbconvert --execute --to xwidgets.report.notebook.XWidgetsHTMLExporter`.",
    "import xwidgets as xw\n"
    "data = xw.ExplanationData.example(4)\n"
    "explorer = xw.ConceptExplorer(data, selected='n2')\n"
    "explorer",
    "gallery = xw.ExplanationGallery([xw.ExplanationData.example(i, size=96) for i in range(3)], title='Three images')\n"
    "gallery",
    "import ipywidgets\nipywidgets.IntSlider(3)",
]


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": c} if c.startswith("#") else
            {"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
            for c in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_exported_notebook_draws_the_explorer_offline_and_it_is_clickable(browser_page, tmp_path, screenshot):
    page = browser_page
    source = tmp_path / "explorer.ipynb"
    source.write_text(json.dumps(notebook(CELLS)))
    run = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to",
         "xwidgets.report.notebook.XWidgetsHTMLExporter", str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    path = tmp_path / "explorer.html"
    text = path.read_text()
    assert "<script src" not in text and "require.js" not in text and "embed-amd" not in text

    requests, aborted = open_offline(page, path)
    explorer = page.locator('[data-testid="xw-explorer"]').first
    expect(explorer).to_have_attribute("data-ready", "true")
    screenshot(page, "nbconvert_export")
    # drawn: the image canvas has the picture, the graph its nodes, the saved selection lit
    canvas = canvas_rgba(explorer.locator('[data-testid="xw-image-canvas"]'))
    assert canvas[..., :3].std() > 10
    assert explorer.locator('[data-testid="xw-question"]').inner_text() == "Why four wheeler?"
    expect(explorer.locator('[data-testid="xw-node"]')).to_have_count(7)
    expect(explorer.locator('[data-testid="xw-patch"][data-ref="n2"]')).to_have_attribute("data-state", "selected")
    # clickable: a node lights its patch and its phrase
    explorer.locator('[data-testid="xw-node"][data-ref="n1"]').click()
    page.mouse.move(2, 2)
    expect(explorer.locator('[data-testid="xw-patch"][data-ref="n1"]')).to_have_attribute("data-state", "selected")
    expect(explorer.locator('[data-testid="xw-phrase"][data-ref="n1"]').first).to_have_attribute("data-state", "selected")
    expect(explorer.locator('[data-testid="xw-patch"][data-ref="n2"]')).to_have_attribute("data-state", "none")
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('selected'))") == "n1"
    after = canvas_rgba(explorer.locator('[data-testid="xw-image-canvas"]'))
    assert np.abs(after.astype(int) - canvas.astype(int)).mean() > 1  # the veil moved

    # the gallery (preloaded: 3 items) opens an explanation offline
    gallery = page.locator('[data-testid="xw-gallery"]')
    expect(gallery).to_have_attribute("data-ready", "true")
    gallery.locator('[data-testid="xw-thumb"][data-item="2"]').click()
    opened = gallery.locator('[data-testid="xw-explorer"]')
    expect(opened).to_have_attribute("data-ready", "true")
    assert opened.locator('[data-testid="xw-question"]').inner_text() == "Why red lamp?"
    # another ipywidget (no xwidgets module) shows its text, the Markdown cell its text
    assert "IntSlider(value=3)" in page.locator("main").inner_text()
    assert page.locator("h1", has_text="Linked explorer").count() == 1

    assert aborted == [] and requests == [path.resolve().as_uri()]
    assert page.errors == []
