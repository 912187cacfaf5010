"""Faithfulness, complexity and sanity metrics (issue 5): deletion and insertion,
average drop / increase in confidence, ROAD, sparseness and complexity, and the
model-randomisation check.

Quantus (a dev extra) is the numerical reference for deletion/insertion (its
``PixelFlipping``), ROAD's noisy linear imputation, ``Sparseness`` and ``Complexity``.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import quantus  # a dev extra (pyproject.toml): the numerical reference
import torch
from torch import nn

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.metrics._perturb import substrate_inputs
from xwidgets.metrics.deletion_insertion import step_counts
from xwidgets.metrics.road import linear_imputation_cg, noisy_linear_imputation



@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def quantus_numpy(monkeypatch):
    """Quantus 0.6 integrates with ``np.trapz``, which numpy 2.4 removed: give it the
    same function under its new name (only for the test that asks for it)."""
    if not hasattr(np, "trapz"):
        monkeypatch.setattr(np, "trapz", np.trapezoid, raising=False)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def toy():
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def toy_images():
    images, _ = SyntheticParts(6, seed=3).arrays()
    return images


@pytest.fixture(scope="module")
def toy48(toy):
    """The toy CNN (fully convolutional) at 48 x 48 inputs: Quantus's PixelFlipping
    needs its step (3 x pixels, one per channel) to divide H x W, and 48 x 48 = 3 x 768."""
    pre = toy.preprocess
    return xw.wrap(toy.model, preprocess=xw.Preprocess(size=(48, 48), resize=48, mean=pre.mean, std=pre.std),
                   labels=toy.labels)


def without_ties(saliency: xw.Saliency, seed: int = 0) -> xw.Saliency:
    """The same maps plus a tiny noise, so that every pixel order is strict (libraries
    break ties differently)."""
    noise = 1e-5 * np.random.default_rng(seed).standard_normal(saliency.maps.shape)
    return dataclasses.replace(saliency, maps=(saliency.maps + noise).astype(np.float32))


class EvidenceModel(nn.Module):
    """Two classes; the logit of class 0 is 4 x the mean red input inside a 4 x 4
    square, class 1's logit is 0. The class evidence is exactly that square."""

    def __init__(self, size: int = 16):
        super().__init__()
        region = torch.zeros(size, size)
        region[4:8, 6:10] = 1
        self.register_buffer("region", region)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        evidence = (x[:, 0] * self.region).sum(dim=(1, 2)) / self.region.sum()
        return torch.stack([4 * evidence, torch.zeros_like(evidence)], dim=1)


@pytest.fixture(scope="module")
def evidence_case():
    """The hand-made model, 8 noise images whose square is bright red, and two sets of
    maps: one that is exactly the square (with a strict order inside and outside it)
    and one uniformly random."""
    model = xw.wrap(EvidenceModel(), preprocess=xw.Preprocess(size=(16, 16), resize=None, mean=(0.5,) * 3, std=(0.5,) * 3),
                    labels=["evidence", "other"])
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(8, 16, 16, 3), dtype=np.uint8)
    images[:, 4:8, 6:10, 0] = 255
    with torch.no_grad():
        probs = torch.softmax(model.logits(model.preprocess.normalise(images)), dim=1).numpy()
    region = model.model.region.numpy()
    exact = region[None] + 1e-3 * rng.random((8, 16, 16))
    common = dict(images=images, image_index=np.arange(8), targets=np.zeros(8, dtype=np.int64), probabilities=probs,
                  labels=model.labels, method="handmade")
    good = xw.Saliency(maps=exact, **common)
    random = xw.Saliency(maps=rng.random((8, 16, 16)), **common)
    return model, good, random


