"""XNN: an explanation neural network that embeds a layer into a few x-features.

Qi, Khorram & Li, "Embedding Deep Networks into Visual Explanations", Artificial
Intelligence (2021), arXiv:1709.05360 (seed 004; METHODS.md "Seed 004").

What is taken from where:

* From the paper's abstract and seed 004: a nonlinear embedding ``x = E(z)`` of a
  layer's activation ``z`` into a low-dimensional explanation space (the x-features),
  learned by a Sparse Reconstruction Autoencoder (SRAE) whose loss has three parts:
  faithfulness (the model's prediction is rebuilt from the x-features), sparse
  reconstruction of the activation, and a pull-away term that makes the x-feature
  bases more orthogonal; each x-feature is visualised by a backward saliency method.
* Our reading of the paper's equations (not verified against its full text, which
  the reference search could not reach): the prediction is rebuilt by a *linear* map
  ``y_hat = D_y(x)``, so each x-feature's contribution to a class is ``x_k W_ck``; the
  sparse reconstruction error is the log penalty ``log(1 + q (z - z_hat)^2)``, which
  lets a few activation dimensions go unreconstructed ("reconstruct part of the
  feature space"); the pull-away term is EBGAN's (Zhao et al. 2017): the mean squared
  cosine between different x-features over a batch.
* Our choices: ``z`` is the layer's output spatially averaged (any CNN layer, ViT
  tokens on their grid) and standardised with the training set's statistics; the
  x-features are non-negative (a ReLU), with an L1 sparsity penalty on them; the
  faithfulness loss is the squared error between ``D_y(x)`` and the model's logits,
  divided by the logits' variance on the training set; one XNN rebuilds all the
  logits, and :meth:`XNN.faithfulness` reports top-1 agreement (the paper may
  explain one class's score at a time: unverified); during the first half of training an
  x-feature that is zero on every training image gets fresh random input weights
  (a dead ReLU gets no gradient). Default weights (1, 0.1, 0.02, 0.5 for
  faithfulness, reconstruction, sparsity, pull-away) were tuned on the toy CNN, not
  taken from the paper.
* Saliency of an x-feature: the x-feature is made the output of a wrapped model
  (image -> layer -> pool -> encoder), so every registered method of
  :func:`xwidgets.explain` applies with the x-feature index as the target
  (default Grad-CAM at the XNN's layer: the gradient of the x-feature with respect
  to the layer's feature maps).
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._plain import plain
from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import capture, frozen_eval
from ..models.inputs import Images
from ..models.layers import get_layer, tokens_to_grid

__all__ = ["XNN", "pull_away", "sparse_reconstruction_error"]

_FORMAT = "xwidgets.XNN"
_FORMAT_VERSION = 1
_PREFIX = "model."  # the classifier's name inside the x-feature model


class _Reached(Exception):
    """Raised by a forward hook once the XNN's layer has run (the rest is skipped)."""


# ---------------------------------------------------------------------------- losses
def pull_away(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """EBGAN's pull-away term on the x-features of a batch, ``x`` (B, K): the mean
    over pairs i != j of cos(x[:, i], x[:, j])^2 (Zhao et al. 2017; XNN's orthogonality term)."""
    k = x.shape[1]
    if k < 2:
        return x.new_zeros(())
    unit = x / (x.norm(dim=0, keepdim=True) + eps)
    gram = unit.T @ unit
    off = gram.pow(2).sum() - gram.diagonal().pow(2).sum()
    return off / (k * (k - 1))


def sparse_reconstruction_error(z: torch.Tensor, z_hat: torch.Tensor, q: float = 1.0) -> torch.Tensor:
    """XNN's sparse reconstruction error ``mean log(1 + q (z - z_hat)^2)``: grows slowly for
    large errors, so a few dimensions may stay unreconstructed."""
    return torch.log1p(q * (z - z_hat).pow(2)).mean()


def _pool(activation: torch.Tensor) -> torch.Tensor:
    """A layer's output -> (B, D): feature maps and ViT tokens averaged over space, a
    (B, D) vector kept as it is."""
    if activation.ndim == 2:
        return activation.float()
    return tokens_to_grid(activation).float().mean(dim=(2, 3))


def _first_tensor(output: Any) -> torch.Tensor:
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"layer: expected the layer to output a tensor; got {type(output).__name__}")
    return output


