"""`mmsy compare`: paired comparison of two runs on the same records (B - A)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mmsy_dataset.cli.common import add_bootstrap_options, pct


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser("compare", help="paired comparison of two runs on the same records (B - A)")
    p.add_argument("a", type=Path, help="predictions JSONL of the baseline run")
    p.add_argument("b", type=Path, help="predictions JSONL of the other run (e.g. a mitigation)")
    p.add_argument("--metric", default=None, help="one metric (syc, syc_4way, cor_with_answer, ...); default all")
    p.add_argument("--out", type=Path, help="write the comparison (JSON) here")
    add_bootstrap_options(p)
    p.set_defaults(handler=run_compare)


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
        ci = f" [{pct(r.ci_low)}, {pct(r.ci_high)}]" if r.ci_low is not None else ""
        print(
            f"{r.metric:28s} A {pct(r.a.value):>6s}  B {pct(r.b.value):>6s}  B-A {diff}{ci}  "
            f"p_boot={r.p_bootstrap}  McNemar {r.mcnemar.a_only}/{r.mcnemar.b_only} p={r.mcnemar.p_value}"
        )
    return 0