# ---------------------------------------------------------------------- Quantus agreement
def test_deletion_equals_quantus_pixel_flipping(toy48, toy_images, quantus_numpy):
    """Deletion with the mean substrate (a zero model input) equals Quantus's
    PixelFlipping with ``perturb_baseline=0.0``: the same order (highest first), 96
    pixels (288 features) per step, softmax of the row's class. Quantus's curve lacks
    the unperturbed point and its AUC is np.trapz with dx=1; ours is normalised to x
    in [0, 1]: ours = (Quantus + (s0 + s1) / 2) / S."""
    sal = without_ties(xw.explain(toy48, toy_images, "saliency"))
    ours = xw.evaluate(toy48, sal, "deletion", step=96, substrate="mean", internal_batch_size=64)
    x = xw.metrics.model_inputs(toy48, sal).numpy()
    common = dict(model=toy48.model.eval(), x_batch=x, y_batch=sal.targets, a_batch=sal.maps[:, None], device="cpu",
                  softmax=True, channel_first=True)
    curve = np.array(quantus.PixelFlipping(features_in_step=3 * 96, perturb_baseline=0.0, normalise=False, abs=False,
                                           disable_warnings=True)(**common))
    auc = np.array(quantus.PixelFlipping(features_in_step=3 * 96, perturb_baseline=0.0, normalise=False, abs=False,
                                         disable_warnings=True, return_auc_per_sample=True)(**common))
    steps = ours.curves.shape[1] - 1
    assert steps == 24 and curve.shape == (6, 24)
    np.testing.assert_allclose(ours.curves[:, 1:], curve, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours.scores, (auc + (ours.curves[:, 0] + ours.curves[:, 1]) / 2) / steps, atol=1e-5, rtol=0)
    # the clean point is the clean softmax probability of the target
    np.testing.assert_allclose(ours.curves[:, 0], sal.probabilities[np.arange(6), sal.targets], atol=1e-5)
    assert np.ptp(curve, axis=1).min() > 0.02  # curves that actually move


def _replace_from(source: np.ndarray):
    """A Quantus perturb_func writing ``source``'s values at the given feature indices."""
    flat = source.reshape(source.shape[0], -1)

    def perturb(arr, indices, **kwargs):
        out = arr.copy()
        rows = np.arange(arr.shape[0])[:, None]
        out[rows, indices] = flat[rows, indices]
        return out

    return perturb


def test_insertion_and_blur_deletion_equal_quantus(toy48, toy_images):
    """Insertion is Quantus's PixelFlipping run from the blurred image with a
    perturbation that writes the image's own pixels back (same order and steps);
    deletion with the blur substrate is PixelFlipping writing the blurred pixels."""
    sal = without_ties(xw.explain(toy48, toy_images, "gradcam"), seed=1)
    inputs = xw.metrics.model_inputs(toy48, sal)
    x = inputs.numpy()
    blurred = substrate_inputs(toy48, inputs, "blur", 5.0).numpy()
    common = dict(model=toy48.model.eval(), y_batch=sal.targets, a_batch=sal.maps[:, None], device="cpu", softmax=True,
                  channel_first=True)
    ins = xw.evaluate(toy48, sal, "insertion", step=96, internal_batch_size=32)
    assert ins.params["substrate"] == "blur" and ins.params["blur_sigma"] == 5.0
    q_ins = np.array(quantus.PixelFlipping(features_in_step=288, perturb_func=_replace_from(x), normalise=False, abs=False,
                                           disable_warnings=True)(x_batch=blurred, **common))
    np.testing.assert_allclose(ins.curves[:, 1:], q_ins, atol=1e-5, rtol=0)
    dele = xw.evaluate(toy48, sal, "deletion", step=96, substrate="blur", internal_batch_size=32)
    q_del = np.array(quantus.PixelFlipping(features_in_step=288, perturb_func=_replace_from(blurred), normalise=False,
                                           abs=False, disable_warnings=True)(x_batch=x, **common))
    np.testing.assert_allclose(dele.curves[:, 1:], q_del, atol=1e-5, rtol=0)
    # both ends: insertion ends at the clean image, deletion at the blurred one
    np.testing.assert_allclose(ins.curves[:, -1], dele.curves[:, 0], atol=1e-6)
    np.testing.assert_allclose(ins.curves[:, 0], dele.curves[:, -1], atol=1e-6)


def test_sparseness_and_complexity_equal_quantus(toy, toy_images):
    sal = xw.explain(toy, toy_images, "saliency")
    x = xw.metrics.model_inputs(toy, sal).numpy()
    for quantus_metric, name in [(quantus.Sparseness, "sparseness"), (quantus.Complexity, "complexity")]:
        expected = np.array(quantus_metric(disable_warnings=True)(
            model=None, x_batch=x, y_batch=sal.targets, a_batch=sal.maps[:, None].copy(), device="cpu"))
        ours = xw.evaluate(toy, sal, name)
        np.testing.assert_allclose(ours.scores, expected, atol=1e-5, rtol=0)
    # known values: a one-pixel map is maximally sparse and simple, a flat map the opposite
    n = 64 * 64
    point, flat = np.zeros((1, 64, 64), np.float32), np.ones((1, 64, 64), np.float32)
    point[0, 3, 5] = 2.0
    for maps, gini, ent in [(point, 1 - 1 / n, 0.0), (flat, 0.0, math.log(n)), (-flat, 0.0, math.log(n))]:
        one = dataclasses.replace(sal, maps=maps, image_index=np.zeros(1, np.int64), targets=sal.targets[:1])
        assert xw.evaluate(toy, one, "sparseness").scores[0] == pytest.approx(gini, abs=1e-9)
        assert xw.evaluate(toy, one, "complexity").scores[0] == pytest.approx(ent, abs=1e-9)
    signed = dataclasses.replace(sal, maps=-point, image_index=np.zeros(1, np.int64), targets=sal.targets[:1])
    assert xw.evaluate(toy, signed, "sparseness", absolute=False).scores[0] == 0.0  # no positive evidence at all


