"""The shipped aspect models of issue 9 (seed 001) on held-out synthetic images: the
multi-aspect segmenter (and the same network read as a presence classifier and a box
detector), and the mappings from the toy CNNs to it: held-out R^2 reported for every layer
pair tried, the chosen pair the deepest above 0.8, and again above 0.8 on fresh images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xwidgets as xw
from xwidgets import aspects as A
from xwidgets.aspects.mapping import _R2, _aspect_grids, _grids, _source_reps, _target_reps
from xwidgets.aspects.synthetic import synthetic_images
from xwidgets.data.synthetic import SyntheticParts

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def seg():
    return A.aspect_segmenter()


@pytest.fixture(scope="module")
def models():
    return {"toy_cnn": xw.models.toy_cnn(), "toy_cnn_biased": xw.models.toy_cnn_biased()}


@pytest.fixture(scope="module")
def mappings():
    return {name: A.load_mapping(name) for name in ("toy_cnn", "toy_cnn_biased")}


def test_shipped_segmenter_on_held_out_images(seg):
    data = SyntheticParts(70, seed=6, variant="biased")
    samples = [data.sample(i) for i in range(70)]
    truth = np.stack([A.aspect_masks(s) for s in samples])
    ind = seg.indicate(np.stack([s.image for s in samples]))
    present = truth.sum(axis=(2, 3)) >= seg.min_pixels
    accuracy = (ind.present() == present).mean(axis=0)
    pred = ind.masks >= 0.5
    iou = (pred & truth).sum(axis=(0, 2, 3)) / np.maximum((pred | truth).sum(axis=(0, 2, 3)), 1)
    print("presence accuracy", dict(zip(seg.aspects, accuracy.round(3))), "IoU", dict(zip(seg.aspects, iou.round(3))))
    assert accuracy.min() >= 0.97 and iou.min() >= 0.9
    assert present[:, A.SYNTHETIC_ASPECTS.index("corner_tag")].sum() >= 5  # the tag occurs in these images
    card = A.segmenter_card()
    assert card["command"].startswith("python scripts/train_aspect_models.py") and card["held_out"]["mean_iou"] > 0.9
    # the same network read as a presence classifier and as a box detector agrees with it
    images = np.stack([s.image for s in samples[:14]])
    np.testing.assert_allclose(A.aspect_classifier().indicate(images).scores, ind.scores[:14], atol=1e-5)
    det = A.aspect_detector().indicate(images)
    np.testing.assert_array_equal(det.present(), ind.present()[:14])
    for i, s in enumerate(samples[:14]):
        for part in s.parts:
            a = seg.aspects.index(part.type)
            (x0, y0, x1, y1, _), = det.boxes[i][a]
            px0, py0, px1, py1 = part.box
            assert x0 <= px0 + 1 and y0 <= py0 + 1 and x1 >= px1 - 1 and y1 >= py1 - 1  # the box holds the part


@pytest.mark.parametrize("name", ["toy_cnn", "toy_cnn_biased"])
def test_mapping_quality_is_reported_for_every_pair(seg, models, mappings, name):
    mapping = mappings[name]
    model = models[name]
    tried = {(p.source, p.target) for p in mapping.pairs}
    # the shipped search: every candidate pair whose grids are at most 32 px (the script's default)
    grids = {**{("s", n): g[1:] for n, g in _grids(model, ["layer1", "layer2", "layer3", "layer4"]).items()},
             **{("t", n): g[1:] for n, g in _aspect_grids(seg, seg.layers).items()}}
    small = {(s, t) for s, t in A.candidate_pairs(model, seg)
             if s == "input" or max(*grids["s", s], *grids["t", t]) <= 32}
    assert tried == small and len(tried) >= 5
    for row in mapping.scores_table():
        print(f"{name}: {row['source']:>6} -> {row['target']:<6} R^2 {row['r2']:.3f} (masked {row['r2_masked']:.3f})"
              f"{'  <- chosen' if row['chosen'] else ''}")
    chosen = mapping.score(*mapping.chosen)
    assert chosen.r2 >= 0.8 and chosen.kind == "learned"  # an internal pair, not the identity
    passing = [p for p in mapping.pairs if p.r2 >= mapping.threshold]
    assert chosen.depth == max(p.depth for p in passing)  # the deepest pair above the threshold
    # again on fresh unlabelled images
    fresh = synthetic_images(48, seed=9)
    x, _ = model.prepare(fresh)
    r2 = _R2()
    for lo in range(0, len(x), 16):
        src = _source_reps(model, x[lo: lo + 16], [mapping.source_layer])[mapping.source_layer]
        tgt = _target_reps(seg, x[lo: lo + 16], [mapping.target_layer])[mapping.target_layer]
        r2.add(mapping(src), tgt)
    print(f"{name}: chosen pair R^2 on fresh images {r2.value():.3f}")
    assert r2.value() >= 0.8
