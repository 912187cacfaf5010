"""Explanations at an internal layer (``explain_layer``, issue 3 item 3, seed 001):
maps, element relevance and masked representations for the CAM and gradient
families, equal to Captum's layer attributions and to the method applied to the
model's second part, on the toy CNN (a chain: layer1..layer4, pool, fc) and the toy
ViT (tokens mapped to their grid).

Tolerances are relative to the reference's largest absolute value.
"""

import numpy as np
import pytest
import torch
from torch import nn

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.models import toy_cnn, toy_vit
from xwidgets.saliency import explain_layer, forward_from_layer, layer_method_names
from xwidgets.saliency.integrated_gradients import IntegratedGradientsParams, make_baselines

captum_attr = pytest.importorskip("captum.attr")

CAM_METHODS = ["cam", "gradcam", "gradcampp", "hirescam", "layercam", "scorecam"]
GRADIENT_METHODS = [
    "saliency", "gradient_x_input", "guided_backprop", "deconvnet", "integrated_gradients", "smoothgrad", "vargrad",
    "guided_gradcam",
]
FAST = {
    "integrated_gradients": dict(steps=8),
    "smoothgrad": dict(n_samples=4, seed=0),
    "vargrad": dict(n_samples=4, seed=0),
}
VIT_LAYER = "encoder.layers.encoder_layer_3"


def assert_close(ours, reference, rel=1e-4):
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    scale = max(np.abs(reference).max(), 1e-12)
    err = np.abs(ours - reference).max()
    assert err <= rel * scale, f"max |diff| {err:.3g} > {rel} x {scale:.3g}"


@pytest.fixture(scope="module")
def cnn():
    return toy_cnn()


@pytest.fixture(scope="module")
def vit():
    return toy_vit()


@pytest.fixture(scope="module")
def images():
    return SyntheticParts(3, seed=11).arrays()[0]


@pytest.fixture(scope="module")
def inputs(cnn, images):
    return cnn.prepare(images)[0]


def layer3(model, x):
    with torch.no_grad():
        out = {}
        handle = model.model.layer3.register_forward_hook(lambda m, a, o: out.setdefault("a", o))
        logits = model.model(x)
        handle.remove()
    return out["a"], logits


def tail(model):
    """The toy CNN's second part: layer3's output -> logits."""
    m = model.model
    return nn.Sequential(m.layer4, m.avgpool, nn.Flatten(), m.fc).eval()


# ---------------------------------------------------------------------------- every method
def test_every_cam_and_gradient_method_explains_at_a_layer():
    assert set(layer_method_names()) == set(CAM_METHODS) | set(GRADIENT_METHODS)


@pytest.mark.parametrize("method", [m for m in CAM_METHODS + GRADIENT_METHODS if m != "cam"])
def test_shapes_and_map_is_the_reduced_relevance(cnn, images, method):
    result = explain_layer(cnn, images, method, layer="layer3", target=xw.TopK(2), **FAST.get(method, {}))
    assert result.maps.shape == (6, 16, 16) and result.relevance.shape == (6, 128, 16, 16)
    assert result.activations.shape == (3, 128, 16, 16)
    assert list(result.image_index) == [0, 0, 1, 1, 2, 2]
    assert np.isfinite(result.relevance).all() and np.abs(result.relevance).max() > 0
    if method in CAM_METHODS:
        expected = np.maximum(result.relevance.sum(axis=1), 0)
    else:
        reduce = {"gradient_x_input": "sum", "integrated_gradients": "sum"}.get(method, "abs_max")
        expected = result.relevance.sum(axis=1) if reduce == "sum" else np.abs(result.relevance).max(axis=1)
    assert_close(result.maps, expected, 1e-5)
    for module in cnn.model.modules():  # nothing left attached
        assert not module._forward_hooks and not module._backward_hooks


@pytest.mark.parametrize("method", CAM_METHODS)
def test_cam_at_its_own_layer_is_explain_before_upsampling(cnn, images, method):
    params = {"internal_batch_size": 256} if method == "scorecam" else {}
    at_layer = explain_layer(cnn, images[:2], method, layer="layer4", **params)
    full = xw.explain(cnn, images[:2], method, layer="layer4", **params)
    assert_close(at_layer.to_saliency().maps, full.maps, 1e-5)
    np.testing.assert_array_equal(at_layer.targets, full.targets)