def test_road_imputation_equals_quantus_and_is_a_weighted_mean():
    """Our noisy linear imputation without noise equals Quantus's port of the ROAD
    code; each imputed pixel is the weighted mean of its neighbours (1/6 direct,
    1/12 diagonal, renormalised at borders), and the noise has the stated std."""
    from quantus.functions.perturb_func import noisy_linear_imputation as quantus_imputation

    rng = np.random.default_rng(0)
    image = rng.random((12, 10, 3))
    removed = rng.random((12, 10)) < 0.6
    removed[0, :4] = True  # a border run
    ours = noisy_linear_imputation(image, removed, noise=0.0)
    expected = quantus_imputation(arr=image.transpose(2, 0, 1).copy(), indices=np.flatnonzero(removed), noise=0.0)
    np.testing.assert_allclose(ours, expected.transpose(1, 2, 0), atol=1e-10)
    np.testing.assert_array_equal(ours[~removed], image[~removed])
    y, x = np.argwhere(removed)[5]
    total, weights = 0.0, 0.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if (dy, dx) != (0, 0) and 0 <= y + dy < 12 and 0 <= x + dx < 10:
                weight = 1 / 6 if dy == 0 or dx == 0 else 1 / 12
                total, weights = total + weight * ours[y + dy, x + dx], weights + weight
    np.testing.assert_allclose(ours[y, x], total / weights, atol=1e-10)
    # the batched conjugate-gradient solver (used on GPUs) gives the same imputation
    blob = np.hypot(*np.mgrid[-6:6, -4:6]) < 4.5  # a contiguous hole, as MoRF makes
    masks = torch.as_tensor(np.stack([removed, blob]))
    batch = torch.as_tensor(np.stack([image, image])).permute(0, 3, 1, 2)
    solved = linear_imputation_cg(batch, masks).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(solved[0], ours, atol=1e-6)
    np.testing.assert_allclose(solved[1], noisy_linear_imputation(image, blob, noise=0.0), atol=1e-6)
    noisy = noisy_linear_imputation(image, removed, noise=0.05, rng=np.random.default_rng(1))
    assert np.std(noisy[removed] - ours[removed]) == pytest.approx(0.05, rel=0.15)
    with pytest.raises(ValueError, match="removed"):
        noisy_linear_imputation(image, np.ones((12, 10), bool))


# ---------------------------------------------------------------------- known answers
def test_map_on_the_evidence_beats_a_random_map(evidence_case):
    model, good, random = evidence_case
    better = {
        "deletion": lambda g, r: g < r - 0.1,
        "insertion": lambda g, r: g > r + 0.1,
        "road_morf": lambda g, r: g < r - 0.1,
        "road_lerf": lambda g, r: g > r + 0.03,
        "average_drop": lambda g, r: g < r - 5,
        "sparseness": lambda g, r: g > r + 0.3,
        "complexity": lambda g, r: g < r - 0.5,
    }
    for name, wins in better.items():
        g, r = xw.evaluate(model, good, name).mean(), xw.evaluate(model, random, name).mean()
        assert wins(g, r), f"{name}: exact map {g:.4f}, random map {r:.4f}"
        assert xw.metrics.get_metric(name).higher_is_better == (name in ("insertion", "road_lerf", "sparseness"))
    # deleting the square first: after 16 of 256 pixels (6.25%) the evidence is gone
    dele = xw.evaluate(model, good, "deletion", step=16, substrate="mean")
    np.testing.assert_allclose(dele.curves[:, 1:], 0.5, atol=1e-6)  # logits (0, 0): p = 1/2
    np.testing.assert_allclose(dele.curves[:, 0], 1 / (1 + math.exp(-4)), atol=1e-6)
    # average drop at the top 15%: the square (6.25%) is kept at full strength
    assert xw.evaluate(model, good, "average_drop", keep=0.15).scores.max() < 0.5
    assert xw.evaluate(model, random, "average_drop", keep=0.15).scores.min() > 20


