"""The quickstart notebook in a real JupyterLab on 127.0.0.1: the widget renders, a
click in the browser changes the Python trait, and a Python assignment changes the
browser. Needs the anywidget lab extension (installed with the anywidget wheel)."""

from __future__ import annotations

import pathlib
import shutil

from playwright.sync_api import expect

from .jupyterlab_server import jupyterlab

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "01_quickstart.ipynb"

RUN_IN_KERNEL = """async (code) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const future = panel.sessionContext.session.kernel.requestExecute({ code });
  let text = "";
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === "stream") text += msg.content.text;
    if (msg.header.msg_type === "error") text += "ERROR " + msg.content.ename + ": " + msg.content.evalue;
  };
  await future.done;
  return text;
}"""

ALL_CELLS_DONE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || panel.sessionContext.session?.kernel?.status !== "idle") return false;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === "code");
  return cells.length > 0 && cells.every((cell) => cell.model.executionCount !== null);
}"""

CELL_ERRORS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const errors = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== "code") continue;
    for (let i = 0; i < cell.model.outputs.length; i++) {
      const out = cell.model.outputs.get(i).toJSON();
      if (out.output_type === "error") errors.push(out.ename + ": " + out.evalue);
    }
  }
  return errors;
}"""


def test_quickstart_runs_in_jupyterlab_and_the_class_trait_syncs_both_ways(chromium_browser, tmp_path, screenshot):
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / "quickstart.ipynb")
    with jupyterlab(root) as url:
        context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            page.goto(f"{url}/lab/tree/quickstart.ipynb")
            page.wait_for_function(
                "() => window.jupyterapp?.shell?.currentWidget?.sessionContext !== undefined", timeout=90_000
            )
            page.evaluate(
                """async () => {
                  const panel = window.jupyterapp.shell.currentWidget;
                  await panel.context.ready;
                  await panel.sessionContext.ready;
                }"""
            )
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
                timeout=90_000,
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(ALL_CELLS_DONE, timeout=240_000, polling=500)
            assert page.evaluate(CELL_ERRORS) == []

            viewer = page.locator('[data-testid="xw-saliency"]').first
            expect(viewer).to_be_visible(timeout=30_000)
            viewer.scroll_into_view_if_needed()
            screenshot(page, "jupyterlab-quickstart")

            # browser -> Python
            viewer.locator('[data-testid="xw-class-2"]').click()
            expect(viewer.locator('[data-testid="xw-class-2"]')).to_have_attribute("aria-checked", "true")
            page.wait_for_timeout(300)  # the change message travels over the websocket
            assert page.evaluate(RUN_IN_KERNEL, "print(viewer.selected)").strip() == "2"

            # Python -> browser
            page.evaluate(RUN_IN_KERNEL, "viewer.selected = 3")
            expect(viewer.locator('[data-testid="xw-class-3"]')).to_have_attribute("aria-checked", "true", timeout=10_000)
            expect(viewer.locator('[data-testid="xw-class-2"]')).to_have_attribute("aria-checked", "false")
        finally:
            context.close()
