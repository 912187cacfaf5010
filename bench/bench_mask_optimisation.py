#!/usr/bin/env python3
"""Mask-optimisation methods: batching, and cost against the limit (issue 4).

Methods: NeuroMask (Alzantot et al. 2019), I-GOS (Qi et al. 2020), iGOS++ (Khorram
et al. 2021), and meaningful (Fong and Vedaldi 2017) and extremal (Fong et al. 2019)
perturbation. Models: the bundled ``toy_cnn`` on 64 x 64 synthetic images
(``SyntheticParts``) and ``efficientnet_lite0`` on the sample photos (224 x 224),
with fewer iterations.

For each method and model, in one run:

* **16 together**: one ``xw.explain(model, batch, method, target="pred")`` call on
  the batch (``--batch``, 16), ``batch_size`` = the batch;
* **one at a time**: one call per image; its time is the sum over the batch's
  images (an image that appears several times in the batch, as the 4 sample photos
  do, is timed once and counted as often as it appears); "1 image" is that sum / B;
* **the limit** of each: the model passes the call really makes, each at the plain
  cost of the model. The passes are counted with hooks during the warm-up call
  (every forward of the model: its rows, whether a backward went through it) and
  counted again in every timed call, which must make the same passes.
  A forward with a backward is then timed as a plain forward + backward to the
  input (parameters frozen, eval mode, ``torch.autograd.grad`` of the summed top-1
  logits), a forward without as a plain no-grad forward, each at the rows it had;
  the limit is the sum of count x time over the (kind, rows) pairs, each pair timed
  on up to ``--samples`` passes per repeat. It covers every pass, the clean forward
  and the final scoring forwards included, but none of the method's own arithmetic
  (mask upsampling, regularisers, optimiser updates, blur baselines, noise draws):
  that is what the ratio measures.

Reported per method: 1 image (ms), its limit and ratio; 16 together (ms), its limit
and ratio; and 16 together / (16 x 1 image), the batching ratio (issue 4: "well
under 16 times one image", i.e. well under 1). The model's own batching ratio,
plain forward + backward of B rows / (B x 1 row), is printed above each table: no
method can batch better than its passes do.

The timings interleave: after the warm-up (the counting run) every repeat times the
batch call, the single-image calls and both limits in turn; medians are reported.

    python3 bench/bench_mask_optimisation.py                  # the benchmark (a few minutes on 2 cores)
    python3 bench/bench_mask_optimisation.py --quick          # smoke test, prints only
    python3 bench/bench_mask_optimisation.py --set igos.iterations=15 --set efficientnet_lite0/igos.ig_steps=20

Writes the ``mask_optimisation`` section of bench/RESULTS.md (one table per model; a
run replaces the tables of the models it measured and keeps the others) and prints
it. ``--quick`` prints only, unless ``--write`` is given.
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import difflib
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

import _results  # noqa: E402
from _results import model_layout, write_section  # noqa: E402
from saliency import describe, device_text, free_memory, log, ms, positive, quiet, sync  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.models import frozen_eval  # noqa: E402
from xwidgets.models.adapter import as_logits  # noqa: E402
from xwidgets.saliency import get_method, list_methods  # noqa: E402

SECTION = "mask_optimisation"
METHODS = ("neuromask", "igos", "igos_pp", "meaningful_perturbation", "extremal_perturbation")
MODELS = ("toy_cnn", "efficientnet_lite0")

#: issue 4's target: measured / limit
TARGET = 1.2

DEFAULT_BATCH = 16
DEFAULT_REPEATS = 3
DEFAULT_SAMPLES = 2

#: reduced settings (the published runs are long): per model, per method. Every
#: setting that differs from the method's default is stated in the table.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "toy_cnn": {
        "neuromask": dict(preset="cifar", iterations=30),
        "igos": dict(iterations=2, ig_steps=10),
        "igos_pp": dict(iterations=1, ig_steps=10),
        "meaningful_perturbation": dict(iterations=30),
        "extremal_perturbation": dict(iterations=20),
    },
    "efficientnet_lite0": {
        "neuromask": dict(iterations=5),
        "igos": dict(iterations=2, ig_steps=5),
        "igos_pp": dict(iterations=1, ig_steps=4),
        "meaningful_perturbation": dict(iterations=5),
        "extremal_perturbation": dict(iterations=5),
    },
}
#: --quick: a smoke test of the script, not a benchmark
QUICK_BATCH = 4
QUICK_SETTINGS: dict[str, dict[str, Any]] = {
    "neuromask": dict(iterations=3),
    "igos": dict(iterations=1, ig_steps=3),
    "igos_pp": dict(iterations=1, ig_steps=2),
    "meaningful_perturbation": dict(iterations=3),
    "extremal_perturbation": dict(iterations=3),
}


# ---------------------------------------------------------------------------- timing

#: the clock: wall time (``time.perf_counter``, the default) or, with ``--clock cpu``, this
#: process's CPU time (``time.process_time``), steadier on a shared machine (use it
#: with ``--threads 1``: with more threads it sums the threads' times)
TIMER: Callable[[], float] = time.perf_counter


def clock(fn: Callable[[], Any]) -> float:
    """Seconds of one call of ``fn`` by ``TIMER``, the device synchronised before and after."""
    sync()
    start = TIMER()
    fn()
    sync()
    return TIMER() - start


# ---------------------------------------------------------------------------- counting the model's passes

FORWARD = "forward"
FORWARD_BACKWARD = "forward+backward"
GRAPH_ONLY = "forward with a graph, no backward"


class PassCounter:
    """Every forward of the model's top module while active: its rows and whether a
    backward went through it (a hook on its output tensor fires in the backward)."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.net = net
        self.passes: list[list[Any]] = []  # [rows, built a graph, backward seen]

    def __enter__(self) -> "PassCounter":
        self.handle = self.net.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.handle.remove()

    def _hook(self, module: torch.nn.Module, args: tuple, output: Any) -> None:
        first = next((a for a in args if torch.is_tensor(a)), None)
        logits = as_logits(output)
        record = [int(first.shape[0] if first is not None else logits.shape[0]), logits.requires_grad, False]
        self.passes.append(record)
        if logits.requires_grad:
            logits.register_hook(lambda grad, record=record: record.__setitem__(2, True))

    def counts(self) -> collections.Counter:
        """(kind, rows) -> number of passes."""
        out: collections.Counter = collections.Counter()
        for rows, graph, backward in self.passes:
            out[(FORWARD_BACKWARD if backward else GRAPH_ONLY if graph else FORWARD, rows)] += 1
        return out


