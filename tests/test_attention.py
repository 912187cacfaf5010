"""Attention capture, attention rollout and DAAM (issue 4, items 2 and 5).

* ``capture_attention`` recomputes each block's softmax attention in a hook: it must equal
  what the module itself computes (torchvision ``nn.MultiheadAttention`` with
  ``need_weights=True``, timm's unfused path, Hugging Face's ``output_attentions``) on
  small randomly initialised ViTs, leave the model's outputs unchanged, and remove its
  hooks on every exit, an exception inside included.
* Attention rollout (Abnar & Zuidema 2020) equals the product of row-normalised
  (W + I) = 0.5 W + 0.5 I matrices written out by hand, end to end on a torchvision ViT.
* DAAM (Liao, Gao & Zhang 2025; METHODS.md, seed 003) equals its definition recomputed
  with a hand-written forward pass of the torchvision ViT; it returns one map per block,
  and its last accumulated map is the sum of the block maps.
* Ground truth: on the bundled toy ViT and synthetic images both put more of their mass
  on the defining parts than their area (chance); the untrained toy ViT's rollout does not.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.models import Preprocess, wrap
from xwidgets.models.attention import capture_attention, find_attention_blocks, patch_grid, prefix_tokens
from xwidgets.saliency.attention_rollout import rollout

PRE32 = Preprocess(size=(32, 32), resize=None)
# recomputing softmax(q k^T / sqrt(d)) with another order of float32 operations: largest
# difference measured 4.8e-7 (torchvision), 7.2e-7 (timm, Hugging Face) on these models
ATTENTION_ATOL = 3e-6


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # many tiny forward passes: one thread is faster on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _spread(model: nn.Module, seed: int) -> nn.Module:
    """Every parameter redrawn from N(0, 0.5^2) (LayerNorm scales around 1): the default
    initialisations give near-uniform attention and a zero torchvision head, which would
    make the comparisons below compare nearly constant matrices."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.5
            is_norm_scale = p.ndim == 1 and ("ln" in name or "norm" in name) and name.endswith("weight")
            p.copy_(1 + 0.2 * noise if is_norm_scale else noise)
    return model.eval()


def _torchvision_vit(**kwargs):
    net = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=3, **kwargs
    )
    return _spread(net, 0)


def _timm_vit(**kwargs):
    from timm.models.vision_transformer import VisionTransformer

    return _spread(VisionTransformer(img_size=32, patch_size=8, embed_dim=16, depth=2, num_heads=2, num_classes=3, **kwargs), 1)


def _hf_vit():
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, num_labels=3,
    )
    return _spread(ViTForImageClassification(config), 2)


BUILDERS = {"torchvision": _torchvision_vit, "timm": _timm_vit, "huggingface": _hf_vit}


@pytest.fixture(scope="module")
def vits():
    return {name: build() for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def inputs():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))


def _logits(model, x):
    out = model(x)
    return out.logits if hasattr(out, "logits") else out


def _hooks(model):
    """Every forward (pre-)hook of every module, by module name (Hugging Face models
    install hooks of their own, to record outputs, the first time they are asked to)."""
    return {
        name: (tuple(m._forward_hooks), tuple(m._forward_pre_hooks), tuple(m._backward_hooks))
        for name, m in model.named_modules()
    }


# ---------------------------------------------------------------------------- reference attention


def _reference_attention(layout, model, blocks, x):
    """Each block's (B, heads, N, N) attention as the module itself computes it."""
    if layout == "torchvision":
        seen = []
        handles = [b.module.register_forward_pre_hook(lambda m, args: seen.append(args[0])) for b in blocks]
        try:
            with torch.no_grad():
                model(x)
        finally:
            for h in handles:
                h.remove()
        with torch.no_grad():
            return [
                b.module(q, q, q, need_weights=True, average_attn_weights=False)[1] for b, q in zip(blocks, seen)
            ]
    if layout == "timm":
        seen = []
        for b in blocks:
            b.module.fused_attn = False  # timm's own unfused path materialises the softmax
        handles = [b.module.attn_drop.register_forward_hook(lambda m, a, out: seen.append(out)) for b in blocks]
        try:
            with torch.no_grad():
                model(x)
        finally:
            for h in handles:
                h.remove()
            for b in blocks:
                b.module.fused_attn = True
        return seen
    model.set_attn_implementation("eager")  # Hugging Face: only eager attention returns its weights
    try:
        with torch.no_grad():
            return list(model(pixel_values=x, output_attentions=True).attentions)
    finally:
        model.set_attn_implementation("sdpa")


