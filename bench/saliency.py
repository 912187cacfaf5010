#!/usr/bin/env python3
"""Every registered saliency method against its limit and against the peers (issue 3).

Same model, same batch, one run: each method is timed through ``xw.explain(...,
target="pred")``, beside its *limit* (the least work the method has to do, written
by hand with plain torch) and beside pytorch-grad-cam and Captum where they have the
method. Every time is also given as a ratio to the method's limit.

Limits (parameters frozen, model in eval mode, target "pred"):

  CAM methods (gradcam, gradcampp, hirescam, layercam, cam)
      one forward with ``capture(..., gradients=True)`` at the CAM layer, plus
      ``torch.autograd.grad`` of the summed top-1 logits to that layer's leaf.
  input-gradient methods (saliency, gradient_x_input, guided_backprop, deconvnet,
  guided_gradcam)
      one forward of the input (requires grad) plus a backward to the input only.
  integrated_gradients, smoothgrad, vargrad
      that forward+backward to the input over all steps x images (samples x images),
      in the same chunks as the method's ``internal_batch_size`` makes.
  scorecam, occlusion, rise
      the forwards they need, without grad: the clean forward of the batch plus B x C
      masked copies (C channels at the layer), B x window positions, B x n_masks; the
      perturbed copies at the fastest of ``--chunk-sizes`` rows per forward (each
      size timed on a few forwards, the total extrapolated from them).
  meaningful_perturbation, extremal_perturbation
      iterations x (forward + backward to a full-resolution mask) on the same rows
      (B x targets x areas); timed on a few steps and scaled to ``iterations``.

Peers: pytorch-grad-cam (targets=None: the top-1 class from its own forward) and
Captum (which needs the class up front: the separate no-grad forward that finds it
is included in its time). Peers' outputs are reduced like ours (channel reduction,
upsampling) and brought to the host, as ``explain`` returns numpy maps.

The timings interleave: after one warm-up call of each, every repeat times the
limit, xwidgets and the peers in turn; the median of the repeats is reported.

    python3 bench/saliency.py                               # the benchmark (long on a CPU)
    python3 bench/saliency.py --quick --models efficientnet_lite0 --batches 2   # smoke test
    python3 bench/saliency.py --models resnet50 --batches 32 --rise-masks 2000

Writes the ``saliency`` section of bench/RESULTS.md (one table per model and batch;
a run replaces the tables of the model/batch pairs it measured and keeps the others)
and prints it. ``--quick`` prints only, unless ``--write`` is given.
"""

from __future__ import annotations

import os

# pytorch-grad-cam's Score-CAM draws one tqdm bar per image; keep the output readable
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import copy  # noqa: E402
import dataclasses  # noqa: E402
import difflib  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import _results  # noqa: E402
from _results import machine, model_layout, write_section  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.models import capture, frozen_eval, tokens_to_grid  # noqa: E402
from xwidgets.saliency import get_method, list_methods  # noqa: E402

SECTION = "saliency"

CAM_METHODS = ("gradcam", "gradcampp", "hirescam", "layercam", "cam")
INPUT_GRADIENT_METHODS = ("saliency", "gradient_x_input", "guided_backprop", "deconvnet", "guided_gradcam")
SAMPLED_METHODS = ("integrated_gradients", "smoothgrad", "vargrad")
FORWARD_METHODS = ("scorecam", "occlusion", "rise")
MASK_METHODS = ("meaningful_perturbation", "extremal_perturbation")

#: issue 3's targets: ratio to the limit
TARGETS = {"gradcam": 1.15, "integrated_gradients": 1.05, "scorecam": 1.2, "occlusion": 1.2, "rise": 1.2}
TARGETS_TEXT = (
    'Targets (issue 3): Grad-CAM with target "pred" at most 1.15x its limit; Integrated Gradients at most '
    "1.05x; Score-CAM, occlusion and RISE at most 1.2x their forwards."
)

DEFAULT_MODELS = "efficientnet_lite0,resnet50"
DEFAULT_BATCHES = "8,32"
DEFAULT_REPEATS = 5
DEFAULT_CHUNKS = "16,32,64,128,256"

#: --quick's reduced settings (each overridden by its own flag)
QUICK = dict(
    batches="2", repeats=1, chunk_sizes="8,16,32,64", ig_steps=8, sg_samples=8, rise_masks=64,
    occlusion_window=56, occlusion_stride=56, mp_iterations=5, ep_iterations=5,
)
#: --quick's Score-CAM layers: few channels, so few masked forwards
QUICK_SCORECAM_LAYERS = {"efficientnet_lite0": "stem_act", "resnet50": "relu"}
MODEL_ORDER = ("efficientnet_lite0", "resnet50")


# ---------------------------------------------------------------------------- timing


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def clock(fn: Callable[[], Any]) -> float:
    """Seconds of one call of ``fn``, the device synchronised before and after."""
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def timer(fn: Callable[[], Any]) -> Callable[[], float]:
    return lambda: clock(fn)


