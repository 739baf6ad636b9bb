"""Attention supervision (lookup.py): the recomputed attention is the model's own, the question
focus and named things are found from the generators' templates, and the losses train."""

from __future__ import annotations

import dataclasses
import random

import pytest

from mmsy_dataset.reference.lookup import AnswerLookup, NameMatch, named_things, question_focus
from mmsy_dataset.reference.model import QUICK_CONFIG, build_reference
from mmsy_dataset.sources.synthetic import SyntheticSource
from mmsy_dataset.sources.synthetic.people import MAJORITY_PHRASES
from mmsy_dataset.tasks import TASKS, Partition


def _eager_model():
    import torch

    model, _ = build_reference(["what color is the cat"], QUICK_CONFIG)
    language = model.model.language_model
    language.config._attn_implementation = "eager"
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return language


def test_answer_lookup_is_the_models_attention() -> None:
    import torch

    language = _eager_model()
    lookup = AnswerLookup(language, [1], head=2)
    embeds = torch.randn(2, 12, QUICK_CONFIG.text_hidden, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 10:] = 0
    attention = language(inputs_embeds=embeds, attention_mask=mask, output_attentions=True).attentions[1]
    positions = torch.tensor([7, 9])
    targets = torch.zeros(2, 12, dtype=torch.bool)
    targets[0, [2, 3]] = True
    targets[1, 5] = True
    expected = -(attention[0, 2, 7, [2, 3]].sum().log() + attention[1, 2, 9, 5].log()) / 2
    assert float(lookup.loss(positions, targets).detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    lookup.remove()


def test_lookup_targets_the_first_token_when_nothing_carries_the_answer() -> None:
    """A "no" to object presence has no answer-carrying glyph: its row looks at the first token."""
    import torch

    from mmsy_dataset.reference.labels import PatchLabels

    language = _eager_model()
    embeds = torch.randn(2, 12, QUICK_CONFIG.text_hidden, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 12, dtype=torch.long)
    attention = language(inputs_embeds=embeds, attention_mask=mask, output_attentions=True).attentions[1]
    at_image = torch.zeros(2, 12, dtype=torch.bool)
    at_image[:, 4:8] = True
    role = torch.zeros(2, 4, dtype=torch.long)
    role[0, 1] = 1  # row 0: the glyph at position 5 carries the answer; row 1: nothing does
    inputs = {"answer_at": torch.tensor([10, 11]), "patch_labels": PatchLabels(None, None, None, role, None)}
    lookup = AnswerLookup(language, [1])
    language(inputs_embeds=embeds, attention_mask=mask)
    loss = float(lookup.batch_loss(inputs, at_image).detach())
    lookup.remove()
    hit, sunk = attention[0, 0, 10, 5].log(), attention[1, 0, 11, 0].log()
    assert loss == pytest.approx(float(-(hit + sunk).detach()) / 2, rel=1e-5)


def test_name_match_is_a_binary_cross_entropy_of_the_models_attention() -> None:
    import torch

    language = _eager_model()
    probe = NameMatch(language, [0], head=1)
    embeds = torch.randn(1, 10, QUICK_CONFIG.text_hidden, generator=torch.Generator().manual_seed(1))
    attention = language(inputs_embeds=embeds, output_attentions=True).attentions[0][0, 1]
    image = torch.zeros(1, 10, dtype=torch.bool)
    image[0, 5:9] = True
    named, others, words = torch.zeros_like(image), torch.zeros_like(image), torch.zeros_like(image)
    named[0, 6] = True
    others[0, [5, 8]] = True
    words[0, [1, 2]] = True
    mass = attention[:, [1, 2]].sum(-1)
    expected = -(mass[6].log() + (1 - mass[5]).log() + (1 - mass[8]).log()) / 3
    assert float(probe.loss(image, named, others, words).detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    # Rows without a named thing carry no loss.
    assert float(probe.loss(image, torch.zeros_like(image), others, words)) == 0.0
    probe.remove()


def test_question_focus_is_the_templates_filler() -> None:
    cases = {
        "What color is the umbrella?": "umbrella",
        "How many butterflies are in the image?": "butterflies",
        "What is the object inside the red frame?": "inside the red frame",
        "Which object is to the left of the dog?": "to the left of the dog",
        "What sport is being played on the field?": None,
        "A question from another source?": None,
    }
    for question, focus in cases.items():
        span = question_focus(question)
        assert (question[span[0] : span[1]] if span else None) == focus, question


def test_every_synthetic_question_with_a_slot_has_a_focus() -> None:
    source = SyntheticSource(image_size=64, seed=0)
    slotless = {"sport_recognition", "scene_recognition"}
    for task in TASKS:
        for index in range(40):
            question = source.draft(task, Partition.TRAIN, index).question
            if task.value not in slotless and question not in MAJORITY_PHRASES:
                assert question_focus(question) is not None, question


def test_named_things_matches_whole_words_and_plurals() -> None:
    names = ["", "cat", "cake", "butterfly", "dotted circle", "circle"]
    assert named_things("cats", names) == [False, True, False, False, False, False]
    assert named_things("butterflies", names) == [False, False, False, True, False, False]
    assert named_things("a cake", names) == [False, False, True, False, False, False]
    assert named_things("circle", names) == [False, False, False, False, False, True]


def test_encoder_marks_the_focus_tokens() -> None:
    from mmsy_dataset.reference.data import Encoder, Kind, make_dialogue, vocabulary_corpus
    from mmsy_dataset.reference.pool import render_pool

    pool = render_pool({task: 2 for task in TASKS}, Partition.TRAIN, 32, 0, 1, None, False)
    _, processor = build_reference(vocabulary_corpus(pool.items), QUICK_CONFIG)
    encoder = Encoder(processor.tokenizer, QUICK_CONFIG.image_tokens, image_after=True)
    for item in pool.items:
        encoded = encoder.encode(make_dialogue(item, Kind.VQA, random.Random(0)), 0)
        span = question_focus(item.question)
        words = processor.tokenizer.decode([encoded.input_ids[i] for i in encoded.focus]).strip()
        assert words == (item.question[span[0] : span[1]] if span else ""), item.question
        assert encoded.focus_text == (item.question[span[0] : span[1]] if span else "")


@pytest.mark.slow
def test_supervised_recipe_trains(tmp_path) -> None:
    import torch

    from mmsy_dataset.reference.train import QUICK_TRAIN, image_features, train

    cfg = dataclasses.replace(
        QUICK_TRAIN,
        steps=3,
        eval_every=0,
        threads=1,
        lookup_weight=1.0,
        lookup_layers=(1,),
        name_weight=1.0,
        name_layers=(0,),
        focus_weight=1.0,
        focus_layers=(0,),
    )
    result = train(cfg, cache_dir=tmp_path, progress=False, log=lambda _: None)
    pixels = torch.zeros(1, 3, QUICK_CONFIG.image_size, QUICK_CONFIG.image_size)
    assert torch.isfinite(image_features(result.model, pixels)).all()
