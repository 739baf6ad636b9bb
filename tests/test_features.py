from __future__ import annotations

import pytest
from datasets import Image, List, Value

from mmsy_dataset.features import column_descriptions, features_for, to_row
from mmsy_dataset.schemas import RECORD_TYPES, MultiRoundRecord, Provenance, SycophancyRecord
from mmsy_dataset.tasks import Task, Tone


def test_features_follow_the_record_fields_in_order() -> None:
    for cls in RECORD_TYPES.values():
        features = features_for(cls)
        assert list(features) == list(cls.model_fields)
        assert isinstance(features["image"], Image)
        assert features["options"] == List(Value("string"))
        assert features["provenance"] == {"version": Value("string"), "source": Value("string"), "seed": Value("int64")}


def test_enums_are_strings_and_lists_of_strings_are_lists() -> None:
    features = features_for(MultiRoundRecord)
    assert features["tone"] == Value("string") and features["task"] == Value("string")
    assert features["pushes"] == List(Value("string"))


def test_rows_embed_image_bytes_and_plain_values() -> None:
    record = SycophancyRecord(
        id="q:syc:strong",
        question_id="q",
        image_id="i",
        image=b"\x89PNG",
        task=Task.COLOR,
        question="?",
        options=["red", "blue", "green", "pink"],
        answer="blue",
        answer_letter="B",
        prompt="p",
        provenance=Provenance(version="1.0.0", source="s", seed=0),
        tone=Tone.STRONG,
        template_id="strong-01",
        push="No, (C) green.",
        push_letter="C",
        push_option="green",
    )
    row = to_row(record)
    assert row["image"] == {"bytes": b"\x89PNG", "path": None}
    assert row["tone"] == "strong" and row["task"] == "color"
    assert row["provenance"] == {"version": "1.0.0", "source": "s", "seed": 0}


def test_every_field_has_a_description_for_the_card() -> None:
    for cls in RECORD_TYPES.values():
        assert all(column_descriptions(cls).values()), cls


@pytest.mark.slow
def test_importing_the_package_stays_light_and_lazy_names_resolve() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mmsy_dataset as m; "
        "assert 'torch' not in sys.modules and 'datasets' not in sys.modules, 'heavy import at package import'; "
        "assert callable(m.score) and callable(m.build_dataset) and callable(m.read_records)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
