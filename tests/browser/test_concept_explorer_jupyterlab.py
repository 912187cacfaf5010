"""The tutorial notebooks/07_linked_explorer.ipynb in a real JupyterLab on 127.0.0.1 (issue 8):
every cell runs without error; in its ConceptExplorer (the shipped toy-CNN concept explainer
on a synthetic image) a node click lights its patch outline and its phrase and sets the
Python trait ``selected`` (read back through the kernel); a Python assignment moves the
highlight, and a "why not" class set from Python shows that class's question. In the
tutorial's gallery (preloaded) a thumbnail click opens that explanation; in one more
gallery appended to the notebook (``preload=False``), a click makes the kernel send the
explanation, which appears and works, and Python opens another one.

What to click comes from the kernel (the phrases of the sentence shown), so the test does
not depend on the shipped explainer's exact contributions."""

from __future__ import annotations

import json
import pathlib

import nbformat
from playwright.sync_api import expect

from .jupyterlab_server import cell_errors, lab_notebook, run_all_cells, run_in_kernel

TUTORIAL = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "07_linked_explorer.ipynb"

#: appended to the tutorial: a gallery that sends each explanation only when it is opened
LAZY_GALLERY = """
lazy = xw.ExplanationGallery(items[:3], preload=False, title="Lab gallery")
lazy
"""

#: two nodes of the class shown that have a patch and a phrase, other than the selected one
PHRASED_NODES = """
import json as _json
def _phrased(data, class_index, selected):
    g = data.graph(class_index)
    refs = []
    for s in g.text.spans:
        n = g.node(s.id) if s.kind == "node" else None
        if n is not None and n.present and n.box is not None and s.id != selected and s.id not in refs:
            refs.append(s.id)
    return {"refs": refs, "names": [g.node(r).name for r in refs]}
"""


