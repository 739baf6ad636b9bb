"""The analyses as a library (`mmsy_dataset.analysis.run`), without the CLI: what `run_probe` and
`run_attention` return is what they write, the models are named and checked before any is
loaded, and a model that fails leaves no output folder."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from mmsy_dataset.analysis.capture import AnalysisError
from mmsy_dataset.analysis.run import AnalysisSettings, plan_models, run_attention, run_probe
from mmsy_dataset.construction import Sizes
from mmsy_dataset.errors import MmsyError
from tests.engine.helpers import save_tiny
from tests.helpers import build_small


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> AnalysisSettings:
    """A tiny LLaVA and a tiny probing build; `out` is replaced per test."""
    root = tmp_path_factory.mktemp("analysis-run")
    model, data = root / "model", root / "data"
    save_tiny(model)
    sizes = Sizes(questions_per_task=2, probing_train=20, probing_test=20, sft=4, dpo=4)
    build_small(data, sizes=sizes, configs=("probing",))
    return AnalysisSettings(
        models=(str(model),), dataset=str(data), out=root / "unused", n_bootstrap=20, progress=False
    )


@pytest.mark.slow
def test_run_probe_and_attention_return_what_they_write(settings: AnalysisSettings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    amplified = replace(settings, out=out, amplify=("2:3",))
    log = io.StringIO()
    probe = run_probe(amplified, console=Console(file=log, width=200))
    assert probe.json == out / "probe.json" and probe.plot == out / "probe_auc.png" and probe.plot.stat().st_size
    written = json.loads(probe.json.read_text())
    assert (
        written["settings"]
        == amplified.recorded()
        == {
            "dataset": settings.dataset,
            "mode": "letter",
            "option_choice": "sum",
            "limit": None,
            "n_bootstrap": 20,
            "seed": 0,
            "batch_size": 32,
        }
    )
    (result,) = probe.results
    assert result.label == "model +amp 2-2:3" and len(result.layers) == 2
    assert written["models"] == [
        {
            **result.model_dump(),
            "amplify": {"first": 2, "last": 2, "lam": 3.0, "queries": "after-image", "spec": "2-2:3", "text_layers": 2},
        }
    ]
    assert "model +amp 2-2:3: 40 contexts in" in log.getvalue()

    attention = run_attention(replace(settings, out=out, limit=5), split="all", console=Console(file=io.StringIO()))
    assert attention.plots == [out / "attention_ratio.png", out / "attention_mass.png"]
    (stats,) = attention.results
    assert stats.split == "all" and sum(stats.contexts.values()) == 10 and stats.label == "model"
    assert json.loads(attention.json.read_text())["models"] == [{**stats.model_dump(), "amplify": None}]


def test_models_are_named_and_checked_before_any_is_loaded(settings: AnalysisSettings) -> None:
    model = settings.models[0]
    two = replace(settings, models=(model, model), amplify=("none", "1-2:0.5"))
    plain, amplified = plan_models(two)
    assert (plain.label, plain.amplify) == ("model", None)
    assert amplified.label == "model +amp 1-2:0.5" and amplified.amplify is not None and amplified.amplify.lam == 0.5
    assert [m.label for m in plan_models(replace(two, labels=("a", "b")))] == ["a", "b"]
    # The amplification is checked first, then the labels; both name the flags.
    with pytest.raises(ValueError, match="outside the model's 2 text layers"):
        plan_models(replace(two, amplify=("1-3:1",), labels=("a",)))
    with pytest.raises(AnalysisError, match="--label: 1 given for 2 --model"):
        plan_models(replace(two, labels=("a",)))
    with pytest.raises(AnalysisError, match="--threads: expected >= 1, got 0"):
        plan_models(replace(two, threads=0))


def test_a_failing_model_leaves_no_folder(settings: AnalysisSettings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    failing = replace(settings, models=(settings.models[0], str(tmp_path / "missing")), out=out, limit=2)
    with pytest.raises(MmsyError, match="no such model folder"):
        run_attention(failing, console=Console(file=io.StringIO()))
    assert not out.exists()
