"""Attention blocks of vision transformers, and capturing their attention.

Three layouts are recognised (``find_attention_blocks``):

* torchvision ``VisionTransformer``: ``encoder.layers.encoder_layer_<i>.self_attention``,
  an ``nn.MultiheadAttention`` (fused input projection ``in_proj_weight``, ``out_proj``),
  called with ``need_weights=False``, so it never returns its weights;
* timm ``VisionTransformer``: ``blocks.<i>.attn`` with ``qkv`` and ``proj`` (and
  ``q_norm``/``k_norm``/``norm``), usually through fused ``scaled_dot_product_attention``,
  which never materialises the weights either;
* Hugging Face ``ViTForImageClassification``: ``vit.encoder.layer.<i>.attention``, with
  ``q_proj``/``k_proj``/``v_proj``/``o_proj`` (transformers 5) or ``attention.query``/
  ``key``/``value`` and ``output.dense`` (transformers 4).

Because none of them hands out its attention probabilities on the normal path,
:func:`capture_attention` recomputes them, inside a forward hook on each attention
module, from the module's own input and weights: ``softmax(q k^T / sqrt(d))`` per head,
exactly what the module computes (the tests compare with ``need_weights=True``,
timm's unfused path and Hugging Face's ``output_attentions``). With ``gradients=True``
the hook also replaces the module's output by the recomputed one, ``proj(P v + probe)``,
where ``probe`` is a zero tensor that requires grad: the model's output is unchanged, and
``d score / d probe`` is the gradient with respect to the output projection's input (the
heads' concatenated context), which DAAM needs. Hooks are removed on exit, always.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .layers import vit_blocks

__all__ = [
    "AttentionBlock", "AttentionRecord", "find_attention_blocks", "capture_attention", "prefix_tokens", "patch_grid",
    "LAYOUTS",
]

#: the attention layouts recognised
LAYOUTS = ("torchvision", "timm", "huggingface")

_EXPECTED = (
    "a vision transformer with attention blocks (torchvision VisionTransformer "
    "encoder.layers.*.self_attention, timm VisionTransformer blocks.*.attn, or Hugging Face "
    "ViT vit.encoder.layer.*.attention)"
)


@dataclasses.dataclass(frozen=True)
class AttentionBlock:
    """One attention module: its dotted name, the module, its layout and head count."""

    name: str
    module: nn.Module
    layout: str  # one of LAYOUTS
    num_heads: int


@dataclasses.dataclass
class AttentionRecord:
    """What :func:`capture_attention` saw at one attention module in the last forward pass.

    ``attention``: the softmax attention probabilities (B, heads, N, N), rows = queries,
    or what the capture's ``reduce`` made of them; ``values``: (B, heads, N, head_dim)
    when asked for; ``probe``: with ``gradients=True``, the zero (B, N, heads*head_dim)
    tensor added to the heads' concatenated output before the output projection, whose
    gradient is the gradient with respect to that projection's input.
    """

    name: str
    attention: torch.Tensor | None = None
    values: torch.Tensor | None = None
    probe: torch.Tensor | None = None


def _layout(module: nn.Module) -> str | None:
    if isinstance(module, nn.MultiheadAttention):
        return "torchvision"
    if all(hasattr(module, a) for a in ("qkv", "proj", "num_heads")):
        return "timm"
    if all(hasattr(module, a) for a in ("q_proj", "k_proj", "v_proj", "o_proj")):
        return "huggingface"
    inner, output = getattr(module, "attention", None), getattr(module, "output", None)
    if inner is not None and output is not None and all(hasattr(inner, a) for a in ("query", "key", "value")):
        return "huggingface"
    return None


def _num_heads(module: nn.Module, layout: str) -> int:
    if layout in ("torchvision", "timm"):
        return int(module.num_heads)
    if hasattr(module, "num_attention_heads"):
        return int(module.num_attention_heads)
    return int(module.attention.num_attention_heads)


def find_attention_blocks(model: nn.Module, argument: str = "model") -> list[AttentionBlock]:
    """The attention modules of a ViT, first block first.

    Raises a ValueError naming ``argument`` for a model without attention blocks of a
    recognised layout (a CNN, say), or whose attention modules have another layout.
    """
    blocks = vit_blocks(model)
    if not blocks:
        raise ValueError(f"{argument}: expected {_EXPECTED}; got {type(model).__name__}, which has no attention blocks")
    modules = dict(model.named_modules())
    found = []
    for _, _, name in blocks:
        module = modules[name]
        layout = _layout(module)
        if layout is None:
            raise ValueError(
                f"{argument}: expected {_EXPECTED}; got {type(model).__name__}, whose attention module {name!r} "
                f"is a {type(module).__name__}, a layout xwidgets cannot read attention from"
            )
        found.append(AttentionBlock(name, module, layout, _num_heads(module, layout)))
    return found


def prefix_tokens(model: nn.Module) -> int | None:
    """How many non-patch tokens (class, distillation, register tokens) lead the sequence,
    when the model says: timm's ``num_prefix_tokens``, torchvision's ``class_token``,
    Hugging Face's ``cls_token`` (+ ``distillation_token``); None when unknown."""
    n = getattr(model, "num_prefix_tokens", None)
    if isinstance(n, int):
        return n
    if isinstance(getattr(model, "class_token", None), torch.Tensor):  # torchvision
        return 1
    for module in model.modules():
        if isinstance(getattr(module, "cls_token", None), torch.Tensor):  # Hugging Face embeddings
            return 1 + isinstance(getattr(module, "distillation_token", None), torch.Tensor)
    return None


