"""Toy models trained on the synthetic parts dataset: a small CNN and a small ViT.

Their weights ship in ``weights/`` (float32 state dicts, a few MB each) and are
reproduced by ``scripts/train_toy_models.py``. Inputs are 64x64 RGB images in [0, 1],
normalised per channel with ``TOY_MEAN`` and ``TOY_STD``.

* ``toy_cnn``: four conv-BN-ReLU stages (``layer1`` .. ``layer4``; ``layer4`` is the
  natural Grad-CAM layer, 8x8), global average pooling and one ``nn.Linear`` head
  ``fc``, so CAM applies.
* ``toy_vit``: a torchvision ``VisionTransformer`` (64 px, 8 px patches, 8x8 tokens
  plus the class token), so attention methods see the standard torchvision layout;
  its patch projection ``conv_proj`` is a small stride-8 conv stem.
* ``toy_cnn_biased``: the CNN trained on the biased variant, where a white corner
  tag marks every training image of ``red_lamp``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import VisionTransformer

from ..._validation import bad_argument

#: Side of the toy models' square input.
TOY_INPUT_SIZE = 64
#: Per-channel mean and standard deviation of the synthetic images in [0, 1]
#: (measured on 7,000 clean images, seed 0).
TOY_MEAN = (0.471, 0.467, 0.464)
TOY_STD = (0.204, 0.199, 0.207)

TOY_MODELS = ("toy_cnn", "toy_vit", "toy_cnn_biased")
#: the toy models whose trained weights ship in weights/
SHIPPED_TOY_MODELS = ("toy_cnn", "toy_vit", "toy_cnn_biased")
WEIGHTS_DIR = Path(__file__).with_name("weights")

#: Default CAM layer of the toy CNN.
TOY_CNN_CAM_LAYER = "layer4"

_VIT_CONFIG = dict(image_size=64, patch_size=8, num_layers=6, num_heads=4, hidden_dim=128, mlp_dim=256)


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class ToyCNN(nn.Module):
    """Four conv-BN-ReLU stages (64, 32, 16 and 8 px), global average pooling, a linear head.

    ``layer4`` (128 channels at 8x8) is the natural Grad-CAM layer; ``fc`` is the
    single linear head on the pooled features, so CAM = ``fc`` weights x ``layer4``.
    """

    def __init__(self, num_classes: int = 7, width: int = 32):
        super().__init__()
        w = width
        self.layer1 = nn.Sequential(*_conv_bn_relu(3, w))
        self.layer2 = nn.Sequential(nn.MaxPool2d(2), *_conv_bn_relu(w, 2 * w))
        self.layer3 = nn.Sequential(nn.MaxPool2d(2), *_conv_bn_relu(2 * w, 4 * w), *_conv_bn_relu(4 * w, 4 * w))
        self.layer4 = nn.Sequential(nn.MaxPool2d(2), *_conv_bn_relu(4 * w, 4 * w), *_conv_bn_relu(4 * w, 4 * w))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _check_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise bad_argument("num_classes", "an int >= 2", num_classes)
    return num_classes


def build_toy_cnn(num_classes: int = 7) -> nn.Module:
    """The toy CNN with random weights (see :class:`ToyCNN`)."""
    return ToyCNN(_check_classes(num_classes))


def conv_patch_stem(hidden_dim: int = 128, width: int = 24) -> nn.Sequential:
    """A convolutional patch embedding with stride 8: three 3x3 stride-2 conv-BN-ReLU
    layers and a 1x1 projection (Xiao et al. 2021, "Early convolutions help
    transformers see better"). It replaces the ViT's single 8x8 linear patch
    projection, so a part that straddles a patch border is still seen whole; the
    token grid (8x8 at 64 px) and everything after it are unchanged."""
    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.Conv2d(4 * w, hidden_dim, 1),
    )


def build_toy_vit(num_classes: int = 7) -> nn.Module:
    """The toy ViT with random weights: a ``torchvision.models.VisionTransformer`` at
    64 px with 8 px patches (8x8 tokens plus the class token), 6 layers, 4 heads,
    hidden size 128, MLP size 256, whose ``conv_proj`` is a small convolutional stem
    (:func:`conv_patch_stem`) instead of one linear 8x8 projection. The encoder
    (``encoder.layers.encoder_layer_<i>`` with ``ln_1`` and ``self_attention``), the
    class token and the head ``heads.head`` are torchvision's own."""
    model = VisionTransformer(num_classes=_check_classes(num_classes), **_VIT_CONFIG)
    model.conv_proj = conv_patch_stem(_VIT_CONFIG["hidden_dim"])
    return model


_BUILDERS = {"toy_cnn": build_toy_cnn, "toy_vit": build_toy_vit, "toy_cnn_biased": build_toy_cnn}


def build_toy_model(name: str, num_classes: int = 7) -> nn.Module:
    """The architecture of a toy model by name, with random weights."""
    if name not in _BUILDERS:
        raise bad_argument("name", f"one of {', '.join(TOY_MODELS)}", name)
    return _BUILDERS[name](num_classes)


def weights_path(name: str) -> Path:
    """Where the shipped weights of a toy model live."""
    if name not in _BUILDERS:
        raise bad_argument("name", f"one of {', '.join(TOY_MODELS)}", name)
    return WEIGHTS_DIR / f"{name}.pt"


def load_toy_model(name: str) -> nn.Module:
    """A trained toy model ("toy_cnn", "toy_vit" or "toy_cnn_biased") in eval mode,
    float32, on the CPU; weights loaded with ``torch.load(..., weights_only=True)``."""
    path = weights_path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"{name}: weights not found at {path}; run `python scripts/train_toy_models.py --model {name}` to make them"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    model = build_toy_model(name)
    model.load_state_dict(state)
    return model.eval()
