"""The 1,000 ImageNet class names, in the standard index order."""

from __future__ import annotations

import functools
import pathlib

_FILE = pathlib.Path(__file__).with_name("imagenet_classes.tsv")


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[tuple[str, str], ...]:
    rows = []
    for line in _FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            synset, lemmas = line.split("\t", 1)
            rows.append((synset, lemmas))
    return tuple(rows)


def imagenet_labels() -> list[str]:
    """Short names (the first WordNet lemma), e.g. ``"espresso"``, ``"tabby"``."""
    return [lemmas.split(",")[0].strip() for _, lemmas in _rows()]


def imagenet_synsets() -> list[str]:
    """WordNet ids, e.g. ``"n07920052"``."""
    return [synset for synset, _ in _rows()]
