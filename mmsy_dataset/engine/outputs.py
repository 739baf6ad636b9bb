"""The output folder: append-only JSONL with crash repair, transcripts, run.json, resume checks.

Layout of `--out`:
    run.json               settings, model + weights fingerprint, dataset version + checksum, versions, stats
    predictions.jsonl      one `Prediction` per record, appended chunk by chunk (the commit log)
    transcripts/<config>.jsonl   one line per dialogue: every round's exact prompt and answer
    metrics.json, plots/*.png    written at the end (see `report.py`)

A chunk's transcripts are written before its predictions: a prediction line is the proof that a
dialogue is finished. On resume, a torn last line is cut off, and transcripts of dialogues
without a prediction (or duplicated by a crash between the two writes) are dropped.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmsy_dataset.errors import MmsyError
from mmsy_dataset.predictions import Prediction, prediction_line, read_predictions

PREDICTIONS = "predictions.jsonl"
RUN = "run.json"
TRANSCRIPTS = "transcripts"
METRICS = "metrics.json"
PLOTS = "plots"


class RunFolderError(MmsyError):
    """The output folder holds a run that cannot be resumed with these settings."""


def repair_jsonl(path: Path) -> int:
    """Cut a torn last line (no newline, or not valid JSON) off `path`; returns bytes removed."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = len(data)
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
    else:
        start = data.rfind(b"\n", 0, max(0, keep - 1)) + 1
        try:
            if data[start:keep].strip():
                json.loads(data[start:keep])
        except json.JSONDecodeError:
            keep = start
    if keep != len(data):
        with path.open("r+b") as handle:
            handle.truncate(keep)
    return len(data) - keep


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise RunFolderError(
                    f"{path}: line {number}: not valid JSON ({err.msg}); delete the line or rerun with --overwrite"
                ) from None
    return rows


def append_jsonl(path: Path, rows: Iterable[dict[str, Any] | str]) -> None:
    """Append rows (dicts, or lines already serialised) in one write, flushed to disk: a crash
    leaves at most one torn last line."""
    text = "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


class RunFolder:
    """One run's output folder."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    @property
    def predictions_path(self) -> Path:
        return self.out / PREDICTIONS

    def transcript_path(self, config: str) -> Path:
        return self.out / TRANSCRIPTS / f"{config}.jsonl"

    def clear(self) -> None:
        for name in (PREDICTIONS, RUN, METRICS):
            (self.out / name).unlink(missing_ok=True)
        for name in (TRANSCRIPTS, PLOTS):
            shutil.rmtree(self.out / name, ignore_errors=True)

    def start(self, settings: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
        """Prepare the folder; returns the previous run.json when resuming, None for a fresh run.

        Refuses to mix settings: a finished or partial run with other settings stays intact.
        Creates nothing: the folder appears with the first file written, so a run that fails
        before it starts (a missing model, an unreachable server) leaves no empty folder.
        """
        if overwrite:
            self.clear()
            return None
        run_path = self.out / RUN
        if not run_path.exists():
            if self.predictions_path.exists():
                raise RunFolderError(
                    f"{self.predictions_path}: predictions without {RUN}; cannot tell their settings. "
                    "Use another --out folder or pass --overwrite"
                )
            return None
        previous: dict[str, Any] = json.loads(run_path.read_text(encoding="utf-8"))
        old = previous.get("settings", {})
        changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if changed:
            diff = "; ".join(f"{k}: {old.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise RunFolderError(
                f"{run_path}: this folder holds a run with different settings ({diff}). "
                "Resume with the same arguments, use another --out folder, or pass --overwrite"
            )
        return previous

    def finished_ids(self) -> set[str]:
        """Record ids with a prediction on disk, after repairing a torn tail; drops orphan and
        duplicated transcript lines so that they match the predictions."""
        repair_jsonl(self.predictions_path)
        rows = read_jsonl(self.predictions_path)
        done = [row["record_id"] for row in rows]
        if len(done) != len(set(done)):  # a crash cannot do this, but a hand-merged file can
            rows = list({row["record_id"]: row for row in reversed(rows)}.values())[::-1]
            self.predictions_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        finished = {row["record_id"] for row in rows}
        folder = self.out / TRANSCRIPTS
        for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
            repair_jsonl(path)
            kept, seen = [], set()
            for row in read_jsonl(path):
                rid = str(row.get("record_id"))
                if rid in finished and rid not in seen:
                    seen.add(rid)
                    kept.append(row)
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        return finished

    def append(self, predictions: list[Prediction], transcripts: list[dict[str, Any]]) -> None:
        by_config: dict[str, list[dict[str, Any]]] = {}
        for row in transcripts:
            by_config.setdefault(row["config"], []).append(row)
        for config, rows in by_config.items():
            append_jsonl(self.transcript_path(config), rows)
        append_jsonl(self.predictions_path, (prediction_line(p) for p in predictions))

    def predictions(self) -> list[Prediction]:
        """The run's predictions, read by the library's own reader."""
        return read_predictions(self.predictions_path) if self.predictions_path.exists() else []

    def write_run(self, info: dict[str, Any]) -> None:
        write_json(self.out / RUN, info)
