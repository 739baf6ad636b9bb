"""Subcommands of scoring: `score`, `compare`, `submission validate`, `leaderboard build`.

Registered by the main CLI through `add_commands(subparsers)`; each sets `handler`, a function
of the parsed arguments returning the exit status. The work is in the library.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mmsy_dataset.cli_publish import add_submission_create
from mmsy_dataset.submission import MAX_BYTES


def _bootstrap_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples of questions (default 1000; 0: none)"
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser("score", help="Acc@R1 / Syc / Cor of a predictions.jsonl, with intervals")
    p.add_argument("predictions", type=Path, help="predictions JSONL (one Prediction per line)")
    p.add_argument("--out", type=Path, help="write the full report (JSON) here")
    p.add_argument(
        "--score-field",
        choices=("scores", "scores_norm"),
        default="scores",
        help="scores_norm: length-normalised option log-probabilities (option mode)",
    )
    _bootstrap_options(p)
    p.set_defaults(handler=run_score)

    p = subparsers.add_parser("compare", help="paired comparison of two runs on the same records (B - A)")
    p.add_argument("a", type=Path, help="predictions JSONL of the baseline run")
    p.add_argument("b", type=Path, help="predictions JSONL of the other run (e.g. a mitigation)")
    p.add_argument("--metric", default=None, help="one metric (syc, syc_4way, cor_with_answer, ...); default all")
    p.add_argument("--out", type=Path, help="write the comparison (JSON) here")
    _bootstrap_options(p)
    p.set_defaults(handler=run_compare)

    sub = subparsers.add_parser("submission", help="leaderboard submissions").add_subparsers(
        dest="submission_command", required=True, metavar="ACTION"
    )
    p = sub.add_parser("validate", help="check a submission against a dataset build; lists every problem")
    p.add_argument("file", type=Path, help="submission JSON file")
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder (with mmsy_manifest.json)")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help=f"size limit (default {MAX_BYTES})")
    p.set_defaults(handler=run_validate)
    add_submission_create(sub)

    sub = subparsers.add_parser("leaderboard", help="the leaderboard page").add_subparsers(
        dest="leaderboard_command", required=True, metavar="ACTION"
    )
    p = sub.add_parser("build", help="score a folder of submissions into leaderboard.json + index.html")
    p.add_argument("dir", type=Path, help="folder of submission *.json files")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--dataset", type=Path, help="dataset folder to validate the submissions against")
    _bootstrap_options(p)
    p.set_defaults(handler=run_leaderboard)


def _pct(value: float | None) -> str:
    return "undefined" if value is None else f"{100 * value:.1f}"


def run_score(args: argparse.Namespace) -> int:
    from mmsy_dataset.predictions import read_predictions
    from mmsy_dataset.scoring import score
    from mmsy_dataset.validation import require_scorable

    predictions = read_predictions(args.predictions)
    require_scorable(predictions, str(args.predictions))
    report = score(predictions, n_bootstrap=args.bootstrap, seed=args.seed, score_field=args.score_field)
    if args.out:
        args.out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for name, figures in report.metrics.items():
        f = figures.overall
        ci = f" [{_pct(f.ci_low)}, {_pct(f.ci_high)}]" if f.ci_low is not None else ""
        failed = f", {f.failed} unreadable" if f.failed else ""
        print(f"{name:28s} {_pct(f.value):>9s}{ci}  ({report.headline[name]}, k={f.k}, n={f.n}{failed})")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from mmsy_dataset.predictions import read_predictions
    from mmsy_dataset.scoring import compare, compare_all
    from mmsy_dataset.validation import require_scorable

    a, b = read_predictions(args.a), read_predictions(args.b)
    require_scorable(a, str(args.a))
    require_scorable(b, str(args.b))
    results = (
        [compare(a, b, args.metric, n_bootstrap=args.bootstrap, seed=args.seed)]
        if args.metric
        else compare_all(a, b, n_bootstrap=args.bootstrap, seed=args.seed)
    )
    if args.out:
        args.out.write_text(json.dumps([r.model_dump() for r in results], indent=2) + "\n", encoding="utf-8")
    for r in results:
        diff = "undefined" if r.difference is None else f"{100 * r.difference:+.1f}"
        ci = f" [{_pct(r.ci_low)}, {_pct(r.ci_high)}]" if r.ci_low is not None else ""
        print(
            f"{r.metric:28s} A {_pct(r.a.value):>6s}  B {_pct(r.b.value):>6s}  B-A {diff}{ci}  "
            f"p_boot={r.p_bootstrap}  McNemar {r.mcnemar.a_only}/{r.mcnemar.b_only} p={r.mcnemar.p_value}"
        )
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from mmsy_dataset.submission import cli_validate

    return cli_validate(args)


def run_leaderboard(args: argparse.Namespace) -> int:
    from mmsy_dataset.leaderboard import cli_build

    return cli_build(args)
