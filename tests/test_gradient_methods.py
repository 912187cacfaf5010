"""The gradient family (saliency, gradient x input, integrated gradients, SmoothGrad,
VarGrad, guided backprop, deconvnet, Guided Grad-CAM): equal to Captum, complete
(IG), every target kind, batched, clean after errors, sensitive to the model's
parameters (Adebayo et al. 2018), and clear about bad arguments.

Tolerances are relative to the reference map's largest absolute value:
``max |ours - captum| <= rel * max |captum|``.
"""

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, wrap
from xwidgets.saliency.integrated_gradients import IntegratedGradientsParams, make_baselines

captum_attr = pytest.importorskip("captum.attr")

GRADIENT_METHODS = [
    "saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "vargrad",
    "guided_backprop", "deconvnet", "guided_gradcam",
]
#: small settings keeping the sampling methods fast in tests
FAST = {
    "integrated_gradients": dict(steps=8),
    "smoothgrad": dict(n_samples=6, seed=0),
    "vargrad": dict(n_samples=6, seed=0),
}
TARGETS = [1, 4, 7]


def assert_maps_close(ours, reference, rel):
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    assert ours.shape == reference.shape
    scale = np.abs(reference).max()
    assert scale > 0, "the reference map is all zeros: the comparison would be vacuous"
    worst = np.abs(ours - reference).max() / scale
    print(f"max relative difference {worst:.2e} (tolerance {rel:.0e})")
    assert worst <= rel, f"max |ours - reference| / max |reference| = {worst:.2e} > {rel:.0e}"


def abs_max(a):
    return np.abs(a).max(axis=1)


def captum(attribution):
    return attribution.detach().cpu().numpy()


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    return net, wrap(net, preprocess=Preprocess(size=(64, 64), resize=None))


@pytest.fixture(scope="module")
def inputs():
    # channels-last, the layout ModelAdapter.logits runs CPU models in: the peers get the
    # same layout, so both sides run the same convolution kernels (NCHW against
    # channels-last alone differs by up to 5e-4 relative in Captum's own IG on this net)
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    return x.contiguous(memory_format=torch.channels_last)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # many small ops: on a shared 2-core machine, 2 intra-op threads wait on each
    # other (10x slower under load); restored after this module
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _quiet_captum():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*required_grads has been set automatically.*")
        warnings.filterwarnings("ignore", message=".*Setting backward hooks on ReLU.*")
        yield


# ------------------------------------------------------------------ equivalence with Captum (resnet18)

@pytest.mark.parametrize(
    "method, reference, reduce, kwargs",
    [
        ("saliency", lambda net: captum_attr.Saliency(net), abs_max, dict(abs=False)),
        ("gradient_x_input", lambda net: captum_attr.InputXGradient(net), lambda a: a.sum(1), {}),
        ("guided_backprop", lambda net: captum_attr.GuidedBackprop(net), abs_max, {}),
        ("deconvnet", lambda net: captum_attr.Deconvolution(net), abs_max, {}),
    ],
)
def test_single_pass_methods_equal_captum(resnet, inputs, method, reference, reduce, kwargs):
    # tolerance 1e-5 relative: the same operations in the same order (measured: 0)
    net, model = resnet
    ours = xw.explain(model, inputs, method, target=TARGETS)
    theirs = reduce(captum(reference(net).attribute(inputs, target=TARGETS, **kwargs)))
    assert_maps_close(ours.maps, theirs, rel=1e-5)