def describe(error: BaseException) -> str:
    """A short reason for an "n/a (...)" cell."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return "out of memory"
    text = text.replace("|", "/")
    if len(text) > 90:
        text = text[:87] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def measure(entries: dict[str, Callable[[], float]], repeats: int) -> dict[str, float | str]:
    """Median seconds per entry (each entry times itself and returns seconds), or the
    reason it failed. One warm-up call of each, then ``repeats`` rounds in which every
    entry runs once in turn, so slow drifts of a shared machine hit all alike."""
    times: dict[str, list[float]] = {key: [] for key in entries}
    failed: dict[str, str] = {}

    def attempt(key: str, fn: Callable[[], float]) -> None:
        try:
            with quiet():
                seconds = fn()
            times[key].append(seconds)
        except Exception as error:  # a peer (or a method) failing on this model: record why
            failed[key] = describe(error)
            free_memory()

    for key, fn in entries.items():
        attempt(key, fn)
        times[key].clear()  # the warm-up does not count
    for _ in range(repeats):
        for key, fn in entries.items():
            if key not in failed:
                attempt(key, fn)
    return {key: failed[key] if key in failed else statistics.median(times[key]) for key in entries}


# ---------------------------------------------------------------------------- limits


def top1(logits: torch.Tensor) -> torch.Tensor:
    """The summed top-1 logits: the score target "pred" explains."""
    return logits.gather(1, logits.detach().argmax(dim=1, keepdim=True)).sum()


def forward_limit(model: xw.ModelAdapter, inputs: torch.Tensor) -> Callable[[], float]:
    def run() -> float:
        with frozen_eval(model.model):
            with torch.no_grad():
                return clock(lambda: model.logits(inputs))
    return run


def cam_limit(model: xw.ModelAdapter, inputs: torch.Tensor, layer: str) -> Callable[[], float]:
    """One forward, the graph starting at ``layer`` (capture), and a backward to it."""

    def once() -> None:
        with torch.enable_grad():
            with capture(model.model, [layer], gradients=True) as records:
                logits = model.logits(inputs)
            torch.autograd.grad(top1(logits), records[layer].leaf)

    def run() -> float:
        with frozen_eval(model.model):
            return clock(once)
    return run


def input_limit(model: xw.ModelAdapter, inputs: torch.Tensor) -> Callable[[], float]:
    """One forward of the input (requires grad) and a backward to the input only."""

    def once() -> None:
        with torch.enable_grad():
            x = inputs.detach().requires_grad_(True)
            torch.autograd.grad(top1(model.logits(x)), x)

    def run() -> float:
        with frozen_eval(model.model):
            return clock(once)
    return run


def rows_limit(model: xw.ModelAdapter, inputs: torch.Tensor, chunks: list[int]) -> Callable[[], float]:
    """Forward+backward to the input of ``chunks`` rows (copies of the images, scored
    for their clean top-1 class), one chunk per pass, as IG / SmoothGrad batch them."""
    b = inputs.shape[0]
    with torch.no_grad(), frozen_eval(model.model):
        classes = model.logits(inputs).argmax(dim=1)
    index = torch.arange(max(chunks), device=inputs.device) % b
    rows, row_classes = model_layout(inputs[index]), classes[index][:, None]

    def once() -> None:
        with torch.enable_grad():
            for n in chunks:
                x = rows[:n].detach().requires_grad_(True)
                torch.autograd.grad(model.logits(x).gather(1, row_classes[:n]).sum(), x)

    def run() -> float:
        with frozen_eval(model.model):
            return clock(once)
    return run


class ForwardsLimit:
    """The clean forward of the batch plus ``total`` perturbed forwards (no grad) at
    the best chunk size: each candidate size is timed on a few forwards and the total
    extrapolated, ``q t(s) + t(r)`` with ``total = q s + r``."""

    def __init__(self, model: xw.ModelAdapter, inputs: torch.Tensor, total: int, candidates: list[int], repeats: int) -> None:
        self.model, self.inputs, self.total = model, inputs, total
        sizes = sorted({min(s, total) for s in candidates if s >= 1})
        index = torch.arange(max(sizes), device=inputs.device) % inputs.shape[0]
        self.rows = model_layout(inputs[index])
        self.tried: dict[int, float | str] = {}
        best = None
        for s in sizes:
            try:
                per = statistics.median([self._forward(s) for _ in range(1 + max(1, min(3, repeats)))][1:])
            except Exception as error:  # out of memory at a big chunk: skip that size
                self.tried[s] = describe(error)
                free_memory()
                continue
            q, r = divmod(total, s)
            estimate = q * per + (r / s) * per
            self.tried[s] = estimate
            if best is None or estimate < best[1]:
                best = (s, estimate)
        if best is None:
            raise RuntimeError(f"no chunk size of {sizes} ran: {self.tried}")
        self.chunk = best[0]

    def _forward(self, n: int) -> float:
        with torch.no_grad(), frozen_eval(self.model.model):
            return clock(lambda: self.model.logits(self.rows[:n]))

    def __call__(self) -> float:
        """One estimate: the clean forward, the mean of up to 3 chunk forwards times the
        number of full chunks, and the remainder's forward."""
        q, r = divmod(self.total, self.chunk)
        k = min(q, 3)
        chunk = sum(self._forward(self.chunk) for _ in range(k)) / k if k else 0.0
        return self._forward(self.inputs.shape[0]) + q * chunk + (self._forward(r) if r else 0.0)


