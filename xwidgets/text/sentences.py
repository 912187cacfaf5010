"""Sentences that explain a prediction from its concept graph, with phrases that point at
the graph's nodes and edges.

Seed 000, paragraphs 0017-0018 and 0027 and claims 1-6: the visual concepts are named
through the joint image-text space and described by their contribution and position,
e.g. "Engine grille 1 shown in the front of the image and side mirror 2 shown in the top
right corner of the image contributed most to the prediction of the ML model, followed
by red headlight 3 on the top of the image and wheel 4 in the bottom right corner of
the image." :func:`explain_in_words` realises such a sentence from a
:class:`~xwidgets.concepts.result.ConceptGraph` with a template grammar:

* concepts are named by the joint space (``joint.name`` on each node's mask), by
  ``names`` or by the graph's ``concept_names``, and numbered like the patent (node
  ``j`` is number ``j + 1``, the explorer's and the plot's label);
* each present concept carries its region (:func:`~xwidgets.text.spatial.region_of` of
  its centroid) as a wording of :data:`~xwidgets.text.spatial.REGION_PHRASES`;
* concepts are listed by contribution: for the predicted class ("why") the strongest
  supporters first ("... contributed most to the prediction of <class>, followed by
  ..."), then those that "counted against it"; for any other class ("why not") the
  reasons against first ("<class> was not predicted because ... counted against it,
  and ... is missing"), then those that spoke for it;
* the relation edges that matter are worded from the centroids ("window 2 above door
  1", "wheel 3 left of wheel 4").

Every concept phrase (name, number and position) is a :class:`Span` of kind "node" and
every relation phrase a span of kind "edge"; spans never overlap. Names are plain text,
kept verbatim (the widgets render text with ``textContent``). An optional ``rephrase``
backend may reword the glue text while the span phrases are kept verbatim.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import pathlib
import re
import warnings
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .._validation import bad_argument
from ..concepts.result import ConceptGraph, edge_id, node_id, parse_id
from ..widgets.explorer_data import Sentence, Span
from .joint import ConceptName, JointSpace, without_article
from .spatial import REGION_PHRASES, region_of

__all__ = [
    "TextExplanation", "NodeMention", "EdgeMention", "explain_in_words", "explain_all",
    "relation_of", "RELATIONS", "STYLES", "PATENT_REGION_PHRASES",
]

#: How node i lies relative to node j, as worded in relation phrases.
RELATIONS: tuple[str, ...] = ("above", "below", "left of", "right of")
#: Sentence styles: "patent" (fixed wording after paragraph 0027) or "varied" (wordings
#: drawn from ``seed``).
STYLES: tuple[str, ...] = ("patent", "varied")
#: The region wording the "patent" style uses (one of each region's REGION_PHRASES).
PATENT_REGION_PHRASES: Mapping[str, str] = MappingProxyType({
    r: (f"in the {r} corner of the image" if " " in r else REGION_PHRASES[r][0]) for r in REGION_PHRASES
})

_PLACEHOLDER = re.compile(r"\[\[(\d+)\]\]")
#: A piece of text: (text, span kind or None for glue, node or edge id or None).
_Item = tuple[str, Optional[str], Optional[str]]


# ----------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class NodeMention:
    """A concept the explanation mentions.

    id: the node id (``"n{j}"``); index: j; number: the label in the text (j + 1);
    name: its name (without number); present: found in the image; region: one of
    :data:`~xwidgets.text.spatial.REGIONS` (None when absent or without a position);
    centroid: (x, y) pixels (None when unknown); rank: 1-based position among the
    class's nodes by signed contribution (1: largest); contribution and sign (+1, -1);
    role: "for", "against", "missing" (absent, counted against) or "absence for";
    source: where the name came from ("names", "joint" or "graph"); concept: the joint
    space's :class:`~xwidgets.text.joint.ConceptName` when it named the node.
    """

    id: str
    index: int
    number: int
    name: str
    present: bool
    region: str | None
    centroid: tuple[float, float] | None
    rank: int
    contribution: float
    sign: int
    role: str
    source: str
    concept: ConceptName | None = None

    @property
    def label(self) -> str:
        """The name and number as written ("red headlight 3")."""
        return f"{self.name} {self.number}"


@dataclasses.dataclass(frozen=True)
class EdgeMention:
    """A relation the explanation mentions: edge ``id`` (``"e{i}-{j}"``) from node
    ``source`` to node ``target``, ``relation`` (one of :data:`RELATIONS`: how the
    source lies relative to the target), its contribution and sign."""

    id: str
    source: str
    target: str
    relation: str
    contribution: float
    sign: int


@dataclasses.dataclass
class TextExplanation:
    """A textual explanation of one class of one image (seed 000, paragraph 0027).

    Attributes:
        text: the sentence(s).
        spans: :class:`~xwidgets.widgets.explorer_data.Span` list, sorted, not
            overlapping: every concept phrase points at its node id, every relation
            phrase at its edge id.
        cls, class_name: the class explained; predicted: the predicted class.
        kind: "why" (the predicted class) or "why not" (any other).
        nodes, edges: the mentioned concepts and relations (:class:`NodeMention`,
            :class:`EdgeMention`), in the order of their spans.
        k: how many concepts of each kind the text lists; style: the wording style.
        template: the text before any rephrasing; rephrased: whether ``rephrase``
            reworded it.
    """

    text: str
    spans: list[Span]
    cls: int
    class_name: str
    predicted: int
    kind: str
    nodes: list[NodeMention]
    edges: list[EdgeMention]
    k: int
    style: str
    template: str = ""
    rephrased: bool = False

    def to_sentence(self) -> Sentence:
        """The explorer's :class:`~xwidgets.widgets.explorer_data.Sentence`."""
        return Sentence(self.text, [Span(s.start, s.end, s.kind, s.id) for s in self.spans])

    def phrase(self, span: Span | int | str) -> str:
        """The text of a span: a :class:`Span`, its index in :attr:`spans` or the node
        or edge id it points at."""
        if isinstance(span, Span):
            return self.text[span.start:span.end]
        n = len(self.spans)
        if isinstance(span, numbers.Integral) and not isinstance(span, bool) and -n <= span < n:
            s = self.spans[int(span)]
            return self.text[s.start:s.end]
        if isinstance(span, str):
            for s in self.spans:
                if s.id == span:
                    return self.text[s.start:s.end]
        raise bad_argument("span", f"a Span, an index below {len(self.spans)} or a mentioned id "
                           f"({', '.join(s.id for s in self.spans) or 'none'})", span)

    def node(self, id: str) -> NodeMention:
        """The mention of node ``id``."""
        for n in self.nodes:
            if n.id == id:
                return n
        raise bad_argument("id", f"a mentioned node id ({', '.join(n.id for n in self.nodes) or 'none'})", id)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        def plain(m: Any) -> dict[str, Any]:
            d = dataclasses.asdict(m)
            if isinstance(m, NodeMention):
                d["concept"] = None if m.concept is None else {"phrase": m.concept.phrase,
                                                               "similarity": m.concept.similarity,
                                                               "type": m.concept.type, "colour": m.concept.colour}
                d["centroid"] = None if m.centroid is None else list(m.centroid)
            return d

        return {
            "text": self.text, "spans": [s.to_dict() for s in self.spans], "cls": self.cls,
            "class_name": self.class_name, "predicted": self.predicted, "kind": self.kind,
            "nodes": [plain(n) for n in self.nodes], "edges": [plain(e) for e in self.edges],
            "k": self.k, "style": self.style, "template": self.template, "rephrased": self.rephrased,
        }

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"TextExplanation({self.kind!r}, {self.class_name!r}, {len(self.spans)} spans: {self.text!r})"