def test_integrated_gradients_equals_captum(resnet, inputs):
    # Gauss-Legendre, 50 steps, Captum's defaults; tolerance 1e-4 relative (float32
    # summation order; measured ~2e-7). Our "zero" baseline is Captum's default.
    net, model = resnet
    ours = xw.explain(model, inputs, "integrated_gradients", target=TARGETS, baseline="zero", internal_batch_size=40)
    ig = captum_attr.IntegratedGradients(net)
    theirs = captum(ig.attribute(inputs, target=TARGETS, n_steps=50, method="gausslegendre", internal_batch_size=40))
    assert_maps_close(ours.maps, theirs.sum(1), rel=1e-4)
    # the black baseline is the normalised image of 0-valued pixels, passed to Captum as a tensor
    black = make_baselines(model, inputs, IntegratedGradientsParams(baseline="black"))
    np.testing.assert_allclose(black[0, :, 0, 0].numpy(), [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-6)
    ours = xw.explain(model, inputs, "integrated_gradients", target=TARGETS, steps=20, reduce="abs_sum")
    theirs = captum(ig.attribute(inputs, baselines=black, target=TARGETS, n_steps=20))
    assert_maps_close(ours.maps, np.abs(theirs).sum(1), rel=1e-4)


def test_riemann_trapezoid_weights_sum_to_one_unlike_captums(resnet, inputs):
    # Captum's riemann_trapezoid gives its n nodes (spaced 1/(n-1)) weights 1/n with
    # halved ends: they sum to (n-1)/n. Ours sum to 1 (the trapezoid rule), so ours
    # equal Captum's times n/(n-1); tolerance 1e-4 relative.
    net, model = resnet
    n = 10
    ours = xw.explain(model, inputs, "integrated_gradients", target=TARGETS, baseline="zero", steps=n, rule="riemann_trapezoid")
    theirs = captum(captum_attr.IntegratedGradients(net).attribute(inputs, target=TARGETS, n_steps=n, method="riemann_trapezoid"))
    assert_maps_close(ours.maps, theirs.sum(1) * n / (n - 1), rel=1e-4)
    for rule in ("riemann_left", "riemann_right", "riemann_middle"):
        ours = xw.explain(model, inputs, "integrated_gradients", target=TARGETS, baseline="zero", steps=n, rule=rule)
        theirs = captum(captum_attr.IntegratedGradients(net).attribute(inputs, target=TARGETS, n_steps=n, method=rule))
        assert_maps_close(ours.maps, theirs.sum(1), rel=1e-4)


@pytest.mark.parametrize("nt_type", ["smoothgrad", "vargrad"])
def test_noise_tunnel_equals_captum_with_the_same_seed(resnet, inputs, nt_type):
    # Same global seed and the same grouping of samples (Captum's nt_samples_batch_size
    # = our internal_batch_size // batch): the noise is identical, so tolerance 1e-5
    # relative (measured: 0).
    net, model = resnet
    torch.manual_seed(5)
    ours = xw.explain(model, inputs, nt_type, target=TARGETS, n_samples=10, sigma=0.3, sigma_mode="absolute", internal_batch_size=12)
    torch.manual_seed(5)
    tunnel = captum_attr.NoiseTunnel(captum_attr.Saliency(net))
    theirs = captum(tunnel.attribute(inputs, nt_type=nt_type, nt_samples=10, nt_samples_batch_size=4, stdevs=0.3, target=TARGETS, abs=False))
    assert_maps_close(ours.maps, abs_max(theirs), rel=1e-5)


def test_smoothgrad_sigma_is_a_fraction_of_the_image_range_and_wraps_gradient_x_input(resnet, inputs):
    # the paper's sigma: 0.15 (max - min) of the image; base gradient x input, summed channels
    net, model = resnet
    image = inputs[:1]
    stdev = float(0.15 * (image.max() - image.min()))
    torch.manual_seed(3)
    ours = xw.explain(model, image, "smoothgrad", target=[2], base="gradient_x_input", n_samples=8)
    torch.manual_seed(3)
    tunnel = captum_attr.NoiseTunnel(captum_attr.InputXGradient(net))
    theirs = captum(tunnel.attribute(image, nt_type="smoothgrad", nt_samples=8, nt_samples_batch_size=8, stdevs=stdev, target=[2]))
    assert_maps_close(ours.maps, theirs.sum(1), rel=1e-5)
    assert ours.params["reduce"] is None  # None: the base method's reduction ("sum" for gradient x input)


def test_guided_gradcam_equals_captum_with_bilinear_upsampling(resnet, inputs):
    # Captum upsamples the Grad-CAM map with "nearest" by default; the paper (and we) bilinearly.
    # Tolerance 1e-5 relative (measured: 0).
    net, model = resnet
    ours = xw.explain(model, inputs, "guided_gradcam", target=TARGETS, layer="layer4")
    reference = captum_attr.GuidedGradCam(net, net.layer4)
    theirs = captum(reference.attribute(inputs, target=TARGETS, interpolate_mode="bilinear"))
    assert_maps_close(ours.maps, abs_max(theirs), rel=1e-5)
    ours = xw.explain(model, inputs, "guided_gradcam", target=TARGETS, layer="layer4", interpolation="nearest", reduce="sum")
    theirs = captum(reference.attribute(inputs, target=TARGETS))
    assert_maps_close(ours.maps, theirs.sum(1), rel=1e-5)


# ------------------------------------------------------------------ the real model: EfficientNet-Lite0 (ReLU6)

class _ReLU6SeenAsReLU(nn.ReLU):
    """ReLU6 that Captum's modified-gradient methods recognise (they hook nn.ReLU only)."""

    def forward(self, x):
        return F.hardtanh(x, 0.0, 6.0)


def _relu6_as_relu(model):
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(module, name, _ReLU6SeenAsReLU())
    return model


@pytest.mark.parametrize(
    "method, reference, reduce, kwargs",
    [
        ("saliency", captum_attr.Saliency, abs_max, dict(abs=False)),
        ("guided_backprop", captum_attr.GuidedBackprop, abs_max, {}),
        ("deconvnet", captum_attr.Deconvolution, lambda a: a.sum(1), {}),
    ],
)
def test_equal_captum_on_efficientnet_lite0(effnet, photos, method, reference, reduce, kwargs):
    # Its activations are nn.ReLU6: our rules cover them as they are; Captum needs
    # them presented as nn.ReLU. Tolerance 1e-5 relative (measured: 0).
    images = [photos["chelsea"], photos["coffee"]]
    extra = {"reduce": "sum"} if method == "deconvnet" else {}
    ours = xw.explain(effnet, images, method, target=[281, 967], **extra)
    inputs, _ = effnet.prepare(images)
    theirs = reduce(captum(reference(_relu6_as_relu(effnet.model)).attribute(inputs, target=[281, 967], **kwargs)))
    assert_maps_close(ours.maps, theirs, rel=1e-5)
    if method != "saliency":  # the rule changed something
        plain = xw.explain(effnet, images, "saliency", target=[281, 967], **extra)
        assert not np.allclose(plain.maps, ours.maps, rtol=1e-2)


# ------------------------------------------------------------------ integrated gradients: completeness

@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_trapezoid"])
def test_integrated_gradients_is_complete(resnet, inputs, rule):
    # sum of attributions = f(x) - f(baseline) for the predicted class, within 1%
    # relative at 50 steps, blur baseline (measured max: Gauss-Legendre 0.2%,
    # trapezoid 0.8%). From the black baseline the path crosses many more ReLU kinks:
    # at 50 steps the error reaches 5-30% on this random network, and 12% (Captum:
    # the same) on EfficientNet-Lite0 at 112 px, falling to ~1% at 200 steps. Check
    # completeness, and raise ``steps`` when it is off.
    net, model = resnet
    saliency = xw.explain(model, inputs, "integrated_gradients", baseline="blur", rule=rule)
    base = make_baselines(model, inputs, IntegratedGradientsParams(baseline="blur"))
    rows, classes = torch.arange(3), torch.as_tensor(saliency.targets)
    with torch.no_grad():
        delta = (net(inputs)[rows, classes] - net(base)[rows, classes]).numpy()
    assert np.abs(delta).min() > 0.3  # a well-posed relative error
    np.testing.assert_allclose(saliency.maps.sum(axis=(1, 2)), delta, rtol=0.01)


def test_integrated_gradients_baselines(resnet, inputs):
    net, model = resnet
    image = inputs[:1]
    # a tensor baseline equal to the input gives zero attributions
    zero = xw.explain(model, image, "integrated_gradients", target=[1], steps=4, baseline=image[0])
    assert np.abs(zero.maps).max() == 0
    # a callable baseline, one per input
    halves = xw.explain(model, image, "integrated_gradients", target=[1], steps=4, baseline=lambda x: x / 2)
    assert np.abs(halves.maps).max() > 0
    # the noise baseline is seeded
    a = xw.explain(model, image, "integrated_gradients", target=[1], steps=4, baseline="noise", seed=3)
    b = xw.explain(model, image, "integrated_gradients", target=[1], steps=4, baseline="noise", seed=3)
    np.testing.assert_array_equal(a.maps, b.maps)
    noise = make_baselines(model, image, IntegratedGradientsParams(baseline="noise", seed=3))
    pixels = noise * torch.tensor(model.preprocess.std).view(1, 3, 1, 1) + torch.tensor(model.preprocess.mean).view(1, 3, 1, 1)
    assert 0 <= float(pixels.min()) and float(pixels.max()) <= 1 and float(pixels.std()) > 0.2
    # the blur baseline keeps the mean colour and removes detail
    blur = make_baselines(model, image, IntegratedGradientsParams(baseline="blur"))
    assert float(blur.std()) < 0.5 * float(image.std())


# ------------------------------------------------------------------ targets

@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_pred_and_index_targets(resnet, inputs, method):
    net, model = resnet
    kwargs = FAST.get(method, {})
    pred = xw.explain(model, inputs, method, **kwargs)
    np.testing.assert_array_equal(pred.targets, pred.probabilities.argmax(1))
    by_index = xw.explain(model, inputs, method, target=pred.targets.tolist(), **kwargs)
    np.testing.assert_allclose(pred.maps, by_index.maps, rtol=1e-5, atol=1e-7)
    assert np.isfinite(pred.maps).all() and np.abs(pred.maps).max() > 0


@pytest.mark.parametrize("method", ["saliency", "gradient_x_input", "guided_backprop", "deconvnet", "guided_gradcam"])
def test_pred_target_uses_a_single_forward_pass(resnet, inputs, method):
    net, model = resnet
    calls = []
    handle = net.register_forward_hook(lambda *_: calls.append(1))
    try:
        saliency = xw.explain(model, inputs, method)
    finally:
        handle.remove()
    assert len(calls) == 1
    np.testing.assert_array_equal(saliency.targets, saliency.probabilities.argmax(1))


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_topk_rows_equal_each_class_alone(resnet, inputs, method):
    net, model = resnet
    kwargs = FAST.get(method, {})
    top = xw.explain(model, inputs[:2], method, target=xw.TopK(2), **kwargs)
    assert len(top) == 4
    np.testing.assert_array_equal(top.image_index, [0, 0, 1, 1])
    for image in range(2):
        np.testing.assert_array_equal(top.targets[top.rows_for_image(image)], np.argsort(-top.probabilities[image])[:2])
    alone = xw.explain(model, inputs[:2], method, target=top.targets[1::2].tolist(), **kwargs)  # second class of each
    np.testing.assert_allclose(top.maps[1::2], alone.maps, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "guided_gradcam"])
