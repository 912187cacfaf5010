"""Mask optimisation: meaningful perturbation (Fong & Vedaldi 2017) and extremal
perturbation (Fong, Patrick & Vedaldi 2019). Right on a model with a known answer,
batched (images, targets and areas optimised together equal one at a time),
deterministic from a seed, the area constraint met, the live callback, the recorded
convergence, and clear errors for bad parameters. Small images and few iterations."""

import threading

import numpy as np
import pytest
import torch
from torch import nn

import xwidgets as xw
from xwidgets.models import Preprocess, wrap
from xwidgets.saliency.extremal_perturbation import SmoothMaskGenerator

REGION = (slice(8, 16), slice(12, 20))  # 8 x 8 pixels of a 32 x 32 image: 6.25 % of it


class StripeRegion(nn.Module):
    """Logit 1 is ``10 (v - 0.5)`` with v the correlation, over REGION only, of the
    input with horizontal stripes 4 rows high (inputs are +-1 for black and white
    pixels); logit 0 is zero. On the striped image v = 1 and blurring REGION takes v
    to about 0, so the evidence is in REGION and nowhere else. The stripes depend on
    the row only and REGION's columns are centred, so extremal perturbation's
    left-right flip jitter sees the same evidence."""

    def __init__(self):
        super().__init__()
        rows = torch.arange(32)[:, None].expand(32, 32)
        self.register_buffer("pattern", ((rows // 4) % 2 * 2 - 1).float())
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x):
        v = (x[:, :, REGION[0], REGION[1]] * self.pattern[REGION]).mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(v), self.scale * (v - 0.5)], dim=1)


def _stripe_model():
    return wrap(StripeRegion(), preprocess=Preprocess(size=(32, 32), resize=None, mean=(0.5,) * 3, std=(0.5,) * 3))


