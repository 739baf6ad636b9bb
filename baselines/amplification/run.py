"""Attention amplification (paper 4.3, eq. 7): Table 3 rows and the Figure 7 lambda sweep.

    python baselines/amplification/run.py --config baselines/amplification/reference.json \
        --dataset mmsy-data --out runs/amplification

Runs `mmsy eval` once without amplification (the base row; lambda = 0 is the same model for
every range) and once per (layer range, lambda) of the config, each into OUT/<name>/ (a killed
sweep resumes where it stopped), compares every run with the base on the same records
(`mmsy compare`: paired bootstrap and McNemar), and writes results.json, results.md and
lambda_sweep.png beside --results (default: this folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).parent
METRICS = {"acc_r1": "Acc@R1", "syc": "Syc", "cor_with_answer": "Cor w/ a", "cor_without_answer": "Cor w/o a"}


class SweepConfig(BaseModel):
    """One model's amplification recipe (reference.json, llava-1.5-7b.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    adapter: str | None = None
    mode: Literal["letter", "option", "text"] = "letter"
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    batch_size: int = 8
    queries: Literal["after-image", "all"] = "after-image"
    configs: list[str] = ["sycophancy", "correction_with_answer", "correction_without_answer"]
    """The configs of the four headline metrics (multi_round feeds none of them)."""
    shard: str | None = None
    """Evaluate only this shard's questions (`I/N`, as `mmsy eval --shard`): a fixed, task-balanced
    subset that keeps a CPU sweep short."""
    table_lambda: float
    """The lambda of the Table 3 rows (the paper: 0.9 for LLaVA-1.5)."""
    ranges: dict[str, tuple[int, int]]
    """Name -> (first, last) text layer, 1-based and inclusive."""
    lambdas: list[float]
    """The Figure 7 sweep (lambda = 0 is the base run)."""


def _figure(fig: Any) -> dict[str, Any]:
    return {"value": fig.value, "ci_low": fig.ci_low, "ci_high": fig.ci_high, "n": fig.n}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _cell(fig: dict[str, Any]) -> str:
    return f"{_pct(fig['value'])} [{_pct(fig['ci_low'])}, {_pct(fig['ci_high'])}]"


def _vs_base(comparison: Any) -> dict[str, Any]:
    return {
        "difference": comparison.difference,
        "ci_low": comparison.ci_low,
        "ci_high": comparison.ci_high,
        "p_bootstrap": comparison.p_bootstrap,
        "mcnemar_p": comparison.mcnemar.p_value,
    }


