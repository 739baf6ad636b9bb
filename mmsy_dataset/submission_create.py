"""`mmsy submission create`: turn an evaluation run folder into a leaderboard submission.

Everything a submission states about the run is read from what the run wrote, not retyped:
the model's weights fingerprint or Hub revision, the dataset version and checksum and the
scoring mode from `run.json`, the predictions from `predictions.jsonl`. Only what a run cannot
know (the display name, the mitigation, free-text details) comes from the command line. The
file is validated with the same validator as `mmsy submission validate` before it is written,
and written atomically: a run that is unfinished, half-written or invalid produces no file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmsy_dataset.errors import InputError
from mmsy_dataset.submission import (
    FORMAT_VERSION,
    MAX_BYTES,
    Mitigation,
    SubmissionError,
    validate_submission_data,
)

RUN = "run.json"
PREDICTIONS = "predictions.jsonl"
SHARD_FILE = "shard.json"


@dataclass(frozen=True)
class Created:
    """What was written."""

    path: Path
    n_predictions: int
    checked_against_dataset: Path | None
    """The dataset folder the records were checked against (None: header and records only)."""


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN
    if not run_dir.is_dir():
        raise InputError("not a folder; expected the --out folder of `mmsy eval` or `mmsy merge`", file=run_dir)
    if not path.is_file():
        raise InputError(f"missing; {run_dir} is not the --out folder of `mmsy eval` or `mmsy merge`", file=path)
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"not valid JSON ({error})", file=path) from None
    if not isinstance(run, dict):
        raise InputError("expected a JSON object", file=path)
    return run


def _read_predictions(run_dir: Path) -> list[dict[str, Any]]:
    """The prediction rows; a missing file or a torn last line (a run cut off mid-write) is an error."""
    path = run_dir / PREDICTIONS
    if not path.is_file():
        raise InputError("missing: the run has written no predictions; run (or resume) `mmsy eval`", file=path)
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.count(b"\n") + 1
        raise InputError(
            f"line {cut} is cut off (the run was interrupted while writing); resume it with the same `mmsy eval`",
            file=path,
        )
    rows = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"line {number} is not valid JSON ({error.msg}); the file is damaged", file=path) from None
        if not isinstance(row, dict):
            raise InputError(f"line {number}: expected a JSON object", file=path)
        rows.append(row)
    if not rows:
        raise InputError("empty: the run has written no predictions; run (or resume) `mmsy eval`", file=path)
    return rows


def _check_finished(run_dir: Path, run: dict[str, Any], n_rows: int) -> None:
    path = run_dir / RUN
    settings = run.get("settings") or {}
    if (run_dir / SHARD_FILE).exists() or settings.get("shard"):
        raise InputError("this is one shard of a split run; join the shards with `mmsy merge` first", file=path)
    if run.get("finished") is None and run.get("merged") is None:
        raise InputError(
            "the run has not finished (no finish time); resume it with the same `mmsy eval` command", file=path
        )
    expected = (run.get("dataset") or {}).get("records")
    if isinstance(expected, dict) and all(isinstance(v, int) for v in expected.values()):
        total = sum(expected.values())
        if n_rows < total:
            raise InputError(
                f"{n_rows} predictions for the {total} records the run was given; resume it with the same `mmsy eval`",
                file=run_dir / PREDICTIONS,
            )


def safetensors_parameters(folder: Path) -> int | None:
    """Parameter count from the safetensors headers of a local model folder (no tensor is read)."""
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not files:
        return None
    total = 0
    for path in files:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        total += sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")
    return total


def _model_info(
    run: dict[str, Any], run_path: Path, name: str, revision: str | None, parameters: int | None
) -> dict[str, Any]:
    model = run.get("model") or {}
    weights = model.get("weights") or {}
    source = str((run.get("settings") or {}).get("model") or "")
    info: dict[str, Any] = {"name": name}
    revision = revision or weights.get("revision")
    if revision:
        info["revision"] = revision
    if weights.get("combined"):
        info["weights_sha256"] = weights["combined"]
    if "revision" not in info and "weights_sha256" not in info:
        raise InputError(
            "the run recorded neither a weights checksum nor a Hub revision (an API model?); pass --revision",
            file=run_path,
            field="model.weights",
        )
    count = parameters or (safetensors_parameters(Path(source)) if source else None)
    if not count:
        raise InputError(
            f"cannot count the parameters: {source or 'the model'} is not a local safetensors folder; "
            "pass --parameters",
            file=run_path,
            field="settings.model",
        )
    info["parameters"] = count
    return info


def build_submission(
    run_dir: str | Path,
    name: str,
    *,
    mitigation: str | None = None,
    details: str | None = None,
    submitted_by: str | None = None,
    revision: str | None = None,
    parameters: int | None = None,
) -> dict[str, Any]:
    """The submission dict of a finished (or merged) run folder; raises `InputError` on a bad run."""
    folder = Path(run_dir)
    run = _read_run(folder)
    rows = _read_predictions(folder)
    _check_finished(folder, run, len(rows))
    dataset = run.get("dataset") or {}
    mode = (run.get("mode") or {}).get("used") or (run.get("settings") or {}).get("mode")
    if mitigation is None:
        prompted = (run.get("settings") or {}).get("prompt_baseline")
        mitigation = Mitigation.PROMPT.value if prompted else Mitigation.NONE.value
    submission: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": _model_info(run, folder / RUN, name, revision, parameters),
        "mitigation": mitigation,
        "mode": mode,
        "dataset": {"version": dataset.get("version"), "checksum": dataset.get("checksum")},
    }
    if details:
        submission["mitigation_details"] = details
    if submitted_by:
        submission["submitted_by"] = submitted_by
    submission["predictions"] = rows
    return submission


def _dataset_folder(run: dict[str, Any], dataset: str | Path | None) -> Path | None:
    if dataset is not None:
        return Path(dataset)
    recorded = (run.get("dataset") or {}).get("folder")
    if recorded and (Path(recorded) / "mmsy_manifest.json").is_file():
        return Path(recorded)
    return None


def create_submission(
    run_dir: str | Path,
    out: str | Path,
    name: str,
    *,
    dataset: str | Path | None = None,
    overwrite: bool = False,
    **fields: Any,
) -> Created:
    """Write the submission of `run_dir` to `out` once it validates; nothing is written otherwise.

    The records are checked against `dataset`, or the dataset folder recorded in `run.json`
    when it is still there; `fields` are `build_submission`'s keyword arguments.
    """
    from mmsy_dataset.scoring.dataset_index import load_dataset_index

    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError("exists; choose another --out or pass --overwrite", file=out)
    submission = build_submission(run_dir, name, **fields)
    folder = _dataset_folder(_read_run(Path(run_dir)), dataset)
    index = load_dataset_index(folder) if folder is not None else None
    problems, _ = validate_submission_data(submission, index)
    if problems:
        raise SubmissionError(out, problems)
    text = json.dumps(submission, ensure_ascii=False, separators=(",", ":")) + "\n"
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise InputError(f"{size:,} bytes, over the {MAX_BYTES:,}-byte submission limit", file=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return Created(out, len(submission["predictions"]), folder)
