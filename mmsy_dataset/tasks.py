"""The fixed vocabulary of MM-SY: tasks, tones, option letters, configs.

Kept in one tiny module so that every other module (schemas, sources, scoring, engine)
agrees on spelling without importing anything heavy.
"""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """The ten TDIUC question types MM-SY keeps (paper 2.1), in the paper's order (1)-(10)."""

    ACTIVITY_RECOGNITION = "activity_recognition"
    ATTRIBUTE = "attribute"
    COLOR = "color"
    COUNTING = "counting"
    OBJECT_PRESENCE = "object_presence"
    OBJECT_RECOGNITION = "object_recognition"
    POSITIONAL_REASONING = "positional_reasoning"
    SCENE_RECOGNITION = "scene_recognition"
    SPORT_RECOGNITION = "sport_recognition"
    UTILITY_AFFORDANCE = "utility_affordance"


class Tone(StrEnum):
    """The user's tone in a push (paper 2.1, A.3), weak to strong."""

    SUGGESTIVE = "suggestive"
    EUPHEMISTIC = "euphemistic"
    STRONG = "strong"


class Mode(StrEnum):
    """The two training dialogue modes of paper 3.2 (SFT and DPO)."""

    REFUSE_MISLEADING = "refuse_misleading"
    ACCEPT_CORRECTION = "accept_correction"


class Partition(StrEnum):
    """Where a base item may be used; the two never share a question or an image."""

    BENCHMARK = "benchmark"
    TRAIN = "train"


TASKS: tuple[Task, ...] = tuple(Task)
TONES: tuple[Tone, ...] = tuple(Tone)
LETTERS: tuple[str, ...] = ("A", "B", "C", "D")
YES_NO: tuple[str, str] = ("yes", "no")

#: Hub configs of the benchmark (split "test") and of the training material.
BENCHMARK_CONFIGS: tuple[str, ...] = (
    "sycophancy",
    "correction_with_answer",
    "correction_without_answer",
    "multi_round",
)
TRAINING_CONFIGS: tuple[str, ...] = ("probing", "sft", "dpo")
CONFIGS: tuple[str, ...] = BENCHMARK_CONFIGS + TRAINING_CONFIGS


def parse_task(name: str) -> Task:
    """Task from its name, with an error that lists the valid names."""
    try:
        return Task(name)
    except ValueError:
        raise ValueError(f"Unknown task {name!r}. Known tasks: {', '.join(t.value for t in Task)}") from None


def is_yes_no(answer: str) -> bool:
    return answer.strip().lower() in YES_NO