def patch_grid(num_tokens: int, input_size: tuple[int, int], prefix: int | None) -> tuple[int, int, int]:
    """(prefix, grid rows, grid cols) of a sequence of ``num_tokens`` tokens from an input
    of ``input_size`` (H, W): the patches form a grid of the input's aspect ratio. When
    ``prefix`` is None, the first of 1, 0, 2, 5, 9 leading tokens that fits is taken."""
    height, width = input_size
    for p in [prefix] if prefix is not None else [1, 0, 2, 5, 9]:
        n = num_tokens - p
        if n <= 0:
            continue
        rows = max(1, round(math.sqrt(n * height / width)))
        if n % rows == 0:
            return p, rows, n // rows
    removed = f"the model's {prefix}" if prefix is not None else "1, 0, 2, 5 or 9"
    raise ValueError(
        f"model: expected its {num_tokens} tokens to form a patch grid of the {height}x{width} input "
        f"after {removed} leading tokens; they do not"
    )


# --------------------------------------------------------------------------- recomputation
def _arg(args: tuple, kwargs: dict, position: int, name: str, default: Any = None) -> Any:
    if len(args) > position:
        return args[position]
    return kwargs.get(name, default)


def _no_mask(block: AttentionBlock, *masks: Any) -> None:
    if any(m is not None and m is not False for m in masks):
        raise ValueError(
            f"model: attention module {block.name!r} was called with an attention mask; xwidgets reads "
            "unmasked self-attention only (image classifiers)"
        )


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, H*D) -> (B, H, N, D)."""
    b, n, _ = t.shape
    return t.reshape(b, n, heads, -1).transpose(1, 2)


Projection = Callable[[torch.Tensor], torch.Tensor]


def _qkv(block: AttentionBlock, args: tuple, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, Projection, Callable]:
    """(q, k, v) each (B, H, N, D), the scale, the output projection of the concatenated
    heads (B, N, H*D) -> module output tensor, and how to rebuild the module's output."""
    m, heads = block.module, block.num_heads
    if block.layout == "torchvision":
        query = _arg(args, kwargs, 0, "query")
        key, value = _arg(args, kwargs, 1, "key"), _arg(args, kwargs, 2, "value")
        _no_mask(block, _arg(args, kwargs, 3, "key_padding_mask"), _arg(args, kwargs, 5, "attn_mask"),
                 kwargs.get("is_causal"))
        if key is not query or value is not query:
            raise ValueError(f"model: attention module {block.name!r} is not self-attention (query, key and value differ)")
        if not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
            raise ValueError(f"model: attention module {block.name!r} uses MultiheadAttention options xwidgets does not read")
        x = query if m.batch_first else query.transpose(0, 1)
        q, k, v = F.linear(x, m.in_proj_weight, m.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (_heads(t, heads) for t in (q, k, v))
        out = lambda ctx: F.linear(ctx, m.out_proj.weight, m.out_proj.bias)  # noqa: E731
        batch_first = m.batch_first
        rebuild = lambda output, y: (y if batch_first else y.transpose(0, 1), *output[1:])  # noqa: E731
        return q, k, v, q.shape[-1] ** -0.5, out, rebuild
    if block.layout == "timm":
        x = _arg(args, kwargs, 0, "x")
        _no_mask(block, _arg(args, kwargs, 1, "attn_mask"), _arg(args, kwargs, 2, "is_causal"))
        if getattr(m, "gate", None) is not None:
            raise ValueError(f"model: attention module {block.name!r} is gated; xwidgets does not read gated attention")
        b, n, _ = x.shape
        q, k, v = m.qkv(x).reshape(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        q_norm, k_norm = getattr(m, "q_norm", None), getattr(m, "k_norm", None)
        q = q_norm(q) if q_norm is not None else q
        k = k_norm(k) if k_norm is not None else k
        norm = getattr(m, "norm", None)
        drop = getattr(m, "proj_drop", None)

        def out(ctx: torch.Tensor) -> torch.Tensor:
            y = m.proj(norm(ctx) if norm is not None else ctx)
            return drop(y) if drop is not None else y

        return q, k, v, float(m.scale), out, lambda output, y: y
    # Hugging Face
    x = _arg(args, kwargs, 0, "hidden_states")
    _no_mask(block, _arg(args, kwargs, 1, "attention_mask"), _arg(args, kwargs, 1, "head_mask"))
    if hasattr(m, "q_proj"):  # transformers 5
        q, k, v = (_heads(proj(x), heads) for proj in (m.q_proj, m.k_proj, m.v_proj))
        scale = float(getattr(m, "scaling", q.shape[-1] ** -0.5))
        out = m.o_proj
    else:  # transformers 4: ViTAttention(attention=ViTSelfAttention, output=ViTSelfOutput)
        inner = m.attention
        q, k, v = (_heads(proj(x), heads) for proj in (inner.query, inner.key, inner.value))
        scale = q.shape[-1] ** -0.5
        out = lambda ctx: m.output.dropout(m.output.dense(ctx))  # noqa: E731

    def rebuild(output: Any, y: torch.Tensor) -> Any:
        if isinstance(output, torch.Tensor):
            return y
        return type(output)([y, *output[1:]]) if isinstance(output, (tuple, list)) else (y,)

    return q, k, v, scale, out, rebuild


def attention_probabilities(q: torch.Tensor, k: torch.Tensor, scale: float) -> torch.Tensor:
    """softmax(q k^T * scale) over the keys, computed in float32 at least: (B, H, N, N)."""
    logits = torch.matmul(q, k.transpose(-2, -1)) * scale
    return torch.softmax(logits, dim=-1, dtype=torch.promote_types(logits.dtype, torch.float32)).to(q.dtype)


@contextlib.contextmanager
def capture_attention(
    model: nn.Module,
    blocks: list[AttentionBlock] | None = None,
    *,
    gradients: bool = False,
    values: bool = False,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[list[AttentionRecord]]:
    """Record every attention block's probabilities during forward passes inside.

    Args:
        model: the ViT (``nn.Module``).
        blocks: the blocks to watch (default: :func:`find_attention_blocks`).
        gradients: replace each block's output by the recomputed one with a zero ``probe``
            added before the output projection (see the module docstring), so that
            ``torch.autograd.grad(score, [r.probe for r in records])`` gives the gradient
            with respect to each projection's input. The recomputation keeps autograd on.
        values: also record the value vectors (B, H, N, D).
        reduce: applied to the (B, H, N, N) probabilities before they are stored (keep a
            head-fused matrix or the class-token row instead of every head's matrix).

    Yields one :class:`AttentionRecord` per block, in block order, filled by each forward
    pass. Every hook is removed on exit, even on error.
    """
    blocks = find_attention_blocks(model) if blocks is None else blocks
    records = [AttentionRecord(b.name) for b in blocks]

    def make_hook(block: AttentionBlock, record: AttentionRecord):
        def hook(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
            with torch.set_grad_enabled(gradients and torch.is_grad_enabled()):
                q, k, v, scale, project, rebuild = _qkv(block, args, kwargs)
                probs = attention_probabilities(q, k, scale)
                record.attention = (reduce(probs) if reduce is not None else probs).detach()
                record.values = v.detach() if values else None
                if not gradients:
                    return None
                context = torch.matmul(probs, v).transpose(1, 2)
                context = context.reshape(*context.shape[:2], -1)
                probe = torch.zeros_like(context, requires_grad=True)
                record.probe = probe
                return rebuild(output, project(context + probe))
        return hook

    handles = []
    try:
        for block, record in zip(blocks, records):
            handles.append(block.module.register_forward_hook(make_hook(block, record), with_kwargs=True))
        yield records
    finally:
        for handle in handles:
            handle.remove()
