#!/usr/bin/env python3
"""Train the aspect models shipped in xwidgets/models/zoo/weights/ (seed 001, aspect presence).

* ``--segmenter``: the multi-aspect segmenter ``aspect_segmenter.pt`` (every part type and
  the corner tag) on fresh synthetic images each epoch (seeds ``40_000 + epoch``; about
  half the images carry the tag, in every class). Half of each batch is multiplied, in
  the normalised input space, by a random smooth mask (``random_smooth_masks``) and its
  targets are cut to the kept pixels, so the segmenter reads masked inputs (the
  masked representations it is applied to) as "only what is left".
* ``--mappings MODEL``: the mapping models from a toy classifier's layers to the
  segmenter's (``fit_mappings``; small U-Nets, 12 epochs; the candidate pairs whose grids
  are at most 32 px, ``--map-max-side``: the 64 px pairs are the shallowest and cost four
  times as much), trained by MSE on unlabelled images (seed 50_000),
  the pair chosen on held-out images (seed 8); writes
  ``aspect_mappings_<MODEL>.pt`` (the chosen pair's mapping and every pair's scores).

Each writes ``<name>.json`` next to the weights: the command, data seeds, seconds and the
held-out scores (segmenter: per-aspect pixel IoU and presence accuracy on seed 7, plain and
masked; mappings: every pair's held-out R^2).

    python scripts/train_aspect_models.py --segmenter
    python scripts/train_aspect_models.py --mappings toy_cnn
    python scripts/train_aspect_models.py --mappings toy_cnn_biased

CPU, ``--threads`` torch threads (default 1).
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

from xwidgets.aspects.recognisers import (  # noqa: E402
    INPUT_LAYER,
    SEGMENTER_WEIGHTS,
    AspectSegmenter,
    aspect_segmenter,
)
from xwidgets.aspects.synthetic import (  # noqa: E402
    SYNTHETIC_ASPECTS,
    aspect_dataset,
    random_smooth_masks,
    synthetic_images,
)
from xwidgets.models.zoo.toy import TOY_MEAN, TOY_STD  # noqa: E402

SEGMENTER_TEST_SEED = 7
SEGMENTER_TRAIN_SEED = 40_000
MAPPING_TRAIN_SEED = 50_000
MAPPING_TEST_SEED = 8


def normalise(images_u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    return ((x - torch.tensor(TOY_MEAN).view(1, 3, 1, 1)) / torch.tensor(TOY_STD).view(1, 3, 1, 1)).contiguous()


def soft_dice(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - the soft Dice coefficient per aspect over the batch, averaged over aspects (rare
    aspects such as the 4x4 corner tag weigh as much as large ones)."""
    p = torch.sigmoid(logits)
    inter = (p * y).sum(dim=(0, 2, 3))
    total = p.sum(dim=(0, 2, 3)) + y.sum(dim=(0, 2, 3))
    return (1 - (2 * inter + 1) / (total + 1)).mean()


def masked_batch(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, fraction: float):
    """Multiply a ``fraction`` of the batch by random smooth masks; cut their targets to
    the pixels kept (mask >= 0.5)."""
    n = x.shape[0]
    pick = torch.rand(n, generator=generator) < fraction
    if not bool(pick.any()):
        return x, y
    m = random_smooth_masks(int(pick.sum()), x.shape[-1], generator)
    x, y = x.clone(), y.clone()
    x[pick] = x[pick] * m
    y[pick] = y[pick] * (m >= 0.5).float()
    return x, y


