"""Textual explanations (seed 000, claims 1-6): image-text pairs, the two encoders and
the joint image-text space that names concept patches.

* ``pairs``: :func:`synthetic_pairs` (captions from the synthetic ground truth, with
  a structured :class:`Statement` each), :func:`load_pairs` (a user's folder + CSV).
* ``spatial``: the nine image regions and their wordings.
* ``encoders``: the text encoders (pretrained all-MiniLM-L6-v2 or built in) and the
  image encoder (the classifier's features of a patch plus a projection head).
* ``joint``: :class:`JointSpace`, trained with a symmetric InfoNCE loss; embeds
  patches and phrases, finds the nearest phrases, names patches; save/load.
* ``sentences``: :func:`explain_in_words` and :func:`explain_all`, a
  :class:`TextExplanation` of a ``ConceptGraph`` whose spans point at node and edge ids.
* ``evaluation``: naming, position and zero-shot accuracy against pairs' statements;
  :func:`~xwidgets.text.evaluation.check_spatial_agreement` for generated sentences and
  :func:`~xwidgets.text.evaluation.evaluate_sentences` for those of real concept graphs
  of synthetic images (tutorial ``notebooks/06_textual_explanations.ipynb``).

Shipped for the toy CNN (``JointSpace.load(WEIGHTS_DIR / "joint_toy_cnn.pt")``):
``joint_toy_cnn`` (built-in text encoder), ``joint_toy_cnn_minilm`` and
``joint_toy_cnn_minilm_zeroshot_mirror`` (all-MiniLM-L6-v2, ``xwidgets[text]``);
reproduced by ``scripts/train_joint_space.py``.
"""

from .encoders import (
    HashedTextEncoder,
    ImageEncoder,
    SentenceTransformerEncoder,
    TextEncoder,
    sentence_transformers_available,
)
from .joint import ConceptName, JointSpace, contrastive_loss
from .pairs import Pair, Pairs, Phrase, Statement, caption, load_pairs, naming_phrases, synthetic_pairs
from .sentences import EdgeMention, NodeMention, TextExplanation, explain_all, explain_in_words
from .spatial import REGION_PHRASES, REGIONS, region_of

__all__ = [
    "JointSpace", "ConceptName", "contrastive_loss",
    "Pairs", "Pair", "Phrase", "Statement", "synthetic_pairs", "load_pairs", "caption", "naming_phrases",
    "TextEncoder", "HashedTextEncoder", "SentenceTransformerEncoder", "ImageEncoder", "sentence_transformers_available",
    "REGIONS", "REGION_PHRASES", "region_of",
    "TextExplanation", "NodeMention", "EdgeMention", "explain_in_words", "explain_all",
]