# ---------------------------------------------------------------------------- equal to Captum
def test_saliency_is_the_gradient_at_the_layer(cnn, images, inputs):
    result = explain_layer(cnn, images, "saliency", layer="layer3", target=2)
    a, _ = layer3(cnn, inputs)
    reference = captum_attr.Saliency(tail(cnn)).attribute(a.clone().requires_grad_(True), target=2, abs=False)
    assert_close(result.relevance, reference.numpy())


def test_gradient_x_activation_equals_captum(cnn, images, inputs):
    result = explain_layer(cnn, images, "gradient_x_input", layer="layer3", target=4)
    reference = captum_attr.LayerGradientXActivation(cnn.model, cnn.model.layer3).attribute(inputs, target=4)
    assert_close(result.relevance, reference.detach().numpy())


@pytest.mark.parametrize("method,captum_class", [("guided_backprop", "GuidedBackprop"), ("deconvnet", "Deconvolution")])
def test_modified_backward_down_to_the_layer_equals_captum_on_the_second_part(cnn, images, inputs, method, captum_class):
    result = explain_layer(cnn, images, method, layer="layer3", target=1)
    a, _ = layer3(cnn, inputs)
    reference = getattr(captum_attr, captum_class)(tail(cnn)).attribute(a.clone().requires_grad_(True), target=1)
    assert_close(result.relevance, reference.detach().numpy())


def test_layer_integrated_gradients_equals_captum_and_is_complete(cnn, images, inputs):
    result = explain_layer(cnn, images, "integrated_gradients", layer="layer3", target=5, steps=16)
    baselines = make_baselines(cnn, inputs, IntegratedGradientsParams())
    lig = captum_attr.LayerIntegratedGradients(cnn.model, cnn.model.layer3)
    reference = lig.attribute(inputs, baselines=baselines, target=5, n_steps=16, method="gausslegendre")
    assert_close(result.relevance, reference.detach().numpy(), 1e-4)
    # completeness at the layer: the toy CNN is a chain through layer3
    with torch.no_grad():
        gap = cnn.model(inputs)[:, 5] - cnn.model(baselines)[:, 5]
    sums = result.relevance.reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(sums, gap.numpy(), rtol=0.05, atol=0.05)


def test_smoothgrad_without_noise_is_the_layer_gradient_and_vargrad_is_zero(cnn, images):
    plain = explain_layer(cnn, images, "saliency", layer="layer3")
    smooth = explain_layer(cnn, images, "smoothgrad", layer="layer3", n_samples=3, sigma=0.0)
    var = explain_layer(cnn, images, "vargrad", layer="layer3", n_samples=3, sigma=0.0)
    assert_close(smooth.relevance, plain.relevance, 1e-5)
    assert np.abs(var.relevance).max() <= 1e-6 * np.abs(plain.relevance).max()
    noisy = explain_layer(cnn, images, "smoothgrad", layer="layer3", n_samples=3, seed=0)
    assert np.abs(noisy.relevance - plain.relevance).max() > 1e-3 * np.abs(plain.relevance).max()


