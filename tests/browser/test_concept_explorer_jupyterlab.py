"""ConceptExplorer and ExplanationGallery in a real JupyterLab on 127.0.0.1 (one server, one
notebook): a node click lights its patch outline and its phrase and sets the Python trait
``selected`` (read back through the kernel); a Python assignment moves the highlight. In the
gallery (explanations sent on demand), a thumbnail click makes the kernel send that
explanation and the explorer appears and works; Python opens another one. Built from
``ExplanationData.example`` (synthetic images, hand-made contributions), so no model runs."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from .jupyterlab_server import cell_errors, lab_notebook, run_all_cells, run_in_kernel
from .test_widgets_jupyterlab import notebook

EXPLORER = """
import xwidgets as xw
data = xw.ExplanationData.example(4)
explorer = xw.ConceptExplorer(data)
explorer
"""

GALLERY = """
gallery = xw.ExplanationGallery([xw.ExplanationData.example(i, size=128) for i in (2, 3, 5)], preload=False, title="Lab gallery")
gallery
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


def test_explorer_and_gallery_sync_with_the_kernel(chromium_browser, tmp_path, screenshot):
    root = tmp_path / "lab"
    root.mkdir()
    (root / "explorer.ipynb").write_text(json.dumps(notebook([EXPLORER, GALLERY])))
    with lab_notebook(chromium_browser, root, "explorer.ipynb", {"width": 1280, "height": 1000}) as page:
        run_all_cells(page, timeout_ms=180_000)
        assert cell_errors(page) == []

        explorer = page.locator('.jp-OutputArea [data-testid="xw-explorer"]').first
        expect(explorer).to_have_attribute("data-ready", "true", timeout=30_000)
        assert explorer.locator('[data-testid="xw-question"]').inner_text() == "Why four wheeler?"
        explorer.scroll_into_view_if_needed()

        # browser -> Python: a node click lights its patch outline and its phrase
        explorer.locator('[data-testid="xw-node"][data-ref="n1"]').click()
        page.mouse.move(2, 2)
        lit(explorer, "n1")
        lit(explorer, "n3", "none")
        screenshot(page, "jupyterlab-explorer")
        assert kernel(page, "print(explorer.selected, explorer.selected_item.name)") == "n1 brown wheel"

        # Python -> browser: the highlight moves
        run_in_kernel(page, "explorer.selected = 'n3'")
        lit(explorer, "n3")
        lit(explorer, "n1", "none")
        # and a "why not" class set from Python shows that class's sentence
        run_in_kernel(page, "explorer.selected_class = 3")
        expect(explorer.locator('[data-testid="xw-question"]')).to_have_text("Why not two wheeler?", timeout=10_000)

        # the gallery: a click asks the kernel for the explanation, which then appears and works
        gallery = page.locator('[data-testid="xw-gallery"]').first
        expect(gallery).to_have_attribute("data-ready", "true", timeout=30_000)
        gallery.scroll_into_view_if_needed()
        expect(gallery.locator('[data-testid="xw-thumb"]')).to_have_count(3)
        gallery.locator('[data-testid="xw-thumb"][data-item="1"]').click()
        opened = gallery.locator('[data-testid="xw-explorer"]')
        expect(opened).to_have_attribute("data-ready", "true", timeout=20_000)
        assert opened.locator('[data-testid="xw-question"]').inner_text() == "Why yellow lamp?"
        assert kernel(page, "print(gallery.opened, gallery.explorer['item'], gallery.selected_class)") == "1 1 2"
        # (its sentence names n1, the yellow headlight; n3 has a patch but no phrase)
        opened.locator('[data-testid="xw-node"][data-ref="n1"]').click()
        page.mouse.move(2, 2)
        lit(opened, "n1")
        assert kernel(page, "print(repr(gallery.selected))") == "'n1'"
        run_in_kernel(page, "gallery.selected = 'n3'")
        lit(opened, "n3", phrase=False)
        lit(opened, "n1", "none")
        screenshot(page, "jupyterlab-gallery")
        # Python opens another item: the kernel sends it, the explorer follows
        run_in_kernel(page, "gallery.open_item(2)")
        expect(gallery.locator('.xw-explorer-host[data-item="2"] [data-testid="xw-explorer"]')).to_have_attribute(
            "data-ready", "true", timeout=20_000)
        assert opened.locator('[data-testid="xw-question"]').inner_text() == "Why two wheeler?"
        expect(gallery.locator('[data-testid="xw-thumb"][data-item="2"]')).to_have_attribute("aria-pressed", "true")
        assert kernel(page, "print(gallery.opened, repr(gallery.selected))") == "2 ''"
