"""T-TAME and P-TAME (issue 4, item 3): the shipped explainers of the toy models point
at the defining parts of held-out synthetic images at least as often as Grad-CAM
(same images, same targets); an explanation is one forward pass of the classifier;
training lowers the loss, writes a checkpoint and resumes from it exactly; saving and
loading keeps the maps; P-TAME explains a classifier that is not a toy model through
an auxiliary extractor with other preprocessing; bad arguments get clear errors."""

import numpy as np
import pytest
import torch
from torch import nn

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.models import Preprocess, wrap
from xwidgets.models.hooks import capture
from xwidgets.models.zoo.toy import build_toy_model
from xwidgets.saliency import tame
from xwidgets.saliency.p_tame import build_p_tame, train_p_tame
from xwidgets.saliency.t_tame import build_t_tame, train_t_tame

HELD_OUT_SEED = 2  # never used in training (TAME and the toy models train on seeds >= 10,000)
N_HELD_OUT = 140  # 20 per class


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # many small passes: one thread is faster on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models():
    return {name: getattr(xw.models, name)() for name in ("toy_cnn", "toy_vit")}


@pytest.fixture(scope="module")
def held_out():
    data = SyntheticParts(N_HELD_OUT, seed=HELD_OUT_SEED)
    images, labels = data.arrays()
    masks = np.stack([data.sample(i).evidence_mask for i in range(len(data))])
    return list(images), [int(y) for y in labels], masks


def _hit_rate(model, held_out, method, **params):
    images, labels, masks = held_out
    result = xw.explain(model, images, method=method, target=labels, **params)
    return float(tame.pointing_game(result.maps, masks).mean())


# ---------------------------------------------------------------------------- the shipped explainers


@pytest.mark.parametrize("name", ["toy_cnn", "toy_vit"])
def test_shipped_explainers_point_at_the_defining_parts_at_least_as_often_as_gradcam(models, held_out, name):
    # measured (140 images, seed 2): toy_cnn Grad-CAM 0.736, T-TAME 0.857, P-TAME 0.993 (untrained 0.336,
    # 0.479); toy_vit Grad-CAM 0.136, T-TAME 0.407, P-TAME 0.857 (untrained 0.236, 0.479)
    model = models[name]
    gradcam = _hit_rate(model, held_out, "gradcam")
    chance = float(held_out[2].mean())  # a random pixel lands on the defining parts this often (0.06)
    for kind in tame.KINDS:
        hits = _hit_rate(model, held_out, kind)  # explainer=None: the shipped one
        assert hits >= gradcam and hits > 3 * chance, f"{kind} on {name}: {hits:.3f}, Grad-CAM {gradcam:.3f}"
        # and the training made it: an untrained explainer of the same design points worse
        shipped = tame.shipped_explainer(kind, model)
        untrained = (build_t_tame(model, shipped.layers, class_token_gate=shipped.class_token_gate) if kind == "t_tame"
                     else build_p_tame(model, shipped.extractor, shipped.layers))
        before = _hit_rate(model, held_out, kind, explainer=untrained)
        assert hits > before + 0.1, f"{kind} on {name}: {hits:.3f} trained, {before:.3f} untrained"


@pytest.mark.parametrize("kind", tame.KINDS)
@pytest.mark.parametrize("name", ["toy_cnn", "toy_vit"])
def test_shipped_files_are_small_load_weights_only_and_name_their_model(models, kind, name):
    path = tame.shipped_path(kind, name)
    assert path.is_file() and path.stat().st_size < 2 * 1024 * 1024
    blob = torch.load(path, map_location="cpu", weights_only=True)
    assert blob["format"] == tame.FORMAT and blob["config"]["kind"] == kind
    explainer = tame.shipped_explainer(kind, models[name])
    assert explainer is not None and explainer.info["model"] == name and explainer.history
    if kind == "p_tame":
        assert explainer.info["extractor"] == "toy_cnn" and explainer.layers == ["layer1", "layer2", "layer3", "layer4"]
    # the same architecture with other weights has none
    assert tame.shipped_explainer(kind, wrap(build_toy_model(name), preprocess=models[name].preprocess, name=name)) is None