def scaled(counts: collections.Counter, factor: int) -> collections.Counter:
    return collections.Counter({key: n * factor for key, n in counts.items()})


def rows_of(counts: collections.Counter, kind: str) -> int:
    return sum(n * rows for (k, rows), n in counts.items() if k == kind)


def passes_of(counts: collections.Counter, kind: str) -> int:
    return sum(n for (k, _), n in counts.items() if k == kind)


class Limit:
    """The plain cost of a list of model passes: sum over (kind, rows) of the count
    times the mean of up to ``samples`` timed passes of that kind and rows (one
    estimate per call; the repeats give its median)."""

    def __init__(self, model: xw.ModelAdapter, images: torch.Tensor, classes: torch.Tensor,
                 counts: collections.Counter, samples: int) -> None:
        self.model, self.counts, self.samples = model, counts, samples
        most = max([rows for _, rows in counts] + [1])
        index = torch.arange(most, device=images.device) % images.shape[0]
        self.rows, self.classes = model_layout(images[index]), classes[index][:, None]

    def one(self, kind: str, n: int) -> float:
        """Seconds of one plain pass of ``kind`` on ``n`` rows."""
        model, rows, classes = self.model, self.rows[:n], self.classes[:n]
        if kind == FORWARD:
            def run() -> None:
                with torch.no_grad():
                    model.logits(rows)
        else:
            def run() -> None:
                with torch.enable_grad():
                    x = rows.detach().requires_grad_(True)
                    score = model.logits(x).gather(1, classes).sum()
                    if kind == FORWARD_BACKWARD:
                        torch.autograd.grad(score, x)
        with frozen_eval(model.model):
            return clock(run)

    def __call__(self) -> float:
        total = 0.0
        for (kind, n), count in self.counts.items():
            k = min(count, self.samples)
            total += count * sum(self.one(kind, n) for _ in range(k)) / k
        return total


# ---------------------------------------------------------------------------- one method on one model


@dataclasses.dataclass
class Row:
    method: str
    settings: str
    batch_counts: collections.Counter
    single_counts: collections.Counter  # summed over the batch's images
    times: dict[str, float]


