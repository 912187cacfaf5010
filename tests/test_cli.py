"""The `xwidgets` command: the README's demo writes a self-contained report."""

import re
import subprocess
import sys

from xwidgets.cli import main


def test_demo_writes_a_report_and_prints_its_path(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["demo", "--out", str(out), "--images", "coffee", "chelsea", "--top-k", "3"]) == 0
    printed = capsys.readouterr().out
    assert "coffee: espresso" in printed
    assert str(out.resolve()) in printed
    html = out.read_text()
    assert html.count('"module": "saliency_viewer"') + html.count('"module":"saliency_viewer"') == 2  # one viewer per photo
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)


def test_methods_lists_gradcam(capsys):
    assert main(["methods"]) == 0
    assert "gradcam" in capsys.readouterr().out


def test_the_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "xwidgets.cli", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in result.stdout
