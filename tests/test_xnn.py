"""XNN (Qi, Khorram & Li, AI 2021): x-features of the toy CNN on the synthetic parts set.

Data seeds 2 (training) and 3 (held out) are not the toy models' training seeds
(those are >= 10,000), so every image here is new to the classifier too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

import xwidgets as xw  # noqa: E402
from xwidgets.concepts import XNN  # noqa: E402
from xwidgets.data.synthetic import SyntheticParts  # noqa: E402

EPOCHS = 100


@pytest.fixture(scope="module")
def model():
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def train_images():
    return SyntheticParts(280, seed=2).arrays()[0]


@pytest.fixture(scope="module")
def held_out():
    ds = SyntheticParts(140, seed=3)
    samples = [ds.sample(i) for i in range(28)]
    return ds.arrays()[0], samples


@pytest.fixture(scope="module")
def xnn(model, train_images):
    return XNN.fit(model, train_images, epochs=EPOCHS, seed=0, progress=False)


@pytest.fixture(scope="module")
def plain(model, train_images):
    """Neither the pull-away nor the sparsity term: the reference for both."""
    return XNN.fit(model, train_images, epochs=EPOCHS, seed=0, progress=False, pull_away_weight=0.0,
                   sparsity_weight=0.0)


def _fit(model, images, **kwargs):
    return XNN.fit(model, images, epochs=EPOCHS, seed=0, progress=False, **kwargs)


def _mean_off_diagonal_cosine(x: np.ndarray) -> float:
    """Mean |cos| between different x-features (columns) over the images."""
    unit = x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-8)
    gram = np.abs(unit.T @ unit)
    k = gram.shape[0]
    return float((gram.sum() - np.trace(gram)) / (k * (k - 1)))


# ---------------------------------------------------------------------------- faithfulness
def test_faithfulness_on_held_out_images(xnn, held_out):
    images, _ = held_out
    x = xnn.x_features(images)
    assert x.shape == (140, 8) and x.dtype == np.float32 and (x >= 0).all()
    agreement = xnn.faithfulness(images)
    assert agreement >= 0.9, agreement
    # the rebuilt logits are the linear map D_y of the x-features; contributions x_k W_ck sum to them
    logits = xnn.predict_logits(images)
    contributions = xnn.contributions(images)
    bias = xnn.predictor.bias.detach().numpy()[logits.argmax(1)]
    np.testing.assert_allclose(contributions.sum(1) + bias, logits.max(1), rtol=1e-4, atol=1e-4)


def test_faithfulness_needs_enough_x_features(model, train_images, held_out, xnn):
    """Two x-features cannot carry seven classes: the measure is not trivially 1."""
    images, _ = held_out
    small = XNN.fit(model, train_images, n_features=2, epochs=60, seed=0, progress=False)
    assert small.faithfulness(images) < 0.8 <= xnn.faithfulness(images)


# ---------------------------------------------------------------------------- the loss terms
def test_pull_away_term_decorrelates_x_features(model, train_images, held_out, plain):
    images, _ = held_out
    pulled = _fit(model, train_images, pull_away_weight=0.5, sparsity_weight=0.0)
    without = _mean_off_diagonal_cosine(plain.x_features(images))
    with_term = _mean_off_diagonal_cosine(pulled.x_features(images))
    assert with_term < 0.5 * without, (with_term, without)
    assert pulled.faithfulness(images) >= 0.9


def test_sparsity_term_makes_x_features_sparser(model, train_images, held_out, plain):
    images, _ = held_out
    sparse = _fit(model, train_images, pull_away_weight=0.0, sparsity_weight=0.05)
    zeros_without = float((plain.x_features(images) <= 0).mean())
    zeros_with = float((sparse.x_features(images) <= 0).mean())
    assert zeros_with > zeros_without + 0.1, (zeros_with, zeros_without)
    assert sparse.faithfulness(images) >= 0.9


def test_history_records_every_term(xnn):
    assert len(xnn.history) == EPOCHS
    first, last = xnn.history[0], xnn.history[-1]
    assert set(first) >= {"faithfulness", "reconstruction", "sparsity", "pull_away", "total"}
    assert last["total"] < first["total"] and last["faithfulness"] < 0.1 * first["faithfulness"]


# ---------------------------------------------------------------------------- saliency per x-feature
def test_saliency_concentrates_on_the_parts(xnn, held_out):
    _, samples = held_out
    images = np.stack([s.image for s in samples])
    parts = np.stack([s.instance_mask > 0 for s in samples])
    for method, floor in (("gradient", 2.0), ("gradcam", 1.3)):
        sal = xnn.explain(images, method=method)  # every x-feature, most active first
        assert len(sal) == len(samples) * xnn.n_features
        ratios = []
        for i, rows in enumerate(sal.rows_groups()):
            values = sal.params["x_features"][i, sal.targets[rows]]
            assert (np.diff(values) <= 1e-6).all()  # rows ordered by x-feature value
            energy = np.abs(sal.maps[rows[0]])
            assert energy.sum() > 0
            ratios.append((energy[parts[i]].sum() / energy.sum()) / parts[i].mean())
        ratios = np.array(ratios)
        # energy share inside the part masks over their area share (1 = no better than uniform)
        assert ratios.mean() >= floor and (ratios > 1).mean() >= 0.9, (method, ratios.mean(), ratios.min())


def test_gradcam_target_is_the_x_feature(xnn, model, held_out):
    """Grad-CAM at the XNN's layer equals ReLU(sum_k mean(dx_f/dA_k) A_k) computed by hand."""
    images, _ = held_out
    feature = int(xnn.x_features(images[:4]).sum(0).argmax())
    sal = xnn.explain(images[:4], feature=feature, method="gradcam")
    assert list(sal.targets) == [feature] * 4 and sal.labels == xnn.feature_names and sal.layer == "layer4"
    inputs, _ = model.prepare(images[:4])
    store = {}
    handle = model.layer("layer4").register_forward_hook(lambda m, a, out: store.setdefault("a", out))
    try:
        model.model.eval()
        model.model(inputs)
    finally:
        handle.remove()
    activation = store["a"].detach().requires_grad_(True)
    value = xnn(activation.mean(dim=(2, 3)))[:, feature]
    (gradient,) = torch.autograd.grad(value.sum(), activation)
    cam = (gradient.mean(dim=(2, 3), keepdim=True) * activation).sum(1).clamp_min(0)
    cam = F.interpolate(cam[:, None].detach(), size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(sal.maps, cam.numpy(), rtol=1e-4, atol=1e-5)


def test_saliency_result_plots_and_figure(xnn, held_out):
    import matplotlib.pyplot as plt

    images, _ = held_out
    sal = xnn.explain(images[:3], feature=[0, 1, 2], method="gradient")
    assert sal.maps.shape == (3, 64, 64) and list(sal.targets) == [0, 1, 2]
    plt.close(sal.plot())
    fig = xnn.plot(images, n_images=2, features=[0, 3])
    assert len([ax for ax in fig.axes if ax.images]) == 2 * 3
    plt.close(fig)


# ---------------------------------------------------------------------------- any model and layer
def test_other_layers_and_a_vit(model, train_images, held_out):
    images, _ = held_out
    at_layer3 = XNN.fit(model, train_images[:70], layer="layer3", n_features=4, epochs=5, progress=False)
    assert at_layer3.in_features == 128 and at_layer3.x_features(images[:5]).shape == (5, 4)
    vit = xw.models.toy_vit()
    xv = XNN.fit(vit, train_images[:70], layer="encoder.layers.encoder_layer_4", n_features=4, epochs=5,
                 progress=False)  # (B, 65, 128) tokens, pooled over the 8x8 patch grid
    assert xv.in_features == 128 and xv.x_features(images[:3]).shape == (3, 4)
    sal = xv.explain(images[:2], feature=0, method="gradient")
    assert sal.maps.shape == (2, 64, 64) and np.isfinite(sal.maps).all()


# ---------------------------------------------------------------------------- persistence, determinism
def test_save_load_round_trip(xnn, model, held_out, tmp_path):
    images, _ = held_out
    path = xnn.save(tmp_path / "xnn.npz")
    loaded = XNN.load(path, model=model)
    assert loaded.config() == xnn.config()
    for (name, a), (_, b) in zip(xnn.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(loaded.x_features(images), xnn.x_features(images))
    np.testing.assert_array_equal(loaded.explain(images[:2], feature=1).maps, xnn.explain(images[:2], feature=1).maps)
    with pytest.raises(RuntimeError, match="no model attached"):
        XNN.load(path).x_features(images[:1])
    with pytest.raises(ValueError, match="^model: expected the classifier this XNN was trained on"):
        XNN.load(path, model=xw.models.toy_cnn_biased())
    assert XNN.load(path, model=xw.models.toy_cnn_biased(), check=False).x_features(images[:1]).shape == (1, 8)


def test_same_seed_same_xnn(model, train_images):
    a = XNN.fit(model, train_images[:140], epochs=10, seed=3, progress=False)
    b = XNN.fit(model, train_images[:140], epochs=10, seed=3, progress=False)
    c = XNN.fit(model, train_images[:140], epochs=10, seed=4, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.history == b.history
    assert not torch.equal(a.predictor.weight, c.predictor.weight)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_features=0), "^n_features: expected an int >= 1; got 0"),
    (dict(epochs=2.5), "^epochs: expected an int >= 1; got 2.5"),
    (dict(sparsity_weight=-1.0), "^sparsity_weight: expected a finite number >= 0; got -1.0"),
    (dict(lr=0.0), "^lr: expected a number > 0; got 0.0"),
    (dict(layer=3), "^layer: expected a dotted layer name of the model; got 3"),
    (dict(seed=-1), "^seed: expected an int >= 0; got -1"),
])
def test_bad_fit_arguments(model, train_images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        XNN.fit(model, train_images[:8], epochs=kwargs.pop("epochs", 1), progress=False, **kwargs)


def test_bad_inputs(xnn, model, train_images, held_out, tmp_path):
    images, _ = held_out
    with pytest.raises(KeyError, match="layer9"):
        XNN.fit(model, train_images[:8], layer="layer9", epochs=1, progress=False)
    with pytest.raises(ValueError, match="^images: expected at least 2 training images"):
        XNN.fit(model, train_images[:1], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"^feature: expected an x-feature index in \[0, 8\); got 8"):
        xnn.explain(images[:1], feature=8)
    with pytest.raises(ValueError, match="^feature: expected None"):
        xnn.explain(images[:1], feature="x0")
    with pytest.raises(ValueError, match="^layer: expected None: saliency does not read a layer"):
        xnn.explain(images[:1], feature=0, method="gradient", layer="layer3")
    with pytest.raises(ValueError, match="^method: expected a registered method name"):
        xnn.explain(images[:1], feature=0, method=None)
    with pytest.raises(ValueError, match="^features: expected x-feature indices"):
        xnn.plot(images, features=[9])
    with pytest.raises(ValueError, match="^target: expected \"pred\" or a class index"):
        xnn.contributions(images[:2], target=7)
    with pytest.raises(ValueError, match="^path: expected an existing file written by XNN.save"):
        XNN.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, config=np.frombuffer(b'{"format": "something else"}', dtype=np.uint8))
    with pytest.raises(ValueError, match="^path: expected a file written by XNN.save"):
        XNN.load(other)