def markdown(results: dict[str, Any]) -> str:
    """Table 3 shape: the base row and each range at the table's lambda, with the paired test."""
    lam = results["table_lambda"]
    header = "| row | " + " | ".join(METRICS.values()) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 1)]
    lines.append("| base | " + " | ".join(_cell(results["base"]["metrics"][m]) for m in METRICS) + " |")
    for run in results["runs"]:
        if run["lam"] != lam:
            continue
        cells = []
        for m in METRICS:
            d = run["vs_base"][m]
            diff = "–" if d["difference"] is None else f"{100 * d['difference']:+.1f}"
            p = "–" if d["p_bootstrap"] is None else f"{max(d['p_bootstrap'], 0.001):.3f}"
            p = "<0.001" if d["p_bootstrap"] == 0 else p
            test = f"{diff} [{_pct(d['ci_low'])}, {_pct(d['ci_high'])}] p {p}"
            cells.append(f"{_cell(run['metrics'][m])}<br>{test}")
        lines.append(f"| ⊕ {run['first']}-{run['last']} ({run['range']}) | " + " | ".join(cells) + " |")
    note = (
        f"\nλ = {lam}, query rows: {results['queries']}, {results['mode']} mode. Each cell: value "
        "[95% bootstrap CI]; amplified rows add B − A against the base [95% paired-bootstrap CI] "
        "and the two-sided paired-bootstrap p (`mmsy compare`; 1,000 replicates)."
    )
    return "\n".join(lines) + "\n" + note + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    """Figure 7 shape: one panel per range, each metric against lambda with its 95% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["ranges"])
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        runs = sorted((r for r in results["runs"] if r["range"] == name), key=lambda r: r["lam"])
        points = [(0.0, results["base"]["metrics"])] + [(r["lam"], r["metrics"]) for r in runs]
        lams = [p[0] for p in points]
        for metric, label in METRICS.items():
            figs = [p[1][metric] for p in points]
            values = [100 * f["value"] if f["value"] is not None else float("nan") for f in figs]
            ax.plot(lams, values, marker="o", label=label)
            low = [100 * f["ci_low"] if f["ci_low"] is not None else float("nan") for f in figs]
            high = [100 * f["ci_high"] if f["ci_high"] is not None else float("nan") for f in figs]
            ax.fill_between(lams, low, high, alpha=0.15)
        first, last = results["ranges"][name]
        ax.set_title(f"⊕ layers {first}-{last} ({name})")
        ax.set_xlabel("λ")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("%")
    axes[0][-1].legend(loc="best", fontsize=8)
    fig.suptitle(f"Attention amplification, {results['model']} ({results['queries']} queries)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=HERE / "reference.json")
    p.add_argument("--dataset", required=True, help="MM-SY build folder (the four benchmark configs)")
    p.add_argument("--out", type=Path, required=True, help="folder of the runs (results.json names them from there)")
    p.add_argument("--results", type=Path, default=HERE, help="where results.json/.md and the plot go")
    p.add_argument("--limit", type=int, default=None, help="at most N records per config (a quick look)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    import torch
    from rich.console import Console

    from mmsy_dataset.adapters.registry import load_adapter
    from mmsy_dataset.api.prompts import LoadOptions
    from mmsy_dataset.engine.config import AmplifySettings, EvalConfig
    from mmsy_dataset.engine.data import load_records
    from mmsy_dataset.engine.run import run_eval
    from mmsy_dataset.engine.shard import Shard
    from mmsy_dataset.scoring import compare

    torch.set_num_threads(args.threads)
    config = SweepConfig.model_validate_json(args.config.read_text())
    console = Console(stderr=True)
    records, dataset_info = load_records(args.dataset, config.configs, "test", args.limit)
    adapter = load_adapter(config.model, config.adapter, LoadOptions(config.device, config.dtype))

    def evaluate(name: str, amplify: AmplifySettings | None) -> Any:
        eval_config = EvalConfig(
            model=config.model,
            adapter=config.adapter,
            dataset=args.dataset,
            out=args.out / name,
            configs=config.configs,
            shard=Shard.parse(config.shard) if config.shard else None,
            limit=args.limit,
            mode=config.mode,
            batch_size=config.batch_size,
            device=config.device,
            dtype=config.dtype,
            amplify=amplify,
            progress=not args.no_progress,
        )
        console.print(f"[bold]{name}[/]: amplify {amplify.spec if amplify else 'off'}")
        return run_eval(eval_config, adapter=adapter, records=records, dataset_info=dataset_info, console=console)

    base = evaluate("base", None)
    base_predictions = base.folder.predictions()
    results: dict[str, Any] = {
        "model": config.model,
        "dataset": dataset_info,
        "mode": config.mode,
        "queries": config.queries,
        "configs": config.configs,
        "shard": config.shard,
        "table_lambda": config.table_lambda,
        "ranges": config.ranges,
        "base": {
            "run": str(base.folder.out.relative_to(args.out)),
            "metrics": {m: _figure(base.report.metrics[m].overall) for m in METRICS},
        },
        "runs": [],
    }
    # The Table 3 rows first, then the rest of the sweep; results are rewritten after every run.
    lambdas = sorted(set(config.lambdas), key=lambda lam: (lam != config.table_lambda, lam))
    args.results.mkdir(parents=True, exist_ok=True)
    for lam in lambdas:
        for name, (first, last) in config.ranges.items():
            amplify = AmplifySettings(first=first, last=last, lam=lam, queries=config.queries)
            suffix = "" if config.queries == "after-image" else f"-{config.queries}-queries"
            run = evaluate(f"{name}-{lam:g}{suffix}", amplify)
            predictions = run.folder.predictions()
            results["runs"].append(
                {
                    "range": name,
                    "first": first,
                    "last": last,
                    "lam": lam,
                    "run": str(run.folder.out.relative_to(args.out)),
                    "metrics": {m: _figure(run.report.metrics[m].overall) for m in METRICS},
                    "vs_base": {m: _vs_base(compare(base_predictions, predictions, m)) for m in METRICS},
                }
            )
            (args.results / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
            (args.results / "results.md").write_text(markdown(results), encoding="utf-8")
            plot(results, args.results / "lambda_sweep.png")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
