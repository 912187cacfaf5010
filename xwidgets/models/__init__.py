"""Models: the adapter every method takes, preprocessing, layers, hooks, and the zoo."""

from .adapter import ModelAdapter, as_logits, wrap
from .hooks import capture, frozen_eval
from .layers import get_layer, tokens_to_grid
from .preprocess import Preprocess
from .zoo import efficientnet_lite0, imagenet_labels, toy_cnn, toy_cnn_biased, toy_vit

__all__ = [
    "ModelAdapter", "Preprocess", "wrap", "as_logits", "capture", "frozen_eval", "get_layer", "tokens_to_grid",
    "efficientnet_lite0", "toy_cnn", "toy_vit", "toy_cnn_biased", "imagenet_labels",
]
