"""A real JupyterLab on 127.0.0.1 for browser tests, with private config folders, and
the helpers that drive a notebook in it from Playwright (open it and wait for its kernel,
run every cell, collect the cells' errors, run code in the kernel and read its stdout)."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any, Iterator

#: run ``code`` in the current notebook's kernel; resolves to its stdout (and any error)
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

#: true once the kernel is idle and every code cell of the current notebook has run
ALL_CELLS_DONE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || panel.sessionContext.session?.kernel?.status !== "idle") return false;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === "code");
  return cells.length > 0 && cells.every((cell) => cell.model.executionCount !== null);
}"""

#: "ename: evalue" of every error output in the current notebook
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

#: resolves once the current notebook's document and kernel session are ready
NOTEBOOK_READY = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: pathlib.Path, timeout: float = 90.0) -> Iterator[str]:
    """Start JupyterLab serving ``root``; yield its base URL; stop it afterwards."""
    private = root / ".jupyter-private"
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        folder = private / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    notification = pathlib.Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port = _free_port()
    log = open(private / "lab.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
            "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=",
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--ServerApp.root_dir={root}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{(private / 'lab.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterLab did not answer on {url} within {timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextlib.contextmanager
def lab_notebook(browser, root: pathlib.Path, name: str, viewport: dict, timeout_ms: float = 90_000) -> Iterator[Any]:
    """Start JupyterLab on ``root``, open ``name`` in a fresh context of ``browser`` and wait
    until its kernel is idle; yield the page; close the context and stop the server."""
    with jupyterlab(root) as url:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        try:
            page.goto(f"{url}/lab/tree/{name}")
            page.wait_for_function(
                "() => window.jupyterapp?.shell?.currentWidget?.sessionContext !== undefined", timeout=timeout_ms
            )
            page.evaluate(NOTEBOOK_READY)
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
                timeout=timeout_ms,
            )
            yield page
        finally:
            context.close()


def run_all_cells(page, timeout_ms: float) -> None:
    """Run every cell of the current notebook and wait until all have run and the kernel is idle."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_CELLS_DONE, timeout=timeout_ms, polling=500)


def cell_errors(page) -> list[str]:
    """The "ename: evalue" of every error output in the current notebook."""
    return page.evaluate(CELL_ERRORS)


def run_in_kernel(page, code: str) -> str:
    """Run ``code`` in the current notebook's kernel; its stdout (and any error) as text."""
    return page.evaluate(RUN_IN_KERNEL, code)
