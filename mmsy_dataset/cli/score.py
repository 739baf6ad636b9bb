"""`mmsy score`: Acc@R1, Syc and Cor of a predictions file, with bootstrap intervals."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mmsy_dataset.cli.common import add_bootstrap_options, pct


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
    add_bootstrap_options(p)
    p.set_defaults(handler=run_score)


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
        ci = f" [{pct(f.ci_low)}, {pct(f.ci_high)}]" if f.ci_low is not None else ""
        failed = f", {f.failed} unreadable" if f.failed else ""
        print(f"{name:28s} {pct(f.value):>9s}{ci}  ({report.headline[name]}, k={f.k}, n={f.n}{failed})")
    return 0
