"""Fuzzing the parsers of user files: predictions, submissions, released-MM-SY rows, TDIUC JSON,
`mmsy_manifest.json`.

Each parser gets `MMSY_FUZZ_EXAMPLES` (default 1,000) inputs per run, made by hypothesis from a
valid input: values replaced by others of any JSON type (or none), keys dropped or added, texts
edited, and, for files, bytes flipped, cut or inserted after serialisation. A parser may accept
an input or refuse it with one of the project's errors (`MmsyError`: the message names the file,
record and field); anything else (a TypeError deep inside, a KeyError) fails the test, and so does
a call that takes more than `HANG_SECONDS`. The run's seed is printed on failure;
`MMSY_FUZZ_SEED=<seed>` replays it.
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from mmsy_dataset.errors import MmsyError

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MMSY_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
EXAMPLES = int(os.environ.get("MMSY_FUZZ_EXAMPLES", "1000"))
HANG_SECONDS = 10.0

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=(Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
)

LEAVES: list[Any] = [None, True, False, 0, -1, 1, 4, 2**70, -(2**63), 0.5, float("inf"), float("-inf"), float("nan"),
                     "", " ", "A", "E", "z", "(A) red (B) blue", "-Infinity", "NaN", "letter", "sycophancy", "\x00",
                     "../../etc/passwd", "/etc/hostname", "COCO_val2014_000000000001", "é" * 3, [], {}, [1, "a"],
                     {"k": None}]
TEXT_BITS = ["(", ")", "A", "B", "E", "1", " ", "?", "\n", "(A)", "(E)", "é", "\ud7ff", '"', "\\"]
BYTE_BITS = [b"{", b"}", b"[", b"]", b'"', b",", b"null", b"\xff", b"\x00", b"-Infinity", b"1e999", b"\n", b"\\u"]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _paths(value, (*prefix, index))


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value (and the odd float JSON cannot hold), nested at most twice."""
    kind = rng.random()
    if depth < 2 and kind < 0.15:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if depth < 2 and kind < 0.25:
        keys = ["", "a", "round", "choice", "scores"]
        return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randrange(3))}
    return copy.deepcopy(rng.choice(LEAVES))


def mutate(base: Any, rng: random.Random, fixed_depth: int = 0) -> Any:
    """`base` with 1-3 edits anywhere below depth `fixed_depth` (whose keys stay: a parquet row
    always has its columns, for instance): values replaced by any other, keys dropped or added,
    list items duplicated, texts edited."""
    obj = copy.deepcopy(base)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(obj) if len(p) > fixed_depth]
        if not paths:
            break
        path = rng.choice(paths)
        parent, key = _get(obj, path[:-1]), path[-1]
        value = parent[key]
        op = rng.choice(("replace", "delete", "add", "edit_text", "edit_text", "duplicate"))
        if op == "edit_text" and isinstance(value, str):
            at = rng.randint(0, len(value))
            parent[key] = value[:at] + rng.choice(TEXT_BITS) + value[at + rng.randint(0, 3) :]
        elif op == "delete" and len(path) > fixed_depth + 1:
            del parent[key]
        elif op == "add" and isinstance(value, dict):
            value[rng.choice(["x", "round", "choice", "mode", ""])] = _value(rng)
        elif op == "add" and isinstance(value, list):
            value.insert(rng.randint(0, len(value)), _value(rng))
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(value))
        else:
            parent[key] = _value(rng)
    return obj


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "delete", "insert", "truncate"))
        at = rng.randrange(max(1, len(out)))
        if op == "flip" and out:
            out[at] = rng.randrange(256)
        elif op == "delete":
            del out[at : at + rng.randint(1, 8)]
        elif op == "insert":
            out[at:at] = rng.choice(BYTE_BITS)
        elif op == "truncate":
            del out[at:]
    return bytes(out)


