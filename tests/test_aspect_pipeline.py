"""Aspect presence building blocks (seed 001): the aspect-model interface, masked source
representations, mapping models and their layer-pair choice, on the toy CNN with small
seeds (held out from the toy models' training seeds >= 10000)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

import xwidgets as xw
from xwidgets import aspects as A
from xwidgets.aspects.mapping import _R2
from xwidgets.aspects.recognisers import AspectSegmenter
from xwidgets.data.synthetic import SyntheticParts

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cnn():
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def images():
    return SyntheticParts(14, seed=3).arrays()[0]


@pytest.fixture(scope="module")
def random_segmenter(cnn):
    torch.manual_seed(0)
    module = AspectSegmenter(len(A.SYNTHETIC_ASPECTS), width=8).eval()
    return A.AspectModel(module, A.SYNTHETIC_ASPECTS, "segmentation", cnn.preprocess, layers=A.SEGMENTER_LAYERS,
                         name="random")


# ----------------------------------------------------------------------------- ground truth
def test_aspect_masks_follow_the_instance_mask_and_the_tag():
    s = SyntheticParts(14, seed=3, variant="biased").sample(0)
    for i in range(14):
        s = SyntheticParts(14, seed=3, variant="biased").sample(i)
        if s.spurious_cue is not None:
            break
    masks = A.aspect_masks(s)
    assert masks.shape == (len(A.SYNTHETIC_ASPECTS), 64, 64)
    for part in s.parts:
        a = A.SYNTHETIC_ASPECTS.index(part.type)
        assert masks[a][s.instance_mask == part.id].all()
    x0, y0, x1, y1 = s.spurious_cue
    tag = masks[A.SYNTHETIC_ASPECTS.index(A.TAG_ASPECT)]
    assert tag[y0:y1, x0:x1].all() and tag.sum() == (x1 - x0) * (y1 - y0)
    assert A.defining_aspects("two_wheeler") == ("wheel",)
    assert A.defining_aspects("window_over_door") == ("window", "door")
    with pytest.raises(ValueError, match="class_name: expected a synthetic class"):
        A.defining_aspects("bus")


def test_random_smooth_masks_keep_the_asked_fraction():
    g = torch.Generator().manual_seed(0)
    m = A.synthetic.random_smooth_masks(64, 32, g, keep=(0.3, 0.3))
    kept = (m >= 0.5).float().mean(dim=(1, 2, 3))
    assert m.shape == (64, 1, 32, 32) and 0 <= float(m.min()) and float(m.max()) <= 1
    assert abs(float(kept.mean()) - 0.3) < 0.03


# ----------------------------------------------------------------------------- aspect-model interface
def test_second_part_on_the_first_part_is_the_whole_model(random_segmenter, images):
    seg = random_segmenter
    x, _ = seg.prepare(images)
    whole = seg.forward_from(x, "input")
    for layer in A.SEGMENTER_LAYERS[1:]:
        rep = seg.representation(x, layer)
        torch.testing.assert_close(seg.forward_from(rep, layer), whole, rtol=1e-5, atol=1e-5)
    # the second part only sees the representation: a blank one gives the same as on zeros
    blank = torch.zeros_like(seg.representation(x, "down2"))
    out = seg.forward_from(blank, "down2")
    assert torch.allclose(out[0], out[1])


def test_decoding_of_the_three_kinds(cnn, images):
    aspects = ["a", "b"]
    pre = cnn.preprocess

    class Fixed(nn.Module):
        def __init__(self, out):
            super().__init__()
            self.out = out
            self.dummy = nn.Conv2d(3, 1, 1)

        def forward(self, x):
            return self.out.expand(x.shape[0], *self.out.shape[1:])

    logits = torch.tensor([[3.0, -3.0]])
    ind = A.AspectModel(Fixed(logits), aspects, "presence", pre).indicate(images[:2])
    assert ind.masks is None and ind.boxes is None and ind.present().tolist() == [[True, False]] * 2
    seg_out = torch.full((1, 2, 64, 64), -9.0)
    seg_out[0, 0, 10:14, 20:25] = 9.0  # 20 pixels of aspect a
    seg_out[0, 1, 40:42, 40:42] = 9.0  # 4 pixels of b: fewer than min_pixels
    ind = A.AspectModel(Fixed(seg_out), aspects, "segmentation", pre, min_pixels=6).indicate(images[:1])
    assert ind.present().tolist() == [[True, False]]
    assert ind.boxes[0][0] == [(20, 10, 25, 14, pytest.approx(1.0, abs=1e-3))] and ind.boxes[0][1] == []
    assert ind.present_names(0) == ["a"]
    boxes = torch.tensor([[[[1.0, 2.0, 5.0, 6.0, 0.9], [0, 0, 0, 0, 0]], [[0, 0, 3, 3, 0.2], [0, 0, 0, 0, 0]]]])
    ind = A.AspectModel(Fixed(boxes), aspects, "boxes", pre).indicate(images[:1])
    assert ind.scores.tolist() == [[pytest.approx(0.9), pytest.approx(0.2)]]
    assert ind.boxes[0] == [[(1, 2, 5, 6, pytest.approx(0.9))], []]
    assert ind.masks[0, 0, 2:6, 1:5].min() == pytest.approx(0.9) and ind.masks[0, 0].sum() == pytest.approx(16 * 0.9)
    with pytest.raises(ValueError, match=r"a segmenter must output \(N, 2, h, w\)"):
        A.AspectModel(Fixed(logits), aspects, "segmentation", pre).indicate(images[:1])


def test_aspect_model_bad_input_names_the_argument(cnn):
    m = AspectSegmenter(2, width=4)
    with pytest.raises(ValueError, match="kind: expected one of"):
        A.AspectModel(m, ["a", "b"], "mask", cnn.preprocess)
    with pytest.raises(ValueError, match="aspects: expected distinct"):
        A.AspectModel(m, ["a", "a"], "segmentation", cnn.preprocess)
    with pytest.raises(ValueError, match="preprocess: expected"):
        A.AspectModel(m, ["a", "b"], "segmentation", None)
    with pytest.raises(KeyError, match="Did you mean: down1"):
        A.AspectModel(m, ["a", "b"], "segmentation", cnn.preprocess, layers=["input", "donw1"])
    assert A.AspectModel(m, ["a", "b"], "segmentation", cnn.preprocess).layers == [
        "input", "stem", "down1", "down2", "up1", "up2"]


# ----------------------------------------------------------------------------- masked representations
def test_masked_representation_at_the_input_and_inside(cnn, images):
    mr = A.masked_representation(cnn, images, "input", "gradcam", how="threshold", threshold=0.5)
    x, _ = cnn.prepare(images)
    assert mr.values.shape == x.shape and set(np.unique(mr.maps)) <= {0.0, 1.0}
    keep = torch.from_numpy(mr.maps)[:, None].bool().expand_as(x)
    torch.testing.assert_close(mr.values[keep], x[keep])
    assert (mr.values[~keep] == 0).all()
    sal = xw.explain(cnn, images, "gradcam")
    assert mr.targets.tolist() == sal.targets.tolist()
    # at an internal layer with the map of that layer: explain_layer's masked representation
    ls = xw.explain_layer(cnn, images, "gradcam", "layer4")
    for how in ("map", "threshold", "relevance"):
        mr = A.masked_representation(cnn, images, "layer4", "gradcam", how=how)
        np.testing.assert_allclose(mr.values.numpy(), ls.masked(how), rtol=1e-5, atol=1e-6)
    # the CAM layer's map resampled to an earlier layer's grid
    mr = A.masked_representation(cnn, images, "layer3", "gradcam", how="map", map_layer="layer4")
    assert mr.values.shape[-2:] == (16, 16) and mr.map_layer == "layer4"
    up = torch.nn.functional.interpolate(torch.from_numpy(ls.scaled_maps())[:, None], size=(16, 16), mode="bilinear",
                                         align_corners=False)[:, 0]
    np.testing.assert_allclose(mr.maps, up.clamp(0, 1).numpy(), atol=1e-6)
    torch.testing.assert_close(mr.values, mr.source * torch.from_numpy(mr.maps)[:, None])
    assert 0 < mr.kept.min() and mr.kept.max() < 1
    # any method: a gradient method at a layer (the model's second part), guided Grad-CAM, and
    # a perturbation method's input map resampled to a layer
    for method, kwargs in (("gradient_x_input", {}), ("guided_gradcam", {}), ("occlusion", {"map_layer": "input"})):
        mr = A.masked_representation(cnn, images[:4], "layer2", method, how="threshold", **kwargs)
        assert mr.values.shape == (4, 64, 32, 32) and set(np.unique(mr.maps)) == {0.0, 1.0}
        assert (mr.values[torch.from_numpy(mr.maps)[:, None].expand_as(mr.values) == 0] == 0).all()


def test_masked_representation_bad_input(cnn, images):
    with pytest.raises(ValueError, match="how: expected one of"):
        A.masked_representation(cnn, images, "layer3", how="keep")
    with pytest.raises(ValueError, match="how: expected 'map' or 'threshold'"):
        A.masked_representation(cnn, images, "input", how="relevance")
    with pytest.raises(ValueError, match=r"threshold: expected a number in \[0, 1\]"):
        A.masked_representation(cnn, images, "layer3", threshold=2)
    with pytest.raises(KeyError, match="Did you mean: layer3"):
        A.masked_representation(cnn, images, "layr3")
    with pytest.raises(ValueError, match="target: expected one class per image"):
        A.masked_representation(cnn, images, "layer4", target=xw.TopK(2))


# ----------------------------------------------------------------------------- mapping models
def test_r2_is_the_explained_variance():
    r = _R2()
    y = torch.randn(8, 3, 4, 4) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1) + 5
    r.add(y[:4], y[:4])
    r.add(y[4:], y[4:])
    assert r.value() == pytest.approx(1.0)
    r = _R2()
    r.add(y.mean(dim=(0, 2, 3), keepdim=True).expand_as(y), y)
    assert r.value() == pytest.approx(0.0, abs=1e-6)


def test_candidate_pairs_and_shared_layers(cnn, random_segmenter):
    assert A.candidate_pairs(cnn, random_segmenter) == [
        ("input", "input"), ("layer1", "stem"), ("layer1", "up2"), ("layer2", "down1"), ("layer2", "up1"),
        ("layer3", "down2"), ("layer4", "down2")]
    # an aspect model built on the classifier's own first two stages (claim 8)
    net = cnn.model
    shared = nn.Sequential(OrderedDict(a=net.layer1, b=net.layer2, head=nn.Conv2d(64, 2, 1))).eval()
    am = A.AspectModel(shared, ["x", "y"], "segmentation", cnn.preprocess, layers=["input", "a", "b"])
    # shared stages map by the identity; layer3 (16 px) is within a factor 2 of b (32 px)
    assert A.candidate_pairs(cnn, am) == [("input", "input"), ("layer1", "a"), ("layer2", "b"), ("layer3", "b")]


def assert_deepest_passing(mp):
    passing = [p for p in mp.pairs if p.r2 >= mp.threshold]
    assert passing
    assert mp.chosen == max(((p.source, p.target) for p in passing),
                            key=lambda st: mp.score(*st).depth)


def test_fit_mappings_scores_every_pair_and_chooses_the_deepest_passing(cnn, random_segmenter):
    train = SyntheticParts(48, seed=4).arrays()[0]
    test = SyntheticParts(24, seed=5).arrays()[0]
    net = cnn.model
    steps = []
    shared = A.AspectModel(nn.Sequential(OrderedDict(a=net.layer1, b=net.layer2, head=nn.Conv2d(64, 2, 1))).eval(),
                           ["x", "y"], "segmentation", cnn.preprocess, layers=["input", "a", "b"])
    mp = A.fit_mappings(cnn, shared, train, test, epochs=1, batch_size=16, progress=False,
                        callback=lambda s, t, l: steps.append((s, t, sorted(l))))
    table = mp.scores_table()
    assert [(p["source"], p["kind"]) for p in table] == [
        ("layer3", "learned"), ("layer2", "shared"), ("layer1", "shared"), ("input", "identity")]
    assert all(p["r2"] == pytest.approx(1.0) for p in table[1:])
    # masking the input is masking the identity's source exactly; masking shared activations is not
    # masking the input, so the shared pairs' masked R^2 is below 1
    assert table[-1]["r2_masked"] == pytest.approx(1.0) and table[1]["r2_masked"] < 1
    assert table[0]["r2"] < 1
    assert steps[-1] == (3, 3, ["layer3->b"])  # only the learned pair trains
    assert_deepest_passing(mp)
    steps.clear()

    pairs = [("input", "input"), ("layer3", "down2"), ("layer4", "down2")]
    mp = A.fit_mappings(cnn, random_segmenter, train, test, pairs=pairs, epochs=2, batch_size=16, threshold=0.999,
                        progress=False, callback=lambda s, t, l: steps.append((s, t, sorted(l))))
    assert steps[-1][:2] == (6, 6) and steps[-1][2] == ["layer3->down2", "layer4->down2"]
    table = mp.scores_table()
    assert [(p["source"], p["target"]) for p in table] == [("layer4", "down2"), ("layer3", "down2"), ("input", "input")]
    for p in table:
        assert np.isfinite(p["r2"]) and np.isfinite(p["r2_masked"])
    assert table[-1]["r2"] == pytest.approx(1.0) and table[-1]["kind"] == "identity"
    learned = [p for p in table if p["kind"] == "learned"]
    assert all(p["r2"] < 0.999 for p in learned)  # a 2-epoch mapping of a random network is not that good
    assert mp.chosen == ("input", "input")  # the only pair at the threshold
    assert_deepest_passing(mp)
    assert mp.use("layer4", "down2").chosen == ("layer4", "down2")
    with pytest.warns(UserWarning, match="no pair reached"):
        A.fit_mappings(cnn, random_segmenter, train[:16], test[:8], pairs=pairs[1:], epochs=1, threshold=1.0,
                       progress=False)


def test_mapping_save_load_and_bad_input(cnn, random_segmenter, tmp_path):
    train = SyntheticParts(16, seed=4).arrays()[0]
    test = SyntheticParts(8, seed=5).arrays()[0]
    mp = A.fit_mappings(cnn, random_segmenter, train, test, pairs=[("layer3", "down2"), ("layer4", "down2")],
                        epochs=1, threshold=0.01, progress=False, kind="unet")
    path = mp.save(tmp_path / "m.pt", all_pairs=True)
    back = A.AspectMapping.load(path)
    assert back.chosen == mp.chosen and back.scores_table() == mp.scores_table()
    x = torch.randn(2, 128, 8, 8)
    torch.testing.assert_close(back(x, ("layer4", "down2")), mp(x, ("layer4", "down2")))
    with pytest.raises(ValueError, match="pairs: expected a non-empty list"):
        A.fit_mappings(cnn, random_segmenter, train, test, pairs=[])
    with pytest.raises(ValueError, match=r"pairs\[0\]: expected both layers inputs or both internal"):
        A.fit_mappings(cnn, random_segmenter, train, test, pairs=[("input", "down2")])
    with pytest.raises(ValueError, match="aspect_model: expected an xwidgets.aspects.AspectModel"):
        A.fit_mappings(cnn, "seg", train, test)
    with pytest.raises(ValueError, match=r"threshold: expected a number in \(0, 1\]"):
        A.fit_mappings(cnn, random_segmenter, train, test, threshold=0)
    with pytest.raises(ValueError, match="kind: expected one of"):
        A.fit_mappings(cnn, random_segmenter, train, test, kind="mlp")
