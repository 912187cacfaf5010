"""How well a joint space names patches, checked against the statements of pairs.

Seed 000, paragraph 0027: the trained space relates a concept's visual features to
text features. These measures use the structured :class:`~xwidgets.text.pairs.Statement`
of each pair, never the caption's prose:

* :func:`naming_accuracy`: top-1 retrieval of "a <colour> <type>" phrases; the
  fraction of patches whose nearest phrase states the right type, and the right
  colour.
  With ``as_crops=True`` the patches are rectangular crops (background included).
* :func:`position_accuracy`: among the nine region wordings of the right noun
  phrase, the fraction of patches whose nearest one names the right region.
* :func:`zero_shot_accuracy`: for patches of a type held out of training, the
  fraction named as that type among "a <type>" phrases of every part type, and the
  chance level.
* :func:`check_spatial_agreement`: whether a generated
  :class:`~xwidgets.text.sentences.TextExplanation` mentions the top-k concepts in
  contribution order and places each where the ground truth has it, read from its
  spans (ids and span text), not its prose.
* :func:`evaluate_sentences`: those checks over the concept graphs an explainer built
  for synthetic images, with positions taken from each node's patch, plus how often
  the patch lies on a part (:func:`patch_part`) of the type the joint space names.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np

from .._validation import bad_argument
from ..data.synthetic import PART_TYPES
from .joint import JointSpace
from .pairs import COLOUR_WORDS, TYPE_WORDS, Pairs, Phrase, naming_phrases
from .sentences import RELATIONS, TextExplanation, relation_of
from .spatial import REGION_PHRASES, REGIONS, region_of

__all__ = ["naming_accuracy", "position_accuracy", "zero_shot_accuracy", "crops", "check_spatial_agreement",
           "region_in_phrase", "patch_part", "evaluate_sentences"]


def _check(space: Any, pairs: Any) -> None:
    if not isinstance(space, JointSpace):
        raise bad_argument("space", "a JointSpace", space)
    if not isinstance(pairs, Pairs) or not pairs.has_statements:
        raise bad_argument("pairs", "Pairs whose every pair has a Statement (synthetic_pairs)", pairs)


def crops(pairs: Pairs, margin: int = 3) -> list[np.ndarray]:
    """Each pair's patch as a rectangular crop of its image: the mask's bounding box
    widened by ``margin`` pixels (clipped), background included."""
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
        raise bad_argument("margin", "an int >= 0", margin)
    out = []
    for pair in pairs:
        if pair.mask is None:
            out.append(pair.image)
            continue
        ys, xs = np.nonzero(pair.mask)
        h, w = pair.mask.shape
        out.append(np.ascontiguousarray(pair.image[max(0, ys.min() - margin): min(h, ys.max() + 1 + margin),
                                                   max(0, xs.min() - margin): min(w, xs.max() + 1 + margin)]))
    return out


def naming_accuracy(space: JointSpace, pairs: Pairs, phrases: Sequence[Phrase] | None = None, *,
                    as_crops: bool = False) -> dict[str, Any]:
    """Top-1 naming of each pair's patch against ``phrases`` (default: every allowed
    "a <colour> <type>"): {"type": accuracy, "colour": accuracy over pairs whose
    statement has a colour, "n": pairs, "per_type": {type: accuracy}}. ``as_crops``:
    name rectangular crops (:func:`crops`, no mask, no position) instead of masks."""
    _check(space, pairs)
    candidates = list(phrases) if phrases is not None else naming_phrases()
    names = space.name(crops(pairs) if as_crops else pairs, phrases=candidates)
    truth = pairs.statements
    type_ok = np.array([n.type == s.type for n, s in zip(names, truth)])
    coloured = [(n, s) for n, s in zip(names, truth) if s.colour is not None]
    per_type = {t: float(type_ok[[s.type == t for s in truth]].mean()) for t in PART_TYPES if any(s.type == t for s in truth)}
    return {
        "type": float(type_ok.mean()),
        "colour": float(np.mean([n.colour == s.colour for n, s in coloured])) if coloured else float("nan"),
        "n": len(names),
        "per_type": per_type,
    }


def position_accuracy(space: JointSpace, pairs: Pairs) -> dict[str, Any]:
    """For each pair with a stated position: the nearest of the nine phrases "a
    <colour> <type> <canonical region wording>" (its own type and colour) names the
    right region. {"accuracy", "n", "chance"}."""
    _check(space, pairs)
    rows = [i for i, s in enumerate(pairs.statements) if s.position is not None and s.type is not None]
    if not rows:
        raise bad_argument("pairs", "pairs with stated positions", pairs)
    sub = pairs.subset(rows)
    emb = space.embed_images(sub)
    correct = []
    for e, s in zip(emb, sub.statements):
        noun = (f"a {COLOUR_WORDS[s.colour][0]} " if s.colour else "a ") + TYPE_WORDS[s.type][0]
        texts = [f"{noun} {REGION_PHRASES[r][0]}" for r in REGIONS]
        sims = space._phrase_matrix([Phrase(t) for t in texts]) @ e
        correct.append(REGIONS[int(sims.argmax())] == s.position)
    return {"accuracy": float(np.mean(correct)), "n": len(correct), "chance": 1.0 / len(REGIONS)}


def zero_shot_accuracy(space: JointSpace, pairs: Pairs, held_out: str) -> dict[str, Any]:
    """Patches of type ``held_out`` named among "a <type>" for every part type:
    {"accuracy", "chance" (1 / number of types), "n", "predicted" (counts)}."""
    _check(space, pairs)
    if held_out not in PART_TYPES:
        raise bad_argument("held_out", f"one of {', '.join(PART_TYPES)}", held_out)
    rows = [i for i, s in enumerate(pairs.statements) if s.type == held_out]
    if not rows:
        raise bad_argument("pairs", f"pairs whose patches are {held_out!r} parts", pairs)
    names = space.name(pairs.subset(rows), phrases=naming_phrases(colours=False))
    predicted = Counter(n.type for n in names)
    return {
        "accuracy": predicted[held_out] / len(names),
        "chance": 1.0 / len(PART_TYPES),
        "n": len(names),
        "predicted": dict(predicted.most_common()),
    }


# ----------------------------------------------------------------------------- generated sentences

#: Every region wording, longest first (no wording of one region ends another's).
_WORDINGS = sorted(((w, r) for r, ws in REGION_PHRASES.items() for w in ws), key=lambda item: -len(item[0]))


def region_in_phrase(phrase: str) -> str | None:
    """The region whose wording (:data:`~xwidgets.text.spatial.REGION_PHRASES`) a span
    phrase ends with ("red headlight 3 shown in the top right corner of the image" ->
    "top right"); None when it ends with none."""
    if not isinstance(phrase, str):
        raise bad_argument("phrase", "a str", phrase)
    for wording, region in _WORDINGS:
        if phrase.endswith(" " + wording) or phrase == wording:
            return region
    return None


def _truth_point(truth: Mapping[Any, Any], j: int) -> tuple[float, float]:
    for key in (f"n{j}", j):
        if key in truth:
            value = truth[key]
            ok = (isinstance(value, Sequence) or isinstance(value, np.ndarray)) and len(value) == 2 and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v)) for v in value)
            if not ok:
                raise bad_argument(f"truth[{key!r}]", "an (x, y) centroid in pixels", value)
            return float(value[0]), float(value[1])
    raise bad_argument("truth", f"a ground-truth centroid for every mentioned present node (n{j} has none)",
                       sorted(map(str, truth)))


def check_spatial_agreement(explanation: TextExplanation, graph: Any, truth: Mapping[Any, Any]) -> dict[str, Any]:
    """Check a generated explanation against its graph and the ground truth, reading only
    its spans (seed 000, paragraph 0027: concepts named by contribution and position).

    * ids: every span points at a node of the class graph or at one of its present
      edges; spans lie in the text and do not overlap; a node is mentioned once.
    * order: the mentioned nodes, in text order, split by presence and sign of their
      contribution, are each group's top ``explanation.k`` by |contribution|, largest
      first (present for / against, absent against / for; none with zero contribution).
    * regions: each present node's span ends with a wording of the region of its
      ground-truth centroid (``truth``: {node id or index: (x, y)}, mean pixel position
      with pixel centres at integer coordinates, like ``Part.centroid``); an absent
      node's span states none.
    * relations: each edge span "<name> <i+1> <relation> <name> <j+1>" states the
      relation of the two ground-truth centroids (:func:`~xwidgets.text.sentences.relation_of`).

    Returns {"ok", "ids_ok", "order_ok", "regions_ok", "relations_ok", "nodes",
    "regions", "regions_agree", "relations", "relations_agree", "problems",
    "said_regions" {node id: (region the span states or None, ground-truth region)},
    "said_relations" {edge id: (relation the span states or None, ground-truth relation)}}.
    """
    from ..concepts.result import ConceptGraph, parse_id

    if not isinstance(explanation, TextExplanation):
        raise bad_argument("explanation", "a TextExplanation (explain_in_words)", explanation)
    if not isinstance(graph, ConceptGraph):
        raise bad_argument("graph", "the ConceptGraph the explanation was generated from", graph)
    if explanation.cls not in graph.graphs:
        raise bad_argument("graph", f"a ConceptGraph with the explained class {explanation.cls}", graph)
    if not isinstance(truth, Mapping):
        raise bad_argument("truth", "{node id or index: (x, y) ground-truth centroid}", truth)
    c, k, text = explanation.cls, explanation.k, explanation.text
    scg = graph.graphs[c]
    n = len(scg)
    present = np.asarray(scg.present, bool)
    contrib = np.asarray(graph.node_contribution[c], np.float64)
    height, width = scg.image_size
    problems: list[str] = []

    spans = sorted(explanation.spans, key=lambda s: (s.start, s.end))
    ids_ok = True
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            ids_ok = False
            problems.append(f"spans {a.id} and {b.id} overlap")
    nodes: list[tuple[int, str]] = []
    edges: list[tuple[int, int, str]] = []
    for s in spans:
        if not 0 <= s.start < s.end <= len(text):
            ids_ok = False
            problems.append(f"span {s.id} [{s.start}, {s.end}) lies outside the text")
            continue
        try:
            kind, index = parse_id(s.id)
        except ValueError:
            kind, index = "", ()
        if kind != s.kind or any(not 0 <= i < n for i in index):
            ids_ok = False
            problems.append(f"span {s.id!r} ({s.kind}) points at no {s.kind} of the class graph")
        elif kind == "edge" and not scg.edge_present[index]:
            ids_ok = False
            problems.append(f"span {s.id} points at an edge that is not present")
        elif kind == "node":
            nodes.append((index[0], text[s.start:s.end]))
        else:
            edges.append((index[0], index[1], text[s.start:s.end]))
    if len({j for j, _ in nodes}) != len(nodes):
        ids_ok = False
        problems.append("a node is mentioned more than once")

    order_ok = True
    for name, is_present, sign in (("present, for", True, 1), ("present, against", True, -1),
                                   ("absent, against", False, -1), ("absent, for", False, 1)):
        group = [j for j in range(n) if present[j] == is_present and sign * contrib[j] > 0]
        expected = sorted(group, key=lambda j: -sign * contrib[j])[:k]
        seen = [j for j, _ in nodes if present[j] == is_present and sign * contrib[j] > 0]
        if seen != expected:
            order_ok = False
            problems.append(f"{name}: mentioned {['n%d' % j for j in seen]}, expected {['n%d' % j for j in expected]}")
    zero = [j for j, _ in nodes if contrib[j] == 0]
    if zero:
        order_ok = False
        problems.append(f"mentions nodes with zero contribution: {['n%d' % j for j in zero]}")

    regions = agree = 0
    said_regions: dict[str, tuple[str | None, str]] = {}
    for j, phrase in nodes:
        said = region_in_phrase(phrase)
        if not present[j]:
            if said is not None:
                problems.append(f"n{j} is absent but its phrase places it ({said})")
            continue
        x, y = _truth_point(truth, j)
        actual = region_of(x + 0.5, y + 0.5, width, height)
        said_regions[f"n{j}"] = (said, actual)
        regions += 1
        if said == actual:
            agree += 1
        else:
            problems.append(f"n{j}: the phrase {phrase!r} says {said}, the ground truth is {actual}")

    relations = rel_agree = 0
    said_relations: dict[str, tuple[str | None, str]] = {}
    for i, j, phrase in edges:
        said = [r for r in RELATIONS if f" {i + 1} {r} " in phrase and phrase.endswith(f" {j + 1}")]
        actual = relation_of(_truth_point(truth, i), _truth_point(truth, j))
        said_relations[f"e{i}-{j}"] = (said[0] if len(said) == 1 else None, actual)
        relations += 1
        if said == [actual]:
            rel_agree += 1
        else:
            problems.append(f"e{i}-{j}: the phrase {phrase!r} says {said or 'no relation'}, "
                            f"the ground truth is {actual}")
    regions_ok = agree == regions and not any("is absent but" in p for p in problems)
    return {
        "ok": ids_ok and order_ok and regions_ok and rel_agree == relations,
        "ids_ok": ids_ok, "order_ok": order_ok, "regions_ok": regions_ok, "relations_ok": rel_agree == relations,
        "nodes": len(nodes), "regions": regions, "regions_agree": agree,
        "relations": relations, "relations_agree": rel_agree, "problems": problems,
        "said_regions": said_regions, "said_relations": said_relations,
    }


# ----------------------------------------------------------------------------- real concept graphs


def patch_part(sample: Any, mask: np.ndarray) -> Any:
    """The ground-truth part (a synthetic ``Part``) that a node's (H, W) bool patch
    ``mask`` shows, or None: the rule of
    :func:`~xwidgets.concepts.graph_evaluation.node_part` (the part instance with the
    largest overlap, provided the overlap holds at least half of the part or half of
    the patch), returning the part itself rather than its type."""
    if not hasattr(sample, "instance_mask") or not hasattr(sample, "part"):
        raise bad_argument("sample", "a synthetic Sample (SyntheticParts.sample)", sample)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != sample.instance_mask.shape:
        raise bad_argument("mask", f"a bool mask of the sample's shape {sample.instance_mask.shape}", mask)
    area = int(mask.sum())
    if area == 0:
        return None
    ids, overlap = np.unique(sample.instance_mask[mask], return_counts=True)
    best, best_overlap = None, 0
    for pid, ov in zip(ids.tolist(), overlap.tolist()):
        if pid == 0:
            continue
        size = int((sample.instance_mask == pid).sum())
        if (ov >= 0.5 * size or ov >= 0.5 * area) and ov > best_overlap:
            best, best_overlap = sample.part(pid), ov
    return best


def evaluate_sentences(graphs: Sequence[Any], samples: Sequence[Any], *, joint: JointSpace | None = None, k: int = 3,
                       styles: Sequence[str] = ("patent",), seed: int = 0) -> dict[str, Any]:
    """The sentence checks of issue 7 on concept graphs built by an explainer, for images
    with ground truth (seed 000, paragraph 0027). Every candidate class of every image
    is explained (:func:`~xwidgets.text.sentences.explain_all`, each of ``styles``) and
    read through its spans with :func:`check_spatial_agreement`:

    * ``ids``: share of images whose every span points at an existing node or present
      edge of its class graph (no overlap, each node once);
    * ``order``: share of images whose sentences list each group's top ``k`` concepts in
      contribution order;
    * ``positions``: share of images whose every region and relation phrase agrees with
      the position of the patch the node was matched to: the centroid of the node's
      mask, recomputed here from the mask (a real node may sit on no part, or on
      another part than its name says, so its patch is what the phrase must locate);
    * ``ok``: share of images passing all three.

    Measured separately, against the synthetic parts (:func:`patch_part`): ``on_part``,
    the share of mentioned present nodes whose patch shows a part;
    ``part_regions_agree``, for those, the share whose region phrase names the region of
    the part's own centroid (a patch larger than its part can be centred elsewhere);
    ``part_relations_agree``, the same for relation phrases between two nodes on two
    different parts (two patches of one part have no ground-truth relation); and,
    with ``joint``, ``named_on_part_type``: the share of the nodes on a part that the
    joint space names with that part's type, and ``named_type``: the share of all named
    nodes whose patch shows a part of the named type.

    Returns those rates with their counts ("images", "explanations", "regions",
    "regions_agree", "relations", "relations_agree", "part_regions", "part_relations",
    "named") and "problems": up to 20 (image, class, problem) of the position checks.
    """
    from ..concepts.result import ConceptGraph
    from ..concepts.segmentation import mask_centroids
    from .sentences import STYLES, explain_all

    graphs, samples = list(graphs), list(samples)
    if not graphs or len(graphs) != len(samples):
        raise bad_argument("samples", f"one synthetic sample per graph ({len(graphs)} graphs)",
                           f"{len(samples)} samples")
    for i, g in enumerate(graphs):
        if not isinstance(g, ConceptGraph):
            raise bad_argument(f"graphs[{i}]", "a ConceptGraph", g)
    if isinstance(styles, str) or not styles or any(s not in STYLES for s in styles):
        raise bad_argument("styles", f"a non-empty list of {', '.join(map(repr, STYLES))}", styles)
    images = {"ids": [], "order": [], "positions": [], "ok": []}
    count = Counter()
    problems: list[tuple[int, int, str]] = []
    for index, (graph, sample) in enumerate(zip(graphs, samples)):
        flags = {"ids": True, "order": True, "positions": True}
        parts = {}
        for c in graph.classes:
            scg = graph.graphs[c]
            centre = mask_centroids(scg.masks)
            for j in np.flatnonzero(scg.present):
                parts[c, int(j)] = (tuple(centre[j]), patch_part(sample, np.asarray(scg.masks[j], bool)))
        for n, style in enumerate(styles):
            for c, e in explain_all(graph, joint=joint, k=k, style=style, seed=seed + n * len(graph.classes)).items():
                own = {key[1]: value for key, value in parts.items() if key[0] == c}
                patch = {f"n{j}": centre for j, (centre, _) in own.items()}
                on_part = {f"n{j}": part.centroid for j, (_, part) in own.items() if part is not None}
                report = check_spatial_agreement(e, graph, patch)
                by_part = check_spatial_agreement(e, graph, {**patch, **on_part})
                count["explanations"] += 1
                flags["ids"] &= report["ids_ok"]
                flags["order"] &= report["order_ok"]
                flags["positions"] &= report["regions_ok"] and report["relations_ok"]
                for key in ("regions", "regions_agree", "relations", "relations_agree"):
                    count[key] += report[key]
                problems += [(index, c, p) for p in report["problems"]][:max(0, 20 - len(problems))]
                for node, (said, actual) in by_part["said_regions"].items():
                    count["mentioned"] += 1
                    if node in on_part:
                        count["part_regions"] += 1
                        count["part_regions_agree"] += said == actual
                for edge, (said, actual) in by_part["said_relations"].items():
                    i, j = (int(v) for v in edge[1:].split("-"))
                    if own[i][1] is not None and own[j][1] is not None and own[i][1].id != own[j][1].id:
                        count["part_relations"] += 1
                        count["part_relations_agree"] += said == actual
                for m in e.nodes:
                    if m.present and m.concept is not None:
                        part = own[m.index][1]
                        count["named"] += 1
                        count["named_on_part"] += part is not None
                        count["named_type"] += part is not None and m.concept.type == part.type
        for key, value in flags.items():
            images[key].append(value)
        images["ok"].append(all(flags.values()))
    rate = lambda a, b: count[a] / count[b] if count[b] else float("nan")  # noqa: E731
    return {
        "images": len(graphs), "explanations": count["explanations"],
        **{key: float(np.mean(v)) for key, v in images.items()},
        "regions": count["regions"], "regions_agree": count["regions_agree"],
        "relations": count["relations"], "relations_agree": count["relations_agree"],
        "on_part": rate("part_regions", "mentioned"),
        "part_regions": count["part_regions"], "part_regions_agree": rate("part_regions_agree", "part_regions"),
        "part_relations": count["part_relations"],
        "part_relations_agree": rate("part_relations_agree", "part_relations"),
        "named": count["named"], "named_on_part_type": rate("named_type", "named_on_part"),
        "named_type": rate("named_type", "named"),
        "problems": problems,
    }