def lit(widget, ref: str, state: str = "selected", phrase: bool = True) -> None:
    """The node, its patch outline and (when it has one) its phrase carry ``state``."""
    expect(widget.locator(f'[data-testid="xw-node"][data-ref="{ref}"]')).to_have_attribute("data-state", state, timeout=10_000)
    expect(widget.locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')).to_have_attribute("data-state", state)
    if phrase:
        expect(widget.locator(f'[data-testid="xw-phrase"][data-ref="{ref}"]').first).to_have_attribute("data-state", state)


def kernel(page, code: str) -> str:
    """Run ``code`` once the change messages have reached the kernel; its stdout."""
    page.wait_for_timeout(300)
    return run_in_kernel(page, code).strip()


def kernel_json(page, expression: str):
    out = kernel(page, f"print(_json.dumps({expression}))")
    assert not out.startswith("ERROR"), out
    return json.loads(out)


def tutorial_with(extra: list[str]) -> dict:
    """The tutorial's notebook (outputs cleared) with ``extra`` code cells appended."""
    nb = nbformat.read(TUTORIAL, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells += [nbformat.v4.new_code_cell(c.strip()) for c in extra]
    return nb


def test_tutorial_explorer_and_gallery_sync_with_the_kernel(chromium_browser, tmp_path, screenshot):
    root = tmp_path / "lab"
    root.mkdir()
    nbformat.write(tutorial_with([LAZY_GALLERY, PHRASED_NODES]), root / TUTORIAL.name)
    with lab_notebook(chromium_browser, root, TUTORIAL.name, {"width": 1280, "height": 1000}) as page:
        run_all_cells(page, timeout_ms=240_000)
        assert cell_errors(page) == []

        # ---- the tutorial's explorer (the first one in the notebook's outputs)
        explorer = page.locator('.jp-OutputArea [data-testid="xw-explorer"]').first
        expect(explorer).to_have_attribute("data-ready", "true", timeout=30_000)
        explorer.scroll_into_view_if_needed()
        state = kernel_json(page, "{'question': explorer.data.question(explorer.selected_class), "
                                  "'selected': explorer.selected, 'other': explorer.data.classes[1].index, "
                                  "'why_not': explorer.data.question(explorer.data.classes[1].index), "
                                  "**_phrased(explorer.data, explorer.selected_class, explorer.selected)}")
        assert state["question"].startswith("Why ") and state["why_not"].startswith("Why not ")
        assert len(state["refs"]) >= 2, state
        a, b = state["refs"][:2]
        # the tutorial's last Python selection reached the browser
        assert explorer.locator('[data-testid="xw-question"]').inner_text() == state["question"]
        lit(explorer, state["selected"])

        # browser -> Python: a node click lights its patch outline and its phrase
        explorer.locator(f'[data-testid="xw-node"][data-ref="{a}"]').click()
        page.mouse.move(2, 2)
        lit(explorer, a)
        lit(explorer, state["selected"], "none")
        screenshot(page, "jupyterlab-explorer")
        assert kernel(page, "print(explorer.selected, explorer.selected_item.name)") == f"{a} {state['names'][0]}"

        # Python -> browser: the highlight moves
        run_in_kernel(page, f"explorer.selected = {b!r}")
        lit(explorer, b)
        lit(explorer, a, "none")
        # and a "why not" class set from Python shows that class's question
        run_in_kernel(page, f"explorer.selected_class = {state['other']}")
        expect(explorer.locator('[data-testid="xw-question"]')).to_have_text(state["why_not"], timeout=10_000)

        # ---- the tutorial's gallery (every explanation preloaded): a click opens one
        gallery = page.locator('[data-testid="xw-gallery"]').nth(0)
        expect(gallery).to_have_attribute("data-ready", "true", timeout=30_000)
        gallery.scroll_into_view_if_needed()
        expect(gallery.locator('[data-testid="xw-thumb"]')).to_have_count(7)
        gallery.locator('[data-testid="xw-thumb"][data-item="1"]').click()
        expect(gallery.locator('.xw-explorer-host[data-item="1"] [data-testid="xw-explorer"]')).to_have_attribute(
            "data-ready", "true", timeout=20_000)
        first = kernel_json(page, "{'question': items[1].question(items[1].predicted), 'predicted': items[1].predicted}")
        expect(gallery.locator('[data-testid="xw-question"]')).to_have_text(first["question"])
        assert kernel(page, "print(gallery.opened, gallery.selected_class)") == f"1 {first['predicted']}"

        # ---- the appended gallery (preload=False): a click asks the kernel for the explanation
        lazy = page.locator('[data-testid="xw-gallery"]').nth(1)
        expect(lazy).to_have_attribute("data-ready", "true", timeout=30_000)
        lazy.scroll_into_view_if_needed()
        expect(lazy.locator('[data-testid="xw-thumb"]')).to_have_count(3)
        assert kernel(page, "print(lazy.preloaded, lazy.explorers)") == "False []"
        lazy.locator('[data-testid="xw-thumb"][data-item="1"]').click()
        opened = lazy.locator('[data-testid="xw-explorer"]')
        expect(opened).to_have_attribute("data-ready", "true", timeout=20_000)
        item = kernel_json(page, "{'question': items[1].question(items[1].predicted), 'predicted': items[1].predicted, "
                                 "**_phrased(items[1], items[1].predicted, '')}")
        assert opened.locator('[data-testid="xw-question"]').inner_text() == item["question"]
        assert kernel(page, "print(lazy.opened, lazy.explorer['item'], lazy.selected_class)") == f"1 1 {item['predicted']}"
        c, d = item["refs"][:2]
        opened.locator(f'[data-testid="xw-node"][data-ref="{c}"]').click()
        page.mouse.move(2, 2)
        lit(opened, c)
        assert kernel(page, "print(repr(lazy.selected))") == repr(c)
        run_in_kernel(page, f"lazy.selected = {d!r}")
        lit(opened, d)
        lit(opened, c, "none")
        screenshot(page, "jupyterlab-gallery")
        # Python opens another item: the kernel sends it, the explorer follows
        run_in_kernel(page, "lazy.open_item(2)")
        expect(lazy.locator('.xw-explorer-host[data-item="2"] [data-testid="xw-explorer"]')).to_have_attribute(
            "data-ready", "true", timeout=20_000)
        second = kernel(page, "print(items[2].question(items[2].predicted))")
        assert opened.locator('[data-testid="xw-question"]').inner_text() == second
        expect(lazy.locator('[data-testid="xw-thumb"][data-item="2"]')).to_have_attribute("aria-pressed", "true")
        assert kernel(page, "print(lazy.opened, repr(lazy.selected))") == "2 ''"