def test_map_and_its_negation_swap_deletion_and_insertion(toy, toy_images):
    """Inserting a map's top pixels into the substrate gives the same images as
    deleting the negated map's top pixels (its bottom ones) from the image: the
    insertion curve of M is the deletion curve of -M reversed, and their AUCs are
    equal; with a faithful map the order of the two flips."""
    sal = without_ties(xw.explain(toy, toy_images, "gradcam"), seed=2)
    neg = dataclasses.replace(sal, maps=-sal.maps)
    kw = dict(step=256, substrate="blur", internal_batch_size=64)
    ins, del_neg = xw.evaluate(toy, sal, "insertion", **kw), xw.evaluate(toy, neg, "deletion", **kw)
    np.testing.assert_allclose(ins.curves, del_neg.curves[:, ::-1], atol=1e-5)
    np.testing.assert_allclose(ins.scores, del_neg.scores, atol=1e-6)
    dele, ins_neg = xw.evaluate(toy, sal, "deletion", **kw), xw.evaluate(toy, neg, "insertion", **kw)
    np.testing.assert_allclose(dele.scores, ins_neg.scores, atol=1e-6)
    assert dele.mean() < del_neg.mean() and ins.mean() > ins_neg.mean()
    assert np.mean(dele.scores < del_neg.scores) >= 5 / 6


def test_curve_batching_and_protocol(toy, toy_images):
    """All (row, step) copies go through the model in chunks of internal_batch_size:
    B x (S + 1) rows in ceil(B (S + 1) / chunk) forwards; the x axis and the AUC."""
    sal = xw.explain(toy, toy_images[:3], "gradcam")
    calls = []
    handle = toy.model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    try:
        result = xw.evaluate(toy, sal, "deletion", internal_batch_size=40)
    finally:
        handle.remove()
    assert result.curves.shape == (3, 51) and result.extras["forwards"] == 153
    assert calls == [40, 40, 40, 33]
    np.testing.assert_allclose(result.extras["fractions"], np.arange(51) / 50, atol=1 / 4096)
    np.testing.assert_allclose(result.scores, np.trapezoid(result.curves, result.extras["fractions"], axis=1), atol=1e-12)
    assert result.params == {"step": 0.02, "substrate": "mean", "blur_sigma": 5.0, "score": "softmax", "label": "target",
                             "internal_batch_size": 40}
    logit = xw.evaluate(toy, sal, "deletion", step=0.25, score="logit", substrate="black")
    assert logit.curves.max() > 1.0  # logits, not probabilities
    assert (step_counts(1000, 4096) == [0, 1000, 2000, 3000, 4000, 4096]).all()
    assert (step_counts(0.3, 100) == [0, 30, 60, 90, 100]).all()
    # ROAD: one point per percentage, LeRF keeps the score higher than MoRF for Grad-CAM
    morf = xw.evaluate(toy, sal, "road_morf", percentages=[0.2, 0.5, 0.8])
    lerf = xw.evaluate(toy, sal, "road_lerf", percentages=[0.2, 0.5, 0.8])
    assert morf.curves.shape == (3, 3) and list(morf.extras["fractions"]) == [0.2, 0.5, 0.8]
    assert lerf.mean() > morf.mean()
    again = xw.evaluate(toy, sal, "road_morf", percentages=[0.2, 0.5, 0.8])
    np.testing.assert_array_equal(morf.scores, again.scores)  # seeded noise
    direct = xw.evaluate(toy, sal, "road_morf", percentages=[0.5, 0.8], noise=0.0, solver="direct")
    cg = xw.evaluate(toy, sal, "road_morf", percentages=[0.5, 0.8], noise=0.0, solver="cg")
    assert direct.extras["solver"] == "direct" and cg.extras["solver"] == "cg"
    np.testing.assert_allclose(cg.curves, direct.curves, atol=1e-5)
    acc = xw.evaluate(toy, sal, "road_lerf", percentages=[0.2, 0.5], score="accuracy")
    assert set(np.unique(acc.curves)) <= {0.0, 1.0}


