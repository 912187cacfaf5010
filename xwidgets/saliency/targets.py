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

    def fix(self, logits: torch.Tensor) -> "FixedTargets":
        """The targets fixed by a clean forward pass, for scoring perturbed copies."""
        return FixedTargets.from_logits(self, logits)

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
            return [self.contrast_class(logits, self.target.target)]
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
            other = self.contrast_class(logits, self.target.other)
            score = score - logits.gather(1, other[:, None])[:, 0]
        return score

    @staticmethod
    def contrast_class(logits: torch.Tensor, which: int | str) -> torch.Tensor:
        if which == "pred":
            return logits.detach().argmax(dim=1)
        if not 0 <= int(which) < logits.shape[-1]:
            raise ValueError(f"target: expected Contrast class indices in [0, {logits.shape[-1]}); got {which}")
        return torch.full((logits.shape[0],), int(which), dtype=torch.long, device=logits.device)


@dataclasses.dataclass
class FixedTargets:
    """The target of each of K passes, fixed from one forward pass and then applied to
    the logits of any rows (perturbed copies of the images: noise samples,
    interpolation steps). ``image_index`` maps each row to its image.

    Fixing the classes once matters for "pred", ``TopK`` and ``Contrast(.., "pred")``:
    a noisy or interpolated copy must be scored for the clean image's class, not for
    whatever class wins on the copy.
    """

    plan: TargetPlan
    classes: list[torch.Tensor]  # K tensors (B,)
    others: torch.Tensor | None  # (B,) Contrast's second class

    @classmethod
    def from_logits(cls, plan: TargetPlan, logits: torch.Tensor) -> "FixedTargets":
        logits = logits.detach()
        classes = plan.passes(logits)
        plan.scores(logits, classes[0])  # validates a callable's output and Contrast's classes
        others = None
        if isinstance(plan.target, Contrast):
            others = TargetPlan.contrast_class(logits, plan.target.other)
        return cls(plan, classes, others)

    @property
    def num_passes(self) -> int:
        return len(self.classes)

    def stacked(self) -> torch.Tensor:
        """(K, B) class per pass and image (-1 for a callable target)."""
        return torch.stack(self.classes)

    def scores(self, logits: torch.Tensor, k: int, image_index: torch.Tensor | None = None) -> torch.Tensor:
        """The (N,) scores of pass ``k`` for rows whose images are ``image_index`` (N,)."""
        if self.plan.is_callable:
            return self.plan.scores(logits, self.classes[k])  # validates the callable's output
        classes = self.classes[k] if image_index is None else self.classes[k][image_index]
        score = logits.gather(1, classes[:, None])[:, 0]
        if self.others is not None:
            others = self.others if image_index is None else self.others[image_index]
            score = score - logits.gather(1, others[:, None])[:, 0]
        return score

    def all_scores(self, logits: torch.Tensor, image_index: torch.Tensor) -> torch.Tensor:
        """(K, N): every pass's scores of N rows whose images are ``image_index``."""
        if self.plan.is_callable:
            return self.plan.scores(logits, self.classes[0][image_index])[None]
        chosen = self.stacked()[:, image_index]  # (K, N)
        out = logits.gather(1, chosen.T).T
        if self.others is not None:
            out = out - logits.gather(1, self.others[image_index][:, None]).T
        return out