def test_contrast_equals_the_callable_difference(resnet, inputs, method):
    net, model = resnet
    kwargs = FAST.get(method, {})
    named = xw.explain(model, inputs, method, target=xw.Contrast(3, 5), **kwargs)
    by_callable = xw.explain(model, inputs, method, target=lambda z: z[:, 3] - z[:, 5], **kwargs)
    np.testing.assert_allclose(named.maps, by_callable.maps, rtol=1e-4, atol=1e-7)
    assert named.targets.tolist() == [3, 3, 3] and by_callable.targets.tolist() == [-1, -1, -1]


@pytest.mark.parametrize("method", ["saliency", "gradient_x_input", "integrated_gradients"])
def test_contrast_is_the_difference_of_signed_attributions(resnet, inputs, method):
    # the three are linear in the score: with the signed "sum" reduction,
    # map(Contrast(a, b)) = map(a) - map(b). Contrast's "pred" is the clean image's
    # prediction, also for the interpolated inputs of IG.
    net, model = resnet
    kwargs = dict(FAST.get(method, {}), reduce="sum")
    contrast = xw.explain(model, inputs, method, target=xw.Contrast(3, "pred"), **kwargs)
    first = xw.explain(model, inputs, method, target=3, **kwargs)
    pred = xw.explain(model, inputs, method, target="pred", **kwargs)
    np.testing.assert_allclose(contrast.maps, first.maps - pred.maps, rtol=1e-4, atol=1e-6 * np.abs(first.maps).max())