def test_label_prediction_and_topk_rows(toy, toy_images):
    """label="target" scores each row on its own class (TopK rows differ), label=
    "prediction" on the image's top-1 class (the same for all its rows)."""
    sal = xw.explain(toy, toy_images[:2], "gradcam", target=xw.TopK(2))
    target = xw.evaluate(toy, sal, "deletion", step=0.25)
    pred = xw.evaluate(toy, sal, "deletion", step=0.25, label="prediction")
    np.testing.assert_allclose(target.curves[:, 0], sal.probabilities[sal.image_index, sal.targets], atol=1e-5)
    np.testing.assert_allclose(pred.curves[:, 0], sal.probabilities[sal.image_index].max(axis=1), atol=1e-5)
    assert not np.allclose(target.curves[1::2, 0], pred.curves[1::2, 0])


# ---------------------------------------------------------------------- sanity check
def test_model_randomisation(toy, toy_images):
    sal = xw.explain(toy, toy_images[:4], "gradcam")
    state = copy.deepcopy(toy.model.state_dict())
    modes = [m.training for m in toy.model.modules()]
    grads = [p.requires_grad for p in toy.model.parameters()]
    none = xw.evaluate(toy, sal, "model_randomisation", layers=0)
    np.testing.assert_allclose(none.scores, 1.0, atol=1e-6)  # Grad-CAM is deterministic
    full = xw.evaluate(toy, sal, "model_randomisation")
    assert full.extras["layers"][0] == "fc" and len(full.extras["layers"]) == 13
    assert full.curves.shape == (4, 14)
    np.testing.assert_allclose(full.curves[:, 0], 1.0, atol=1e-6)
    assert full.mean() < 0.6 and full.curves[:, 1:].mean() < 0.6
    ssim = xw.evaluate(toy, sal, "model_randomisation", similarity="ssim", layers=3)
    np.testing.assert_allclose(ssim.curves[:, 0], 1.0, atol=1e-6)
    assert ssim.mean() < 0.9
    # the user's model is untouched: weights, modes and requires_grad
    for key, value in toy.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert [m.training for m in toy.model.modules()] == modes
    assert [p.requires_grad for p in toy.model.parameters()] == grads
    assert xw.explain(toy, toy_images[:4], "gradcam").maps == pytest.approx(sal.maps, abs=1e-6)


# ---------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("metric, params, argument", [
    ("deletion", {"step": 0}, "step"),
    ("deletion", {"step": 1.5}, "step"),
    ("insertion", {"step": True}, "step"),
    ("insertion", {"substrate": "grey"}, "substrate"),
    ("deletion", {"score": "probability"}, "score"),
    ("deletion", {"label": "ground_truth"}, "label"),
    ("deletion", {"blur_sigma": -1}, "blur_sigma"),
    ("deletion", {"internal_batch_size": 0}, "internal_batch_size"),
    ("average_drop", {"keep": 0}, "keep"),
    ("increase_in_confidence", {"keep": 1.5}, "keep"),
    ("road_morf", {"percentages": [0.1, 1.0]}, "percentages"),
    ("road_lerf", {"noise": -0.1}, "noise"),
    ("road_morf", {"score": "top5"}, "score"),
    ("road_morf", {"solver": "lu"}, "solver"),
    ("sparseness", {"absolute": "yes"}, "absolute"),
    ("model_randomisation", {"layers": -1}, "layers"),
    ("model_randomisation", {"layers": 99}, "layers"),
    ("model_randomisation", {"similarity": "pearson"}, "similarity"),
])
def test_bad_arguments_name_the_argument(evidence_case, toy, toy_images, metric, params, argument):
    if metric == "model_randomisation":
        model, sal = toy, xw.explain(toy, toy_images[:1], "gradcam")
    else:
        model, sal, _ = evidence_case
    with pytest.raises(ValueError, match=rf"^{argument}: expected"):
        xw.evaluate(model, sal, metric, **params)


def test_bad_saliency_and_labels(evidence_case):
    model, good, _ = evidence_case
    with pytest.raises(TypeError, match="steps"):
        xw.evaluate(model, good, "deletion", steps=10)
    nan = good.maps.copy()
    nan[3, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^saliency: expected finite maps.*row\(s\) \[3\]"):
        xw.evaluate(model, dataclasses.replace(good, maps=nan), "insertion")
    callable_rows = dataclasses.replace(good, targets=np.full(8, -1))
    with pytest.raises(ValueError, match=r'^label: expected "prediction"'):
        xw.evaluate(model, callable_rows, "deletion")
    assert len(xw.evaluate(model, callable_rows, "deletion", label="prediction")) == 8
    small = dataclasses.replace(good, maps=good.maps[:, :8, :8])
    with pytest.raises(ValueError, match=r"^saliency: expected maps of the images' size"):
        xw.evaluate(model, small, "road_morf")
