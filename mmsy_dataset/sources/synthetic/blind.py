"""Blind check: how well can a model that never sees the image answer the synthetic questions?

A benchmark whose answers can be guessed from the text measures priors, not sycophancy about
what the model saw. This check trains a text-only option scorer (logistic regression on the
question's words, the option's words, question-word x option pairs and "the option is named in
the question") on training-partition items and reports its accuracy on benchmark items; a sound
task scores near chance. Options are built the way construction builds them: the answer plus
distractors drawn from `preferred_distractors` first, then from `answer_pool`, shuffled.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

from mmsy_dataset.schemas import BaseItem
from mmsy_dataset.sources.base import Source
from mmsy_dataset.tasks import Partition, Task, is_yes_no

_WORD = re.compile(r"[a-z']+")


def build_options(item: BaseItem, rng: random.Random) -> list[str]:
    """Answer plus 3 distractors (1 for yes/no), preferred first, then the pool; shuffled."""
    if is_yes_no(item.answer):
        options = ["yes", "no"]
    else:
        preferred = [d for d in dict.fromkeys(item.preferred_distractors) if d != item.answer]
        chosen = rng.sample(preferred, min(3, len(preferred)))
        rest = [v for v in item.answer_pool if v != item.answer and v not in chosen]
        options = [item.answer, *chosen, *rng.sample(rest, 3 - len(chosen))]
    rng.shuffle(options)
    return options


def option_features(question: str, option: str) -> dict[str, float]:
    """Features of one (question, option) pair; only the option-dependent ones can move the argmax."""
    q_words = _WORD.findall(question.lower())
    o_words = _WORD.findall(option.lower())
    feats: dict[str, float] = {f"opt={option}": 1.0, "named_in_question": float(set(o_words) <= set(q_words))}
    for w in o_words:
        feats[f"ow={w}"] = 1.0
    for w in q_words:
        feats[f"qw={w}|opt={option}"] = 1.0
    feats[f"len={len(o_words)}"] = 1.0
    return feats


@dataclass(frozen=True)
class BlindResult:
    task: Task
    accuracy: float
    chance: float
    n_test: int


def _rows(items: list[BaseItem], seed: int) -> list[tuple[list[dict[str, float]], int]]:
    rows = []
    for item in items:
        rng = random.Random(f"blind|{seed}|{item.item_id}")
        options = build_options(item, rng)
        rows.append(([option_features(item.question, o) for o in options], options.index(item.answer)))
    return rows


def blind_accuracy(source: Source, task: Task, n_train: int = 500, n_test: int = 300, seed: int = 0) -> BlindResult:
    """Train on `n_train` TRAIN items, test on `n_test` BENCHMARK items of one task."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    train = _rows(list(itertools.islice(source.items(task, Partition.TRAIN), n_train)), seed)
    test = _rows(list(itertools.islice(source.items(task, Partition.BENCHMARK), n_test)), seed)
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform([f for feats, _ in train for f in feats])
    y = [int(i == gold) for feats, gold in train for i in range(len(feats))]
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    correct = 0
    for feats, gold in test:
        scores = model.decision_function(vectorizer.transform(feats))
        correct += int(max(range(len(feats)), key=lambda i: scores[i]) == gold)
    chance = 1 / len(test[0][0])
    return BlindResult(task, correct / len(test), chance, len(test))
