"""write_report: one self-contained HTML file (the browser test opens it offline)."""

from __future__ import annotations

import base64
import html.parser
import json
import pathlib
import re

import numpy as np
import pytest

from xwidgets.report import encode_state, report_html, write_report
from xwidgets.report.html import _script_js
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import SaliencyViewer
from xwidgets.widgets import base as widget_base

NASTY = "</script><script>alert(1)</script> <!-- & </SCRIPT >"


def make_saliency(labels=("cat", "dog", "car"), size=24) -> Saliency:
    rng = np.random.default_rng(1)
    k = len(labels)
    return Saliency(
        maps=rng.random((k, size, size)).astype(np.float32),
        images=rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8),
        image_index=np.zeros(k, dtype=np.int64),
        targets=np.arange(k),
        probabilities=np.full((1, k), 1 / k, dtype=np.float32),
        labels=list(labels),
        method="gradcam",
    )


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data):
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    return p


def state_of(text: str) -> dict:
    scripts = [body for attrs, body in parse(text).scripts if attrs.get("type") == "application/json"]
    assert len(scripts) == 1
    return json.loads(scripts[0])


def test_writes_one_file_and_returns_its_path(tmp_path):
    target = tmp_path / "sub" / "report.html"
    out = write_report(target, [SaliencyViewer(make_saliency())], title="My report")
    assert isinstance(out, pathlib.Path) and out == target and out.is_file()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>My report</title>" in text and "<h1>My report</h1>" in text
    assert "<noscript>" in text
    assert 'data-xw-widget="0"' in text
    # a single widget (not in a list) and a str path work too
    out2 = write_report(str(tmp_path / "one.html"), SaliencyViewer(make_saliency()), title="x")
    assert out2 == tmp_path / "one.html"


def test_no_network_sources(tmp_path):
    text = write_report(tmp_path / "r.html", [SaliencyViewer(make_saliency())], title="t").read_text()
    tags = parse(text).tags
    for tag, attrs in tags:
        if tag in ("script", "img", "iframe", "link", "source", "video", "audio"):
            assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text
    # and the page forbids itself any network access
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "connect-src" not in csp[0]


def test_script_close_is_escaped_everywhere(tmp_path):
    sal = make_saliency(labels=("cat", NASTY, "car"))
    v = SaliencyViewer(sal, title=NASTY)
    text = write_report(tmp_path / "r.html", [v], title=NASTY).read_text()
    # only the two real script elements close
    assert len(re.findall(r"</script", text, re.IGNORECASE)) == 2
    assert "<!--" not in text.split("<body>", 1)[1]
    tags = parse(text)
    assert [attrs.get("type") for attrs, _ in tags.scripts] == ["application/json", None]
    # the title is escaped HTML; the label survives the trip through JSON
    assert "<title>&lt;/script&gt;&lt;script&gt;" in text
    state = state_of(text)["widgets"][0]["state"]
    assert state["classes"][1]["label"] == NASTY
    assert state["title"] == NASTY


def test_script_js_escaping():
    assert _script_js('a="</script>";b="</SCRIPT>";c="<!--"') == 'a="<\\/script>";b="<\\/SCRIPT>";c="<\\!--"'


def test_bytes_round_trip(tmp_path):
    viewers = [SaliencyViewer(make_saliency()), SaliencyViewer(make_saliency(), colormap="gray", selected=1)]
    text = write_report(tmp_path / "r.html", viewers, title="t").read_text()
    doc = state_of(text)
    assert doc["version"] == 1 and len(doc["widgets"]) == 2
    for v, w in zip(viewers, doc["widgets"]):
        assert w["module"] == "saliency_viewer"
        s = w["state"]
        assert sorted(s) == sorted(v.report_state())
        assert base64.b64decode(s["maps"]["data"]["$binary"]) == v.maps["data"]
        assert base64.b64decode(s["image"]["png"]["$binary"]) == v.image["png"]
        assert s["maps"]["shape"] == v.maps["shape"] and s["maps"]["dtype"] == "float16"
        assert (s["selected"], s["colormap"], s["opacity"]) == (v.selected, v.colormap, v.opacity)
        assert s["classes"] == v.classes
    assert "_esm" not in doc["widgets"][0]["state"]


def test_runtime_is_inlined(tmp_path):
    text = write_report(tmp_path / "r.html", [SaliencyViewer(make_saliency())], title="t").read_text()
    runtime = (widget_base.STATIC_DIR / "report_runtime.js").read_text(encoding="utf-8")
    scripts = [body for attrs, body in parse(text).scripts if "type" not in attrs]
    assert scripts == [_script_js(runtime)]


def test_encode_state():
    out = encode_state({"b": b"\x00\x01", "m": memoryview(b"\xff"), "n": [np.float32(0.5), float("nan")], "d": {"x": 1}})
    assert out == {"b": {"$binary": "AAE="}, "m": {"$binary": "/w=="}, "n": [0.5, None], "d": {"x": 1}}
    with pytest.raises(ValueError, match=r"state\.a: expected bytes or JSON values .*send arrays as buffers"):
        encode_state({"a": np.zeros(3)})


def test_bad_arguments(tmp_path):
    v = SaliencyViewer(make_saliency())
    with pytest.raises(ValueError, match=r"widgets: expected at least one widget; got list of length 0"):
        write_report(tmp_path / "r.html", [], title="t")
    with pytest.raises(ValueError, match=r"widgets\[1\]: expected an xwidgets widget"):
        write_report(tmp_path / "r.html", [v, "nope"], title="t")
    with pytest.raises(ValueError, match=r"widgets: expected an xwidgets widget or a list of them; got 3"):
        write_report(tmp_path / "r.html", 3, title="t")
    with pytest.raises(ValueError, match=r"title: expected a str; got None"):
        report_html([v], title=None)
    with pytest.raises(ValueError, match=r"path: expected a str or pathlib.Path; got 3"):
        write_report(3, [v], title="t")


def test_saliency_save_html(tmp_path):
    sal = make_saliency()
    out = sal.save_html(tmp_path / "s.html")
    doc = state_of(out.read_text())
    assert len(doc["widgets"]) == 1 and doc["widgets"][0]["state"]["method"] == "gradcam"


def test_missing_runtime_says_how_to_build(monkeypatch, tmp_path):
    v = SaliencyViewer(make_saliency())
    monkeypatch.setattr(widget_base, "STATIC_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"report_runtime\.js is missing.*npm run build"):
        write_report(tmp_path / "r.html", [v], title="t")
