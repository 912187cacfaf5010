"""A hand-made :class:`ExplanationData` from one synthetic image (``ExplanationData.example``).

The contributions are made up from the image's ground truth, not computed from a model:
it is a fixture for tests, benchmarks and tutorials until ``xwidgets.concepts`` and
``xwidgets.text`` produce real explanations. The shape of the data is what they will give.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validation import bad_argument

#: thirds of the image -> words
_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "centre", "right")


def _where(cx: float, cy: float, width: int, height: int) -> str:
    row = _ROWS[min(2, int(3 * cy / height))]
    col = _COLS[min(2, int(3 * cx / width))]
    if row == "middle" and col == "centre":
        return "the centre"
    if row == "middle":
        return f"the {col}"
    if col == "centre":
        return f"the {row}"
    return f"the {row} {col}"


def _relation(a: tuple[float, float], b: tuple[float, float]) -> str:
    """How the centroid ``a`` lies relative to ``b``."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if abs(dy) >= abs(dx):
        return "above" if dy > 0 else "below"
    return "left of" if dx > 0 else "right of"


class _Writer:
    """Builds a sentence and its spans piece by piece."""

    def __init__(self) -> None:
        self.text = ""
        self.spans: list[tuple[int, int, str, str]] = []

    def add(self, text: str, kind: str | None = None, ref: str | None = None) -> "_Writer":
        if kind is not None and ref is not None:
            self.spans.append((len(self.text), len(self.text) + len(text), kind, ref))
        self.text += text
        return self

    def sentence(self) -> dict[str, Any]:
        return {"text": self.text, "spans": list(self.spans)}


def _listing(items: list[str]) -> list[str]:
    """Separators of an English list of len(items) items: "", ", ", " and "."""
    return ["" if i == 0 else (" and " if i == len(items) - 1 else ", ") for i in range(len(items))]