# ------------------------------------------------------------------ batching

@pytest.mark.parametrize("method", ["saliency", "gradient_x_input", "integrated_gradients", "guided_backprop", "deconvnet", "guided_gradcam"])
def test_batching_does_not_change_the_maps(resnet, inputs, method):
    net, model = resnet
    kwargs = FAST.get(method, {})
    together = xw.explain(model, inputs, method, target=TARGETS, batch_size=3, **kwargs)
    one_by_one = xw.explain(model, inputs, method, target=TARGETS, batch_size=1, **kwargs)
    np.testing.assert_allclose(together.maps, one_by_one.maps, rtol=1e-4, atol=1e-6 * np.abs(together.maps).max())


def test_internal_batch_size_does_not_change_integrated_gradients(resnet, inputs):
    net, model = resnet
    big = xw.explain(model, inputs, "integrated_gradients", target=TARGETS, steps=10, internal_batch_size=64)
    small = xw.explain(model, inputs, "integrated_gradients", target=TARGETS, steps=10, internal_batch_size=7)
    np.testing.assert_allclose(big.maps, small.maps, rtol=1e-4, atol=1e-6 * np.abs(big.maps).max())


def test_smoothgrad_is_reproducible_with_a_seed(resnet, inputs):
    # (the noise is drawn per group of samples, so the batch size changes the draws:
    # SmoothGrad is reproducible for a given seed and batching, not batch-invariant)
    net, model = resnet
    a = xw.explain(model, inputs, "smoothgrad", target=TARGETS, n_samples=4, seed=7)
    b = xw.explain(model, inputs, "smoothgrad", target=TARGETS, n_samples=4, seed=7)
    np.testing.assert_array_equal(a.maps, b.maps)


