"""ConceptBankViewer: each class's discovered visual concepts and their example patches.

The concepts of a :class:`~xwidgets.concepts.ConceptBank` (seed 000, paragraph 0014),
one class at a time: a row per concept, most important first, with its importance,
popularity and example patches. Switching class and selecting a concept happen in the
browser, with no kernel round trip. The front end is ``js/concept_bank_viewer.ts``.

    bank = xw.discover_concepts(model, images_by_class)
    bank.show()          # or xw.widgets.ConceptBankViewer(bank)

Trait contract (Python <-> JS):

====================  ==========================================================
``classes``           ``[{"name": str, "index": int, "images": int, "concepts":
                      [{"id": str, "importance": float, "popularity": float,
                      "examples": [{"png": bytes, "width": int, "height": int}]}]}]``
``selected_class``    position in ``classes`` of the class shown (synced both ways)
``selected_concept``  position of the selected concept in that class, -1 for none
                      (synced both ways; reset to -1 when the class changes)
``layer``, ``title``  the bank's layer, and the heading
====================  ==========================================================
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import traitlets

from .._validation import bad_argument, describe
from .base import XWidget
from .serialise import image_payload

__all__ = ["ConceptBankViewer"]


class ConceptBankViewer(XWidget):
    """The concepts of a ConceptBank, per class, with their example patches.

    Args:
        bank: a :class:`~xwidgets.concepts.ConceptBank`.
        n_examples: example patches shown per concept (at most the bank's).
        selected_class: the class shown first: its position in the bank or its name.
        title: heading text (default: the model and layer).
    """

    _module = "concept_bank_viewer"

    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected_class = traitlets.Int(0).tag(sync=True)
    selected_concept = traitlets.Int(-1).tag(sync=True)
    layer = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, bank: Any, *, n_examples: int = 6, selected_class: int | str = 0, title: str | None = None) -> None:
        from ..concepts.bank import ConceptBank

        if not isinstance(bank, ConceptBank):
            raise bad_argument("bank", "a ConceptBank (from xw.discover_concepts or ConceptBank.load)", bank)
        if not len(bank):
            raise bad_argument("bank", "a bank with at least one class", bank)
        if isinstance(n_examples, bool) or not isinstance(n_examples, numbers.Integral) or n_examples < 1:
            raise bad_argument("n_examples", "a positive int", n_examples)
        if title is not None and not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)
        if isinstance(selected_class, str) and selected_class in bank.class_names:
            position = bank.class_names.index(selected_class)
        elif (isinstance(selected_class, numbers.Integral) and not isinstance(selected_class, bool)
              and 0 <= int(selected_class) < len(bank)):
            position = int(selected_class)
        else:
            raise bad_argument(
                "selected_class", f"a position in [0, {len(bank)}) or a class name in {bank.class_names}", selected_class
            )
        self.bank = bank
        classes = []
        for c in bank.classes:
            concepts = []
            for j, concept_id in enumerate(c.concept_ids):
                count = min(int(c.example_count[j]), int(n_examples))
                concepts.append({
                    "id": concept_id,
                    "importance": float(c.importance[j]),
                    "popularity": float(c.popularity[j]),
                    "examples": [image_payload(c.examples[j, e]) for e in range(count)],
                })
            classes.append({"name": c.class_name, "index": c.class_index, "images": c.n_images, "concepts": concepts})
        super().__init__(
            classes=classes, selected_class=position, selected_concept=-1, layer=bank.layer,
            title=title if title is not None else f"Concepts of {bank.model_name or 'the model'} at {bank.layer}",
        )

    # ------------------------------------------------------------------ state from the front end
    @traitlets.validate("selected_class")
    def _validate_class(self, proposal: Any) -> int:
        value = proposal["value"]
        n = max(1, len(self.classes))
        if not 0 <= value < n:
            raise traitlets.TraitError(f"selected_class: expected a class position in [0, {n}); got {describe(value)}")
        return value

    @traitlets.validate("selected_concept")
    def _validate_concept(self, proposal: Any) -> int:
        value = proposal["value"]
        k = len(self.classes[self.selected_class]["concepts"]) if self.classes else 0
        if not -1 <= value < k:
            raise traitlets.TraitError(
                f"selected_concept: expected -1 (none) or a concept position in [0, {k}); got {describe(value)}"
            )
        return value

    @traitlets.observe("selected_class")
    def _reset_concept(self, change: Any) -> None:
        if change["old"] != change["new"]:
            self.selected_concept = -1

    @property
    def concept(self) -> str | None:
        """The id of the selected concept, or None."""
        if self.selected_concept < 0:
            return None
        return self.classes[self.selected_class]["concepts"][self.selected_concept]["id"]

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "classes", len(self.classes)
        yield "layer", self.layer
        yield "selected_class", self.classes[self.selected_class]["name"]
        yield "selected_concept", self.concept
