"""``ConceptExplainer``: concept discovery, structural concept graphs and the graph
reasoning network in one object (seed 000, paragraphs 0014-0022; VRX, Ge et al., "A Peek
Into the Reasoning of Neural Networks: Interpreting with Structural Visual Concepts",
CVPR 2021).

    explainer = ConceptExplainer.fit(model, images_by_class)   # discover, build, distil
    cg = explainer.explain(image)                               # -> ConceptGraph
    explainer.fidelity(held_out_images)                         # top-1 agreement
    explainer.save("my_explainer")                              # .npz + .pt + .json
    ConceptExplainer.pretrained("toy_cnn")                      # the shipped one

and ``xw.concept_graph(model, image, bank_or_explainer, reasoner=None)`` for one image.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.inputs import Images
from .bank import ConceptBank
from .contributions import contributions
from .discovery import discover_concepts, resolve_class
from .graph import SCG, build_graphs, check_max_overlap, stack_graphs
from .ensemble import ReasonerEnsemble, load_reasoner, train_ensemble
from .reasoner import GraphReasoner, reasoner_fidelity, train_reasoner
from .result import ConceptGraph

__all__ = ["ConceptExplainer", "concept_graph", "PRETRAINED"]

#: the bundled models with a shipped, pre-fitted explainer (xwidgets/models/zoo/weights/)
PRETRAINED = ("toy_cnn",)
METHOD = "gradient x embedding (graph reasoning network, VRX)"
#: images per build_graphs call while fitting (bounds the memory of the candidate patches)
_GRAPH_CHUNK = 256
_REASONER_CONFIG = ("hidden", "edge_hidden", "node_out", "edge_out", "layers", "node_readout")


def _fingerprint(adapter: ModelAdapter) -> str:
    from ..saliency.tame import model_fingerprint

    return model_fingerprint(adapter.model)


def _weights_dir() -> pathlib.Path:
    from ..models.zoo.toy import WEIGHTS_DIR

    return WEIGHTS_DIR


class ConceptExplainer:
    """A classifier's concept bank and its graph reasoning network, ready to explain images.

    Args:
        model: the classifier (ModelAdapter or nn.Module) the bank was discovered with.
        bank: a :class:`~xwidgets.concepts.bank.ConceptBank`.
        reasoner: a :class:`~xwidgets.concepts.reasoner.GraphReasoner` or a
            :class:`~xwidgets.concepts.ensemble.ReasonerEnsemble` trained on the bank's
            graphs (its classes in the bank's order).
        info: metadata (settings, timings, measured checks), saved with the explainer.
    """

    def __init__(self, model: Any, bank: ConceptBank, reasoner: GraphReasoner | ReasonerEnsemble, *,
                 info: Mapping[str, Any] | None = None, check_model: bool = True):
        self.adapter: ModelAdapter = wrap(model)
        if not isinstance(bank, ConceptBank):
            raise bad_argument("bank", "a ConceptBank (from discover_concepts or ConceptBank.load)", bank)
        if not isinstance(reasoner, (GraphReasoner, ReasonerEnsemble)):
            raise bad_argument("reasoner", "a GraphReasoner or ReasonerEnsemble (from train_reasoner, train_ensemble "
                               "or load_reasoner)", reasoner)
        if reasoner.classes != bank.class_indices or reasoner.config.k != bank.max_concepts \
                or reasoner.config.feature_dim != bank.feature_dim:
            raise bad_argument("reasoner", f"a GraphReasoner for the bank's classes {bank.class_indices}, "
                               f"k={bank.max_concepts}, D={bank.feature_dim}", reasoner.config.to_dict())
        if tuple(self.adapter.preprocess.size) != tuple(bank.input_size):
            raise bad_argument("model", f"a model with input size {bank.input_size}, the bank's", self.adapter,
                               f"its input size is {self.adapter.preprocess.size}")
        self.bank = bank
        self.reasoner = reasoner.eval()
        self.info: dict[str, Any] = dict(info or {})
        expected = self.info.get("model_fingerprint")
        if check_model and expected and _fingerprint(self.adapter) != expected:
            raise bad_argument("model", f"the model this explainer was fitted for ({self.info.get('model', '?')}, "
                               f"fingerprint {expected[:12]}...)", self.adapter,
                               "its weights differ; fit a new explainer for it")

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        model: Any,
        images_by_class: Mapping[int | str, Any],
        *,
        extra_images: Images | None = None,
        discover: Mapping[str, Any] | None = None,
        reasoner: Mapping[str, Any] | None = None,
        radius_scale: float = 1.0,
        max_overlap: float | None = None,
        members: int = 5,
        seed: int = 0,
        progress: bool = True,
    ) -> "ConceptExplainer":
        """Discover the bank, build every image's graphs, distil the reasoning network.

        Args:
            model: the classifier.
            images_by_class: {class index or name: images}, as :func:`discover_concepts`.
            extra_images: more images (no labels needed) whose graphs join the
                distillation set; the discovery images are always used.
            discover: keyword arguments of :func:`discover_concepts` (layer, threshold, ...).
            reasoner: keyword arguments of :func:`train_reasoner` (epochs, lr, ...) and
                :class:`ReasonerConfig` fields (hidden, layers, ...).
            radius_scale: multiplies every concept's absent radius (> 1 finds concepts in
                more of their variants, at the cost of more false matches); recorded in
                ``bank.protocol["radius_scale"]``.
            max_overlap: suppress nested matches when building graphs (see
                :func:`~xwidgets.concepts.graph.build_graphs`; None: keep them); recorded in
                ``bank.protocol["max_overlap"]`` so that explaining uses it too.
            members: how many reasoning networks to distil, one initialisation seed each
                (``seed``, ``seed + 1``, ...), whose scores and contributions are averaged
                (:class:`~xwidgets.concepts.ensemble.ReasonerEnsemble`). A single network
                reproduces the classifier as well, but which of several equally predictive
                nodes or edges it credits depends on its initialisation; 1 gives a plain
                :class:`GraphReasoner` at a fifth of the default training time.
            seed: seeds k-means and the networks.
            progress: tqdm progress bars for every step.
        """
        start = time.perf_counter()
        adapter = wrap(model)
        if not isinstance(images_by_class, Mapping) or not images_by_class:
            raise bad_argument("images_by_class", "a non-empty dict {class index or name: list of images}",
                               images_by_class)
        if isinstance(radius_scale, bool) or not isinstance(radius_scale, (int, float)) or not 0 < radius_scale < 100:
            raise bad_argument("radius_scale", "a number in (0, 100)", radius_scale)
        max_overlap = check_max_overlap(max_overlap)
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise bad_argument("members", "a positive int", members)
        discover = dict(discover or {})
        discover.setdefault("seed", seed)
        bank = discover_concepts(adapter, images_by_class, progress=progress, **discover)
        if radius_scale != 1.0:
            for concepts in bank.classes:
                concepts.radius = (concepts.radius * float(radius_scale)).astype(np.float32)
            bank.protocol["radius_scale"] = float(radius_scale)
        if max_overlap is not None:
            bank.protocol["max_overlap"] = max_overlap
        t_bank = time.perf_counter() - start
        parts = []
        for key, images in images_by_class.items():
            inputs, _ = adapter.prepare(images)
            parts.append(inputs)
        if extra_images is not None:
            try:
                inputs, _ = adapter.prepare(extra_images)
            except ValueError as error:
                raise ValueError(f"extra_images: {error}") from None
            parts.append(inputs)
        inputs = torch.cat(parts)
        # in chunks: build_graphs holds every candidate patch of its images at once (memory)
        graphs = [g for lo in range(0, inputs.shape[0], _GRAPH_CHUNK)
                  for g in build_graphs(adapter, inputs[lo: lo + _GRAPH_CHUNK], bank, progress=progress)]
        t_graphs = time.perf_counter() - start - t_bank
        batch = stack_graphs(graphs, bank.class_indices, k=bank.max_concepts)
        logits = _logits(adapter, inputs)[:, bank.class_indices]
        kwargs = dict(reasoner or {})
        kwargs.setdefault("seed", seed)
        if members == 1:
            net = train_reasoner(batch, logits, class_names=bank.class_names, progress=progress, **kwargs)
        else:
            net = train_ensemble(batch, logits, members=members, class_names=bank.class_names, progress=progress,
                                 **kwargs)
        info = {
            "model": adapter.name, "model_fingerprint": _fingerprint(adapter), "layer": bank.layer,
            "classes": bank.class_indices, "class_names": bank.class_names, "k": bank.max_concepts,
            "distillation_images": int(inputs.shape[0]), "members": members,
            "train_fidelity": round(reasoner_fidelity(net, batch, logits), 4),
            "seconds": {"discover": round(t_bank, 1), "graphs": round(t_graphs, 1),
                        "reasoner": net.info.get("train_seconds"), "total": round(time.perf_counter() - start, 1)},
        }
        return cls(adapter, bank, net, info=info)

    # ------------------------------------------------------------------ explaining
    def graphs(self, images: Images, *, progress: bool = False) -> list[dict[int, SCG]]:
        """Every bank class's structural concept graph for each image."""
        return build_graphs(self.adapter, images, self.bank, progress=progress)

    def explain(self, image: Any, classes: Sequence[int | str] | None = None, *,
                true_class: int | str | None = None) -> ConceptGraph:
        """One image's :class:`~xwidgets.concepts.result.ConceptGraph`.

        Args:
            image: one image (any form ``xw.explain`` takes; a batch of one is accepted).
            classes: candidate classes shown (indices or names of the bank's classes;
                default all, most probable first); the predicted class is always included.
            true_class: the image's true class, when known.
        """
        inputs, pixels = self.adapter.prepare(image)
        if inputs.shape[0] != 1:
            raise bad_argument("image", "one image (use explain_many for a batch)", image,
                               f"it holds {inputs.shape[0]} images")
        return self._explain(inputs, pixels, [classes], [true_class])[0]

    def explain_many(self, images: Images, classes: Sequence[int | str] | None = None, *,
                     true_classes: Sequence[int | str | None] | None = None,
                     progress: bool = False) -> list[ConceptGraph]:
        """:meth:`explain` for a batch of images (graphs built in one batched pass)."""
        inputs, pixels = self.adapter.prepare(images)
        n = inputs.shape[0]
        if true_classes is not None and (isinstance(true_classes, (str, bytes)) or len(true_classes) != n):
            raise bad_argument("true_classes", f"{n} class indices, names or None, one per image", true_classes)
        return self._explain(inputs, pixels, [classes] * n, list(true_classes) if true_classes is not None else [None] * n,
                             progress=progress)

    def _candidates(self, classes: Sequence[int | str] | None) -> list[int] | None:
        if classes is None:
            return None
        if isinstance(classes, (str, int, np.integer)) or not isinstance(classes, Sequence) or not classes:
            raise bad_argument("classes", "a non-empty list of class indices or names", classes)
        out = []
        for i, c in enumerate(classes):
            index = resolve_class(self.adapter, c, f"classes[{i}]")
            if index not in self.bank.class_indices:
                raise bad_argument(f"classes[{i}]", f"a class of the explainer's bank {self.bank.class_names}", c)
            if index not in out:
                out.append(index)
        return out

    def _explain(self, inputs: torch.Tensor, pixels: np.ndarray, classes: list, true_classes: list, *,
                 progress: bool = False) -> list[ConceptGraph]:
        chosen = [self._candidates(c) for c in classes]
        truths = [None if t is None else resolve_class(self.adapter, t, "true_class") for t in true_classes]
        bank_classes = self.bank.class_indices
        graphs = build_graphs(self.adapter, inputs, self.bank, progress=progress)
        batch = stack_graphs(graphs, bank_classes, k=self.bank.max_concepts)
        contrib = contributions(self.reasoner, batch)
        logits = _logits(self.adapter, inputs)
        probs = torch.softmax(logits, 1).numpy()
        own_node = contrib.own_node().numpy()
        own_edge = contrib.own_edge().numpy()
        totals = contrib.graph_totals().numpy()
        scores = contrib.scores.numpy()
        bias = contrib.bias.numpy()
        out = []
        for n in range(inputs.shape[0]):
            predicted = bank_classes[int(np.argmax(logits[n, bank_classes].numpy()))]
            order = chosen[n] if chosen[n] is not None else sorted(bank_classes, key=lambda c: -probs[n, c])
            if predicted not in order:
                order = [predicted, *order]
            pos = {c: bank_classes.index(c) for c in order}
            out.append(ConceptGraph(
                image=pixels[n], classes=order, class_names={c: self.adapter.labels[c] for c in order},
                predicted=predicted, probabilities={c: float(probs[n, c]) for c in order},
                reasoner_scores={c: float(scores[n, pos[c]]) for c in order},
                graphs={c: graphs[n][c] for c in order},
                node_contribution={c: own_node[n, pos[c], :len(graphs[n][c])] for c in order},
                edge_contribution={c: own_edge[n, pos[c], :len(graphs[n][c]), :len(graphs[n][c])] for c in order},
                true_class=truths[n], method=METHOD,
                graph_contribution={c: {g: float(totals[n, pos[c], j]) for j, g in enumerate(bank_classes)}
                                    for c in order},
                score_bias={c: float(bias[pos[c]]) for c in order},
            ))
        return out

    def fidelity(self, images: Images, *, progress: bool = False) -> float:
        """Top-1 agreement between the reasoning network and the classifier (over the
        bank's classes) on ``images``: VRX's fidelity."""
        inputs, _ = self.adapter.prepare(images)
        graphs = build_graphs(self.adapter, inputs, self.bank, progress=progress)
        batch = stack_graphs(graphs, self.bank.class_indices, k=self.bank.max_concepts)
        return reasoner_fidelity(self.reasoner, batch, _logits(self.adapter, inputs)[:, self.bank.class_indices])

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | pathlib.Path, name: str = "concept_explainer") -> pathlib.Path:
        """Write ``<directory>/<name>.npz`` (the bank), ``<name>.pt`` (the network's or
        the ensemble's state dict) and ``<name>.json`` (its config and this explainer's
        info); no pickle."""
        directory = pathlib.Path(directory)
        if not isinstance(name, str) or not name or "/" in name:
            raise bad_argument("name", "a file name stem", name)
        directory.mkdir(parents=True, exist_ok=True)
        self.bank.save(directory / f"{name}.npz")
        self.reasoner.save(directory / f"{name}.pt", info={**getattr(self.reasoner, "info", {}), "explainer": self.info})
        return directory

    @classmethod
    def load(cls, directory: str | pathlib.Path, model: Any, name: str = "concept_explainer", *,
             check_model: bool = True) -> "ConceptExplainer":
        """An explainer written by :meth:`save`, for ``model`` (checked against the
        fingerprint of the model it was fitted for unless ``check_model=False``)."""
        directory = pathlib.Path(directory)
        bank_path, net_path = directory / f"{name}.npz", directory / f"{name}.pt"
        if not bank_path.is_file() or not net_path.is_file():
            raise bad_argument("directory", f"a folder holding {name}.npz, {name}.pt and {name}.json "
                               "(ConceptExplainer.save)", str(directory), "No such files")
        bank = ConceptBank.load(bank_path)
        net = load_reasoner(net_path)
        info = dict(net.info.get("explainer", {}))
        return cls(model, bank, net, info=info, check_model=check_model)

    @classmethod
    def pretrained(cls, name: str = "toy_cnn", model: Any = None) -> "ConceptExplainer":
        """The shipped, pre-fitted explainer of a bundled model (``scripts/fit_concept_explainer.py``)."""
        if name not in PRETRAINED:
            raise bad_argument("name", f"one of {', '.join(map(repr, PRETRAINED))}", name)
        if model is None:
            from .. import models

            model = getattr(models, name)()
        return cls.load(_weights_dir(), model, name=f"concepts_{name}")

    def __repr__(self) -> str:
        return (f"ConceptExplainer(model={self.adapter.name!r}, layer={self.bank.layer!r}, "
                f"classes={len(self.bank)}, k={self.bank.max_concepts})")


