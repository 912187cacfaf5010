"""ExplanationGallery (Python side): items, thumbnails and class names sent to the front end;
filters; opening an item sends its explorer data (preloaded or on demand) and resets the
selection; front-end state is checked; reports carry every explanation; bad input names the
argument. Also ExplanationData's optional true class."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import traitlets
from PIL import Image

import xwidgets as xw
from xwidgets.report import report_html
from xwidgets.widgets import ExplanationData, ExplanationGallery
from xwidgets.widgets.concept_explorer import explorer_payload
from xwidgets.widgets.explanation_gallery import PRELOAD_LIMIT, gallery_matches


def gallery_items() -> list[ExplanationData]:
    """Synthetic images 0-7; 1 and 3 mispredicted; 6 without a true class."""
    items = [ExplanationData.example(i) for i in range(8)]
    items[1] = dataclasses.replace(items[1], predicted=6)
    items[3] = dataclasses.replace(items[3], predicted=1)
    items[6] = dataclasses.replace(items[6], true_class=None)
    return items


@pytest.fixture(scope="module")
def items() -> list[ExplanationData]:
    return gallery_items()


@pytest.fixture
def gallery(items) -> ExplanationGallery:
    return ExplanationGallery(items)


# --------------------------------------------------------------------------- ExplanationData.true_class
def test_true_class_is_optional_checked_and_round_trips():
    d = ExplanationData.example(4)
    assert d.true_class == 4 and d.correct is True  # the synthetic ground truth
    wrong = dataclasses.replace(d, predicted=3)
    assert wrong.correct is False
    unknown = dataclasses.replace(d, true_class=None)
    assert unknown.correct is None
    assert ExplanationData.from_dict(wrong.to_dict()).true_class == 4
    assert ExplanationData.from_dict({k: v for k, v in d.to_dict().items() if k != "true_class"}).true_class is None
    # a true class outside the candidates is allowed (a top-k that missed it)
    assert dataclasses.replace(d, true_class=99).correct is False
    for bad in (-1, 2.0, True, "4"):
        with pytest.raises(ValueError, match=r"^true_class: expected an int >= 0; got"):
            dataclasses.replace(d, true_class=bad)


# --------------------------------------------------------------------------- payload
def test_items_thumbnails_and_class_names(gallery, items):
    assert xw.ExplanationGallery is ExplanationGallery
    assert gallery.report_module == "explanation_gallery"
    assert [it["predicted"] for it in gallery.items] == [d.predicted for d in items]
    assert [it["true"] for it in gallery.items] == [6, 5, 1, 2, 4, 3, None, 6]
    assert [it["correct"] for it in gallery.items] == [True, False, True, False, True, True, None, True]
    assert gallery.items[1]["title"] == items[1].title
    assert gallery.items[1]["probability"] == pytest.approx(items[1].candidate(6).probability, rel=1e-5)
    # every class predicted or true, by index, with the candidates' labels
    assert gallery.class_names == [{"index": k, "label": lab} for k, lab in enumerate(
        ["ladder truck", "red lamp", "yellow lamp", "two wheeler", "four wheeler", "window over door", "door over window"])]
    # thumbnails: small palette PNGs, longer side 112, with the top concepts outlined in red or blue
    for t, d in zip(gallery.thumbnails, items):
        image = Image.open(io.BytesIO(t["png"]))
        assert image.format == "PNG" and image.mode == "P" and image.size == (t["width"], t["height"]) == (112, 112)
        assert len(t["png"]) < 16_000
    rgb = np.asarray(Image.open(io.BytesIO(gallery.thumbnails[4]["png"])).convert("RGB")).astype(int)
    top = max((n for n in items[4].graph(4).nodes if n.box is not None), key=lambda n: abs(n.contribution))
    x0, y0 = (int(v * 112 / 224) for v in top.box[:2])
    edge = rgb[y0 + 1, x0 + 2: x0 + 8]
    assert np.abs(edge - np.array([178, 24, 43])).sum(axis=1).min() < 60  # red outline: for the class
    plain = ExplanationGallery(items[:1], outlines=0, thumbnail_size=40)
    assert (plain.thumbnails[0]["width"], plain.thumbnails[0]["height"]) == (40, 40)


def test_preloading_and_opening_on_demand(items):
    eager = ExplanationGallery(items)  # 8 <= PRELOAD_LIMIT items: sent up front
    assert eager.preloaded and len(eager.explorers) == len(items)
    assert eager.explorers[3]["graphs"] == explorer_payload(items[3])["graphs"]
    assert eager.explorers[3]["image"]["png"] == explorer_payload(items[3])["image"]["png"]
    eager.open_item(3)
    assert eager.explorer == {} and eager.opened_data is items[3]

    lazy = ExplanationGallery(items, preload=False)
    assert not lazy.preloaded and lazy.explorers == [] and lazy.explorer == {}
    lazy.open_item(2)
    assert lazy.explorer["item"] == 2 and lazy.explorer["predicted"] == items[2].predicted
    assert lazy.explorer["graphs"] == explorer_payload(items[2])["graphs"]
    lazy.open_item(None)
    assert lazy.explorer == {} and lazy.selected_class == -1
    many = ExplanationGallery([items[0]] * (PRELOAD_LIMIT + 1))
    assert not many.preloaded and many.explorers == []
    assert ExplanationGallery([items[0]] * (PRELOAD_LIMIT + 1), preload=True).preloaded

    # a report carries every explanation, whatever the notebook preloaded
    state = lazy.report_state()
    assert len(state["explorers"]) == len(items) and state["explorer"] == {}
    assert state["explorers"][5]["classes"] == explorer_payload(items[5])["classes"]
    html = report_html(lazy)
    assert '"module":"explanation_gallery"' in html


def test_changing_the_layout_resends_the_positions(items):
    eager = ExplanationGallery(items[:2])
    before = eager.explorers[0]["graphs"][0]["nodes"][0]["pos"]
    eager.graph_layout = "spring"
    assert eager.explorers[0]["graphs"][0]["nodes"][0]["pos"] != before
    assert eager.explorers[0]["graphs"] == explorer_payload(items[0], "spring")["graphs"]
    lazy = ExplanationGallery(items[:2], preload=False, opened=1, layout="kamada_kawai")
    assert lazy.explorer["graphs"] == explorer_payload(items[1], "kamada_kawai")["graphs"]
    lazy.graph_layout = "patches"
    assert lazy.explorer["item"] == 1 and lazy.explorer["graphs"] == explorer_payload(items[1])["graphs"]
    with pytest.raises(traitlets.TraitError, match="graph_layout: expected one of"):
        lazy.graph_layout = "circle"


# --------------------------------------------------------------------------- filters
def test_filters(gallery):
    assert gallery.visible == list(range(8))
    assert gallery.filter(6) == [0, 1, 7]
    assert gallery.filter(6, role="true") == [0, 7]
    assert gallery.filter(None, role="predicted", correctness="wrong") == [1, 3]
    assert gallery.filter(correctness="correct") == [0, 2, 4, 5, 7]
    assert gallery.filter(1, correctness="all") == [2, 3]
    assert (gallery.class_filter, gallery.class_role, gallery.correctness) == (1, "predicted", "all")
    # the front end sets the traits; Python reads the same
    gallery.set_state({"class_filter": 2, "class_role": "true", "correctness": "wrong"})
    assert gallery.visible == [3]
    assert gallery_matches({"predicted": 1, "true": None, "correct": None}, -1, "predicted", "all")
    assert not gallery_matches({"predicted": 1, "true": None, "correct": None}, 1, "true", "all")
    with pytest.raises(ValueError, match=r"^class_index: expected None or a class index of the items \(0, 1, 2, 3, 4, 5, 6\); got 9"):
        gallery.filter(9)
    with pytest.raises(ValueError, match="^role: expected one of 'predicted', 'true'; got 'guess'"):
        gallery.filter(role="guess")
    with pytest.raises(traitlets.TraitError, match="class_filter: expected -1 or a class index"):
        gallery.set_state({"class_filter": 42})
    with pytest.raises(traitlets.TraitError, match="correctness: expected one of 'all', 'correct', 'wrong'; got 'maybe'"):
        gallery.correctness = "maybe"


def test_constructor_filters_and_opened(items):
    g = ExplanationGallery(items, class_filter=5, class_role="true", correctness="wrong", opened=1)
    assert g.visible == [1]
    assert (g.opened, g.selected_class, g.selected) == (1, 6, "")


# --------------------------------------------------------------------------- opening and selection
def test_a_click_opens_an_item_and_the_selection_is_checked(gallery, items):
    # what the front end sends on a click: the item, its predicted class, nothing selected
    gallery.set_state({"opened": 3, "selected_class": 1, "selected": ""})
    assert gallery.opened_data is items[3] and gallery.selected_class == 1
    gallery.set_state({"selected": "n2"})
    assert gallery.selected == "n2"
    # a class switch keeps an id the other class has, and drops one it has not
    absent = next(n.id for n in items[3].graph(1).nodes if not n.present)
    gallery.selected = absent
    gallery.set_state({"selected_class": 2})
    assert gallery.selected == ""
    with pytest.raises(traitlets.TraitError, match=r"selected_class: expected the index of a candidate class of item 3 \(2, 1, 0, 3, 4\); got 6"):
        gallery.set_state({"selected_class": 6})
    with pytest.raises(traitlets.TraitError, match="selected: expected '' or a node or edge id of class 2 of item 3"):
        gallery.set_state({"selected": "zz"})
    # opening another item (from Python) resets the selection to its prediction
    gallery.selected = "n1"
    gallery.open_item(4)
    assert (gallery.opened, gallery.selected_class, gallery.selected) == (4, 4, "")
    gallery.open_item(None)
    assert (gallery.opened, gallery.selected_class, gallery.selected) == (-1, -1, "")
    with pytest.raises(traitlets.TraitError, match=r"opened: expected -1 or an item position in \[0, 8\); got 8"):
        gallery.set_state({"opened": 8})
    with pytest.raises(traitlets.TraitError, match="selected_class: expected -1 while no item is opened; got 4"):
        gallery.selected_class = 4
    with pytest.raises(ValueError, match=r"^item: expected None or an item position in \[0, 8\); got -1"):
        gallery.open_item(-1)
    with pytest.raises(traitlets.TraitError, match="opacity"):
        gallery.set_state({"opacity": 1.5})


def test_labels_for_true_classes_outside_the_candidates(items):
    a = dataclasses.replace(items[4], true_class=9)
    b = dataclasses.replace(items[0], true_class=11)
    g = ExplanationGallery([a, b], labels={9: "tractor"})
    names = {c["index"]: c["label"] for c in g.class_names}
    assert names[9] == "tractor" and names[11] == "class 11"
    assert ExplanationGallery([a], labels=["l"] * 10).class_names[-1] == {"index": 9, "label": "l"}
    clash = dataclasses.replace(items[0], classes=[dataclasses.replace(c, label="X") if c.index == 6 else c
                                                   for c in items[0].classes])
    with pytest.raises(ValueError, match=r"^items\[1\]\.classes: expected class 6 labelled 'door over window' as in items\[0\]"):
        ExplanationGallery([items[0], clash])


@pytest.mark.parametrize("kwargs, message", [
    ({"items": []}, r"^items: expected at least one ExplanationData"),
    ({"items": "abc"}, r"^items: expected a list of ExplanationData"),
    ({"items": [1]}, r"^items\[0\]: expected an ExplanationData"),
    ({"captions": ["a"]}, r"^captions: expected None or a list of 8 str"),
    ({"captions": [1] * 8}, r"^captions\[0\]: expected a str; got 1"),
    ({"labels": "abc"}, r"^labels: expected None, a list of class names"),
    ({"labels": {1.5: "x"}}, r"^labels\[1.5\]: expected a str class name under an int index"),
    ({"thumbnail_size": 8}, r"^thumbnail_size: expected an int in \[16, 512\] \(pixels\); got 8"),
    ({"outlines": -1}, r"^outlines: expected an int >= 0"),
    ({"preload": "yes"}, r"^preload: expected True, False or 'auto'; got 'yes'"),
    ({"class_filter": 42}, r"^class_filter: expected None or a class index of the items"),
    ({"class_role": "guess"}, r"^class_role: expected one of 'predicted', 'true'"),
    ({"correctness": "meh"}, r"^correctness: expected one of 'all', 'correct', 'wrong'"),
    ({"opened": 8}, r"^opened: expected None or an item position in \[0, 8\); got 8"),
    ({"layout": "circle"}, r"^layout: expected one of 'patches', 'spring', 'kamada_kawai'"),
    ({"opacity": 2}, r"^opacity: expected a number in \[0, 1\]"),
    ({"colormap": "jet"}, r"^colormap: expected one of"),
    ({"title": None}, r"^title: expected a str; got None"),
])
def test_bad_arguments_name_themselves(items, kwargs, message):
    args = {"items": items, **kwargs}
    with pytest.raises(ValueError, match=message):
        ExplanationGallery(args.pop("items"), **args)


def test_an_invalid_item_is_named(items):
    broken = ExplanationData.example(0)
    broken.predicted = 99
    with pytest.raises(ValueError, match=r"^items\[1\]\.predicted: expected the index of a candidate class"):
        ExplanationGallery([items[0], broken])
    g = ExplanationGallery([items[0], items[4].to_dict()])  # dicts are read with from_dict
    assert g.data[1].title == items[4].title


def test_repr_is_deterministic(gallery):
    gallery.filter(correctness="wrong")
    assert repr(gallery) == ("ExplanationGallery(title='Explanations', items=8, shown=2, correct=5, wrong=2, class_filter=-1, "
                             "class_role='predicted', correctness='wrong', opened=-1, selected='', preloaded=True)")
