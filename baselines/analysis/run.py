"""Section-4 analyses of the reference model and its mitigated versions, recorded here.

    python baselines/analysis/run.py --dataset mmsy-data --work runs/analysis \
        --model base=mmsy_dataset/reference/weights --model SFT=runs/ref-sft --model DPO=runs/ref-dpo \
        --model amplified=mmsy_dataset/reference/weights --amplify amplified=3-4:0.9

For each model: `mmsy eval` in option mode on the four benchmark configs (its report holds the
round-1 confidence and flip-dynamics figures), then `mmsy analyze probe` and `mmsy analyze
attention` on it; `--amplify LABEL=SPEC` runs both, for that model only, with `--amplify SPEC`
(attention amplification, after-image rows). The Figure 3 plots overlay all models. Copies the
plots into `baselines/analysis/plots/` and writes `baselines/analysis/results.json`. Models whose
folder does not exist are skipped (named); an eval run already finished in `--work/eval/LABEL`,
and probe / attention results in `--work/analysis/LABEL` for the same model, amplification and
settings, are reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmsy_dataset.analysis.attention import AttentionResult
from mmsy_dataset.analysis.plots import plot_attention, plot_probe
from mmsy_dataset.analysis.probe import ProbeResult
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
    parser.add_argument("--amplify", action="append", default=[], metavar="LABEL=SPEC",
                        help="evaluate and analyse model LABEL with `--amplify SPEC` (e.g. 3-4:0.9)")
    args = parser.parse_args()
    amplify = dict(item.partition("=")[::2] for item in args.amplify)
    unknown = set(amplify) - {item.partition("=")[0] for item in args.model}
    if unknown:
        parser.error(f"--amplify for {sorted(unknown)}: no --model with that label")
    models = []
    for item in args.model:
        label, _, path = item.partition("=")
        if not (Path(path) / "config.json").is_file():
            print(f"skipping {label}: no model at {path}")
            continue
        models.append((label, path, amplify.get(label)))
    plots = HERE / "plots"
    plots.mkdir(exist_ok=True)
    results: dict = {"dataset": args.dataset, "mode": "option", "models": {}}  # type: ignore[type-arg]
    for label, path, spec in models:
        run = args.work / "eval" / label
        # A finished run of the same model and settings resumes with nothing left to do; `mmsy eval`
        # refuses a folder that holds another model's run.
        code = mmsy(["eval", "--model", path, "--dataset", args.dataset, "--out", str(run), "--mode", "option",
                     "--batch-size", "32", "--no-progress", *(["--amplify", spec] if spec else [])])
        assert code == 0, f"eval of {label} failed"
        metrics = json.loads((run / "metrics.json").read_text())
        results["models"][label] = {
            "path": path,
            "amplify": spec,
            "headline": _headline(metrics),
            "round1_confidence": metrics["round1_confidence"],
            "flips": metrics["flips"],
        }
        for name in REPORT_PLOTS:
            shutil.copy(run / "plots" / name, plots / f"{label}_{name}")
    for analysis in ("probe", "attention"):
        runs = [_analyze(analysis, args.work / "analysis" / label, label, path, spec, args.dataset)
                for label, path, spec in models]
        settings = [r["settings"] for r in runs]
        assert all(s == settings[0] for s in settings), f"{analysis}: results with different settings"
        results[analysis] = {"settings": settings[0], "models": [r["models"][0] for r in runs]}
    probes = [ProbeResult.model_validate(_without_amplify(m)) for m in results["probe"]["models"]]
    plot_probe(probes, plots / "probe_auc.png")
    plot_attention([AttentionResult.model_validate(_without_amplify(m)) for m in results["attention"]["models"]],
                   plots)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'results.json'} and {plots}")


def _analyze(analysis: str, out: Path, label: str, path: str, spec: str | None, dataset: str) -> dict:  # type: ignore[type-arg]
    """One model's `mmsy analyze` result, run into `out` unless a result there is for the same
    model, amplification and settings."""
    expected = {"dataset": dataset, "mode": "option", "option_choice": "sum", "limit": None, "n_bootstrap": 1000,
                "seed": 0, "batch_size": 32}
    done = out / f"{analysis}.json"
    if done.is_file():
        previous = json.loads(done.read_text())
        (model,) = previous["models"]
        if (model["label"], model["model"], (model["amplify"] or {}).get("spec"), previous["settings"]) == (
            label, path, spec and _spec(spec), expected
        ):
            return previous  # type: ignore[no-any-return]
    argv = ["analyze", analysis, "--model", path, "--label", label, "--dataset", dataset, "--out", str(out),
            "--mode", "option", "--no-progress", *(["--amplify", spec] if spec else [])]
    assert mmsy(argv) == 0, f"{analysis} of {label} failed"
    return json.loads(done.read_text())  # type: ignore[no-any-return]


def _spec(spec: str) -> str:
    from mmsy_dataset.engine.config import AmplifySettings

    return AmplifySettings.parse(spec).spec


def _without_amplify(model: dict) -> dict:  # type: ignore[type-arg]
    return {k: v for k, v in model.items() if k != "amplify"}


if __name__ == "__main__":
    main()
