"""Dense patch labels: each glyph's class, tint and frame land on the patch holding its centre."""

from __future__ import annotations

import pytest

from mmsy_dataset.reference.labels import (
    COUNTS,
    NONE,
    PATTERN_CLASSES,
    TINTS,
    PatchHeads,
    pool_labels,
    scene_labels,
    thing_key,
    word_ids,
)
from mmsy_dataset.sources.synthetic import SyntheticSource
from mmsy_dataset.sources.synthetic.common import Draft
from mmsy_dataset.sources.synthetic.glyphs import NUMBERS
from mmsy_dataset.tasks import Partition, Task


def _draft(task: Task, index: int = 0) -> Draft:
    return SyntheticSource(image_size=64, seed=0).draft(task, Partition.TRAIN, index)


def _vocabulary(draft: Draft) -> dict[str, int]:
    keys = sorted({thing_key("glyph", f"{g.code:X}") for g in draft.scene.glyphs})
    keys += sorted({thing_key("shape", s.shape, s.pattern) for s in draft.scene.shapes})
    return {k: i + 1 for i, k in enumerate(keys)}


def test_draft_is_the_rendered_items_scene() -> None:
    source = SyntheticSource(image_size=64, seed=0)
    draft = source.draft(Task.COLOR, Partition.TRAIN, 3)
    item = source.item(Task.COLOR, Partition.TRAIN, 3)
    assert (draft.question, draft.answer) == (item.question, item.answer)
    assert draft.scene.meta(index=3, partition="train", question=draft.relation) == item.meta


@pytest.mark.parametrize("grid", [4, 8])
def test_each_glyph_is_labelled_at_its_centre_patch(grid: int) -> None:
    draft = _draft(Task.COLOR, 1)
    vocabulary = _vocabulary(draft)
    thing, tint, framed, role, count, pattern = scene_labels(draft.scene, grid, vocabulary)
    assert len(thing) == len(tint) == len(framed) == len(role) == len(count) == len(pattern) == grid * grid
    assert set(pattern) == {NONE}  # glyphs only: patterns belong to shapes
    for glyph in draft.scene.glyphs:
        cell = int(glyph.y * grid) * grid + int(glyph.x * grid)
        assert thing[cell] == vocabulary[thing_key("glyph", f"{glyph.code:X}")]
        assert TINTS[tint[cell]] == glyph.tint
    assert sum(t != NONE for t in thing) == len(draft.scene.glyphs)
    # The asked object's tint is the answer: the label carries exactly what the question needs.
    target = next(g for g in draft.scene.glyphs if g.role == "target")
    assert target.tint == draft.answer
    assert role[int(target.y * grid) * grid + int(target.x * grid)] == 1 and sum(role) == 1


def test_frames_mark_the_framed_glyph_only() -> None:
    draft = next(
        d for d in (_draft(Task.OBJECT_RECOGNITION, i) for i in range(40)) if d.relation.get("relation") == "framed"
    )
    thing, _, framed, _, _, _ = scene_labels(draft.scene, 8, _vocabulary(draft))
    assert sum(framed) == 1
    cell = framed.index(1)
    target = next(g for g in draft.scene.glyphs if g.role == "target")
    assert cell == int(target.y * 8) * 8 + int(target.x * 8) and thing[cell] != NONE


def test_pool_labels_are_deterministic_and_in_pool_order() -> None:
    import torch

    counts = {Task.COLOR: 3, Task.COUNTING: 2}
    first = pool_labels(counts, Partition.TRAIN, 8)
    second = pool_labels(counts, Partition.TRAIN, 8)
    thing, tint, framed, role, count, pattern, vocabulary, names = first
    assert thing.shape == tint.shape == framed.shape == role.shape == count.shape == pattern.shape == (5, 64)
    assert vocabulary[0] == "" and list(vocabulary[1:]) == sorted(vocabulary[1:])
    assert len(names) == len(vocabulary) and names[0] == "" and all(names[1:])
    draft = _draft(Task.COLOR, 0)
    for glyph in draft.scene.glyphs:  # a class's words are the name the questions use
        assert names[vocabulary.index(thing_key("glyph", f"{glyph.code:X}"))] == glyph.name
    for a, b in zip(first[:6], second[:6], strict=True):
        assert a.equal(b)
    # Row 3 is the first counting item: as many labelled patches as glyphs in its scene, each
    # with a count; every thing of a colour scene (rows 0-2) is alone of its kind: "one".
    scene = _draft(Task.COUNTING, 0).scene
    assert int((thing[3] != NONE).sum()) == int((count[3] != NONE).sum()) == len(scene.glyphs)
    assert count[:3].equal(torch.where(thing[:3] != NONE, 1, NONE))
    # Counts in counting scenes only: the colour scenes' things keep their names, not a count.
    only = pool_labels(counts, Partition.TRAIN, 8, count_in=(Task.COUNTING,))
    assert only[4][3].equal(count[3]) and int((only[4][:3] != NONE).sum()) == 0 and only[0].equal(thing)