def _striped_image():
    rows = np.arange(32)[:, None].repeat(32, axis=1)
    return np.repeat((((rows // 4) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)


def _inside_share(saliency_map):
    """(share of the map's mass in REGION, mean inside, mean outside)."""
    inside = np.zeros((32, 32), bool)
    inside[REGION] = True
    m = np.clip(saliency_map, 0, None)
    return m[inside].sum() / m.sum(), m[inside].mean(), m[~inside].mean()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # these loops run hundreds of tiny forward passes: on a shared 2-core machine one
    # thread is many times faster than two (measured: 0.6 s against 37 s for a test)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyCNN(nn.Module):
    """Two convolutions and a linear layer on every position (no global pooling, so a
    left-right flip changes the logits)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return wrap(TinyCNN(), preprocess=Preprocess(size=(16, 16), resize=None))


def _images(n, size=16, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


# pixel quantities scaled down from the 224-pixel defaults for 16- and 32-pixel images
SMALL = {
    "meaningful_perturbation": dict(mask_size=8, blur_sigma=1.5, mask_blur=0.5, progress=False),
    "extremal_perturbation": dict(step=2, sigma=3.0, sigma_max=3.0, progress=False),
}
MP_TOY = dict(mask_size=16, blur_sigma=3.0, mask_blur=0.7, jitter=0, progress=False)
EP_TOY = dict(step=2, sigma=3.0, sigma_max=3.0, progress=False)


# ---------------------------------------------------------------------------- known answer


def test_meaningful_perturbation_deletes_the_region_of_a_known_model():
    # the paper's lambda1 = 1e-4, lambda2 = 1e-2 balance a 28 x 28 grid of a natural
    # image; on a 16 x 16 grid of this toy, deleting the whole image costs less (l1 64
    # cells x 1e-4) than the total variation of one sharp edge, so the deletion would
    # spread over the image. The weights below make the region the cheapest deletion.
    saliency = xw.explain(_stripe_model(), _striped_image(), method="meaningful_perturbation", target=1,
                          iterations=100, l1=1e-2, l2=1e-3, **MP_TOY)
    share, inside, outside = _inside_share(saliency.maps[0])
    assert share > 0.7 and inside > 0.75 and outside < 0.05  # measured: 0.82, 0.83, 0.012
    assert saliency.params["extras"]["score"][0] < 0.1  # the evidence is gone (clean: 0.993)


@pytest.mark.parametrize("variant", ["preserve", "delete"])
def test_extremal_perturbation_finds_the_region_of_a_known_model(variant):
    # area 0.0625 is the region's; 300 of the 800 steps
    saliency = xw.explain(_stripe_model(), _striped_image(), method="extremal_perturbation", target=1,
                          areas=(0.0625,), iterations=300, variant=variant, **EP_TOY)
    share, inside, outside = _inside_share(saliency.maps[0])
    assert share > 0.5 and inside > 0.7 and outside < 0.05  # measured: 0.63/0.66, 0.81/0.86, 0.032/0.029
    # preserving the region keeps the logit up, deleting it brings it down (clean: +5,
    # all blurred: about -5; the reward is the logit, negated for deletion)
    assert saliency.params["extras"]["reward"][0, 0] > 2.5  # measured: 3.3/3.7


def test_extremal_perturbation_meets_the_requested_areas():
    # the default schedule (lambda 300 x 1.0035^t over 800 steps). Smooth masks cannot be
    # binary: their soft edges keep the sorted mask off the step vector, and the achieved
    # area (the mean of the mask) ends a little above the target. Tolerance 10 % + 0.01
    # (measured: 0.110 for 0.1, 0.212 for 0.2).
    areas = (0.1, 0.2)
    saliency = xw.explain(_stripe_model(), _striped_image(), method="extremal_perturbation", target=1,
                          areas=areas, **EP_TOY)
    extras = saliency.params["extras"]
    assert extras["iterations"] == 800 and extras["areas"] == list(areas)
    achieved = extras["area"][0]
    for got, want in zip(achieved, areas):
        assert abs(got - want) <= 0.1 * want + 0.01, (got, want)
    np.testing.assert_allclose(extras["masks"][0].mean(axis=(-2, -1)), achieved, rtol=1e-5)
    assert (extras["area_penalty"][0] < 0.02).all()  # measured: 0.008, 0.010
    assert _inside_share(extras["masks"][0, 0])[1] > 0.8  # the region is kept (measured: 0.91)
    # nothing sticks to the image borders: the constraint covers a margin around the image,
    # so border nodes are pushed like inner ones (without it, measured: a corner blob of ~0.8)
    border = np.ones((32, 32), bool)
    border[3:-3, 3:-3] = False
    assert (extras["masks"][0][:, border].mean(axis=-1) < 0.03).all()  # measured: 0.0007, 0.006
    # the default map is the sum of the areas' masks
    np.testing.assert_allclose(saliency.maps[0], extras["masks"][0].sum(axis=0), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- batching


@pytest.mark.parametrize("method", ["meaningful_perturbation", "extremal_perturbation"])
def test_optimising_images_together_equals_one_at_a_time(tiny, method):
    # Adam and SGD update every coordinate on its own and each (image, target, area)
    # mask's loss depends on that mask alone; the jitter offsets and mask noise are
    # drawn once per step for all images. So a batch equals single images up to float
    # rounding of batched convolutions (measured: identical on CPU). Tolerance 1e-4.
    extra = dict(noise=0.1) if method == "meaningful_perturbation" else dict(areas=(0.1, 0.3), jitter="random")
    images = _images(3)
    together = xw.explain(tiny, images, method=method, target=xw.TopK(2), iterations=20, batch_size=3, **SMALL[method], **extra)
    for i, image in enumerate(images):
        alone = xw.explain(tiny, image, method=method, target=xw.TopK(2), iterations=20, **SMALL[method], **extra)
        np.testing.assert_allclose(together.maps[2 * i : 2 * i + 2], alone.maps, atol=1e-4)
    split = xw.explain(tiny, images, method=method, target=xw.TopK(2), iterations=20, batch_size=1, **SMALL[method], **extra)
    np.testing.assert_allclose(together.maps, split.maps, atol=1e-4)
    for key, value in together.params["extras"].items():
        if isinstance(value, np.ndarray):
            assert value.shape[0] == 6  # one row per (image, target), image-major like the maps
            np.testing.assert_allclose(value, split.params["extras"][key], atol=1e-4, err_msg=key)


def test_areas_optimised_together_equal_each_area_alone(tiny):
    images = _images(2, seed=3)
    both = xw.explain(tiny, images, method="extremal_perturbation", areas=(0.05, 0.2), iterations=30, **SMALL["extremal_perturbation"])
    for a, area in enumerate((0.05, 0.2)):
        alone = xw.explain(tiny, images, method="extremal_perturbation", areas=(area,), iterations=30, **SMALL["extremal_perturbation"])
        np.testing.assert_allclose(both.params["extras"]["masks"][:, a], alone.maps, atol=1e-5)
        chosen = xw.explain(tiny, images, method="extremal_perturbation", areas=(0.05, 0.2), combine=area, iterations=30,
                            **SMALL["extremal_perturbation"])
        np.testing.assert_allclose(chosen.maps, alone.maps, atol=1e-5)
    np.testing.assert_allclose(both.maps, both.params["extras"]["masks"].sum(axis=1), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- seeds and callbacks


def test_the_same_seed_gives_the_same_maps_and_another_seed_other_maps(tiny):
    images = _images(2, seed=1)
    runs = {
        "meaningful_perturbation": dict(iterations=15, noise=0.05),  # random jitter offsets and noise
        "extremal_perturbation": dict(iterations=15, jitter="random"),  # random flips
    }
    for method, extra in runs.items():
        kwargs = {**SMALL[method], **extra}
        first = xw.explain(tiny, images, method=method, seed=5, **kwargs)
        again = xw.explain(tiny, images, method=method, seed=5, **kwargs)
        np.testing.assert_array_equal(first.maps, again.maps)
        other = xw.explain(tiny, images, method=method, seed=6, **kwargs)
        assert np.abs(other.maps - first.maps).max() > 1e-4, method
    # random init uses the seed too
    first = xw.explain(tiny, images, method="meaningful_perturbation", init="random", jitter=0, iterations=3, seed=1, **SMALL["meaningful_perturbation"])
    other = xw.explain(tiny, images, method="meaningful_perturbation", init="random", jitter=0, iterations=3, seed=2, **SMALL["meaningful_perturbation"])
    assert np.abs(other.maps - first.maps).max() > 1e-3


@pytest.mark.parametrize("method, shape", [
    ("meaningful_perturbation", (2, 3, 16, 16)),  # (K targets, B images, H, W)
    ("extremal_perturbation", (2, 3, 2, 16, 16)),  # (K, B, A areas, H, W)
])
def test_callback_sees_the_current_masks_every_n_steps(tiny, method, shape):
    calls = []

    def callback(step, masks):
        assert isinstance(masks, torch.Tensor) and not masks.requires_grad
        calls.append((step, tuple(masks.shape), masks.clone()))

    extra = {"areas": (0.1, 0.3)} if method == "extremal_perturbation" else {}
    saliency = xw.explain(tiny, _images(3), method=method, target=xw.TopK(2), iterations=7, callback=callback, callback_every=3,
                          **SMALL[method], **extra)
    assert [step for step, _, _ in calls] == [3, 6]
    assert all(s == shape for _, s, _ in calls)
    assert not torch.equal(calls[0][2], calls[1][2])  # the masks move
    assert saliency.params["callback"] is callback  # kept as is, not copied
    # every step: as many calls as iterations, the last one with the final step number
    steps = []
    xw.explain(tiny, _images(1), method=method, iterations=4, callback=lambda s, m: steps.append(s), callback_every=1, **SMALL[method])
    assert steps == [1, 2, 3, 4]


def test_a_callback_that_cannot_be_copied_is_stored_by_reference(tiny):
    class LiveView:  # like a widget: holds a lock, which deepcopy cannot copy
        def __init__(self):
            self.lock = threading.Lock()
            self.steps = []

        def update(self, step, masks):
            self.steps.append(step)

    view = LiveView()
    saliency = xw.explain(tiny, _images(1), method="meaningful_perturbation", iterations=4, callback=view.update, callback_every=2,
                          **SMALL["meaningful_perturbation"])
    assert view.steps == [2, 4] and saliency.params["callback"].__self__ is view


# ---------------------------------------------------------------------------- recorded convergence


def test_iterations_and_losses_are_recorded_per_row(tiny, tmp_path):
    saliency = xw.explain(_stripe_model(), _striped_image(), method="meaningful_perturbation", target=1,
                          iterations=60, l1=1e-2, l2=1e-3, **MP_TOY)
    extras = saliency.params["extras"]
    assert extras["iterations"] == 60
    assert extras["loss_history"].shape == (1, 60) and extras["loss"].shape == extras["score"].shape == (1,)
    history = extras["loss_history"][0]
    assert history[-1] < 0.5 * history[0] and extras["loss"][0] < history[0]  # it converged from the circle init
    assert extras["init_radius"].shape == (1,) and extras["init_radius"][0] > 0

    ep = xw.explain(tiny, _images(2), method="extremal_perturbation", target=xw.TopK(2), areas=(0.1, 0.2, 0.4), iterations=5,
                    **SMALL["extremal_perturbation"])
    extras = ep.params["extras"]
    assert extras["loss_history"].shape == (4, 3, 5)  # rows (image x target), areas, steps
    for key in ("loss", "reward", "area", "area_penalty"):
        assert extras[key].shape == (4, 3), key
    assert extras["masks"].shape == (4, 3, 16, 16)
    ep.save(tmp_path / "ep.npz")  # arrays in params are saved too, and come back equal
    loaded = xw.Saliency.load(tmp_path / "ep.npz").params["extras"]
    assert loaded["iterations"] == 5
    for key in ("loss_history", "loss", "reward", "area", "area_penalty", "masks"):
        np.testing.assert_array_equal(loaded[key], extras[key], err_msg=key)

    gradcam = xw.explain(tiny, _images(1))
    assert "extras" not in gradcam.params  # other methods are unaffected


def test_progress_bar_shows_when_asked(tiny, capsys):
    xw.explain(tiny, _images(1), method="meaningful_perturbation", iterations=3, **{**SMALL["meaningful_perturbation"], "progress": True})
    assert "meaningful_perturbation" in capsys.readouterr().err
    xw.explain(tiny, _images(1), method="extremal_perturbation", iterations=3, **SMALL["extremal_perturbation"])
    assert "extremal_perturbation" not in capsys.readouterr().err  # progress=False
    xw.explain(tiny, _images(1), method="extremal_perturbation", iterations=3, step=2, sigma=3.0, sigma_max=3.0)
    assert capsys.readouterr().err == ""  # default: off below 50 iterations


# ---------------------------------------------------------------------------- targets, mask generator


def test_callable_and_contrast_targets(tiny):
    images = _images(2, seed=4)
    kwargs = dict(iterations=5, score="logit", **SMALL["meaningful_perturbation"])
    by_class = xw.explain(tiny, images, method="meaningful_perturbation", target=2, **kwargs)
    by_callable = xw.explain(tiny, images, method="meaningful_perturbation", target=lambda z: z[:, 2], **kwargs)
    np.testing.assert_allclose(by_callable.maps, by_class.maps, atol=1e-6)
    assert by_callable.targets.tolist() == [-1, -1]
    contrast = xw.explain(tiny, images, method="extremal_perturbation", target=xw.Contrast(2, 0), iterations=5, **SMALL["extremal_perturbation"])
    named = xw.explain(tiny, images, method="extremal_perturbation", target=lambda z: z[:, 2] - z[:, 0], iterations=5, **SMALL["extremal_perturbation"])
    np.testing.assert_allclose(contrast.maps, named.maps, atol=1e-6)


def test_smooth_mask_generator_gradient_and_shape():
    gen = SmoothMaskGenerator((12, 10), 2, 3.0, 20.0, torch.device("cpu"))
    params = torch.rand(2, *gen.grid, dtype=torch.float64, requires_grad=True)
    assert gen(params).shape == (2, 12, 10)
    assert torch.autograd.gradcheck(gen, (params,))
    # one active node gives a bump that is 1 within sigma / 2 of it and fades to ~0 by 2 sigma
    single = torch.zeros(1, *gen.grid, dtype=torch.float64)
    single[0, 3, 2] = 1.0  # the node at pixel (6, 4)
    bump = gen(single)[0]
    assert bump[6, 4] == pytest.approx(1.0) and bump[6, 5] == pytest.approx(1.0)
    assert bump[0, 9] < 0.05 and bump.max() <= 1.0


def _smooth_max_directly(params, size, step, sigma, coldness, origin):
    """The definition, pixel by pixel: smax over every node (parameter or zero) within
    2 sigma of the pixel of k(d / sigma) p, k(t) = exp(-2 max(0, t - 1/2)^2)."""
    (h, w), (gh, gw) = size, params.shape[-2:]
    reach, radius = 2 * sigma, int(np.ceil(2 * sigma / step)) + 1
    out = torch.empty(params.shape[0], h, w, dtype=params.dtype)
    for y in range(h):
        for x in range(w):
            hy, hx = (y - origin[0]) // step, (x - origin[1]) // step
            values = []
            for ny in range(hy - radius, hy + radius + 1):
                for nx in range(hx - radius, hx + radius + 1):
                    d = float(np.hypot(y - origin[0] - ny * step, x - origin[1] - nx * step))
                    if d <= reach:
                        k = float(np.exp(-2 * max(0.0, d / sigma - 0.5) ** 2))
                        inside = 0 <= ny < gh and 0 <= nx < gw
                        values.append(k * params[:, ny, nx] if inside else torch.zeros(params.shape[0], dtype=params.dtype))
            z = torch.stack(values, dim=1)
            out[:, y, x] = (z * torch.softmax(coldness * z, dim=1)).sum(dim=1)
    return out


@pytest.mark.parametrize("size, step, sigma, origin, grid", [((13, 11), 3, 4.0, (4, 4), (3, 2)), ((9, 12), 2, 2.5, (0, 0), None)])
def test_smooth_mask_generator_equals_the_definition(size, step, sigma, origin, grid):
    # the blocked, node-by-node computation (zero nodes as a constant count) against the
    # formula evaluated pixel by pixel, values and gradient, in float64
    gen = SmoothMaskGenerator(size, step, sigma, 20.0, torch.device("cpu"), origin=origin, grid=grid)
    params = torch.rand(2, *gen.grid, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    params[0, 0, 0], params[1, -1, -1] = 1.0, 0.0
    weights = torch.randn(2, *size, dtype=torch.float64)
    fast, slow = params.clone().requires_grad_(True), params.clone().requires_grad_(True)
    out = gen(fast)
    expected = _smooth_max_directly(slow, size, step, sigma, 20.0, origin)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(fast.grad, slow.grad, rtol=1e-9, atol=1e-11)
    # float32 at the defaults' geometry (step 7, sigma 21, a sigma margin): within float rounding of float64
    gen = SmoothMaskGenerator((64 + 42, 64 + 42), 7, 21.0, 20.0, torch.device("cpu"), origin=(21, 21), grid=(10, 10))
    p = torch.rand(3, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(gen(p.float()).double(), gen(p), rtol=0, atol=1e-5)


def test_area_penalty_equals_the_sorted_form():
    # mean_u (sort(m)_u - r_a(u))^2 with r_a's last K entries one, value and gradient
    from xwidgets.saliency.extremal_perturbation import area_penalty

    masks = torch.rand(3, 4, 300, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    ones = [10, 77, 0, 299]
    reference = (torch.arange(300)[None] >= 300 - torch.tensor(ones)[:, None]).double()  # (R, pixels), sorted ascending
    expected = ((masks.sort(dim=-1).values - reference) ** 2).mean(dim=-1)
    got = area_penalty(masks, ones)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    g_expected, = torch.autograd.grad(expected.sum(), masks)
    g_got, = torch.autograd.grad(got.sum(), masks)
    torch.testing.assert_close(g_got, g_expected, rtol=1e-12, atol=1e-14)


def test_apply_masks_reads_the_pyramid_between_two_levels():
    from xwidgets.saliency.extremal_perturbation import apply_masks

    g = torch.Generator().manual_seed(0)
    pyramid = torch.randn(2, 5, 3, 6, 7, generator=g)
    masks = torch.rand(2, 3, 6, 7, generator=g)
    masks[0, 0, 0], masks[0, 1, 1], masks[1, 2, 2, :3] = 1.0, 0.0, 0.5  # both ends and exactly on a level
    masks.requires_grad_(True)
    out = apply_masks(pyramid, masks).view(2, 3, 3, 6, 7)
    position = masks.detach() * 4
    lower = position.floor().clamp(0, 3).long()
    frac = position - lower
    for b in range(2):
        for r in range(3):
            below = pyramid[b].gather(0, lower[b, r][None, None].expand(1, 3, 6, 7))[0]
            above = pyramid[b].gather(0, (lower[b, r] + 1)[None, None].expand(1, 3, 6, 7))[0]
            torch.testing.assert_close(out[b, r].detach(), (1 - frac[b, r]) * below + frac[b, r] * above)
    grad, = torch.autograd.grad(out.sum(), masks)
    steps = pyramid[:, 1:] - pyramid[:, :-1]  # d out / d m = (L - 1) (P_(l+1) - P_l)
    expected = 4 * steps.sum(dim=2).gather(1, lower.clamp(0, 3))
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- errors and registry


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("meaningful_perturbation", {"iterations": 0}, "iterations: expected a positive int; got 0"),
        ("meaningful_perturbation", {"iterations": 2.5}, "iterations: expected a positive int"),
        ("meaningful_perturbation", {"l1": -1e-4}, r"l1: expected a finite number >= 0; got -0.0001"),
        ("meaningful_perturbation", {"l2": -1.0}, "l2: expected a finite number >= 0"),
        ("meaningful_perturbation", {"beta": 0}, "beta: expected a finite number > 0"),
        ("meaningful_perturbation", {"lr": float("nan")}, "lr: expected a finite number > 0"),
        ("meaningful_perturbation", {"mask_size": 0}, "mask_size: expected a positive int or a"),
        ("meaningful_perturbation", {"jitter": -1}, r"jitter: expected an int >= 0"),
        ("meaningful_perturbation", {"init": "square"}, "init: expected one of 'circle', 'ones', 'random'"),
        ("meaningful_perturbation", {"score": "prob"}, "score: expected one of 'probability', 'logit'"),
        ("meaningful_perturbation", {"callback_every": 0}, "callback_every: expected a positive int; got 0"),
        ("meaningful_perturbation", {"callback": "print"}, r"callback: expected None or a callable\(step, masks\)"),
        ("meaningful_perturbation", {"progress": "yes"}, "progress: expected True, False or None"),
        ("meaningful_perturbation", {"seed": 1.5}, "seed: expected an int"),
        ("extremal_perturbation", {"iterations": -3}, "iterations: expected a positive int; got -3"),
        ("extremal_perturbation", {"areas": (0.0,)}, r"areas: expected a finite number > 0 and < 1; got 0.0"),
        ("extremal_perturbation", {"areas": 1.0}, r"areas: expected a finite number > 0 and < 1; got 1.0"),
        ("extremal_perturbation", {"areas": (0.1, 1.5)}, r"areas: expected a finite number > 0 and < 1; got 1.5"),
        ("extremal_perturbation", {"areas": ()}, r"areas: expected a non-empty sequence of fractions in \(0, 1\)"),
        ("extremal_perturbation", {"areas": "0.1"}, r"areas: expected a non-empty sequence"),
        ("extremal_perturbation", {"areas": (0.1, 0.1)}, r"areas: expected distinct fractions"),
        ("extremal_perturbation", {"area_lambda": -300}, "area_lambda: expected a finite number >= 0; got -300"),
        ("extremal_perturbation", {"area_lambda_growth": 0}, "area_lambda_growth: expected a finite number > 0"),
        ("extremal_perturbation", {"callback_every": -1}, "callback_every: expected a positive int; got -1"),
        ("extremal_perturbation", {"levels": 1}, "levels: expected an int >= 2; got 1"),
        ("extremal_perturbation", {"step": 0}, "step: expected a positive int; got 0"),
        ("extremal_perturbation", {"sigma": -21}, "sigma: expected a finite number > 0"),
        ("extremal_perturbation", {"momentum": 1.0}, "momentum: expected a finite number >= 0 and < 1"),
        ("extremal_perturbation", {"variant": "dual"}, "variant: expected one of 'preserve', 'delete'"),
        ("extremal_perturbation", {"combine": 0.3}, r'combine: expected "sum" or one of the areas \[0.1\]; got 0.3'),
        ("extremal_perturbation", {"jitter": "sometimes"}, "jitter: expected one of 'alternate', 'random', 'none'"),
    ],
)
def test_bad_parameters_get_clear_errors(tiny, method, params, message):
    with pytest.raises(ValueError, match=message):
        xw.explain(tiny, _images(1), method=method, **params)


def test_registry_lists_both_methods_with_the_published_defaults():
    specs = {s.name: s for s in xw.list_methods()}
    mp, ep = specs["meaningful_perturbation"], specs["extremal_perturbation"]
    assert "Fong & Vedaldi" in mp.paper and "Extremal Perturbations" in ep.paper
    assert mp.family == ep.family == "perturbation" and not mp.uses_layer and not ep.uses_layer
    p = mp.make_params()
    assert (p.iterations, p.lr, p.l1, p.l2, p.beta, p.mask_size) == (300, 0.1, 1e-4, 1e-2, 3.0, 28)
    assert (p.blur_sigma, p.mask_blur, p.jitter, p.noise, p.init, p.score) == (10.0, 5.0, 4, 0.0, "circle", "probability")
    q = ep.make_params()
    assert (q.areas, q.iterations, q.step, q.sigma, q.levels, q.sigma_max) == ((0.1,), 800, 7, 21.0, 8, 20.0)
    assert (q.area_lambda, q.area_lambda_growth, q.lr, q.momentum, q.dampening) == (300.0, 1.0035, 0.01, 0.9, 0.9)
    assert (q.variant, q.score, q.combine, q.jitter) == ("preserve", "logit", "sum", "alternate")
    assert ep.make_params(jitter=False).jitter == "none" and ep.make_params(areas=0.2).areas == (0.2,)
    assert p.progress is None and q.progress is None  # auto: on above 50 iterations
