"""write_report: one self-contained HTML file (the browser test opens it offline)."""

from __future__ import annotations

import base64
import html.parser
import json
import pathlib
import re
import zlib

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


def decode_binary(marker: dict) -> bytes:
    """The bytes of a {"$binary"} or {"$deflate"} marker (what the report runtime does)."""
    if "$binary" in marker:
        return base64.b64decode(marker["$binary"])
    data = zlib.decompress(base64.b64decode(marker["$deflate"]))
    assert len(data) == marker["$size"]
    width = marker.get("$delta")
    if width:
        planes = np.frombuffer(data, np.uint8).reshape(width, -1).T
        diffs = np.ascontiguousarray(planes).view(f"<u{width}").ravel()
        data = np.cumsum(diffs, dtype=f"<u{width}").astype(f"<u{width}").tobytes()
    return data


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
        assert decode_binary(s["maps"]["data"]) == v.maps["data"]
        assert decode_binary(s["image"]["png"]) == v.image["png"]
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


# --------------------------------------------------------------------------- compression
def smooth_saliency(size=64) -> Saliency:
    """Smooth maps (like upsampled CAMs), which deflate well."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    maps = np.stack([np.exp(-((xx - c) ** 2 + (yy - 0.5) ** 2) / 0.05) for c in (0.2, 0.5, 0.8)]).astype(np.float32)
    rng = np.random.default_rng(0)
    return Saliency(
        maps=maps,
        images=rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8),
        image_index=np.zeros(3, dtype=np.int64),
        targets=np.arange(3),
        probabilities=np.full((1, 3), 1 / 3, dtype=np.float32),
        labels=["a", "b", "c"],
        method="gradcam",
    )


def test_maps_are_deflated_with_the_delta_filter_and_round_trip(tmp_path):
    v = SaliencyViewer(smooth_saliency())
    text = write_report(tmp_path / "r.html", [v], title="t").read_text()
    state = state_of(text)["widgets"][0]["state"]
    marker = state["maps"]["data"]
    assert sorted(marker) == ["$deflate", "$delta", "$size"] and marker["$delta"] == 2
    assert marker["$size"] == len(v.maps["data"])
    assert len(base64.b64decode(marker["$deflate"])) < len(v.maps["data"]) / 3
    assert decode_binary(marker) == v.maps["data"]
    # PNG bytes do not shrink: they stay plain
    assert set(state["image"]["png"]) == {"$binary"}
    # without compression every buffer is plain
    plain = state_of(report_html([v], title="t", compress=False))["widgets"][0]["state"]
    assert set(plain["maps"]["data"]) == {"$binary"}
    assert len(text) < len(report_html([v], title="t", compress=False))


@pytest.mark.parametrize("width", [2, 4])
def test_delta_filter_round_trips_any_bytes(width):
    from xwidgets.report.html import delta_planes, encode_bytes

    rng = np.random.default_rng(width)
    for data in (rng.integers(0, 256, 64 * width, dtype=np.uint8).tobytes(), bytes(200 * width), b"\xff\xff\x00\x00" * 50):
        filtered = delta_planes(data, width)
        assert len(filtered) == len(data)
        assert decode_binary({"$deflate": base64.b64encode(zlib.compress(filtered)).decode(), "$size": len(data), "$delta": width}) == data
        assert decode_binary(encode_bytes(data, width=width)) == data


def test_encode_bytes_falls_back_when_deflate_does_not_shrink():
    from xwidgets.report.html import encode_bytes

    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert set(encode_bytes(noise)) == {"$binary"}
    assert set(encode_bytes(b"\x00" * 32)) == {"$binary"}  # too small to bother
    zeros = encode_bytes(b"\x00" * 4096)
    assert set(zeros) == {"$deflate", "$size"} and decode_binary(zeros) == b"\x00" * 4096
    assert encode_state({"b": b"\x00" * 4096}) == {"b": {"$binary": base64.b64encode(b"\x00" * 4096).decode()}}
    assert "$deflate" in encode_state({"b": b"\x00" * 4096}, compress=True)["b"]


def test_a_report_can_hold_a_compare_grid(tmp_path):
    from xwidgets.widgets import CompareGrid

    a = smooth_saliency()
    b = Saliency(
        maps=a.maps - 0.5, images=a.images, image_index=a.image_index, targets=a.targets,
        probabilities=a.probabilities, labels=a.labels, method="gradient_x_input",
    )
    grid = CompareGrid({"Grad-CAM": a, "Gradient x input": b}, target_row=0, title="Methods")
    text = write_report(tmp_path / "r.html", [grid, SaliencyViewer([a, b])], title="t").read_text()
    doc = state_of(text)
    assert [w["module"] for w in doc["widgets"]] == ["compare_grid", "saliency_viewer"]
    s = doc["widgets"][0]["state"]
    assert sorted(s) == sorted(grid.report_state())
    assert decode_binary(s["maps"]["data"]) == grid.maps["data"]
    assert decode_binary(s["images"][0]["png"]) == grid.images[0]["png"]
    assert s["methods"] == grid.methods and s["selected"] == []
    viewer = doc["widgets"][1]["state"]
    assert [m["name"] for m in viewer["methods"]] == ["gradcam", "gradient_x_input"]