def _count_calls(module):
    calls = []
    handle = module.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


@pytest.mark.parametrize("name", ["toy_cnn", "toy_vit"])
def test_an_explanation_is_one_forward_pass(models, held_out, name):
    model, images = models[name], held_out[0][:6]
    for kind in tame.KINDS:
        calls, handle = _count_calls(model.model)
        extractor = tame.shipped_explainer(kind, model).extractor
        extractor_calls, extractor_handle = _count_calls(extractor) if extractor is not None else ([], None)
        try:
            result = xw.explain(model, images, method=kind, target=xw.TopK(3))
        finally:
            handle.remove()
            if extractor_handle is not None:
                extractor_handle.remove()
        assert len(calls) == 1, kind  # 6 images x 3 classes from one forward pass of the classifier
        assert len(extractor_calls) == (1 if kind == "p_tame" else 0)
        assert result.maps.shape == (18, 64, 64) and np.isfinite(result.maps).all()
        assert list(result.targets[:3]) == list(np.argsort(-result.probabilities[0])[:3])


# ---------------------------------------------------------------------------- training


class SmallNet(nn.Module):
    """Three conv stages (16, 8, 4 px) and a linear head: a classifier for 16 px inputs."""

    def __init__(self, classes=3):
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Conv2d(8, 12, 3, stride=2, padding=1), nn.ReLU())
        self.stage3 = nn.Sequential(nn.Conv2d(12, 16, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(self.pool(self.stage3(self.stage2(self.stage1(x)))).flatten(1))


def _small():
    torch.manual_seed(0)
    return wrap(SmallNet(), preprocess=Preprocess(size=(16, 16), resize=None))


def _batches(n=4, size=8):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, 16, 16, 3), dtype=np.uint8) for _ in range(n)]


class Stop(Exception):
    pass


def test_training_lowers_the_loss_and_resumes_from_its_checkpoint_exactly(tmp_path):
    model, data = _small(), _batches()
    config = tame.TAMETraining.t_tame(epochs=3, optimiser="adamw", lr=0.05)
    full = train_t_tame(model, data, config=config, progress=False)
    assert full.layers == ["stage1", "stage2", "stage3"] and full.attention.size == (16, 16)
    losses = [record["loss"] for record in full.history]
    assert len(losses) == 3 and losses[2] < losses[0]

    checkpoint = tmp_path / "t.ckpt"

    def stop_in_the_third_epoch(step, record):
        if step == 9:  # 4 steps per epoch: the first step of epoch 3
            raise Stop

    with pytest.raises(Stop):
        train_t_tame(model, data, config=config, checkpoint=checkpoint, progress=False,
                     callback=stop_in_the_third_epoch, callback_every=1)
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 2 and len(saved["history"]) == 2

    steps = []
    resumed = train_t_tame(model, data, config=config, checkpoint=checkpoint, progress=False,
                           callback=lambda step, record: steps.append(step), callback_every=1)
    assert steps == [9, 10, 11, 12]  # only the third epoch ran
    for key, value in full.attention.state_dict().items():
        torch.testing.assert_close(resumed.attention.state_dict()[key], value, rtol=0, atol=1e-6, msg=key)
    assert [r["loss"] for r in resumed.history] == pytest.approx(losses, abs=1e-6)

    steps.clear()  # a finished run returns at once
    again = train_t_tame(model, data, config=config, checkpoint=checkpoint, progress=False,
                         callback=lambda step, record: steps.append(step), callback_every=1)
    assert steps == [] and torch.equal(again.attention.fuser.weight, resumed.attention.fuser.weight)
    with pytest.raises(ValueError, match="checkpoint: expected a checkpoint of this training"):
        train_t_tame(model, data, config=tame.TAMETraining.t_tame(epochs=4), checkpoint=checkpoint, progress=False)