# ---------------------------------------------------------------------------- the network
class XNN(nn.Module):
    """Explanation neural network (Qi, Khorram & Li, AI 2021; arXiv:1709.05360).

    ``x = encoder(standardise(pool(layer(image))))``, K non-negative x-features;
    ``predictor`` (K -> C, linear) rebuilds the model's logits from them (faithfulness),
    ``decoder`` (K -> D, linear) rebuilds the standardised activation (sparse
    reconstruction). Train with :meth:`fit`; save with :meth:`save`, :meth:`load`.

    Attributes:
        layer: the classifier's layer the x-features read.
        feature_names: one name per x-feature ("x0", "x1", ... by default).
        history: per epoch, the mean of each loss term.
        info: how it was trained (model name and fingerprint, data size, seconds, ...).
    """

    def __init__(self, in_features: int, n_features: int, n_outputs: int, hidden: int = 64, *,
                 layer: str = "", feature_names: Sequence[str] | None = None) -> None:
        super().__init__()
        for name, value, low in (("in_features", in_features, 1), ("n_features", n_features, 1),
                                 ("n_outputs", n_outputs, 1), ("hidden", hidden, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise bad_argument(name, f"an int >= {low}", value)
        self.in_features, self.n_features = int(in_features), int(n_features)
        self.n_outputs, self.hidden = int(n_outputs), int(hidden)
        self.layer = layer
        if hidden:
            self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_features), nn.ReLU())
        else:
            self.encoder = nn.Sequential(nn.Linear(in_features, n_features), nn.ReLU())
        self.predictor = nn.Linear(n_features, n_outputs)
        self.decoder = nn.Linear(n_features, in_features)
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("std", torch.ones(in_features))
        names = [f"x{k}" for k in range(n_features)] if feature_names is None else [str(n) for n in feature_names]
        if len(names) != n_features:
            raise bad_argument("feature_names", f"{n_features} names, one per x-feature", feature_names)
        self.feature_names = names
        self.history: list[dict[str, float]] = []
        self.info: dict[str, Any] = {}
        self._adapter: ModelAdapter | None = None

    # ------------------------------------------------------------------ the maps
    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """(B, D) pooled activations -> (B, K) x-features."""
        return self.encoder((pooled - self.mean) / self.std)

    def losses(self, pooled: torch.Tensor, logits: torch.Tensor, q: float = 1.0) -> dict[str, torch.Tensor]:
        """The SRAE terms for one batch: faithfulness, reconstruction, sparsity, pull-away."""
        z = (pooled - self.mean) / self.std
        x = self.encoder(z)
        scale = self.info.get("logit_variance", 1.0)
        return {
            "faithfulness": F.mse_loss(self.predictor(x), logits) / scale,
            "reconstruction": sparse_reconstruction_error(z, self.decoder(x), q),
            "sparsity": x.abs().mean(),
            "pull_away": pull_away(x),
        }

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(
        cls,
        model: nn.Module | ModelAdapter,
        images: Images,
        *,
        layer: str | None = None,
        n_features: int = 8,
        hidden: int = 64,
        epochs: int = 200,
        batch_size: int = 64,
        lr: float = 3e-3,
        faithfulness_weight: float = 1.0,
        reconstruction_weight: float = 0.1,
        sparsity_weight: float = 0.02,
        pull_away_weight: float = 0.5,
        q: float = 1.0,
        feature_names: Sequence[str] | None = None,
        seed: int = 0,
        progress: bool | None = None,
    ) -> "XNN":
        """Train an XNN on ``images`` (the SRAE loss, Adam, mini-batches).

        Args:
            model: the classifier (a ModelAdapter or an ``nn.Module``, wrapped with defaults).
            images: the training images (anything :func:`xwidgets.explain` accepts).
            layer: the layer to embed (default: the model's CAM layer).
            n_features: K, the number of x-features.
            hidden: width of the encoder's hidden layer (0: one linear layer and a ReLU).
            epochs, batch_size, lr: Adam on mini-batches of pooled activations.
            faithfulness_weight, reconstruction_weight, sparsity_weight, pull_away_weight:
                the weights of the four loss terms (0 turns a term off).
            q: the sparse reconstruction error's scale, ``log(1 + q e^2)``.
            feature_names: names of the x-features.
            seed: initial weights and batch order (the global RNG is untouched).
            progress: a tqdm bar over epochs (None: when there are more than 50).
        """
        adapter = wrap(model)
        _check_int("n_features", n_features, 1)
        _check_int("hidden", hidden, 0)
        _check_int("epochs", epochs, 1)
        _check_int("batch_size", batch_size, 1)
        _check_int("seed", seed, 0)
        weights = {"faithfulness": faithfulness_weight, "reconstruction": reconstruction_weight,
                   "sparsity": sparsity_weight, "pull_away": pull_away_weight}
        for name, value in [*((f"{k}_weight", v) for k, v in weights.items()), ("lr", lr), ("q", q)]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise bad_argument(name, "a finite number >= 0", value)
        if lr <= 0 or q <= 0:
            raise bad_argument("lr" if lr <= 0 else "q", "a number > 0", lr if lr <= 0 else q)
        layer = layer if layer is not None else adapter.cam_layer
        if not isinstance(layer, str):
            raise bad_argument("layer", "a dotted layer name of the model", layer)
        adapter.layer(layer)  # unknown names fail here, with the closest names
        start = time.perf_counter()
        pooled, logits = _activations_and_logits(adapter, images, layer)
        if pooled.shape[0] < 2:
            raise bad_argument("images", "at least 2 training images", images)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            xnn = cls(pooled.shape[1], n_features, logits.shape[1], hidden, layer=layer, feature_names=feature_names)
        xnn.to(pooled.device)
        xnn.mean.copy_(pooled.mean(dim=0))
        xnn.std.copy_(pooled.std(dim=0).clamp_min(1e-6))
        xnn.info = {
            "model": adapter.name, "model_fingerprint": _fingerprint(adapter.model), "n_images": int(pooled.shape[0]),
            "logit_variance": float(logits.var().clamp_min(1e-8)), "epochs": epochs, "batch_size": batch_size,
            "lr": lr, "q": q, "weights": dict(weights), "seed": seed,
        }
        xnn._adapter = adapter
        xnn._train(pooled, logits, weights, epochs, batch_size, lr, q, seed, progress)
        with torch.no_grad():
            agreement = (xnn.predictor(xnn(pooled)).argmax(1) == logits.argmax(1)).float().mean()
        xnn.info["train_agreement"] = float(agreement)
        xnn.info["seconds"] = time.perf_counter() - start
        return xnn.eval()

    def _train(self, pooled: torch.Tensor, logits: torch.Tensor, weights: dict[str, float], epochs: int,
               batch_size: int, lr: float, q: float, seed: int, progress: bool | None) -> None:
        optimiser = torch.optim.Adam(self.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        n = pooled.shape[0]
        resample_until = epochs // 2
        bar = None
        if progress or (progress is None and epochs > 50):
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, desc=f"XNN @ {self.layer}", leave=False)
        self.train()
        try:
            for epoch in range(epochs):
                order = torch.randperm(n, generator=generator).to(pooled.device)
                totals = {name: 0.0 for name in [*weights, "total"]}
                batches = 0
                for lo in range(0, n, batch_size):
                    index = order[lo: lo + batch_size]
                    if index.numel() < 2:  # the pull-away term needs pairs of images
                        continue
                    terms = self.losses(pooled[index], logits[index], q)
                    loss = sum(weights[name] * terms[name] for name in weights)
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    for name, value in terms.items():
                        totals[name] += float(value.detach())
                    totals["total"] += float(loss.detach())
                    batches += 1
                self.history.append({name: value / max(batches, 1) for name, value in totals.items()})
                if epoch < resample_until:
                    self.history[-1]["resampled"] = float(self._resample_dead(pooled, generator))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{self.history[-1]['total']:.4f}")
        finally:
            if bar is not None:
                bar.close()
            self.eval()

    @torch.no_grad()
    def _resample_dead(self, pooled: torch.Tensor, generator: torch.Generator) -> int:
        """Give every x-feature that is zero on all training images new random input
        weights (a ReLU unit that never fires gets no gradient and would stay dead); its
        predictor and decoder columns restart at zero. Returns how many were resampled."""
        x = self(pooled)
        dead = (x.max(dim=0).values <= 0).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        last = self.encoder[-2]
        fresh = torch.randn(dead.numel(), last.in_features, generator=generator).to(last.weight)
        fresh *= last.weight.norm(dim=1).mean() / fresh.norm(dim=1, keepdim=True).clamp_min(1e-8)
        last.weight[dead] = fresh
        last.bias[dead] = 0.1
        self.predictor.weight[:, dead] = 0.0
        self.decoder.weight[:, dead] = 0.0
        return int(dead.numel())

    # ------------------------------------------------------------------ using it
    @property
    def model(self) -> ModelAdapter:
        """The classifier the XNN explains (set by :meth:`fit`, :meth:`attach` or :meth:`load`)."""
        if self._adapter is None:
            raise RuntimeError("XNN: no model attached; pass model= to XNN.load or call xnn.attach(model)")
        return self._adapter

    def attach(self, model: nn.Module | ModelAdapter, check: bool = True) -> "XNN":
        """Use the XNN with ``model``; with ``check``, its weights must be the ones it was trained on."""
        adapter = wrap(model)
        adapter.layer(self.layer)
        expected = self.info.get("model_fingerprint")
        if check and expected and _fingerprint(adapter.model) != expected:
            raise bad_argument("model", f"the classifier this XNN was trained on ({self.info.get('model')!r})",
                               adapter.name, "Its weights differ; pass check=False to use it anyway")
        self._adapter = adapter
        return self

    def pooled(self, images: Images, batch_size: int = 64) -> torch.Tensor:
        """(N, D) pooled activations of the XNN's layer for ``images``."""
        return _pooled(self.model, images, self.layer, batch_size)

    @torch.no_grad()
    def x_features(self, images: Images, batch_size: int = 64) -> np.ndarray:
        """(N, K) float32 x-features of ``images``."""
        pooled = self.pooled(images, batch_size).to(self.mean.device)
        return self(pooled).float().cpu().numpy()

    @torch.no_grad()
    def predict_logits(self, images: Images, batch_size: int = 64) -> np.ndarray:
        """(N, C) the logits rebuilt from the x-features (the faithfulness map D_y)."""
        pooled = self.pooled(images, batch_size).to(self.mean.device)
        return self.predictor(self(pooled)).float().cpu().numpy()

    @torch.no_grad()
    def faithfulness(self, images: Images, batch_size: int = 64) -> float:
        """Top-1 agreement between the prediction rebuilt from the x-features and the model's."""
        pooled, logits = _activations_and_logits(self.model, images, self.layer, batch_size)
        rebuilt = self.predictor(self(pooled.to(self.mean.device)))
        return float((rebuilt.argmax(1).cpu() == logits.argmax(1).cpu()).float().mean())

    @torch.no_grad()
    def contributions(self, images: Images, target: str | int = "pred", batch_size: int = 64) -> np.ndarray:
        """(N, K) each x-feature's contribution ``x_k W_ck`` to the rebuilt logit of class c
        (the model's top-1 class with "pred", else a class index): the weights XNN shows."""
        pooled, logits = _activations_and_logits(self.model, images, self.layer, batch_size)
        if target == "pred":
            classes = logits.argmax(1)
        elif isinstance(target, (int, np.integer)) and not isinstance(target, bool) and 0 <= target < self.n_outputs:
            classes = torch.full((logits.shape[0],), int(target), dtype=torch.long)
        else:
            raise bad_argument("target", f'"pred" or a class index in [0, {self.n_outputs})', target)
        x = self(pooled.to(self.mean.device))
        weight = self.predictor.weight[classes.to(x.device)]  # (N, K)
        return (x * weight).float().cpu().numpy()

    def feature_model(self) -> ModelAdapter:
        """The classifier cut at the XNN's layer and followed by the XNN: images -> (N, K)
        x-features as if they were logits, with the classifier's preprocessing. Its layers
        are the classifier's with the prefix "model." (e.g. "model.layer4")."""
        adapter = self.model
        return ModelAdapter(_XFeatureModel(adapter.model, self.layer, self), preprocess=adapter.preprocess,
                            labels=self.feature_names, name=f"XNN({adapter.name})")

    def explain(self, images: Images, feature: int | Sequence[int] | None = None, method: str = "gradcam", *,
                layer: str | None = None, batch_size: int = 32, **params: Any):
        """Saliency maps of x-features: ``xwidgets.explain`` on :meth:`feature_model`, with
        the x-feature as the target (the paper's backward visualisation of x-features).

        Args:
            images: the images to explain.
            feature: an x-feature index (one map per image), one index per image, or None:
                every x-feature, each image's most active first (``TopK(K)``: K rows per image).
            method: any registered method; "gradient" is an alias of "saliency" (the input
                gradient). Default Grad-CAM.
            layer: for layer-reading methods, a layer of the classifier (default: the XNN's).
            batch_size, **params: as for :func:`xwidgets.explain`.

        Returns:
            a :class:`~xwidgets.saliency.Saliency` whose targets are x-feature indices and
            whose ``labels`` are the feature names; its ``probabilities`` are the softmax of
            the x-features (their shares), and ``params["x_features"]`` the raw values.
        """
        from ..saliency import TopK, explain
        from ..saliency.registry import get_method

        if not isinstance(method, str):
            raise bad_argument("method", "a registered method name", method)
        method = "saliency" if method == "gradient" else method
        spec = get_method(method)
        if feature is None:
            target: Any = TopK(self.n_features)
        elif isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
            if not 0 <= int(feature) < self.n_features:
                raise bad_argument("feature", f"an x-feature index in [0, {self.n_features})", feature)
            target = int(feature)
        elif isinstance(feature, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(feature, str):
            values = np.asarray(feature.cpu() if isinstance(feature, torch.Tensor) else feature)
            if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer) or values.size == 0 \
                    or values.min() < 0 or values.max() >= self.n_features:
                raise bad_argument("feature", f"None, an index in [0, {self.n_features}) or one per image", feature)
            target = values.astype(np.int64)
        else:
            raise bad_argument("feature", f"None, an x-feature index in [0, {self.n_features}) or one per image", feature)
        if spec.uses_layer:
            layer = self.layer if layer is None else layer
            if not isinstance(layer, str):
                raise bad_argument("layer", "a dotted layer name of the classifier", layer)
            self.model.layer(layer)
            inner: str | None = _PREFIX + layer
        elif layer is not None:
            raise bad_argument("layer", f"None: {method} does not read a layer", layer)
        else:
            inner = None
        result = explain(self.feature_model(), images, method=method, target=target, layer=inner,
                         batch_size=batch_size, **params)
        result.layer = layer
        result.params["xnn_layer"] = self.layer
        result.params["x_features"] = self.x_features(result.images)
        return result

    def plot(self, images: Images, n_images: int = 4, method: str = "gradcam", features: Sequence[int] | None = None,
             *, alpha: float = 0.5, cmap: str = "viridis", **params: Any):
        """A matplotlib figure: one row per image (the first ``n_images``), the image with
        the model's prediction, then each x-feature's saliency map titled with its value."""
        import matplotlib.pyplot as plt

        from ..saliency.plot import normalise_map

        _check_int("n_images", n_images, 1)
        features = list(range(self.n_features)) if features is None else [int(f) for f in features]
        if not features or min(features) < 0 or max(features) >= self.n_features:
            raise bad_argument("features", f"x-feature indices in [0, {self.n_features})", features)
        inputs, display = self.model.prepare(images)
        inputs, display = inputs[:n_images], display[:n_images]
        n = inputs.shape[0]
        maps = [self.explain(inputs, feature=f, method=method, **params) for f in features]
        values = maps[0].params["x_features"]
        predictions = self.model.predict(inputs).argmax(1)
        ncols = len(features) + 1
        fig, axes = plt.subplots(n, ncols, figsize=(1.9 * ncols, 2.0 * n), squeeze=False)
        for i in range(n):
            axes[i, 0].imshow(display[i])
            axes[i, 0].set_title(self.model.labels[int(predictions[i])], fontsize=8)
            for j, (f, sal) in enumerate(zip(features, maps), start=1):
                axes[i, j].imshow(display[i])
                axes[i, j].imshow(normalise_map(sal.maps[i]), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
                axes[i, j].set_title(f"{self.feature_names[f]} = {values[i, f]:.2f}", fontsize=8)
        for ax in axes.flat:
            ax.axis("off")
        fig.suptitle(f"XNN x-features @ {self.layer} ({method})", fontsize=9)
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        """The JSON configuration saved next to the weights."""
        return {
            "format": _FORMAT, "format_version": _FORMAT_VERSION, "in_features": self.in_features,
            "n_features": self.n_features, "n_outputs": self.n_outputs, "hidden": self.hidden, "layer": self.layer,
            "feature_names": list(self.feature_names), "info": plain(self.info), "history": plain(self.history),
        }

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """One ``.npz``: the weights as float32 arrays and the config as JSON bytes (no pickles)."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"w:{k}": v.detach().cpu().float().numpy() for k, v in self.state_dict().items()}
        with open(path, "wb") as fh:
            np.savez(fh, config=np.frombuffer(json.dumps(self.config()).encode(), dtype=np.uint8), **arrays)
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path, model: nn.Module | ModelAdapter | None = None, check: bool = True) -> "XNN":
        """An XNN written by :meth:`save`; ``model`` attaches the classifier (see :meth:`attach`)."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise bad_argument("path", "an existing file written by XNN.save", str(path))
        try:
            with np.load(path, allow_pickle=False) as data:
                config = json.loads(bytes(data["config"]).decode())
                state = {k[2:]: torch.from_numpy(np.array(data[k])) for k in data.files if k.startswith("w:")}
        except (OSError, ValueError, KeyError) as error:
            raise bad_argument("path", "a file written by XNN.save", str(path), str(error)) from None
        if config.get("format") != _FORMAT or config.get("format_version") != _FORMAT_VERSION:
            raise bad_argument("path", f"a file written by XNN.save ({_FORMAT} v{_FORMAT_VERSION})", str(path))
        xnn = cls(config["in_features"], config["n_features"], config["n_outputs"], config["hidden"],
                  layer=config["layer"], feature_names=config["feature_names"])
        xnn.load_state_dict(state)
        xnn.info, xnn.history = config["info"], config["history"]
        if model is not None:
            xnn.attach(model, check=check)
        return xnn.eval()

    def __repr__(self) -> str:
        trained = f"trained {len(self.history)} epochs" if self.history else "untrained"
        return (f"XNN(model={self.info.get('model', '?')!r}, layer={self.layer!r}, x_features={self.n_features}, "
                f"in={self.in_features}, out={self.n_outputs}, {trained})")


class _XFeatureModel(nn.Module):
    """image -> classifier up to ``layer`` (the rest is skipped) -> pool -> XNN: (B, K)."""

    def __init__(self, model: nn.Module, layer: str, xnn: XNN) -> None:
        super().__init__()
        self.model = model
        self.xnn = xnn
        self.layer_name = layer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        state: dict[str, torch.Tensor] = {}

        def stop(module, args, output):
            state["activation"] = _first_tensor(output)
            raise _Reached

        handle = get_layer(self.model, self.layer_name).register_forward_hook(stop)
        try:
            self.model(inputs)
        except _Reached:
            pass
        finally:
            handle.remove()
        if "activation" not in state:
            raise ValueError(f"layer: {self.layer_name!r} did not run in the model's forward pass; pick another layer")
        pooled = _pool(state["activation"]).to(self.xnn.mean.device)
        return self.xnn(pooled)


# ---------------------------------------------------------------------------- helpers
def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise bad_argument(name, f"an int >= {low}", value)
    return int(value)


@torch.no_grad()
def _activations_and_logits(adapter: ModelAdapter, images: Images, layer: str, batch_size: int = 64
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) pooled activations of ``layer`` and (N, C) logits, one forward pass per batch."""
    _check_int("batch_size", batch_size, 1)
    inputs, _ = adapter.prepare(images)
    pooled, logits = [], []
    with frozen_eval(adapter.model), capture(adapter.model, [layer], gradients=False) as records:
        for lo in range(0, inputs.shape[0], batch_size):
            logits.append(adapter.logits(inputs[lo: lo + batch_size]).float())
            record = records[layer]
            if record.activation is None:
                raise ValueError(f"layer: {layer!r} did not run in the model's forward pass; pick another layer")
            pooled.append(_pool(record.activation))
            record.activation = None
    return torch.cat(pooled), torch.cat(logits)


@torch.no_grad()
def _pooled(adapter: ModelAdapter, images: Images, layer: str, batch_size: int = 64) -> torch.Tensor:
    """(N, D) pooled activations of ``layer``; the layers above it are not run."""
    _check_int("batch_size", batch_size, 1)
    inputs, _ = adapter.prepare(images)
    state: dict[str, torch.Tensor] = {}

    def stop(module, args, output):
        state["activation"] = _first_tensor(output)
        raise _Reached

    out = []
    with frozen_eval(adapter.model):
        handle = adapter.layer(layer).register_forward_hook(stop)
        try:
            for lo in range(0, inputs.shape[0], batch_size):
                try:
                    adapter.model(inputs[lo: lo + batch_size])
                except _Reached:
                    pass
                if "activation" not in state:
                    raise ValueError(f"layer: {layer!r} did not run in the model's forward pass; pick another layer")
                out.append(_pool(state.pop("activation")))
        finally:
            handle.remove()
    return torch.cat(out)


def _fingerprint(module: nn.Module) -> str:
    from ..saliency.tame import model_fingerprint

    return model_fingerprint(module)


