"""Dense patch labels: each glyph's class, tint and frame land on the patch holding its centre."""

from __future__ import annotations

import pytest

from mmsy_dataset.reference.labels import (
    COUNTS,
    NONE,
    TINTS,
    PatchHeads,
    PatchLabels,
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
    thing, tint, framed, role, count = scene_labels(draft.scene, grid, vocabulary)
    assert len(thing) == len(tint) == len(framed) == len(role) == len(count) == grid * grid
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
    labels = scene_labels(draft.scene, 8, _vocabulary(draft))
    thing, framed = labels.thing, labels.framed
    assert sum(framed) == 1
    cell = framed.index(1)
    target = next(g for g in draft.scene.glyphs if g.role == "target")
    assert cell == int(target.y * 8) * 8 + int(target.x * 8) and thing[cell] != NONE


def test_pool_labels_are_deterministic_and_in_pool_order() -> None:
    import torch

    counts = {Task.COLOR: 3, Task.COUNTING: 2}
    first = pool_labels(counts, Partition.TRAIN, 8)
    second = pool_labels(counts, Partition.TRAIN, 8)
    thing, _, _, _, count = first.patches
    assert all(grid.shape == (5, 64) for grid in first.patches)
    vocabulary, names = first.vocabulary, first.names
    assert vocabulary[0] == "" and list(vocabulary[1:]) == sorted(vocabulary[1:])
    assert len(names) == len(vocabulary) and names[0] == "" and all(names[1:])
    draft = _draft(Task.COLOR, 0)
    for glyph in draft.scene.glyphs:  # a class's words are the name the questions use
        assert names[vocabulary.index(thing_key("glyph", f"{glyph.code:X}"))] == glyph.name
    for a, b in zip(first.patches, second.patches, strict=True):
        assert a.equal(b)
    # Row 3 is the first counting item: as many labelled patches as glyphs in its scene, each
    # with a count; every thing of a colour scene (rows 0-2) is alone of its kind: "one".
    scene = _draft(Task.COUNTING, 0).scene
    assert int((thing[3] != NONE).sum()) == int((count[3] != NONE).sum()) == len(scene.glyphs)
    assert count[:3].equal(torch.where(thing[:3] != NONE, 1, NONE))
    assert first.patches.rows([3, 0]).thing.equal(thing[[3, 0]])


def test_shapes_are_labelled_at_their_centre_patch() -> None:
    """A shape is a thing class of its own (shape and pattern), untinted."""
    for index in range(12):
        draft = _draft(Task.ATTRIBUTE, index)
        if not draft.scene.shapes:
            continue
        vocabulary = _vocabulary(draft)
        labels = scene_labels(draft.scene, 8, vocabulary)
        for shape in draft.scene.shapes:
            cell = int(shape.y * 8) * 8 + int(shape.x * 8)
            assert labels.thing[cell] == vocabulary[thing_key("shape", shape.shape, shape.pattern)]
            assert labels.tint[cell] == NONE
        return
    pytest.fail("no shape among the first 12 attribute items")


def _tokenizer_and_words(names: tuple[str, ...]):
    import torch

    from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tokenizer

    corpus = [" ".join([*names[1:], *TINTS[1:], *COUNTS[1:]])]
    tokenizer = build_tokenizer(corpus, TinyLlavaConfig(vocab_size=300))
    embeddings = torch.nn.Embedding(len(tokenizer), 16)
    words = {
        "thing": word_ids(tokenizer, names),
        "tint": word_ids(tokenizer, TINTS),
        "count": word_ids(tokenizer, COUNTS),
    }
    return tokenizer, embeddings, words


def test_heads_learn_labels_from_features() -> None:
    import torch

    torch.manual_seed(0)
    names = ("", "balloon", "cat", "dog", "owl")
    _, embeddings, words = _tokenizer_and_words(names)
    heads = PatchHeads(16, len(names), 0, embeddings, words)
    features = torch.randn(4, 9, 16)
    targets = PatchLabels(*(torch.randint(n, (4, 9)) for n in (len(names), len(TINTS), 2, 3, len(COUNTS))))
    # As in stage 1, the word embeddings the tied heads score against train with them.
    optimiser = torch.optim.Adam([*heads.parameters(), *embeddings.parameters()], lr=0.05)
    first = float(heads.loss(features, targets).detach())
    for _ in range(50):
        optimiser.zero_grad()
        heads.loss(features, targets).backward()
        optimiser.step()
    assert float(heads.loss(features, targets).detach()) < first / 2


def test_tied_heads_score_patches_against_word_embeddings() -> None:
    """A patch feature equal to a word's input embedding is classified as that word's class."""
    import torch

    names = ("", "balloon", "cat")
    tokenizer, embeddings, words = _tokenizer_and_words(names)
    heads = PatchHeads(16, len(names), 0, embeddings, words)
    cat = embeddings(torch.tensor(word_ids(tokenizer, names)[1])).mean(0)
    logits = heads.logits("thing", cat.view(1, 1, 16).detach())
    assert logits.shape == (1, 1, 3) and int(logits.argmax(-1)) == 2
    assert heads.logits("tint", cat.view(1, 1, 16)).shape[-1] == len(TINTS)
    # The embeddings receive gradient from the head's loss: image and word spaces move together.
    targets = PatchLabels(torch.full((1, 1), 1), *(torch.zeros(1, 1, dtype=torch.long) for _ in range(4)))
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
        role = scene_labels(draft.scene, 8, _vocabulary(draft)).role
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
        labels = scene_labels(draft.scene, 8, vocabulary)
        thing, count = labels.thing, labels.count
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

    names = ("", "cat")
    tokenizer, embeddings, words = _tokenizer_and_words(names)
    heads = PatchHeads(16, len(names), 0, embeddings, words)
    five = embeddings(torch.tensor(word_ids(tokenizer, COUNTS)[4])).mean(0)
    logits = heads.logits("count", five.view(1, 1, 16).detach())
    assert logits.shape == (1, 1, len(COUNTS)) and COUNTS[int(logits.argmax(-1))] == "five"
    assert heads.logits("framed", five.view(1, 1, 16)).shape[-1] == 2  # untied: a linear head


def test_heads_need_the_words_of_exactly_the_tied_heads() -> None:
    import torch

    with pytest.raises(ValueError, match="framed"):
        PatchHeads(16, 2, 0, torch.nn.Embedding(10, 16), {"framed": [[1], [2]]})
