"""Across every registered method: no hooks or tensors left behind after many calls,
and a table of bad inputs, each with an error that names the argument."""

import gc
import warnings

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, wrap
from xwidgets.saliency.p_tame import build_p_tame
from xwidgets.saliency.t_tame import build_t_tame

PRE = Preprocess(size=(16, 16), resize=None)
# cheap settings so that every method runs in milliseconds on a 16x16 toy model
CHEAP = {
    "integrated_gradients": {"steps": 4},
    "smoothgrad": {"n_samples": 2},
    "vargrad": {"n_samples": 2},
    "rise": {"n_masks": 8, "s": 4},
    "occlusion": {"window": 8, "stride": 8},
    "meaningful_perturbation": {"iterations": 2, "progress": False},
    "extremal_perturbation": {"iterations": 2, "progress": False},
    "bee": {"samples": 2, "metric_steps": 4, "progress": False},
    "fovex": {"fixations": 2, "iterations": 2, "progress": False},
    "ucag": {"crops_per_side": 2},
    "neuromask": {"iterations": 2, "progress": False},
    "igos": {"iterations": 2, "ig_steps": 2, "progress": False},
    "igos_pp": {"iterations": 2, "ig_steps": 2, "progress": False},
}


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def _tiny():
    torch.manual_seed(0)
    return wrap(TinyCNN(), preprocess=PRE)


def _tiny_vit():
    """For the methods that read attention blocks (family "attention"): a torchvision ViT,
    2x2 patches of 8 pixels plus the class token, with a random (not zero) head."""
    torch.manual_seed(0)
    vit = torchvision.models.VisionTransformer(
        image_size=16, patch_size=8, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=16, num_classes=3
    )
    nn.init.normal_(vit.heads.head.weight)
    return wrap(vit, preprocess=PRE)


def _images(n=2):
    return list(np.random.default_rng(0).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))


def _live_tensors() -> int:
    gc.collect()
    with warnings.catch_warnings():  # isinstance on some torch module objects warns
        warnings.simplefilter("ignore")
        return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))


# the learned methods need an explainer built for the model (untrained is enough here)
EXPLAINERS = {
    "t_tame": lambda model: build_t_tame(model),
    "p_tame": lambda model: build_p_tame(model, extractor=_tiny().model),
}


def _params(spec, model):
    fields = {f for f in spec.params.__dataclass_fields__}
    params = {k: v for k, v in CHEAP.get(spec.name, {}).items() if k in fields}
    if spec.name in EXPLAINERS:
        params["explainer"] = EXPLAINERS[spec.name](model)
    return params


@pytest.mark.parametrize("spec", xw.list_methods(), ids=lambda s: s.name)
def test_repeated_calls_leave_no_hooks_and_no_tensors_behind(spec):
    model, images = (_tiny_vit() if spec.family == "attention" else _tiny()), _images()
    params = _params(spec, model)
    calls = 1000 if spec.name == "gradcam" else 10
    for _ in range(3):  # warm-up: caches, lazily created state
        xw.explain(model, images, method=spec.name, **params)
    before = _live_tensors()
    for _ in range(calls):
        result = xw.explain(model, images, method=spec.name, **params)
    del result
    after = _live_tensors()
    assert after <= before, f"{spec.name}: {after - before} tensors leaked over {calls} calls"
    for module in model.model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks and not module._backward_hooks
    assert all(p.requires_grad for p in model.model.parameters())
    if torch.cuda.is_available():  # pragma: no cover - GPU machines only
        torch.cuda.synchronize()
        assert torch.cuda.memory_allocated() < 64 * 2**20


class NoSpatial(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 16 * 16, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


BAD_INPUTS = [
    # (what, call, error type, message pattern)
    ("grayscale array", lambda m: xw.explain(m, np.zeros((16, 16), np.uint8)), ValueError, r"images\[0\]: expected an HxWx3 RGB array"),
    ("RGBA array", lambda m: xw.explain(m, np.zeros((16, 16, 4), np.uint8)), ValueError, r"images\[0\].*RGB"),
    ("float pixels", lambda m: xw.explain(m, np.zeros((16, 16, 3), np.float64)), ValueError, r"images\[0\]: expected uint8 pixels"),
    ("tensor of the wrong size", lambda m: xw.explain(m, torch.zeros(1, 3, 8, 8)), ValueError, r"images: expected spatial size \(16, 16\)"),
    ("tensor with 4 channels", lambda m: xw.explain(m, torch.zeros(1, 4, 16, 16)), ValueError, r"images: expected a preprocessed float tensor"),
    ("NaN input tensor", lambda m: xw.explain(m, torch.full((1, 3, 16, 16), float("nan"))), ValueError, "images: expected finite values"),
    ("empty batch", lambda m: xw.explain(m, []), ValueError, "images: expected at least one image"),
    ("missing file", lambda m: xw.explain(m, "/nonexistent.png"), ValueError, r"images\[0\]: expected an existing image file"),
    ("a number as image", lambda m: xw.explain(m, 7), ValueError, "images: expected a PIL image"),
    ("target out of range", lambda m: xw.explain(m, _images(1), target=3), ValueError, r"target: expected class indices in \[0, 3\)"),
    ("negative target", lambda m: xw.explain(m, _images(1), target=-1), ValueError, r"target: expected class indices in \[0, 3\)"),
    ("targets of the wrong length", lambda m: xw.explain(m, _images(2), target=[0]), ValueError, r"target: expected one int class index per image \(2\)"),
    ("float targets", lambda m: xw.explain(m, _images(2), target=[0.5, 1.0]), ValueError, "target: expected one int class index per image"),
    ("TopK larger than the classes", lambda m: xw.explain(m, _images(1), target=xw.TopK(5)), ValueError, r"target: expected TopK\(k\) with k <= 3"),
    ("unknown target string", lambda m: xw.explain(m, _images(1), target="max"), ValueError, 'target: expected "pred"'),
    ("unknown method", lambda m: xw.explain(m, _images(1), method="gradcamm"), ValueError, "method: expected one of"),
    ("unknown layer", lambda m: xw.explain(m, _images(1), layer="feature.3"), KeyError, "Did you mean: features.3"),
    ("layer for a method without one", lambda m: xw.explain(m, _images(1), method="saliency", layer="features"), ValueError, "layer: expected None"),
    ("unknown parameter", lambda m: xw.explain(m, _images(1), steps=3), TypeError, "gradcam: unknown parameter"),
    ("batch size zero", lambda m: xw.explain(m, _images(1), batch_size=0), ValueError, "batch_size: expected a positive int"),
    ("CAM on a model with no spatial layer", lambda m: xw.explain(wrap(NoSpatial(), preprocess=PRE), _images(1)), ValueError, "layer: NoSpatial produces no spatial feature map"),
    ("not a model", lambda m: xw.explain(object(), _images(1)), ValueError, "model: expected a torch.nn.Module"),
    ("callable target with a wrong shape", lambda m: xw.explain(m, _images(2), target=lambda z: z.sum()), ValueError, "target: expected the callable to return one score per image"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call(_tiny())


def test_nan_logits_name_the_images():
    class NaNModel(TinyCNN):
        def forward(self, x):
            return super().forward(x) * torch.where(x[:, :1, 0, 0] > 0, torch.nan, 1.0)

    model = wrap(NaNModel(), preprocess=PRE)
    images = [np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 255, np.uint8)]
    with pytest.raises(ValueError, match=r"model: produced NaN or infinite logits for image\(s\) \[1\]"):
        xw.explain(model, images)
