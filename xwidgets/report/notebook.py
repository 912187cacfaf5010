"""Notebooks exported to ONE self-contained HTML file in which xwidgets' widgets render.

nbconvert's own HTML export embeds the widget state that an executed notebook saved, but
renders it with require.js, ``@jupyter-widgets/html-manager``'s 3.5 MB ``embed-amd.js``
and anywidget's AMD module, all loaded from CDNs: opened offline, the output area stays
empty. Here, as in :mod:`xwidgets.report.html`, each xwidgets widget in the notebook is
drawn by the report runtime (tens of KiB, inlined) from the state the notebook saved: the
very same front-end code as in JupyterLab, interactive, with no kernel and no network (a
Content-Security-Policy forbids the page any request). Other ipywidgets show their text
representation, and the CDN scripts (require.js, MathJax, mermaid) are left out, so
formulas in Markdown cells stay as TeX.

Use :func:`export_notebook` (``xw.export_notebook("nb.ipynb", execute=True)``), or
nbconvert's command line with this exporter::

    jupyter nbconvert --execute --to xwidgets.report.notebook.XWidgetsHTMLExporter nb.ipynb

The widget state must be in the notebook: executing it with nbconvert or nbclient saves it
(``store_widget_state``, on by default), as does JupyterLab's "Save Widget State
Automatically" (Settings menu). A widget whose state is missing shows its text instead.
"""

from __future__ import annotations

import base64
import copy
import html
import pathlib
from typing import Any

from .._validation import bad_argument
from ..widgets.base import XWidget, read_bundle
from .html import _CSP, _script_js, _script_json, STATE_VERSION, encode_state

