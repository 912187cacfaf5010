"""Browser tests: Debian's chromium driven by Playwright from PyPI (never `playwright install`).

The browser is launched once per session. If /usr/bin/chromium is missing the tests FAIL
(they do not skip): install it with `apt-get update && apt-get install -y chromium`.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

CHROMIUM = pathlib.Path(os.environ.get("XW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
STATIC = pathlib.Path(__file__).resolve().parents[2] / "xwidgets" / "static"
#: where screenshots go when XW_SCREENSHOTS is set (for looking at the widget by eye)
SCREENSHOTS = os.environ.get("XW_SCREENSHOTS")


def pytest_collection_modifyitems(items):
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's chromium at {CHROMIUM}, which is missing. "
            "Install it with `apt-get update && apt-get install -y chromium` "
            "(Playwright must not download its own browser).",
            pytrace=False,
        )
    for bundle in ("saliency_viewer.js", "compare_grid.js", "report_runtime.js"):
        if not (STATIC / bundle).exists():
            pytest.fail(f"{STATIC / bundle} is missing: run `npm install && npm run build` first.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium_browser):
    """A fresh page (own context) that records console errors and page errors."""
    context = chromium_browser.new_context(viewport={"width": 900, "height": 640}, device_scale_factor=1)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: page.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, name): saves a PNG when XW_SCREENSHOTS names a folder, else nothing."""

    def take(page, name: str) -> None:
        if SCREENSHOTS:
            pathlib.Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(pathlib.Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def saliency():
    """make_saliency(size=224, classes=5) -> Saliency (see below)."""
    return make_saliency


def make_saliency(size: int = 224, classes: int = 5):
    """A hand-built Saliency for one image: each class's map is a distinct, smooth pattern."""
    from xwidgets.saliency.result import Saliency

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    patterns = [
        xx,  # left -> right ramp
        yy,  # top -> bottom ramp
        np.exp(-((xx - 0.3) ** 2 + (yy - 0.35) ** 2) / 0.02),  # blob upper left
        1.0 - xx,  # right -> left ramp
        np.exp(-((xx - 0.7) ** 2 + (yy - 0.7) ** 2) / 0.05) * 3.0 - 0.5,  # signed blob lower right
    ]
    maps = np.stack([patterns[k % len(patterns)] for k in range(classes)]).astype(np.float32)
    # a photo-like image: soft diagonal gradient with a darker disc
    r = np.sqrt((xx - 0.5) ** 2 + (yy - 0.55) ** 2)
    base = 150 + 80 * (xx + yy) / 2 - 90 * (r < 0.25)
    image = np.stack([base, base * 0.92, base * 0.8], axis=-1).clip(0, 255).astype(np.uint8)[None]
    labels = ["espresso", "cup", "eggnog", "coffee mug", "<b>soup</b> & bowl", "tray", "plate"]
    probs = np.array([[0.62, 0.21, 0.09, 0.05, 0.02, 0.007, 0.003]], dtype=np.float32)
    return Saliency(
        maps=maps,
        images=image,
        image_index=np.zeros(classes, dtype=np.int64),
        targets=np.arange(classes),
        probabilities=probs,
        labels=labels,
        method="gradcam",
        elapsed=0.0123,
        layer="_conv_head",
    )
