"""`mmsy publish dataset|metric|leaderboard`: put the dataset or a Space on the Hugging Face Hub.

Each builds a plan first (`mmsy_dataset.hub.publish`): `--dry-run` prints it and stops, the real
run checks the token and executes it. The token is never an argument: it comes from `HF_TOKEN` or `hf auth login`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from mmsy_dataset.cli.common import add_bootstrap_options
from mmsy_dataset.hub.publish import Plan


def add_commands(subparsers: Any) -> None:
    sub = subparsers.add_parser(
        "publish", help="upload the dataset, the metric Space or the leaderboard Space to the Hugging Face Hub"
    ).add_subparsers(dest="publish_command", required=True, metavar="WHAT")

    def common(p: argparse.ArgumentParser, example: str) -> None:
        p.add_argument("--repo", required=True, help=f"Hub repo id ORG/NAME (e.g. {example})")
        p.add_argument("--private", action="store_true", help="create the repo private (ignored if it exists)")
        p.add_argument("--dry-run", action="store_true", help="print the files and the commit; upload nothing")

    p = sub.add_parser("dataset", help="verify a built folder against its manifest, upload it, tag v<version>")
    p.add_argument("folder", type=Path, help="folder written by `mmsy build` (with mmsy_manifest.json)")
    common(p, "my-org/mmsy")
    p.set_defaults(handler=run_publish_dataset)

    p = sub.add_parser("metric", help="write the `evaluate` metric Space (module, app, card, requirements), upload it")
    common(p, "my-org/mmsy_syc")
    p.add_argument("--out", type=Path, help="write the Space folder here (default: a temporary folder)")
    p.add_argument(
        "--requirement",
        help="how the Space installs this package (default: mmsy==<installed version>; e.g. a git URL)",
    )
    p.set_defaults(handler=run_publish_metric)

    p = sub.add_parser("leaderboard", help="build the leaderboard page from submissions, upload it as a static Space")
    p.add_argument("dir", type=Path, help="folder of submission *.json files")
    p.add_argument("--dataset", type=Path, required=True, help="the leaderboard's dataset folder (all must match it)")
    common(p, "my-org/mmsy-leaderboard")
    p.add_argument("--out", type=Path, help="write the site here (default: a temporary folder)")
    add_bootstrap_options(p)
    p.set_defaults(handler=run_publish_leaderboard)


def _token(args: argparse.Namespace) -> str | None:
    """The token, checked before any work (None for a dry run, which needs none)."""
    from mmsy_dataset.hub.publish import resolve_token

    return None if args.dry_run else resolve_token()


def _finish(plan: Plan, token: str | None) -> int:
    """Print the plan (dry run: no token) or upload it."""
    from mmsy_dataset.hub.publish import execute

    if token is None:
        print("dry run: nothing uploaded")
        for line in plan.describe():
            print(line)
        return 0
    print(f"uploading {len(plan.files)} file(s), {plan.total_bytes:,} bytes to {plan.repo_id} ({plan.repo_type})")
    result = execute(plan, token)
    print(f"committed {result.commit_oid} to {result.url}" + (f", tagged {result.tag}" if result.tag else ""))
    return 0


def run_publish_dataset(args: argparse.Namespace) -> int:
    from mmsy_dataset.hub.publish import check_repo_id, plan_dataset

    check_repo_id(args.repo)
    token = _token(args)
    return _finish(plan_dataset(args.folder, args.repo, private=args.private), token)


def run_publish_metric(args: argparse.Namespace) -> int:
    from mmsy_dataset.hub.metric_space import write_metric_space
    from mmsy_dataset.hub.publish import check_repo_id, plan_folder

    check_repo_id(args.repo)
    token = _token(args)
    with tempfile.TemporaryDirectory(prefix="mmsy-metric-space-") as tmp:
        out = args.out or Path(tmp) / args.repo.split("/")[1]
        written = write_metric_space(out, args.repo, requirement=args.requirement)
        plan = plan_folder(
            out,
            args.repo,
            files=written,
            repo_type="space",
            commit_message=f"mmsy metric module {args.repo.split('/')[1]}",
            space_sdk="gradio",
            private=args.private,
        )
        return _finish(plan, token)


def run_publish_leaderboard(args: argparse.Namespace) -> int:
    from mmsy_dataset.hub.publish import check_repo_id, plan_folder
    from mmsy_dataset.leaderboard import build_site

    check_repo_id(args.repo)
    token = _token(args)
    with tempfile.TemporaryDirectory(prefix="mmsy-leaderboard-space-") as tmp:
        out = args.out or Path(tmp)
        board = build_site(args.dir, out, args.dataset, n_bootstrap=args.bootstrap, seed=args.seed)
        plan = plan_folder(
            out,
            args.repo,
            files=[out / name for name in ("README.md", "index.html", "leaderboard.json")],
            repo_type="space",
            commit_message=f"MM-SY leaderboard: {len(board['entries'])} entries, dataset {board['validated_against']}",
            space_sdk="static",
            private=args.private,
        )
        return _finish(plan, token)