def images_for(model_name: str, model: xw.ModelAdapter, batch: int) -> tuple[torch.Tensor, list[int]]:
    """The batch (model inputs) and, per image, which distinct image it is."""
    if model_name == "toy_cnn":
        from xwidgets.data.synthetic import SyntheticParts

        data = SyntheticParts(batch, seed=0)
        pictures = [data.sample(i).image for i in range(batch)]
        source = list(range(batch))
    else:
        photos = list(xw.data.sample_images().values())
        pictures = (photos * batch)[:batch]
        source = [i % len(photos) for i in range(batch)]
    inputs, _ = model.prepare(pictures)
    return inputs, source


def load_model(name: str, device: torch.device) -> xw.ModelAdapter:
    if name == "toy_cnn":
        model = xw.models.toy_cnn()
    elif name == "efficientnet_lite0":
        model = xw.models.efficientnet_lite0()
    else:
        raise ValueError(f"--models: expected names from {', '.join(MODELS)}; got {name!r}")
    model.model.eval()
    model = model.to(device)
    model.num_classes  # noqa: B018  (found by a one-off forward on first use: not in any counted call)
    return model


def describe_settings(name: str, params: dict[str, Any]) -> str:
    defaults = get_method(name).params()
    parts = []
    for key, value in params.items():
        if key == "progress":
            continue
        default = getattr(defaults, key, None)
        parts.append(f"{key} {value}" + (f" (default {default})" if default is not None and default != value else ""))
    return ", ".join(parts) or "defaults"


def run_method(name: str, params: dict[str, Any], model: xw.ModelAdapter, inputs: torch.Tensor, source: list[int],
               classes: torch.Tensor, args: argparse.Namespace, tag: str) -> Row:
    b = inputs.shape[0]
    kwargs = dict(params, progress=False)
    distinct = sorted(set(source))
    weight = {u: source.count(u) for u in distinct}
    first = {u: source.index(u) for u in distinct}

    def together() -> None:
        xw.explain(model, inputs, method=name, target="pred", batch_size=b, **kwargs)

    def single(u: int) -> Callable[[], None]:
        x = inputs[first[u] : first[u] + 1]
        return lambda: xw.explain(model, x, method=name, target="pred", batch_size=1, **kwargs)

    singles = {u: single(u) for u in distinct}

    def counted(fn: Callable[[], None], counts: collections.Counter) -> float:
        """Seconds of one call of ``fn``, its model passes added to ``counts``."""
        with PassCounter(model.model) as counter:
            seconds = clock(fn)
        counts.update(counter.counts())
        return seconds

    def run_together(counts: collections.Counter) -> float:
        return counted(together, counts)

    def run_singles(counts: collections.Counter) -> float:
        total = 0.0
        for u in distinct:
            alone: collections.Counter = collections.Counter()
            total += weight[u] * counted(singles[u], alone)
            counts.update(scaled(alone, weight[u]))
        return total

    # the warm-up is the counting run; every timed call is counted again (the hooks
    # cost microseconds per pass) and must make the same passes
    batch_counts: collections.Counter = collections.Counter()
    single_counts: collections.Counter = collections.Counter()
    with quiet():
        run_together(batch_counts)
        run_singles(single_counts)
    limits = {
        "limit_together": Limit(model, inputs, classes, batch_counts, args.samples),
        "limit_singles": Limit(model, inputs, classes, single_counts, args.samples),
    }
    for limit in limits.values():
        limit()  # its warm-up
    times: dict[str, list[float]] = {key: [] for key in ("together", "singles", *limits)}
    with quiet():
        for _ in range(args.repeats):
            seen: dict[str, collections.Counter] = {"together": collections.Counter(), "singles": collections.Counter()}
            times["together"].append(run_together(seen["together"]))
            times["singles"].append(run_singles(seen["singles"]))
            for key, limit in limits.items():
                times[key].append(limit())
            for key, expected in (("together", batch_counts), ("singles", single_counts)):
                if seen[key] != expected:
                    raise RuntimeError(f"{name}: the model passes of a timed call ({key}) differ from the warm-up's: "
                                       f"{dict(seen[key] - expected)} more, {dict(expected - seen[key])} fewer")
    result = {key: statistics.median(values) for key, values in times.items()}
    row = Row(name, describe_settings(name, params), batch_counts, single_counts, result)
    log(f"{tag} {name}: 1 image {ms(result['singles'] / b)} ms (limit {ms(result['limit_singles'] / b)}), "
        f"{b} together {ms(result['together'])} ms (limit {ms(result['limit_together'])}), "
        f"batching {result['together'] / result['singles']:.2f}")
    return row


