"""A DatasetExplorer in an offline HTML report (issue 11): the report runtime knows the
module, so the explorer mounts from the file alone (no unknown-module error, nothing
requested), shows the stored thumbnails and filters client-side."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.report import write_report
from xwidgets.widgets.dataset_explorer import DatasetExplorer

from .test_report_offline import open_offline

pytestmark = pytest.mark.browser

N = 12
FLIPPED = (2, 9)  # labels changed so these rows are wrong
BAD = 5  # an unreadable image: a failed row without a thumbnail


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    toy = xw.models.toy_cnn()
    images, labels = SyntheticParts(N, seed=4).arrays()
    items = [(images[i], int(labels[i])) for i in range(N)]
    for i in FLIPPED:
        items[i] = (images[i], (int(labels[i]) + 1) % len(toy.labels))
    items[BAD] = ("/nonexistent/xw-image.png", int(labels[BAD]))
    store = xw.explain_dataset(toy, items, "gradcam", store=tmp_path_factory.mktemp("dxr") / "s", progress=False)
    torch.set_num_threads(threads)
    return store


def test_report_with_a_dataset_explorer_renders_offline(browser_page, store, screenshot, tmp_path):
    page = browser_page
    dx = DatasetExplorer(store, page_size=N, title="Dataset report")
    path = write_report(tmp_path / "dataset.html", [dx], title="Dataset report")

    requests, aborted = open_offline(page, path)
    root = page.locator('[data-testid="xw-dataset"]')
    expect(root).to_have_attribute("data-ready", "true")
    screenshot(page, "report_offline_dataset")
    assert "runtime does not have" not in page.locator("[data-xw-widget]").inner_text()  # the unknown-module failure
    assert page.evaluate("window.xwidgets.mounted.then(m => m.map(x => x.module))") == ["dataset_explorer"]

    thumbs = page.locator('[data-testid="xw-dx-thumb"]')
    expect(thumbs).to_have_count(N)
    # the thumbnails came from the report's own bytes: every image but the failed one decoded
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=xw-dx-thumb-img]')].every(i => i.complete && i.naturalWidth === 64)")
    expect(page.locator('[data-testid="xw-dx-thumb-img"]')).to_have_count(N - 1)
    # filters work on the static model, and pick what Python picks
    page.click('[data-testid="xw-dx-correct-wrong"]')
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('correctness'))") == "wrong"
    shown = [int(t.get_attribute("data-id")) for t in thumbs.all()]
    assert shown == list(FLIPPED) == dx.filter(correctness="wrong")

    assert aborted == [], aborted
    assert requests == [path.resolve().as_uri()]
    assert page.errors == []
