"""`mmsy merge`: join the shards of one evaluation into the folder an unsharded run would write.

Merging is where mistakes of a split run surface, so it refuses rather than guesses: every
shard must come from the same model weights, the same result-defining settings and the same
dataset version, the shards must be exactly 0..n-1 of one `n`, and each must have finished
its share. Predictions and transcripts are then written in dataset order and metrics.json and
the plots are recomputed from the merged predictions with the run's own bootstrap settings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mmsy_dataset.engine.outputs import (
    PREDICTIONS,
    RUN,
    TRANSCRIPTS,
    RunFolder,
    RunFolderError,
    append_jsonl,
    read_jsonl,
)
from mmsy_dataset.engine.shard import SHARD_FILE, read_shard_file
from mmsy_dataset.errors import MmsyError

_SHARD_DIR = re.compile(r"^shard-(\d+)-of-(\d+)$")
#: Dataset facts that must agree; the folder path may differ between machines.
DATASET_KEYS = ("version", "seed", "checksum", "data_checksum", "records")
MODEL_KEYS = ("adapter", "model_id")


class MergeError(MmsyError):
    """Shard folders that cannot be merged into one run."""


def expand(dirs: Sequence[Path]) -> list[Path]:
    """Shard folders; a folder holding `shard-i-of-n` subfolders (the `--out` of a sharded
    run) stands for all of them."""
    out: list[Path] = []
    for folder in dirs:
        subs = sorted(p for p in folder.glob("shard-*-of-*") if p.is_dir() and _SHARD_DIR.match(p.name))
        out.extend(subs if subs and not (folder / SHARD_FILE).exists() else [folder])
    return out


def _load(folder: Path) -> dict[str, Any]:
    import json

    path = folder / RUN
    if not path.is_file():
        raise MergeError(f"{path}: missing; not a run folder of `mmsy eval --shard`")
    run: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    try:
        shard = read_shard_file(folder)
    except FileNotFoundError as err:
        raise MergeError(str(err)) from None
    return {"folder": folder, "run": run, "shard": shard}


def _differences(name: str, values: dict[Path, Any]) -> list[str]:
    first_folder, first = next(iter(values.items()))
    return [
        f"{name}: {first!r} in {first_folder} but {value!r} in {folder}"
        for folder, value in values.items()
        if value != first
    ]


def check_compatible(shards: list[dict[str, Any]]) -> int:
    """Raise `MergeError` naming every mismatch; returns the shard count."""
    problems: list[str] = []
    settings = {s["folder"]: {k: v for k, v in s["run"].get("settings", {}).items() if k != "shard"} for s in shards}
    keys = sorted({k for v in settings.values() for k in v})
    for key in keys:
        problems += _differences(f"setting {key}", {f: v.get(key) for f, v in settings.items()})
    for key in MODEL_KEYS:
        problems += _differences(f"model {key}", {s["folder"]: s["run"].get("model", {}).get(key) for s in shards})
    weights = {s["folder"]: (s["run"].get("model", {}).get("weights") or {}) for s in shards}
    problems += _differences("model weights", {f: w.get("combined", w.get("files")) for f, w in weights.items()})
    for key in DATASET_KEYS:
        problems += _differences(f"dataset {key}", {s["folder"]: s["run"].get("dataset", {}).get(key) for s in shards})
    problems += _differences("scoring mode used", {s["folder"]: s["run"].get("mode", {}).get("used") for s in shards})
    problems += _differences("shard count", {s["folder"]: s["shard"]["count"] for s in shards})
    problems += _differences("dataset records", {s["folder"]: s["shard"]["total_records"] for s in shards})
    if problems:
        raise MergeError("cannot merge runs that differ:\n  " + "\n  ".join(problems))
    count = int(shards[0]["shard"]["count"])
    seen: dict[int, list[Path]] = {}
    for s in shards:
        seen.setdefault(int(s["shard"]["index"]), []).append(s["folder"])
    missing = [i for i in range(count) if i not in seen]
    twice = {i: folders for i, folders in seen.items() if len(folders) > 1}
    if missing or twice:
        parts = [f"shard(s) {missing} of {count} missing"] if missing else []
        parts += [f"shard {i} given {len(f)} times ({', '.join(map(str, f))})" for i, f in sorted(twice.items())]
        raise MergeError("; ".join(parts) + "; pass each shard folder 0..n-1 exactly once")
    return count


def _finished_rows(shard: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(dataset position, prediction row) of a shard that finished its share, else an error."""
    folder, positions = shard["folder"], shard["shard"]["positions"]
    rows = read_jsonl(folder / PREDICTIONS)
    have = {row["record_id"]: row for row in rows}
    missing = [rid for rid in positions if rid not in have]
    if missing or shard["run"].get("finished") is None:
        raise MergeError(
            f"{folder}: shard {shard['shard']['index']} is unfinished ({len(missing)} of {len(positions)} "
            f"records without a prediction, e.g. {missing[:3]}); resume it with the same `mmsy eval` command"
        )
    extra = [rid for rid in have if rid not in positions]
    if extra:
        raise MergeError(f"{folder / PREDICTIONS}: records {extra[:3]} do not belong to this shard")
    return [(positions[rid], row) for rid, row in have.items()]