# ----------------------------------------------------------------------------- wording


def relation_of(a: Sequence[float], b: Sequence[float]) -> str:
    """How the point ``a`` (x, y) lies relative to ``b`` in image coordinates (y down):
    "above"/"below" when the vertical offset dominates, else "left of"/"right of".

    A diagonal offset (|dx| = |dy|) reads as vertical, with a relative tolerance of 1e-4:
    the float32 centroids of a graph and the float64 ones of the same masks then give the
    same word (at exactly 45 degrees their rounding decided it)."""
    dx, dy = float(b[0]) - float(a[0]), float(b[1]) - float(a[1])
    if abs(dy) >= abs(dx) - 1e-4 * max(abs(dx), abs(dy)):
        return "above" if dy > 0 else "below"
    return "left of" if dx > 0 else "right of"


_VARIED = {
    "most": ("contributed most to the prediction of {c}", "weighed most in favour of {c}",
             "mattered most for the prediction of {c}"),
    # each must read after every "most" wording ("... mattered most for X, then Y")
    "followed": (", followed by ", ", then ", ", and to a lesser degree "),
    "against": ("counted against it", "spoke against it", "weighed against it"),
    "for": ("spoke for it", "supported it", "counted in its favour"),
    "shown": ("shown ", "", "seen "),
    "also": ("It was also supported by ", "Also in its favour: ", "It was further supported by "),
}
_PATENT = {k: v[0] for k, v in _VARIED.items()}


