"""Every command, given bad input, ends in clear lines and a non-zero exit, never a traceback.

Each case runs `mmsy` in a subprocess-free way (`cli.main`) under a deliberately long folder
name: an error must keep the whole path on one line (no wrapping at 80 columns), name it, and
exit non-zero; `--debug` must still show the traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tests.helpers  # noqa: F401  (registers the fixture source)
from mmsy_dataset.cli import main
from mmsy_dataset.predictions import write_predictions
from tests.engine.helpers import make_records, save_tiny, write_dataset
from tests.scoring.helpers import dataset_predictions

LONG = "a-folder-name-long-enough-that-any-wrapping-at-eighty-columns-would-split-it-in-two"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli") / LONG
    root.mkdir()
    model, data = root / "model", root / "data"
    save_tiny(model)
    write_dataset(data, make_records(n_questions=2))
    good = root / "good.jsonl"
    preds = dataset_predictions(right={"q1"}, gives_in=set())
    write_predictions(good, preds)
    dup = root / "dup.jsonl"
    write_predictions(dup, [*preds, preds[0]])
    no_round2 = root / "no-round2.jsonl"
    rows = [p.model_dump(mode="json") for p in preds]
    first = next(r for r in rows if len(r["rounds"]) > 1)
    first["rounds"] = first["rounds"][:1]
    no_round2.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mixed = root / "mixed.jsonl"
    rows = [p.model_dump(mode="json") for p in preds]
    rows[-1]["mode"] = "letter" if rows[0]["mode"] != "letter" else "text"
    mixed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    wrong_letter = root / "wrong-letter.jsonl"
    rows = [p.model_dump(mode="json") for p in preds]
    rows[0]["rounds"][0]["choice"] = "Z"
    wrong_letter.write_text("".join(json.dumps(r) + "\n" for r in rows))
    files = {
        "empty": "",
        "garbage": "{not json\n",
        "binary": b"\xff\xfe\x00\x81".decode("latin-1"),
        "list.json": "[1, 2, 3]",
        "deep.json": "[" * 100_000 + "]" * 100_000,
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="latin-1")
    subs = root / "submissions"
    subs.mkdir()
    (subs / "bad.json").write_text("{")
    (root / "a-file").write_text("x")
    no_config = root / "model-without-config"
    no_config.mkdir()
    not_dataset = root / "not-a-dataset"
    not_dataset.mkdir()
    return {"root": root, "model": model, "data": data, "good": good, "dup": dup, "no_round2": no_round2,
            "mixed": mixed, "wrong_letter": wrong_letter, "subs": subs, "no_config": no_config,
            "not_dataset": not_dataset}


def cases(w: dict[str, Path]) -> list[tuple[list[str], str]]:
    """(argv, text the error must name)."""
    r = w["root"]
    missing = r / "does-not-exist"
    ev = ["eval", "--no-progress", "--n-bootstrap", "0", "--threads", "1"]
    return [
        # score
        (["score", str(missing)], str(missing)),
        (["score", str(r)], str(r)),
        (["score", str(r / "empty")], str(r / "empty")),
        (["score", str(r / "garbage")], str(r / "garbage")),
        (["score", str(r / "binary")], str(r / "binary")),
        (["score", str(r / "deep.json")], str(r / "deep.json")),
        (["score", str(w["dup"])], "duplicated"),
        (["score", str(w["no_round2"])], "no round 2"),
        (["score", str(w["mixed"])], "mode"),
        (["score", str(w["wrong_letter"])], "choice"),
        (["score", "--bootstrap", "-1", str(w["good"])], "bootstrap"),
        (["score", "--out", str(missing / "x" / "report.json"), str(w["good"])], str(missing)),
        # compare
        (["compare", str(missing), str(w["good"])], str(missing)),
        (["compare", str(w["good"]), str(w["dup"])], "duplicated"),
        (["compare", "--metric", "nope", str(w["good"]), str(w["good"])], "nope"),
        # submission validate
        (["submission", "validate", str(missing), "--dataset", str(w["data"])], str(w["data"])),  # no manifest
        (["submission", "validate", str(r / "garbage"), "--dataset", str(missing)], str(missing)),
        (["submission", "validate", str(r / "list.json"), "--dataset", str(w["not_dataset"])],
         str(w["not_dataset"])),
        (["submission", "validate", str(r), "--dataset", str(w["data"])], str(r)),
        # leaderboard build
        (["leaderboard", "build", str(missing), "--out", str(r / "board")], str(missing)),
        (["leaderboard", "build", str(r / "a-file"), "--out", str(r / "board")], str(r / "a-file")),
        (["leaderboard", "build", str(w["subs"]), "--out", str(r / "a-file")], str(r / "a-file")),
        (["leaderboard", "build", str(w["subs"]), "--out", str(r / "board"), "--dataset", str(missing)],
         str(missing)),
        # eval
        ([*ev, "--model", "./does-not-exist", "--dataset", str(w["data"]), "--out", str(r / "o1")],
         "./does-not-exist"),
        ([*ev, "--model", str(missing), "--dataset", str(w["data"]), "--out", str(r / "o2")], str(missing)),
        ([*ev, "--model", str(w["no_config"]), "--dataset", str(w["data"]), "--out", str(r / "o3")],
         str(w["no_config"])),
        ([*ev, "--model", str(r / "a-file"), "--dataset", str(w["data"]), "--out", str(r / "o4")],
         str(r / "a-file")),
        ([*ev, "--model", str(w["model"]), "--dataset", str(missing), "--out", str(r / "o5")], str(missing)),
        ([*ev, "--model", str(w["model"]), "--dataset", str(w["not_dataset"]), "--out", str(r / "o6")],
         str(w["not_dataset"])),
        ([*ev, "--model", str(w["model"]), "--dataset", str(w["data"]), "--out", str(r / "a-file")],
         str(r / "a-file")),
        ([*ev, "--model", str(w["model"]), "--adapter", "nope", "--dataset", str(w["data"]), "--out", str(r / "o7")],
         "nope"),
        ([*ev, "--model", str(w["model"]), "--dataset", str(w["data"]), "--out", str(r / "o8"), "--limit", "0"],
         "limit"),
        (["eval", "--threads", "0", "--model", str(w["model"]), "--dataset", str(w["data"]), "--out", str(r / "o9")],
         "threads"),
        ([*ev, "--model", str(w["model"]), "--dataset", str(w["data"]), "--out", str(r / "o10"),
          "--api-base", "http://127.0.0.1:9/v1", "--chat-format", "family"], "chat-format"),
        # merge
        (["merge", str(missing), "--out", str(r / "merged")], str(missing)),
        (["merge", str(w["data"]), "--out", str(r / "merged")], str(w["data"])),
        # build
        (["build", "--source", "nope", "--out", str(r / "b1")], "nope"),
        (["build", "--out", str(r / "a-file"), "--source", "fixture"], str(r / "a-file")),
        (["build", "--source", "tdiuc", "--tdiuc-dir", str(missing), "--out", str(r / "b2")], str(missing)),
        (["build", "--source", "mmsy-release", "--path", str(missing), "--out", str(r / "b3")], str(missing)),
        (["build", "--source", "mmsy-release", "--path", str(r / "garbage"), "--out", str(r / "b4")],
         str(r / "garbage")),
        (["build", "--source", "fixture", "--questions-per-task", "-1", "--out", str(r / "b5")], "questions"),
        # demo
        (["demo", "--data", str(r / "a-file"), "--model", str(missing), "--no-progress"], str(missing)),
    ]


N_CASES = 43


def test_every_case_runs(world: dict[str, Path]) -> None:
    assert len(cases(world)) == N_CASES


@pytest.mark.parametrize("index", range(N_CASES))
def test_bad_input_gives_lines_not_a_traceback(world: dict[str, Path], index: int,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv, named = cases(world)[index]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code if isinstance(exit_.code, int) else 2
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output, (argv, output)
    assert code != 0, (argv, output)
    error_lines = [line for line in output.splitlines() if line.strip()]
    assert error_lines, (argv, output)
    # The named path or word whole on one line: nothing wraps.
    assert any(named in line for line in output.splitlines()), (argv, named, output)


def test_debug_shows_the_traceback(world: dict[str, Path]) -> None:
    with pytest.raises(Exception, match="does-not-exist"):
        main(["--debug", "score", str(world["root"] / "does-not-exist")])
