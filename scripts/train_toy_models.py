#!/usr/bin/env python3
"""Train the toy models shipped in xwidgets/models/zoo/weights/ on the synthetic parts dataset.

Reproduces ``toy_cnn.pt``, ``toy_vit.pt`` and ``toy_cnn_biased.pt`` and writes
``<name>.json`` next to each (held-out accuracies, the command, seconds, data seeds).
Data are generated on the fly: every epoch draws fresh images (training seeds
``10_000 * (seed + 1) + epoch``); held-out accuracy is measured on a separate test seed.

    python scripts/train_toy_models.py --model toy_cnn
    python scripts/train_toy_models.py --model toy_vit
    python scripts/train_toy_models.py --model toy_cnn_biased

CPU only, ``--threads`` torch threads (default 2).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xwidgets.data.synthetic import CLASSES, DEFAULT_BIASED_CLASS, SyntheticParts  # noqa: E402
from xwidgets.models.zoo.toy import (  # noqa: E402
    TOY_INPUT_SIZE,
    TOY_MEAN,
    TOY_MODELS,
    TOY_STD,
    WEIGHTS_DIR,
    build_toy_model,
)

#: Defaults per model: epochs, images per epoch, peak learning rate, weight decay, warm-up epochs.
DEFAULTS = {
    "toy_cnn": dict(epochs=12, n_train=12_000, lr=2e-3, weight_decay=0.05, warmup=1.0),
    "toy_cnn_biased": dict(epochs=12, n_train=12_000, lr=2e-3, weight_decay=0.05, warmup=1.0),
    "toy_vit": dict(epochs=20, n_train=10_000, lr=1e-3, weight_decay=0.05, warmup=2.0),
}
TEST_SEED = 1  # held-out test set; training seeds are >= 10_000
MAX_BYTES = 5 * 1024 * 1024


def normalise(images_u8: np.ndarray, channels_last: bool) -> torch.Tensor:
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean = torch.tensor(TOY_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TOY_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


@torch.no_grad()
def evaluate(model, dataset: SyntheticParts, channels_last: bool, batch: int = 500) -> tuple[float, list[float]]:
    """Accuracy and per-class accuracy of ``model`` on ``dataset``."""
    model.eval()
    preds, labels = [], []
    for start in range(0, len(dataset), batch):
        images, y = dataset.arrays(start, min(len(dataset), start + batch))
        preds.append(model(normalise(images, channels_last)).argmax(1).numpy())
        labels.append(y)
    p, y = np.concatenate(preds), np.concatenate(labels)
    per_class = [float((p[y == k] == k).mean()) if (y == k).any() else float("nan") for k in range(len(CLASSES))]
    return float((p == y).mean()), per_class


def train(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    name = args.model
    variant = "biased" if name == "toy_cnn_biased" else "clean"
    is_cnn = name != "toy_vit"
    model = build_toy_model(name, len(CLASSES))
    if is_cnn:
        model = model.to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = args.n_train // args.batch_size
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(args.warmup * steps_per_epoch))
    decay, no_decay = [], []
    for pname, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or pname.endswith(("pos_embedding", "class_token")) else decay).append(p)
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup))),
    )
    quick_test = SyntheticParts(700, seed=TEST_SEED, size=TOY_INPUT_SIZE, variant="clean")
    print(f"{name}: {n_params:,} parameters, {args.epochs} epochs x {steps_per_epoch} steps of {args.batch_size}, "
          f"variant {variant!r}, {args.threads} threads", flush=True)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        data = SyntheticParts(args.n_train, seed=10_000 * (args.seed + 1) + epoch, size=TOY_INPUT_SIZE, variant=variant)
        t0 = time.perf_counter()
        images, labels = data.arrays(0, steps_per_epoch * args.batch_size)
        gen_s = time.perf_counter() - t0
        order = torch.from_numpy(np.random.default_rng([args.seed, epoch]).permutation(len(labels)))
        y_all = torch.from_numpy(labels)
        losses, correct = [], 0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch_size: (step + 1) * args.batch_size]
            x, y = normalise(images[idx.numpy()], is_cnn), y_all[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            correct += int((logits.argmax(1) == y).sum())
        acc, per_class = evaluate(model, quick_test, is_cnn)
        print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {np.mean(losses):.4f}  train acc "
              f"{correct / (steps_per_epoch * args.batch_size):.4f}  quick test acc {acc:.4f}  "
              f"lr {schedule.get_last_lr()[0]:.2e}  data {gen_s:.1f}s  elapsed {time.perf_counter() - start:.0f}s\n"
              f"    per class: {' '.join(f'{c} {a:.2f}' for c, a in zip(CLASSES, per_class))}",
              flush=True)
    seconds = time.perf_counter() - start

    model = model.to(memory_format=torch.contiguous_format).eval()
    test_clean = SyntheticParts(args.n_test, seed=TEST_SEED, size=TOY_INPUT_SIZE, variant="clean")
    acc_clean, per_class_clean = evaluate(model, test_clean, False)
    report = {
        "model": name,
        "parameters": n_params,
        "accuracy_clean": acc_clean,
        "per_class_accuracy_clean": dict(zip(CLASSES, per_class_clean)),
    }
    if variant == "biased":
        for test_variant in ("biased", "shifted"):
            ds = SyntheticParts(args.n_test, seed=TEST_SEED, size=TOY_INPUT_SIZE, variant=test_variant)
            acc, per_class = evaluate(model, ds, False)
            report[f"accuracy_{test_variant}"] = acc
            report[f"per_class_accuracy_{test_variant}"] = dict(zip(CLASSES, per_class))
        report["biased_class"] = DEFAULT_BIASED_CLASS

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.pt"
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, weights)
    if weights.stat().st_size > MAX_BYTES:  # fall back to float16 to stay within the size limit
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
        torch.save(state, weights)
    report.update({
        "weights": weights.name,
        "weights_bytes": weights.stat().st_size,
        "weights_dtype": str(next(v for v in state.values() if v.is_floating_point()).dtype).replace("torch.", ""),
        "train_seconds": round(seconds, 1),
        "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
        "threads": args.threads,
        "train_data": {
            "variant": variant, "size": TOY_INPUT_SIZE, "images_per_epoch": steps_per_epoch * args.batch_size,
            "epochs": args.epochs, "seeds": f"10000 * ({args.seed} + 1) + epoch, epoch = 0..{args.epochs - 1}",
        },
        "test_data": {"seed": TEST_SEED, "n": args.n_test, "size": TOY_INPUT_SIZE},
        "hyperparameters": {
            "optimiser": "AdamW", "lr": args.lr, "weight_decay": args.weight_decay, "batch_size": args.batch_size,
            "schedule": f"linear warm-up {args.warmup} epochs, cosine decay", "label_smoothing": args.label_smoothing,
            "grad_clip": args.clip, "seed": args.seed,
        },
        "torch": torch.__version__,
    })
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if not k.startswith("per_class")}, indent=2), flush=True)
    return report


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=TOY_MODELS)
    parser.add_argument("--epochs", type=int, help="passes, each over fresh images (default per model)")
    parser.add_argument("--n-train", type=int, help="images per epoch (default per model)")
    parser.add_argument("--n-test", type=int, default=2100, help="held-out test images (default 2100)")
    parser.add_argument("--seed", type=int, default=0, help="torch and data seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, help="peak learning rate (default per model)")
    parser.add_argument("--weight-decay", type=float, help="AdamW weight decay (default per model)")
    parser.add_argument("--warmup", type=float, help="warm-up epochs (default per model)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clip, 0 for none")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="output folder (default: the package's weights/)")
    args = parser.parse_args(argv)
    for key, value in DEFAULTS[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.n_train < args.batch_size:
        parser.error(f"--n-train: expected at least --batch-size={args.batch_size}; got {args.n_train}")
    return args


if __name__ == "__main__":
    train(parse_args())