@pytest.mark.parametrize("base", ["saliency", "gradient_x_input", "integrated_gradients", "guided_backprop", "deconvnet"])
def test_without_noise_smoothgrad_is_its_base_and_vargrad_is_zero(resnet, inputs, base):
    net, model = resnet
    base_params = {"steps": 4} if base == "integrated_gradients" else {}
    plain = xw.explain(model, inputs, base, target=TARGETS, **base_params)
    smooth = xw.explain(model, inputs, "smoothgrad", target=TARGETS, base=base, base_params=base_params, n_samples=2, sigma=0.0)
    np.testing.assert_allclose(smooth.maps, plain.maps, rtol=1e-5, atol=1e-7 * np.abs(plain.maps).max())
    var = xw.explain(model, inputs, "vargrad", target=TARGETS, base=base, base_params=base_params, n_samples=2, sigma=0.0)
    assert np.abs(var.maps).max() <= 1e-6 * np.abs(plain.maps).max() ** 2 + 1e-12


# ------------------------------------------------------------------ backward rules: functional ReLUs, no ReLU, cleanup

class _SmallNet(nn.Module):
    def __init__(self, functional: bool):
        super().__init__()
        self.functional = functional
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(8, 4)
        self.explode = False

    def forward(self, x):
        if self.functional:
            x = F.relu(self.conv1(x), inplace=True)
            x = self.conv2(x)
            x.relu_()  # the result is ignored: the call must stay in place
        else:
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
        if self.explode:
            raise RuntimeError("boom")
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("method, reference", [("guided_backprop", "GuidedBackprop"), ("deconvnet", "Deconvolution")])
def test_functional_relus_get_the_rule_too(method, reference):
    torch.manual_seed(0)
    modules = _SmallNet(functional=False)
    functional = _SmallNet(functional=True)
    functional.load_state_dict(modules.state_dict())
    preprocess = Preprocess(size=(16, 16), resize=None)
    x = torch.randn(2, 3, 16, 16)
    theirs = abs_max(captum(getattr(captum_attr, reference)(modules).attribute(x, target=[0, 3])))
    for net in (modules, functional):
        ours = xw.explain(wrap(net, preprocess=preprocess), x, method, target=[0, 3])
        assert_maps_close(ours.maps, theirs, rel=1e-5)


