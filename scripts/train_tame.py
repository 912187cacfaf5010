#!/usr/bin/env python3
"""Train the T-TAME and P-TAME explainers shipped for the bundled toy models.

Reproduces ``xwidgets/models/zoo/weights/tame_<kind>_<model>.pt`` (what
``xwidgets.saliency.tame.shipped_path`` looks for) and a ``.json`` report next to each
(settings, seconds, held-out pointing-game hit rates of the explainer and of Grad-CAM):

    python scripts/train_tame.py                                  # all four
    python scripts/train_tame.py --kind t_tame --model toy_cnn

T-TAME: Ntrougkas, Gkalelis & Mezaris, IEEE Access 2024. P-TAME: Ntrougkas, Mezaris &
Patras, IEEE OJSP 2025. The mechanism, loss and training loop are
``xwidgets/saliency/tame.py``; this script only chooses the data and the settings.

Data: fresh synthetic parts images (``SyntheticParts(images, seed=10_000)``, 64 px,
clean variant; the toy models' training seeds start at 10,000, so these are training
images), shuffled per epoch. Held out: seed 1 (the toy models' own test seed; the
tests use seed 2). The labels are ignored: TAME learns the classifier's predictions.

P-TAME's auxiliary extractor: the paper's ImageNet ResNet-18 is not available offline,
and ImageNet features do not fit 64 px synthetic images, so the extractor is the
bundled toy CNN (``layer1``..``layer4``: 32 to 128 channels at 64 to 8 px), trained on
the same synthetic images as the paper's extractor was on ImageNet. That is what
``tame._shipped_extractor`` reloads (a toy model named in the saved explainer). For
``toy_cnn`` the extractor is therefore the classifier itself.

Settings (chosen to take a few minutes per explainer on 2 CPU cores) and how they
differ from the published defaults (``TAMETraining.t_tame()`` / ``.p_tame()``):

* far fewer images: the papers train on ImageNet (1.28 M images; T-TAME 8 epochs,
  P-TAME 1); here 1 epoch over 960 synthetic images, batch 16 (60 steps). Three
  epochs over 320 images (the same steps, a checkpoint after each) lost one more
  class's map on T-TAME/toy_cnn (held-out hit rate 0.714 instead of 0.857);
* AdamW (amsgrad) with a one-cycle peak of 0.01 for both kinds, instead of T-TAME's
  SGD at 1e-3 and P-TAME's AdamW at 1e-4: at the published rates 60 steps barely move
  the attention mechanism (SGD at 0.01 to 0.05 reached 0.39 to 0.57 on T-TAME/toy_cnn);
* ``warmup=0.3`` (not in the papers): the area and smoothness weights rise from 0
  over the first 30 % of the steps. Without it the maps of some classes die in the
  first steps and never come back (T-TAME/toy_cnn: 3 of 7 classes, whatever the
  learning rate, optimiser, CE or area weight tried);
* toy_vit, T-TAME: ``class_token_gate=False``. The toy ViT's tokens times its class
  token reach a few hundred, so the sigmoid maps are saturated (constant over most of
  the image) even before training; without the gate the patch tokens are read as the
  paper's text describes;
* P-TAME uses the paper's ResNet-50 preset of loss weights and weight decay (CE
  0.161, area 0.839, no smoothness) for both toy models; the loss form, the area
  power, the border penalty and the masking are the published ones (T-TAME: CE 1.5,
  area 2, smoothness 0.01, the preprocessed input masked; P-TAME: the pixels masked,
  removed ones black).

A failure the pointing game shows: the toy CNN calls an empty (mean-coloured) image
``two_wheeler``, so T-TAME, whose masked pixels become the mean, gets no
cross-entropy signal to keep two_wheeler's wheels and that class's map dies.

``--threads`` torch threads (default 2), CPU only. A checkpoint is written after
every epoch to ``--checkpoint-dir`` and resumed from (``--no-resume`` starts over).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import xwidgets as xw  # noqa: E402
from xwidgets.data.synthetic import SyntheticParts  # noqa: E402
from xwidgets.saliency import tame  # noqa: E402
from xwidgets.saliency.p_tame import train_p_tame  # noqa: E402
from xwidgets.saliency.t_tame import train_t_tame  # noqa: E402

KINDS = tame.KINDS
MODELS = ("toy_cnn", "toy_vit")
TRAIN_SEED = 10_000
TEST_SEED = 1
MAX_BYTES = 2 * 1024 * 1024
#: per (kind, model): training images, epochs, batch size, peak learning rate, regulariser warm-up,
#: and T-TAME's class-token gate or P-TAME's loss preset
SETTINGS = {
    ("t_tame", "toy_cnn"): dict(images=960, epochs=1, batch_size=16, lr=0.01, warmup=0.3, class_token_gate=True),
    ("t_tame", "toy_vit"): dict(images=960, epochs=1, batch_size=16, lr=0.01, warmup=0.3, class_token_gate=False),
    ("p_tame", "toy_cnn"): dict(images=960, epochs=1, batch_size=16, lr=0.01, warmup=0.3, backbone="resnet50"),
    ("p_tame", "toy_vit"): dict(images=960, epochs=1, batch_size=16, lr=0.01, warmup=0.3, backbone="resnet50"),
}
EXTRACTOR = "toy_cnn"


def _model(name: str):
    return getattr(xw.models, name)()


def held_out(n: int) -> tuple[list[np.ndarray], list[int], np.ndarray]:
    """n held-out images (seed 1), their labels and their defining-part masks."""
    data = SyntheticParts(n, seed=TEST_SEED)
    images, labels = data.arrays()
    masks = np.stack([data.sample(i).evidence_mask for i in range(n)])
    return list(images), [int(y) for y in labels], masks


def hit_rate(model, images, labels, masks, method: str, **params) -> float:
    """Share of maps (for the true class) whose maximum lies on the defining parts."""
    result = xw.explain(model, images, method=method, target=labels, **params)
    return float(tame.pointing_game(result.maps, masks).mean())


def train_one(kind: str, name: str, args: argparse.Namespace) -> dict:
    settings = dict(SETTINGS[(kind, name)])
    for key in ("images", "epochs", "batch_size", "lr"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    model = _model(name)
    data = SyntheticParts(settings["images"], seed=TRAIN_SEED)
    overrides = dict(epochs=settings["epochs"], batch_size=settings["batch_size"], optimiser="adamw", lr=settings["lr"],
                     warmup=settings["warmup"], seed=args.seed)
    checkpoint = Path(args.checkpoint_dir) / f"tame_{kind}_{name}.ckpt"
    common = dict(checkpoint=checkpoint, resume=not args.no_resume, progress=True)
    print(f"{kind} for {name}: {settings['images']} images x {settings['epochs']} epoch(s), batch "
          f"{settings['batch_size']}, AdamW peak lr {settings['lr']}, warm-up {settings['warmup']}, {args.threads} "
          f"threads; checkpoint {checkpoint}", flush=True)
    start = time.perf_counter()
    if kind == "t_tame":
        explainer = train_t_tame(model, data, class_token_gate=settings["class_token_gate"], **common, **overrides)
    else:
        extractor = _model(EXTRACTOR)  # an adapter, so that the saved explainer names it ("toy_cnn")
        explainer = train_p_tame(model, data, extractor, backbone=settings["backbone"], **common, **overrides)
    seconds = time.perf_counter() - start

    images, labels, masks = held_out(args.n_test)
    hits = {kind: hit_rate(model, images, labels, masks, kind, explainer=explainer),
            "gradcam": hit_rate(model, images, labels, masks, "gradcam")}
    explainer.info.update(pointing_game_held_out={"seed": TEST_SEED, "n": args.n_test, **hits},
                          command=_command(kind, name))
    path = explainer.save(Path(args.out) / tame.shipped_path(kind, name).name)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes, above the {MAX_BYTES} allowed for a shipped explainer")
    report = {
        "kind": kind, "model": name, "extractor": EXTRACTOR if kind == "p_tame" else None,
        "layers": explainer.layers, "maps": list(explainer.attention.size),
        "weights": path.name, "weights_bytes": size,
        "train_seconds_total": round(explainer.info["train_seconds"], 1),
        "train_seconds_this_run": round(seconds, 1), "threads": args.threads,
        "train_data": {"seed": TRAIN_SEED, "images": settings["images"], "size": 64, "variant": "clean"},
        "training": explainer.info["training"], "history": explainer.history,
        "pointing_game_held_out": explainer.info["pointing_game_held_out"],
        "command": _command(kind, name), "torch": torch.__version__,
    }
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{kind} for {name}: trained in {seconds:.0f} s this run ({explainer.info['train_seconds']:.0f} s of "
          f"training in all); held-out pointing game ({args.n_test} images, seed {TEST_SEED}): "
          f"{kind} {hits[kind]:.3f}, Grad-CAM {hits['gradcam']:.3f}; {path} ({size / 1024:.0f} KiB)", flush=True)
    return report


def _command(kind: str, name: str) -> str:
    extra = [a for a in sys.argv[1:] if a not in ("--kind", "--model", *KINDS, *MODELS, "all")]
    return "python " + " ".join(shlex.quote(a) for a in
                                ["scripts/train_tame.py", "--kind", kind, "--model", name, *extra])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=(*KINDS, "all"), default="all")
    parser.add_argument("--model", choices=(*MODELS, "all"), default="all")
    parser.add_argument("--images", type=int, help="training images per epoch (default per explainer)")
    parser.add_argument("--epochs", type=int, help="passes over the images (default per explainer)")
    parser.add_argument("--batch-size", type=int, help="default per explainer")
    parser.add_argument("--lr", type=float, help="one-cycle peak learning rate (default per explainer)")
    parser.add_argument("--seed", type=int, default=0, help="data order and initial weights (default 0)")
    parser.add_argument("--n-test", type=int, default=350, help="held-out images for the pointing game (default 350)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--checkpoint-dir", default=str(ROOT / "build" / "tame_checkpoints"))
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--out", default=str(tame.shipped_path("t_tame", "toy_cnn").parent),
                        help="output folder (default: the package's weights/)")
    args = parser.parse_args(argv)
    for name in ("images", "epochs", "batch_size", "n_test", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive int; got {value}")
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    kinds = KINDS if args.kind == "all" else (args.kind,)
    models = MODELS if args.model == "all" else (args.model,)
    return [train_one(kind, name, args) for kind in kinds for name in models]


if __name__ == "__main__":
    main()
