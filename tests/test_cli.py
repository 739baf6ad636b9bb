from __future__ import annotations

from pathlib import Path

import pytest

import tests.helpers  # noqa: F401  (registers the fixture source)
from mmsy_dataset.cli import main

SMALL = [
    "--source",
    "fixture",
    "--questions-per-task",
    "4",
    "--probing-train",
    "10",
    "--probing-test",
    "10",
    "--sft",
    "10",
    "--dpo",
    "10",
]


@pytest.mark.slow
def test_build_prints_a_summary_table_and_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    assert main(["build", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "position" in printed and "affordance" in printed and "total" in printed
    assert str(out) in "".join(printed.split())
    assert (out / "README.md").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tasks", "color,juggling"], "unknown tasks ['juggling']"),
        (["--configs", "syco"], "unknown configs ['syco']"),
        (["--version", "one"], "not a semantic version"),
        (["--source", "tdiuk"], "Unknown source 'tdiuk'"),
        (["--questions-per-task", "0"], "questions_per_task"),
    ],
)
def test_bad_arguments_give_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert _exit_code(["build", "--out", str(tmp_path / "o"), *SMALL, *extra]) == 2
    captured = capsys.readouterr()
    assert message in " ".join((captured.err + captured.out).split())
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_non_empty_output_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "x").write_text("x")
    assert main(["build", "--out", str(out), *SMALL]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["build", "--out", str(out), *SMALL, "--overwrite"]) == 0


def _exit_code(argv: list[str]) -> int | str | None:
    """`main`'s exit status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_help_imports_no_heavy_library() -> None:
    """`mmsy --help` and every command's parser load without torch, transformers or the Hub client:
    command modules import those inside their handlers, so the help is instant and a missing
    optional stack fails only the command that needs it. A fresh interpreter, since pytest's
    own process may already hold them."""
    import subprocess
    import sys

    code = (
        "import sys; from mmsy_dataset.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'huggingface_hub', 'trl', 'peft') if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: mmsy" in done.stdout and "heavy: []" in done.stdout


@pytest.mark.slow
def test_python_dash_m_runs_the_cli() -> None:
    """`python -m mmsy_dataset.cli` (the form the baseline scripts and `accelerate launch -m` use)
    is the `mmsy` command, exit status included."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mmsy_dataset.cli", "score"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage: mmsy score" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "p.jsonl"],
        ["compare", "a.jsonl", "b.jsonl"],
        ["eval", "--model", "m", "--dataset", "d", "--out", "o"],
        ["analyze", "probe", "--model", "m", "--dataset", "d", "--out", "o"],
        ["publish", "leaderboard", "subs", "--dataset", "d", "--repo", "o/r"],
    ],
)
def test_both_bootstrap_spellings_set_the_same_option(argv: list[str]) -> None:
    from mmsy_dataset.cli import parser

    def resamples(*flag: str) -> int:
        args = vars(parser().parse_args([*argv, *flag]))
        return args.get("bootstrap", args.get("n_bootstrap"))  # type: ignore[no-any-return]

    assert resamples() == 1000
    assert resamples("--bootstrap", "7") == resamples("--n-bootstrap", "7") == 7