@torch.no_grad()
def evaluate_segmenter(model: torch.nn.Module, n: int, seed: int, masked: bool, min_pixels: int) -> dict:
    """Per-aspect pixel IoU and presence accuracy on held-out images (optionally masked)."""
    images, masks = aspect_dataset(n, seed=seed)
    x, y = normalise(images), torch.from_numpy(masks).float()
    if masked:
        x, y = masked_batch(x, y, torch.Generator().manual_seed(seed), 1.0)
    model.eval()
    probs = torch.cat([torch.sigmoid(model(x[i: i + 200])) for i in range(0, n, 200)])
    pred = probs >= 0.5
    truth = y >= 0.5
    inter = (pred & truth).flatten(2).sum(2).sum(0).float()
    union = (pred | truth).flatten(2).sum(2).sum(0).float()
    score = probs.flatten(2).topk(min_pixels, dim=2).values[..., -1]
    present = truth.flatten(2).sum(2) >= min_pixels
    acc = ((score >= 0.5) == present).float().mean(0)
    return {
        "iou": {a: round(float(v), 4) for a, v in zip(SYNTHETIC_ASPECTS, inter / union.clamp_min(1))},
        "presence_accuracy": {a: round(float(v), 4) for a, v in zip(SYNTHETIC_ASPECTS, acc)},
        "mean_iou": round(float((inter / union.clamp_min(1)).mean()), 4),
        "mean_presence_accuracy": round(float(acc.mean()), 4),
    }


def train_segmenter(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    model = AspectSegmenter(len(SYNTHETIC_ASPECTS), width=args.width).to(memory_format=torch.channels_last)
    steps = args.n_train // args.batch_size
    total = steps * args.epochs
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / steps) * 0.5 * (1 + math.cos(math.pi * s / total)))
    generator = torch.Generator().manual_seed(args.seed)
    pos_weight = torch.full((len(SYNTHETIC_ASPECTS), 1, 1), args.pos_weight)
    print(f"aspect segmenter: {sum(p.numel() for p in model.parameters()):,} parameters, {args.epochs} epochs x "
          f"{steps} steps of {args.batch_size}, {args.threads} threads", flush=True)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        images, masks = aspect_dataset(steps * args.batch_size, seed=SEGMENTER_TRAIN_SEED + epoch)
        losses = []
        for step in range(steps):
            sl = slice(step * args.batch_size, (step + 1) * args.batch_size)
            x, y = normalise(images[sl]), torch.from_numpy(masks[sl]).float()
            x, y = masked_batch(x, y, generator, args.masked_fraction)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight) + soft_dice(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        quick = evaluate_segmenter(model, 350, SEGMENTER_TEST_SEED, False, args.min_pixels)
        print(f"epoch {epoch + 1}/{args.epochs}  loss {np.mean(losses):.4f}  quick mean IoU {quick['mean_iou']:.3f}  "
              f"presence acc {quick['mean_presence_accuracy']:.3f}  elapsed {time.perf_counter() - start:.0f}s",
              flush=True)
    seconds = time.perf_counter() - start
    model = model.to(memory_format=torch.contiguous_format).eval()
    plain = evaluate_segmenter(model, args.n_test, SEGMENTER_TEST_SEED, False, args.min_pixels)
    masked = evaluate_segmenter(model, args.n_test, SEGMENTER_TEST_SEED, True, args.min_pixels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / SEGMENTER_WEIGHTS.name
    torch.save({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, weights)
    card = {
        "model": "aspect_segmenter",
        "aspects": list(SYNTHETIC_ASPECTS),
        "architecture": f"AspectSegmenter(width={args.width}): encoder-decoder without skips, layers "
                        "stem (64 px), down1 (32), down2 (16), up1 (32), up2 (64), head",
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights": weights.name,
        "weights_bytes": weights.stat().st_size,
        "train_seconds": round(seconds, 1),
        "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
        "threads": args.threads,
        "train_data": {"images_per_epoch": steps * args.batch_size, "epochs": args.epochs,
                       "seeds": f"{SEGMENTER_TRAIN_SEED} + epoch", "tag_fraction": 0.5,
                       "masked_fraction": args.masked_fraction},
        "hyperparameters": {"optimiser": "AdamW", "lr": args.lr, "batch_size": args.batch_size,
                            "loss": f"BCE with pos_weight {args.pos_weight} + soft Dice per aspect",
                            "schedule": "warm-up 1 epoch, cosine",
                            "seed": args.seed, "min_pixels": args.min_pixels},
        "test_data": {"seed": SEGMENTER_TEST_SEED, "n": args.n_test},
        "held_out": plain,
        "held_out_masked": masked,
        "torch": torch.__version__,
    }
    (out / "aspect_segmenter.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: card[k] for k in ("train_seconds", "parameters")} | {
        "mean_iou": plain["mean_iou"], "mean_presence_accuracy": plain["mean_presence_accuracy"],
        "masked_mean_iou": masked["mean_iou"], "masked_mean_presence_accuracy": masked["mean_presence_accuracy"],
    }, indent=2), flush=True)
    return card


def train_mappings(args: argparse.Namespace) -> dict:
    import xwidgets as xw
    from xwidgets.aspects.mapping import candidate_pairs, fit_mappings

    model = getattr(xw.models, args.mappings)()
    aspects = aspect_segmenter()
    start = time.perf_counter()
    train = synthetic_images(args.map_train, seed=MAPPING_TRAIN_SEED)
    test = synthetic_images(args.map_test, seed=MAPPING_TEST_SEED)
    pairs = candidate_pairs(model, aspects)
    if args.map_max_side:  # leave out the (costly, shallowest) pairs above this grid side
        grids = {n: tuple(s[1:]) for n, s in _probe(model, aspects).items()}
        pairs = [(s, t) for s, t in pairs if max(*grids[("s", s)], *grids[("t", t)]) <= args.map_max_side]
    mapping = fit_mappings(model, aspects, train, test, pairs=pairs, kind=args.map_kind, epochs=args.map_epochs,
                           threshold=args.map_threshold, seed=args.seed)
    seconds = time.perf_counter() - start
    out = Path(args.out)
    path = out / f"aspect_mappings_{args.mappings}.pt"
    mapping.save(path)
    card = {
        "model": args.mappings,
        "aspect_model": "aspect_segmenter",
        "weights": path.name,
        "weights_bytes": path.stat().st_size,
        "train_seconds": round(seconds, 1),
        "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
        "threads": args.threads,
        "train_data": {"unlabelled_images": args.map_train, "epochs": args.map_epochs, "seed": MAPPING_TRAIN_SEED,
                       "images": "synthetic_images: clean variant, half with the corner tag",
                       "masked_fraction": 0.5},
        "test_data": {"seed": MAPPING_TEST_SEED, "n": args.map_test},
        "threshold": args.map_threshold,
        "mapping_kind": args.map_kind,
        "pairs_tried": "candidate_pairs(model, aspect_segmenter())"
                       + (f" with grids of at most {args.map_max_side} px" if args.map_max_side else ""),
        "chosen": list(mapping.chosen),
        "pairs": mapping.scores_table(),
        "torch": torch.__version__,
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2), flush=True)
    return card


