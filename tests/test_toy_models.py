"""The toy models shipped with xwidgets: architecture, shipped weights, and held-out accuracy.

The accuracy checks run the shipped weights on fresh synthetic images from a seed
never used in training (training seeds are >= 10,000; the training script's own test
set is seed 1), so they are a real check of the files in the package.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import VisionTransformer

from xwidgets.data.synthetic import CLASSES, DEFAULT_BIASED_CLASS, SyntheticParts
from xwidgets.models.zoo.toy import (
    TOY_CNN_CAM_LAYER,
    TOY_INPUT_SIZE,
    TOY_MEAN,
    SHIPPED_TOY_MODELS,
    TOY_MODELS,
    TOY_STD,
    build_toy_cnn,
    build_toy_vit,
    load_toy_model,
    weights_path,
)

HELD_OUT_SEED = 2
N_TEST = 350  # 50 per class
MAX_BYTES = 5 * 1024 * 1024


def _inputs(images_u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float() / 255
    return (x - torch.tensor(TOY_MEAN).view(1, 3, 1, 1)) / torch.tensor(TOY_STD).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def held_out():
    out = {}
    for variant in ("clean", "shifted"):
        images, labels = SyntheticParts(N_TEST, seed=HELD_OUT_SEED, size=TOY_INPUT_SIZE, variant=variant).arrays()
        out[variant] = (_inputs(images), torch.from_numpy(labels))
    return out


@pytest.fixture(scope="module")
def models():
    return {name: load_toy_model(name) for name in SHIPPED_TOY_MODELS}


@torch.no_grad()
def _accuracy(model: nn.Module, data) -> float:
    x, y = data
    return float((model(x).argmax(1) == y).float().mean())


# ------------------------------------------------------------------ architecture
def test_toy_cnn_architecture():
    from xwidgets.models.layers import detect_cam_layer

    model = build_toy_cnn(7).eval()
    assert isinstance(model.fc, nn.Linear) and model.fc.out_features == 7
    x = torch.zeros(2, 3, TOY_INPUT_SIZE, TOY_INPUT_SIZE)
    assert model(x).shape == (2, 7)
    assert detect_cam_layer(model, x) == TOY_CNN_CAM_LAYER
    features = {}
    handle = model.layer4.register_forward_hook(lambda m, a, out: features.setdefault("layer4", out))
    logits = model(x)
    handle.remove()
    fmap = features["layer4"]
    assert fmap.shape[-2:] == (8, 8) and fmap.shape[1] == model.fc.in_features
    # CAM: the head is linear on the average-pooled last block
    assert torch.allclose(model.fc(fmap.mean((2, 3))), logits, atol=1e-5)


def test_toy_vit_architecture():
    from xwidgets.models.layers import vit_blocks

    model = build_toy_vit(7).eval()
    assert isinstance(model, VisionTransformer)
    assert model.image_size == 64 and model.patch_size == 8
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)
    assert vit_blocks(model) and len(vit_blocks(model)) == len(model.encoder.layers)


def test_bad_names():
    with pytest.raises(ValueError, match="^name: expected one of toy_cnn"):
        load_toy_model("resnet50")
    with pytest.raises(ValueError, match="^num_classes: expected"):
        build_toy_cnn(1)


# ------------------------------------------------------------------ shipped weights
@pytest.mark.parametrize("name", SHIPPED_TOY_MODELS)
def test_weights_ship_small_and_load_weights_only(name, models):
    path = weights_path(name)
    assert path.is_file() and path.stat().st_size <= MAX_BYTES
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    model = models[name]
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    report = json.loads(path.with_suffix(".json").read_text())
    assert report["model"] == name and report["accuracy_clean"] >= 0.95 or name == "toy_cnn_biased"
    assert "command" in report and "train_seconds" in report


def test_every_toy_model_ships_weights():
    assert set(SHIPPED_TOY_MODELS) == set(TOY_MODELS)


@pytest.mark.parametrize("name", TOY_MODELS)
def test_missing_weights_say_how_to_train_them(name, tmp_path, monkeypatch):
    import xwidgets.models.zoo.toy as toy

    monkeypatch.setattr(toy, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=f"python scripts/train_toy_models.py --model {name}"):
        load_toy_model(name)


@pytest.mark.parametrize("name", ["toy_cnn", "toy_vit"])
def test_held_out_accuracy(name, models, held_out):
    accuracy = _accuracy(models[name], held_out["clean"])
    assert accuracy >= 0.95, f"{name}: {accuracy:.3f} on {N_TEST} fresh held-out images (seed {HELD_OUT_SEED})"


def test_biased_model_drops_on_shifted_set(models, held_out):
    model = models["toy_cnn_biased"]
    clean, shifted = _accuracy(model, held_out["clean"]), _accuracy(model, held_out["shifted"])
    assert clean - shifted >= 0.15, f"clean {clean:.3f}, shifted {shifted:.3f}"
    # the shortcut: tagged images of other classes are called the biased class
    with torch.no_grad():
        x, y = held_out["shifted"]
        pred = model(x).argmax(1)
    biased = CLASSES.index(DEFAULT_BIASED_CLASS)
    wrong = pred != y
    assert (pred[wrong] == biased).float().mean() > 0.5