@torch.no_grad()
def _logits(adapter: ModelAdapter, inputs: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    from ..models.hooks import frozen_eval

    with frozen_eval(adapter.model):
        return torch.cat([adapter.logits(inputs[lo: lo + batch_size]).float().cpu()
                          for lo in range(0, inputs.shape[0], batch_size)])


def concept_graph(model: Any, image: Any, bank_or_explainer: ConceptBank | ConceptExplainer,
                  reasoner: GraphReasoner | ReasonerEnsemble | None = None, *, classes: Sequence[int | str] | None = None,
                  true_class: int | str | None = None) -> ConceptGraph:
    """One image's concept-graph explanation (seed 000; VRX): its structural concept
    graphs and each node's and edge's signed contribution to every class score.

    Args:
        model: the classifier.
        image: one image.
        bank_or_explainer: a :class:`ConceptExplainer`, or a ConceptBank with ``reasoner``.
        reasoner: the :class:`GraphReasoner` or :class:`ReasonerEnsemble` trained on the
            bank (only with a bank).
        classes, true_class: as :meth:`ConceptExplainer.explain`.
    """
    if isinstance(bank_or_explainer, ConceptExplainer):
        if reasoner is not None:
            raise bad_argument("reasoner", "None when a ConceptExplainer is given (it holds its own)", reasoner)
        explainer = bank_or_explainer
        adapter = wrap(model)
        if adapter.model is not explainer.adapter.model:
            explainer = ConceptExplainer(adapter, explainer.bank, explainer.reasoner, info=explainer.info)
    elif isinstance(bank_or_explainer, ConceptBank):
        if reasoner is None:
            raise bad_argument("reasoner", "the GraphReasoner trained on this bank", reasoner)
        explainer = ConceptExplainer(model, bank_or_explainer, reasoner)
    else:
        raise bad_argument("bank_or_explainer", "a ConceptExplainer, or a ConceptBank with its reasoner",
                           bank_or_explainer)
    return explainer.explain(image, classes, true_class=true_class)