def test_the_warm_up_ramps_the_regularisers_in():
    records = []
    config = tame.TAMETraining.t_tame(epochs=2, warmup=0.5)  # 8 steps: weights 0, 1/4, 2/4, 3/4, then 1
    train_t_tame(_small(), _batches(), config=config, progress=False, callback_every=1,
                 callback=lambda step, record: records.append(record))
    for step, record in enumerate(records):
        ramp = min(1.0, step / 4)
        expected = 1.5 * record["ce"] + ramp * (2.0 * record["area"] + 0.01 * record["smoothness"])
        assert record["loss"] == pytest.approx(expected, rel=1e-5), step


class OtherNet(nn.Module):
    """A classifier that is none of the toy models, with its own preprocessing."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 5, stride=4, padding=2), nn.ReLU(),
                                  nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 7)

    def forward(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))


def test_p_tame_explains_another_classifier_through_an_auxiliary_extractor():
    other = wrap(OtherNet(), preprocess=Preprocess(size=(64, 64), resize=None, mean=(127.5,) * 3, std=(64.0,) * 3,
                                                   scale=1.0), name="other")
    extractor = xw.models.toy_cnn()  # an adapter: its own preprocessing, applied to the same pixels
    images = SyntheticParts(16, seed=5).arrays()[0]
    data = [images[:8], images[8:]]
    explainer = train_p_tame(other, data, extractor, epochs=3, lr=0.05, progress=False)
    assert explainer.info["extractor"] == "toy_cnn" and explainer.attention.size == (64, 64)
    losses = [record["loss"] for record in explainer.history]
    assert losses[2] < losses[0]

    inputs = other.prepare(list(images[:2]))[0]
    _, features = explainer.logits_and_features(other, inputs)
    with capture(extractor.model, ["layer1"], gradients=False) as records, torch.no_grad():
        extractor.model(extractor.prepare(list(images[:2]))[0])
    torch.testing.assert_close(features[0], records["layer1"].activation, rtol=1e-4, atol=1e-4)

    result = xw.explain(other, list(images[:2]), method="p_tame", explainer=explainer)
    assert result.maps.shape == (2, 64, 64)
    np.testing.assert_allclose(result.maps.max(axis=(1, 2)), 1, atol=1e-6)  # min-max normalised
    np.testing.assert_allclose(result.maps.min(axis=(1, 2)), 0, atol=1e-6)


# ---------------------------------------------------------------------------- saving and loading


@pytest.mark.parametrize("kind", tame.KINDS)
def test_save_and_load_give_identical_maps(models, held_out, kind, tmp_path):
    model, images = models["toy_cnn"], held_out[0][:4]
    shipped = tame.shipped_explainer(kind, model)
    extractor = xw.models.toy_cnn().model if kind == "p_tame" else None
    before = xw.explain(model, images, method=kind, target=xw.TopK(2)).maps
    path = shipped.save(tmp_path / "explainer.pt")
    loaded = tame.load_explainer(path, extractor)
    assert loaded.config() == shipped.config()
    after = xw.explain(model, images, method=kind, target=xw.TopK(2), explainer=loaded).maps
    np.testing.assert_array_equal(after, before)
    params = {"extractor": extractor} if kind == "p_tame" else {}
    from_path = xw.explain(model, images, method=kind, target=xw.TopK(2), explainer=str(path), **params).maps
    np.testing.assert_array_equal(from_path, before)


# ---------------------------------------------------------------------------- errors


def test_bad_arguments_get_clear_errors(models, held_out, tmp_path):
    cnn, vit, images = models["toy_cnn"], models["toy_vit"], held_out[0][:1]
    t_explainer = tame.shipped_explainer("t_tame", cnn)
    with pytest.raises(ValueError, match="explainer: expected a p_tame explainer; got TAMEExplainer"):
        xw.explain(cnn, images, method="p_tame", explainer=t_explainer)
    for other in (xw.models.toy_cnn_biased(), vit):  # same architecture and other weights; another architecture
        with pytest.raises(ValueError, match="explainer: expected an explainer trained for this classifier"):
            xw.explain(other, images, method="t_tame", explainer=t_explainer)
    with pytest.raises(ValueError, match="explainer: expected None, a TAMEExplainer"):
        xw.explain(cnn, images, method="t_tame", explainer=42)
    with pytest.raises(ValueError, match="explainer: expected a trained t_tame explainer for small.*train_t_tame"):
        xw.explain(wrap(_small().model, preprocess=Preprocess(size=(16, 16), resize=None), name="small"),
                   [np.zeros((16, 16, 3), np.uint8)], method="t_tame")
    with pytest.raises(ValueError, match="target: expected .*p_tame has one learned map per class"):
        xw.explain(cnn, images, method="p_tame", target=lambda logits: logits[:, 0])

    path = tame.shipped_explainer("p_tame", cnn).save(tmp_path / "p.pt")
    with pytest.raises(ValueError, match="extractor: expected the auxiliary feature extractor"):
        xw.explain(cnn, images, method="p_tame", explainer=path)
    with pytest.raises(ValueError, match="extractor: expected the feature extractor this explainer was trained with"):
        xw.explain(cnn, images, method="p_tame", explainer=path, extractor=xw.models.toy_cnn_biased().model)
    with pytest.raises(ValueError, match="explainer: expected a file written by TAMEExplainer.save"):
        torch.save({"weights": 1}, tmp_path / "other.pt")
        xw.explain(cnn, images, method="t_tame", explainer=tmp_path / "other.pt")
    with pytest.raises(ValueError, match="normalise: expected True or False"):
        xw.explain(cnn, images, method="t_tame", normalise="yes")

    for settings, message in [
        (dict(epochs=0), "epochs: expected a positive int; got 0"),
        (dict(batch_size=2.5), "batch_size: expected a positive int"),
        (dict(optimiser="adam"), "optimiser: expected one of 'sgd', 'adamw'; got 'adam'"),
        (dict(lr=0.0), "lr: expected a finite number > 0; got 0.0"),
        (dict(area=-1), "area: expected a finite number >= 0; got -1"),
        (dict(perturbation="blur"), "perturbation: expected one of 'input', 'black'"),
        (dict(warmup=1.0), r"warmup: expected a share of the steps in \[0, 1\); got 1.0"),
    ]:
        with pytest.raises(ValueError, match=message):
            tame.TAMETraining.t_tame(**settings)
    with pytest.raises(ValueError, match="backbone: expected one of 'resnet50', 'vgg16', 'vit_b_16'"):
        tame.TAMETraining.p_tame("resnet18")
    small, data = _small(), _batches(1)
    with pytest.raises(ValueError, match="config: expected None when training settings are passed as keywords"):
        train_t_tame(small, data, config=tame.TAMETraining.t_tame(), epochs=2)
    with pytest.raises(ValueError, match="data: expected batches of 16x16 images"):
        train_t_tame(small, [np.zeros((2, 8, 8, 3), np.uint8)], progress=False)
    with pytest.raises(ValueError, match="data: expected a Dataset or an iterable of image batches"):
        train_t_tame(small, "images/", progress=False)
    with pytest.raises(ValueError, match="model: expected the classifier the explainer was built for"):
        tame.train_tame(build_t_tame(small), _small_other(), data, progress=False)
    with pytest.raises(ValueError, match="layers: expected a non-empty list of dotted layer names"):
        build_t_tame(small, layers="stage3")
    with pytest.raises(ValueError, match="extractor: expected an auxiliary feature extractor"):
        build_p_tame(small, None)
    with pytest.raises(ValueError, match="extractor: expected None: T-TAME reads the classifier's own layers"):
        tame.build_explainer("t_tame", small, extractor=small.model)
    with pytest.raises(ValueError, match="kind: expected one of t_tame, p_tame; got 'tame'"):
        tame.build_explainer("tame", small)


def _small_other():
    torch.manual_seed(1)
    return wrap(SmallNet(), preprocess=Preprocess(size=(16, 16), resize=None))
