"""One Table 2 row (paper 3.3) from an evaluation run and its paired comparison with the base run.

    python -m mmsy_dataset.mitigation.results --row "+SFT" --run RUN_DIR [--compare COMPARE.json] --out ROW.json

`RUN_DIR` is an `mmsy eval` folder (metrics.json, run.json); `COMPARE.json` is what
`mmsy compare BASE/predictions.jsonl RUN_DIR/predictions.jsonl --out COMPARE.json` wrote. The
row holds each headline figure with its 95% interval and, against the base model, the paired
difference with its interval, the bootstrap p and McNemar's p; `baselines/results.md` is built
from these rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

#: Table 2's columns: metric name in metrics.json -> column title.
COLUMNS = {"acc_r1": "Acc@R1", "syc": "Syc", "cor_with_answer": "Cor w/ a", "cor_without_answer": "Cor w/o a"}


def _figure(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in ("value", "ci_low", "ci_high", "n")}


def table_row(row: str, run: Path, compare: Path | None = None) -> dict[str, Any]:
    """The JSON row of `run` (and its comparison with the base run, if given)."""
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    settings = json.loads((run / "run.json").read_text()).get("settings", {})
    out: dict[str, Any] = {
        "row": row,
        "model": settings.get("model"),
        "mode": settings.get("mode"),
        "prompt_baseline": settings.get("prompt_baseline", False),
        "run": str(run),
        "metrics": {name: _figure(metrics[name]["overall"]) for name in COLUMNS},
    }
    if compare is not None:
        comparisons = {c["metric"]: c for c in json.loads(compare.read_text())}
        out["vs_base"] = {
            name: {
                "difference": c["difference"],
                "ci_low": c["ci_low"],
                "ci_high": c["ci_high"],
                "p_bootstrap": c["p_bootstrap"],
                "p_mcnemar": c["mcnemar"]["p_value"],
            }
            for name, c in comparisons.items()
            if name in COLUMNS
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write one Table 2 row (JSON) from an `mmsy eval` run.")
    parser.add_argument("--row", required=True, help='row name, e.g. "+SFT"')
    parser.add_argument("--run", required=True, type=Path, help="the `mmsy eval` output folder")
    parser.add_argument("--compare", type=Path, help="`mmsy compare --out` JSON of base vs this run")
    parser.add_argument("--out", required=True, type=Path, help="where to write the row")
    args = parser.parse_args(argv)
    row = table_row(args.row, args.run, args.compare)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