def mask_limit(model: xw.ModelAdapter, inputs: torch.Tensor, rows: int, iterations: int) -> Callable[[], float]:
    """iterations x (forward of masked copies + backward to a full-resolution mask),
    timed on min(iterations, 3) steps and scaled."""
    b, _, h, w = inputs.shape
    with torch.no_grad(), frozen_eval(model.model):
        classes = model.logits(inputs).argmax(dim=1)
    index = torch.arange(rows, device=inputs.device) % b
    images, row_classes = model_layout(inputs[index]), classes[index][:, None]
    steps = min(iterations, 3)

    def once() -> None:
        mask = torch.ones(rows, 1, h, w, device=inputs.device, dtype=inputs.dtype, requires_grad=True)
        with torch.enable_grad():
            for _ in range(steps):
                torch.autograd.grad(model.logits(images * mask).gather(1, row_classes).sum(), mask)

    def run() -> float:
        with frozen_eval(model.model):
            return clock(once) * iterations / steps
    return run


# ---------------------------------------------------------------------------- what to run per method


@dataclasses.dataclass
class Plan:
    """One method on one model and batch: its parameters, its limit, its settings."""

    name: str
    params: dict[str, Any]
    layer: str | None  # passed to explain only when it differs from the model's CAM layer
    settings: list[str]
    limit: Callable[[], float] | None = None
    limit_note: str = ""


def reduced(value: int, default: int, what: str) -> str:
    return f"{what} {value}" + (f" (default {default})" if value != default else "")


def channels_at(model: xw.ModelAdapter, inputs: torch.Tensor, layer: str) -> int:
    with torch.no_grad(), frozen_eval(model.model), capture(model.model, [layer], gradients=False) as records:
        model.logits(inputs[:1])
    return int(tokens_to_grid(records[layer].activation).shape[1])