# ---------------------------------------------------------------------------- capture


@pytest.mark.parametrize("layout", list(BUILDERS))
def test_find_attention_blocks_reads_each_layout(vits, layout):
    blocks = find_attention_blocks(vits[layout])
    assert [b.layout for b in blocks] == [layout, layout]
    assert [b.num_heads for b in blocks] == [2, 2]
    expected = {
        "torchvision": "encoder.layers.encoder_layer_1.self_attention",
        "timm": "blocks.1.attn",
        "huggingface": "attention",  # vit.layers.1.attention (transformers 5) or vit.encoder.layer.1.attention
    }[layout]
    assert blocks[1].name.endswith(expected)
    assert prefix_tokens(vits[layout]) == 1


@pytest.mark.parametrize("layout", list(BUILDERS))
def test_captured_attention_equals_the_modules_own_weights(vits, inputs, layout):
    model = vits[layout]
    blocks = find_attention_blocks(model)
    before = _hooks(model)
    with capture_attention(model, blocks) as records, torch.no_grad():
        model(inputs)  # the model's normal path: fused / sdpa / need_weights=False
    assert _hooks(model) == before
    reference = _reference_attention(layout, model, blocks, inputs)
    assert len(records) == len(reference) == 2
    for record, ref in zip(records, reference):
        assert record.attention.shape == ref.shape == (3, 2, 17, 17)
        torch.testing.assert_close(record.attention, ref, atol=ATTENTION_ATOL, rtol=0)
        torch.testing.assert_close(record.attention.sum(-1), torch.ones(3, 2, 17), atol=1e-6, rtol=0)
        # not a near-uniform matrix: the comparison would then test little
        assert float(record.attention.max()) > 5 / 17


@pytest.mark.parametrize("layout", list(BUILDERS))
def test_outputs_are_unchanged_under_capture_and_the_probe_gradient_is_the_projections(vits, inputs, layout):
    model = vits[layout]
    before = _hooks(model)
    with torch.no_grad():
        clean = _logits(model, inputs)
    with torch.no_grad(), capture_attention(model, values=True):
        torch.testing.assert_close(_logits(model, inputs), clean, atol=1e-6, rtol=0)
    with capture_attention(model, gradients=True, values=True) as records:
        logits = _logits(model, inputs)
    torch.testing.assert_close(logits.detach(), clean, atol=1e-5, rtol=0)
    assert all(r.values.shape == (3, 2, 17, 8) for r in records)
    assert all(r.probe.shape == (3, 17, 16) and not r.probe.any() for r in records)
    grads = torch.autograd.grad(logits[:, 1].sum(), [r.probe for r in records])
    assert all(g.abs().sum() > 0 for g in grads)
    assert _hooks(model) == before
    if layout == "torchvision":
        return  # nn.MultiheadAttention never calls out_proj as a module: no hook point to compare with
    # the gradient at the output projection's input, read by a pre-hook on that projection
    projections = [b.module.proj if layout == "timm" else b.module.o_proj for b in find_attention_blocks(model)]
    leaves = []

    def add_leaf(module, args):
        leaf = torch.zeros_like(args[0], requires_grad=True)
        leaves.append(leaf)
        return (args[0] + leaf,)

    handles = [p.register_forward_pre_hook(add_leaf) for p in projections]
    try:
        reference = torch.autograd.grad(_logits(model, inputs)[:, 1].sum(), leaves)
    finally:
        for h in handles:
            h.remove()
    for g, ref in zip(grads, reference):
        torch.testing.assert_close(g, ref, atol=1e-6, rtol=1e-5)
    assert _hooks(model) == before


@pytest.mark.parametrize("layout", list(BUILDERS))
def test_hooks_are_removed_when_the_body_raises(vits, inputs, layout):
    model = vits[layout]
    before = _hooks(model)
    with pytest.raises(KeyError, match="raised inside"):
        with capture_attention(model, gradients=True) as records:
            _logits(model, inputs)
            assert all(r.probe is not None for r in records)
            assert _hooks(model) != before  # the hooks were there
            raise KeyError("raised inside")
    assert _hooks(model) == before