# ---------------------------------------------------------------------------- the table


def pass_text(counts: collections.Counter, per: int) -> str:
    """"F fwd + G fwd+bwd rows" (per image when ``per`` > 1), and the number of passes."""
    f, g = rows_of(counts, FORWARD) / per, rows_of(counts, FORWARD_BACKWARD) / per
    text = f"{f:g} + {g:g}"
    other = rows_of(counts, GRAPH_ONLY)
    if other:
        text += f" + {other / per:g} graph-only"
    return text + f" ({passes_of(counts, FORWARD)} + {passes_of(counts, FORWARD_BACKWARD)} passes)"


def verdict(ratio: float) -> str:
    return f"{ratio:.2f}" + ("" if ratio <= TARGET else " **>1.2**")


def model_reference(model: xw.ModelAdapter, inputs: torch.Tensor, classes: torch.Tensor,
                    args: argparse.Namespace) -> dict[str, float]:
    """Plain forward + backward of 1 row and of B rows (and the forwards), medians."""
    b = inputs.shape[0]
    entries = {}
    for kind, key in ((FORWARD, "fwd"), (FORWARD_BACKWARD, "fb")):
        for n in (1, b):
            entries[f"{key}{n}"] = Limit(model, inputs, classes, collections.Counter({(kind, n): 1}), 1)
    for fn in entries.values():
        fn()
    times: dict[str, list[float]] = {key: [] for key in entries}
    for _ in range(max(3, args.repeats)):
        for key, fn in entries.items():
            times[key].append(fn())
    return {key: statistics.median(v) for key, v in times.items()}


def run_table(model_name: str, model: xw.ModelAdapter, args: argparse.Namespace) -> str:
    inputs, source = images_for(model_name, model, args.batch)
    b, _, h, w = inputs.shape
    began = time.perf_counter()
    with torch.no_grad(), frozen_eval(model.model):
        classes = model.logits(inputs).argmax(dim=1)
    tag = f"[{model_name} b{b}]"
    ref = model_reference(model, inputs, classes, args)
    model_batching = ref[f"fb{b}"] / (b * ref["fb1"])
    log(f"{tag} forward+backward: 1 row {ms(ref['fb1'])} ms, {b} rows {ms(ref[f'fb{b}'])} ms "
        f"({model_batching:.2f} of {b} x 1 row)")
    rows = []
    for name in args.methods:
        params = dict(SETTINGS.get(model_name, {}).get(name, {}))
        if args.quick:
            params.update(QUICK_SETTINGS.get(name, {}))
        for (m, method), values in args.overrides.items():
            if method == name and m in ("*", model_name):
                params.update(values)
        try:
            row = run_method(name, params, model, inputs, source, classes, args, tag)
        except Exception as error:  # a method failing on this model: record why
            log(f"{tag} {name}: failed: {describe(error)}")
            rows.append(f"| {name} | {describe_settings(name, params)} | n/a ({describe(error)}) | | | | | | | | |")
            free_memory()
            continue
        t = row.times
        one, one_limit = t["singles"] / b, t["limit_singles"] / b
        rows.append(
            f"| {name} | {row.settings} | {pass_text(row.single_counts, b)} | {pass_text(row.batch_counts, 1)} | "
            f"{ms(one)} | {ms(one_limit)} | {verdict(one / one_limit)} | "
            f"{ms(t['together'])} | {ms(t['limit_together'])} | {verdict(t['together'] / t['limit_together'])} | "
            f"{t['together'] / t['singles']:.2f} ({t['limit_together'] / t['limit_singles']:.2f}) |"
        )
        free_memory()

    command = "python3 bench/bench_mask_optimisation.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    quick = " **Quick smoke-test settings: not a benchmark.**" if args.quick else ""
    what = "synthetic parts images (`SyntheticParts(seed=0)`, all distinct)" if model_name == "toy_cnn" else \
        f"the {len(set(source))} sample photos, repeated"
    lines = [
        f"<!-- table {model_name} -->",
        f"### {model_name}, batch {b} ({h}x{w}): {what}\n",
        f"{device_text(inputs.device)}; {'CPU time of the process' if args.clock == 'cpu' else 'wall time'}, "
        f"median of {args.repeats} after a warm-up (the counting run); "
        f"{time.strftime('%Y-%m-%d')}; {time.perf_counter() - began:.0f} s. Run: `{command.strip()}`.{quick}\n",
        f"Plain forward + backward to the input: 1 row {ms(ref['fb1'])} ms, {b} rows {ms(ref[f'fb{b}'])} ms, so the "
        f"model itself batches at **{model_batching:.2f}** of {b} x 1 row; forward only: 1 row {ms(ref['fwd1'])} ms, "
        f"{b} rows {ms(ref[f'fwd{b}'])} ms.\n",
        f"| method | settings | model rows per image, one at a time: fwd + fwd+bwd (passes for all {b}) | "
        f"rows, {b} together: fwd + fwd+bwd (passes) | 1 image ms | limit ms | ratio | {b} together ms | limit ms | "
        f"ratio | {b} together / ({b} x 1 image) (the limits': their passes' own) |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "<!-- /table -->",
    ]
    return "\n".join(lines)


