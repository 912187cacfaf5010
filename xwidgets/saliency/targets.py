"""What to explain: "pred", a class index, one class per image, the top-k classes,
or a callable on the logits (e.g. a class's logits summed over a region)."""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence, Union

import numpy as np
import torch

from .._validation import bad_argument


@dataclasses.dataclass(frozen=True)
class TopK:
    """Explain each image's ``k`` most probable classes (k maps per image)."""

    k: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise bad_argument("TopK.k", "a positive int", self.k)


@dataclasses.dataclass(frozen=True)
class Contrast:
    """Explain class ``target`` against class ``other``: the score is
    ``logit[target] - logit[other]`` ("why c rather than c'"). Either may be "pred"
    (the top-1 class) or a class index."""

    target: int | str = "pred"
    other: int | str = 0

    def __post_init__(self) -> None:
        for name in ("target", "other"):
            value = getattr(self, name)
            if value != "pred" and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)):
                raise bad_argument(f"Contrast.{name}", '"pred" or a class index', value)


Target = Union[Contrast, str, int, Sequence[int], np.ndarray, torch.Tensor, TopK, Callable[[torch.Tensor], torch.Tensor]]


class TargetPlan:
    """A parsed target for N images: the passes to run and the score of each."""

    def __init__(self, target: Target, num_images: int) -> None:  # noqa: C901
        self.target = target
        self.num_images = num_images
        self.classes: torch.Tensor | None = None
        if isinstance(target, str):
            if target != "pred":
                raise bad_argument("target", '"pred", a class index, a list of them, TopK(k) or a callable', target)
        elif isinstance(target, (TopK, Contrast)) or callable(target):
            pass
        elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            self.classes = torch.full((num_images,), int(target), dtype=torch.long)
        elif isinstance(target, (Sequence, np.ndarray, torch.Tensor)):
            classes = torch.as_tensor(np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target))
            if classes.ndim != 1 or classes.numel() != num_images or classes.is_floating_point():
                raise bad_argument("target", f"one int class index per image ({num_images})", target)
            self.classes = classes.long()
        else:
            raise bad_argument("target", '"pred", a class index, a list of them, TopK(k) or a callable', target)

    @property
    def is_callable(self) -> bool:
        return callable(self.target) and not isinstance(self.target, TopK)

    def num_passes(self) -> int:
        return self.target.k if isinstance(self.target, TopK) else 1

    def subset(self, start: int, stop: int) -> "TargetPlan":
        plan = TargetPlan.__new__(TargetPlan)
        plan.target, plan.num_images = self.target, stop - start
        plan.classes = None if self.classes is None else self.classes[start:stop]
        return plan

    def passes(self, logits: torch.Tensor) -> list[torch.Tensor]:
        """The target class per image for each pass: K tensors of shape (B,)."""
        num_classes = logits.shape[-1]
        if isinstance(self.target, TopK):
            if self.target.k > num_classes:
                raise bad_argument("target", f"TopK(k) with k <= {num_classes} classes", self.target)
            top = logits.detach().topk(self.target.k, dim=1).indices
            return [top[:, j] for j in range(self.target.k)]
        if self.is_callable:
            return [torch.full((logits.shape[0],), -1, dtype=torch.long, device=logits.device)]
        if isinstance(self.target, Contrast):
            return [self._contrast_class(logits, self.target.target)]
        if self.classes is None:  # "pred"
            return [logits.detach().argmax(dim=1)]
        if int(self.classes.min()) < 0 or int(self.classes.max()) >= num_classes:
            raise ValueError(
                f"target: expected class indices in [0, {num_classes}); got values from "
                f"{int(self.classes.min())} to {int(self.classes.max())}"
            )
        return [self.classes.to(logits.device)]

    def scores(self, logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """The (B,) scores to explain: the target logits, or the callable's output."""
        if self.is_callable:
            scores = self.target(logits)
            if not isinstance(scores, torch.Tensor) or scores.shape != (logits.shape[0],):
                raise ValueError(
                    f"target: expected the callable to return one score per image, shape ({logits.shape[0]},); "
                    f"got {type(scores).__name__} {tuple(getattr(scores, 'shape', ()))}"
                )
            return scores
        score = logits.gather(1, classes[:, None])[:, 0]
        if isinstance(self.target, Contrast):
            other = self._contrast_class(logits, self.target.other)
            score = score - logits.gather(1, other[:, None])[:, 0]
        return score

    @staticmethod
    def _contrast_class(logits: torch.Tensor, which: int | str) -> torch.Tensor:
        if which == "pred":
            return logits.detach().argmax(dim=1)
        if not 0 <= int(which) < logits.shape[-1]:
            raise ValueError(f"target: expected Contrast class indices in [0, {logits.shape[-1]}); got {which}")
        return torch.full((logits.shape[0],), int(which), dtype=torch.long, device=logits.device)
