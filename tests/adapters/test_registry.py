import json

import pytest

from mmsy_dataset.adapters import available_adapters, detect_adapter, get_adapter
from mmsy_dataset.adapters.llava import LlavaAdapter


def test_get_adapter_by_name():
    assert get_adapter("llava") is LlavaAdapter
    assert "llava" in available_adapters()


def test_unknown_adapter_suggests_and_lists():
    with pytest.raises(KeyError, match=r"Unknown adapter 'lava'\. Did you mean 'llava'\? Available: .*llava"):
        get_adapter("lava")


def test_detect_from_config_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    assert detect_adapter(str(tmp_path)) == "llava"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mystery"}))
    with pytest.raises(KeyError, match="no adapter for model_type 'mystery'"):
        detect_adapter(str(tmp_path))


def test_every_family_is_registered_and_detected(tmp_path):
    expected = {"llava": "llava", "llava_next": "llava_next", "blip-2": "blip2", "instructblip": "instructblip",
                "qwen2_vl": "qwen2_vl", "qwen2_5_vl": "qwen2_5_vl", "idefics3": "idefics3",
                "internvl": "internvl"}
    for model_type, name in expected.items():
        (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
        assert detect_adapter(str(tmp_path)) == name
    assert "openai" in available_adapters()
