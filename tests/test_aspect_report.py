"""The dataset view of aspect presence (seed 001: counts per class, outliers) and the
AspectReport widget's Python side (trait contract, checks of front-end state)."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

from xwidgets.aspects import aspect_report
from xwidgets.widgets import AspectReport

from aspect_fixtures import ASPECTS, make_presence


def test_counts_per_class_and_aspect():
    rep = aspect_report(make_presence())
    assert rep.classes == ["two_wheeler", "red_lamp", "unused"]
    np.testing.assert_array_equal(rep.totals, [6, 4, 0])
    np.testing.assert_array_equal(rep.counts, [[6, 1, 0], [0, 3, 0], [0, 0, 0]])
    np.testing.assert_array_equal(rep.present_counts, [[6, 1, 4], [0, 3, 0], [0, 0, 0]])
    assert rep.top_aspects("two_wheeler", 2) == [("wheel", 1.0), ("<b>tag</b>", pytest.approx(1 / 6))]
    assert rep.top_aspects("red_lamp", 1) == [("<b>tag</b>", 0.75)]
    assert rep.top_aspects("unused") == []
    freq = rep.frequency()
    assert np.isnan(freq[2]).all() and freq[1, 1] == 0.75
    assert [row["class"] for row in rep.table()] == ["two_wheeler", "red_lamp"]
    assert rep.combination(5) == ("wheel", "<b>tag</b>")


def test_outliers_are_rare_combinations_for_their_class():
    rep = aspect_report(make_presence(), rare=0.25, min_images=3)
    # two_wheeler: image 5 is the only one with the tag relevant (none of the 5 others agree);
    # red_lamp: image 9 is the only one without it (none of the 3 others agree)
    assert rep.outliers.tolist() == [5, 9]
    # leave-one-out agreement: image 0 agrees with 4 of 5 on the tag; image 6 with 2 of 3
    np.testing.assert_allclose(rep.agreement[0], [1.0, 0.8, 1.0])
    np.testing.assert_allclose(rep.rarity[[0, 5, 6, 9]], [0.2, 1.0, 1 / 3, 1.0])
    assert rep.unusual(5) == [("<b>tag</b>", True, 0.0)] and rep.unusual(9) == [("<b>tag</b>", False, 0.0)]
    assert rep.unusual(0) == []
    # too few images: no outliers (red_lamp has 4); a looser rule: more
    assert aspect_report(make_presence(), min_images=5).outliers.tolist() == [5]
    assert aspect_report(make_presence(), min_images=7).outliers.size == 0
    assert aspect_report(make_presence(), rare=0.7, min_images=3).outliers.tolist() == [5, 9, 6, 7, 8]


def test_report_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="presence: expected an AspectPresence"):
        aspect_report("not a presence")
    with pytest.raises(ValueError, match=r"rare: expected a number in \[0, 1\)"):
        aspect_report(make_presence(), rare=1.0)
    with pytest.raises(ValueError, match="classes: expected None or"):
        aspect_report(make_presence(), classes=np.zeros(3, int))
    rep = aspect_report(make_presence())
    with pytest.raises(ValueError, match="class_name: expected a class name"):
        rep.top_aspects("nope")


def test_widget_trait_contract():
    rep = aspect_report(make_presence(), rare=0.25, min_images=3)
    w = AspectReport(rep, per_cell=4)
    assert [c["name"] for c in w.classes] == ["two_wheeler", "red_lamp"]  # classes without images left out
    assert w.aspects == ASPECTS
    assert w.counts == [[6, 1, 0], [0, 3, 0]]
    assert w.present_counts == [[6, 1, 4], [0, 3, 0]]
    # a cell lists at most per_cell images, strongest relevance first, each with its mask row
    wheel = w.cells[0][0]
    assert len(wheel) == 4
    assert [w._image_index[e[0]] for e in wheel] == [0, 1, 2, 3]
    assert w.cells[0][2] == [] and w.cells[1][0] == []
    assert w.masks["dtype"] == "uint8" and w.masks["shape"][1:] == [16, 16]
    mask = np.frombuffer(w.masks["data"], np.uint8).reshape(w.masks["shape"])
    assert mask[wheel[0][1], 0:4, 2:6].min() == 255 and mask[wheel[0][1]].sum() == 16 * 255
    tag_entry = w.cells[1][1][0]
    assert mask[tag_entry[1], 4:8, 2:6].min() == 255
    assert len(w.images) == len(w.captions) == len(w._image_index)
    assert all(img["png"][:4] == b"\x89PNG" for img in w.images)
    assert [w._image_index[o["image"]] for o in w.outliers] == [5, 9]
    assert w.outliers[0]["aspects"] == ["wheel", "<b>tag</b>"] and w.outliers[1]["aspects"] == []
    assert w.outliers[0]["unusual"] == [["<b>tag</b>", True, 0.0]] and w.outliers[1]["unusual"] == [["<b>tag</b>", False, 0.0]]
    assert w.report_module == "aspect_report"
    assert repr(w) == "AspectReport(classes=2, aspects=3, images=9, outliers=2, selected=None)"


def test_widget_selection_and_front_end_state_checks():
    rep = aspect_report(make_presence())
    w = AspectReport(rep, selected=("red_lamp", "<b>tag</b>"))
    assert w.selected == [1, 1] and w.selected_cell == ("red_lamp", "<b>tag</b>")
    assert w.selected_images == [6, 7, 8]
    w.selected = [0, 2]
    assert w.selected_cell == ("two_wheeler", "door") and w.selected_images == []
    w.selected = []
    assert w.selected_cell is None
    for bad in ([2, 0], [0, 3], [0], [-1, 0]):
        with pytest.raises(traitlets.TraitError, match="selected: expected"):
            w.selected = bad


def test_widget_bad_input_names_the_argument():
    rep = aspect_report(make_presence())
    with pytest.raises(ValueError, match="report: expected an AspectDatasetReport"):
        AspectReport(make_presence())
    with pytest.raises(ValueError, match="per_cell: expected a positive int"):
        AspectReport(rep, per_cell=0)
    with pytest.raises(ValueError, match=r"selected\[0\]: expected a class with images"):
        AspectReport(rep, selected=("unused", "wheel"))
    with pytest.raises(ValueError, match=r"selected\[1\]: expected an aspect"):
        AspectReport(rep, selected=("red_lamp", "nope"))
    assert rep.widget().report_module == "aspect_report"