def _transcripts(shards: list[dict[str, Any]], order: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    by_config: dict[str, list[dict[str, Any]]] = {}
    for shard in shards:
        folder = shard["folder"] / TRANSCRIPTS
        for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
            by_config.setdefault(path.stem, []).extend(r for r in read_jsonl(path) if r.get("record_id") in order)
    return {c: sorted(rows, key=lambda r: order[r["record_id"]]) for c, rows in by_config.items()}


def _sum_stats(shards: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for shard in shards:
        for key, value in (shard["run"].get("stats") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "dialogues_per_second":
                total[key] = total.get(key, 0) + value
            elif isinstance(value, dict):
                sub = total.setdefault(key, {})
                for k, v in value.items():
                    sub[k] = sub.get(k, 0) + v
            else:
                total.setdefault(key, value)
    return total


def merge_runs(dirs: Sequence[str | Path], out: str | Path, overwrite: bool = False, console: Any = None) -> Path:
    """Merge shard folders into `out`; returns `out`. See the module docstring for the checks."""
    from rich.console import Console

    from mmsy_dataset.engine.report import compute_metrics, summary_table, write_metrics, write_plots
    from mmsy_dataset.predictions import Prediction, prediction_line

    console = console or Console(stderr=True)
    folders = expand([Path(d) for d in dirs])
    if not folders:
        raise MergeError("no shard folders given")
    shards = [_load(f) for f in folders]
    check_compatible(shards)
    rows = sorted((pair for s in shards for pair in _finished_rows(s)), key=lambda pair: pair[0])
    order = {row["record_id"]: pos for pos, row in rows}

    target = RunFolder(out)
    target.out.mkdir(parents=True, exist_ok=True)
    if (target.out / RUN).exists() or target.predictions_path.exists():
        if not overwrite:
            raise RunFolderError(f"{target.out}: already holds a run; choose another --out or pass --overwrite")
        target.clear()
    for config, transcript_rows in _transcripts(shards, order).items():
        append_jsonl(target.transcript_path(config), transcript_rows)
    predictions = [Prediction.model_validate(row) for _, row in rows]
    append_jsonl(target.predictions_path, (prediction_line(p) for p in predictions))

    first = shards[0]["run"]
    settings = {**first["settings"], "shard": None}
    mode = first.get("mode", {}).get("used") or settings.get("mode")
    field = "scores_norm" if mode == "option" and settings.get("option_choice") == "norm" else "scores"
    if predictions:
        n_bootstrap, seed = int(settings.get("n_bootstrap", 1000)), int(settings.get("seed", 0))
        report = compute_metrics(predictions, n_bootstrap, seed, field)
        write_metrics(target.out, report)
        model_id = first.get("model", {}).get("model_id", "")
        write_plots(target.out, report, title=f"({model_id})")
        console.print(summary_table(report, title=f"MM-SY · {model_id} · {mode} mode · {len(shards)} shards merged"))
    target.write_run(
        {
            "settings": settings,
            "model": first.get("model"),
            "dataset": first.get("dataset"),
            "mode": first.get("mode"),
            "versions": first.get("versions"),
            "merged_from": [
                {
                    "folder": str(s["folder"]),
                    "shard": s["shard"]["index"],
                    "records": len(s["shard"]["positions"]),
                    "started": s["run"].get("started"),
                    "finished": s["run"].get("finished"),
                    "versions": s["run"].get("versions"),
                }
                for s in sorted(shards, key=lambda s: int(s["shard"]["index"]))
            ],
            "merged": datetime.now(UTC).isoformat(timespec="seconds"),
            "stats": _sum_stats(shards),
        }
    )
    return target.out