def dump(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


def file_input(base: Any, rng: random.Random) -> bytes:
    """A serialised input: a mutated object, the valid text with bytes mutated, or both."""
    how = rng.randrange(3)
    if how == 0:
        return dump(mutate(base, rng))
    if how == 1:
        return mutate_bytes(dump(base), rng)
    return mutate_bytes(dump(mutate(base, rng)), rng)


@contextmanager
def no_hang(what: str) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"{what}: no answer after {HANG_SECONDS} s (a hang)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_fuzz(name: str, make: Callable[[random.Random], Any], parse: Callable[[Any], Any]) -> None:
    """Feed `parse` `EXAMPLES` inputs, each made by `make` from a seed hypothesis draws (mutating
    with a seeded `random.Random` keeps an input to microseconds, so 1,000 per parser fit a CI
    run); only `MmsyError` may come out."""
    print(f"fuzz {name}: seed {SEED} (replay: MMSY_FUZZ_SEED={SEED}), {EXAMPLES} inputs")
    seen = [0]

    @seed(SEED)
    @FUZZ
    @given(st.integers(min_value=0, max_value=2**64 - 1))
    def check(input_seed: int) -> None:
        seen[0] += 1
        data = make(random.Random(input_seed))
        with no_hang(name), suppress(MmsyError):
            parse(data)

    check()
    assert seen[0] >= EXAMPLES, f"fuzz {name}: only {seen[0]} inputs (seed {SEED})"


# -- the parsers ---------------------------------------------------------------------------------


def _predictions() -> list[Any]:
    from tests.scoring.helpers import dataset_predictions

    return dataset_predictions(right={"q1"}, gives_in={"q1"})


def test_fuzz_prediction_lines() -> None:
    from mmsy_dataset.predictions import Prediction, Turn, parse_prediction
    from mmsy_dataset.validation import check_predictions

    base = Prediction(record_id="syc-1", config="sycophancy", question_id="q1", task="color", tone="strong",
                      mode="letter", n_options=4, answer_letter="A", push_letter="B",
                      rounds=[Turn(round=1, scores=[0.0, -1.0, float("-inf"), -2.0], choice="A"),
                              Turn(round=2, scores=[-1.0, 0.0, -3.0, -2.0], choice="B")])
    raw = json.loads(base.model_dump_json())

    def parse(data: bytes) -> None:
        check_predictions([parse_prediction(data, "fuzz:1")])

    run_fuzz("predictions", lambda rng: file_input(raw, rng), parse)


def test_fuzz_submissions(tmp_path: Path) -> None:
    from mmsy_dataset.scoring.dataset_index import DatasetIndex, RecordFacts
    from mmsy_dataset.submission import read_submission_json, validate_submission_data

    preds = _predictions()
    facts = {p.record_id: RecordFacts(config=p.config, question_id=p.question_id, n_options=p.n_options,
                                      answer_letter=p.answer_letter, push_letter=p.push_letter, task=p.task.value,
                                      tone=p.tone.value if p.tone else None, n_pushes=max(1, len(p.rounds) - 1))
             for p in preds}
    index = DatasetIndex(version="1.0.0", checksum="0" * 64, records=facts)
    base = {
        "format_version": 1,
        "model": {"name": "tiny", "revision": "abc", "parameters": 10},
        "mitigation": "none",
        "mode": preds[0].mode.value,
        "dataset": {"version": "1.0.0", "checksum": "0" * 64},
        "predictions": [json.loads(p.model_dump_json()) for p in preds[:4]],
    }
    path = tmp_path / "submission.json"

    def parse(data: bytes) -> None:
        path.write_bytes(data)
        raw, problems = read_submission_json(path)
        if not problems:
            validate_submission_data(raw, index)
            validate_submission_data(raw, None)

    run_fuzz("submissions", lambda rng: file_input(base, rng), parse)


def test_fuzz_release_rows(tmp_path: Path) -> None:
    from mmsy_dataset.sources.release import ReleaseSource
    from tests.sources.tdiuc_fixture import release_rows, write_release

    rows = release_rows(1)[:3]
    file = write_release(tmp_path / "release.parquet", rows)

    def parse(mutated_rows: list[dict[str, Any]]) -> None:
        source = ReleaseSource(path=file)
        source._parse([(file, i, row) for i, row in enumerate(mutated_rows)], {})

    run_fuzz("released MM-SY rows", lambda rng: mutate(rows, rng, fixed_depth=2), parse)


def test_fuzz_tdiuc_json(tmp_path: Path) -> None:
    from mmsy_dataset.sources.tdiuc_files import annotations_file, load_split, questions_file
    from tests.sources.tdiuc_fixture import split_entries

    questions, annotations = split_entries("val2014", per_type=1)
    base = {"questions": {"questions": questions[:6]}, "annotations": {"annotations": annotations[:6]}}
    q_path, a_path = questions_file(tmp_path, "val2014"), annotations_file(tmp_path, "val2014")
    q_path.parent.mkdir(parents=True, exist_ok=True)
    a_path.parent.mkdir(parents=True, exist_ok=True)

    def make(rng: random.Random) -> tuple[bytes, bytes]:
        which = rng.randrange(3)  # questions, annotations, or both
        q = file_input(base["questions"], rng) if which != 1 else None
        a = file_input(base["annotations"], rng) if which != 0 else None
        return q or valid_q, a or valid_a
    valid_q, valid_a = (json.dumps(base[k]).encode() for k in ("questions", "annotations"))

    def parse(data: tuple[bytes, bytes]) -> None:
        q_path.write_bytes(data[0])
        a_path.write_bytes(data[1])
        load_split(tmp_path, "val2014")

    assert load_split_ok(tmp_path, valid_q, valid_a, q_path, a_path)
    run_fuzz("TDIUC JSON", make, parse)


def load_split_ok(root: Path, q: bytes, a: bytes, q_path: Path, a_path: Path) -> bool:
    """The unmutated files parse (the fuzz starts from valid input)."""
    from mmsy_dataset.sources.tdiuc_files import load_split

    q_path.write_bytes(q)
    a_path.write_bytes(a)
    return bool(load_split(root, "val2014"))


def test_fuzz_manifest(tmp_path: Path) -> None:
    from mmsy_dataset.hub.manifest import MANIFEST, read_manifest, verify_folder

    data = tmp_path / "data" / "sycophancy"
    data.mkdir(parents=True)
    (data / "test-00000-of-00001.parquet").write_bytes(b"not really parquet")
    base = {
        "name": "mmsy", "version": "1.0.0", "seed": 0, "source": "synthetic", "checksum": "0" * 64,
        "counts": {"sycophancy": {"test": 3}},
        "files": {"data/sycophancy/test-00000-of-00001.parquet": "0" * 64, "README.md": "1" * 64},
        "build": {"seed": 0, "configs": ["sycophancy"]}, "source_info": {"name": "synthetic"},
    }
    (tmp_path / MANIFEST).write_text(json.dumps(base))
    read_manifest(tmp_path)

    def parse(data: bytes) -> None:
        (tmp_path / MANIFEST).write_bytes(data)
        read_manifest(tmp_path)
        verify_folder(tmp_path)

    run_fuzz("mmsy_manifest.json", lambda rng: file_input(base, rng), parse)


@pytest.mark.parametrize("name", ["predictions"])
def test_prediction_round_trip_is_the_identity(name: str, tmp_path: Path) -> None:
    """write_predictions then read_predictions gives back every value the schema allows
    (-inf scores, None fields, unicode text), in order."""
    from mmsy_dataset.predictions import Prediction, read_predictions, write_predictions

    scores = st.lists(st.one_of(st.floats(allow_nan=False), st.just(float("-inf"))), min_size=4, max_size=4)
    text = st.one_of(st.none(), st.text(max_size=30))
    turn = st.builds(dict, scores=st.one_of(st.none(), scores), scores_norm=st.one_of(st.none(), scores),
                     choice=st.one_of(st.none(), st.sampled_from("ABCD")), text=text)
    record = st.builds(
        dict,
        record_id=st.text(min_size=1, max_size=20),
        config=st.sampled_from(["sycophancy", "correction_with_answer", "correction_without_answer", "multi_round"]),
        question_id=st.text(min_size=1, max_size=10),
        task=st.sampled_from(["color", "counting", "attribute"]),
        tone=st.one_of(st.none(), st.sampled_from(["suggestive", "euphemistic", "strong"])),
        mode=st.sampled_from(["letter", "option", "text"]),
        answer_letter=st.sampled_from("ABCD"),
        push_letter=st.one_of(st.none(), st.sampled_from("ABCD")),
        rounds=st.lists(turn, min_size=1, max_size=6),
    )
    path = tmp_path / "p.jsonl"
    print(f"round trip: seed {SEED} (replay: MMSY_FUZZ_SEED={SEED})")

    @seed(SEED)
    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(record, max_size=5))
    def check(raw: list[dict[str, Any]]) -> None:
        preds = [Prediction(**{**r, "n_options": 4,
                               "rounds": [{**t, "round": i} for i, t in enumerate(r["rounds"], start=1)]})
                 for r in raw]
        write_predictions(path, preds)
        assert read_predictions(path) == preds

    check()


def test_files_of_earlier_versions_still_read(tmp_path: Path) -> None:
    """Earlier versions wrote -inf as null (pydantic's default), or as a bare -Infinity token."""
    from mmsy_dataset.predictions import read_predictions

    line = ('{"record_id": "r", "config": "sycophancy", "question_id": "q", "task": "color", "tone": "strong", '
            '"mode": "letter", "n_options": 4, "answer_letter": "A", "push_letter": "B", '
            '"rounds": [{"round": 1, "scores": [0.0, null, -1.0, %s], "scores_norm": null, "choice": "A"}]}\n')
    path = tmp_path / "old.jsonl"
    path.write_text(line % "null" + (line % "-Infinity").replace('"r"', '"r2"'))
    first, second = read_predictions(path)
    assert first.rounds[0].scores == [0.0, float("-inf"), -1.0, float("-inf")]
    assert second.rounds[0].scores == first.rounds[0].scores
    assert '"-Infinity"' in first.model_dump_json()
