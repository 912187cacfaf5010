"""Seed 003's other methods: BEE, FovEx, Feature CAM and UCAG (issue 4, item 4).

Each method's defining behaviour (BEE keeps the best of its maps on the metric it
names and records the metric and the family next to the map; FovEx keeps its
fixation sequence and its heatmap is the normalised sum of the fixations'
Gaussians; Feature CAM's documented fusion rule, recomputed from its parts; UCAG is
sharper than its base map and equals it for a single full crop), batching (two
images together equal one at a time), determinism, and errors for bad arguments.
Toy CNN on 64-pixel synthetic images, few iterations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage, optimize
from skimage import filters
from torch import nn

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.models import Preprocess, wrap
from xwidgets.saliency._optimisation import deletion_auc
from xwidgets.saliency.bee import BEEPolicy, laplace_update
from xwidgets.saliency.feature_cam import sobel_edges
from xwidgets.saliency.ucag import UCAGParams, crop_boxes


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # hundreds of tiny forward passes: one thread is faster on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def data():
    ds = SyntheticParts(8, seed=3)
    images, labels = ds.arrays(0, 8)
    masks = np.stack([ds.sample(i).evidence_mask for i in range(8)])
    return list(images), labels, masks


def _minmax(maps):
    lo = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - lo
    return (maps - lo) / np.where(span > 0, span, 1)


def _inputs(model, images):
    return model.preprocess.normalise(np.stack(images))


def _to_inputs(model, pixels):
    """(N, 3, H, W) pixels in [0, 1] -> model inputs, written out in the test."""
    pre = model.preprocess
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    return (pixels * 255 * pre.scale - mean) / std


# ---------------------------------------------------------------------------- batching, all four

CHEAP = {
    "bee": {"samples": 4, "metric_steps": 8},
    "fovex": {"fixations": 3, "iterations": 4},
    "feature_cam": {},
    "ucag": {},
}


@pytest.mark.parametrize("method", sorted(CHEAP))
def test_two_images_together_equal_one_at_a_time_and_a_seed_repeats(model, data, method):
    images = data[0][:2]
    both = xw.explain(model, images, method=method, **CHEAP[method])
    again = xw.explain(model, images, method=method, **CHEAP[method])
    np.testing.assert_array_equal(both.maps, again.maps)
    for i in range(2):
        one = xw.explain(model, [images[i]], method=method, **CHEAP[method])
        np.testing.assert_allclose(both.maps[i], one.maps[0], atol=1e-5)
        for key, value in both.params.get("extras", {}).items():
            if isinstance(value, np.ndarray) and value.shape[:1] == (2,):
                # metric values: a 1e-7 difference of two maps can swap the order of tied pixels
                np.testing.assert_allclose(value[i], one.params["extras"][key][0], atol=2e-3, err_msg=key)


def test_topk_targets_give_one_map_per_class(model, data):
    for method, params in CHEAP.items():
        result = xw.explain(model, data[0][:1], method=method, target=xw.TopK(2), **params)
        assert result.maps.shape == (2, 64, 64), method
        assert list(result.targets) == list(np.argsort(-result.probabilities[0])[:2]), method
        assert np.isfinite(result.maps).all() and result.maps.max() <= 1 + 1e-6, method


# ---------------------------------------------------------------------------- FovEx


def _gaussians(points_xy, width, size=64):
    """Sum over the fixations (x, y) pixels of exp(-||u - p||^2 / width), u in [-1, 1]^2."""
    grid = np.linspace(-1, 1, size)
    total = np.zeros((size, size))
    for x, y in points_xy:
        px, py = x / (size - 1) * 2 - 1, y / (size - 1) * 2 - 1
        total += np.exp(-((grid[:, None] - py) ** 2 + (grid[None, :] - px) ** 2) / width)
    return total


def test_fovex_keeps_the_fixation_sequence_and_its_heatmap_is_their_normalised_gaussians(model, data):
    seen = []
    result = xw.explain(model, data[0][:2], method="fovex", fixations=4, iterations=5,
                        callback=lambda step, maps: seen.append((step, tuple(maps.shape))))
    extras = result.params["extras"]
    fixations = extras["fixations"]
    assert fixations.shape == (2, 4, 2) and extras["fixation_loss"].shape == (2, 4)
    assert (fixations >= 0).all() and (fixations <= 63).all()
    np.testing.assert_allclose(extras["fixation_score"], np.exp(-extras["fixation_loss"]), rtol=1e-5)
    for row in range(2):
        expected = _minmax(_gaussians(fixations[row], 0.15))
        np.testing.assert_allclose(result.maps[row], expected, atol=1e-5)
    assert seen == [(step, (1, 2, 64, 64)) for step in range(1, 5)]


def test_fovex_first_fixation_loss_is_the_cross_entropy_of_the_foveated_image(model, data):
    """The documented perception, written out with scipy: blur 41 px sigma 10 at 224
    (13 px, sigma 2.86 at 64), fovea exp(-d^2 / 0.15), empty memory."""
    images = data[0][:2]
    result = xw.explain(model, images, method="fovex", fixations=1, iterations=6)
    pixels = np.stack(images).astype(np.float64) / 255  # toy_cnn: scale 1/255
    sigma = 10 * 64 / 224
    radius = round(20 * 64 / 224)
    blurred = ndimage.gaussian_filter(pixels, sigma=(0, sigma, sigma, 0), truncate=radius / sigma, mode="mirror")
    for row in range(2):
        fovea = _gaussians(result.params["extras"]["fixations"][row], 0.15)[..., None]
        seen = pixels[row] + (blurred[row] - pixels[row]) * np.clip(1 - fovea, 0, 1)
        x = _to_inputs(model, torch.tensor(seen, dtype=torch.float32).permute(2, 0, 1)[None])
        with torch.no_grad():
            loss = F.cross_entropy(model.logits(x), torch.tensor([result.targets[row]]))
        assert float(loss) == pytest.approx(float(result.params["extras"]["fixation_loss"][row, 0]), abs=2e-4)


def test_fovex_fixations_land_on_the_defining_parts(model, data):
    images, _, masks = data
    result = xw.explain(model, images[:4], method="fovex")  # published defaults: 10 fixations x 20 steps
    points = np.round(result.params["extras"]["fixations"]).astype(int)
    near = [ndimage.binary_dilation(m, iterations=3) for m in masks[:4]]
    on_evidence = np.mean([near[i][points[i, :, 1], points[i, :, 0]].mean() for i in range(4)])
    area = np.mean([n.mean() for n in near])
    assert on_evidence > 2.5 * area, (on_evidence, area)


# ---------------------------------------------------------------------------- UCAG


def test_ucag_crops_follow_the_published_geometry_and_scale_with_the_input():
    boxes = crop_boxes(224, 224, UCAGParams())
    assert len(boxes) == 36
    assert {b[2] for b in boxes} == {124} and {b[3] for b in boxes} == {124}
    assert sorted({b[0] for b in boxes}) == [0, 20, 40, 60, 80, 100]
    small = crop_boxes(16, 16, UCAGParams())
    assert len(small) == 36 and small[0][2] == 9 and max(b[0] + b[2] for b in small) == 16


@pytest.mark.parametrize("base, base_params", [("gradcam", {}), ("saliency", {}), ("integrated_gradients", {"steps": 4})])
def test_ucag_with_one_full_crop_is_its_base_map(model, data, base, base_params):
    images = data[0][:3]
    plain = xw.explain(model, images, method=base, **base_params)
    single = {"base": base, "base_params": base_params, "crops_per_side": 1, "crop_fraction": 1.0}
    unblurred = xw.explain(model, images, method="ucag", blur_kernel=0, **single)
    np.testing.assert_allclose(unblurred.maps, _minmax(plain.maps), atol=1e-5)
    blurred = xw.explain(model, images, method="ucag", **single)  # the published 5 x 5, sigma 3 blur
    expected = ndimage.gaussian_filter(_minmax(plain.maps), sigma=(0, 3, 3), truncate=2 / 3, mode="mirror")
    np.testing.assert_allclose(blurred.maps, expected, atol=1e-5)
    assert unblurred.params["extras"]["crop_weights"].tolist() == [[1.0]] * 3


def _entropy(maps):
    """Normalised Shannon entropy of each min-max normalised map read as a
    distribution over pixels: 1 for a flat map, lower for a concentrated one."""
    p = _minmax(maps)
    p = p / p.sum(axis=(1, 2), keepdims=True)
    return -(p * np.log(np.where(p > 0, p, 1))).sum(axis=(1, 2)) / np.log(p[0].size)


def _evidence_mass(maps, masks):
    m = _minmax(maps)
    return (m * masks).sum(axis=(1, 2)) / m.sum(axis=(1, 2))


def test_ucag_is_sharper_than_its_base_map(model, data):
    """Sharper, measured two ways on 8 synthetic images: a lower entropy (the map's
    mass is more concentrated) and more of the mass on the defining parts."""
    images, _, masks = data
    base = xw.explain(model, images, method="gradcam")
    unfolded = xw.explain(model, images, method="ucag")
    assert _entropy(unfolded.maps).mean() < _entropy(base.maps).mean() - 0.01
    assert _evidence_mass(unfolded.maps, masks).mean() > 1.2 * _evidence_mass(base.maps, masks).mean()
    assert (np.asarray(unfolded.targets) == np.asarray(base.targets)).all()


def test_ucag_weights_are_the_crops_confidences(model, data):
    image = data[0][0]
    result = xw.explain(model, [image], method="ucag")
    extras = result.params["extras"]
    scores, weights = extras["crop_scores"][0], extras["crop_weights"][0]
    np.testing.assert_allclose(weights, np.exp(scores) / np.exp(scores).max(), rtol=1e-5)
    top, left, h, w = crop_boxes(64, 64, UCAGParams())[7]
    crop = _inputs(model, [image])[:, :, top:top + h, left:left + w]
    with torch.no_grad():
        probability = model.logits(F.interpolate(crop, size=(64, 64), mode="bilinear", align_corners=False)).softmax(1)
    assert float(probability[0, result.targets[0]]) == pytest.approx(float(scores[7]), abs=1e-5)


# ---------------------------------------------------------------------------- Feature CAM


def test_feature_cam_edges_are_skimage_sobel(data):
    pixels = np.stack(data[0][:2]).astype(np.float64) / 255
    luma = pixels @ np.array([0.299, 0.587, 0.114])
    edges = sobel_edges(torch.tensor(pixels, dtype=torch.float32).permute(0, 3, 1, 2), sigma=0.0)[:, 0].numpy()
    for i in range(2):
        reference = filters.sobel(luma[i])
        np.testing.assert_allclose(edges[i], reference / reference.max(), atol=1e-5)


def test_feature_cam_fusion_rule_holds(model, data):
    """The documented rule recomputed from Grad-CAM runs of the three variants."""
    images = data[0][:2]
    result = xw.explain(model, images, method="feature_cam", edge_sigma=0.0)
    pixels = torch.tensor(np.stack(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255
    luma = (pixels.permute(0, 2, 3, 1).numpy().astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
    edges = np.stack([filters.sobel(g) / filters.sobel(g).max() for g in luma]).astype(np.float32)
    e = torch.tensor(edges)[:, None]
    variants = [pixels, (pixels + e).clamp(0, 1), e.expand_as(pixels)]
    classes = [int(t) for t in result.targets]
    localisation = np.mean([
        _minmax(xw.explain(model, _to_inputs(model, v) if i else _inputs(model, images), target=classes).maps)
        for i, v in enumerate(variants)
    ], axis=0)
    np.testing.assert_allclose(result.maps, _minmax(localisation * edges), atol=1e-4)
    np.testing.assert_allclose(result.params["extras"]["localisation"], localisation, atol=1e-4)


def test_feature_cam_on_a_constructed_image_lives_on_the_edges():
    """A white square on black under a model whose CAM layer sees the pixels: the map
    is zero wherever the image is flat, and with edge_weight=0 it is the mean of the
    variants' Grad-CAM maps."""

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Conv2d(3, 3, 1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(3, 2)
            with torch.no_grad():
                self.features.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
                self.features.bias.zero_()
                self.fc.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
                self.fc.bias.zero_()

        def forward(self, x):
            return self.fc(self.pool(self.features(x)).flatten(1))

    model = wrap(Linear(), preprocess=Preprocess(size=(32, 32), resize=None, mean=(0.0,) * 3, std=(1.0,) * 3))
    image = np.zeros((32, 32, 3), np.uint8)
    image[10:22, 12:24] = 255
    fused = xw.explain(model, [image], method="feature_cam", target=0, edge_sigma=0.0).maps[0]
    flat = filters.sobel(image[..., 0] / 255.0) == 0
    assert fused[flat].max() == 0 and fused.max() == 1
    assert fused[~flat].min() >= 0
    plain = xw.explain(model, [image], method="feature_cam", target=0, edge_sigma=0.0, edge_weight=0.0)
    np.testing.assert_allclose(plain.maps[0], _minmax(plain.params["extras"]["localisation"][0]), atol=1e-6)


# ---------------------------------------------------------------------------- BEE


def test_bee_records_the_metric_and_family_next_to_the_best_map(model, data):
    result = xw.explain(model, data[0][:2], method="bee", samples=6, metric_steps=10)
    extras = result.params["extras"]
    assert extras["metric"] == "deletion" and extras["higher_is_better"] is False
    assert extras["families"] == ["normal", "uniform", "blur", "constant"]
    np.testing.assert_allclose(extras["metric_value"], extras["metric_history"].min(axis=1))
    assert extras["family_counts"].sum(axis=1).tolist() == [6, 6]
    assert set(extras["family_index"].tolist()) <= {0, 1, 2, 3}
    # the recorded value is the deletion AUC of the returned map (an independent implementation)
    inputs = _inputs(model, data[0][:2])
    with torch.no_grad():
        black = _to_inputs(model, torch.zeros_like(inputs))
        auc = deletion_auc(model, inputs, torch.tensor(result.maps), torch.tensor(result.targets), black, steps=10)
    np.testing.assert_allclose(auc.numpy(), extras["metric_value"], atol=1e-5)


def test_bee_keeps_the_best_map_of_the_named_metric(model, data):
    images = data[0][:2]
    insertion = xw.explain(model, images, method="bee", metric="insertion", samples=5, metric_steps=8)
    extras = insertion.params["extras"]
    assert extras["higher_is_better"] is True
    np.testing.assert_allclose(extras["metric_value"], extras["metric_history"].max(axis=1))
    adp = xw.explain(model, images, method="bee", metric="adp", samples=5)
    # ADP written out: 100 max(0, Y - O) / Y, O the probability of the image times the map
    pixels = torch.tensor(np.stack(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255
    masked = _to_inputs(model, pixels * torch.tensor(_minmax(adp.maps))[:, None])
    with torch.no_grad():
        y = model.logits(_inputs(model, images)).softmax(1)[[0, 1], adp.targets]
        o = model.logits(masked).softmax(1)[[0, 1], adp.targets]
    expected = (100 * (y - o).clamp_min(0) / y).numpy()
    np.testing.assert_allclose(adp.params["extras"]["metric_value"], expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(adp.params["extras"]["metric_value"], adp.params["extras"]["metric_history"].min(axis=1))


def test_bee_more_samples_never_score_worse(model, data):
    images = data[0][:2]
    one = xw.explain(model, images, method="bee", samples=1, metric_steps=8).params["extras"]["metric_value"]
    many = xw.explain(model, images, method="bee", samples=6, metric_steps=8).params["extras"]["metric_value"]
    assert (many <= one + 1e-6).all()


def test_laplace_update_is_the_map_of_the_regularised_logistic_loss():
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    precision = torch.rand(5, 4, generator=generator, dtype=torch.float64) + 0.5
    x = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 0.0], dtype=torch.float64)
    new_mean, new_precision = laplace_update(mean, precision, x, y)
    for i in range(4):
        m, q, xi, yi = mean[i].numpy(), precision[i].numpy(), x[i].numpy(), float(y[i])

        def loss(w):
            return 0.5 * (q * (w - m) ** 2).sum() + np.logaddexp(0, -yi * w @ xi)

        w = optimize.minimize(loss, m, method="BFGS", options={"gtol": 1e-10}).x
        np.testing.assert_allclose(new_mean[i].numpy(), w, atol=1e-5)
        p = 1 / (1 + math.exp(-w @ xi))
        np.testing.assert_allclose(new_precision[i].numpy(), q + xi ** 2 * p * (1 - p), atol=1e-5)
    assert torch.equal(new_mean[4], mean[4]) and torch.equal(new_precision[4], precision[4])


def test_the_policy_learns_which_family_is_rewarded_in_which_context():
    policy = BEEPolicy(families=("normal", "blur"))
    policy.start(("normal", "blur"), 3, torch.device("cpu"))
    contexts = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]).repeat(20, 1)
    kind = torch.arange(40) % 2  # context 0 rewards "normal", context 1 rewards "blur"
    families = torch.arange(40) // 2 % 2  # both families tried in both contexts
    rewards = torch.where(families == kind, 1.0, -1.0)
    policy.learn(contexts, families, rewards)
    p = policy.probabilities(contexts[:2])
    assert p[0, 0] > 0.7 > 0.3 > p[0, 1] and p[1, 1] > 0.7 > 0.3 > p[1, 0]
    assert policy.observations == 40


