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