def test_shapes_are_labelled_with_their_fill_pattern() -> None:
    """A pattern question's answer is on the asked shape's patch, as a tint is on a glyph's."""
    for index in range(12):
        draft = _draft(Task.ATTRIBUTE, index)
        if not draft.scene.shapes:
            continue
        vocabulary = _vocabulary(draft)
        thing, tint, _, _, count, pattern = scene_labels(draft.scene, 8, vocabulary, counted=False)
        for shape in draft.scene.shapes:
            cell = int(shape.y * 8) * 8 + int(shape.x * 8)
            assert PATTERN_CLASSES[pattern[cell]] == shape.pattern
            assert thing[cell] == vocabulary[thing_key("shape", shape.shape, shape.pattern)]
            assert tint[cell] == count[cell] == NONE
        target = next(s for s in draft.scene.shapes if s.role == "target")
        assert target.pattern == draft.answer
        assert sum(p != NONE for p in pattern) == len(draft.scene.shapes)
        return
    pytest.fail("no pattern question among the first 12 attribute items")


def test_heads_learn_labels_from_features() -> None:
    import torch

    torch.manual_seed(0)
    heads = PatchHeads(width=16, n_things=5, seed=0, patterns=True)
    features = torch.randn(4, 9, 16)
    targets = [torch.randint(n, (4, 9)) for n in (5, len(TINTS), 2, 3, len(COUNTS), len(PATTERN_CLASSES))]
    optimiser = torch.optim.Adam(heads.parameters(), lr=0.05)
    first = float(heads.loss(features, targets).detach())
    for _ in range(50):
        optimiser.zero_grad()
        heads.loss(features, targets).backward()
        optimiser.step()
    assert float(heads.loss(features, targets).detach()) < first / 2


def test_tied_heads_score_patches_against_word_embeddings() -> None:
    """A patch feature equal to a word's input embedding is classified as that word's class."""
    import torch

    from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tokenizer

    tokenizer = build_tokenizer(["red blue balloon cat"], TinyLlavaConfig(vocab_size=300))
    embeddings = torch.nn.Embedding(len(tokenizer), 16)
    names = ("", "balloon", "cat")
    words = {"thing": word_ids(tokenizer, names), "tint": word_ids(tokenizer, TINTS)}
    heads = PatchHeads(16, len(names), 0, embeddings, words)
    cat = embeddings(torch.tensor(word_ids(tokenizer, names)[1])).mean(0)
    logits = heads.logits("thing", cat.view(1, 1, 16).detach())
    assert logits.shape == (1, 1, 3) and int(logits.argmax(-1)) == 2
    assert heads.logits("tint", cat.view(1, 1, 16)).shape[-1] == len(TINTS)
    # The embeddings receive gradient from the head's loss: image and word spaces move together.
    targets = [torch.full((1, 1), 1), *(torch.zeros(1, 1, dtype=torch.long) for _ in range(5))]
    heads.loss(cat.view(1, 1, 16).detach(), targets).backward()
    assert embeddings.weight.grad is not None and embeddings.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("task", "asked"),
    [(Task.COUNTING, "counted"), (Task.POSITIONAL_REASONING, "answer"), (Task.SPORT_RECOGNITION, "equipment")],
)
def test_roles_mark_what_the_question_is_about(task: Task, asked: str) -> None:
    """Role 1 on every thing that carries the answer, 2 on a positional question's anchor, else 0."""
    for index in range(6):
        draft = _draft(task, index)
        _, _, _, role, _, _ = scene_labels(draft.scene, 8, _vocabulary(draft))
        for glyph in draft.scene.glyphs:
            cell = int(glyph.y * 8) * 8 + int(glyph.x * 8)
            expected = 1 if glyph.role == asked else 2 if glyph.role == "anchor" else 0
            assert role[cell] == expected, (index, glyph)
        assert role.count(1) == sum(g.role == asked for g in draft.scene.glyphs) >= 1


