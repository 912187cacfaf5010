"""A hand-made AspectPresence (no model): the dataset view and the AspectReport widget are
tested on known counts and combinations."""

from __future__ import annotations

import numpy as np

from xwidgets.aspects import AspectIndication, AspectPresence

ASPECTS = ["wheel", "<b>tag</b>", "door"]
LABELS = ["two_wheeler", "red_lamp", "unused"]
SIZE = 16


def make_presence() -> AspectPresence:
    """10 images: 0-5 two_wheeler (wheel relevant in all; image 5 also has the tag
    relevant: a rare combination), 6-9 red_lamp (tag relevant in 6-8, nothing in 9). The
    door is present in images 0-3 but never relevant. Relevant masks: a 4x4 square at a
    position that depends on the aspect."""
    n = 10
    relevant = np.zeros((n, 3), bool)
    relevant[:6, 0] = True
    relevant[5, 1] = True
    relevant[6:9, 1] = True
    present = relevant.copy()
    present[:4, 2] = True
    scores = np.where(relevant, 0.9, 0.1).astype(np.float32)
    scores[:6, 0] = np.linspace(0.95, 0.7, 6)  # image 0 strongest
    masks = np.zeros((n, 3, SIZE, SIZE), np.float32)
    for i in range(n):
        for a in range(3):
            if relevant[i, a]:
                masks[i, a, 4 * a: 4 * a + 4, 2:6] = 1.0
    plain_scores = np.where(present, 0.9, 0.1).astype(np.float32)
    rng = np.random.default_rng(0)
    images = rng.integers(40, 200, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    targets = np.array([0] * 6 + [1] * 4)
    probs = np.full((n, 3), 0.1, np.float32)
    probs[np.arange(n), targets] = 0.8
    return AspectPresence(
        aspects=list(ASPECTS),
        relevant=AspectIndication(list(ASPECTS), "segmentation", scores, masks, None),
        plain=AspectIndication(list(ASPECTS), "segmentation", plain_scores, np.zeros_like(masks), None),
        maps=np.ones((n, 4, 4), np.float32), targets=targets, labels=list(LABELS), probabilities=probs,
        images=images, source_layer="layer3", target_layer="down2", method="gradcam", how="threshold",
        threshold=0.5,
    )
