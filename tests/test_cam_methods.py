"""The CAM family: CAM, Grad-CAM++, HiResCAM, LayerCAM, Score-CAM.

Equivalence with pytorch-grad-cam (which min-max normalises each map, so ours are
compared after ``normalise_map``) on a seeded torchvision resnet18 at 64x64, on the
real EfficientNet-Lite0 and on a timm ViT; closed forms on models built so that the
answer is known; the published constants; clear errors.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, wrap
from xwidgets.models.hooks import capture
from xwidgets.saliency.plot import normalise_map

# Tolerances. Maps normalised to [0, 1]: float32 rounding of the same arithmetic in a
# different order (largest difference measured: 1e-6), so 1e-5.
NORMALISED_ATOL = 1e-5


def _normalised(maps):
    return np.stack([normalise_map(m) for m in maps])


def _random_images(n, size, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    return wrap(net, preprocess=Preprocess(size=(64, 64), resize=None))


class GapNet(nn.Module):
    """conv -> ReLU -> global average pool -> linear: CAM's architecture, with the
    feature map at the input resolution (no upsampling between map and image)."""

    def __init__(self, channels=6, classes=4, head=None):
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = head or nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.pool(self.act(self.conv(x))).flatten(1))


def _gap_model(**kwargs):
    return wrap(GapNet(**kwargs), preprocess=Preprocess(size=(16, 16), resize=None))


# ---------------------------------------------------------------------------- equivalence with pytorch-grad-cam


@pytest.mark.parametrize(
    "method, reference, layer, params",
    [
        # eps=1e-6: pytorch-grad-cam's stabiliser in alpha's denominator (the paper has none)
        ("gradcampp", "GradCAMPlusPlus", "layer4", {"eps": 1e-6}),
        ("hirescam", "HiResCAM", "layer4", {}),
        ("layercam", "LayerCAM", "layer4", {}),
        # pytorch-grad-cam's Score-CAM: softmax over channels, align_corners=True upsampling;
        # layer1 (64 channels, 16x16) keeps the 2 x 64 masked forwards of each side cheap
        ("scorecam", "ScoreCAM", "layer1", {"weights": "channel_softmax", "align_corners": True}),
    ],
)
def test_equals_pytorch_grad_cam_on_resnet18(resnet, method, reference, layer, params):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    images, targets = _random_images(2, 64), [1, 7]
    ours = xw.explain(resnet, images, method=method, target=targets, layer=layer, **params)
    inputs, _ = resnet.prepare(images)
    with getattr(pytorch_grad_cam, reference)(model=resnet.model, target_layers=[resnet.layer(layer)]) as cam:
        expected = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(c) for c in targets])
    np.testing.assert_allclose(_normalised(ours.maps), expected, atol=NORMALISED_ATOL)  # measured <= 1e-6


def test_gradcampp_equals_pytorch_grad_cam_on_the_real_model(effnet, photos):
    from pytorch_grad_cam import GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    images, targets = [photos["chelsea"], photos["coffee"]], [281, 967]
    ours = xw.explain(effnet, images, method="gradcampp", target=targets, eps=1e-6)
    inputs, _ = effnet.prepare(images)
    with GradCAMPlusPlus(model=effnet.model, target_layers=[effnet.layer("head_act")]) as cam:
        expected = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(c) for c in targets])
    np.testing.assert_allclose(_normalised(ours.maps), expected, atol=NORMALISED_ATOL)  # measured 4e-7
    # The paper's formula (eps=0) differs visibly here: gradients at head_act are ~1e-3,
    # so g^2 is of the order of pytorch-grad-cam's 1e-6 (measured: 0.03 on these photos).
    paper = xw.explain(effnet, images, method="gradcampp", target=targets)
    assert np.abs(_normalised(paper.maps) - expected).max() > 1e-3


def test_scorecam_equals_pytorch_grad_cam_on_the_real_model(effnet, photos):
    # stem_act: 32 channels at 112x112, 17 of them constant (dead) on this photo, so
    # the constant-channel guard runs on a real model. Constant channels are zero here:
    # they add nothing to the map, and leaving them out of the channel softmax only
    # rescales it (pytorch-grad-cam keeps them in).
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    image = photos["chelsea"]
    ours = xw.explain(effnet, image, method="scorecam", target=281, layer="stem_act", weights="channel_softmax", align_corners=True)
    assert np.isfinite(ours.maps).all()
    inputs, _ = effnet.prepare(image)
    with ScoreCAM(model=effnet.model, target_layers=[effnet.layer("stem_act")]) as cam:
        expected = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(281)])
    np.testing.assert_allclose(_normalised(ours.maps), expected, atol=NORMALISED_ATOL)  # measured 8e-7


@pytest.mark.parametrize("method, reference", [("layercam", "LayerCAM"), ("hirescam", "HiResCAM")])
def test_equals_pytorch_grad_cam_on_a_timm_vit(method, reference):
    timm = pytest.importorskip("timm")
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    net = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=5, img_size=64, depth=2).eval()
    model = wrap(net, preprocess=Preprocess(size=(64, 64), resize=None))
    images = _random_images(2, 64)
    ours = xw.explain(model, images, method=method, target=[1, 3])  # default layer: blocks.1.norm1

    def reshape(tokens):  # the callback pytorch-grad-cam needs; xwidgets maps tokens itself
        return tokens[:, 1:].reshape(tokens.shape[0], 4, 4, tokens.shape[2]).permute(0, 3, 1, 2)

    inputs, _ = model.prepare(images)
    with getattr(pytorch_grad_cam, reference)(model=net, target_layers=[net.blocks[-1].norm1], reshape_transform=reshape) as cam:
        expected = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(1), ClassifierOutputTarget(3)])
    np.testing.assert_allclose(_normalised(ours.maps), expected, atol=NORMALISED_ATOL)  # measured 5e-7


# ---------------------------------------------------------------------------- closed forms


def test_cam_is_the_weighted_feature_maps_and_averages_to_the_logit():
    model = _gap_model()
    images = _random_images(3, 16)
    saliency = xw.explain(model, images, method="cam", target=[0, 2, 3], layer="act")
    inputs, _ = model.prepare(images)
    with torch.no_grad(), capture(model.model, ["act"], gradients=False) as records:
        logits = model.model(inputs)
    weight, bias = model.model.fc.weight, model.model.fc.bias
    classes = torch.tensor([0, 2, 3])
    expected = torch.einsum("bk,bkhw->bhw", weight[classes].detach(), records["act"].activation)
    np.testing.assert_allclose(saliency.maps, expected.numpy(), rtol=1e-5, atol=1e-6)  # the same sum, reordered
    # mean_ij M^c + b^c is the logit: the defining property of CAM
    np.testing.assert_allclose(saliency.maps.mean(axis=(1, 2)) + bias[classes].detach().numpy(),
                               logits[torch.arange(3), classes].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("relu", [False, True])
def test_gradcam_equals_cam_up_to_a_constant_on_a_gap_model(resnet, relu):
    images = _random_images(2, 64)
    cam = xw.explain(resnet, images, method="cam", target=xw.TopK(2), relu=relu)
    gradcam = xw.explain(resnet, images, method="gradcam", target=xw.TopK(2), relu=relu)
    # Grad-CAM's weights on a GAP + linear model are W[c] / (h w); layer4 is 2x2 at 64 px
    np.testing.assert_allclose(gradcam.maps * 4, cam.maps, rtol=1e-4, atol=1e-6)
    assert np.abs(cam.maps).max() > 0


def test_cam_contrast_is_the_difference_of_the_class_maps(resnet):
    images = _random_images(2, 64)
    pred = xw.explain(resnet, images, method="cam")
    three = xw.explain(resnet, images, method="cam", target=3)
    contrast = xw.explain(resnet, images, method="cam", target=xw.Contrast(3, "pred"))
    np.testing.assert_allclose(contrast.maps, three.maps - pred.maps, rtol=1e-5, atol=1e-5)
    by_callable = xw.explain(resnet, images, method="cam", target=lambda z: 2 * z[:, 5])
    np.testing.assert_allclose(by_callable.maps, 2 * xw.explain(resnet, images, method="cam", target=5).maps, rtol=1e-5, atol=1e-6)


def test_cam_on_a_timm_vit_with_average_pooled_tokens():
    # a ViT whose head is a linear layer on the mean of the patch tokens: CAM reads the
    # final norm's tokens on their 4x4 grid (tokens_to_grid), and Grad-CAM agrees
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    net = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=5, img_size=64, depth=1,
                            global_pool="avg", class_token=False, fc_norm=False).eval()
    model = wrap(net, preprocess=Preprocess(size=(64, 64), resize=None))
    images = _random_images(2, 64)
    cam = xw.explain(model, images, method="cam", target=[0, 4], layer="norm", relu=True)
    gradcam = xw.explain(model, images, method="gradcam", target=[0, 4], layer="norm")
    np.testing.assert_allclose(gradcam.maps * 16, cam.maps, rtol=1e-4, atol=1e-5)


def test_gradcampp_follows_the_published_alpha_on_a_gap_model():
    # On GAP + linear, g = W[c,k] / (h w) at every location, so the paper's formula gives
    # alpha = 1 / (2 + g sum_ab A_ab) and w_k = h w ReLU(g) alpha.
    model = _gap_model()
    images = _random_images(2, 16)
    saliency = xw.explain(model, images, method="gradcampp", target=[1, 2], layer="act")
    inputs, _ = model.prepare(images)
    with torch.no_grad(), capture(model.model, ["act"], gradients=False) as records:
        model.model(inputs)
    activation = records["act"].activation
    g = model.model.fc.weight[[1, 2]].detach() / (16 * 16)  # (B, K)
    alpha = 1 / (2 + g * activation.sum(dim=(2, 3)))
    weights = 16 * 16 * g.clamp_min(0) * alpha
    expected = torch.einsum("bk,bkhw->bhw", weights, activation).clamp_min(0)
    np.testing.assert_allclose(saliency.maps, expected.numpy(), rtol=1e-4, atol=1e-6)


def test_hirescam_signed_map_sums_to_the_score_on_a_flatten_linear_head():
    # S^c = sum_kij W[c,kij] A_kij + b^c and dS^c/dA = W[c], so the signed HiResCAM
    # map sums to the score minus the bias (8x8 layer = input size: no upsampling)
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    model = wrap(net, preprocess=Preprocess(size=(8, 8), resize=None))
    images = _random_images(2, 8)
    saliency = xw.explain(model, images, method="hirescam", target=[0, 2], layer="1", relu=False)
    inputs, _ = model.prepare(images)
    with torch.no_grad():
        expected = net(inputs)[[0, 1], [0, 2]] - net[3].bias[[0, 2]]
    np.testing.assert_allclose(saliency.maps.sum(axis=(1, 2)), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_scorecam_probability_weights_follow_the_authors_algorithm_channel_by_channel():
    # the authors' loop: upsample each channel, min-max normalise, mask the input, take
    # the softmax probability of the class; constant channels are skipped
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.conv = nn.Conv2d(3, 6, 3, stride=2, padding=1)
            with torch.no_grad():  # channel 4: dead (always 0); channel 5: constant 1
                self.conv.weight[4:] = 0
                self.conv.bias[4] = -1.0
                self.conv.bias[5] = 1.0
            self.act = nn.ReLU()
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))

    model = wrap(Net(), preprocess=Preprocess(size=(16, 16), resize=None))
    images = _random_images(2, 16, seed=4)
    inputs, _ = model.prepare(images)
    net = model.model
    with torch.no_grad():
        activation = net.act(net.conv(inputs))
        base = net(torch.zeros_like(inputs)).softmax(1)
        expected, expected_base = [], []
        for b, c in enumerate([2, 0]):
            total = torch.zeros(8, 8)
            total_base = torch.zeros(8, 8)
            for k in range(6):
                up = F.interpolate(activation[b : b + 1, k : k + 1], size=(16, 16), mode="bilinear", align_corners=False)
                if up.max() == up.min():
                    continue
                mask = (up - up.min()) / (up.max() - up.min())
                p = net(inputs[b : b + 1] * mask).softmax(1)[0, c]
                total += p * activation[b, k]
                total_base += (p - base[0, c]) * activation[b, k]
            expected.append(total.clamp_min(0))
            expected_base.append(total_base.clamp_min(0))
    saliency = xw.explain(model, images, method="scorecam", target=[2, 0], layer="act", internal_batch_size=5)
    up = lambda maps: F.interpolate(torch.stack(maps)[:, None], size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(saliency.maps, up(expected).numpy(), rtol=1e-5, atol=1e-6)  # float32, same sums
    with_baseline = xw.explain(model, images, method="scorecam", target=[2, 0], layer="act", baseline=True)
    np.testing.assert_allclose(with_baseline.maps, up(expected_base).numpy(), rtol=1e-5, atol=1e-6)
    # constant channels give finite maps in the channel-softmax mode too
    assert np.isfinite(xw.explain(model, images, method="scorecam", layer="act", weights="channel_softmax").maps).all()


def test_scorecam_batches_over_channels_without_changing_the_maps():
    model = _gap_model(channels=6, classes=4)
    images = _random_images(3, 16)
    one = xw.explain(model, images, method="scorecam", target=xw.TopK(2), layer="act", internal_batch_size=1)
    many = xw.explain(model, images, method="scorecam", target=xw.TopK(2), layer="act", internal_batch_size=7)
    np.testing.assert_allclose(one.maps, many.maps, rtol=1e-5, atol=1e-6)
    for row in (1, 4):  # each TopK row equals explaining that class alone
        alone = xw.explain(model, images[many.image_index[row]], method="scorecam", target=int(many.targets[row]), layer="act")
        np.testing.assert_allclose(many.maps[row], alone.maps[0], rtol=1e-5, atol=1e-6)


def test_pred_target_uses_the_clean_forward_pass(resnet):
    images = _random_images(3, 64)
    for method in ("cam", "gradcampp", "hirescam", "layercam"):
        calls = []
        handle = resnet.model.register_forward_hook(lambda *_: calls.append(1))
        try:
            saliency = xw.explain(resnet, images, method=method)
        finally:
            handle.remove()
        assert len(calls) == 1, method
        np.testing.assert_array_equal(saliency.targets, saliency.probabilities.argmax(1))


# ---------------------------------------------------------------------------- errors and registry


class MLPHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 8)
        self.out = nn.Linear(8, 4)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


class FlattenHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 4, stride=4)
        self.fc = nn.Linear(6 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.mark.parametrize(
    "build, layer, message",
    [
        (lambda: wrap(FlattenHead(), preprocess=Preprocess(size=(16, 16), resize=None), name="FlattenNet"), "conv",
         r"cam: FlattenNet has no nn.Linear with in_features=6 .*global-average-pool"),
        (lambda: _gap_model(head=MLPHead()), "act",
         r"cam: GapNet's logits are not 'fc.hidden' applied to the global average of layer 'act'"),
    ],
)
def test_cam_without_a_gap_linear_head_fails_naming_the_model(build, layer, message):
    with pytest.raises(ValueError, match=message):
        xw.explain(build(), _random_images(1, 16), method="cam", layer=layer)


def test_cam_on_a_class_token_vit_fails_naming_the_model():
    net = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=4)
    nn.init.normal_(net.heads.head.weight)  # torchvision initialises the head to zeros
    model = wrap(net, preprocess=Preprocess(size=(32, 32), resize=None))
    with pytest.raises(ValueError, match=r"cam: VisionTransformer's logits are not 'heads.head'"):
        xw.explain(model, _random_images(1, 32), method="cam")


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("scorecam", {"internal_batch_size": 0}, "internal_batch_size: expected a positive int or \"auto\"; got 0"),
        ("scorecam", {"internal_batch_size": 2.5}, "internal_batch_size: expected a positive int"),
        ("scorecam", {"weights": "softmax"}, "weights: expected one of 'probability', 'channel_softmax'"),
        ("scorecam", {"batch_size_per_channel": 3}, "scorecam: unknown parameter"),
        ("gradcampp", {"eps": -1.0}, "eps: expected a float >= 0"),
    ],
)
def test_bad_parameters_get_clear_errors(resnet, method, params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        xw.explain(resnet, _random_images(1, 64), method=method, **params)


def test_registry_lists_the_cam_family_with_papers_and_defaults():
    specs = {s.name: s for s in xw.list_methods()}
    for name, author in [("cam", "Zhou"), ("gradcampp", "Chattopadhay"), ("hirescam", "Draelos"), ("layercam", "Jiang"), ("scorecam", "Wang")]:
        assert author in specs[name].paper and specs[name].family == "cam" and specs[name].uses_layer
    defaults = specs["scorecam"].make_params()
    assert (defaults.internal_batch_size, defaults.baseline, defaults.weights, defaults.relu) == ("auto", False, "probability", True)
    assert specs["gradcampp"].make_params().eps == 0.0 and specs["cam"].make_params().relu is False
