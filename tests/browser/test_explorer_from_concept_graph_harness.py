"""The explorer of a ConceptGraph (built by hand from the synthetic ground truth, with the
sentences of xwidgets.text.sentences) in a plain harness page: a click on a node lights its
patch and its phrase and sets the synced trait; Python's trait moves the highlight; a
concept named with markup is shown as text and runs nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_explorer_from_concept_graph import XSS, make_graph, slot_of

from xwidgets.text.sentences import explain_all
from xwidgets.widgets import ConceptExplorer
from xwidgets.widgets.from_concept_graph import explanation_data

from .harness import model_get, open_harness

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-explorer"][data-ready="true"]'


def test_a_concept_graph_in_the_explorer(browser_page):
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    graph, sample = make_graph(0)  # door over window: part 1 (door) above part 2 (window)
    c = graph.predicted
    door = slot_of(graph, c, 1, sample)
    graph.concept_names[c][door] = XSS
    texts = explain_all(graph, k=12)
    data = explanation_data(graph, texts)
    why = data.graph(c)
    ref = f"n{door}"
    assert ref in {s.id for s in why.text.spans}  # k=12: every present concept is mentioned
    open_harness(page, ConceptExplorer(data), READY)

    assert page.text_content('[data-testid="xw-text"]') == why.text.text
    expect(page.locator('[data-testid="xw-node"]')).to_have_count(len(why.nodes))
    page.locator(f'[data-testid="xw-node"][data-ref="{ref}"]').click()
    page.mouse.move(2, 2)
    assert model_get(page, "selected") == ref
    expect(page.locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')).to_have_attribute("data-state", "selected")
    phrase = page.locator(f'[data-testid="xw-phrase"][data-ref="{ref}"]')
    assert phrase.count() >= 1
    for i in range(phrase.count()):
        expect(phrase.nth(i)).to_have_attribute("data-state", "selected")
    assert XSS in phrase.first.text_content()  # the markup is text
    assert page.locator("img").count() == 0 and dialogs == []

    # the model side (Python's trait) moves the highlight to an edge the sentence names
    edge_ref = next(s.id for s in why.text.spans if s.kind == "edge")
    page.evaluate("r => { window.model.set('selected', r); }", edge_ref)
    page.mouse.move(2, 2)
    expect(page.locator(f'[data-testid="xw-edge"][data-ref="{edge_ref}"]')).to_have_attribute("data-state", "selected")
    expect(page.locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')).not_to_have_attribute("data-state", "selected")
    assert page.errors == [] and page.blocked == []