def test_a_shared_policy_learns_from_every_image(model, data):
    policy = BEEPolicy()
    xw.explain(model, data[0][:2], method="bee", samples=3, metric_steps=4, policy=policy)
    assert policy.observations == 2 * 2  # the first round has nothing to beat
    assert policy.mean.shape == (4, 129) and policy.mean.abs().sum() > 0


def test_bee_draws_training_images_when_given(model, data):
    train = _inputs(model, data[0][4:8])
    result = xw.explain(model, data[0][:1], method="bee", samples=12, metric_steps=4, train_images=train)
    extras = result.params["extras"]
    assert extras["families"] == ["normal", "uniform", "blur", "constant", "train"]
    assert extras["family_counts"][0].sum() == 12


# ---------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("method, params, message", [
    ("bee", {"metric": "pic"}, "metric: expected one of 'deletion', 'insertion', 'adp'"),
    ("bee", {"samples": 0}, "samples: expected a positive int"),
    ("bee", {"families": ("train",)}, "train_images: expected model inputs"),
    ("bee", {"families": ("gauss",)}, "families: expected a non-empty tuple"),
    ("bee", {"train_images": np.zeros((2, 3, 64, 64))}, "train_images: expected a float tensor"),
    ("bee", {"train_images": torch.zeros(2, 3, 32, 32)}, r"train_images: expected model inputs of spatial size \(64, 64\)"),
    ("bee", {"policy": "yes"}, "policy: expected None or a BEEPolicy"),
    ("bee", {"blur_sigma": (5, 1)}, "blur_sigma: expected"),
    ("fovex", {"fixations": 0}, "fixations: expected a positive int"),
    ("fovex", {"lr": -0.1}, "lr: expected a finite number > 0"),
    ("fovex", {"foveation_width": 0}, "foveation_width: expected a finite number > 0"),
    ("fovex", {"callback": 3}, "callback: expected None or a callable"),
    ("feature_cam", {"variants": ("original", "hed")}, "variants: expected a non-empty tuple"),
    ("feature_cam", {"edge_weight": 2}, "edge_weight: expected a finite number >= 0 and <= 1"),
    ("ucag", {"base": "gradcamm"}, "base: expected the name of a registered method; got 'gradcamm'"),
    ("ucag", {"base": "ucag"}, "base: expected a method other than ucag"),
    ("ucag", {"base_params": {"steps": 3}}, "base_params: expected parameters of gradcam"),
    ("ucag", {"crop_fraction": 1.5}, "crop_fraction: expected a finite number > 0 and <= 1"),
    ("ucag", {"crops_per_side": 0}, "crops_per_side: expected a positive int"),
])
def test_bad_arguments_name_the_argument(model, data, method, params, message):
    with pytest.raises(ValueError, match=message):
        xw.explain(model, data[0][:1], method=method, **params)


