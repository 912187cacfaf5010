"""Real photos that ship inside scikit-image, so they work offline.

Licences (scikit-image's data README): chelsea (Stefan van der Walt) and coffee
(Rachel Michetti) are CC0; astronaut (Eileen Collins, NASA) and rocket (SpaceX,
released to the public domain) are public domain.
"""

from __future__ import annotations

import numpy as np

SAMPLE_NAMES = ("chelsea", "coffee", "astronaut", "rocket")

LICENCES = {
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "astronaut": "public domain (NASA, Eileen Collins)",
    "rocket": "public domain (SpaceX)",
}


def sample_image(name: str) -> np.ndarray:
    """One sample photo as an HxWx3 uint8 array."""
    if name not in SAMPLE_NAMES:
        raise ValueError(f"name: expected one of {', '.join(SAMPLE_NAMES)}; got {name!r}")
    from skimage import data

    image = getattr(data, name)()
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def sample_images(names: tuple[str, ...] | list[str] = SAMPLE_NAMES) -> dict[str, np.ndarray]:
    """The sample photos by name (default: all four), as HxWx3 uint8 arrays."""
    return {name: sample_image(name) for name in names}
