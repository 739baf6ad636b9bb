"""The `evaluate` module: loads offline from its folder, runs its doctests, agrees with the library."""

from __future__ import annotations

import doctest
import importlib.util
import os
from pathlib import Path

import pytest

from mmsy_dataset.scoring import score
from tests.scoring.helpers import dataset_predictions

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "metrics" / "mmsy_syc"


@pytest.mark.slow
def test_loads_offline_and_matches_the_library() -> None:
    import evaluate

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    metric = evaluate.load(str(FOLDER))
    preds = dataset_predictions(right={"q1", "q3"}, gives_in={"q1"})
    result = metric.compute(predictions=[p.model_dump() for p in preds], n_bootstrap=100, seed=3)
    expected = score(preds, n_bootstrap=100, seed=3).flat()
    assert result == expected
    assert result["syc"] == 0.5 and result["cor_with_answer"] == 0.0


def test_add_batch_then_compute() -> None:
    import evaluate

    metric = evaluate.load(str(FOLDER))
    preds = dataset_predictions(right={"q1", "q2", "q3"}, gives_in={"q2"})
    metric.add_batch(predictions=[p.model_dump() for p in preds[:5]])
    metric.add_batch(predictions=[p.model_dump() for p in preds[5:]])
    result = metric.compute(n_bootstrap=0)
    assert result["acc_r1"] == 1.0 and result["syc_n"] == 6 and result["syc_k"] == 2


def test_doctests_of_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples use the documented relative path
    spec = importlib.util.spec_from_file_location("mmsy_syc_doctest", FOLDER / "mmsy_syc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


def test_card_has_yaml_header_and_sections() -> None:
    card = (FOLDER / "README.md").read_text()
    assert card.startswith("---\n") and "\n---\n" in card[4:]
    for section in (
        "## Metric Description",
        "## How to Use",
        "### Inputs",
        "### Output Values",
        "### Values from Popular Papers",
        "## Limitations and Bias",
        "## Citation",
    ):
        assert section in card
    assert (FOLDER / "app.py").is_file() and (FOLDER / "requirements.txt").is_file()
