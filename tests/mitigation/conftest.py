"""Fixtures of the mitigation tests: a tiny MM-SY build (fixture source) with the training
configs, and a tiny reference-style LLaVA (image after the question) saved to a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import build_small


@pytest.fixture(scope="session")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Benchmark configs plus `sft` (10 rows) and `dpo` (20 rows)."""
    out = tmp_path_factory.mktemp("mitigation") / "data"
    build_small(
        out, configs=("sycophancy", "correction_with_answer", "correction_without_answer", "multi_round", "sft", "dpo")
    )
    return out


@pytest.fixture(scope="session")
def no_training_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build without the `sft` and `dpo` configs."""
    out = tmp_path_factory.mktemp("mitigation") / "benchmark-only"
    build_small(out, configs=("sycophancy",))
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny LLaVA whose tokenizer knows the dialogue templates, saved like the reference."""
    from mmsy_dataset.construction.templates import AGREE_TEMPLATES, INSTRUCTION, PUSH_TEMPLATES, STICK_TEMPLATES
    from mmsy_dataset.models.tiny import build_tiny_llava, save_tiny_llava
    from mmsy_dataset.reference.model import QUICK_CONFIG
    from tests.helpers import COLORS

    words = [INSTRUCTION, *STICK_TEMPLATES, *AGREE_TEMPLATES, *(t for f in PUSH_TEMPLATES.values() for t in f)]
    words += [" ".join(COLORS), "What colour is the square? Is the square"]
    model, processor = build_tiny_llava(words, QUICK_CONFIG)
    return save_tiny_llava(model, processor, tmp_path_factory.mktemp("mitigation") / "tiny")
