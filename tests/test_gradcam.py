"""Grad-CAM through explain(): equal to pytorch-grad-cam, batched, all target kinds, ViTs."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, wrap
from xwidgets.saliency.plot import normalise_map


def _normalised(maps):
    return np.stack([normalise_map(m) for m in maps])


def _random_images(n, size, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def test_equals_pytorch_grad_cam_on_the_real_model(effnet, photos):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    images = list(photos.values())
    ours = xw.explain(effnet, images, method="gradcam", target=[967, 281, 0, 657])
    inputs, _ = effnet.prepare(images)
    with GradCAM(model=effnet.model, target_layers=[effnet.layer("head_act")]) as cam:
        reference = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(c) for c in (967, 281, 0, 657)])
    np.testing.assert_allclose(_normalised(ours.maps), reference, atol=1e-4)


def test_equals_pytorch_grad_cam_on_a_timm_vit():
    timm = pytest.importorskip("timm")
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    net = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=5).eval()
    model = wrap(net)
    images = _random_images(2, 224)
    ours = xw.explain(model, images, target=[1, 3])

    def reshape(tokens):  # the callback pytorch-grad-cam users must write by hand
        return tokens[:, 1:].reshape(tokens.shape[0], 14, 14, tokens.shape[2]).permute(0, 3, 1, 2)

    inputs, _ = model.prepare(images)
    with GradCAM(model=net, target_layers=[net.blocks[-1].norm1], reshape_transform=reshape) as cam:
        reference = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(1), ClassifierOutputTarget(3)])
    np.testing.assert_allclose(_normalised(ours.maps), reference, atol=1e-4)


@pytest.mark.parametrize("builder", ["torchvision_vit", "hf_vit"])
def test_vits_need_no_reshape_callback(builder):
    if builder == "torchvision_vit":
        net = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=4)
        nn.init.normal_(net.heads.head.weight)  # torchvision initialises the head to zeros: no gradient at all
    else:
        from transformers import ViTConfig, ViTForImageClassification

        net = ViTForImageClassification(ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, num_labels=4))
    model = wrap(net, preprocess=Preprocess(size=(32, 32), resize=None))
    saliency = xw.explain(model, _random_images(3, 32), relu=False)
    assert saliency.maps.shape == (3, 32, 32)
    assert np.isfinite(saliency.maps).all() and np.abs(saliency.maps).max() > 0


def test_pred_target_uses_a_single_forward_pass(effnet, photos):
    calls = []
    handle = effnet.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        saliency = xw.explain(effnet, list(photos.values()))
    finally:
        handle.remove()
    assert len(calls) == 1
    np.testing.assert_array_equal(saliency.targets, saliency.probabilities.argmax(1))


def test_batching_does_not_change_the_maps(effnet, photos):
    images = list(photos.values())
    together = xw.explain(effnet, images, batch_size=4)
    one_by_one = xw.explain(effnet, images, batch_size=1)
    np.testing.assert_allclose(together.maps, one_by_one.maps, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(together.probabilities, one_by_one.probabilities, atol=1e-5)


def test_topk_gives_k_rows_per_image_in_probability_order(effnet, photos):
    saliency = xw.explain(effnet, [photos["coffee"], photos["chelsea"]], target=xw.TopK(3))
    assert len(saliency) == 6
    np.testing.assert_array_equal(saliency.image_index, [0, 0, 0, 1, 1, 1])
    for image in range(2):
        rows = saliency.rows_for_image(image)
        expected = np.argsort(-saliency.probabilities[image])[:3]
        np.testing.assert_array_equal(saliency.targets[rows], expected)
    assert saliency.target_label(0) == "espresso"
    # each row's map equals explaining that class alone
    alone = xw.explain(effnet, photos["chelsea"], target=int(saliency.targets[4]))
    np.testing.assert_allclose(saliency.maps[4], alone.maps[0], rtol=1e-4, atol=1e-5)


def test_callable_target_equals_the_class_it_selects(effnet, photos):
    by_index = xw.explain(effnet, photos["coffee"], target=967)
    by_callable = xw.explain(effnet, photos["coffee"], target=lambda logits: logits[:, 967])
    np.testing.assert_allclose(by_callable.maps, by_index.maps, rtol=1e-5, atol=1e-6)
    assert by_callable.targets.tolist() == [-1]
    assert by_callable.target_label(0) == "custom target"


def test_contrast_through_a_callable_differs_from_the_class_alone(effnet, photos):
    cat = xw.explain(effnet, photos["chelsea"], target=281)
    contrast = xw.explain(effnet, photos["chelsea"], target=lambda z: z[:, 281] - z[:, 282])
    assert not np.allclose(normalise_map(cat.maps[0]), normalise_map(contrast.maps[0]), atol=1e-2)
    named = xw.explain(effnet, photos["chelsea"], target=xw.Contrast(281, 282))
    np.testing.assert_allclose(named.maps, contrast.maps, rtol=1e-4, atol=1e-6)
    assert named.targets.tolist() == [281]
    with pytest.raises(ValueError, match="Contrast.other"):
        xw.Contrast(1, 2.5)


def test_maps_localise_a_bright_object_for_a_linear_readout():
    # a model whose logit 1 is the mean of the red channel over a 4x4 conv grid:
    # Grad-CAM must light up where the red square is
    class RedDetector(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Conv2d(3, 1, 4, stride=4, bias=False)
            with torch.no_grad():
                self.features.weight.zero_()
                self.features.weight[0, 0] = 1.0 / 16
            self.pool = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            score = self.pool(torch.relu(self.features(x))).flatten(1)
            return torch.cat([-score, score], dim=1)

    image = np.zeros((32, 32, 3), np.uint8)
    image[4:12, 20:28, 0] = 255
    model = wrap(RedDetector(), preprocess=Preprocess(size=(32, 32), resize=None, mean=(0, 0, 0), std=(1, 1, 1)))
    saliency = xw.explain(model, image, target=1)
    peak = np.unravel_index(saliency.maps[0].argmax(), (32, 32))
    assert 4 <= peak[0] < 12 and 20 <= peak[1] < 28
    assert saliency.maps[0][20:, :10].max() == 0


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"target": 1000}, ValueError, r"target: expected class indices in \[0, 1000\); got values from 1000"),
        ({"target": [1, 2]}, ValueError, r"target: expected one int class index per image \(1\)"),
        ({"target": "best"}, ValueError, "target: expected \"pred\""),
        ({"method": "gradkam"}, ValueError, "Did you mean gradcam"),
        ({"layer": "head"}, KeyError, "head_act"),
        ({"alpha": 3}, TypeError, "gradcam: unknown parameter"),
        ({"batch_size": 0}, ValueError, "batch_size: expected a positive int"),
        ({"target": lambda z: z}, ValueError, r"target: expected the callable to return one score per image"),
    ],
)
def test_bad_arguments_get_clear_errors(effnet, photos, kwargs, error, message):
    with pytest.raises(error, match=message):
        xw.explain(effnet, photos["coffee"], **kwargs)


def test_nan_logits_are_reported_by_image():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3)

        def forward(self, x):
            out = self.conv(x).mean((2, 3))
            return out * torch.tensor([[1.0], [float("nan")]])

    model = wrap(Broken(), preprocess=Preprocess(size=(16, 16), resize=None))
    with pytest.raises(ValueError, match=r"NaN or infinite logits for image\(s\) \[1\]"):
        xw.explain(model, _random_images(2, 16), layer="conv")


def test_result_saves_loads_and_plots(effnet, photos, tmp_path):
    saliency = xw.explain(effnet, [photos["coffee"], photos["rocket"]], target=xw.TopK(2))
    loaded = xw.Saliency.load(saliency.save(tmp_path / "s.npz"))
    for name in ("maps", "images", "image_index", "targets", "probabilities"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(saliency, name))
    assert loaded.labels == saliency.labels and loaded.method == "gradcam" and loaded.layer == "head_act"
    assert loaded.params["target"] == "TopK(k=2)"
    fig = saliency.plot()
    assert len([ax for ax in fig.axes if ax.images]) == 4
    assert "espresso" in fig.axes[0].get_title()
    assert repr(saliency) == "Saliency(method='gradcam', maps=4x224x224, images=2, layer='head_act')"


def test_registry_lists_gradcam_with_its_paper():
    (spec,) = [s for s in xw.list_methods() if s.name == "gradcam"]
    assert "Selvaraju" in spec.paper and spec.family == "cam" and spec.uses_layer


def test_explain_many_runs_each_method_on_the_same_images(effnet, photos):
    results = xw.explain_many(effnet, [photos["coffee"]], ["gradcam", "gradcampp"], params={"gradcampp": {"eps": 1e-6}})
    assert list(results) == ["gradcam", "gradcampp"]
    np.testing.assert_array_equal(results["gradcam"].images, results["gradcampp"].images)
    assert results["gradcampp"].params["eps"] == 1e-6
    with pytest.raises(ValueError, match="params: expected keys among the methods"):
        xw.explain_many(effnet, [photos["coffee"]], ["gradcam"], params={"rise": {}})
    with pytest.raises(ValueError, match="method: expected one of"):
        xw.explain_many(effnet, [photos["coffee"]], ["gradcam", "nope"])
