"""Notebook export (xwidgets.report.notebook), without a kernel: the widget state a notebook
saved (as nbclient saves it: base64 buffers with their paths) is read back into each
xwidgets widget's own state, bytes and all; the exported HTML draws those views with the
inlined report runtime, loads no script from anywhere, and shows other widgets as text.
The executed, clicked version runs in tests/browser/test_notebook_export.py."""

from __future__ import annotations

import base64
import json
import re

import nbformat
import pytest
from ipywidgets.widgets.widget import _remove_buffers

import xwidgets as xw
from xwidgets.report.notebook import WIDGET_STATE, WIDGET_VIEW, XWidgetsHTMLExporter, export_notebook, notebook_widgets
from xwidgets.widgets import ConceptExplorer, ExplanationData, ExplanationGallery


def saved(widget) -> dict:
    """A widget's entry in the notebook metadata, as nbclient writes it."""
    state, paths, buffers = _remove_buffers(widget.get_state())
    return {
        "model_name": state["_model_name"], "model_module": state["_model_module"],
        "model_module_version": state["_model_module_version"], "state": state,
        "buffers": [{"data": base64.b64encode(b).decode(), "encoding": "base64", "path": p} for p, b in zip(paths, buffers)],
    }


def view(model_id: str, text: str) -> dict:
    return nbformat.v4.new_output("display_data", data={
        "text/plain": text, WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id}})


@pytest.fixture(scope="module")
def executed():
    """A notebook as if executed: an explorer, a gallery, another anywidget, an IntSlider and
    a view whose state was not saved."""
    explorer = ConceptExplorer(ExplanationData.example(4, size=96), selected="n2")
    gallery = ExplanationGallery([ExplanationData.example(i, size=64) for i in range(2)])
    other = {"model_name": "AnyModel", "model_module": "anywidget", "model_module_version": "~0.11.*",
             "state": {"_anywidget_id": "somebody.Else", "_esm": "export default {}", "value": 1}}
    slider = {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls",
              "model_module_version": "2.0.0", "state": {"value": 3}}
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("explorer; gallery", execution_count=1)
    cell.outputs = [view("m-explorer", repr(explorer)), view("m-gallery", repr(gallery)), view("m-other", "Else()"),
                    view("m-slider", "IntSlider(value=3)"), view("m-gone", "Lost(<b>x</b>)")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title $x^2$"), cell]
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        "m-explorer": saved(explorer), "m-gallery": saved(gallery), "m-other": other, "m-slider": slider}}}
    return nb, explorer, gallery


def test_saved_state_is_read_back_with_its_bytes(executed):
    nb, explorer, gallery = executed
    widgets, views = notebook_widgets(nb)
    assert views == {"m-explorer": {"index": 0, "module": "concept_explorer"},
                     "m-gallery": {"index": 1, "module": "explanation_gallery"}}
    assert widgets[0]["module"] == "concept_explorer"
    assert widgets[0]["state"] == explorer.report_state()  # the traits a report sends, bytes equal
    assert widgets[0]["state"]["image"]["png"][:8] == b"\x89PNG\r\n\x1a\n"
    state = widgets[1]["state"]
    assert set(state) == set(ExplanationGallery.state_trait_names())
    assert state["thumbnails"][1]["png"] == gallery.thumbnails[1]["png"]
    assert state["explorers"][0]["masks"]["data"] == gallery.explorers[0]["masks"]["data"]
    # without the anywidget id, the bundle text identifies the widget
    del nb.metadata.widgets[WIDGET_STATE]["state"]["m-explorer"]["state"]["_anywidget_id"]
    try:
        assert notebook_widgets(nb)[1]["m-explorer"]["module"] == "concept_explorer"
    finally:
        nb.metadata.widgets[WIDGET_STATE]["state"]["m-explorer"]["state"]["_anywidget_id"] = \
            "xwidgets.widgets.concept_explorer.ConceptExplorer"


def test_exported_html_is_self_contained(executed):
    nb, _, _ = executed
    body, resources = XWidgetsHTMLExporter().from_notebook_node(nb)
    # our views are the report runtime's placeholders; the runtime and the state are inline
    assert re.search(r'<div class="jp-OutputArea-output xw-report-widget" data-xw-module="concept_explorer" data-xw-widget="0"', body)
    assert 'data-xw-module="explanation_gallery" data-xw-widget="1"' in body
    state = re.search(r'<script id="xw-report-state" type="application/json">(.*?)</script>', body, re.S).group(1)
    document = json.loads(state)
    assert [w["module"] for w in document["widgets"]] == ["concept_explorer", "explanation_gallery"]
    assert document["widgets"][0]["state"]["selected"] == "n2"
    assert "window.xwidgets" in body
    # nothing loads from anywhere: no script src, no link, no CDN, no widget metadata left
    assert "<script src" not in body and "<link" not in body
    for needle in ("unpkg", "cdn.jsdelivr", "require.js", "embed-amd", "mathjax", WIDGET_STATE):
        assert needle not in body.lower(), needle
    meta = re.search(r"<meta [^>]*Content-Security-Policy[^>]*>", body).group(0)
    assert "default-src 'none'" in meta and "script-src 'unsafe-inline'" in meta
    # other widgets, and views without saved state, show their text (escaped)
    assert "Else()" in body and "IntSlider(value=3)" in body and "Lost(&lt;b&gt;x&lt;/b&gt;)" in body
    assert "Title" in body
    # the notebook given is not changed
    assert "m-slider" in nb.metadata.widgets[WIDGET_STATE]["state"]


def test_export_notebook_writes_the_file_and_checks_its_arguments(executed, tmp_path):
    nb, _, _ = executed
    source = tmp_path / "saved.ipynb"
    nbformat.write(nb, source)
    path = xw.export_notebook(source)
    assert path == tmp_path / "saved.html" and 'data-xw-module="concept_explorer"' in path.read_text()
    other = export_notebook(source, tmp_path / "out" / "x.html")
    assert other.read_text() == path.read_text()
    with pytest.raises(ValueError, match="^path: expected an existing .ipynb file; got"):
        export_notebook(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="^path: expected a str or pathlib.Path"):
        export_notebook(3)
    with pytest.raises(ValueError, match="^execute: expected True or False; got 'yes'"):
        export_notebook(source, execute="yes")
    with pytest.raises(ValueError, match=r"^timeout: expected a number of seconds > 0; got 0"):
        export_notebook(source, timeout=0)
