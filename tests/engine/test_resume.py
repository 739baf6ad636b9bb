"""A run killed with SIGKILL midway finishes on restart: no duplicates, no lost rows."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mmsy_dataset.cli import main
from tests.engine.helpers import make_records, save_tiny, write_dataset

# The child runs the real CLI, one question per chunk, and SIGKILLs itself once its third
# chunk is on disk: killed midway, at the same point however fast the machine is.
KILLED_AFTER = 3
CHILD = f"""
import os, signal, sys
from mmsy_dataset.engine import outputs
append = outputs.RunFolder.append
written = []
def append_then_die(self, *a):
    append(self, *a)
    written.append(1)
    if len(written) == {KILLED_AFTER}:
        os.kill(os.getpid(), signal.SIGKILL)
outputs.RunFolder.append = append_then_die
from mmsy_dataset.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _args(model: Path, data: Path, out: Path) -> list[str]:
    return ["eval", "--model", str(model), "--dataset", str(data), "--out", str(out),
            "--chunk-questions", "1", "--n-bootstrap", "20", "--no-progress"]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(tmp_path):
    model, data, out = tmp_path / "model", tmp_path / "data", tmp_path / "out"
    records = make_records(n_questions=4)
    save_tiny(model)
    write_dataset(data, records)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.run([sys.executable, "-c", CHILD, *_args(model, data, out)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    predictions = out / "predictions.jsonl"
    partial = len(_lines(predictions))
    assert partial == KILLED_AFTER * len(records) // 4  # four questions, one a chunk

    with predictions.open("a") as handle:  # as if the kill had torn a line
        handle.write('{"record_id": "q3-syc')
    assert main(_args(model, data, out)) == 0
    ids = [json.loads(line)["record_id"] for line in _lines(predictions)]
    assert len(ids) == len(set(ids)) == len(records)
    assert set(ids) == {r.id for r in records}
    run = json.loads((out / "run.json").read_text())
    assert run["resumed"] == 1 and run["stats"]["skipped_finished"] == partial
    transcripts = [json.loads(x)["record_id"] for p in (out / "transcripts").glob("*.jsonl") for x in _lines(p)]
    assert sorted(transcripts) == sorted(ids)
