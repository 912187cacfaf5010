"""Offline, self-contained HTML reports of xwidgets widgets.

``write_report(path, widgets, title=...)`` writes one HTML file that renders every widget,
interactive, with no kernel and no network access. It is deliberately lighter than
nbconvert's widget embedding (which needs require.js and a 3.5 MB html-manager): the page
carries a small runtime with the widget modules and a static anywidget-style model.
"""

from .html import STATE_VERSION, encode_state, report_html, write_report

__all__ = ["write_report", "report_html", "encode_state", "STATE_VERSION"]
