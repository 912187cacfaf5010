"""ConceptExplorer's front end in a plain harness page (and in an offline report): a click on
a node, a patch or a phrase lights the same concept in the other views (DOM state and canvas
pixels) and sets the synced trait; the model side moves the highlight; class switching;
keyboard navigation; markup in labels and sentences stays text; click-to-highlight latency."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.widgets import ConceptExplorer, ExplanationData

from .harness import canvas_rgba, model_get, open_harness

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-explorer"][data-ready="true"]'
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def data() -> ExplanationData:
    """Synthetic image 4: a four wheeler (wheels n1-n4, distractors n5-n7), 5 classes."""
    return ExplanationData.example(4)


def node(page, ref):
    return page.locator(f'[data-testid="xw-node"][data-ref="{ref}"]')


def patch(page, ref):
    return page.locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')


def phrases(page, ref):
    return page.locator(f'[data-testid="xw-phrase"][data-ref="{ref}"]')


def edge(page, ref):
    return page.locator(f'[data-testid="xw-edge"][data-ref="{ref}"]')


def away(page):
    """Move the pointer off the widget (hover previews over the selection)."""
    page.mouse.move(2, 2)


def canvas_mask(mask: np.ndarray, canvas_shape: tuple[int, int], erode: int) -> np.ndarray:
    """Canvas pixels whose image pixel lies ``erode`` pixels or more inside ``mask``
    (nearest-neighbour mapping of the image onto the canvas)."""
    inner = mask.copy()
    for _ in range(erode):
        inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
        inner[[0, -1], :] = False
        inner[:, [0, -1]] = False
    h, w = canvas_shape
    ys = np.minimum((np.arange(h) + 0.5) * mask.shape[0] / h, mask.shape[0] - 1).astype(int)
    xs = np.minimum((np.arange(w) + 0.5) * mask.shape[1] / w, mask.shape[1] - 1).astype(int)
    return inner[np.ix_(ys, xs)]


def brightness(rgba: np.ndarray, where: np.ndarray) -> float:
    return float(rgba[..., :3][where].astype(float).mean())


def test_click_a_node_lights_its_patch_and_phrase_and_sets_the_trait(browser_page, data, screenshot):
    page = browser_page
    open_harness(page, ConceptExplorer(data), READY)
    why = data.graph(data.predicted)
    assert page.text_content('[data-testid="xw-question"]') == "Why four wheeler?"
    expect(page.locator('[data-testid="xw-node"]')).to_have_count(len(why.nodes))
    expect(page.locator('[data-testid="xw-patch"]')).to_have_count(len(why.nodes))
    expect(page.locator('[data-testid="xw-edge"]')).to_have_count(len(why.edges))
    assert page.locator('[data-testid="xw-phrase"]').count() == len(why.text.spans)
    assert page.text_content('[data-testid="xw-text"]') == why.text.text
    canvas = page.locator('[data-testid="xw-image-canvas"]')
    before = canvas_rgba(canvas)
    assert before[..., :3].std() > 10  # image and saliency drawn

    node(page, "n1").click()
    away(page)
    assert model_get(page, "selected") == "n1"
    assert page.evaluate("window.model.saves") >= 1
    expect(node(page, "n1")).to_have_attribute("data-state", "selected")
    expect(node(page, "n1")).to_have_attribute("aria-pressed", "true")
    expect(patch(page, "n1")).to_have_attribute("data-state", "selected")
    expect(patch(page, "n1")).to_have_attribute("data-selected", "true")
    for i in range(phrases(page, "n1").count()):
        expect(phrases(page, "n1").nth(i)).to_have_attribute("data-state", "selected")
    for other in ("n2", "n5"):
        expect(patch(page, other)).to_have_attribute("data-state", "none")
        expect(node(page, other)).to_have_attribute("data-state", "none")
    incident = {e.id for e in why.edges if "n1" in (e.source, e.target)}
    for e in why.edges:
        expect(edge(page, e.id)).to_have_attribute("data-state", "related" if e.id in incident else "none")
    assert "brown wheel" in page.text_content('[data-testid="xw-status"]')
    screenshot(page, "explorer_node")

    # pixels: the node's mask keeps its colours, the rest of the image is veiled
    after = canvas_rgba(canvas)
    assert canvas.get_attribute("data-lit") == "n1"
    lit = canvas_mask(why.node("n1").mask, after.shape[:2], erode=2)
    dark = canvas_mask(~why.node("n1").mask, after.shape[:2], erode=3)
    assert lit.sum() > 200 and dark.sum() > 10000
    assert abs(brightness(after, lit) - brightness(before, lit)) < 2
    assert brightness(after, dark) < 0.6 * brightness(before, dark)
    # and another node moves the light there
    node(page, "n2").click()
    away(page)
    moved = canvas_rgba(canvas)
    lit2 = canvas_mask(why.node("n2").mask, moved.shape[:2], erode=2)
    assert abs(brightness(moved, lit2) - brightness(before, lit2)) < 2
    assert brightness(moved, lit) < 0.6 * brightness(before, lit)
    expect(patch(page, "n1")).to_have_attribute("data-state", "none")
    # a second click on the selected node clears the selection and the veil
    node(page, "n2").click()
    away(page)
    assert model_get(page, "selected") == ""
    assert np.abs(canvas_rgba(canvas).astype(int) - before.astype(int)).max() <= 1
    assert page.errors == [] and page.blocked == []


def test_a_phrase_or_a_patch_lights_the_node_and_hover_previews(browser_page, data):
    page = browser_page
    open_harness(page, ConceptExplorer(data), READY)
    why = data.graph(data.predicted)

    # hover a phrase: the node and patch light up and a tooltip gives the scores; the trait stays
    phrases(page, "n3").first.hover()
    expect(node(page, "n3")).to_have_attribute("data-state", "selected")
    expect(patch(page, "n3")).to_have_attribute("data-state", "selected")
    tooltip = page.locator('[data-testid="xw-tooltip"]')
    expect(tooltip).to_be_visible()
    n3 = why.node("n3")
    assert tooltip.inner_text().split("\n") == [
        f"3 \u00b7 {n3.name}", f"contribution +{n3.contribution:g} \u00b7 importance {n3.importance:g}", "found in the image"]
    assert model_get(page, "selected") == ""
    away(page)
    expect(node(page, "n3")).to_have_attribute("data-state", "none")
    expect(tooltip).to_be_hidden()

    # click a phrase: the node is selected
    phrases(page, "n3").first.click()
    away(page)
    assert model_get(page, "selected") == "n3"
    expect(node(page, "n3")).to_have_attribute("data-selected", "true")
    expect(patch(page, "n3")).to_have_attribute("data-state", "selected")

    # click a patch on the image: its node and phrase
    box = page.locator('[data-testid="xw-patch"][data-ref="n4"] .xw-patch-hit').bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    away(page)
    assert model_get(page, "selected") == "n4"
    expect(node(page, "n4")).to_have_attribute("data-state", "selected")
    expect(phrases(page, "n4").first).to_have_attribute("data-state", "selected")

    # an edge (selected from the model here): both of its nodes and patches are related
    e = why.edges[0]
    page.evaluate("r => window.model.set('selected', r)", e.id)
    expect(edge(page, e.id)).to_have_attribute("data-state", "selected")
    for end in (e.source, e.target):
        expect(node(page, end)).to_have_attribute("data-state", "related")
        expect(patch(page, end)).to_have_attribute("data-state", "related")
    assert sorted(page.locator('[data-testid="xw-image-canvas"]').get_attribute("data-lit").split()) == sorted({e.source, e.target})
    assert page.errors == [] and page.blocked == []


def test_setting_the_trait_from_the_model_moves_the_highlight_and_switches_class(browser_page, data):
    page = browser_page
    open_harness(page, ConceptExplorer(data, selected="n1"), READY)
    expect(patch(page, "n1")).to_have_attribute("data-state", "selected")
    page.evaluate("() => window.model.set('selected', 'n6')")
    expect(patch(page, "n6")).to_have_attribute("data-state", "selected")
    expect(node(page, "n6")).to_have_attribute("data-selected", "true")
    expect(patch(page, "n1")).to_have_attribute("data-state", "none")
    assert page.locator('[data-testid="xw-image-canvas"]').get_attribute("data-lit") == "n6"

    # the class from the model: "why not", its own graph and sentence
    other = data.classes[2]
    graph = data.graph(other.index)
    page.evaluate("k => window.model.set('selected_class', k)", other.index)
    assert page.text_content('[data-testid="xw-question"]') == f"Why not {other.label}?"
    assert page.text_content('[data-testid="xw-text"]') == graph.text.text
    expect(page.locator('[data-testid="xw-node"]')).to_have_count(len(graph.nodes))
    expect(page.locator('[data-testid="xw-class-2"]')).to_have_attribute("aria-checked", "true")
    absent = next(n for n in graph.nodes if not n.present)
    expect(node(page, absent.id)).to_have_attribute("data-present", "false")
    assert patch(page, absent.id).count() == 0  # not in the image
    page.evaluate("r => window.model.set('selected', r)", absent.id)
    expect(node(page, absent.id)).to_have_attribute("data-state", "selected")
    expect(phrases(page, absent.id).first).to_have_attribute("data-state", "selected")
    assert "not in the image" in page.text_content('[data-testid="xw-status"]')
    assert page.errors == [] and page.blocked == []


def test_class_picker_switches_why_and_why_not_keeping_shared_selections(browser_page, data):
    page = browser_page
    open_harness(page, ConceptExplorer(data), READY)
    node(page, "n2").click()
    other = data.classes[1]
    page.click('[data-testid="xw-class-1"]')
    away(page)
    assert model_get(page, "selected_class") == other.index
    assert model_get(page, "selected") == "n2"  # the same patch in the other class's graph
    assert page.text_content('[data-testid="xw-question"]') == f"Why not {other.label}?"
    expect(node(page, "n2")).to_have_attribute("data-state", "selected")
    contribution = data.graph(other.index).node("n2").contribution
    assert contribution < 0
    disc = node(page, "n2").locator(".xw-node-disc").evaluate("c => getComputedStyle(c).fill")
    r, g, b = (int(v) for v in disc[4:-1].split(","))
    assert b > r  # blue: against the class
    float(page.get_attribute('[data-testid="xw-explorer"]', "data-switch-ms"))

    # an id the new class lacks is cleared
    third = data.classes[2]
    absent = next(n.id for n in data.graph(third.index).nodes if not n.present)
    page.click('[data-testid="xw-class-2"]')
    page.evaluate("r => window.model.set('selected', r)", absent)
    page.click('[data-testid="xw-class-0"]')
    assert model_get(page, "selected_class") == data.predicted and model_get(page, "selected") == ""
    # arrow keys on the picker
    page.focus('[data-testid="xw-class-0"]')
    page.keyboard.press("ArrowRight")
    assert model_get(page, "selected_class") == other.index
    assert page.evaluate("document.activeElement.dataset.testid") == "xw-class-1"
    assert page.errors == [] and page.blocked == []


def test_keyboard_moves_between_nodes_and_enter_selects(browser_page, data):
    page = browser_page
    open_harness(page, ConceptExplorer(data), READY)
    ids = [n.id for n in data.graph(data.predicted).nodes]
    focused = "document.activeElement.getAttribute('data-ref')"
    assert node(page, ids[0]).get_attribute("tabindex") == "0"
    assert all(node(page, i).get_attribute("tabindex") == "-1" for i in ids[1:])
    node(page, ids[0]).focus()
    assert page.evaluate(focused) == ids[0]
    expect(page.locator('[data-testid="xw-tooltip"]')).to_be_visible()
    seen = [ids[0]]
    for _ in range(len(ids)):
        page.keyboard.press("ArrowRight")
        seen.append(page.evaluate(focused))
    assert seen == ids + [ids[0]]
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(focused) == ids[-1]
    expect(node(page, ids[-1])).to_have_attribute("data-state", "selected")  # focus previews
    assert model_get(page, "selected") == ""
    page.keyboard.press("Enter")
    assert model_get(page, "selected") == ids[-1]
    expect(patch(page, ids[-1])).to_have_attribute("data-selected", "true")
    page.keyboard.press("Home")
    assert page.evaluate(focused) == ids[0]
    page.keyboard.press(" ")
    assert model_get(page, "selected") == ids[0]
    page.keyboard.press("Escape")
    assert model_get(page, "selected") == ""
    # phrases take Enter too
    phrases(page, "n2").first.focus()
    page.keyboard.press("Enter")
    assert model_get(page, "selected") == "n2"
    assert page.errors == [] and page.blocked == []


def markup_data(data: ExplanationData) -> ExplanationData:
    d = data.to_dict()
    d["title"] = f"Title {XSS}"
    d["classes"][1]["label"] = f"class {XSS}"
    for g in d["graphs"]:
        g["nodes"][0]["name"] = XSS
        g["edges"][0]["relation"] = XSS
        text = g["text"]
        offset = len(XSS) + 1
        text["text"] = f"{XSS} {text['text']}"
        text["spans"] = [(s["start"] + offset, s["end"] + offset, s["kind"], s["id"]) for s in text["spans"]]
        text["spans"].insert(0, (0, len(XSS), "node", g["nodes"][0]["id"]))
    return ExplanationData.from_dict(d)


def test_markup_in_labels_and_sentences_is_shown_as_text(browser_page, data):
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = markup_data(data)
    open_harness(page, ConceptExplorer(evil), READY)
    root = page.locator('[data-testid="xw-explorer"]')
    assert root.locator("img").count() == 0
    assert page.locator("img").count() == 0
    assert page.text_content('[data-testid="xw-title"]') == f"Title {XSS}"
    assert XSS in page.text_content('[data-testid="xw-class-1"]')
    assert page.text_content('[data-testid="xw-text"]').startswith(XSS)
    assert phrases(page, "n1").first.text_content() == XSS
    node(page, "n1").hover()
    expect(page.locator('[data-testid="xw-tooltip"]')).to_contain_text(f"1 \u00b7 {XSS}")
    edge_id = evil.graph(evil.predicted).edges[0].id
    page.evaluate("r => window.model.set('selected', r)", edge_id)
    away(page)
    assert XSS in page.text_content('[data-testid="xw-status"]')
    page.click('[data-testid="xw-class-1"]')
    assert page.text_content('[data-testid="xw-question"]') == f"Why not class {XSS}?"
    assert page.locator("img").count() == 0
    page.wait_for_timeout(200)
    assert dialogs == [] and page.blocked == [] and page.errors == []


def test_click_to_highlight_latency(browser_page):
    """performance.now() around the click handler (select + every view's highlight), median of 50."""
    page = browser_page
    open_harness(page, ConceptExplorer(ExplanationData.example(4, num_nodes=12)), READY)
    times = []
    for i in range(50):
        node(page, "n1" if i % 2 == 0 else "n2").click()
        times.append(float(page.get_attribute('[data-testid="xw-explorer"]', "data-highlight-ms")))
    median = statistics.median(times)
    print(f"\nclick-to-highlight median of 50: {median:.3f} ms (max {max(times):.3f} ms)")
    assert model_get(page, "selected") == "n2"
    assert median <= 16.0
    assert page.errors == []


def test_offline_report_behaves_the_same_with_every_request_blocked(browser_page, data, tmp_path, screenshot):
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    path = data.save_html(tmp_path / "explorer.html")
    evil_path = markup_data(data).save_html(tmp_path / "evil.html")
    url = path.resolve().as_uri()
    aborted: list[str] = []

    def handle(route):
        if route.request.url in (url, evil_path.resolve().as_uri()):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.goto(url)
    page.wait_for_selector("html[data-xw-mounted='true']")
    page.wait_for_selector(READY)
    why = data.graph(data.predicted)
    canvas = page.locator('[data-testid="xw-image-canvas"]')
    before = canvas_rgba(canvas)
    node(page, "n1").click()
    away(page)
    expect(patch(page, "n1")).to_have_attribute("data-state", "selected")
    expect(phrases(page, "n1").first).to_have_attribute("data-state", "selected")
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('selected'))") == "n1"
    after = canvas_rgba(canvas)
    lit = canvas_mask(why.node("n1").mask, after.shape[:2], erode=2)
    dark = canvas_mask(~why.node("n1").mask, after.shape[:2], erode=3)
    assert abs(brightness(after, lit) - brightness(before, lit)) < 2
    assert brightness(after, dark) < 0.6 * brightness(before, dark)
    phrases(page, "n3").first.click()
    expect(node(page, "n3")).to_have_attribute("data-selected", "true")
    page.click('[data-testid="xw-class-1"]')
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('selected_class'))") == data.classes[1].index
    assert page.text_content('[data-testid="xw-question"]') == f"Why not {data.classes[1].label}?"
    screenshot(page, "explorer_report")

    # the report of markup-laden data runs nothing either
    page.goto(evil_path.resolve().as_uri())
    page.wait_for_selector(READY)
    assert page.locator("img").count() == 0
    assert page.text_content('[data-testid="xw-text"]').startswith(XSS)
    page.wait_for_timeout(200)
    assert aborted == [] and dialogs == [] and page.errors == []