def _probe(model, aspects) -> dict:
    """Output shapes of every candidate layer, keyed ("s", source) and ("t", target)."""
    from xwidgets.aspects.mapping import _aspect_grids, _grids, _spatial_children

    out = {("s", n): s for n, s in _grids(model, _spatial_children(model)).items()}
    out.update({("t", n): s for n, s in _aspect_grids(aspects, aspects.layers).items()})
    out[("s", INPUT_LAYER)] = out[("t", INPUT_LAYER)] = (3, 0, 0)
    return out


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segmenter", action="store_true", help="train the multi-aspect segmenter")
    parser.add_argument("--mappings", choices=("toy_cnn", "toy_cnn_biased"), help="train mappings from this model")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--n-train", type=int, default=6144, help="segmenter images per epoch")
    parser.add_argument("--n-test", type=int, default=1400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--pos-weight", type=float, default=3.0)
    parser.add_argument("--masked-fraction", type=float, default=0.5)
    parser.add_argument("--min-pixels", type=int, default=6)
    parser.add_argument("--map-train", type=int, default=1536, help="mapping: unlabelled images per epoch")
    parser.add_argument("--map-test", type=int, default=350, help="mapping: held-out images")
    parser.add_argument("--map-epochs", type=int, default=12)
    parser.add_argument("--map-kind", choices=("conv", "unet"), default="unet")
    parser.add_argument("--map-max-side", type=int, default=32,
                        help="only pairs whose grids are at most this side (0: every candidate pair)")
    parser.add_argument("--map-threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(SEGMENTER_WEIGHTS.parent))
    args = parser.parse_args(argv)
    if not args.segmenter and not args.mappings:
        parser.error("pass --segmenter and/or --mappings MODEL")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.segmenter:
        train_segmenter(args)
    if args.mappings:
        train_mappings(args)


if __name__ == "__main__":
    main()