def build_example(cls, *, index: int, size: int, num_classes: int, num_nodes: int | None, saliency: bool, seed: int):
    from ..data.synthetic import CLASS_SPECS, CLASSES, SyntheticParts

    for name, value, low in (("index", index, 0), ("num_classes", num_classes, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise bad_argument(name, f"an int >= {low}", value)
    if num_classes > len(CLASSES):
        raise bad_argument("num_classes", f"an int in [1, {len(CLASSES)}] (the synthetic classes)", num_classes)
    if num_nodes is not None and (isinstance(num_nodes, bool) or not isinstance(num_nodes, numbers.Integral) or num_nodes < 1):
        raise bad_argument("num_nodes", "None or an int >= 1", num_nodes)
    sample = SyntheticParts(n=index + 1, seed=seed, size=size).sample(index)
    height, width = sample.image.shape[:2]
    rng = np.random.default_rng([seed, index])

    # candidate classes: the true (predicted) one, then the others, those that share part
    # types with it first (the confusable ones: the swapped relation, the other lamp colour)
    true_types = set(CLASS_SPECS[sample.class_name].parts)
    others = [k for k in range(len(CLASSES)) if k != sample.label]
    others.sort(key=lambda k: (-len(true_types & set(CLASS_SPECS[CLASSES[k]].parts)), k))
    order = [sample.label] + others
    chosen = order[:num_classes]
    raw = np.sort(rng.dirichlet(np.ones(len(CLASSES))))[::-1] * 0.4
    probs = [0.6 + float(raw[0])] + [float(p) for p in raw[1:]]
    total = sum(probs)
    classes = [{"index": k, "label": CLASSES[k].replace("_", " "), "probability": probs[i] / total}
               for i, k in enumerate(chosen)]

    parts = list(sample.parts)
    if num_nodes is not None:
        parts = parts[:num_nodes]
    evidence = set(sample.evidence.part_ids)
    names = {p.id: f"{p.colour} {p.type}" for p in parts}
    shared = []
    for p in parts:
        shared.append({"id": f"n{p.id}", "name": names[p.id], "present": True, "box": p.box,
                       "centroid": p.centroid, "mask": sample.instance_mask == p.id})

    # edges: each part to its nearest neighbour, once per pair
    cents = {p.id: np.asarray(p.centroid) for p in parts}
    pairs: list[tuple[int, int]] = []
    for p in parts:
        others = [q for q in parts if q.id != p.id]
        if not others:
            continue
        q = min(others, key=lambda q: float(np.linalg.norm(cents[q.id] - cents[p.id])))
        pair = (min(p.id, q.id), max(p.id, q.id))
        if pair not in pairs:
            pairs.append(pair)
    true_relations = {(a, b) for a, _, b in sample.evidence.relations}
    for a, b in true_relations:  # the defining relation is always an edge
        if a in cents and b in cents and (min(a, b), max(a, b)) not in pairs:
            pairs.append((min(a, b), max(a, b)))
    edges = []
    for e, (a, b) in enumerate(pairs):
        if (b, a) in true_relations:
            a, b = b, a
        edges.append({"id": f"e{e + 1}", "source": f"n{a}", "target": f"n{b}",
                      "relation": _relation(tuple(cents[a]), tuple(cents[b])), "pair": (a, b)})

    # background regions to pad a graph to num_nodes (a 4x4 grid, emptiest cells first)
    cells = []
    step_y, step_x = height // 4, width // 4
    for r in range(4):
        for c in range(4):
            box = (c * step_x, r * step_y, (c + 1) * step_x if c < 3 else width, (r + 1) * step_y if r < 3 else height)
            region = np.zeros((height, width), dtype=bool)
            region[box[1]:box[3], box[0]:box[2]] = True
            region &= sample.instance_mask == 0
            cells.append((int(region.sum()), r * 4 + c, box, region))
    cells.sort(key=lambda t: (-t[0], t[1]))

    graphs = []
    true_spec = CLASS_SPECS[sample.class_name]
    for pos, k in enumerate(chosen):
        spec = CLASS_SPECS[CLASSES[k]]
        is_pred = k == sample.label
        nodes = []
        for i, base in enumerate(shared):
            pid = parts[i].id
            if is_pred:
                c = (0.9 - 0.15 * sorted(evidence).index(pid)) if pid in evidence else float(rng.uniform(-0.15, 0.15))
            elif pid in evidence:
                c = -0.35 - 0.05 * sorted(evidence).index(pid)
            elif parts[i].type in spec.parts:
                c = 0.25
            else:
                c = float(rng.uniform(-0.12, 0.12))
            nodes.append({**base, "contribution": round(c, 4)})
        absent = None
        if not is_pred:
            wanted = spec.parts[0]
            have = [p for p in parts if p.type == wanted and (spec.colour is None or p.colour == spec.colour)]
            missing = not have or (spec.count is not None and len(have) < spec.count) or (
                spec.kind == "relation" and any(t not in {p.type for p in parts} for t in spec.parts))
            if missing:
                label = spec.description.removeprefix("a ").removeprefix("an ")
                absent = {"id": f"a{k}", "name": label, "present": False, "contribution": -0.6}
                nodes.append(absent)
        if num_nodes is not None:
            for j, (_, cell, box, region) in enumerate(cells[: max(0, num_nodes - len(nodes))]):
                r, c = divmod(cell, 4)
                nodes.append({"id": f"r{cell}", "name": f"background ({_ROWS[min(2, r * 3 // 4)]} {_COLS[min(2, c * 3 // 4)]})",
                              "present": True, "box": box, "mask": region if region.any() else None,
                              "contribution": round(float(rng.uniform(-0.08, 0.08)), 4)})
        peak = max(abs(n["contribution"]) for n in nodes) or 1.0
        for n in nodes:
            n["importance"] = round(abs(n["contribution"]) / peak, 4)
        graph_edges = []
        for e in edges:
            a, b = e["pair"]
            if (a, b) in true_relations:
                c = 0.8 if is_pred else (-0.55 if spec.kind == "relation" else -0.2)
            elif spec.kind == "relation" and not is_pred and {parts_type(parts, a), parts_type(parts, b)} == set(spec.parts):
                c = -0.5
            else:
                c = float(rng.uniform(-0.1, 0.1))
            graph_edges.append({k2: v for k2, v in e.items() if k2 != "pair"} | {"contribution": round(c, 4)})

        numbers_ = {n["id"]: i + 1 for i, n in enumerate(nodes)}
        w = _Writer()
        if is_pred:
            top = sorted((n for n in nodes if n["present"] and n["contribution"] > 0.2), key=lambda n: -n["contribution"])
            w.add(f"Predicted {classes[pos]['label']}: ")
            for sep, n in zip(_listing(top), top):
                cx, cy = n["centroid"]
                w.add(sep).add(f"{n['name']} {numbers_[n['id']]}", "node", n["id"]).add(f" at {_where(cx, cy, width, height)}")
            w.add(" contributed most" if top else "no concept stood out")
            strong = [e for e in graph_edges if e["contribution"] > 0.3]
            for e in strong[:1]:
                src, dst = next(n for n in nodes if n["id"] == e["source"]), next(n for n in nodes if n["id"] == e["target"])
                w.add(", with ").add(f"{src['name']} {numbers_[src['id']]} {e['relation']} {dst['name']} {numbers_[dst['id']]}",
                                     "edge", e["id"])
            w.add(".")
        else:
            w.add(f"Not {classes[pos]['label']}: ")
            if absent is not None:
                plural = spec.count is not None and spec.count > 1
                w.add("no ").add(absent["name"], "node", absent["id"]).add(" were found" if plural else " was found")
            against = sorted((n for n in nodes if n["present"] and n["contribution"] < -0.2), key=lambda n: n["contribution"])
            if against:
                w.add(", and " if absent is not None else "")
                for sep, n in zip(_listing(against), against):
                    w.add(sep).add(f"{n['name']} {numbers_[n['id']]}", "node", n["id"])
                w.add(f" point{'s' if len(against) == 1 else ''} to {true_spec.name.replace('_', ' ')} instead")
            wrong = [e for e in graph_edges if e["contribution"] < -0.3]
            for e in wrong[:1]:
                src, dst = next(n for n in nodes if n["id"] == e["source"]), next(n for n in nodes if n["id"] == e["target"])
                w.add("; ").add(f"{src['name']} {numbers_[src['id']]} is {e['relation']} {dst['name']} {numbers_[dst['id']]}",
                                "edge", e["id"])
            if absent is None and not against and not wrong:
                w.add("its evidence is weak")
            w.add(".")
        graphs.append({"nodes": nodes, "edges": graph_edges, "text": w.sentence()})

    sal = None
    if saliency:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        sal = np.zeros((height, width), dtype=np.float32)
        for p in parts:
            weight = 1.0 if p.id in evidence else 0.25
            x0, y0, x1, y1 = p.box
            sigma = max(x1 - x0, y1 - y0) / 2.5
            sal += weight * np.exp(-((xx - p.centroid[0]) ** 2 + (yy - p.centroid[1]) ** 2) / (2 * sigma**2))
        sal /= max(float(sal.max()), 1e-6)
    title = f"Synthetic image {index}: {sample.class_name.replace('_', ' ')}"
    return cls(image=sample.image, classes=classes, graphs=graphs, predicted=int(sample.label), saliency=sal, title=title,
               true_class=int(sample.label))


def parts_type(parts, part_id: int) -> str:
    for p in parts:
        if p.id == part_id:
            return p.type
    return ""
