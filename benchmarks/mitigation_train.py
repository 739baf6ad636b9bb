"""Time of the reference model's SFT and DPO mitigation runs (baselines/sft, baselines/dpo).

    python benchmarks/mitigation_train.py --dataset mmsy-data [--steps 4] [--threads 1,2]
        [--runs runs/ref-sft runs/ref-dpo] [--json OUT.json]

Part 1 trains each recipe for a few optimiser steps with every thread count asked for and
reports rows per second and the full run's projected minutes (rows / speed). Part 2 reads the
recorded time of finished runs (`mmsy_train.json` in each model folder, written by `mmsy train`).
Training time only: dataset conversion, the mix's image rendering and model loading come on top
(about a minute). On a shared machine the numbers are lower bounds of the speed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RECIPES = {"sft": ROOT / "baselines/sft/reference.json", "dpo": ROOT / "baselines/dpo/reference.json"}


def rows_of(method: str, settings: dict, dataset: str) -> int:
    from mmsy_dataset.hub.reader import read_columns

    n = len(read_columns(dataset, method, "train", ["id"])["id"])
    n = min(n, settings.get("limit") or n)
    return round(n * (1 + settings.get("mix_reference_ratio", 0.0))) * int(settings.get("num_train_epochs", 1))


def measure(method: str, threads: int, steps: int, dataset: str) -> dict:
    from mmsy_dataset.mitigation.config import load_settings, read_config_file
    from mmsy_dataset.mitigation.train import run_training

    data = read_config_file(RECIPES[method])
    data.update(max_steps=steps, torch_threads=threads, limit=steps * data["per_device_train_batch_size"])
    data.pop("mix_reference_ratio", None)  # the mix's rows cost what SFT rows cost; skip rendering them
    settings = load_settings(method, data)
    with tempfile.TemporaryDirectory() as out:
        result = run_training(settings, dataset, Path(out) / "run", progress=False)
    speed = steps * settings.per_device_train_batch_size / result.seconds
    full = read_config_file(RECIPES[method])
    return {
        "method": method,
        "threads": threads,
        "steps": steps,
        "seconds": result.seconds,
        "rows_per_second": round(speed, 2),
        "projected_minutes": round(rows_of(method, full, dataset) / speed / 60, 1),
    }


def recorded(folder: Path) -> dict | None:
    path = folder / "mmsy_train.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    result = data.get("result") or {}
    return {"run": str(folder), "method": data.get("method"), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="an `mmsy build` folder with sft and dpo")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--methods", default="sft,dpo")
    parser.add_argument("--runs", nargs="*", type=Path, default=[], help="finished run folders to report")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    console = Console()
    rows = []
    for method in args.methods.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            started = time.perf_counter()
            rows.append(measure(method, threads, args.steps, args.dataset))
            console.print(f"{method} with {threads} thread(s): {time.perf_counter() - started:.0f} s")
    table = Table("method", "threads", "rows/s", "projected full run (min)")
    for r in rows:
        table.add_row(r["method"], str(r["threads"]), f"{r['rows_per_second']:.2f}", f"{r['projected_minutes']:.1f}")
    console.print(table)
    runs = [r for r in (recorded(f) for f in args.runs) if r is not None]
    for r in runs:
        console.print(f"{r['run']}: {r['method']} {r['rows']} rows, {r['steps']} steps, {r['seconds'] / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps({"speed": rows, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
