"""Perturbation baselines: occlusion (equal to Captum's Occlusion) and RISE
(deterministic from its seed, equal to its formula, right on a model with a known
answer)."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, wrap
from xwidgets.saliency.rise import RISEParams, random_grids, upsample_masks


def _random_images(n, size, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    return wrap(net, preprocess=Preprocess(size=(64, 64), resize=None))


class RegionScore(nn.Module):
    """Logit 1 is 20 (mean input over rows 4..11 and columns 20..27 of a 32x32 image
    - 0.4); logit 0 is zero. The evidence for class 1 is in that region and nowhere
    else, and masking about half of it moves the probability across 0.5."""

    region = (slice(4, 12), slice(20, 28))

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0))

    def forward(self, x):
        value = x[:, :, self.region[0], self.region[1]].mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(value), self.scale * (value - 0.4)], dim=1)


def _region_model():
    # inputs are pixels / 255, so black is a zero input (for RISE's substrate)
    return wrap(RegionScore(), preprocess=Preprocess(size=(32, 32), resize=None, mean=(0, 0, 0), std=(1, 1, 1)))


def _inside_and_outside(maps):
    inside = np.zeros((32, 32), bool)
    inside[RegionScore.region] = True
    return maps[:, inside], maps[:, ~inside]


# ---------------------------------------------------------------------------- occlusion


@pytest.mark.parametrize(
    "window, stride, baseline, n_images",
    [
        (15, 8, "zero", 2),  # the defaults; the last window in each axis is clipped at the border
        ((9, 12), (6, 9), "black", 1),  # rectangular windows, black pixels as the baseline
        (20, 16, 0.5, 1),  # a constant model input; windows at 0, 16, 32, 48 (clipped)
        (64, 64, "zero", 2),  # one window: the whole image
    ],
)
def test_occlusion_equals_captum(resnet, window, stride, baseline, n_images):
    from captum.attr import Occlusion

    images, targets = _random_images(n_images, 64), [3, 8][:n_images]
    ours = xw.explain(resnet, images, method="occlusion", target=targets, window=window, stride=stride, baseline=baseline)
    inputs, _ = resnet.prepare(images)
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    if baseline == "black":  # pixel value 0 through the model's normalisation
        pre = resnet.preprocess
        captum_baseline = (-torch.tensor(pre.mean) / torch.tensor(pre.std)).view(1, 3, 1, 1).expand(1, 3, 64, 64).contiguous()
    else:
        captum_baseline = 0.0 if baseline == "zero" else baseline
    with torch.no_grad():
        expected = Occlusion(resnet.model).attribute(
            inputs, sliding_window_shapes=(3, wh, ww), strides=(3, sh, sw), baselines=captum_baseline,
            target=targets, perturbations_per_eval=64,
        )
    # all channels are occluded together, so Captum's three channel maps are equal; both
    # sides reduce them by the mean. Tolerance 1e-6 (logit differences of O(0.1-1) in
    # float32; measured: 1.5e-8).
    np.testing.assert_allclose(expected.std(dim=1).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose(ours.maps, expected.mean(dim=1).numpy(), atol=1e-6)


def test_occlusion_fixes_the_classes_from_the_clean_pass(resnet):
    images = _random_images(2, 64, seed=1)
    # tolerance 1e-5: batches of other sizes round the logits differently (measured 1.5e-6)
    coarse = dict(window=32, stride=16)  # 3 x 3 windows: cheap
    topk = xw.explain(resnet, images, method="occlusion", target=xw.TopK(2), internal_batch_size=7, **coarse)
    for row in range(4):
        alone = xw.explain(resnet, images[topk.image_index[row]], method="occlusion", target=int(topk.targets[row]), **coarse)
        np.testing.assert_allclose(topk.maps[row], alone.maps[0], rtol=1e-5, atol=1e-5)
    # a contrast's second class is the clean prediction, not the occluded copy's: drops are
    # linear in the score, so the map is the difference of the two class maps
    pred = xw.explain(resnet, images, method="occlusion", **coarse)
    five = xw.explain(resnet, images, method="occlusion", target=5, **coarse)
    contrast = xw.explain(resnet, images, method="occlusion", target=xw.Contrast(5, "pred"), **coarse)
    np.testing.assert_allclose(contrast.maps, five.maps - pred.maps, rtol=1e-5, atol=1e-5)


def test_occlusion_finds_the_region_of_a_known_model():
    image = np.full((32, 32, 3), 200, np.uint8)
    saliency = xw.explain(_region_model(), image, method="occlusion", target=1, window=4, stride=2, baseline="black")
    inside, outside = _inside_and_outside(saliency.maps)
    assert inside.min() > 0 and np.abs(outside).max() < inside.min()
    assert np.abs(saliency.maps[0, 20:, :12]).max() == 0  # windows that miss the region change nothing


# ---------------------------------------------------------------------------- RISE


def test_rise_is_deterministic_from_its_seed(resnet):
    images = _random_images(2, 64)
    first = xw.explain(resnet, images, method="rise", n_masks=32, seed=3)
    again = xw.explain(resnet, images, method="rise", n_masks=32, seed=3, internal_batch_size=10)
    np.testing.assert_allclose(first.maps, again.maps, rtol=1e-5, atol=1e-7)  # same masks, other chunks
    other = xw.explain(resnet, images, method="rise", n_masks=32, seed=4)
    assert np.abs(other.maps - first.maps).max() > 1e-4
    one_image = xw.explain(resnet, images[1], method="rise", n_masks=32, seed=3)  # the same masks for every image
    np.testing.assert_allclose(one_image.maps[0], first.maps[1], rtol=1e-5, atol=1e-7)


def test_rise_equals_its_formula_with_the_same_masks(resnet):
    # S_c = 1 / (N p1) sum_i f_c(I (.) M_i) M_i, masking in pixel space (black substrate)
    images = _random_images(2, 64, seed=2)
    params = dict(n_masks=30, s=5, p1=0.3, seed=7)
    saliency = xw.explain(resnet, images, method="rise", target=[2, 6], **params)
    inputs, _ = resnet.prepare(images)
    grids, shift_y, shift_x = random_grids(RISEParams(**params), (64, 64), inputs.device, inputs.dtype)
    masks = upsample_masks(grids, shift_y, shift_x, (64, 64), 5)  # (N, 64, 64)
    assert masks.min() >= 0 and masks.max() <= 1 and 0.2 < float(masks.mean()) < 0.4
    pre = resnet.preprocess
    black = (-torch.tensor(pre.mean) / torch.tensor(pre.std)).view(1, 3, 1, 1)
    expected = []
    with torch.no_grad():
        for b, c in enumerate([2, 6]):
            pixels_masked = black + masks[:, None] * (inputs[b] - black)
            p = resnet.model(pixels_masked).softmax(dim=1)[:, c]
            expected.append((p[:, None, None] * masks).sum(0) / (30 * 0.3))
    np.testing.assert_allclose(saliency.maps, torch.stack(expected).numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("score", ["probability", "logit"])
def test_rise_finds_the_region_of_a_known_model(score):
    image = np.full((32, 32, 3), 200, np.uint8)
    saliency = xw.explain(_region_model(), image, method="rise", target=1, n_masks=500, s=4, score=score)
    inside, outside = _inside_and_outside(saliency.maps)
    peak = np.unravel_index(saliency.maps[0].argmax(), (32, 32))
    assert 4 <= peak[0] < 12 and 20 <= peak[1] < 28
    # 500 masks: the region's mean clearly above the rest's (measured over seeds 0-3:
    # 1.3-1.4x for probabilities, 4-13x for logits)
    assert inside.mean() > 1.2 * outside.mean()


# ---------------------------------------------------------------------------- errors and registry


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("occlusion", {"window": 80}, r"window: expected at most the input size \(64, 64\); got 80"),
        ("occlusion", {"window": (8, 70)}, r"window: expected at most the input size \(64, 64\)"),
        ("occlusion", {"window": 0}, "window: expected a positive int or a"),
        ("occlusion", {"window": 8, "stride": 9}, r"stride: expected at most the window \(8, 8\)"),
        ("occlusion", {"baseline": "grey"}, 'baseline: expected "zero", "black" or a finite number'),
        ("occlusion", {"internal_batch_size": 0}, "internal_batch_size: expected a positive int"),
        ("rise", {"p1": 0.0}, r"p1: expected a probability in \(0, 1\]; got 0.0"),
        ("rise", {"p1": 1.5}, r"p1: expected a probability in \(0, 1\]; got 1.5"),
        ("rise", {"n_masks": 0}, "n_masks: expected a positive int; got 0"),
        ("rise", {"s": 0}, "s: expected a positive int; got 0"),
        ("rise", {"score": "prob"}, "score: expected one of 'probability', 'logit'"),
        ("rise", {"seed": 1.5}, "seed: expected an int"),
    ],
)
def test_bad_parameters_get_clear_errors(resnet, method, params, message):
    with pytest.raises(ValueError, match=message):
        xw.explain(resnet, _random_images(1, 64), method=method, **params)


def test_perturbation_methods_take_no_layer(resnet):
    with pytest.raises(ValueError, match="layer: expected None: occlusion does not read a layer"):
        xw.explain(resnet, _random_images(1, 64), method="occlusion", layer="layer4")


def test_registry_lists_the_perturbation_baselines_with_their_defaults():
    specs = {s.name: s for s in xw.list_methods()}
    assert "Zeiler" in specs["occlusion"].paper and "Petsiuk" in specs["rise"].paper
    assert not specs["occlusion"].uses_layer and not specs["rise"].uses_layer
    occlusion = specs["occlusion"].make_params()
    assert (occlusion.window, occlusion.stride, occlusion.baseline) == (15, 8, "zero")
    rise = specs["rise"].make_params()
    assert (rise.n_masks, rise.s, rise.p1, rise.score) == (8000, 7, 0.5, "probability")


# ---------------------------------------------------------------------------- chunk sizes


def test_auto_chunks_cover_every_row_once_and_keep_the_fastest_size():
    import time

    from xwidgets.saliency._chunks import AUTO_SIZES, Chunks

    chunks = Chunks(2000, "auto", torch.device("cpu"))
    seen = []
    for start, stop in chunks:
        seen.extend(range(start, stop))
        size = stop - start
        time.sleep(0.0002 * size * (1 if size == 16 else 4))  # 16 rows per forward is 4x cheaper per row
    assert seen == list(range(2000))
    assert set(chunks.timings) == set(AUTO_SIZES) and chunks.size == 16
    # a fixed size is kept as given
    assert [stop - start for start, stop in Chunks(10, 4, torch.device("cpu"))] == [4, 4, 2]
    assert [stop - start for start, stop in Chunks(10, "auto", torch.device("cpu"))] == [10]  # too little work to probe


def test_auto_chunks_give_the_maps_of_a_fixed_chunk(resnet):
    images = _random_images(2, 64)
    for method, params in (("occlusion", dict(window=16, stride=4)), ("rise", dict(n_masks=600, seed=1))):
        auto = xw.explain(resnet, images, method=method, **params)
        fixed = xw.explain(resnet, images, method=method, internal_batch_size=5, **params)
        np.testing.assert_allclose(auto.maps, fixed.maps, rtol=1e-4, atol=1e-6 * np.abs(fixed.maps).max())
