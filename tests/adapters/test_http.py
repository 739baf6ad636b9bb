"""The OpenAI-compatible adapter against real HTTP servers on 127.0.0.1 (no mocked client)."""

import json
import logging

import pytest

from mmsy_dataset.adapters.http import OpenAIAdapter, chat_messages, label_scores
from mmsy_dataset.adapters.http_client import ApiError
from mmsy_dataset.api.conversation import Message
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.api.settings import ApiSettings
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.errors import MmsyError
from mmsy_dataset.predictions import ScoringMode
from tests.adapters.http_server import Behaviour, serve
from tests.engine.helpers import make_records, png, tiny_adapter, write_dataset

SECRET = "sk-test-5ecret-never-written"


def _adapter(base, key=SECRET, **kw):
    settings = ApiSettings(base=base, model="tiny", **{"retries": 3, "timeout": 5.0, **kw})
    return OpenAIAdapter(settings, key, backoff=0.01)


def _request(text="What color is the ball?\n(A) red (B) blue"):
    return ScoreRequest("q0", png((200, 30, 30)), (Message("user", text, image=True),), ("A", "B"), ("red", "blue"))


def test_messages_carry_the_image_once_and_labels_map_to_letters():
    messages = chat_messages(_request().conversation, png((1, 2, 3)))
    assert messages[0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    top = [{"token": " A", "logprob": -1.0}, {"token": "A", "logprob": -2.0}, {"token": "(B", "logprob": -3.0},
           {"token": "Apple", "logprob": -0.1}]
    scores = label_scores(top, ("A", "B", "C"))
    assert scores[0] == pytest.approx(-0.6867, abs=1e-4) and scores[1] == -3.0 and scores[2] == float("-inf")


@pytest.mark.parametrize("mode", [ScoringMode.TEXT, ScoringMode.LETTER])
def test_engine_through_server_equals_local_engine(mode):
    records = make_records(n_questions=2, rounds=1)
    local = Engine(tiny_adapter(), mode, max_new_tokens=5, batch_size=1)
    expected = [d.prediction(mode) for d in local.run(records)]
    with serve(tiny_adapter()) as (base, _):
        adapter = _adapter(base, top_logprobs=len(tiny_adapter().tokenizer), max_concurrency=4)
        assert adapter.resolve_mode(mode.value) == (mode.value, None)
        remote = Engine(adapter, mode, max_new_tokens=5)
        got = [d.prediction(mode) for d in remote.run(records)]
    for a, b in zip(got, expected, strict=True):
        assert [t.choice for t in a.rounds] == [t.choice for t in b.rounds], a.record_id
        for ta, tb in zip(a.rounds, b.rounds, strict=True):
            assert ta.text == tb.text
            if mode is ScoringMode.LETTER:  # all vocabulary returned: every label's total is there
                assert ta.scores == pytest.approx(tb.scores, abs=1e-4)
    assert adapter.run_stats()["http"]["ok"] == remote.stats.requests + (mode is ScoringMode.LETTER)


def test_few_top_logprobs_give_minus_infinity_for_missing_labels():
    with serve(tiny_adapter()) as (base, _):
        result = _adapter(base, top_logprobs=1).make_scorer(1, 1).run([_request()], "letter")[0]
    assert result.scores is not None and sum(s == float("-inf") for s in result.scores) >= 1


def test_server_without_logprobs_falls_back_to_text():
    with serve(tiny_adapter(), Behaviour(logprobs=False)) as (base, _):
        adapter = _adapter(base)
        mode, reason = adapter.resolve_mode("letter")
        assert mode == "text" and "no top_logprobs" in (reason or "")


def test_option_mode_is_refused_not_guessed_without_prompt_logprobs():
    refused = pytest.raises(MmsyError, match=r"--mode option over HTTP needs prompt log-probabilities.*no prompt_")
    with serve(tiny_adapter(), Behaviour(prompt_logprobs=False)) as (base, seen), refused:
        _adapter(base).resolve_mode("option")
    assert seen.requests == 1
    with serve(tiny_adapter(), Behaviour(always=("status", 400))) as (base, _), pytest.raises(MmsyError):
        _adapter(base).resolve_mode("option")


@pytest.mark.slow
@pytest.mark.parametrize("choice", ["sum", "norm"])
def test_option_mode_through_server_equals_local_engine(choice):
    records = make_records(n_questions=2, rounds=2)
    expected = [d.prediction(ScoringMode.OPTION) for d in Engine(tiny_adapter(), ScoringMode.OPTION).run(records)]
    with serve(tiny_adapter()) as (base, seen):
        adapter = _adapter(base, max_concurrency=3)
        assert adapter.resolve_mode("option") == ("option", None)
        got = [d.prediction(ScoringMode.OPTION) for d in Engine(adapter, ScoringMode.OPTION).run(records)]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        for ta, tb in zip(a.rounds, b.rounds, strict=True):
            assert ta.scores == pytest.approx(tb.scores, abs=1e-4), a.record_id
            assert ta.scores_norm == pytest.approx(tb.scores_norm, abs=1e-4), a.record_id
            assert ta.choice == tb.choice
    turns = sum(len(p.rounds) for p in got)
    assert seen.requests >= turns  # one context request and one per option for every distinct turn


@pytest.mark.slow
def test_option_mode_stops_when_the_server_changes_shape_mid_run(tmp_path, capsys):
    from mmsy_dataset.cli import main

    data, out = tmp_path / "data", tmp_path / "out"
    write_dataset(data, make_records(n_questions=4, rounds=1))
    args = ["eval", "--api-base", "", "--api-model", "tiny", "--dataset", str(data), "--out", str(out),
            "--configs", "sycophancy", "--mode", "option", "--no-progress", "--n-bootstrap", "10",
            "--chunk-questions", "1", "--max-concurrency", "1"]
    # The probe, then question 1's 3 turns x (1 + 4 options) requests, then the server changes.
    with serve(tiny_adapter(), Behaviour(prompt_logprobs_until=16)) as (base, _):
        args[2] = base
        assert main(args) == 2
    assert "the server stopped returning prompt_logprobs" in " ".join(capsys.readouterr().err.split())
    kept = (out / "predictions.jsonl").read_text().splitlines()
    assert len(kept) == 3 and all(json.loads(x)["mode"] == "option" for x in kept)
    port = int(args[2].rsplit(":", 1)[1].split("/")[0])
    with serve(tiny_adapter(), port=port) as (base, _):  # healthy again: the run resumes, keeping what it wrote
        assert base == args[2] and main(args) == 0
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and len({r["record_id"] for r in rows}) == 12
    assert [json.loads(x) for x in kept] == rows[:3]


@pytest.mark.slow
def test_run_json_records_what_the_server_reports(tmp_path):
    from mmsy_dataset.cli import main

    data, out = tmp_path / "data", tmp_path / "out"
    write_dataset(data, make_records(n_questions=1, rounds=1))
    with serve(tiny_adapter()) as (base, _):
        assert main(["eval", "--api-base", base, "--api-model", "tiny", "--dataset", str(data), "--out", str(out),
                     "--configs", "sycophancy", "--mode", "option", "--no-progress", "--n-bootstrap", "10"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["server"] == {"model": "tiny", "root": "tiny-root", "max_model_len": 1024,
                                      "owned_by": "mmsy-tests", "version": "0.0-test"}
    assert run["mode"]["used"] == "option" and run["mode"]["fallback"] is None
    with serve(tiny_adapter(), Behaviour(version=None)) as (base, _):
        assert _adapter(base).server_info()["version"] is None


def test_retries_429_and_5xx_with_backoff_then_succeeds():
    behaviour = Behaviour(script=[("status", 429), ("status", 503), ("status", 500)])
    with serve(tiny_adapter(), behaviour) as (base, seen):
        adapter = _adapter(base)
        result = adapter.make_scorer(1, 4).run([_request()], "text")[0]
    assert result.text is not None and seen.requests == 4
    counts = adapter.run_stats()["http"]
    assert counts["retries"] == 3 and counts["status_429"] == 1 and counts["status_503"] == 1


def test_gives_up_after_retries_without_leaking_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    with serve(tiny_adapter(), Behaviour(always=("status", 500))) as (base, seen), pytest.raises(ApiError) as info:
        _adapter(base, retries=2).make_scorer(1, 4).run([_request()], "text")
    message = str(info.value)
    assert "failed after 3 attempts" in message and "HTTP 500" in message and "question q0 round 1" in message
    assert seen.seen_auth == [f"Bearer {SECRET}"] * 3  # the server did get the key ...
    assert SECRET not in message and "***" in message  # ... and echoed it, but we never repeat it
    assert info.value.__cause__ is None and SECRET not in repr(info.value.__context__)
    assert SECRET not in caplog.text


def test_client_errors_fail_at_once():
    refused = pytest.raises(ApiError, match="refused the request")
    with serve(tiny_adapter(), Behaviour(always=("status", 401))) as (base, seen), refused:
        _adapter(base).make_scorer(1, 4).run([_request()], "text")
    assert seen.requests == 1


@pytest.mark.slow
def test_silent_server_times_out_then_retries_and_finally_gives_up():
    with serve(tiny_adapter(), Behaviour(script=[("hang", 0)])) as (base, seen):
        adapter = _adapter(base, timeout=2.0)
        assert adapter.make_scorer(1, 2).run([_request()], "text")[0].text is not None
        assert adapter.run_stats()["http"]["timeouts"] == 1 and seen.requests == 2
    gives_up = pytest.raises(ApiError, match=r"failed after 2 attempts; last error: no reply within 0.3 s")
    with serve(tiny_adapter(), Behaviour(always=("hang", 0))) as (base, _), gives_up:
        _adapter(base, timeout=0.3, retries=1).make_scorer(1, 2).run([_request()], "text")


def test_concurrency_is_bounded():
    with serve(tiny_adapter(), Behaviour(together=2, total=6)) as (base, seen):
        _adapter(base, max_concurrency=2).make_scorer(1, 1).run([_request()] * 6, "text")
    assert seen.requests == 6 and seen.max_in_flight == 2


@pytest.mark.slow
def test_cli_run_reads_key_from_env_and_never_writes_it(tmp_path, monkeypatch, capsys):
    from mmsy_dataset.cli import main

    data, out = tmp_path / "data", tmp_path / "out"
    write_dataset(data, make_records(n_questions=2, rounds=1))
    monkeypatch.setenv("MMSY_TEST_KEY", SECRET)
    with serve(tiny_adapter(), Behaviour(script=[("status", 503)], logprobs=False)) as (base, seen):
        code = main(["eval", "--api-base", base, "--api-model", "tiny", "--api-key-env", "MMSY_TEST_KEY",
                     "--dataset", str(data), "--out", str(out), "--configs", "sycophancy", "--mode", "letter",
                     "--max-concurrency", "3", "--no-progress", "--n-bootstrap", "10", "--max-new-tokens", "4"])
    assert code == 0 and set(seen.seen_auth) == {f"Bearer {SECRET}"}
    run = json.loads((out / "run.json").read_text())
    assert run["mode"]["used"] == "text" and "no top_logprobs" in run["mode"]["fallback"]
    assert run["stats"]["kv_sharing"].startswith("none") and run["stats"]["http"]["retries"] == 1
    assert run["model"]["api_key_env"] == "MMSY_TEST_KEY" and run["settings"]["api"]["model"] == "tiny"
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["mode"] for r in rows} == {"text"}
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


def test_openai_adapter_needs_api_flags():
    from mmsy_dataset.adapters import get_adapter
    from mmsy_dataset.api.prompts import LoadOptions

    with pytest.raises(Exception, match="--api-base"):
        get_adapter("openai").load("gpt-4o", LoadOptions())


@pytest.mark.slow
def test_shards_run_against_two_servers_merge_into_the_single_run(tmp_path):
    from mmsy_dataset.cli import main

    data = tmp_path / "data"
    write_dataset(data, make_records(n_questions=4, rounds=2))
    common = ["--api-model", "tiny", "--dataset", str(data), "--mode", "option", "--no-progress",
              "--n-bootstrap", "10", "--configs", "sycophancy", "multi_round"]
    with serve(tiny_adapter()) as (one, _), serve(tiny_adapter()) as (two, _):
        assert one != two
        assert main(["eval", "--api-base", one, *common, "--out", str(tmp_path / "single")]) == 0
        for base, shard in ((one, "0/2"), (two, "1/2")):
            out = str(tmp_path / "sharded")
            assert main(["eval", "--api-base", base, *common, "--out", out, "--shard", shard]) == 0
    assert main(["merge", str(tmp_path / "sharded"), "--out", str(tmp_path / "sharded")]) == 0
    read = lambda run: [json.loads(x) for x in (tmp_path / run / "predictions.jsonl").read_text().splitlines()]  # noqa: E731
    merged, single = read("sharded"), read("single")
    assert sorted(r["record_id"] for r in merged) == sorted(r["record_id"] for r in single)
    by_id = {r["record_id"]: r for r in merged}
    for row in single:
        assert [t["scores"] for t in by_id[row["record_id"]]["rounds"]] == [t["scores"] for t in row["rounds"]]