def test_guided_gradcam_at_a_layer_is_guided_backprop_times_the_resized_gradcam(cnn, images):
    import torch.nn.functional as F

    ggc = explain_layer(cnn, images, "guided_gradcam", layer="layer3", cam_layer="layer4", target=3)
    guided = explain_layer(cnn, images, "guided_backprop", layer="layer3", target=3)
    cam = xw.explain(cnn, images, "gradcam", layer="layer4", target=3)
    # the 8x8 Grad-CAM map resized to layer3's 16x16 grid, as guided_gradcam does it
    cam8 = explain_layer(cnn, images, "gradcam", layer="layer4", target=3).maps
    cam16 = F.interpolate(torch.from_numpy(cam8)[:, None], size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    assert_close(ggc.relevance, guided.relevance * cam16.numpy()[:, None], 1e-5)
    assert cam.maps.shape == (3, 64, 64)
    with pytest.raises(ValueError, match="^cam_layer: expected a layer at or above layer 'layer3'"):
        explain_layer(cnn, images, "guided_gradcam", layer="layer3", cam_layer="layer2")


# ---------------------------------------------------------------------------- masked representations
def test_masked_representations(cnn, images):
    result = explain_layer(cnn, images, "gradcam", layer="layer3", target=xw.TopK(2))
    scaled = result.scaled_maps()
    assert scaled.min() >= 0 and np.allclose(scaled.max(axis=(1, 2)), 1)
    by_map = result.masked("map")
    assert_close(by_map, result.activations[result.image_index] * scaled[:, None], 1e-6)
    kept = result.masked("threshold", threshold=0.5)
    below = scaled < 0.5
    assert (kept.transpose(1, 0, 2, 3)[:, below] == 0).all()
    assert_close(kept.transpose(1, 0, 2, 3)[:, ~below], result.activations[result.image_index].transpose(1, 0, 2, 3)[:, ~below], 0)
    np.testing.assert_array_equal(result.masked("relevance"), result.relevance)
    # Grad-CAM's relevance is alpha_k A^k: constant ratio to A over each channel's grid
    with pytest.raises(ValueError, match="^how: expected one of 'map', 'threshold', 'relevance'"):
        result.masked("blur")
    with pytest.raises(ValueError, match="^threshold: expected a number in \\[0, 1\\]"):
        result.masked("threshold", threshold=2)


def test_forward_from_layer_runs_the_second_part(cnn, images, inputs):
    result = explain_layer(cnn, images, "gradcam", layer="layer3")
    _, logits = layer3(cnn, inputs)
    assert_close(forward_from_layer(cnn, images, "layer3", result.activations), logits.numpy(), 1e-5)
    everything = result.masked("threshold", threshold=0.0)
    assert_close(forward_from_layer(cnn, images, "layer3", everything), logits.numpy(), 1e-5)
    nothing = forward_from_layer(cnn, images, "layer3", np.zeros_like(result.activations))
    assert not torch.allclose(nothing, logits)
    with pytest.raises(ValueError, match="^representation: expected the shape of layer 'layer3'"):
        forward_from_layer(cnn, images, "layer3", result.activations[:, :5])
    with pytest.raises(ValueError, match="^representation: expected one row per image"):
        forward_from_layer(cnn, images, "layer3", result.activations[:2])


# ---------------------------------------------------------------------------- ViT tokens
def test_vit_layers_are_explained_on_the_patch_grid(vit, images):
    result = explain_layer(vit, images, "gradcam")  # default: the model's CAM layer
    assert result.maps.shape == (3, 8, 8) and result.activations.shape == (3, 128, 8, 8)
    full = xw.explain(vit, images, "gradcam")
    assert_close(result.to_saliency().maps, full.maps, 1e-5)
    ig = explain_layer(vit, images, "integrated_gradients", layer=VIT_LAYER, steps=8)
    assert ig.relevance.shape == (3, 128, 8, 8)
    inputs = vit.prepare(images)[0]
    with torch.no_grad():
        logits = vit.model(inputs)
    assert_close(forward_from_layer(vit, images, VIT_LAYER, ig.activations), logits.numpy(), 1e-4)


# ---------------------------------------------------------------------------- batching and errors
def test_batches_give_the_same_result(cnn, images):
    one = explain_layer(cnn, images, "hirescam", layer="layer3", batch_size=2)
    all_ = explain_layer(cnn, images, "hirescam", layer="layer3")
    assert_close(one.relevance, all_.relevance, 1e-5)
    assert_close(one.activations, all_.activations, 1e-6)


def test_bad_arguments(cnn, images):
    with pytest.raises(ValueError, match="^method: expected one that explains at an internal layer"):
        explain_layer(cnn, images, "occlusion", layer="layer3")
    with pytest.raises(ValueError, match="^method: expected one of"):
        explain_layer(cnn, images, "gradkam", layer="layer3")
    with pytest.raises(KeyError, match="^.layer: expected the dotted name.*Did you mean: layer3"):
        explain_layer(cnn, images, "gradcam", layer="layer33")
    with pytest.raises(ValueError, match="^cam_layer: expected None"):
        explain_layer(cnn, images, "gradcam", layer="layer3", cam_layer="layer4")
    with pytest.raises(ValueError, match="^batch_size: expected a positive int"):
        explain_layer(cnn, images, "gradcam", layer="layer3", batch_size=0)
    with pytest.raises(TypeError, match="unknown parameter"):
        explain_layer(cnn, images, "gradcam", layer="layer3", steps=3)


def test_plot_and_repr(cnn, images):
    import matplotlib

    matplotlib.use("Agg")
    result = explain_layer(cnn, images[:1], "layercam", layer="layer2")
    assert "layer='layer2'" in repr(result) and "grid=32x32" in repr(result)
    figure = result.plot()
    assert figure.axes
