"""Feature CAM (Clement, Yang & Cheng, "Feature CAM: Interpretable AI in Image
Classification", 2024, arXiv:2403.05658; seed 003).

The paper describes a perturbation-activation hybrid: Grad-CAM localisation combined
with edge-enhanced variants of the input (made with HED, Holistically-Nested Edge
Detection) to give fine-grained, class-discriminative maps. It publishes no code and
no exact formula, so xwidgets implements the following rule and documents it here.

HED is a trained network that is not available offline; the edges here come from a
Sobel filter instead (the same 3 x 3 kernels and magnitude as
``skimage.filters.sobel``: sqrt((S_h^2 + S_v^2) / 2) with kernels [1, 2, 1]/4 x
[1, 0, -1], borders replicated), computed in torch on the model's device.

The fusion rule, for an image x in [0, 1] pixel space (the adapter's ``Preprocess``
goes between model inputs and pixels):

1. Edge map: E = sobel(G_s * grey(x)) / max(sobel(G_s * grey(x))), with grey the
   ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B), G_s a Gaussian of ``edge_sigma``
   px (0: none); E is in [0, 1] (0 where the image is flat).
2. Input variants (``variants``, default all three, as in the paper):
   "original" v = x; "enhanced" v = clip(x + ``enhance`` * E, 0, 1) (edges
   brightened); "edges" v = E in all three channels (the edge image alone).
3. Localisation: L = mean over the variants v of minmax(GradCAM_c(v)), each Grad-CAM
   map upsampled bilinearly to the input size, for the class c fixed by the clean
   pass of the original image (a variant is explained for the image's class).
4. Fusion: FeatureCAM = minmax(L * ((1 - w) + w E)) with w = ``edge_weight``
   (1: the map lives on the edges inside the localised region, as Guided Grad-CAM
   puts guided backprop inside Grad-CAM; 0: the averaged Grad-CAM alone).

The defaults (``enhance=1``, ``edge_sigma=1``, ``edge_weight=1``, the three
variants) are ours: the paper gives no numbers. Cost: one forward of the 3B variant
images and one backward per target pass, stopping at the CAM layer.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..models.hooks import capture
from ..models.layers import tokens_to_grid
from ._optimisation import check_number
from .fovex import from_pixels, minmax, to_pixels, truncated_blur
from .gradcam import cam_from_gradients
from .registry import MethodOutput, register
from .targets import TargetPlan

__all__ = ["FeatureCAMParams", "feature_cam", "sobel_edges", "VARIANTS"]

VARIANTS = ("original", "enhanced", "edges")


@dataclasses.dataclass
class FeatureCAMParams:
    """Parameters of Feature CAM (all ours; the paper publishes none).

    variants: which input variants the localisation averages over (all three).
    enhance: strength of the edge map added to the image in the "enhanced" variant (1.0).
    edge_sigma: Gaussian smoothing, in pixels, of the grey image before Sobel (1.0; 0: none).
    edge_weight: w in L * ((1 - w) + w E) (1.0).
    """

    variants: tuple[str, ...] = VARIANTS
    enhance: float = 1.0
    edge_sigma: float = 1.0
    edge_weight: float = 1.0

    def __post_init__(self) -> None:
        variants = tuple(self.variants) if isinstance(self.variants, (list, tuple)) else None
        if not variants or any(v not in VARIANTS for v in variants) or len(set(variants)) != len(variants):
            raise bad_argument("variants", f"a non-empty tuple of distinct names from {', '.join(VARIANTS)}", self.variants)
        self.variants = variants
        check_number(self.enhance, "enhance", minimum=0)
        check_number(self.edge_sigma, "edge_sigma", minimum=0)
        check_number(self.edge_weight, "edge_weight", minimum=0, maximum=1)


def sobel_edges(pixels: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """(N, 3, H, W) pixels in [0, 1] -> (N, 1, H, W) Sobel edge magnitude of the luma,
    max-normalised per image to [0, 1] (a flat image gives zeros). With ``sigma`` > 0
    the luma is smoothed by a Gaussian of that many pixels first (kernel radius 3 sigma)."""
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    grey = (pixels * luma).sum(dim=1, keepdim=True)
    if sigma > 0:
        grey = truncated_blur(grey, 2 * max(1, round(3 * sigma)) + 1, sigma)
    smooth = torch.tensor([1.0, 2.0, 1.0], dtype=pixels.dtype, device=pixels.device) / 4
    diff = torch.tensor([1.0, 0.0, -1.0], dtype=pixels.dtype, device=pixels.device)
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    horizontal_edges = F.conv2d(padded, (diff.view(3, 1) * smooth.view(1, 3)).view(1, 1, 3, 3))
    vertical_edges = F.conv2d(padded, (smooth.view(3, 1) * diff.view(1, 3)).view(1, 1, 3, 3))
    magnitude = torch.sqrt((horizontal_edges ** 2 + vertical_edges ** 2) / 2)
    peak = magnitude.flatten(1).amax(dim=1).view(-1, 1, 1, 1)
    return magnitude / torch.where(peak > 0, peak, torch.ones_like(peak))


def make_variants(pixels: torch.Tensor, edges: torch.Tensor, params: FeatureCAMParams) -> torch.Tensor:
    """(V, N, 3, H, W) pixel variants, in the order of ``params.variants``."""
    out = []
    for name in params.variants:
        if name == "original":
            out.append(pixels)
        elif name == "enhanced":
            out.append((pixels + params.enhance * edges).clamp(0, 1))
        else:
            out.append(edges.expand_as(pixels))
    return torch.stack(out)


@register(
    "feature_cam",
    params=FeatureCAMParams,
    summary="Grad-CAM over edge-enhanced input variants, fused with the image's (Sobel) edge map",
    paper="Clement, Yang & Cheng, Feature CAM: Interpretable AI in Image Classification, 2024",
    family="cam",
    uses_layer=True,
)
def feature_cam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: FeatureCAMParams, layer: str) -> MethodOutput:
    b, _, height, width = inputs.shape
    pixels = to_pixels(model, inputs.detach().float()).clamp(0, 1)
    edges = sobel_edges(pixels, float(params.edge_sigma))  # (B, 1, H, W)
    variants = make_variants(pixels, edges, params)  # (V, B, 3, H, W)
    v = variants.shape[0]
    rows = from_pixels(model, variants.reshape(v * b, 3, height, width)).to(inputs.dtype)
    if "original" in params.variants:  # the original variant's pixels are the inputs, up to rounding
        at = params.variants.index("original")
        rows[at * b:(at + 1) * b] = inputs.detach()
    image = torch.arange(v * b, device=inputs.device) % b

    with capture(model.model, [layer], gradients=True) as records:
        variant_logits = model.logits(rows)
    record = records[layer]
    if record.leaf is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    with torch.no_grad():
        logits = model.logits(inputs) if "original" not in params.variants else variant_logits[at * b:(at + 1) * b]
    fixed = plan.fix(logits.detach())
    k = fixed.num_passes
    cams = []
    for p in range(k):
        score = fixed.scores(variant_logits, p, image).sum()
        (gradient,) = torch.autograd.grad(score, record.leaf, retain_graph=p < k - 1)
        cam = cam_from_gradients(tokens_to_grid(record.activation), tokens_to_grid(gradient))  # (V B, h, w)
        cam = F.interpolate(cam[:, None].float(), size=(height, width), mode="bilinear", align_corners=False)[:, 0]
        cams.append(minmax(cam).view(v, b, height, width).mean(dim=0))
    localisation = torch.stack(cams)  # (K, B, H, W)
    w = float(params.edge_weight)
    fused = minmax(localisation * ((1 - w) + w * edges[:, 0])[None])
    extras = {"localisation": localisation.detach(), "edges": edges[:, 0].detach()[None].expand(k, b, height, width)}
    return MethodOutput(maps=fused.detach(), logits=logits.detach(), targets=fixed.stacked(), extras=extras)