def test_hooks_are_removed_when_the_hook_itself_raises(vits):
    # a masked call cannot be read: the hook raises, inside the model's forward pass
    model = vits["torchvision"]
    block = find_attention_blocks(model)[0]
    x = torch.randn(1, 17, 16)
    mask = torch.zeros(17, 17, dtype=torch.bool)
    before = _hooks(model)
    with pytest.raises(ValueError, match="model: attention module 'encoder.layers.encoder_layer_0.self_attention' was called with an attention mask"):
        with capture_attention(model, [block]):
            block.module(x, x, x, attn_mask=mask, need_weights=False)
    assert _hooks(model) == before


def test_models_without_attention_blocks_get_an_error_naming_the_model():
    cnn = torchvision.models.resnet18(num_classes=3)
    before = _hooks(cnn)
    with pytest.raises(ValueError, match=r"model: expected a vision transformer with attention blocks .*got ResNet"):
        find_attention_blocks(cnn)
    with pytest.raises(ValueError, match=r"net: expected a vision transformer"):
        find_attention_blocks(cnn, argument="net")
    with pytest.raises(ValueError, match="model: expected a vision transformer"):
        with capture_attention(cnn):
            pass
    images = list(np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8))
    for method in ("attention_rollout", "daam"):
        with pytest.raises(ValueError, match=r"model: expected a vision transformer with attention blocks.*ResNet, which has no attention blocks"):
            xw.explain(wrap(cnn, preprocess=PRE32), images, method=method)
    assert _hooks(cnn) == before


def test_patch_grid_splits_prefix_tokens_from_the_grid():
    assert patch_grid(17, (32, 32), 1) == (1, 4, 4)
    assert patch_grid(16, (32, 32), None) == (0, 4, 4)
    assert patch_grid(9, (16, 32), 1) == (1, 2, 4)  # the grid keeps the input's aspect ratio
    with pytest.raises(ValueError, match="model: expected its 18 tokens to form a patch grid"):
        patch_grid(18, (32, 32), 1)


# ---------------------------------------------------------------------------- rollout


def _row_stochastic(rng, n):
    w = rng.random((n, n)) ** 3
    return w / w.sum(axis=1, keepdims=True)