__all__ = ["export_notebook", "notebook_widgets", "XWidgetsHTMLExporter", "XWidgetsPreprocessor"]

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _widget_classes() -> dict[str, type[XWidget]]:
    """Every xwidgets widget class by its front-end module name (``report_module``)."""
    from .. import widgets  # noqa: F401  (imports every widget class)

    found: dict[str, type[XWidget]] = {}
    stack = list(XWidget.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls._module and cls._module not in found:
            found[cls._module] = cls
    return found


def _identify(state: dict[str, Any], classes: dict[str, type[XWidget]]) -> type[XWidget] | None:
    """The xwidgets class of a saved anywidget model: by anywidget's ``_anywidget_id``
    (``module.ClassName``), else by its ``_esm`` (the bundle's text), else None."""
    ident = state.get("_anywidget_id")
    if isinstance(ident, str):
        for cls in classes.values():
            if ident == f"{cls.__module__}.{cls.__name__}":
                return cls
    esm = state.get("_esm")
    if isinstance(esm, str) and esm:
        for name, cls in classes.items():
            try:
                if esm == read_bundle(name):
                    return cls
            except FileNotFoundError:
                continue
    return None


def _put(state: dict[str, Any], path: list[Any], value: bytes) -> None:
    target: Any = state
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def notebook_widgets(nb: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The xwidgets widgets whose state a notebook saved.

    Returns ``(widgets, views)``: ``widgets`` as the report runtime reads them
    (``{"module", "state"}``, bytes restored from the saved base64 buffers, only the
    widget's own traits), and ``views``: model id -> ``{"index", "module"}``.
    """
    saved = (nb.get("metadata", {}).get("widgets", {}) or {}).get(WIDGET_STATE, {}) or {}
    models = saved.get("state", {}) or {}
    classes = _widget_classes()
    widgets: list[dict[str, Any]] = []
    views: dict[str, dict[str, Any]] = {}
    for model_id, model in models.items():
        if model.get("model_module") != "anywidget":
            continue
        state = copy.deepcopy(model.get("state", {}))
        cls = _identify(state, classes)
        if cls is None:
            continue
        for buffer in model.get("buffers", []) or []:
            if buffer.get("encoding", "base64") != "base64":
                raise bad_argument(f"widget {model_id} buffer {buffer.get('path')}", "base64 encoding", buffer.get("encoding"))
            _put(state, list(buffer["path"]), base64.b64decode(buffer["data"]))
        own = {name: state[name] for name in cls.state_trait_names() if name in state}
        views[model_id] = {"index": len(widgets), "module": cls._module}
        widgets.append({"module": cls._module, "state": own})
    return widgets, views


def _nbconvert():
    try:
        from nbconvert.exporters import HTMLExporter
        from nbconvert.preprocessors import Preprocessor
    except ImportError as error:  # nbconvert is not one of xwidgets' own dependencies
        raise ImportError("Exporting notebooks needs nbconvert (and nbclient to execute them): "
                          "pip install nbconvert (it comes with JupyterLab and with xwidgets[dev])") from error

    return HTMLExporter, Preprocessor


_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}
<meta http-equiv="Content-Security-Policy" content="{{ resources.xwidgets.csp }}">
{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_widget_view scoped -%}
{%- set view = resources.xwidgets.views.get(output.data['application/vnd.jupyter.widget-view+json'].get('model_id')) -%}
{%- if view -%}
<div class="jp-OutputArea-output xw-report-widget" data-xw-widget="{{ view.index }}" data-xw-module="{{ view.module | escape }}"></div>
{%- else -%}
<div class="jp-RenderedText jp-OutputArea-output" data-mime-type="text/plain">
<pre>{{ output.data.get('text/plain', '') | escape }}</pre>
</div>
{%- endif -%}
{%- endblock data_widget_view -%}
{%- block footer -%}
<script type="application/json" id="xw-report-state">{{ resources.xwidgets.state }}</script>
<script>{{ resources.xwidgets.runtime }}</script>
</html>
{%- endblock footer -%}
"""


def _make_classes():
    HTMLExporter, Preprocessor = _nbconvert()
    from jinja2 import DictLoader
    from traitlets import Bool, default

    class XWidgetsPreprocessor(Preprocessor):
        """Reads the xwidgets widgets' saved state into ``resources["xwidgets"]`` (after an
        ``--execute`` has run) and drops the notebook's widget metadata, which only the
        CDN html-manager would read (the page never writes it out)."""

        compress = Bool(True, help="Deflate binary widget data where that makes it smaller.").tag(config=True)

        def preprocess(self, nb, resources):
            widgets, views = notebook_widgets(nb)
            document = {"version": STATE_VERSION,
                        "widgets": [{"module": w["module"], "state": encode_state(w["state"], compress=self.compress)}
                                    for w in widgets]}
            resources["xwidgets"] = {
                "views": views,
                "state": _script_json(document),
                "runtime": _script_js(read_bundle("report_runtime")),
                "csp": html.escape(_CSP),
            }
            # nbconvert draws a widget view only when its model is in the saved state: keep
            # an empty entry per xwidgets model (this template never writes them out) and
            # drop the others, whose views then show their text
            nb.metadata.pop("widgets", None)
            if views:
                nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0,
                                                         "state": {model_id: {"state": {}} for model_id in views}}}
            return nb, resources

    class XWidgetsHTMLExporter(HTMLExporter):
        """nbconvert's JupyterLab HTML, self-contained: xwidgets' widgets drawn offline by the
        inlined report runtime, no CDN script, no network (see the module docstring)."""

        export_from_notebook = "HTML (xwidgets, offline)"

        @default("template_name")
        def _template_name_default(self):
            return "lab"

        @default("template_file")
        def _template_file_default(self):
            return "xwidgets_offline.html.j2"

        @default("extra_loaders")
        def _extra_loaders_default(self):
            return [DictLoader({"xwidgets_offline.html.j2": _TEMPLATE})]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # after the default preprocessors, so after --execute has saved the widget state
            self.register_preprocessor(XWidgetsPreprocessor(parent=self), enabled=True)

    return XWidgetsPreprocessor, XWidgetsHTMLExporter


XWidgetsPreprocessor, XWidgetsHTMLExporter = _make_classes()


def export_notebook(
    path: str | pathlib.Path,
    output: str | pathlib.Path | None = None,
    *,
    execute: bool = False,
    timeout: float = 600,
    kernel_name: str | None = None,
) -> pathlib.Path:
    """Export the notebook at ``path`` to ONE self-contained HTML file in which xwidgets'
    widgets render and stay interactive with no network (see the module docstring).

    Args:
        path: the ``.ipynb`` file.
        output: the HTML file to write (default: ``path`` with the suffix ``.html``).
        execute: run the notebook first (nbclient, in its folder), which saves the widget
            state; otherwise the state saved in the notebook is used.
        timeout: seconds a cell may run when executing.
        kernel_name: the kernel to execute with (default: the notebook's).

    Returns:
        The path written.
    """
    import nbformat

    if not isinstance(path, (str, pathlib.Path)):
        raise bad_argument("path", "a str or pathlib.Path of an .ipynb file", path)
    path = pathlib.Path(path)
    if not path.is_file():
        raise bad_argument("path", "an existing .ipynb file", str(path))
    if output is not None and not isinstance(output, (str, pathlib.Path)):
        raise bad_argument("output", "None or a str or pathlib.Path", output)
    if not isinstance(execute, bool):
        raise bad_argument("execute", "True or False", execute)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise bad_argument("timeout", "a number of seconds > 0", timeout)
    nb = nbformat.read(path, as_version=4)
    if execute:
        from nbclient import NotebookClient

        options: dict[str, Any] = {"timeout": timeout, "store_widget_state": True,
                                   "resources": {"metadata": {"path": str(path.parent.resolve())}}}
        if kernel_name is not None:
            options["kernel_name"] = kernel_name
        NotebookClient(nb, **options).execute()
    body, _ = XWidgetsHTMLExporter().from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    target = path.with_suffix(".html") if output is None else pathlib.Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target