def test_a_model_without_relu_gets_a_warning():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    model = wrap(net, preprocess=Preprocess(size=(8, 8), resize=None))
    x = torch.randn(1, 3, 8, 8)
    with pytest.warns(UserWarning, match="guided_backprop: the model called no ReLU"):
        guided = xw.explain(model, x, "guided_backprop", target=1)
    np.testing.assert_array_equal(guided.maps, xw.explain(model, x, "saliency", target=1).maps)


def _no_leftovers(net):
    assert torch._C._len_torch_function_stack() == 0
    for module in net.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks and not getattr(module, "_backward_pre_hooks", {})


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_an_exception_inside_the_model_leaves_nothing_behind(method):
    torch.manual_seed(0)
    net = _SmallNet(functional=False).train()
    net.conv2.weight.requires_grad_(False)
    model = wrap(net, preprocess=Preprocess(size=(16, 16), resize=None), cam_layer="conv2")
    x = torch.randn(2, 3, 16, 16)
    net.explode = True
    with pytest.raises(RuntimeError, match="boom"):
        xw.explain(model, x, method, target=[0, 1], **FAST.get(method, {}))
    _no_leftovers(net)
    assert all(m.training for m in net.modules())
    assert [p.requires_grad for p in net.parameters()] == [True, True, False, True, True, True]
    # ReLUs are plain again: the vanilla gradient equals autograd's
    net.explode = False
    net.eval()
    saliency = xw.explain(model, x, "saliency", target=[0, 1], reduce="sum")
    xg = x.clone().requires_grad_(True)
    net(xg)[[0, 1], [0, 1]].sum().backward()
    np.testing.assert_allclose(saliency.maps, xg.grad.sum(1).numpy(), rtol=1e-5, atol=1e-7)
    _no_leftovers(net)


# ------------------------------------------------------------------ model randomisation sanity check

def _spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel())[0])


def _reinitialise(module, seed):
    torch.manual_seed(seed)
    for sub in module.modules():
        if isinstance(sub, nn.BatchNorm2d):
            sub.reset_running_stats()
        if hasattr(sub, "reset_parameters"):
            sub.reset_parameters()


#: Adebayo et al. (2018), Fig. 2: guided backprop (and deconvnet, which ignores the
#: forward pass's signs) stay nearly the same when the top layers are randomised.
#: Measured Spearman here: guided_backprop 0.989/0.988, deconvnet 0.932/0.893.
_INSENSITIVE = pytest.mark.xfail(
    strict=True, reason="known to fail the model-randomisation check (Adebayo et al., Sanity Checks, NeurIPS 2018)"
)
SPEARMAN_THRESHOLD = 0.7