def test_rollout_is_the_product_of_half_attention_half_identity_matrices():
    rng = np.random.default_rng(0)
    w1, w2, w3 = (_row_stochastic(rng, 4) for _ in range(3))
    eye = np.eye(4)
    expected = (0.5 * w3 + 0.5 * eye) @ (0.5 * w2 + 0.5 * eye) @ (0.5 * w1 + 0.5 * eye)  # last block leftmost
    got = rollout([torch.tensor(w[None], dtype=torch.float32) for w in (w1, w2, w3)])
    np.testing.assert_allclose(got[0].numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(got[0].sum(-1).numpy(), np.ones(4), atol=1e-6)
    # a matrix whose rows do not sum to one: A = rownorm(W + I)
    w = rng.random((4, 4))
    a = (w + eye) / (w + eye).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(rollout([torch.tensor(w[None], dtype=torch.float32)])[0].numpy(), a, atol=1e-6)


def test_discarding_zeroes_the_weakest_entries_but_the_class_tokens_own():
    w = np.array([[0.05, 0.50, 0.45], [0.21, 0.30, 0.49], [0.11, 0.60, 0.29]])
    smallest = np.argsort(w, axis=None)[:3]  # ratio 1/3 of 9 entries: (0, 0), (2, 0), (1, 0)
    assert 0 in smallest  # the class token's own attention is among them, and is kept
    kept = w.copy()
    kept.flat[smallest] = 0.0
    kept[0, 0] = w[0, 0]
    a = (kept + np.eye(3)) / (kept + np.eye(3)).sum(axis=1, keepdims=True)
    got = rollout([torch.tensor(w[None], dtype=torch.float32)], discard_ratio=1 / 3)
    np.testing.assert_allclose(got[0].numpy(), a, atol=1e-6)


@pytest.mark.parametrize("fusion, discard", [("mean", 0.0), ("max", 0.0), ("min", 0.0), ("mean", 0.5)])
def test_attention_rollout_end_to_end_equals_the_hand_computed_rollout(vits, inputs, fusion, discard):
    model = vits["torchvision"]
    adapter = wrap(model, preprocess=PRE32)
    blocks = find_attention_blocks(model)
    weights = _reference_attention("torchvision", model, blocks, inputs)  # need_weights=True
    fuse = {"mean": lambda p: p.mean(1), "max": lambda p: p.amax(1), "min": lambda p: p.amin(1)}[fusion]
    result = None
    for p in weights:
        w = fuse(p).double().numpy()
        n = w.shape[-1]
        if discard:
            flat = w.reshape(len(w), -1).copy()
            for row in flat:
                keep00 = row[0]
                row[np.argsort(row, kind="stable")[: int(n * n * discard)]] = 0.0
                row[0] = keep00
            w = flat.reshape(w.shape)
        a = (w + np.eye(n)) / (w + np.eye(n)).sum(-1, keepdims=True)
        result = a if result is None else a @ result
    expected = torch.tensor(result[:, 0, 1:].reshape(3, 1, 4, 4), dtype=torch.float32)  # class token row, patches
    expected = F.interpolate(expected, size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    before = _hooks(model)
    sal = xw.explain(adapter, inputs, method="attention_rollout", head_fusion=fusion, discard_ratio=discard)
    assert _hooks(model) == before
    assert sal.maps.shape == (3, 32, 32)
    np.testing.assert_allclose(sal.maps, expected.numpy(), atol=1e-5)


def test_attention_rollout_is_class_agnostic_and_works_on_timm_and_hugging_face(vits, inputs):
    for layout in ("torchvision", "timm", "huggingface"):
        sal = xw.explain(wrap(vits[layout], preprocess=PRE32), inputs, method="attention_rollout", target=xw.TopK(2))
        assert sal.maps.shape == (6, 32, 32), layout
        np.testing.assert_array_equal(sal.maps[0::2], sal.maps[1::2])  # the same map for both classes
        assert len(set(sal.targets[0::2]) | set(sal.targets[1::2])) >= 2
        assert np.isfinite(sal.maps).all() and (sal.maps > 0).all(), layout


def test_rollout_without_a_class_token_uses_the_mean_row(inputs):
    model = _timm_vit(class_token=False, global_pool="avg")
    assert prefix_tokens(model) == 0
    sal = xw.explain(wrap(model, preprocess=PRE32), inputs, method="attention_rollout")
    weights = _reference_attention("timm", model, find_attention_blocks(model), inputs)
    result = None
    for p in weights:
        w = p.mean(1).double().numpy()
        a = (w + np.eye(16)) / (w + np.eye(16)).sum(-1, keepdims=True)
        result = a if result is None else a @ result
    expected = torch.tensor(result.mean(axis=1).reshape(3, 1, 4, 4), dtype=torch.float32)
    expected = F.interpolate(expected, size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(sal.maps, expected.numpy(), atol=1e-5)


# ---------------------------------------------------------------------------- DAAM


def _daam_by_hand(net, x, target):
    """DAAM's block maps (B, L, 4, 4) for a torchvision ViT from a forward pass written out
    here: per block, cam = ReLU(sum_c ReLU(dy/dz[cls, c]) P[cls, p] v[p, c]) over the patch
    tokens p, min-max normalised; z = the heads' concatenated context (kept by retain_grad)."""
    tokens = net._process_input(x)
    h = torch.cat([net.class_token.expand(len(x), -1, -1), tokens], dim=1) + net.encoder.pos_embedding
    saved = []
    for layer in net.encoder.layers:
        attn = layer.self_attention
        y = layer.ln_1(h)
        q, k, v = F.linear(y, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        b, n, c = q.shape
        q, k, v = (t.reshape(b, n, attn.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        p = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)
        z = (p @ v).transpose(1, 2).reshape(b, n, c)
        z.retain_grad()
        saved.append((p, v, z))
        h = h + attn.out_proj(z)
        h = h + layer.mlp(layer.ln_2(h))
    logits = net.heads(net.encoder.ln(h)[:, 0])
    logits.gather(1, target[:, None]).sum().backward()
    net.zero_grad(set_to_none=True)
    maps = []
    for p, v, z in saved:
        w = z.grad[:, 0].clamp_min(0).reshape(len(x), p.shape[1], -1)  # (B, heads, d)
        cam = torch.einsum("bhp,bhpd,bhd->bp", p[:, :, 0, 1:], v[:, :, 1:], w).clamp_min(0)
        low = cam.amin(1, keepdim=True)
        maps.append((cam - low) / ((cam - low).amax(1, keepdim=True) + 1e-10))
    return torch.stack(maps, 1).reshape(len(x), len(saved), 4, 4).detach(), logits.detach()


@pytest.fixture(scope="module")
def daam_tv(vits, inputs):
    adapter = wrap(vits["torchvision"], preprocess=PRE32)
    return adapter, xw.explain(adapter, inputs, method="daam", target=[0, 1, 2])


def test_daam_equals_its_definition_recomputed_by_hand(vits, inputs, daam_tv):
    _, sal = daam_tv
    net = vits["torchvision"]
    assert all(p.grad is None for p in net.parameters())  # DAAM's backward leaves the parameters alone
    expected, logits = _daam_by_hand(net, inputs, torch.tensor([0, 1, 2]))
    extras = sal.params["extras"]
    assert extras["block_maps"].shape == (3, 2, 4, 4)
    np.testing.assert_allclose(extras["block_maps"], expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(sal.probabilities, torch.softmax(logits, 1).numpy(), atol=1e-6)
    assert (expected.amax((2, 3)) > 0.99).all()  # every block map is non-trivial here


def test_daam_returns_one_map_per_block_and_the_last_accumulated_map_is_their_sum(daam_tv):
    adapter, sal = daam_tv
    extras = sal.params["extras"]
    blocks, accumulated, flow = extras["block_maps"], extras["accumulated"], extras["flow"]
    assert extras["blocks"] == [b.name for b in find_attention_blocks(adapter.model)]
    assert blocks.shape == accumulated.shape == flow.shape == (3, 2, 4, 4)  # rows, blocks, grid
    np.testing.assert_allclose(accumulated[:, -1], blocks.sum(axis=1), atol=1e-6)  # the check
    np.testing.assert_allclose(accumulated, np.cumsum(blocks, axis=1), atol=1e-6)
    # each block map is min-max normalised; the displayed flow is sigmoid(5 x) - 0.5 of the
    # accumulated maps over the global maximum, min-max normalised; its last is the map
    np.testing.assert_allclose(blocks.min(axis=(2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(blocks.max(axis=(2, 3)), 1, atol=1e-6)
    x = accumulated / accumulated[:, -1:].max(axis=(2, 3), keepdims=True)
    s = 1 / (1 + np.exp(-5 * x)) - 0.5
    lo = s.min(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(flow, (s - lo) / ((s - lo).max(axis=(2, 3), keepdims=True) + 1e-10), atol=1e-5)
    up = F.interpolate(torch.tensor(flow[:, -1:]), size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(sal.maps, up.numpy(), atol=1e-6)


def test_daam_global_max_mapping_divides_by_the_last_maximum_only(vits, inputs):
    sal = xw.explain(wrap(vits["torchvision"], preprocess=PRE32), inputs, method="daam", target=[0, 1, 2], mapping="global_max")
    extras = sal.params["extras"]
    acc = extras["accumulated"]
    np.testing.assert_allclose(extras["flow"], acc / acc[:, -1:].max(axis=(2, 3), keepdims=True), atol=1e-6)
    assert (extras["flow"][:, 0].max(axis=(1, 2)) <= extras["flow"][:, 1].max(axis=(1, 2)) + 1e-6).all()


def test_daam_batches_targets_and_layouts(vits, inputs):
    for layout in ("torchvision", "timm", "huggingface"):
        adapter = wrap(vits[layout], preprocess=PRE32)
        before = _hooks(adapter.model)
        both = xw.explain(adapter, inputs[:2], method="daam", target=xw.TopK(2))
        assert both.maps.shape == (4, 32, 32) and both.params["extras"]["block_maps"].shape == (4, 2, 4, 4), layout
        assert not np.allclose(both.params["extras"]["block_maps"][0], both.params["extras"]["block_maps"][1]), layout
        for i in range(2):  # two images together equal one at a time
            one = xw.explain(adapter, inputs[i : i + 1], method="daam", target=xw.TopK(2))
            np.testing.assert_allclose(both.maps[2 * i : 2 * i + 2], one.maps, atol=1e-5, err_msg=layout)
        assert _hooks(adapter.model) == before, layout


def test_daam_needs_a_class_token():
    model = wrap(_timm_vit(class_token=False, global_pool="avg"), preprocess=PRE32)
    with pytest.raises(ValueError, match="model: expected a vision transformer with a class token for DAAM"):
        xw.explain(model, torch.zeros(1, 3, 32, 32), method="daam")


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("attention_rollout", {"head_fusion": "median"}, "head_fusion: expected one of 'mean', 'max', 'min'"),
        ("attention_rollout", {"discard_ratio": 1.0}, r"discard_ratio: expected a number in \[0, 1\)"),
        ("attention_rollout", {"discard_ratio": True}, "discard_ratio: expected a number"),
        ("daam", {"mapping": "linear"}, "mapping: expected one of 'sigmoid', 'global_max'"),
        ("daam", {"k": 0}, "k: expected a positive number"),
    ],
)
def test_bad_parameters_get_clear_errors(vits, inputs, method, params, message):
    with pytest.raises(ValueError, match=message):
        xw.explain(wrap(vits["torchvision"], preprocess=PRE32), inputs[:1], method=method, **params)


# ---------------------------------------------------------------------------- ground truth: the toy ViT


@pytest.fixture(scope="module")
def parts():
    """14 synthetic images (2 per class, 64 px), their defining-evidence masks and labels."""
    samples = [SyntheticParts(14, seed=5).sample(i) for i in range(14)]
    return (np.stack([s.image for s in samples]), np.stack([s.evidence_mask for s in samples]).astype(np.float64),
            [s.label for s in samples])


def _evidence_ratio(maps, evidence):
    """Per map: its share of mass on the defining parts over their area share (chance = 1)."""
    maps = np.clip(maps, 0, None)
    return (maps * evidence).sum(axis=(-2, -1)) / maps.sum(axis=(-2, -1)) / evidence.mean(axis=(-2, -1))


def test_rollout_on_the_toy_vit_puts_its_mass_on_the_defining_parts(parts):
    images, evidence, labels = parts
    toy = xw.models.toy_vit()
    sal = xw.explain(toy, list(images), method="attention_rollout", target=labels)
    ratio = _evidence_ratio(sal.maps, evidence)
    # measured: 1.31 to 3.65 times chance, 2.28 on average; every image above chance
    assert (ratio > 1.1).all() and ratio.mean() > 1.8, ratio
    # control: the untrained toy ViT (torchvision's initialisation) spreads it evenly
    from xwidgets.models.zoo.toy import build_toy_vit

    torch.manual_seed(0)
    untrained = wrap(build_toy_vit().eval(), preprocess=toy.preprocess, labels=toy.labels)
    control = _evidence_ratio(xw.explain(untrained, list(images), method="attention_rollout").maps, evidence)
    assert abs(control.mean() - 1) < 0.1, control  # measured 1.02


def test_daam_on_the_toy_vit_puts_more_mass_on_the_defining_parts_than_chance(parts):
    images, evidence, labels = parts
    sal = xw.explain(xw.models.toy_vit(), list(images), method="daam", target=labels)
    maps = np.clip(sal.maps, 0, None)
    pooled = ((maps / maps.sum(axis=(1, 2), keepdims=True)) * evidence).sum() / evidence.mean(axis=(1, 2)).sum()
    # measured: 1.61 times chance over the 14 images (per image 0.60 to 6.4, mean 1.45: the
    # final DAAM map is weaker than rollout's here, below chance on 6 of the 14 images)
    assert pooled > 1.3, pooled
    blocks = torch.tensor(sal.params["extras"]["block_maps"])  # (14, 6, 8, 8)
    up = F.interpolate(blocks, size=(64, 64), mode="bilinear", align_corners=False).numpy()
    with np.errstate(invalid="ignore"):  # a block map may be all zero (every term negative)
        per_block = np.nanmean(_evidence_ratio(up, evidence[:, None]), axis=0)
    # the maps of blocks 1-5 are on the parts (measured 3.9, 2.0, 3.8, 4.4, 1.9 times chance);
    # the last block's is not (0.75): what makes the final map weaker
    assert (per_block[:5] > 1.5).all() and per_block[0] > 3, per_block