# ---------------------------------------------------------------------------- the viewer's fixation path


def test_the_viewer_carries_fovex_fixations_as_points(model, data):
    from xwidgets.widgets import SaliencyViewer

    fovex = xw.explain(model, data[0][:2], method="fovex", fixations=3, iterations=2, target=xw.TopK(2))
    gradcam = xw.explain(model, data[0][:2], method="gradcam", target=xw.TopK(2))
    viewer = SaliencyViewer(fovex, image=1)
    assert viewer.points["shape"] == [2, 3, 2] and viewer.points["dtype"] == "float32"
    sent = np.frombuffer(viewer.points["data"], dtype="<f4").reshape(2, 3, 2)
    np.testing.assert_array_equal(sent, fovex.params["extras"]["fixations"][fovex.rows_for_image(1)])
    assert "points=(3,)" in repr(viewer)
    assert SaliencyViewer(gradcam).points == {} and "points" not in repr(SaliencyViewer(gradcam))
    assert SaliencyViewer(fovex, points=None).points == {}
    both = SaliencyViewer({"Grad-CAM": gradcam, "FovEx": fovex})
    mixed = np.frombuffer(both.points["data"], dtype="<f4").reshape(4, 3, 2)
    assert np.isnan(mixed[:2]).all() and np.isfinite(mixed[2:]).all()
    own = SaliencyViewer(gradcam, points=[[1, 2], [3, 4]])
    assert own.points["shape"] == [2, 2, 2]


@pytest.mark.parametrize("kwargs, message", [
    ({"points": np.zeros((3, 2, 2))}, r"points: expected \"auto\", None, or \(x, y\) pixel positions shaped \(2, N, 2\)"),
    ({"points": [[1, 2, 3]]}, "points: expected"),
    ({"points": "fixations"}, "points: expected"),
    ({"show_points": 1}, "show_points: expected True or False"),
])
def test_the_viewer_rejects_bad_points(model, data, kwargs, message):
    from xwidgets.widgets import SaliencyViewer

    result = xw.explain(model, data[0][:1], method="gradcam", target=xw.TopK(2))
    with pytest.raises(ValueError, match=message):
        SaliencyViewer(result, **kwargs)