@pytest.fixture(scope="module")
def randomised_pair(effnet):
    # the pretrained EfficientNet-Lite0 at 112 px (fast; still classifies the photos right)
    # and a copy whose top layers (classifier, head conv and BN, last 4 blocks) are re-initialised
    preprocess = Preprocess(size=(112, 112), resize=128, mean=(127.0,) * 3, std=(128.0,) * 3, scale=1.0)
    trained = wrap(effnet.model, preprocess=preprocess, labels=effnet.labels, cam_layer="head_act")
    net = copy.deepcopy(effnet.model)
    for i, module in enumerate([net._fc, net._conv_head, net._bn1, *net._blocks[12:]]):
        _reinitialise(module, 100 + i)
    return trained, wrap(net, preprocess=preprocess, labels=effnet.labels, cam_layer="head_act")


@pytest.mark.parametrize(
    "method",
    [m if m not in ("guided_backprop", "deconvnet") else pytest.param(m, marks=_INSENSITIVE) for m in GRADIENT_METHODS],
)
def test_randomising_the_top_layers_changes_the_maps(randomised_pair, photos, method):
    # Spearman rank correlation of each map before/after < 0.7 (measured on this pair,
    # chelsea/coffee: saliency 0.31/0.44, gradient x input 0.09/0.08, IG 0.01/-0.01,
    # SmoothGrad 0.15/0.18, VarGrad 0.34/0.39, Guided Grad-CAM 0.53/0.18)
    trained, randomised = randomised_pair
    images = [photos["chelsea"], photos["coffee"]]
    kwargs = FAST.get(method, {})
    before = xw.explain(trained, images, method, target=[281, 967], **kwargs).maps
    after = xw.explain(randomised, images, method, target=[281, 967], **kwargs).maps
    rhos = [_spearman(b, a) for b, a in zip(before, after)]
    print(f"{method}: Spearman before/after {np.round(rhos, 3)}")
    assert max(rhos) < SPEARMAN_THRESHOLD, f"{method}: Spearman before/after = {np.round(rhos, 3)}"


# ------------------------------------------------------------------ errors and registry

@pytest.mark.parametrize(
    "method, kwargs, message",
    [
        ("smoothgrad", {"base": "sailency"}, r"base: expected the name of a gradient method, one of deconvnet, gradient_x_input, .*; got 'sailency'"),
        ("vargrad", {"base": "gradcam"}, r"base: expected the name of a gradient method.*got 'gradcam'"),
        ("smoothgrad", {"base_params": {"steps": 5}}, r"base_params: expected parameters of saliency \(reduce\).*Unknown: steps"),
        ("integrated_gradients", {"steps": 0}, r"steps: expected a positive int; got 0"),
        ("integrated_gradients", {"steps": 2.5}, r"steps: expected a positive int; got 2.5"),
        ("integrated_gradients", {"steps": 1, "rule": "riemann_trapezoid"}, r"steps: expected an int >= 2; got 1"),
        ("integrated_gradients", {"rule": "simpson"}, r"rule: expected one of gausslegendre, "),
        ("integrated_gradients", {"baseline": "grey"}, r'baseline: expected "black" .*; got \'grey\''),
        ("integrated_gradients", {"baseline": torch.zeros(2, 3, 64, 64)}, r"baseline: expected .*; got Tensor of shape \(2, 3, 64, 64\)"),
        ("integrated_gradients", {"baseline": torch.zeros(3, 32, 32)}, r"baseline: expected a tensor of shape \(3, 64, 64\) or \(1, 3, 64, 64\) like the model inputs; got Tensor of shape \(3, 32, 32\)"),
        ("integrated_gradients", {"baseline": lambda x: x[:1]}, r"baseline: expected a callable returning a tensor of shape \(3, 3, 64, 64\)"),
        ("integrated_gradients", {"internal_batch_size": 0}, r"internal_batch_size: expected a positive int"),
        ("smoothgrad", {"n_samples": 0}, r"n_samples: expected a positive int; got 0"),
        ("vargrad", {"sigma": -0.1}, r"sigma: expected a non-negative number; got -0.1"),
        ("smoothgrad", {"sigma_mode": "std"}, r"sigma_mode: expected one of range, absolute; got 'std'"),
        ("saliency", {"reduce": "max"}, r"reduce: expected one of 'sum', 'abs_max', 'l2', 'abs_sum'; got 'max'"),
        ("smoothgrad", {"reduce": "mean"}, r"reduce: expected one of .* or None"),
        ("guided_gradcam", {"interpolation": "area"}, r"interpolation: expected"),
    ],
)
def test_bad_arguments_get_clear_errors(resnet, inputs, method, kwargs, message):
    net, model = resnet
    with pytest.raises(ValueError, match=message):
        xw.explain(model, inputs, method, **kwargs)


