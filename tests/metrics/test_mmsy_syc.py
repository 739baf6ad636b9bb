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


CONFIGS = ("sycophancy", "correction_with_answer", "correction_without_answer", "multi_round")


def _mixed_predictions() -> list:
    """Records of every config, with None push letters and a -inf score."""
    from tests.scoring.helpers import make, turn

    preds = [
        make("syc-1", "q1", [turn(1, "A", [0.0, -1.0, -2.0, float("-inf")]), turn(2, "B", [-1.0, 0.0, -3.0, -4.0])]),
        make("cwa-2", "q2", [turn(1, "C", [-2.0, -1.0, 0.0, -3.0]), turn(2, "A", [0.0, -1.0, -2.0, -3.0])],
             config="correction_with_answer", push="A"),
        make("cwo-2", "q2", [turn(1, "C", [-2.0, -1.0, 0.0, -3.0]), turn(2, "C", [-2.0, -1.0, 0.0, -3.0])],
             config="correction_without_answer", push=None),
        make("mr-1", "q1", [turn(1, "A", [0.0, -1.0, -2.0, -3.0])] + [turn(r, "B", [-1.0, 0.0, -2.0, -3.0])
                                                                       for r in range(2, 7)],
             config="multi_round"),
    ]
    return preds


@pytest.mark.parametrize("first", CONFIGS)
def test_any_config_first_and_any_order(first: str) -> None:
    """`evaluate` types its features from the first record: every config may come first
    (correction without answer has no push letter), in any mix, as dicts or objects."""
    import random

    import evaluate

    preds = _mixed_predictions()
    expected = score(preds, n_bootstrap=20, seed=1).flat()
    ordered = sorted(preds, key=lambda p: p.config != first)
    random.Random(first).shuffle(ordered[1:])
    metric = evaluate.load(str(FOLDER))
    for batch in ([p.model_dump() for p in ordered], ordered, [p.model_dump(exclude_none=True) for p in ordered]):
        assert metric.compute(predictions=batch, n_bootstrap=20, seed=1) == expected


@pytest.mark.slow
def test_refuses_what_the_library_refuses_with_the_same_messages() -> None:
    import evaluate

    from mmsy_dataset.errors import ScoringError

    metric = evaluate.load(str(FOLDER))
    preds = [p.model_dump() for p in _mixed_predictions()]
    with pytest.raises(ScoringError, match="predictions: record syc-1: record_id: duplicated"):
        metric.compute(predictions=[*preds, preds[0]], n_bootstrap=0)
    with pytest.raises(ScoringError, match="predictions: predictions: empty"):
        metric.compute(predictions=[], n_bootstrap=0)
    broken = {**preds[0], "rounds": preds[0]["rounds"][:1]}
    with pytest.raises(ScoringError, match="record syc-1: rounds: no round 2"):
        metric.compute(predictions=[broken, *preds[1:]], n_bootstrap=0)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_readme_recipe_on_a_real_run_of_each_config(tmp_path: Path, config: str) -> None:
    """The README's recipe, verbatim, on the predictions of `mmsy eval --configs <config>`."""
    import evaluate

    from mmsy_dataset.cli import main
    from mmsy_dataset.predictions import read_predictions
    from tests.engine.helpers import make_records, save_tiny, write_dataset

    model, data, out = tmp_path / "model", tmp_path / "data", tmp_path / "out"
    save_tiny(model)
    write_dataset(data, make_records(n_questions=3, rounds=2))
    assert main(["eval", "--model", str(model), "--dataset", str(data), "--out", str(out), "--configs", config,
                 "--no-progress", "--n-bootstrap", "0", "--threads", "1"]) == 0
    mmsy_syc = evaluate.load(str(FOLDER))
    predictions = read_predictions(out / "predictions.jsonl")
    results = mmsy_syc.compute(predictions=[p.model_dump() for p in predictions], n_bootstrap=0)
    assert results == score(predictions, n_bootstrap=0).flat()
    assert results["acc_r1_n"] == len({p.question_id for p in predictions})


def test_a_refused_input_releases_the_cache_file_and_its_lock() -> None:
    """`evaluate` cleans its arrow cache only after a successful compute; a refused one must not
    leave a held lock (the next compute would wait on it) or a cache file behind."""
    import evaluate

    from mmsy_dataset.errors import ScoringError

    metric = evaluate.load(str(FOLDER))
    preds = [p.model_dump() for p in _mixed_predictions()]
    with pytest.raises(ScoringError, match="duplicated"):
        metric.compute(predictions=[*preds, preds[0]], n_bootstrap=0)
    assert metric.filelock is None and metric.filelocks is None and metric.data is None
    assert sorted(Path(metric.data_dir).glob("*.arrow")) == []
    assert metric.compute(predictions=preds, n_bootstrap=0) == score(_mixed_predictions(), n_bootstrap=0).flat()
