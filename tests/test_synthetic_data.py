"""The synthetic parts dataset: determinism, balance, ground truth, evidence rules, cue rules, errors, speed."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
import torch

from xwidgets.data.synthetic import (
    CLASS_SPECS,
    CLASSES,
    DISTRACTOR_TYPES,
    PALETTE,
    PART_SPECS,
    PART_TYPES,
    RESERVED_TYPES,
    SyntheticParts,
)

N = 7 * 30  # 30 images per class


@pytest.fixture(scope="module")
def samples():
    ds = SyntheticParts(n=N, seed=11)
    return [ds.sample(i) for i in range(N)]


# ------------------------------------------------------------------ vocabulary
def test_vocabulary():
    assert len(PART_TYPES) >= 8 and len(CLASSES) >= 6
    for name in ("wheel", "window", "headlight", "grille", "mirror", "ladder", "door", "stripe"):
        assert name in PART_TYPES
    kinds = {CLASS_SPECS[c].kind for c in CLASSES}
    assert kinds == {"presence", "attribute", "count", "relation"}
    for name in DISTRACTOR_TYPES:  # red and yellow distractors: colour alone never names a lamp
        assert {"red", "yellow"} <= set(PART_SPECS[name].colours)
    for part, classes in RESERVED_TYPES.items():
        assert part not in DISTRACTOR_TYPES and classes
    assert SyntheticParts(n=7).class_names == list(CLASSES)


# ------------------------------------------------------------------ determinism
def test_same_seed_same_bytes_and_random_access():
    a, b = SyntheticParts(n=40, seed=3), SyntheticParts(n=40, seed=3)
    images_a, labels_a = a.arrays(0, 40)
    images_b, labels_b = b.arrays(0, 40)
    assert images_a.tobytes() == images_b.tobytes() and np.array_equal(labels_a, labels_b)
    # random access, in any order, and sub-ranges give the same bytes
    for i in (39, 0, 17, 17, 5):
        assert np.array_equal(a.image(i), images_a[i])
    sub, sub_labels = a.arrays(10, 20)
    assert np.array_equal(sub, images_a[10:20]) and np.array_equal(sub_labels, labels_a[10:20])
    s1, s2 = a.sample(7), b.sample(7)
    assert np.array_equal(s1.image, images_a[7]) and np.array_equal(s1.instance_mask, s2.instance_mask)
    assert s1.parts == s2.parts and s1.evidence == s2.evidence
    # n does not change image i
    assert np.array_equal(SyntheticParts(n=1000, seed=3).image(7), images_a[7])


def test_different_seed_different_images():
    a = SyntheticParts(n=20, seed=3).arrays()[0]
    b = SyntheticParts(n=20, seed=4).arrays()[0]
    assert all(not np.array_equal(a[i], b[i]) for i in range(20))
    assert not np.array_equal(a[0], a[1])


def test_torch_dataset_protocol():
    ds = SyntheticParts(n=14, seed=2)
    x, y = ds[3]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and tuple(x.shape) == (3, 64, 64)
    assert isinstance(y, int) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.equal(x, torch.from_numpy(ds.image(3)).permute(2, 0, 1).float() / 255)
    assert torch.equal(ds[-1][0], ds[13][0])
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=14)))
    images, labels = ds.arrays()
    assert torch.equal(xb, torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    assert yb.tolist() == labels.tolist()
    tx, ty = ds.tensors(0, 14)
    assert torch.equal(tx, xb) and ty.dtype == torch.int64
    with pytest.raises(IndexError, match="index"):
        ds[14]
    assert len(ds) == 14 and len(SyntheticParts(n=0)) == 0


def test_variants_share_the_scene():
    clean = SyntheticParts(n=14, seed=5)
    for variant in ("biased", "shifted"):
        other = SyntheticParts(n=14, seed=5, variant=variant)
        for i in range(14):
            a, b = clean.sample(i), other.sample(i)
            assert a.label == b.label
            if b.evidence.kind == "spurious":  # a conflict image: another class's parts
                assert variant == "biased" and b.class_name == other.biased_class
                continue
            assert a.parts == b.parts
            differs = np.any(a.image != b.image, axis=-1)
            if b.spurious_cue is None:
                assert not differs.any()
            else:
                x0, y0, x1, y1 = b.spurious_cue
                differs[y0:y1, x0:x1] = False
                assert not differs.any()


# ------------------------------------------------------------------ balance
def test_classes_balanced():
    labels = SyntheticParts(n=7 * 50, seed=9).labels
    assert Counter(labels.tolist()) == {k: 50 for k in range(7)}
    counts = np.bincount(SyntheticParts(n=7 * 50 + 3, seed=9).labels, minlength=7)
    assert counts.max() - counts.min() <= 1
    ds = SyntheticParts(n=30, seed=9)
    assert np.array_equal(ds.labels, ds.arrays()[1])
    assert [ds.sample(i).label for i in range(30)] == ds.labels.tolist()


# ------------------------------------------------------------------ ground truth
def test_masks_agree_with_boxes_types_and_centroids(samples):
    for s in samples:
        assert s.instance_mask.dtype == np.int16 and s.instance_mask.shape == (64, 64)
        assert s.image.dtype == np.uint8 and s.image.shape == (64, 64, 3)
        ids = [p.id for p in s.parts]
        assert ids == list(range(1, len(ids) + 1))
        assert set(np.unique(s.instance_mask).tolist()) <= set([0] + ids)
        for p in s.parts:
            assert p.type in PART_TYPES
            spec = PART_SPECS[p.type]
            assert p.attributes["colour"] in spec.colours and p.attributes["colour"] in PALETTE
            assert p.attributes["size"] in ("small", "large") and p.attributes["shape"] in spec.shapes
            ys, xs = np.nonzero(s.instance_mask == p.id)
            assert len(ys) > 0, "every part is visible (parts never overlap)"
            assert p.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert np.allclose(p.centroid, (xs.mean(), ys.mean()))
            x0, y0, x1, y1 = p.box
            assert 4 <= x1 - x0 <= 24 and 4 <= y1 - y0 <= 24, "parts are roughly 8-18 px at 64x64"
        assert s.class_name == CLASSES[s.label]


def test_masks_at_other_sizes():
    for size in (32, 96):
        ds = SyntheticParts(n=21, seed=1, size=size)
        for i in range(21):
            s = ds.sample(i)
            assert s.image.shape == (size, size, 3)
            for p in s.parts:
                ys, xs = np.nonzero(s.instance_mask == p.id)
                assert len(ys) and p.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_part_pixels_show_their_colour(samples):
    """The drawn part really has its recorded colour (most fill pixels near the palette colour)."""
    for s in samples:
        for p in s.parts:
            pixels = s.image[s.instance_mask == p.id].astype(int)
            near = np.abs(pixels - np.array(PALETTE[p.colour])).max(axis=1) <= 30
            assert near.mean() > 0.25, (s.index, p)


# ------------------------------------------------------------------ evidence
def _by_type(s):
    types = Counter(p.type for p in s.parts)
    return types


def test_each_class_evidence_holds(samples):
    seen = set()
    for s in samples:
        spec = CLASS_SPECS[s.class_name]
        ev = s.evidence
        seen.add(s.class_name)
        assert ev.class_name == s.class_name and ev.kind == spec.kind and ev.description == spec.description
        evidence_parts = [s.part(i) for i in ev.part_ids]
        assert [p.role for p in s.parts] == ["evidence"] * len(ev.part_ids) + ["distractor"] * (
            len(s.parts) - len(ev.part_ids))
        assert s.evidence_mask.sum() == sum((s.instance_mask == i).sum() for i in ev.part_ids)
        types = _by_type(s)
        if s.class_name == "ladder_truck":
            assert types["ladder"] == 1 and [p.type for p in evidence_parts] == ["ladder"]
            assert ev.description == "a ladder" and ev.relations == ()
        elif s.class_name in ("red_lamp", "yellow_lamp"):
            colour = s.class_name.split("_")[0]
            assert types["headlight"] == 1 and [p.type for p in evidence_parts] == ["headlight"]
            assert evidence_parts[0].colour == colour and ev.description == f"a {colour} headlight"
        elif s.class_name in ("two_wheeler", "four_wheeler"):
            count = 2 if s.class_name == "two_wheeler" else 4
            assert types["wheel"] == count and len(ev.part_ids) == count
            assert all(p.type == "wheel" for p in evidence_parts)
        else:
            top, bottom = ("window", "door") if s.class_name == "window_over_door" else ("door", "window")
            assert types["window"] == 1 and types["door"] == 1
            a, b = evidence_parts
            assert (a.type, b.type) == (top, bottom)
            assert ev.relations == ((a.id, "above", b.id),) and ev.description == f"{top} above {bottom}"
            assert a.centroid[1] < b.centroid[1] and a.box[3] <= b.box[1], "strictly above"
            assert b.box[1] - a.box[3] <= 4, "a small gap: the pair stays close"
            assert min(a.box[2], b.box[2]) > max(a.box[0], b.box[0]), "vertically stacked (overlap in x)"
    assert seen == set(CLASSES)


def test_distractors_never_form_another_class_evidence(samples):
    for s in samples:
        for p in s.parts:
            if p.role == "distractor":
                assert p.type in DISTRACTOR_TYPES
            else:
                assert s.class_name in RESERVED_TYPES[p.type]
        types = _by_type(s)
        for part, classes in RESERVED_TYPES.items():
            if s.class_name not in classes:
                assert types[part] == 0, (s.class_name, part)
        assert sum(p.role == "distractor" for p in s.parts) >= 1


def test_distractor_colours_include_red_and_yellow(samples):
    colours = Counter(p.colour for s in samples for p in s.parts if p.role == "distractor")
    assert colours["red"] > 0 and colours["yellow"] > 0


# ------------------------------------------------------------------ spurious cue
def _check_cue(s, size=64):
    assert s.spurious_cue is not None
    x0, y0, x1, y1 = s.spurious_cue
    assert (x0 < size // 4 or x1 > size - size // 4) and (y0 < size // 4 or y1 > size - size // 4), "in a corner"
    assert (s.image[y0:y1, x0:x1] == 255).all()
    assert (s.instance_mask[y0:y1, x0:x1] == 0).all()


@pytest.mark.parametrize("biased_class", ["red_lamp", "window_over_door"])
def test_cue_placement_rules(biased_class):
    n = 7 * 6
    clean = SyntheticParts(n, seed=4, biased_class=biased_class)
    biased = SyntheticParts(n, seed=4, variant="biased", biased_class=biased_class)
    shifted = SyntheticParts(n, seed=4, variant="shifted", biased_class=biased_class)
    for i in range(n):
        assert clean.sample(i).spurious_cue is None
        b, s = biased.sample(i), shifted.sample(i)
        if b.class_name == biased_class:
            _check_cue(b)
            assert s.spurious_cue is None
        else:
            assert b.spurious_cue is None
            _check_cue(s)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(n=-1), "n"),
        (dict(n=2.5), "n"),
        (dict(seed=-3), "seed"),
        (dict(size=16), "size"),
        (dict(size="64"), "size"),
        (dict(variant="dirty"), "variant"),
        (dict(biased_class="blue_lamp"), "biased_class"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError) as info:
        SyntheticParts(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{argument}: expected") and "; got " in message
    assert repr(next(iter(kwargs.values()))) in message or str(next(iter(kwargs.values()))) in message


def test_bad_ranges():
    ds = SyntheticParts(n=10)
    with pytest.raises(ValueError, match=r"^stop: expected .*; got 11"):
        ds.arrays(0, 11)
    with pytest.raises(ValueError, match=r"^stop: expected .*; got 3"):
        ds.arrays(5, 3)
    with pytest.raises(ValueError, match=r"^start: expected"):
        ds.arrays(-1, 3)
    with pytest.raises(IndexError, match="got 10"):
        ds.sample(10)
    assert ds.arrays(4, 4)[0].shape == (0, 64, 64, 3)


# ------------------------------------------------------------------ speed
def test_throughput_generous():
    """A generous floor so it never flakes; bench/bench_synthetic.py measures the real speed."""
    ds = SyntheticParts(n=400, seed=0)
    ds.arrays(0, 10)
    start = time.perf_counter()
    ds.arrays(0, 400)
    rate = 400 / (time.perf_counter() - start)
    assert rate > 100, f"{rate:.0f} images/s"


def test_biased_variant_labels_some_images_by_the_tag_alone():
    from xwidgets.data.synthetic.vocabulary import BIAS_CONFLICT

    ds = SyntheticParts(7 * 200, seed=8, variant="biased")
    samples = [ds.sample(i) for i in range(len(ds)) if ds.sample(i).class_name == ds.biased_class]
    conflicts = [s for s in samples if s.evidence.kind == "spurious"]
    assert abs(len(conflicts) / len(samples) - BIAS_CONFLICT) < 0.1
    for s in conflicts:
        assert s.spurious_cue is not None and s.evidence.part_ids == ()
        assert not any(p.type == "headlight" and p.attributes["colour"] == "red" for p in s.parts)
    # the shifted test set and the clean set never have conflicts
    for variant in ("clean", "shifted"):
        other = SyntheticParts(70, seed=8, variant=variant)
        assert all(other.sample(i).evidence.kind != "spurious" for i in range(70))
