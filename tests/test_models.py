"""ModelAdapter: bundled real model, wrapping of peers' architectures, layers, hooks."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, capture, frozen_eval, tokens_to_grid, wrap

CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


def test_efficientnet_lite0_gets_the_coffee_photo_right(effnet, photos):
    (top,) = effnet.top_classes(photos["coffee"], k=1)
    assert top[0][0] == "espresso"
    assert top[0][1] > 0.9


def test_efficientnet_lite0_sees_a_cat_in_chelsea(effnet, photos):
    (top,) = effnet.top_classes(photos["chelsea"], k=1)
    assert top[0][0] in CAT_CLASSES


def test_efficientnet_lite0_metadata(effnet):
    assert effnet.num_classes == 1000
    assert len(effnet.labels) == 1000 and effnet.labels[967] == "espresso"
    assert effnet.cam_layer == "head_act"
    assert effnet.preprocess.size == (224, 224)
    assert sum(p.numel() for p in effnet.model.parameters()) == pytest.approx(4.65e6, rel=0.01)


def test_unknown_layer_lists_close_names(effnet):
    with pytest.raises(KeyError, match="head_act"):
        effnet.layer("head_ac")
    with pytest.raises(KeyError, match="layer"):
        wrap(effnet.model, cam_layer="no_such_layer")


def test_default_cam_layers_of_torchvision_cnns():
    assert wrap(torchvision.models.resnet18(num_classes=10)).cam_layer == "layer4"
    assert wrap(torchvision.models.vgg11(num_classes=10)).cam_layer == "features"


def test_torchvision_vit_b_16_is_wrapped_with_its_blocks():
    model = wrap(torchvision.models.vit_b_16(num_classes=10))
    assert model.cam_layer == "encoder.layers.encoder_layer_11.ln_1"
    assert len(model.attention_blocks) == 12
    assert model.attention_blocks[0] == "encoder.layers.encoder_layer_0.self_attention"
    assert model.preprocess.size == (224, 224)


def test_timm_vit_is_wrapped_with_its_config():
    timm = pytest.importorskip("timm", reason="timm is a dev dependency")
    model = wrap(timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=7))
    assert model.cam_layer == "blocks.11.norm1"
    assert len(model.attention_blocks) == 12
    assert model.preprocess.size == (224, 224)
    assert model.num_classes == 7


def _hf_vit(num_labels=5):
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, num_labels=num_labels, id2label={i: f"kind {i}" for i in range(num_labels)},
        label2id={f"kind {i}": i for i in range(num_labels)},
    )
    torch.manual_seed(0)
    return ViTForImageClassification(config)


def test_hugging_face_vit_is_wrapped_with_its_labels():
    model = wrap(_hf_vit())
    assert model.labels == [f"kind {i}" for i in range(5)]
    assert model.cam_layer.endswith("1.layernorm_before")
    assert len(model.attention_blocks) == 2 and all(a.endswith(".attention") for a in model.attention_blocks)
    assert model.preprocess.size == (32, 32)
    probs = model.predict(np.zeros((40, 50, 3), np.uint8))
    assert probs.shape == (1, 5) and np.isclose(probs.sum(), 1, atol=1e-5)


def test_frozen_eval_restores_mode_and_requires_grad_even_on_error():
    model = torchvision.models.resnet18(num_classes=3)
    model.train()
    model.layer1.eval()
    model.fc.weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match="boom"):
        with frozen_eval(model):
            assert not model.training and not any(p.requires_grad for p in model.parameters())
            raise RuntimeError("boom")
    assert model.training and not model.layer1.training
    assert not model.fc.weight.requires_grad and model.fc.bias.requires_grad


def test_capture_removes_its_hooks_even_when_the_model_fails():
    class Failing(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            self.conv(x)
            raise RuntimeError("model failed")

    model = Failing()
    with pytest.raises(RuntimeError, match="model failed"):
        with capture(model, ["conv"], gradients=True):
            model(torch.zeros(1, 3, 8, 8))
    assert not model.conv._forward_hooks


def test_explain_leaves_no_hooks_and_restores_state(effnet, photos):
    model = effnet.model
    model.train()
    try:
        xw.explain(effnet, photos["coffee"])
        assert model.training
        assert all(p.requires_grad for p in model.parameters())
        assert all(not m._forward_hooks for m in model.modules())
    finally:
        model.eval()


def test_tokens_to_grid_drops_class_token_and_keeps_layout():
    tokens = torch.arange(2 * 17 * 3, dtype=torch.float32).reshape(2, 17, 3)
    grid = tokens_to_grid(tokens)
    assert grid.shape == (2, 3, 4, 4)
    assert torch.equal(grid[:, :, 0, 1], tokens[:, 2, :])  # token 1 after the class token is (row 0, col 1)
    assert tokens_to_grid(tokens[:, 1:]).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="square"):
        tokens_to_grid(torch.zeros(1, 11, 3))


def test_wrap_validates_its_arguments():
    with pytest.raises(ValueError, match="model: expected a torch.nn.Module"):
        wrap("resnet")
    with pytest.raises(ValueError, match="preprocess"):
        wrap(nn.Linear(2, 2), preprocess={"size": 3})
    with pytest.raises(ValueError, match="preprocess.std"):
        Preprocess(std=(0, 1, 1))
    model = wrap(torchvision.models.resnet18(num_classes=3), labels=["a", "b"])
    with pytest.raises(ValueError, match="labels: expected 3 names"):
        model.labels


def test_wrap_is_idempotent_and_can_override(effnet):
    assert wrap(effnet) is effnet
    other = wrap(effnet, cam_layer="_blocks.15")
    assert other.cam_layer == "_blocks.15" and other.model is effnet.model
