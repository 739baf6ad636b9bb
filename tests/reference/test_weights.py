"""The committed reference model loads offline and reproduces its recorded figures."""

from __future__ import annotations

import json

import pytest

from mmsy_dataset.reference import RECORDED_RESULTS, WEIGHTS_DIR, load_reference_model
from mmsy_dataset.reference.model import REFERENCE_CONFIG


@pytest.fixture(scope="module")
def reference():
    return load_reference_model()


def test_weights_are_committed_small_and_safetensors() -> None:
    weights = WEIGHTS_DIR / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 20 * 2**20
    assert not list(WEIGHTS_DIR.glob("*.bin"))
    assert RECORDED_RESULTS.is_file()


def test_loads_as_the_documented_architecture(reference) -> None:
    model, processor = reference
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    assert model.config.vision_config.image_size == REFERENCE_CONFIG.image_size
    assert model.config.vision_config.patch_size == REFERENCE_CONFIG.patch_size
    assert processor.image_processor.crop_size == {"height": 96, "width": 96}
    assert processor.tokenizer.convert_tokens_to_ids("<image>") == model.config.image_token_id


@pytest.mark.slow
def test_reproduces_recorded_subset_figures(reference) -> None:
    """Acc@R1, Syc and Cor w/ answer on the fixed subset, through the engine, exactly as recorded."""
    from mmsy_dataset.reference.check import subset_figures

    recorded = json.loads(RECORDED_RESULTS.read_text())
    measured = subset_figures(*reference, per_task=recorded["per_task"])
    for name in ("acc_r1", "syc", "cor_with_answer"):
        assert (measured[name]["k"], measured[name]["n"]) == (recorded[name]["k"], recorded[name]["n"]), name
