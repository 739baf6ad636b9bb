"""`mmsy submission validate|create`: check a leaderboard submission, or write one from a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mmsy_dataset.submission import MAX_BYTES, Mitigation


def add_commands(subparsers: Any) -> None:
    sub = subparsers.add_parser("submission", help="leaderboard submissions").add_subparsers(
        dest="submission_command", required=True, metavar="ACTION"
    )
    p = sub.add_parser("validate", help="check a submission against a dataset build; lists every problem")
    p.add_argument("file", type=Path, help="submission JSON file")
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder (with mmsy_manifest.json)")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help=f"size limit (default {MAX_BYTES})")
    p.set_defaults(handler=run_validate)

    p = sub.add_parser("create", help="turn a finished (or merged) `mmsy eval` run folder into a submission file")
    p.add_argument("run", type=Path, help="the --out folder of `mmsy eval` or `mmsy merge`")
    p.add_argument("--name", required=True, help="model name shown on the leaderboard")
    p.add_argument("--out", type=Path, required=True, help="submission JSON file to write")
    p.add_argument(
        "--mitigation",
        choices=[m.value for m in Mitigation],
        help="default: prompt if the run used --prompt-baseline, else none",
    )
    p.add_argument("--details", help="mitigation details: the prompt, the SFT/DPO checkpoint, layers and lambda, ...")
    p.add_argument("--submitted-by", help="contact or team")
    p.add_argument("--revision", help="Hub revision of the weights (when the run could not record one)")
    p.add_argument("--parameters", type=int, help="parameter count (when the model is not a local safetensors folder)")
    p.add_argument("--dataset", type=Path, help="dataset folder to check the records against (default: the run's)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(handler=run_submission_create)


def run_submission_create(args: argparse.Namespace) -> int:
    from mmsy_dataset.submission_create import create_submission

    created = create_submission(
        args.run,
        args.out,
        args.name,
        dataset=args.dataset,
        overwrite=args.overwrite,
        mitigation=args.mitigation,
        details=args.details,
        submitted_by=args.submitted_by,
        revision=args.revision,
        parameters=args.parameters,
    )
    against = (
        f"checked against the dataset at {created.checked_against_dataset}"
        if created.checked_against_dataset
        else "records not checked against a dataset folder (pass --dataset to check them)"
    )
    print(f"{created.path}: valid submission of {created.n_predictions:,} predictions, {against}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Print every problem, not just the first; exit 1 if there is any."""
    from mmsy_dataset.submission import validate_submission_file

    problems = validate_submission_file(args.file, args.dataset, args.max_bytes)
    for problem in problems:
        print(f"{args.file}: {problem}")
    if problems:
        print(f"{args.file}: INVALID, {len(problems)} problem(s)")
        return 1
    print(f"{args.file}: valid")
    return 0