def test_unknown_parameters_and_layers_are_refused(resnet, inputs):
    net, model = resnet
    with pytest.raises(TypeError, match=r"saliency: unknown parameter\(s\) steps"):
        xw.explain(model, inputs, "saliency", steps=3)
    with pytest.raises(ValueError, match="layer: expected None: saliency does not read a layer"):
        xw.explain(model, inputs, "saliency", layer="layer4")


def test_registry_lists_the_gradient_methods_with_defaults_and_papers():
    specs = {s.name: s for s in xw.list_methods()}
    papers = {
        "saliency": "Simonyan", "gradient_x_input": "Shrikumar", "integrated_gradients": "Sundararajan",
        "smoothgrad": "Smilkov", "vargrad": "Adebayo", "guided_backprop": "Springenberg",
        "deconvnet": "Zeiler", "guided_gradcam": "Selvaraju",
    }
    for name, author in papers.items():
        assert author in specs[name].paper and specs[name].family == "gradient"
        assert specs[name].uses_layer == (name == "guided_gradcam")
    defaults = {name: specs[name].make_params() for name in papers}
    assert defaults["saliency"].reduce == "abs_max" and defaults["guided_backprop"].reduce == "abs_max"
    assert defaults["gradient_x_input"].reduce == "sum" and defaults["integrated_gradients"].reduce == "sum"
    ig = defaults["integrated_gradients"]
    assert (ig.steps, ig.rule, ig.baseline) == (50, "gausslegendre", "black")
    sg = defaults["smoothgrad"]
    assert (sg.base, sg.n_samples, sg.sigma, sg.sigma_mode, sg.reduce) == ("saliency", 50, 0.15, "range", None)
    assert sg.effective_reduce == "abs_max"


@pytest.mark.parametrize(
    "shape, sigma", [((2, 3, 40, 28), 2.0), ((1, 1, 64, 64), 5.0), ((1, 3, 12, 20), 20.0), ((1, 1, 520, 16), 3.0)]
)
def test_gaussian_blur_equals_replicate_padding_and_a_separable_convolution(shape, sigma):
    """The banded-matrix blur sums what padding with the border pixel and convolving
    each axis with the normalised Gaussian of radius ceil(3 sigma) sums, also when the
    radius is larger than the image (the third case), and its gradient is that
    convolution's adjoint; a side above BLUR_MATRIX_MAX takes the convolution (the last)."""
    from xwidgets.saliency.integrated_gradients import BLUR_MATRIX_MAX, gaussian_blur

    assert (max(shape[2:]) > BLUR_MATRIX_MAX) == (shape == (1, 1, 520, 16))

    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = shape[1]

    def reference(x):
        out = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
        return F.conv2d(F.pad(out, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)

    x = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours, expected = gaussian_blur(x, sigma), reference(x)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)
    (grad,) = torch.autograd.grad((ours * weights).sum(), x)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-12)
    assert gaussian_blur(x, 0.0) is x