class _Words:
    """The wording of one explanation: fixed ("patent") or drawn from a seed ("varied")."""

    def __init__(self, style: str, seed: int | None) -> None:
        self.style = style
        self.rng = np.random.default_rng(seed)

    def __call__(self, key: str) -> str:
        if self.style == "patent":
            return _PATENT[key]
        return str(self.rng.choice(_VARIED[key]))

    def region(self, region: str) -> str:
        if self.style == "patent":
            return PATENT_REGION_PHRASES[region]
        return str(self.rng.choice(REGION_PHRASES[region]))


class _Pieces:
    """Text assembled from glue and span phrases."""

    def __init__(self) -> None:
        self.items: list[_Item] = []

    def add(self, text: str, kind: str | None = None, ref: str | None = None) -> "_Pieces":
        if text:
            self.items.append((text, kind, ref))
        return self

    def listing(self, mentions: list[tuple[str, str, str]], last: str = " and ") -> "_Pieces":
        """An English list of (phrase, kind, id) span phrases."""
        for i, (text, kind, ref) in enumerate(mentions):
            if i:
                self.add(last if i == len(mentions) - 1 else ", ")
            self.add(text, kind, ref)
        return self


def _capitalise(text: str) -> str:
    """Upper-case the first letter unless the word looks deliberately cased ("eBay")."""
    if text[:1].islower() and not text[1:2].isupper():
        return text[0].upper() + text[1:]
    return text


def _assemble(items: Sequence[_Item]) -> tuple[str, list[Span]]:
    """Concatenate pieces, capitalising each sentence's first piece; spans for the
    pieces that have a kind."""
    text, spans = "", []
    for piece, kind, ref in items:
        stripped = text.rstrip()
        if not stripped or (stripped.endswith((".", "!", "?")) and stripped != text):
            piece = _capitalise(piece)
        if kind is not None:
            spans.append(Span(len(text), len(text) + len(piece), kind, ref))
        text += piece
    return text, spans


# ----------------------------------------------------------------------------- checks