def test_counts_say_how_many_of_its_kind_each_thing_has() -> None:
    """Every counted glyph is labelled with the answer's number word; each other thing with the
    number of things of its own kind (the vision tower counts, the language model reads)."""
    for index in range(8):
        draft = _draft(Task.COUNTING, index)
        vocabulary = _vocabulary(draft)
        thing, _, _, _, count, _ = scene_labels(draft.scene, 8, vocabulary)
        kinds = [thing_key("glyph", f"{g.code:X}") for g in draft.scene.glyphs]
        for glyph, key in zip(draft.scene.glyphs, kinds, strict=True):
            cell = int(glyph.y * 8) * 8 + int(glyph.x * 8)
            if thing[cell] != vocabulary[key]:
                continue  # another glyph's centre fell in the same patch and overwrote it
            assert COUNTS[count[cell]] == NUMBERS[min(kinds.count(key), len(NUMBERS)) - 1]
            if glyph.role == "counted":
                assert COUNTS[count[cell]] == draft.answer
        assert all(c == NONE for t, c in zip(thing, count, strict=True) if t == NONE)


def test_tied_count_head_scores_against_number_words() -> None:
    import torch

    from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tokenizer

    tokenizer = build_tokenizer([" ".join(COUNTS[1:]) + " cat"], TinyLlavaConfig(vocab_size=300))
    embeddings = torch.nn.Embedding(len(tokenizer), 16)
    words = {"count": word_ids(tokenizer, COUNTS), "pattern": [[5], [6]]}
    heads = PatchHeads(16, 2, 0, embeddings, words, patterns=True)
    five = embeddings(torch.tensor(word_ids(tokenizer, COUNTS)[4])).mean(0)
    logits = heads.logits("count", five.view(1, 1, 16).detach())
    assert logits.shape == (1, 1, len(COUNTS)) and COUNTS[int(logits.argmax(-1))] == "five"
    assert heads.logits("thing", five.view(1, 1, 16)).shape[-1] == 2  # untied: a linear head
    assert heads.logits("pattern", five.view(1, 1, 16)).shape[-1] == 3  # none, then two word classes


def test_only_word_heads_can_be_tied() -> None:
    import torch

    with pytest.raises(ValueError, match="framed"):
        PatchHeads(16, 2, 0, torch.nn.Embedding(10, 16), {"framed": [[1], [2]]})
    with pytest.raises(ValueError, match="patterns=True"):
        PatchHeads(16, 2, 0, torch.nn.Embedding(10, 16), {"pattern": [[1], [2]]})
    assert "pattern" not in PatchHeads(16, 2, 0).module and "pattern" in PatchHeads(16, 2, 0, patterns=True).module


def test_twin_heads_make_near_identical_word_classes_separable() -> None:
    """With `twins`, each tied head has a linear classifier over its classes, trained by the same
    loss: here it tells apart count classes whose words share a dominant token ("x o'clock")."""
    import torch

    torch.manual_seed(0)
    embeddings = torch.nn.Embedding(40, 16)
    with torch.no_grad():
        embeddings.weight[30:] *= 0.02  # the distinguishing words are tiny next to the shared one
    words = [[5, 30 + i] for i in range(len(COUNTS) - 1)]
    plain = PatchHeads(16, 2, 0, embeddings, {"count": words})
    heads = PatchHeads(16, 2, 0, embeddings, {"count": words}, twins=True)
    assert "count_twin" in heads.module and "count_twin" not in plain.module and "thing_twin" not in heads.module
    features = torch.nn.Parameter(torch.randn(1, 64, 16))
    count = torch.arange(64).remainder(3).view(1, 64) + 1  # classes one, two, three
    targets = [torch.zeros(1, 64, dtype=torch.long)] * 4 + [count, torch.zeros(1, 64, dtype=torch.long)]
    optimiser = torch.optim.Adam([*heads.parameters(), features], lr=0.05)
    for _ in range(100):
        optimiser.zero_grad()
        heads.loss(features, targets).backward()
        optimiser.step()
    twin = heads.logits("count_twin", features).argmax(-1)
    assert twin.equal(count)
    assert heads.logits("count_twin", features).shape[-1] == len(COUNTS)