HEADER = f"""## Mask-optimisation methods: batching and cost against the limit

Issue 4: optimising {DEFAULT_BATCH} images together costs well under {DEFAULT_BATCH} times one
image; measured / limit at most {TARGET} ("**>1.2**" marks a miss).

Run: `python3 bench/bench_mask_optimisation.py` (`--help` for the flags). Each method is
timed through `xw.explain(model, images, method, target="pred")` (maps returned on the
host): once with all B images together, and once per image (an image repeated in the batch
is timed once and counted as often as it appears; "1 image" is the sum / B). The **limit**
of each is the model passes that call really makes, counted with a forward hook (and a hook
on the output for the backward) during the warm-up and checked in every timed call, each
timed as a plain pass of the same model on the same number of rows in the same run (a
no-grad forward, or a forward + backward to the input, parameters frozen) times its count.
So the limit holds every pass (the clean forward, I-GOS's integrated-gradient chunks and
line-search forwards, the final scoring forwards) and the ratio is the method's own
overhead (mask upsampling, regularisers, optimiser updates, blur, noise, host
synchronisations). The rows columns give the rows the model saw per image (one at a time)
and for the whole batch, forward-only + forward-and-backward, with the number of passes in
brackets. The last column is the batching ratio of the method and, in brackets, of its
limits (what its passes alone gain from batching). The iteration counts are reduced from
the published ones (stated per row); the ratios change little with them, as the limit
counts the fixed passes too (the clean forward, meaningful perturbation's circle search,
the final forwards).
"""


def merge_tables(new: dict[str, str]) -> dict[str, str]:
    """This run's tables plus the other models' tables already in the section."""
    text = _results.RESULTS.read_text() if _results.RESULTS.exists() else ""
    start, end = f"<!-- {SECTION}:start -->", f"<!-- {SECTION}:end -->"
    tables: dict[str, str] = {}
    if start in text and end in text:
        section = text.split(start, 1)[1].split(end, 1)[0]
        for match in re.finditer(r"<!-- table (\S+) -->\n.*?<!-- /table -->", section, re.S):
            tables[match.group(1)] = match.group(0)
    tables.update(new)
    return tables


def table_order(model: str) -> tuple[int, str]:
    return (MODELS.index(model) if model in MODELS else len(MODELS), model)


# ---------------------------------------------------------------------------- command line


