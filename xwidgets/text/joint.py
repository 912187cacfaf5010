"""``JointSpace``: a joint image-text embedding learned contrastively from pairs.

Seed 000, claims 1-3 and paragraphs 0025-0027: a second model determines image
features of the visual concepts (image patches, claim 4), maps them to text features
in a joint embedding space learned from image-text pairs, and names concepts by
relating their image features to text features in that space. Training brings
matching pairs together and pushes the others apart with a symmetric InfoNCE loss
(paragraph 0026; NT-Xent / InfoNCE: van den Oord et al. 2018, Chen et al. 2020), as
in CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural
Language Supervision", section 2.5 and Figure 3): cosine similarities scaled by a
learnable temperature, log-parameterised, initialised to 0.07 and clipped so the
logits are scaled by at most 100.

Pairs that state the same thing (equal :class:`~xwidgets.text.pairs.Statement`, or
equal captions for pairs without one) count as positives of each other, so two red
headlights in one batch are not pushed apart (label-aware targets as in UniCL, Yang
et al. 2022, "Unified Contrastive Learning in Image-Text-Label Space").

The classifier is frozen: its features are computed once per training run, then only
the two projection heads (and the built-in text encoder) are trained.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import pathlib
import re
import time
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .._plain import plain
from .._validation import Described, bad_argument
from ..models.adapter import ModelAdapter
from .encoders import ImageEncoder, TextEncoder, make_text_encoder
from .pairs import Pairs, Phrase, Statement, naming_phrases

__all__ = ["JointSpace", "ConceptName", "contrastive_loss", "FORMAT"]

FORMAT = "xwidgets.text.JointSpace/1"
#: CLIP's bound on the logit scale (1 / temperature).
MAX_LOGIT_SCALE = 100.0


@dataclasses.dataclass(frozen=True)
class ConceptName:
    """A patch named by retrieval: the nearest phrase, its cosine similarity and what
    the phrase states (type and colour for the synthetic vocabulary, else None)."""

    phrase: str
    similarity: float
    statement: Statement | None

    @property
    def type(self) -> str | None:
        return None if self.statement is None else self.statement.type

    @property
    def colour(self) -> str | None:
        return None if self.statement is None else self.statement.colour


def without_article(phrase: str) -> str:
    """A phrase without its leading article: "a grey wheel" -> "grey wheel"."""
    return re.sub(r"^(a|an|the)\s+", "", phrase.strip(), flags=re.IGNORECASE)


def contrastive_loss(image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                     groups: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE of L2-normalised (B, D) image and text embeddings.

    ``groups`` (B,) ints: pairs of one group are each other's positives (targets
    spread evenly over them); None: only the diagonal (CLIP's loss)."""
    logits = logit_scale * image @ text.T
    if groups is None:
        target = torch.arange(len(image), device=image.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    positive = (groups[:, None] == groups[None, :]).float()
    target = positive / positive.sum(1, keepdim=True)
    i2t = -(target * F.log_softmax(logits, 1)).sum(1).mean()
    t2i = -(target * F.log_softmax(logits.T, 1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


def _check_number(value: Any, argument: str, low: float, high: float | None = None, integer: bool = False) -> Any:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= low
    if integer:
        ok = ok and isinstance(value, numbers.Integral)
    if ok and high is not None:
        ok = value <= high
    if not ok:
        kind = "an int" if integer else "a number"
        span = f">= {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise bad_argument(argument, f"{kind} {span}", value)
    return int(value) if integer else float(value)


class JointSpace(nn.Module):
    """A joint image-text space for a classifier's concept patches.

    Args:
        model: the classifier whose features describe patches (any model
            ``xw.wrap`` takes); frozen and not saved with the space.
        text: the text encoder: "auto" (the pretrained all-MiniLM-L6-v2 when
            ``xwidgets[text]`` is installed, else built in), "builtin",
            "sentence-transformers", or a :class:`~xwidgets.text.encoders.TextEncoder`.
        layers: the classifier layer(s) whose outputs describe a patch (default: its
            CAM layer). Earlier layers keep colour: for the toy CNN, ["layer2",
            "layer3"] names 99% of held-out parts right, "layer4" alone (8x8) 77% of
            types and 23% of colours (validation seeds, scripts/train_joint_space.py).
        pooling: "mask" or "crop" (see :class:`~xwidgets.text.encoders.ImageEncoder`).
        position: give the image head the patch's position (so position phrases align).
        dim: size of the joint space.
        hidden: hidden width of the image head.
        temperature: initial temperature (CLIP: 0.07).
        learn_temperature: learn it (CLIP) or keep it fixed.
        vocabulary: candidate phrases for :meth:`name` (strings or
            :class:`~xwidgets.text.pairs.Phrase`); default: set by :meth:`fit`.
        seed: initialises the heads (the global RNG is untouched).

    >>> space = JointSpace(xw.models.toy_cnn(), text="builtin")      # doctest: +SKIP
    >>> space.fit(synthetic_pairs(1000, seed=10_000))                 # doctest: +SKIP
    >>> space.name(image, mask)                                      # doctest: +SKIP
    ConceptName(phrase='a red headlight', similarity=0.83, ...)
    """

    def __init__(
        self,
        model: Any,
        text: Any = "auto",
        *,
        layers: str | Sequence[str] | None = None,
        pooling: str = "mask",
        position: bool = True,
        dim: int = 128,
        hidden: int = 256,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        vocabulary: Sequence[str | Phrase] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(model, JointSpace) or not isinstance(model, (nn.Module, ModelAdapter)):
            raise bad_argument("model", "a classifier (an nn.Module or an xwidgets ModelAdapter)", model)
        dim = _check_number(dim, "dim", 1, integer=True)
        temperature = _check_number(temperature, "temperature", 1.0 / MAX_LOGIT_SCALE, 10.0)
        if not isinstance(learn_temperature, bool):
            raise bad_argument("learn_temperature", "True or False", learn_temperature)
        seed = _check_number(seed, "seed", 0, integer=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.image_encoder = ImageEncoder(model, layers, pooling=pooling, position=position, dim=dim, hidden=hidden)
            self.text_encoder: TextEncoder = make_text_encoder(text, dim)
        scale = torch.tensor(math.log(1.0 / temperature))
        if learn_temperature:
            self.log_logit_scale = nn.Parameter(scale)
        else:
            self.register_buffer("log_logit_scale", scale)
        self.learn_temperature = learn_temperature
        self.seed = seed
        self.vocabulary: list[Phrase] = [] if vocabulary is None else _phrases(vocabulary, "vocabulary")
        self.history: list[float] = []
        self.info: dict[str, Any] = {}
        self.text_encoder.to(self.image_encoder.adapter.device)
        self._phrase_cache: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ properties
    @property
    def adapter(self) -> ModelAdapter:
        return self.image_encoder.adapter

    @property
    def dim(self) -> int:
        return self.image_encoder.dim

    @property
    def temperature(self) -> float:
        return float(1.0 / self.logit_scale().detach())

    def logit_scale(self) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        pairs: Pairs,
        *,
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        position_dropout: float = 0.2,
        box_rate: float = 0.5,
        seed: int = 0,
        progress: bool = True,
    ) -> list[float]:
        """Train the heads on ``pairs`` with the symmetric InfoNCE loss; returns the
        mean loss of each epoch (also in ``history``).

        The classifier's features of every patch are computed once; each epoch then
        shuffles the pairs (seeded) and steps AdamW with a cosine learning rate. The
        heads are small: on a busy CPU ``torch.set_num_threads(1)`` is much faster
        than more threads (28 ms against 550 ms a step, measured on a loaded 2-core
        machine).
        ``position_dropout``: the fraction of patches whose position is hidden in
        each batch, so crops without a position are named too. ``box_rate``: the
        fraction of masked patches replaced, once, by their bounding box widened by
        0-3 pixels (seeded), so that rectangular crops, whose background is part of
        the patch, are named too. When ``vocabulary``
        is empty it is set to :func:`~xwidgets.text.pairs.naming_phrases` for pairs
        with statements (synthetic), else to the distinct captions.
        """
        if not isinstance(pairs, Pairs):
            raise bad_argument("pairs", "an xwidgets.text.Pairs (synthetic_pairs or load_pairs)", pairs)
        if len(pairs) < 2:
            raise bad_argument("pairs", "at least 2 pairs", pairs)
        epochs = _check_number(epochs, "epochs", 1, integer=True)
        batch_size = _check_number(batch_size, "batch_size", 2, integer=True)
        lr = _check_number(lr, "lr", 0.0)
        weight_decay = _check_number(weight_decay, "weight_decay", 0.0)
        position_dropout = _check_number(position_dropout, "position_dropout", 0.0, 1.0)
        box_rate = _check_number(box_rate, "box_rate", 0.0, 1.0)
        seed = _check_number(seed, "seed", 0, integer=True)
        if not isinstance(progress, bool):
            raise bad_argument("progress", "True or False", progress)
        start = time.perf_counter()
        masks = _box_augmented(pairs.masks, box_rate, seed)
        feats, positions = self.image_encoder.features(pairs.images, pairs.image_index, masks)
        feature_seconds = time.perf_counter() - start
        self.image_encoder.set_normaliser(feats)
        keys: dict[Any, int] = {}
        groups = torch.tensor([
            keys.setdefault(s if s is not None else ("caption", c), len(keys))
            for s, c in zip(pairs.statements, pairs.captions)
        ])
        captions = pairs.captions
        device = self.adapter.device
        params = [p for p in self.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        n = len(pairs)
        steps_per_epoch = max(1, math.ceil(n / batch_size))
        total = epochs * steps_per_epoch
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
        gen = torch.Generator().manual_seed(seed)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, desc="joint space", leave=False)
        history: list[float] = []
        self.train()
        try:
            for _ in range(epochs):
                order = torch.randperm(n, generator=gen)
                losses = []
                for lo in range(0, n, batch_size):
                    idx = order[lo: lo + batch_size]
                    if len(idx) < 2:
                        continue
                    pos = positions[idx].clone()
                    if self.image_encoder.position and position_dropout > 0:
                        hide = torch.rand(len(idx), generator=gen) < position_dropout
                        pos[hide] = 0.0
                    img = F.normalize(self.image_encoder(feats[idx].to(device), pos.to(device)), dim=-1)
                    txt = F.normalize(self.text_encoder([captions[i] for i in idx.tolist()]), dim=-1)
                    loss = contrastive_loss(img, txt, self.logit_scale(), groups[idx].to(device))
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    schedule.step()
                    losses.append(float(loss.detach()))
                history.append(float(np.mean(losses)))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{history[-1]:.3f}")
        finally:
            if bar is not None:
                bar.close()
            self.eval()
        self.history.extend(history)
        self._phrase_cache.clear()
        if not self.vocabulary:
            self.vocabulary = naming_phrases() if pairs.has_statements else _phrases(sorted(set(captions)), "vocabulary")
        self.info.update({
            "pairs": n, "images": len(pairs.images), "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "weight_decay": weight_decay, "position_dropout": position_dropout, "box_rate": box_rate, "fit_seed": seed,
            "feature_seconds": round(feature_seconds, 2), "fit_seconds": round(time.perf_counter() - start, 2),
        })
        return history

    # ------------------------------------------------------------------ embedding
    @torch.no_grad()
    def embed_images(self, images: Any, masks: Any = None, *, batch_size: int = 64) -> torch.Tensor:
        """(P, dim) L2-normalised embeddings of image patches, on the CPU.

        ``images``: one image ((H, W, 3) uint8 array, PIL image or file path), a list
        of them, an (N, H, W, 3) uint8 array, or a :class:`~xwidgets.text.pairs.Pairs`.
        ``masks``: None (each whole image is the patch, e.g. a crop); for one image,
        an (H, W) bool mask or (M, H, W) masks (M patches of it); for N images, N
        masks (an (N, H, W) array or a list of (H, W) arrays or None).
        """
        images_, index, masks_ = _patches(images, masks)
        feats, positions = self.image_encoder.features(images_, index, masks_, batch_size=batch_size)
        self.eval()
        out = self.image_encoder(feats.to(self.adapter.device), positions.to(self.adapter.device))
        return F.normalize(out, dim=-1).cpu()

    @torch.no_grad()
    def embed_texts(self, texts: str | Sequence[str]) -> torch.Tensor:
        """(N, dim) L2-normalised embeddings of strings, on the CPU."""
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(texts, Sequence) and not texts:
            return torch.zeros(0, self.dim)
        self.eval()
        return F.normalize(self.text_encoder(list(texts)), dim=-1).cpu()

    def _phrase_matrix(self, phrases: list[Phrase]) -> torch.Tensor:
        missing = [p.text for p in phrases if p.text not in self._phrase_cache]
        if missing:
            for text, row in zip(missing, self.embed_texts(list(dict.fromkeys(missing)))):
                self._phrase_cache[text] = row
        return torch.stack([self._phrase_cache[p.text] for p in phrases])

    def _candidates(self, phrases: Any) -> list[Phrase]:
        if phrases is None:
            if not self.vocabulary:
                raise bad_argument("phrases", "candidate phrases (this joint space has no vocabulary yet: fit it, "
                                   "or pass phrases)", phrases)
            return self.vocabulary
        return _phrases(phrases, "phrases")

    def similarities(self, images: Any, masks: Any = None, phrases: Any = None) -> tuple[torch.Tensor, list[Phrase]]:
        """(P, K) cosine similarities of patches to candidate phrases, and the phrases."""
        candidates = self._candidates(phrases)
        return self.embed_images(images, masks) @ self._phrase_matrix(candidates).T, candidates

    def nearest_phrases(self, images: Any, masks: Any = None, k: int = 5,
                        phrases: Any = None) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
        """The ``k`` phrases nearest to each patch, as (phrase, cosine similarity), most
        similar first. One patch (one image with at most one mask) gives one list,
        several patches a list per patch. ``phrases``: candidates (default: the
        vocabulary)."""
        k = _check_number(k, "k", 1, integer=True)
        sims, candidates = self.similarities(images, masks, phrases)
        top = sims.topk(min(k, sims.shape[1]), dim=1)
        out = [[(candidates[j].text, float(v)) for v, j in zip(vals.tolist(), idx.tolist())]
               for vals, idx in zip(top.values, top.indices)]
        return out[0] if _single_patch(images, masks) else out

    def name(self, images: Any, masks: Any = None, phrases: Any = None) -> ConceptName | list[ConceptName]:
        """Name patches by retrieval: the nearest candidate phrase of each (default:
        the vocabulary, for the synthetic set "a <colour> <type>" for every allowed
        pair, whose statement gives the type and colour). One patch gives one
        :class:`ConceptName`, several a list."""
        sims, candidates = self.similarities(images, masks, phrases)
        best = sims.argmax(1)
        out = [ConceptName(candidates[j].text, float(sims[i, j]), candidates[j].statement)
               for i, j in enumerate(best.tolist())]
        return out[0] if _single_patch(images, masks) else out

    def name_graph(self, graph: Any) -> Any:
        """Name every present concept of every class graph of ``graph`` (a
        :class:`~xwidgets.concepts.result.ConceptGraph`) by its patch, in place: its
        ``concept_names`` get the nearest phrase without its article ("grey wheel").
        Absent concepts, and present ones with an empty mask, keep their names.
        Returns the graph, so ``xw.explore(joint.name_graph(graph))`` works."""
        from ..concepts.result import ConceptGraph

        if not isinstance(graph, ConceptGraph):
            raise bad_argument("graph", "a ConceptGraph (xwidgets.concepts.result)", graph)
        for c in graph.classes:
            scg = graph.graphs[c]
            masks = np.asarray(scg.masks, bool)
            found = np.flatnonzero(np.asarray(scg.present, bool) & masks.reshape(len(masks), -1).any(axis=1))
            if not len(found):  # none of the class's concepts is in the image
                continue
            named = self.name(graph.image, masks[found])
            names = list(graph.concept_names.get(c, scg.concept_ids))
            for j, concept in zip(found.tolist(), named if isinstance(named, list) else [named]):
                names[j] = without_article(concept.phrase)
            graph.concept_names[c] = names
        return graph

    # ------------------------------------------------------------------ saving
    def config(self) -> dict[str, Any]:
        from ..saliency.tame import model_fingerprint

        return plain({
            "format": FORMAT,
            "image_encoder": self.image_encoder.config(),
            "model_fingerprint": model_fingerprint(self.adapter.model),
            "text_encoder": self.text_encoder.config(),
            "dim": self.dim,
            "temperature": self.temperature,
            "learn_temperature": self.learn_temperature,
            "seed": self.seed,
            "vocabulary": [{"text": p.text, "statement": None if p.statement is None else
                            {k: v for k, v in p.statement.to_dict().items() if v is not None}}
                           for p in self.vocabulary],
            "history": self.history,
            "info": self.info,
        })

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the trained heads as a float32 state dict to ``path`` (``.pt``) and
        the configuration as JSON next to it (same name, ``.json``). The classifier
        and a pretrained sentence model are not saved: they are referenced."""
        path = pathlib.Path(path)
        if path.suffix != ".pt":
            raise bad_argument("path", "a file name ending in .pt", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().float().clone().contiguous() for k, v in self.state_dict().items()}
        torch.save(state, path)
        path.with_suffix(".json").write_text(json.dumps(self.config(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path, model: Any = None) -> "JointSpace":
        """A joint space written by :meth:`save` (``torch.load(weights_only=True)``).

        ``model``: the classifier it was trained for; None loads the bundled toy model
        named in its configuration. A model whose weights differ from the ones it was
        trained with is refused (the heads would read other features)."""
        path = pathlib.Path(path)
        config_path = path.with_suffix(".json")
        if not path.is_file() or not config_path.is_file():
            raise bad_argument("path", "a .pt file written by JointSpace.save, with its .json beside it", str(path),
                               "No such file")
        config = json.loads(config_path.read_text())
        if config.get("format") != FORMAT:
            raise bad_argument("path", f"a joint space saved in format {FORMAT}", config.get("format"))
        image_cfg = config["image_encoder"]
        if model is None:
            from ..models import zoo
            from ..models.zoo.toy import TOY_MODELS

            if image_cfg["model"] not in TOY_MODELS:
                raise bad_argument("model", f"the classifier this space was trained for ({image_cfg['model']!r})", None)
            model = getattr(zoo, image_cfg["model"])()
        space = cls(
            model, config["text_encoder"], layers=image_cfg["layers"], pooling=image_cfg["pooling"],
            position=image_cfg["position"], dim=config["dim"], hidden=image_cfg["hidden"],
            temperature=config["temperature"], learn_temperature=config["learn_temperature"], seed=config["seed"],
            vocabulary=[Phrase(v["text"], None if v["statement"] is None else Statement.from_dict(v["statement"]))
                        for v in config["vocabulary"]],
        )
        from ..saliency.tame import model_fingerprint

        if model_fingerprint(space.adapter.model) != config.get("model_fingerprint"):
            raise bad_argument("model", f"the classifier this space was trained for ({image_cfg['model']!r}, "
                               "same weights)", _other_weights(space.adapter))
        state = torch.load(path, map_location="cpu", weights_only=True)
        space.load_state_dict(state)
        space.to(space.adapter.device)
        space.history = list(config.get("history", []))
        space.info = dict(config.get("info", {}))
        return space.eval()

    def __repr__(self) -> str:
        enc = self.image_encoder
        trained = f"trained {len(self.history)} epoch(s)" if self.history else "untrained"
        return (f"JointSpace(model={enc.adapter.name!r}, layers={enc.layers}, pooling={enc.pooling!r}, "
                f"text={self.text_encoder!r}, dim={self.dim}, vocabulary={len(self.vocabulary)} phrases, {trained})")


def _other_weights(adapter: ModelAdapter) -> Described:
    """How a classifier with other weights is described in the error message."""
    return Described(f"{adapter.name} with other weights")


# ----------------------------------------------------------------------------- input handling


def _box_augmented(masks: Sequence[np.ndarray | None], rate: float, seed: int) -> list[np.ndarray | None]:
    """``masks`` with a ``rate`` fraction of them replaced by their bounding box widened
    by 0-3 pixels on each side (clipped to the image), drawn from ``seed``."""
    rng = np.random.default_rng([seed, 4242])
    out = list(masks)
    for i, m in enumerate(masks):
        if m is None or rng.random() >= rate:
            continue
        ys, xs = np.nonzero(m)
        pad = rng.integers(0, 4, size=4)
        h, w = m.shape
        box = np.zeros_like(m)
        box[max(0, ys.min() - pad[0]): min(h, ys.max() + 1 + pad[1]), max(0, xs.min() - pad[2]): min(w, xs.max() + 1 + pad[3])] = True
        out[i] = box
    return out


def _phrases(phrases: Any, argument: str) -> list[Phrase]:
    if isinstance(phrases, str) or not isinstance(phrases, Sequence) or not phrases:
        raise bad_argument(argument, "a non-empty list of phrases (strings or Phrase)", phrases)
    out = []
    for p in phrases:
        if isinstance(p, Phrase):
            out.append(p)
        elif isinstance(p, str) and p.strip():
            out.append(Phrase(p))
        else:
            raise bad_argument(argument, "a non-empty list of phrases (strings or Phrase)", p)
    return out


def _image(item: Any, argument: str) -> np.ndarray:
    if isinstance(item, (str, pathlib.Path)):
        path = pathlib.Path(item)
        if not path.is_file():
            raise bad_argument(argument, "an existing image file", str(path))
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB"), dtype=np.uint8).copy()
    if isinstance(item, Image.Image):
        return np.asarray(item.convert("RGB"), dtype=np.uint8)
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray) and item.ndim == 3 and item.shape[-1] == 3 and item.dtype == np.uint8:
        return item
    raise bad_argument(argument, "an (H, W, 3) uint8 RGB image, a PIL image or a file path", item)


def _mask(m: Any, shape: tuple[int, int], argument: str) -> np.ndarray | None:
    if m is None:
        return None
    if isinstance(m, torch.Tensor):
        m = m.detach().cpu().numpy()
    m = np.asarray(m)
    if m.shape != shape or m.dtype != bool:
        raise bad_argument(argument, f"a bool mask of the image's shape {shape}", m)
    if not m.any():
        raise bad_argument(argument, "a mask with at least one pixel", m)
    return m


def _is_single_image(images: Any) -> bool:
    if isinstance(images, (str, pathlib.Path, Image.Image)):
        return True
    return isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 3


def _single_patch(images: Any, masks: Any) -> bool:
    if isinstance(images, Pairs) or not _is_single_image(images):
        return False
    return masks is None or np.ndim(masks) == 2


def _patches(images: Any, masks: Any) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray | None]]:
    """(images, image index per patch, mask per patch) from the accepted inputs."""
    if isinstance(images, Pairs):
        if masks is not None:
            raise bad_argument("masks", "None when images are Pairs (they carry their masks)", masks)
        return images.images, images.image_index, images.masks
    if _is_single_image(images):
        image = _image(images, "images")
        shape = image.shape[:2]
        if masks is None or np.ndim(masks) == 2:
            return [image], np.zeros(1, np.int64), [_mask(masks, shape, "masks")]
        if np.ndim(masks) == 3:
            ms = [_mask(m, shape, f"masks[{i}]") for i, m in enumerate(masks)]
            if not ms:
                raise bad_argument("masks", "at least one mask", masks)
            return [image], np.zeros(len(ms), np.int64), ms
        raise bad_argument("masks", "None, an (H, W) bool mask or (M, H, W) masks of the image", masks)
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
        items = list(images)
    elif isinstance(images, Sequence) and not isinstance(images, str):
        items = list(images)
    else:
        raise bad_argument("images", "an image, a list of images, an (N, H, W, 3) uint8 array or Pairs", images)
    if not items:
        raise bad_argument("images", "at least one image", images)
    arrays = [_image(item, f"images[{i}]") for i, item in enumerate(items)]
    if masks is None:
        ms: list[np.ndarray | None] = [None] * len(arrays)
    else:
        if len(masks) != len(arrays):
            raise bad_argument("masks", f"one mask (or None) per image ({len(arrays)})", masks)
        ms = [_mask(m, a.shape[:2], f"masks[{i}]") for i, (m, a) in enumerate(zip(masks, arrays))]
    return arrays, np.arange(len(arrays)), ms
