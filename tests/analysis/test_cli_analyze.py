"""`mmsy analyze probe|attention` end to end on a tiny LLaVA and a tiny build, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmsy_dataset.cli import main
from mmsy_dataset.construction import Sizes
from tests.engine.helpers import save_tiny
from tests.helpers import build_small


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("analyze")
    model, data, bare = root / "model", root / "data", root / "bare"
    save_tiny(model)
    sizes = Sizes(questions_per_task=2, probing_train=20, probing_test=20, sft=4, dpo=4)
    build_small(data, sizes=sizes, configs=("probing",))
    build_small(bare, sizes=sizes, configs=("sycophancy",))
    return model, data, bare


def _run(*argv: str) -> int:
    return main(["analyze", *argv, "--no-progress", "--n-bootstrap", "50"])


@pytest.mark.slow
def test_probe_and_attention_write_results_and_figures(folders, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = folders
    out = tmp_path / "out"
    common = ["--model", str(model), "--model", str(model), "--label", "a", "--label", "b",
              "--dataset", str(data), "--out", str(out), "--mode", "letter"]
    assert _run("probe", *common) == 0
    probe = json.loads((out / "probe.json").read_text())
    a, b = probe["models"]
    assert a["label"] == "a" and len(a["layers"]) == 2 and a["layers"] == b["layers"]
    assert sum(a["train"].values()) == 20 and sum(a["test"].values()) == 20
    assert all(0.0 <= layer["auc"] <= 1.0 for layer in a["layers"])
    assert (out / "probe_auc.png").stat().st_size > 0

    assert _run("attention", *common) == 0
    attention = json.loads((out / "attention.json").read_text())
    first = attention["models"][0]
    assert first["n"] == 20 - first["contexts"]["round1_wrong"] and first["split"] == "test"
    assert all(m["value"] > 0 for m in first["ratio"]) and all(0 < m["value"] < 1 for m in first["image_mass"])
    assert (out / "attention_ratio.png").exists() and (out / "attention_mass.png").exists()


@pytest.mark.slow
def test_bad_inputs_give_one_line_errors(folders, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    model, data, bare = folders
    out = str(tmp_path / "out")
    cases = [
        (["probe", "--model", str(model), "--dataset", str(bare), "--out", out], "no 'probing' config"),
        (["attention", "--model", str(model), "--adapter", "openai", "--dataset", str(data), "--out", out],
         "exposes no hidden states or attentions"),
        # On this tiny model, option mode leaves no train context that takes the pushed option.
        (["probe", "--model", str(model), "--dataset", str(data), "--out", out, "--mode", "option"],
         "no context in class 'takes_pushed'"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert _run(*argv) == 2
        err = capsys.readouterr().err
        assert message in " ".join(err.split()) and "Traceback" not in err
        assert err.count("error:") == 1
