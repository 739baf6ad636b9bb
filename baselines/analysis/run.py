"""Section-4 analyses of the reference model and its mitigated versions, recorded here.

    python baselines/analysis/run.py --dataset mmsy-data --work runs/analysis \
        --model base=mmsy_dataset/reference/weights --model SFT=runs/ref-sft --model DPO=runs/ref-dpo

For each model: `mmsy eval` in option mode on the four benchmark configs (its report holds the
round-1 confidence and flip-dynamics figures); then `mmsy analyze probe` and `mmsy analyze
attention` overlaying all models. Copies the plots into `baselines/analysis/plots/` and writes
`baselines/analysis/results.json`. Models whose folder does not exist are skipped (named); an
eval run already finished in `--work/eval/LABEL`, and probe / attention results in `--work`
covering the same models, are reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmsy_dataset.cli import main as mmsy

HERE = Path(__file__).resolve().parent
REPORT_PLOTS = ("syc_by_confidence.png", "calibration.png", "flips.png")


def _headline(metrics: dict) -> dict:  # type: ignore[type-arg]
    out = {}
    for name in ("acc_r1", "syc", "cor_with_answer", "cor_without_answer"):
        fig = metrics["metrics"][name]["overall"]
        out[name] = {k: fig[k] for k in ("value", "ci_low", "ci_high", "n")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--work", type=Path, required=True, help="folder for the eval runs and raw outputs")
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=PATH")
    args = parser.parse_args()
    models = []
    for item in args.model:
        label, _, path = item.partition("=")
        if not (Path(path) / "config.json").is_file():
            print(f"skipping {label}: no model at {path}")
            continue
        models.append((label, path))
    plots = HERE / "plots"
    plots.mkdir(exist_ok=True)
    results: dict = {"dataset": args.dataset, "mode": "option", "models": {}}  # type: ignore[type-arg]
    for label, path in models:
        run = args.work / "eval" / label
        if not (run / "metrics.json").is_file():  # a finished run in --work is reused
            code = mmsy(["eval", "--model", path, "--dataset", args.dataset, "--out", str(run), "--mode", "option",
                         "--batch-size", "32", "--no-progress"])
            assert code == 0, f"eval of {label} failed"
        metrics = json.loads((run / "metrics.json").read_text())
        results["models"][label] = {
            "path": path,
            "headline": _headline(metrics),
            "round1_confidence": metrics["round1_confidence"],
            "flips": metrics["flips"],
        }
        for name in REPORT_PLOTS:
            shutil.copy(run / "plots" / name, plots / f"{label}_{name}")
    common = [arg for label, path in models for arg in ("--model", path, "--label", label)]
    common += ["--dataset", args.dataset, "--out", str(args.work), "--mode", "option", "--no-progress"]
    for analysis in ("probe", "attention"):
        done = args.work / f"{analysis}.json"
        labels = [m["label"] for m in json.loads(done.read_text())["models"]] if done.is_file() else []
        if labels != [label for label, _ in models]:  # reused when it already covers these models
            assert mmsy(["analyze", analysis, *common]) == 0
    results["probe"] = json.loads((args.work / "probe.json").read_text())
    results["attention"] = json.loads((args.work / "attention.json").read_text())
    for name in ("probe_auc.png", "attention_ratio.png", "attention_mass.png"):
        shutil.copy(args.work / name, plots / name)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'results.json'} and {plots}")


if __name__ == "__main__":
    main()