def _int(value: Any, argument: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise bad_argument(argument, f"an int >= {low}", value)
    return int(value)


def _resolve_class(graph: ConceptGraph, cls: Any) -> int:
    names = {str(v): c for c, v in graph.class_names.items()}
    choices = ", ".join(f"{c} ({graph.class_names.get(c, c)})" for c in graph.classes)
    if cls is None:
        return int(graph.predicted)
    if isinstance(cls, str) and cls in names and names[cls] in graph.classes:
        return int(names[cls])
    if not isinstance(cls, bool) and isinstance(cls, numbers.Integral) and int(cls) in graph.classes:
        return int(cls)
    raise bad_argument("cls", f"None or a candidate class of the graph, by index or name: {choices}", cls)


def _names(graph: ConceptGraph, cls: int, names: Any) -> dict[int, str]:
    """Explicit names by node index from ``names`` (a list of k, or {index or id: name})."""
    k = len(graph.graphs[cls])
    if names is None:
        return {}
    if isinstance(names, Mapping):
        out = {}
        for key, value in names.items():
            j = key
            if isinstance(key, str):
                try:
                    kind, ids = parse_id(key)
                except ValueError:
                    kind, ids = "", ()
                if kind != "node":
                    raise bad_argument("names", f"keys that are node indices or ids 'n0'..'n{k - 1}'", key)
                j = ids[0]
            if isinstance(j, bool) or not isinstance(j, numbers.Integral) or not 0 <= j < k:
                raise bad_argument("names", f"keys that are node indices 0..{k - 1} or ids 'n0'..'n{k - 1}'", key)
            out[int(j)] = value
    elif isinstance(names, Sequence) and not isinstance(names, str):
        if len(names) != k:
            raise bad_argument("names", f"one name per node of the class graph ({k})", names)
        out = dict(enumerate(names))
    else:
        raise bad_argument("names", "None, a list of one name per node, or {node index or id: name}", names)
    for j, value in out.items():
        if not isinstance(value, str) or not value.strip():
            raise bad_argument(f"names[{j}]", "a non-empty str", value)
    return out


def _centroid(scg: Any, j: int) -> tuple[float, float] | None:
    c = np.asarray(scg.centroids[j], np.float64)
    if c.shape == (2,) and np.all(np.isfinite(c)):
        return float(c[0]), float(c[1])
    mask = np.asarray(scg.masks[j], bool)
    if mask.any():
        ys, xs = np.nonzero(mask)
        return float(xs.mean()), float(ys.mean())
    return None


# ----------------------------------------------------------------------------- rephrasing


@functools.lru_cache(maxsize=2)
def _hf_pipeline(path: str) -> Any:
    import transformers

    return transformers.pipeline("text-generation", model=path)  # a local folder: nothing is downloaded


def _hf_rephraser(path: str | pathlib.Path) -> Callable[[str], str]:
    """A rephraser backed by a local Hugging Face text-generation model (no download)."""
    location = pathlib.Path(path).expanduser()
    if not location.exists():
        raise bad_argument("rephrase", "None, a callable, or the path of a local Hugging Face text-generation model",
                           str(path), "No such file or folder (nothing is downloaded)")
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise bad_argument("rephrase", "a callable (transformers is not installed, so a model path cannot be used)",
                           str(path), "pip install transformers") from None

    try:
        generator = _hf_pipeline(str(location.resolve()))
    except Exception as err:  # noqa: BLE001 - transformers raises OSError, ValueError, KeyError...
        raise bad_argument("rephrase", "None, a callable, or the folder of a local Hugging Face text-generation model",
                           str(path), f"transformers could not load it: {type(err).__name__}: {err}"[:400]) from err

    def rephrase(template: str) -> str:
        prompt = ("Rewrite this explanation in fluent English. Copy every marker like [[1]] exactly once and "
                  f"do not add facts.\nExplanation: {template}\nRewritten:")
        out = generator(prompt, max_new_tokens=2 * len(template.split()) + 32, do_sample=False,
                        return_full_text=False)
        return str(out[0]["generated_text"]).strip().split("\n")[0].strip()

    return rephrase


def _rephrase(items: list[_Item], rephrase: Callable[[str], str]) -> tuple[str, list[Span]] | None:
    """Reword the glue: spans become [[n]] placeholders, the backend rewrites, phrases go
    back verbatim. None (with a warning) when the result cannot keep every span."""
    phrases = [(t, kind, ref) for t, kind, ref in items if kind is not None]
    parts, n = [], 0
    for t, kind, _ in items:
        if kind is None:
            parts.append(t)
        else:
            n += 1
            parts.append(f"[[{n}]]")
    template = "".join(parts)
    if len(_PLACEHOLDER.findall(template)) != len(phrases):
        warnings.warn("rephrase: the text already contains [[n]] markers; kept the template wording", stacklevel=3)
        return None
    out = rephrase(template)
    if not isinstance(out, str) or not out.strip():
        warnings.warn(f"rephrase: expected a non-empty str from the backend; got {type(out).__name__}; "
                      "kept the template wording", stacklevel=3)
        return None
    found = [int(m) for m in _PLACEHOLDER.findall(out)]
    if sorted(found) != list(range(1, len(phrases) + 1)):
        warnings.warn(f"rephrase: the rewording must keep each of the markers [[1]]..[[{len(phrases)}]] exactly "
                      f"once (it kept {sorted(found)}); kept the template wording", stacklevel=3)
        return None
    rebuilt: list[_Item] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(out):
        rebuilt.append((out[pos:m.start()], None, None))
        rebuilt.append(phrases[int(m.group(1)) - 1])
        pos = m.end()
    rebuilt.append((out[pos:], None, None))
    text, spans = _assemble([r for r in rebuilt if r[0]])
    for s, (t, _, ref) in zip(spans, (r for r in rebuilt if r[0] and r[1] is not None)):
        if text[s.start:s.end].lower() != t.lower() or s.id != ref:  # case: sentence-initial capitals only
            warnings.warn("rephrase: a span no longer matches its phrase; kept the template wording", stacklevel=3)
            return None
    return text, spans


# ----------------------------------------------------------------------------- generation


def explain_in_words(
    graph: ConceptGraph,
    cls: int | str | None = None,
    *,
    k: int = 3,
    joint: JointSpace | None = None,
    names: Sequence[str] | Mapping[int | str, str] | None = None,
    relations: bool | int = True,
    style: str = "patent",
    seed: int | None = None,
    rephrase: Callable[[str], str] | str | pathlib.Path | None = None,
) -> TextExplanation:
    """The textual explanation of class ``cls`` of one image's concept graph (seed 000,
    paragraph 0027 and claim 1: describe each visual concept's contribution in words).

    Args:
        graph: a :class:`~xwidgets.concepts.result.ConceptGraph`.
        cls: the class to explain, by index or name (default: the predicted one, a
            "why"; any other class gives a "why not").
        k: at most ``k`` concepts of each kind are listed: present ones for the class
            (largest contribution first), present ones against it (most negative
            first), and absent ones whose absence counts (non-zero contribution).
        joint: a :class:`~xwidgets.text.joint.JointSpace` that names each mentioned
            present concept from its mask (``joint.name``); the name is its nearest
            phrase without the article.
        names: names to use instead: one per node, or {node index or id: name}.
            Default: the joint space's, else ``graph.concept_names``.
        relations: mention up to this many relation edges of each sign (True: 1,
            False: none), the largest |contribution| first; an edge and its reverse
            count once.
        style: "patent" (fixed wording) or "varied" (wordings and region phrasings drawn
            from ``seed``).
        seed: the random seed of the "varied" style.
        rephrase: optional backend that rewords the glue text: a callable taking the
            text with its span phrases replaced by markers ``[[1]]``, ``[[2]]``, ... and
            returning a rewording that keeps each marker once, or the path of a local
            Hugging Face text-generation model (``transformers``; nothing is
            downloaded). A rewording that loses a marker falls back to the template with
            a warning.
    """
    if not isinstance(graph, ConceptGraph):
        raise bad_argument("graph", "a ConceptGraph (xwidgets.concepts.result)", graph)
    c = _resolve_class(graph, cls)
    k = _int(k, "k", 1)
    if joint is not None and not isinstance(joint, JointSpace):
        raise bad_argument("joint", "None or a JointSpace", joint)
    if isinstance(relations, bool):
        n_relations = 1 if relations else 0
    else:
        n_relations = _int(relations, "relations", 0)
    if style not in STYLES:
        raise bad_argument("style", f"one of {', '.join(map(repr, STYLES))}", style)
    if seed is not None:
        _int(seed, "seed", 0)
    if rephrase is not None and not callable(rephrase):
        if isinstance(rephrase, (str, pathlib.Path)):
            rephrase = _hf_rephraser(rephrase)
        else:
            raise bad_argument("rephrase", "None, a callable (str -> str) or a local model path", rephrase)
    explicit = _names(graph, c, names)

    scg = graph.graphs[c]
    contrib = np.asarray(graph.node_contribution[c], np.float64)
    edge_contrib = np.asarray(graph.edge_contribution[c], np.float64)
    present = np.asarray(scg.present, bool)
    height, width = (int(v) for v in scg.image_size)
    n_nodes = len(scg)
    order = graph.ranked_nodes(c, present_only=False)
    rank = {j: r + 1 for r, j in enumerate(order)}

    def pick(nodes: list[int], sign: int) -> list[int]:
        chosen = [j for j in nodes if sign * contrib[j] > 0]
        chosen.sort(key=lambda j: -sign * contrib[j])  # stable: the graph's order breaks ties
        return chosen[:k]

    everyone = list(range(n_nodes))
    groups = {
        "for": pick([j for j in everyone if present[j]], +1),
        "against": pick([j for j in everyone if present[j]], -1),
        "missing": pick([j for j in everyone if not present[j]], -1),
        "absence for": pick([j for j in everyone if not present[j]], +1),
    }
    edge_groups: dict[int, list[tuple[int, int]]] = {+1: [], -1: []}
    if n_relations:
        for sign in (+1, -1):
            seen: set[frozenset[int]] = set()
            ranked = graph.ranked_edges(c)
            for i, j in (ranked if sign > 0 else ranked[::-1]):
                if sign * edge_contrib[i, j] <= 0 or frozenset((i, j)) in seen:
                    continue
                if _centroid(scg, i) is None or _centroid(scg, j) is None:
                    continue
                seen.add(frozenset((i, j)))
                edge_groups[sign].append((i, j))
                if len(edge_groups[sign]) == n_relations:
                    break

    # names: explicit, then the joint space (one pass over the mentioned present nodes), then the graph's
    mentioned = sorted({j for g in groups.values() for j in g}
                       | {j for es in edge_groups.values() for e in es for j in e})
    concept: dict[int, ConceptName] = {}
    source = {j: "graph" for j in mentioned}
    label_of: dict[int, str] = {}
    graph_names = list(graph.concept_names.get(c, scg.concept_ids))
    for j in mentioned:
        label_of[j] = str(graph_names[j]) if j < len(graph_names) else scg.concept_ids[j]
    if joint is not None:
        todo = [j for j in mentioned if j not in explicit and present[j] and np.asarray(scg.masks[j], bool).any()]
        if todo:
            named = joint.name(graph.image, np.stack([np.asarray(scg.masks[j], bool) for j in todo]))
            for j, cn in zip(todo, named):
                concept[j] = cn
                label_of[j] = without_article(cn.phrase)
                source[j] = "joint"
    for j in mentioned:
        if j in explicit:
            label_of[j] = explicit[j]
            source[j] = "names"

    words = _Words(style, seed)
    region: dict[int, str | None] = {}
    centroid: dict[int, tuple[float, float] | None] = {}
    for j in mentioned:
        centroid[j] = _centroid(scg, j) if present[j] else None
        # centroids are mean pixel positions with pixel centres at integer coordinates
        if centroid[j] is not None:
            region[j] = region_of(centroid[j][0] + 0.5, centroid[j][1] + 0.5, width, height)
        else:
            region[j] = None

    def node_phrase(j: int) -> tuple[str, str, str]:
        text = f"{label_of[j]} {j + 1}"
        if region[j] is not None:
            text += f" {words('shown')}{words.region(region[j])}"
        return text, "node", node_id(j)

    def edge_phrase(e: tuple[int, int]) -> tuple[str, str, str]:
        i, j = e
        rel = relation_of(centroid[i], centroid[j])
        return f"{label_of[i]} {i + 1} {rel} {label_of[j]} {j + 1}", "edge", edge_id(i, j)

    name_of = str(graph.class_names.get(c, c)).replace("_", " ")
    pred_name = str(graph.class_names.get(graph.predicted, graph.predicted)).replace("_", " ")
    p = _Pieces()
    pos = [node_phrase(j) for j in groups["for"]]
    neg = [node_phrase(j) for j in groups["against"]]
    miss = [node_phrase(j) for j in groups["missing"]]
    absence = [node_phrase(j) for j in groups["absence for"]]
    epos = [edge_phrase(e) for e in edge_groups[+1]]
    eneg = [edge_phrase(e) for e in edge_groups[-1]]
    is_are = lambda items: " is missing" if len(items) == 1 else " are missing"  # noqa: E731
    kind = "why" if c == graph.predicted else "why not"
    if kind == "why":
        if pos:
            head = math.ceil(len(pos) / 2)
            p.listing(pos[:head]).add(" " + words("most").format(c=name_of))
            if pos[head:]:
                p.add(words("followed")).listing(pos[head:])
            p.add(".")
        else:
            p.add(f"No concept found in the image contributed positively to the prediction of {name_of}.")
        if epos:
            p.add(" " + words("also")).listing(epos).add(".")
        if neg or eneg:
            p.add(" ").listing(neg or eneg).add(" " + words("against"))
            if neg and eneg:
                p.add(", as did ").listing(eneg)
            p.add(".")
        if miss:
            p.add(" ").listing(miss).add(is_are(miss) + ", which " + words("against") + ".")
        if absence:
            p.add(" The absence of ").listing(absence).add(" " + words("for") + ".")
    else:
        p.add(f"{name_of} was not predicted because ")
        clauses = 0
        if neg or eneg:
            p.listing(neg or eneg).add(" " + words("against"))
            if neg and eneg:
                p.add(", as did ").listing(eneg)
            clauses += 1
        if miss:
            p.add(", and " if clauses else "").listing(miss).add(is_are(miss))
            clauses += 1
        if not clauses:
            p.add(f"its evidence was weaker than that of {pred_name}")
        p.add(".")
        if pos or epos:
            p.add(" ").listing(pos or epos).add(" " + words("for"))
            if pos and epos:
                p.add(", as did ").listing(epos)
            p.add(", but not enough.")
        if absence:
            p.add(" The absence of ").listing(absence).add(" " + words("for") + ".")

    text, spans = _assemble(p.items)
    template, rephrased = text, False
    if rephrase is not None:
        result = _rephrase(p.items, rephrase)
        if result is not None:
            text, spans = result
            rephrased = True

    node_mentions = []
    role_of = {j: role for role, js in groups.items() for j in js}
    for s in spans:
        if s.kind != "node":
            continue
        j = parse_id(s.id)[1][0]
        node_mentions.append(NodeMention(
            id=s.id, index=j, number=j + 1, name=label_of[j], present=bool(present[j]), region=region[j],
            centroid=centroid[j], rank=rank[j], contribution=float(contrib[j]), sign=int(np.sign(contrib[j])),
            role=role_of[j], source=source[j], concept=concept.get(j),
        ))
    edge_mentions = []
    for s in spans:
        if s.kind != "edge":
            continue
        i, j = parse_id(s.id)[1]
        edge_mentions.append(EdgeMention(s.id, node_id(i), node_id(j), relation_of(centroid[i], centroid[j]),
                                         float(edge_contrib[i, j]), int(np.sign(edge_contrib[i, j]))))
    return TextExplanation(text=text, spans=spans, cls=c, class_name=name_of, predicted=int(graph.predicted), kind=kind,
                           nodes=node_mentions, edges=edge_mentions, k=k, style=style, template=template,
                           rephrased=rephrased)


def explain_all(graph: ConceptGraph, **kwargs: Any) -> dict[int, TextExplanation]:
    """One :func:`explain_in_words` per candidate class, in ``graph.classes`` order: the
    "why" of the predicted class and the "why not" of every other one. ``kwargs`` go to
    :func:`explain_in_words` (a "varied" style's seed is offset per class)."""
    if not isinstance(graph, ConceptGraph):
        raise bad_argument("graph", "a ConceptGraph (xwidgets.concepts.result)", graph)
    if "cls" in kwargs:
        raise bad_argument("cls", "no cls for explain_all (it explains every candidate class)", kwargs["cls"])
    seed = kwargs.pop("seed", None)
    if seed is not None:
        _int(seed, "seed", 0)
    return {c: explain_in_words(graph, c, seed=None if seed is None else seed + n, **kwargs)
            for n, c in enumerate(graph.classes)}
