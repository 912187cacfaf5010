"""Grad-CAM: time against the forward-plus-backward limit and against the peers.

Same model (EfficientNet-Lite0, the bundled real ImageNet classifier), same batch,
same layer, one run. The limit is one forward plus one backward of the batch to the
input (parameters frozen). Median of repeats after a warm-up.

    python bench/bench_gradcam.py [--batch 8] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _results import machine, write_section  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.models import frozen_eval  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = xw.models.efficientnet_lite0().to(device)
    photos = list(xw.data.sample_images().values())
    images = (photos * args.batch)[: args.batch]
    inputs, _ = model.prepare(images)
    targets = model.predict(inputs).argmax(1).tolist()
    net, layer = model.model, model.layer(model.cam_layer)

    def limit():
        with frozen_eval(net):
            x = inputs.clone().requires_grad_(True)
            logits = net(x)
            logits.gather(1, torch.tensor(targets, device=device)[:, None]).sum().backward()

    def forward_only():
        with torch.no_grad(), frozen_eval(net):
            net(inputs)

    def ours():
        xw.explain(model, inputs, method="gradcam", target=targets, batch_size=args.batch)

    rows = [("forward only", timed(forward_only, args.repeats)), ("forward + backward (limit)", timed(limit, args.repeats))]
    rows.append(("xwidgets gradcam", timed(ours, args.repeats)))
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        def grad_cam_peer():
            with GradCAM(model=net, target_layers=[layer]) as cam:
                cam(input_tensor=inputs, targets=[ClassifierOutputTarget(t) for t in targets])

        rows.append(("pytorch-grad-cam GradCAM", timed(grad_cam_peer, args.repeats)))
    except ImportError:
        pass
    try:
        from captum.attr import LayerAttribution, LayerGradCam

        def captum_peer():
            attribution = LayerGradCam(net, layer).attribute(inputs, target=targets, relu_attributions=True)
            LayerAttribution.interpolate(attribution, inputs.shape[-2:], interpolate_mode="bilinear")

        rows.append(("captum LayerGradCam", timed(captum_peer, args.repeats)))
    except ImportError:
        pass

    limit_time = rows[1][1]
    table = [
        f"## Grad-CAM vs its limit and the peers\n",
        f"EfficientNet-Lite0, batch {args.batch} at 224x224, layer `{model.cam_layer}`, median of {args.repeats}; {machine()}.",
        "Run: `python bench/bench_gradcam.py`\n",
        "| what | ms per batch | ratio to limit |",
        "| --- | ---: | ---: |",
    ]
    table += [f"| {name} | {seconds * 1e3:.1f} | {seconds / limit_time:.2f} |" for name, seconds in rows]
    table.append(
        "\nxwidgets starts the autograd graph at the CAM layer (parameters frozen), so its backward pass "
        "covers only the layers above it: it can run below the full forward+backward limit."
    )
    body = "\n".join(table)
    print(body)
    write_section("gradcam", body)


if __name__ == "__main__":
    main()