def override(text: str) -> tuple[tuple[str, str], dict[str, Any]]:
    """``[MODEL/]METHOD.PARAM=VALUE`` -> ((model or "*", method), {param: value})."""
    match = re.fullmatch(r"(?:([\w]+)/)?(\w+)\.(\w+)=(.+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected [MODEL/]METHOD.PARAM=VALUE (e.g. igos.iterations=15); got {text!r}")
    model, method, param, value = match.groups()
    if method not in METHODS:
        raise argparse.ArgumentTypeError(f"unknown method {method!r} in {text!r}; expected one of {', '.join(METHODS)}")
    if model is not None and model not in MODELS:
        raise argparse.ArgumentTypeError(f"unknown model {model!r} in {text!r}; expected one of {', '.join(MODELS)}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # a plain string, e.g. preset=imagenet
    return (model or "*", method), {param: parsed}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    settings = "; ".join(f"{m}: " + ", ".join(f"{k} {describe_kw(v)}" for k, v in s.items()) for m, s in SETTINGS.items())
    parser = argparse.ArgumentParser(
        prog="bench/bench_mask_optimisation.py",
        description=doc.split("    python3")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python3 bench/bench_mask_optimisation.py              # both models, every method, batch 16\n"
            "  python3 bench/bench_mask_optimisation.py --quick      # smoke test (batch 4, 1 repeat, tiny settings)\n"
            "  python3 bench/bench_mask_optimisation.py --models toy_cnn --methods igos,igos_pp --set igos.iterations=15\n\n"
            f"Default reduced settings: {settings}.\n"
        ),
    )
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)} (default both)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)} (default all)")
    parser.add_argument("--batch", type=positive, default=None, help=f"images optimised together (default {DEFAULT_BATCH}; --quick: {QUICK_BATCH})")
    parser.add_argument("--repeats", type=positive, default=None, help=f"timed repeats after the warm-up; medians are reported (default {DEFAULT_REPEATS}; --quick: 1)")
    parser.add_argument("--samples", type=positive, default=DEFAULT_SAMPLES, help=f"plain passes timed per (kind, rows) and repeat for the limit (default {DEFAULT_SAMPLES})")
    parser.add_argument("--set", dest="overrides", type=override, action="append", default=[], metavar="[MODEL/]METHOD.PARAM=VALUE",
                        help="a method parameter, for every model or for one (repeatable), e.g. igos.iterations=15, efficientnet_lite0/igos_pp.ig_steps=20")
    parser.add_argument("--quick", action="store_true", help="smoke test: batch 4, 1 repeat, 1 to 3 iterations; prints only unless --write")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default), or this process's CPU time: steadier on a shared machine, "
                             "with --threads 1 (CPU only)")
    parser.add_argument("--threads", type=positive, default=None, help="torch CPU threads (default torch's, %d here)" % torch.get_num_threads())
    write = parser.add_mutually_exclusive_group()
    write.add_argument("--write", dest="write", action="store_true", default=None, help="update bench/RESULTS.md (the default, except with --quick)")
    write.add_argument("--no-write", dest="write", action="store_false", help="print the tables only")
    args = parser.parse_args(argv)

    args.batch = args.batch or (QUICK_BATCH if args.quick else DEFAULT_BATCH)
    args.repeats = args.repeats or (1 if args.quick else DEFAULT_REPEATS)
    if args.write is None:
        args.write = not args.quick
    args.models = pick(parser, "--models", args.models, MODELS)
    registered = {spec.name for spec in list_methods()}
    args.methods = pick(parser, "--methods", args.methods, tuple(m for m in METHODS if m in registered))
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for key, values in args.overrides:
        merged.setdefault(key, {}).update(values)
    args.overrides = merged
    return args


def describe_kw(value: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)


def pick(parser: argparse.ArgumentParser, flag: str, text: str, known: tuple[str, ...]) -> list[str]:
    wanted = [v.strip() for v in text.split(",") if v.strip()]
    if not wanted:
        parser.error(f"{flag}: expected comma-separated names from {', '.join(known)}; got {text!r}")
    for name in wanted:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.4)
            parser.error(f"{flag}: unknown name {name!r}; expected one of {', '.join(known)}"
                         + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return wanted


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.clock == "cpu":
        if device.type != "cpu":
            raise SystemExit(f"--clock: 'cpu' times the process on the host; expected --device cpu, got {device}")
        global TIMER
        TIMER = time.process_time
    log(f"{device_text(device)}; models {args.models}, batch {args.batch}, methods {args.methods}, {args.repeats} repeat(s)")
    tables: dict[str, str] = {}
    for model_name in args.models:
        model = load_model(model_name, device)
        tables[model_name] = run_table(model_name, model, args)
        del model
        free_memory()
    print(HEADER + "\n" + "\n\n".join(tables[m] for m in sorted(tables, key=table_order)))
    if args.write:
        merged = merge_tables(tables)
        write_section(SECTION, HEADER + "\n" + "\n\n".join(merged[m] for m in sorted(merged, key=table_order)))
        log(f"updated the '{SECTION}' section of {_results.RESULTS}")


if __name__ == "__main__":
    main()
