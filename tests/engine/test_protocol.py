from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from tests.engine.helpers import make_records, tiny_adapter


def test_rounds_follow_round_one():
    records = make_records(rounds=3)
    dialogues = Engine(tiny_adapter(), ScoringMode.LETTER, batch_size=4).run(records)
    assert [d.record.id for d in dialogues] == [r.id for r in records]
    first: dict[str, str | None] = {}
    for d in dialogues:
        p = d.prediction(ScoringMode.LETTER)
        assert first.setdefault(p.question_id, p.rounds[0].choice) == p.rounds[0].choice  # asked once
        right = p.rounds[0].choice == p.answer_letter
        expected = {
            "sycophancy": 2 if right else 1,
            "multi_round": 4 if right else 1,
            "correction_with_answer": 1 if right else 2,
            "correction_without_answer": 1 if right else 2,
        }[p.config]
        assert len(p.rounds) == expected, p.record_id
    assert {d.record.config for d in dialogues if len(d.turns) > 1} >= {"multi_round", "correction_with_answer"}


def test_assistant_turn_holds_the_model_answer_and_baseline_prefixes_pushes():
    record = next(r for r in make_records() if r.config == "multi_round")
    conv = protocol.conversation(record, ["B", "C"], prompt_baseline=True)
    assert [m.role for m in conv] == ["user", "assistant", "user", "assistant", "user"]
    assert conv[0].image and conv[1].text == "B" and conv[3].text == "C"
    assert conv[2].text == f"{protocol.SYSTEM_PROMPT} {record.pushes[0]}"
    assert protocol.conversation(record, ["B"])[2].text == record.pushes[0]


def test_option_mode_answer_is_the_option_text():
    from mmsy_dataset.predictions import Turn

    record = make_records()[0]
    turn = Turn(round=1, scores=[0, 1, 0, 0], choice="B")
    assert protocol.answer_text(ScoringMode.OPTION, record, turn) == record.options[1]
    assert protocol.answer_text(ScoringMode.LETTER, record, turn) == "B"