def plan_method(name: str, args: argparse.Namespace, model_name: str, model: xw.ModelAdapter, inputs: torch.Tensor) -> Plan:
    spec = get_method(name)
    defaults = spec.params()
    b, _, h, w = inputs.shape
    cam_layer = model.cam_layer
    chunks = [int(s) for s in args.chunk_sizes.split(",")]
    plan = Plan(name, {}, None, [f"layer `{cam_layer}`"] if spec.uses_layer else [])

    if name in CAM_METHODS:
        plan.limit = cam_limit(model, inputs, cam_layer)
    elif name in INPUT_GRADIENT_METHODS:
        plan.limit = input_limit(model, inputs)
    elif name == "integrated_gradients":
        steps = args.ig_steps or defaults.steps
        ibs = defaults.internal_batch_size
        plan.params["steps"] = steps
        plan.settings.append(reduced(steps, defaults.steps, "steps") + f", internal batch {ibs}")
        size = steps * b
        plan.limit = rows_limit(model, inputs, [min(ibs, size - lo) for lo in range(0, size, ibs)])
    elif name in ("smoothgrad", "vargrad"):
        n = args.sg_samples or defaults.n_samples
        ibs = defaults.internal_batch_size
        plan.params["n_samples"] = n
        per = max(1, ibs // b)
        plan.settings.append(reduced(n, defaults.n_samples, "n_samples") + f", base {defaults.base}, {per} samples x {b} images per pass")
        plan.limit = rows_limit(model, inputs, [b * min(per, n - lo) for lo in range(0, n, per)])
    elif name == "scorecam":
        layer = dict(args.scorecam_layer).get(model_name) or cam_layer
        if layer != cam_layer:
            plan.layer = layer
        c = channels_at(model, inputs, layer)
        default_c = channels_at(model, inputs, cam_layer) if layer != cam_layer else c
        plan.settings = [f"layer `{layer}`, {c} channels" + (f" (default `{cam_layer}`, {default_c} channels)" if layer != cam_layer else ""),
                         f"internal batch {defaults.internal_batch_size}"]
        plan.limit = ForwardsLimit(model, inputs, b * c, chunks, args.repeats)
    elif name == "occlusion":
        window = args.occlusion_window or defaults.window
        stride = args.occlusion_stride or defaults.stride
        plan.params.update(window=window, stride=stride)
        positions = (math.ceil((h - window) / stride) + 1) * (math.ceil((w - window) / stride) + 1)
        text = f"window {window}, stride {stride}: {positions} positions"
        if (window, stride) != (defaults.window, defaults.stride):
            text += f" (default {defaults.window}, {defaults.stride})"
        plan.settings.append(text + f", internal batch {defaults.internal_batch_size}")
        plan.limit = ForwardsLimit(model, inputs, b * positions, chunks, args.repeats)
    elif name == "rise":
        n = args.rise_masks or defaults.n_masks
        plan.params["n_masks"] = n
        plan.settings.append(reduced(n, defaults.n_masks, "n_masks") + f", internal batch {defaults.internal_batch_size} ((mask, image) rows)")
        plan.limit = ForwardsLimit(model, inputs, b * n, chunks, args.repeats)
    elif name in MASK_METHODS:
        override = args.mp_iterations if name == "meaningful_perturbation" else args.ep_iterations
        iterations = override or defaults.iterations
        plan.params.update(iterations=iterations, progress=False)
        areas = len(getattr(defaults, "areas", (None,)))
        rows = b * areas
        plan.settings.append(reduced(iterations, defaults.iterations, "iterations") + (f", {areas} areas" if areas > 1 else "") + ", no progress bar")
        plan.limit = mask_limit(model, inputs, rows, iterations)
    if isinstance(plan.limit, ForwardsLimit):
        limit = plan.limit
        plan.limit_note = f"limit: {b} + {limit.total} forwards, best chunk {limit.chunk} rows"
        plan.settings.append(plan.limit_note)
    return plan


def ours(model: xw.ModelAdapter, inputs: torch.Tensor, plan: Plan) -> Callable[[], float]:
    kwargs = dict(plan.params)
    if plan.layer is not None:
        kwargs["layer"] = plan.layer
    b = inputs.shape[0]
    return timer(lambda: xw.explain(model, inputs, method=plan.name, target="pred", batch_size=b, **kwargs))


# ---------------------------------------------------------------------------- peers


class _ReLU6SeenAsReLU(nn.ReLU):
    """ReLU6 that Captum's modified-gradient methods recognise (they hook nn.ReLU only)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.hardtanh(x, 0.0, 6.0)


def clamped_relus(net: nn.Module) -> bool:
    return any(isinstance(m, nn.Hardtanh) for m in net.modules())  # nn.ReLU6 is a Hardtanh


def relus(net: nn.Module) -> bool:
    return any(type(m) is nn.ReLU for m in net.modules())


@dataclasses.dataclass
class Peer:
    """A peer's timing: ``run`` (times one call) or ``na`` (why it cannot run); ``note``
    goes under the table."""

    run: Callable[[], float] | None = None
    na: str | None = None
    note: str | None = None


def available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


class Peers:
    """pytorch-grad-cam and Captum versions of our methods, for one model and batch."""

    PGC_CAMS = {"gradcam": "GradCAM", "gradcampp": "GradCAMPlusPlus", "hirescam": "HiResCAM", "layercam": "LayerCAM", "scorecam": "ScoreCAM"}

    def __init__(self, model: xw.ModelAdapter, inputs: torch.Tensor) -> None:
        # their own copy: Captum toggles the input's requires_grad, pytorch-grad-cam's
        # guided backprop sets it on slices, and the limits must see a plain tensor
        self.model, self.net, self.inputs = model, model.model, inputs.clone()
        self._relu_copy: nn.Module | None = None
        self._pgc_copy: nn.Module | None = None

    # -------------------------------------------------------------- pytorch-grad-cam
    def grad_cam(self, plan: Plan) -> Peer | None:
        try:
            import pytorch_grad_cam
        except ImportError:
            return Peer(na="not installed")
        net, inputs = self.net, self.inputs
        if plan.name in self.PGC_CAMS:
            cls = getattr(pytorch_grad_cam, self.PGC_CAMS[plan.name])
            layer = self.model.layer(plan.layer or self.model.cam_layer)
            note = None
            if plan.name == "scorecam":
                b, _, h, w = inputs.shape
                with torch.no_grad(), capture(net, [plan.layer or self.model.cam_layer], gradients=False) as records:
                    net(inputs[:1])
                c = tokens_to_grid(records[plan.layer or self.model.cam_layer].activation).shape[1]
                need = b * c * 4 * h * w * inputs.element_size()  # upsampled maps + masked inputs, all at once
                if need > 0.6 * available_bytes(inputs.device):
                    return Peer(na=f"needs ~{need / 2**30:.0f} GiB: it builds all B x C masked inputs at once")
                note = "pytorch-grad-cam Score-CAM: batch_size set to ours; one image at a time, a host sync (.item()) per masked input"
            batch = peer_chunk(get_method("scorecam").params().internal_batch_size, plan)

            def call() -> None:
                with cls(model=net, target_layers=[layer]) as cam:
                    if plan.name == "scorecam":
                        cam.batch_size = batch
                    cam(input_tensor=inputs, targets=None)

            return Peer(run=timer(call), note=note)
        if plan.name == "guided_backprop":
            if clamped_relus(net) or not relus(net):
                return Peer(na="replaces nn.ReLU modules only; this model's are ReLU6")
            from pytorch_grad_cam import GuidedBackpropReLUModel

            if self._pgc_copy is None:
                self._pgc_copy = copy.deepcopy(net)  # it swaps the model's ReLU modules in and out
            guided = GuidedBackpropReLUModel(self._pgc_copy, device=inputs.device)

            def call_each() -> None:
                for i in range(inputs.shape[0]):
                    guided(inputs[i : i + 1], target_category=None)

            return Peer(run=timer(call_each), note="pytorch-grad-cam GuidedBackpropReLUModel takes one image per call: looped over the batch")
        return None

    # -------------------------------------------------------------- Captum
    def _modified_relu_net(self) -> tuple[nn.Module | None, str | None]:
        """The model for Captum's modified-ReLU methods (which hook nn.ReLU modules)."""
        net = self.net
        if clamped_relus(net):
            if self._relu_copy is None:
                model = copy.deepcopy(net)
                for module in list(model.modules()):
                    for child_name, child in module.named_children():
                        if isinstance(child, nn.ReLU6):
                            setattr(module, child_name, _ReLU6SeenAsReLU())
                self._relu_copy = model
            return self._relu_copy, "Captum's modified-ReLU methods hook nn.ReLU only: timed on a copy whose ReLU6 modules are presented as nn.ReLU (same forward)"
        if not relus(net):
            return None, "no nn.ReLU modules: Captum's rule would change nothing"
        return net, None

    def captum(self, plan: Plan) -> Peer | None:
        try:
            import captum.attr as ca
            from captum.attr import LayerAttribution
        except ImportError:
            return Peer(na="not installed")
        net, inputs, model = self.net, self.inputs, self.model
        b, _, h, w = inputs.shape
        name = plan.name
        params = get_method(name).params(**plan.params)

        def pred() -> torch.Tensor:  # Captum needs the class before it starts
            with torch.no_grad():
                return net(inputs).argmax(dim=1)

        note = None
        if name == "gradcam":
            layer = model.layer(model.cam_layer)

            def call() -> torch.Tensor:
                cam = ca.LayerGradCam(net, layer).attribute(inputs, target=pred(), relu_attributions=True)
                return LayerAttribution.interpolate(cam, (h, w), interpolate_mode="bilinear")[:, 0]
        elif name == "saliency":
            call = lambda: ca.Saliency(net).attribute(inputs, target=pred(), abs=True).amax(dim=1)  # noqa: E731
        elif name == "gradient_x_input":
            call = lambda: ca.InputXGradient(net).attribute(inputs, target=pred()).sum(dim=1)  # noqa: E731
        elif name in ("guided_backprop", "deconvnet", "guided_gradcam"):
            relu_net, note = self._modified_relu_net()
            if relu_net is None:
                return Peer(na=note)
            if name == "guided_gradcam":
                layer = dict(relu_net.named_modules())[model.cam_layer]

                def call() -> torch.Tensor:
                    out = ca.GuidedGradCam(relu_net, layer).attribute(inputs, target=pred(), interpolate_mode="bilinear")
                    return out.abs().amax(dim=1)
            else:
                cls = ca.GuidedBackprop if name == "guided_backprop" else ca.Deconvolution
                call = lambda: cls(relu_net).attribute(inputs, target=pred()).abs().amax(dim=1)  # noqa: E731
        elif name == "integrated_gradients":
            from xwidgets.saliency.integrated_gradients import make_baselines

            baselines = make_baselines(model, inputs, params).contiguous()
            if params.rule not in ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"):
                return Peer(na=f"rule {params.rule}")

            def call() -> torch.Tensor:
                out = ca.IntegratedGradients(net).attribute(
                    inputs, baselines=baselines, target=pred(), n_steps=params.steps, method=params.rule,
                    internal_batch_size=params.internal_batch_size,
                )
                return out.sum(dim=1)
        elif name in ("smoothgrad", "vargrad"):
            if params.base != "saliency":
                return Peer(na=f"base {params.base}")
            flat = inputs.flatten(1)
            stdev = float((params.sigma * (flat.amax(dim=1) - flat.amin(dim=1))).mean())  # ours is per image
            per = max(1, params.internal_batch_size // b)

            def call() -> torch.Tensor:
                out = ca.NoiseTunnel(ca.Saliency(net)).attribute(
                    inputs, nt_type=name, nt_samples=params.n_samples, nt_samples_batch_size=per, stdevs=stdev,
                    target=pred(), abs=False,
                )
                return out.abs().amax(dim=1)
        elif name == "occlusion":
            if params.baseline != "zero":
                return Peer(na=f"baseline {params.baseline}")
            (wh, ww) = (params.window,) * 2 if isinstance(params.window, int) else tuple(params.window)
            (sh, sw) = (params.stride,) * 2 if isinstance(params.stride, int) else tuple(params.stride)
            per = max(1, peer_chunk(params.internal_batch_size, plan) // b)

            def call() -> torch.Tensor:
                with torch.no_grad():
                    out = ca.Occlusion(net).attribute(
                        inputs, sliding_window_shapes=(3, wh, ww), strides=(3, sh, sw), baselines=0.0,
                        target=pred(), perturbations_per_eval=per,
                    )
                return out.mean(dim=1)
        else:
            return None
        return Peer(run=timer(lambda: call().detach().cpu()), note=note)


# ---------------------------------------------------------------------------- the tables


def peer_chunk(internal_batch_size: int | str, plan: Plan) -> int:
    """The rows per forward a peer gets: ours when it is fixed; with "auto", the
    limit's best chunk (the peers have no tuning of their own)."""
    if isinstance(internal_batch_size, int):
        return internal_batch_size
    return plan.limit.chunk if isinstance(plan.limit, ForwardsLimit) else 32


def ms(seconds: float) -> str:
    value = seconds * 1e3
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def cell(result: float | str | None, limit: float | str | None) -> tuple[str, str]:
    """(ms, ratio) cells: a time and its ratio to the limit, or n/a with the reason."""
    if result is None:
        return "—", "—"
    if isinstance(result, str):
        return f"n/a ({result})", ""
    ratio = f"{result / limit:.2f}" if isinstance(limit, float) and limit > 0 else ""
    return ms(result), ratio


class Notes:
    """Numbered notes under a table; the same text gets the same number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str | None) -> str:
        if not text:
            return ""
        if text not in self.texts:
            self.texts.append(text)
        return f" [{self.texts.index(text) + 1}]"

    def render(self) -> list[str]:
        return [f"{i}. {text}" for i, text in enumerate(self.texts, 1)]


def device_text(device: torch.device) -> str:
    """``_results.machine()``, or the CPU's description when a GPU machine runs on its CPU."""
    if device.type == "cpu" and torch.cuda.is_available():
        import platform

        return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), torch {torch.__version__}"
    return machine()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_model(name: str, device: torch.device) -> xw.ModelAdapter:
    if name == "efficientnet_lite0":
        model = xw.models.efficientnet_lite0()
    else:
        import torchvision

        torch.manual_seed(0)
        model = xw.wrap(torchvision.models.get_model(name, weights=None), name=name)
    model.model.eval()
    return model.to(device)


def batch_of(model: xw.ModelAdapter, size: int) -> torch.Tensor:
    photos = list(xw.data.sample_images().values())
    inputs, _ = model.prepare((photos * size)[:size])
    return inputs


def run_table(model_name: str, model: xw.ModelAdapter, batch: int, methods: list[str], args: argparse.Namespace) -> str:
    inputs = batch_of(model, batch)
    b, _, h, w = inputs.shape
    tag = f"[{model_name} b{batch}]"
    began = time.perf_counter()
    notes = Notes()
    cam_layer = model.cam_layer

    reference = measure(
        {
            "forward": forward_limit(model, inputs),
            "cam": cam_limit(model, inputs, cam_layer),
            "input": input_limit(model, inputs),
        },
        args.repeats,
    )
    log(f"{tag} forward {cell(reference['forward'], None)[0]} ms, to `{cam_layer}` {cell(reference['cam'], None)[0]} ms, "
        f"to the input {cell(reference['input'], None)[0]} ms")
    rows = [
        f"| *forward only (no grad)* | | {cell(reference['forward'], None)[0]} | | | | | | | |",
        f"| *forward + backward to `{cam_layer}`* | | {cell(reference['cam'], None)[0]} | | | | | | | |",
        f"| *forward + backward to the input* | | {cell(reference['input'], None)[0]} | | | | | | | |",
    ]
    peers = Peers(model, inputs)
    for name in methods:
        start = time.perf_counter()
        try:
            with quiet():
                plan = plan_method(name, args, model_name, model, inputs)
        except Exception as error:
            log(f"{tag} {name}: could not set up: {describe(error)}")
            rows.append(f"| {name} | | n/a ({describe(error)}) | | | | | | | |")
            free_memory()
            continue
        entries: dict[str, Callable[[], float]] = {"ours": ours(model, inputs, plan)}
        if plan.limit is not None:
            entries["limit"] = plan.limit
        side: dict[str, Peer | None] = {}
        for peer, make in (("pgc", peers.grad_cam), ("captum", peers.captum)):
            try:
                side[peer] = make(plan)
            except Exception as error:
                side[peer] = Peer(na=describe(error))
            if side[peer] is not None and side[peer].run is not None:
                entries[peer] = side[peer].run
        result = measure(entries, args.repeats)
        limit = result.get("limit")
        ours_ms, ours_ratio = cell(result["ours"], limit)
        limit_ms = cell(limit, None)[0] if plan.limit is not None else "n/a (no limit defined)"
        target = ""
        if name in TARGETS and isinstance(limit, float) and isinstance(result["ours"], float):
            goal = TARGETS[name]
            target = f"≤ {goal:.2f}: {'yes' if result['ours'] / limit <= goal else '**no**'}"
        peer_cells = []
        for peer in ("pgc", "captum"):
            info = side.get(peer)
            if info is None:
                peer_cells += ["—", "—"]
            elif info.run is None:
                peer_cells += [f"n/a ({info.na})", ""]
            else:
                time_cell, ratio_cell = cell(result[peer], limit)
                peer_cells += [time_cell + notes.mark(info.note), ratio_cell]
        if name == "cam" and isinstance(result["ours"], float) and isinstance(reference["forward"], float):
            notes_text = (f"CAM itself needs no backward: {result['ours'] / reference['forward']:.2f}x the forward alone "
                          "(this run's reference row)")
            ours_ms += notes.mark(notes_text)
        settings = "; ".join(plan.settings)
        rows.append(f"| {name} | {settings} | {ours_ms} | {limit_ms} | {ours_ratio} | {target} | " + " | ".join(peer_cells) + " |")
        log(f"{tag} {name}: ours {ours_ms} ms, limit {limit_ms} ms, ratio {ours_ratio or '-'}; "
            f"pytorch-grad-cam {peer_cells[0]}; Captum {peer_cells[2]} ({time.perf_counter() - start:.1f} s)")
        del plan, entries
        free_memory()

    command = "python3 bench/saliency.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    quick = " **Quick smoke-test settings: not a benchmark.**" if args.quick else ""
    lines = [
        f"<!-- table {model_name} b{batch} -->",
        f"### {model_name}, batch {batch} ({h}x{w}, CAM layer `{cam_layer}`)\n",
        f"{device_text(inputs.device)}; median of {args.repeats} after a warm-up; {time.strftime('%Y-%m-%d')}; "
        f"{time.perf_counter() - began:.0f} s. Run: `{command.strip()}`.{quick}\n",
        "| method | settings | ms per batch | limit ms | ratio | target | pytorch-grad-cam ms | ratio | Captum ms | ratio |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    if notes.texts:
        lines += ["", *notes.render()]
    lines.append("<!-- /table -->")
    return "\n".join(lines)


HEADER = f"""## Saliency methods vs their limits and the peers

{TARGETS_TEXT}

Run: `python3 bench/saliency.py` (`--help` for the flags). Each method is timed through
`xw.explain(model, batch, method, target="pred")` (maps returned on the host), beside
its limit and beside pytorch-grad-cam and Captum where they have the method, same model,
same batch, same run; ratios are to the method's limit. Limits (parameters frozen, eval mode):

- **CAM methods** (gradcam, gradcampp, hirescam, layercam, cam): one forward plus a backward
  down to the CAM layer only (`capture(..., gradients=True)` + `torch.autograd.grad` to its leaf).
- **Input-gradient methods** (saliency, gradient_x_input, guided_backprop, deconvnet,
  guided_gradcam): one forward plus a backward to the input only.
- **integrated_gradients, smoothgrad, vargrad**: that forward + backward over all steps
  (samples) x images, in the chunks the method's internal batch size makes. The method's own
  clean forward (which fixes the "pred" class) is not in the limit.
- **scorecam, occlusion, rise**: the forwards they need, no grad: the clean forward of the
  batch plus B x channels, B x window positions, B x masks perturbed forwards at the fastest
  of a few chunk sizes (each timed on up to 3 forwards, the total extrapolated).
- **meaningful_perturbation, extremal_perturbation**: iterations x (forward + backward to a
  full-resolution mask) on the same rows (timed on 3 steps, scaled). Their initialisation
  (the circle search of meaningful perturbation), final forward and mask generators are not
  in the limit.

Peers: pytorch-grad-cam with `targets=None` (the top-1 class from its own forward); Captum
needs the class up front, so its time includes the separate no-grad forward that finds it.
"—": the peer has no such method; "n/a (reason)": it has, but could not be timed here.
"""


def merge_tables(new: dict[tuple[str, int], str]) -> dict[tuple[str, int], str]:
    """This run's tables plus the other model/batch tables already in the section."""
    text = _results.RESULTS.read_text() if _results.RESULTS.exists() else ""
    start, end = f"<!-- {SECTION}:start -->", f"<!-- {SECTION}:end -->"
    tables: dict[tuple[str, int], str] = {}
    if start in text and end in text:
        section = text.split(start, 1)[1].split(end, 1)[0]
        for match in re.finditer(r"<!-- table (\S+) b(\d+) -->\n.*?<!-- /table -->", section, re.S):
            tables[(match.group(1), int(match.group(2)))] = match.group(0)
    tables.update(new)
    return tables


def table_order(key: tuple[str, int]) -> tuple[int, str, int]:
    model, batch = key
    rank = MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER)
    return rank, model, batch


# ---------------------------------------------------------------------------- command line


def model_layer(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected MODEL=LAYER (e.g. resnet50=layer1); got {text!r}")
    model, layer = text.split("=", 1)
    return model.strip(), layer.strip()


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int; got {text}")
    return value


def int_list(text: str) -> str:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive ints; got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive ints; got {text!r}")
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="bench/saliency.py",
        description=doc.split("\n\n")[0] + "\n\n" + doc.split("\n\n", 1)[1].split("    python3")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python3 bench/saliency.py                         # every method, both models, batches 8 and 32\n"
            "  python3 bench/saliency.py --quick --models efficientnet_lite0 --batches 2   # smoke test\n"
            "  python3 bench/saliency.py --models resnet50 --batches 32 --methods gradcam,integrated_gradients\n"
            "  python3 bench/saliency.py --ig-steps 16 --sg-samples 10 --rise-masks 500 \\\n"
            "      --occlusion-stride 15 --scorecam-layer efficientnet_lite0=stem_act --mp-iterations 20 --ep-iterations 20\n\n"
            "A run replaces the tables of the model/batch pairs it measured in the 'saliency'\n"
            "section of bench/RESULTS.md and keeps the others, so measure all the methods of a\n"
            "model and batch in one run. Every setting that differs from the method's\n"
            "published default is stated in the table's settings column."
        ),
    )
    parser.add_argument("--models", default=None, help=f"comma-separated: efficientnet_lite0 (bundled, real weights) and/or any torchvision classifier name (random weights), default {DEFAULT_MODELS}")
    parser.add_argument("--batches", type=int_list, default=None, help=f"comma-separated batch sizes, default {DEFAULT_BATCHES} (--quick: {QUICK['batches']})")
    parser.add_argument("--methods", default=None, help="comma-separated registered method names, default all of them (xw.list_methods())")
    parser.add_argument("--repeats", type=positive, default=None, help=f"timed repeats after one warm-up; the median is reported; default {DEFAULT_REPEATS} (--quick: {QUICK['repeats']})")
    parser.add_argument("--quick", action="store_true", help="smoke test: batch 2, one repeat, and reduced steps/samples/masks/iterations, a coarse occlusion grid and a Score-CAM layer with few channels (each overridable by its own flag); prints only unless --write")
    parser.add_argument("--ig-steps", type=positive, default=None, help=f"Integrated Gradients steps (default: the method's, 50; --quick: {QUICK['ig_steps']})")
    parser.add_argument("--sg-samples", type=positive, default=None, help=f"SmoothGrad and VarGrad noisy samples per image (default: the method's, 50; --quick: {QUICK['sg_samples']})")
    parser.add_argument("--rise-masks", type=positive, default=None, help=f"RISE masks per image (default: the method's, 8000; --quick: {QUICK['rise_masks']})")
    parser.add_argument("--occlusion-window", type=positive, default=None, help=f"occlusion window, pixels (default: the method's, 15; --quick: {QUICK['occlusion_window']})")
    parser.add_argument("--occlusion-stride", type=positive, default=None, help=f"occlusion stride, pixels (default: the method's, 8, i.e. 28 x 28 positions at 224 px; --quick: {QUICK['occlusion_stride']})")
    parser.add_argument("--scorecam-layer", type=model_layer, action="append", default=None, metavar="MODEL=LAYER", help="Score-CAM's layer for a model (repeatable; default: the model's CAM layer, e.g. 1280 channels on efficientnet_lite0, 2048 on resnet50; --quick: " + ", ".join(f"{m}={l}" for m, l in QUICK_SCORECAM_LAYERS.items()) + ")")
    parser.add_argument("--mp-iterations", type=positive, default=None, help=f"meaningful perturbation iterations (default: the method's, 300; --quick: {QUICK['mp_iterations']})")
    parser.add_argument("--ep-iterations", type=positive, default=None, help=f"extremal perturbation iterations (default: the method's, 800; --quick: {QUICK['ep_iterations']})")
    parser.add_argument("--chunk-sizes", type=int_list, default=None, help=f"rows per forward tried for the limit of Score-CAM, occlusion and RISE (the fastest counts), default {DEFAULT_CHUNKS} (--quick: {QUICK['chunk_sizes']})")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--threads", type=positive, default=None, help="torch CPU threads (default: torch's, %d here); the table's device line states the number" % torch.get_num_threads())
    write = parser.add_mutually_exclusive_group()
    write.add_argument("--write", dest="write", action="store_true", default=None, help="update bench/RESULTS.md (the default, except with --quick)")
    write.add_argument("--no-write", dest="write", action="store_false", help="print the tables only")
    args = parser.parse_args(argv)

    quick = QUICK if args.quick else {}
    args.models = args.models or DEFAULT_MODELS
    args.batches = args.batches or quick.get("batches", DEFAULT_BATCHES)
    args.repeats = args.repeats or quick.get("repeats", DEFAULT_REPEATS)
    args.chunk_sizes = args.chunk_sizes or quick.get("chunk_sizes", DEFAULT_CHUNKS)
    for key in ("ig_steps", "sg_samples", "rise_masks", "occlusion_window", "occlusion_stride", "mp_iterations", "ep_iterations"):
        if getattr(args, key) is None:
            setattr(args, key, quick.get(key))
    layers = dict(QUICK_SCORECAM_LAYERS) if args.quick else {}
    layers.update(dict(args.scorecam_layer or []))
    args.scorecam_layer = list(layers.items())
    if args.write is None:
        args.write = not args.quick

    registered = [spec.name for spec in list_methods()]
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        for name in wanted:
            if name not in registered:
                close = difflib.get_close_matches(name, registered, n=3, cutoff=0.4)
                parser.error(f"--methods: unknown method {name!r}" + (f"; did you mean {', '.join(close)}?" if close else f"; registered: {', '.join(registered)}"))
        args.methods = wanted
    else:
        args.methods = order_methods(registered)
    return args


def order_methods(names: list[str]) -> list[str]:
    """The registered methods, grouped by limit (CAM, input gradient, sampled, forwards,
    mask optimisation), then any other registered method."""
    known = [*CAM_METHODS, *INPUT_GRADIENT_METHODS, *SAMPLED_METHODS, *FORWARD_METHODS, *MASK_METHODS]
    return [n for n in known if n in names] + sorted(n for n in names if n not in known)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    batches = [int(b) for b in args.batches.split(",")]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    log(f"{device_text(device)}; models {models}, batches {batches}, {len(args.methods)} methods, {args.repeats} repeat(s)")
    tables: dict[tuple[str, int], str] = {}
    for model_name in models:
        model = load_model(model_name, device)
        for batch in batches:
            tables[(model_name, batch)] = run_table(model_name, model, batch, args.methods, args)
            free_memory()
        del model
        free_memory()
    printed = HEADER + "\n" + "\n\n".join(tables[key] for key in sorted(tables, key=table_order))
    print(printed)
    if args.write:
        merged = merge_tables(tables)
        write_section(SECTION, HEADER + "\n" + "\n\n".join(merged[key] for key in sorted(merged, key=table_order)))
        log(f"updated the '{SECTION}' section of {_results.RESULTS}")


if __name__ == "__main__":
    main()
